"""Write a tiny random corpus in the TEAM.md format, for testing the training script anywhere.

    /usr/bin/python3 gpu/train/toy_corpus.py build/toy
"""

import json
import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import st  # noqa: E402


def piece(rng, length):
    notes = []
    root = rng.integers(48, 60)
    scale = np.array([0, 2, 4, 5, 7, 9, 11])
    for bar in range(length // 16):
        chord = root + scale[rng.integers(0, 7, 3)]
        for p in chord:
            notes.append((bar * 16, 16, int(p) - 12, int(rng.integers(50, 90))))
        t = bar * 16
        while t < bar * 16 + 16:
            d = int(rng.choice([2, 4, 4, 8]))
            notes.append((t, d, int(root + 12 + scale[rng.integers(0, 7)]), int(rng.integers(60, 110))))
            t += d
    notes.sort()
    return notes


def write(path, n, rng):
    rows, pieces = [], []
    for i in range(n):
        length = int(rng.integers(16, 80)) * 16
        ns = piece(rng, length)
        pieces.append((len(rows), len(ns), length))
        rows.extend(ns)
    st.save(
        path,
        {"notes": np.array(rows, dtype=np.int32), "pieces": np.array(pieces, dtype=np.int64)},
        {"names": json.dumps([f"toy{i}" for i in range(n)]), "steps_per_beat": "4"},
    )


if __name__ == "__main__":
    out = sys.argv[1] if len(sys.argv) > 1 else "build/toy"
    os.makedirs(out, exist_ok=True)
    rng = np.random.default_rng(0)
    write(os.path.join(out, "train.safetensors"), 40, rng)
    write(os.path.join(out, "valid.safetensors"), 6, rng)
