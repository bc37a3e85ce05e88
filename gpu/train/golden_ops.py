"""Export per-op PyTorch goldens for the engine's CPU backend (gpu/testdata/golden_ops.safetensors).

    /usr/bin/python3 gpu/train/golden_ops.py gpu/testdata/golden_ops.safetensors

Each case `<name>` stores its inputs as `<name>.in.<arg>` and the expected output as
`<name>.out` (float32 unless the input is a stored f16/bf16 weight). The Go test
(gpu/cpu/golden_test.go) runs the same op with the same parameters and compares. Small shapes
keep the file well under 1 MB. The torch version that made the file is in `__metadata__`.
"""

import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import hdit  # noqa: E402
import st  # noqa: E402

g = torch.Generator().manual_seed(20261126)


def rn(*shape, scale=1.0):
    return torch.randn(*shape, generator=g) * scale


def attention(q, k, v):
    w = torch.softmax(q @ k.transpose(-1, -2) / math.sqrt(q.shape[-1]), dim=-1)
    return w @ v


def main():
    out = sys.argv[1]
    t = {}
    params = {}

    def case(name, inputs, output, **p):
        for k, v in inputs.items():
            t[f"{name}.in.{k}"] = v
        t[f"{name}.out"] = output
        params[name] = p

    x, w, b = rn(2, 5, 24), rn(16, 24, scale=0.2), rn(16)
    case("linear", {"x": x, "w": w, "b": b}, F.linear(x, w, b))
    w16 = rn(16, 24, scale=0.2).half()
    case("linear_f16", {"x": x, "w": w16}, F.linear(x, w16.float()))
    wb = rn(16, 24, scale=0.2).bfloat16()
    case("linear_bf16", {"x": x, "w": wb}, F.linear(x, wb.float()))
    a, bm = rn(3, 7, 9), rn(3, 9, 5)
    case("matmul", {"a": a, "b": bm}, a @ bm)

    img = rn(2, 4, 9, 10)
    for name, cin, cout, k, stride, pad, groups in [
        ("conv3x3", 4, 6, 3, 1, 1, 1),
        ("conv1x1", 4, 8, 1, 1, 0, 1),
        ("conv_strided", 4, 5, 3, 2, 1, 1),
        ("conv_depthwise", 4, 4, 3, 1, 1, 4),
        ("conv_grouped", 4, 6, 3, 1, 1, 2),
    ]:
        cw, cb = rn(cout, cin // groups, k, k, scale=0.3), rn(cout)
        case(name, {"x": img, "w": cw, "b": cb}, F.conv2d(img, cw, cb, stride=stride, padding=pad, groups=groups),
             stride=stride, pad=pad, groups=groups)
    case("upsample", {"x": img}, F.interpolate(img, scale_factor=2, mode="nearest"), factor=2)

    nx = rn(2, 8, 5, 3) * 2 + 0.5
    gw, gb = rn(8), rn(8)
    case("group_norm", {"x": nx, "w": gw, "b": gb}, F.group_norm(nx, 4, gw, gb, eps=1e-5), groups=4, eps=1e-5)
    lx = rn(3, 4, 32) * 3 + 1
    lw, lb = rn(32), rn(32)
    case("layer_norm", {"x": lx, "w": lw, "b": lb}, F.layer_norm(lx, (32,), lw, lb, eps=1e-5), eps=1e-5)
    case("rms_norm", {"x": lx, "w": lw}, hdit.rms_norm(lx) * lw, eps=hdit.EPS)

    q, k, v = rn(2, 3, 10, 16), rn(2, 3, 13, 16), rn(2, 3, 13, 16)
    case("attention", {"q": q, "k": k, "v": v}, attention(q, k, v))

    # Windowed attention exactly as hdit.Attention does it (roll, partition, attend, reverse, roll back).
    B, NH, H, W, D, wh, ww, sh, sw = 1, 2, 8, 12, 16, 4, 4, 2, 2
    q, k, v = rn(B, NH, H, W, D), rn(B, NH, H, W, D), rn(B, NH, H, W, D)
    qs, ks, vs = (torch.roll(z, shifts=(-sh, -sw), dims=(2, 3)) for z in (q, k, v))
    o = attention(*(hdit.window_partition(z, wh, ww) for z in (qs, ks, vs)))
    o = torch.roll(hdit.window_reverse(o, B, H, W, wh, ww), shifts=(sh, sw), dims=(2, 3))
    case("window_attention", {"q": q, "k": k, "v": v}, o, window=[wh, ww], shift=[sh, sw])

    rx = rn(1, 2, 4, 6, 16)
    cos, sin = hdit.rope_tables(4, 6, 16, 1000.0, "cpu")
    case("rope2d", {"x": rx}, hdit.apply_rope(rx, cos, sin), base=1000.0)

    ex = rn(4, 40, scale=3)
    case("gelu", {"x": ex}, F.gelu(ex))
    case("gelu_tanh", {"x": ex}, F.gelu(ex, approximate="tanh"))
    case("silu", {"x": ex}, F.silu(ex))
    case("geglu", {"x": ex}, ex[:, :20] * F.gelu(ex[:, 20:], approximate="tanh"), tanh=True)
    mx, sc, sf = rn(2, 3, 4, 8), rn(2, 8), rn(2, 8)
    case("modulate", {"x": mx, "scale": sc, "shift": sf}, mx * (1 + sc[:, None, None, :]) + sf[:, None, None, :])

    cn = torch.tensor([-1.2, 0.0, 0.7])
    fr = rn(16, 1)
    f = 2 * math.pi * cn[:, None] * fr[:, 0][None, :]
    case("fourier", {"t": cn, "freqs": fr}, torch.cat([torch.cos(f), torch.sin(f)], dim=-1))
    ts = torch.tensor([0.0, 10.0, 999.0])
    half = 8
    fq = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
    a = ts[:, None] * fq[None]
    case("timestep", {"t": ts}, torch.cat([torch.cos(a), torch.sin(a)], dim=-1), dim=16, max_period=10000.0)

    tx = rn(2, 4, 6, 3)
    case("token_merge", {"x": tx}, hdit.merge_tokens(tx, 2, 3), ph=2, pw=3)
    sx = rn(2, 2, 3, 12)
    case("token_split", {"x": sx}, hdit.split_tokens(sx, 2, 2), ph=2, pw=2)
    px = rn(1, 8, 3, 5)
    case("pixel_shuffle", {"x": px}, F.pixel_shuffle(px, 2), r=2)
    ux = rn(1, 2, 6, 4)
    case("pixel_unshuffle", {"x": ux}, F.pixel_unshuffle(ux, 2), r=2)
    c1, c2 = rn(2, 3, 4), rn(2, 5, 4)
    case("concat", {"a": c1, "b": c2}, torch.cat([c1, c2], dim=1), axis=1)
    case("slice", {"x": c2}, c2[:, 1:4], axis=1, start=1, end=4)
    case("pad", {"x": c1}, F.pad(c1, (2, 1, 1, 0), value=-3.0), before=[0, 1, 2], after=[0, 0, 1], value=-3.0)
    case("permute", {"x": rx}, rx.permute(0, 2, 3, 1, 4).contiguous(), perm=[0, 2, 3, 1, 4])
    ba, bb = rn(2, 1, 4), rn(3, 1)
    case("add_broadcast", {"a": ba, "b": bb}, ba + bb)
    case("mul_broadcast", {"a": ba, "b": bb}, ba * bb)
    la, lb2 = rn(2, 4, 4, 3), rn(2, 4, 4, 3)
    fac = torch.tensor([0.3])
    case("lerp", {"a": la, "b": lb2, "t": fac}, torch.lerp(la, lb2, fac))
    rx2 = rn(3, 4, 5)
    case("sum", {"x": rx2}, rx2.sum(1), axis=1)
    case("mean", {"x": rx2}, rx2.mean(2), axis=2)
    case("max", {"x": rx2}, rx2.amax(0), axis=0)
    case("softmax", {"x": rx2 * 4}, torch.softmax(rx2 * 4, dim=-1))

    arrays = {}
    for k, v in t.items():
        if v.dtype == torch.bfloat16:
            arrays[k] = v.view(torch.int16).numpy().view(np.uint16)  # st.save writes uint16 as BF16
        elif v.dtype == torch.float16:
            arrays[k] = v.numpy()
        else:
            arrays[k] = v.float().numpy()
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    st.save(out, arrays, {"torch": torch.__version__, "numpy": np.__version__, "cases": json.dumps(params),
                          "made_by": "gpu/train/golden_ops.py"})
    print(f"{out}: {len(params)} cases, {os.path.getsize(out)} bytes, torch {torch.__version__}")


if __name__ == "__main__":
    main()
