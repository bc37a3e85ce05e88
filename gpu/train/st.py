"""Minimal safetensors read/write with numpy only (8-byte little-endian header length, JSON
header, raw little-endian data), so the scripts run where the safetensors package is missing."""

import gzip
import json
import os
import struct

import numpy as np

_DT = {
    "F32": np.float32,
    "F16": np.float16,
    "F64": np.float64,
    "I32": np.int32,
    "I64": np.int64,
    "U8": np.uint8,
    "I8": np.int8,
    "I16": np.int16,
}
_NAME = {np.dtype(v).str[1:]: k for k, v in _DT.items()}


def load(path):
    """Returns (tensors dict name -> numpy array, metadata dict). BF16 comes back as float32.
    A missing path is also tried as path + ".gz" (a gzipped copy carries in a quarter of the bytes)."""
    opener = open
    if not os.path.exists(path) and os.path.exists(path + ".gz"):
        path, opener = path + ".gz", gzip.open
    elif path.endswith(".gz"):
        opener = gzip.open
    with opener(path, "rb") as f:
        n = struct.unpack("<Q", f.read(8))[0]
        header = json.loads(f.read(n))
        data = f.read()
    meta = header.pop("__metadata__", {}) or {}
    out = {}
    for name, info in header.items():
        a, b = info["data_offsets"]
        raw = data[a:b]
        if info["dtype"] == "BF16":
            u = np.frombuffer(raw, dtype="<u2").astype(np.uint32) << 16
            arr = u.view(np.float32)
        else:
            arr = np.frombuffer(raw, dtype=np.dtype(_DT[info["dtype"]]).newbyteorder("<"))
        out[name] = arr.reshape(info["shape"]).copy()
    return out, meta


def save(path, tensors, metadata=None):
    """tensors: name -> numpy array (f32/f16/f64/int). Written atomically (temp + rename)."""
    header = {}
    blobs = []
    off = 0
    for name in sorted(tensors):
        arr = np.ascontiguousarray(tensors[name])
        # uint16 arrays carry bfloat16 bits
        dt = "BF16" if arr.dtype == np.uint16 else _NAME[arr.dtype.str[1:]]
        raw = arr.astype(arr.dtype.newbyteorder("<"), copy=False).tobytes()
        header[name] = {"dtype": dt, "shape": list(arr.shape), "data_offsets": [off, off + len(raw)]}
        blobs.append(raw)
        off += len(raw)
    if metadata:
        header["__metadata__"] = {k: str(v) for k, v in metadata.items()}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * ((8 - len(h) % 8) % 8)
    tmp = path + ".tmp"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(h)))
        f.write(h)
        for b in blobs:
            f.write(b)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)
