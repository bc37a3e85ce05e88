"""Count parameters and matmul FLOPs (2*M*N*K) of one evaluation at batch 1 on 3x128xW.

    /usr/bin/python3 gpu/train/flops.py [--width 512]

Linear layers are counted by forward hooks and attention (QK^T and AV) by wrapping sdpa, so the
number follows the real forward pass. Elementwise work (norms, RoPE, GELU) is listed apart:
it is O(tokens*width), small next to the matmuls.
"""

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdit  # noqa: E402


def count(width=512, cfg=hdit.CONFIG):
    net = hdit.HDiT(cfg).eval()
    params = sum(p.numel() for p in net.parameters())
    totals = {"linear": 0, "attention": 0, "elementwise": 0}

    def hook(mod, inp, out):
        totals["linear"] += 2 * inp[0].numel() // inp[0].shape[-1] * mod.in_features * mod.out_features

    hooks = [m.register_forward_hook(hook) for m in net.modules() if isinstance(m, torch.nn.Linear)]
    orig = hdit.sdpa

    def counted(q, k, v):
        b, h, lq, d = q.shape
        totals["attention"] += 2 * 2 * b * h * lq * k.shape[2] * d
        return orig(q, k, v)

    hdit.sdpa = counted
    try:
        x = torch.randn(1, 3, 128, width)
        m = torch.ones(1, 1, 128, width)
        with torch.no_grad():
            net(x, x * (1 - m), m, torch.zeros(1))
    finally:
        hdit.sdpa = orig
        for hk in hooks:
            hk.remove()
    # rough elementwise count: ~30 ops per activation per layer (norms, rope, gelu, residuals)
    ph, pw = cfg["patch"]
    tokens = 128 // ph * width // pw
    for i, wd in enumerate(cfg["widths"]):
        n = cfg["depths"][i] * (1 if i == len(cfg["widths"]) - 1 else 2)
        totals["elementwise"] += 30 * n * (tokens >> (2 * i)) * wd
    return params, totals


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--width", type=int, default=512)
    a = ap.parse_args()
    params, t = count(a.width)
    print(f"parameters {params} ({params * 2 / 1e6:.2f} MB as f16)")
    for k, v in t.items():
        print(f"{k:12s} {v / 1e9:.3f} GFLOP")
    print(f"matmul total {(t['linear'] + t['attention']) / 1e9:.3f} GFLOP per evaluation (batch 1, 128x{a.width})")


if __name__ == "__main__":
    main()
