"""PyTorch timings at the model's shapes, for the CUDA engine's benchmark table: the whole
denoiser evaluation (bf16) in eager mode and under torch.compile(mode="reduce-overhead"), and
per op (the linear layers' GEMMs, attention per level) in eager mode and replayed from a CUDA
graph (what reduce-overhead does for a single op). Prints lines 'TORCH <name> <ms>'.

    python3 gpu/cuda/bench/torch_bench.py [--no-compile]
"""

import os
import sys
import time

import torch
import torch.nn.functional as F

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "train"))
import hdit  # noqa: E402

dev = "cuda"


def bench(fn, iters=200, warm=20):
    for _ in range(warm):
        fn()
    torch.cuda.synchronize()
    times = []
    for _ in range(5):
        s, e = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
        s.record()
        for _ in range(iters):
            fn()
        e.record()
        torch.cuda.synchronize()
        times.append(s.elapsed_time(e) / iters)
    times.sort()
    return times[len(times) // 2]


def graphed(fn):
    s = torch.cuda.Stream()
    s.wait_stream(torch.cuda.current_stream())
    with torch.cuda.stream(s):
        for _ in range(3):
            fn()
    torch.cuda.current_stream().wait_stream(s)
    g = torch.cuda.CUDAGraph()
    with torch.cuda.graph(g):
        fn()
    return g.replay


def model_bench(compile_too):
    net = hdit.HDiT(hdit.CONFIG).to(dev).eval()
    with torch.no_grad():
        for p in net.parameters():
            p.add_(0.02 * torch.randn_like(p))
    den = hdit.Denoiser(net).to(dev)

    def run(x, sig, ctx, m):  # bf16 autocast: tensor-core matmuls, f32 norms and weights
        with torch.autocast("cuda", dtype=torch.bfloat16):
            return den(x, sig, ctx, m)

    for b in (1, 16):
        x = torch.randn(b, 3, 128, 512, device=dev)
        m = torch.ones(b, 1, 128, 512, device=dev)
        ctx = x * (1 - m)
        sig = torch.full((b,), 1.5, device=dev)
        with torch.no_grad():
            ms = bench(lambda: run(x, sig, ctx, m), iters=50)
            print(f"TORCH model_eager_b{b} {ms:.4f}", flush=True)
            if compile_too:
                t0 = time.time()
                cd = torch.compile(run, mode="reduce-overhead")
                for _ in range(3):
                    cd(x, sig, ctx, m)
                ms = bench(lambda: cd(x, sig, ctx, m), iters=50)
                print(f"TORCH model_compile_ro_b{b} {ms:.4f} (compiled in {time.time() - t0:.0f} s)", flush=True)


def op_bench():
    w = hdit.CONFIG["widths"]
    toks = [32 * 128 >> (2 * i) for i in range(4)]
    for b in (1, 16):
        for i, c in enumerate(w):
            m = b * toks[i]
            for name, n, k in (("qkv", 3 * c, c), ("out", c, c), ("up", 4 * c, c), ("down", c, 2 * c)):
                a = torch.randn(m, k, device=dev, dtype=torch.bfloat16)
                wt = torch.randn(n, k, device=dev, dtype=torch.bfloat16)
                f = lambda: F.linear(a, wt)
                e, gr = bench(f), bench(graphed(f))
                print(f"TORCH linear_L{i}_{name}_b{b}_{m}x{n}x{k} eager {e:.4f} graph {gr:.4f}", flush=True)
            # attention: windowed levels as [B·nW, heads, 64, 64], global as [B, heads, N, 64]
            nh = c // 64
            if i < 2:
                shape = (b * toks[i] // 64, nh, 64, 64)
            else:
                shape = (b, nh, toks[i], 64)
            q, kk, v = (torch.randn(*shape, device=dev, dtype=torch.bfloat16) for _ in range(3))
            f = lambda: F.scaled_dot_product_attention(q, kk, v)
            e, gr = bench(f), bench(graphed(f))
            print(f"TORCH sdpa_L{i}_b{b} eager {e:.4f} graph {gr:.4f}", flush=True)


if __name__ == "__main__":
    torch.backends.cuda.matmul.allow_tf32 = True
    op_bench()
    model_bench("--no-compile" not in sys.argv)
