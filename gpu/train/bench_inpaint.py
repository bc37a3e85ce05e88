"""PyTorch reference timing of one 32-bar inpaint: 30 DPM++ 2M SDE steps with RePaint U = 2
(60 evaluations), batch 1 and 16, eager and torch.compile(mode="reduce-overhead"), bf16.

    python3 gpu/train/bench_inpaint.py assets/pianoroll-hdit.safetensors

The sampler mirrors gpu/sampler (Karras σ 10 → 0.01, ρ 7; known cells of D replaced by the
context), so the Go engine's BenchmarkInpaint32Bars (gpu/models/pianoroll) times the same work.
Prints one line per case: ms per inpaint (median of the timed runs after the warm-ups; eager
runs 1 warm-up + 3, torch.compile 1 + 5, BENCH_REPS=n sets the timed count), then ms per
evaluation of the denoiser alone (median of 50, CUDA events) with the same compiled model.
"""

import math
import os
import statistics
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import goldens  # noqa: E402
import hdit  # noqa: E402


def karras(n, smin=0.01, smax=10.0, rho=7.0):
    lo, hi = smin ** (1 / rho), smax ** (1 / rho)
    return [(hi + i / (n - 1) * (lo - hi)) ** rho for i in range(n)] + [0.0]


def repaint(s, u):
    out = [s[0]]
    for i in range(len(s) - 1):
        for k in range(u):
            out.append(s[i + 1])
            if k < u - 1:
                out.append(s[i])
    return out


def inpaint(den, x0, mask, sigmas, gen):
    ctx = x0 * (1 - mask)
    x = ctx + sigmas[0] * torch.randn(x0.shape, device=x0.device, generator=gen)
    old, h_last = None, 0.0
    for i in range(len(sigmas) - 1):
        s, nxt = sigmas[i], sigmas[i + 1]
        if nxt > s:
            x = x + math.sqrt(nxt * nxt - s * s) * torch.randn(x.shape, device=x.device, generator=gen)
            old = None
            continue
        sig = torch.full((x.shape[0],), s, device=x.device)
        d = den(x, sig, ctx, mask).float()
        d = mask * d + (1 - mask) * x0
        if nxt == 0:
            x, old = d, None
            continue
        h = math.log(s) - math.log(nxt)
        x = (nxt / s * math.exp(-h)) * x + (-math.expm1(-2 * h)) * d
        if old is not None:
            x = x + 0.5 * (-math.expm1(-2 * h)) * (h / h_last) * (d - old)
        x = x + nxt * math.sqrt(-math.expm1(-2 * h)) * torch.randn(x.shape, device=x.device, generator=gen)
        old, h_last = d, h
    return mask * x.clamp(-1, 1) + (1 - mask) * x0


def main():
    net, cfg = goldens.load_model(sys.argv[1])
    dev = torch.device("cuda")
    net = net.to(dev)
    card = torch.cuda.get_device_name()
    sigmas = repaint(karras(30), 2)
    # fill the network's RoPE table cache eagerly: tables first made inside a CUDA-graphed
    # (reduce-overhead) call would live in graph memory and be overwritten by the next replay
    with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
        z = torch.zeros(1, 3, 128, 512, device=dev)
        hdit.Denoiser(net, cfg["sigma_data"])(z, torch.ones(1, device=dev), z, z[:, :1])
    # reduce-overhead: the whole denoiser D (EDM scalings + network) compiled, as
    # gpu/cuda/bench/torch_bench.py times it; reduce-overhead-net: the network only, the
    # scalings eager. The sampler's arithmetic is eager in every mode (k-diffusion style).
    modes = os.environ.get("BENCH_MODES", "reduce-overhead,reduce-overhead-net,eager").split(",")
    for mode in modes:
        if mode == "reduce-overhead":
            den = torch.compile(hdit.Denoiser(net, cfg["sigma_data"]), mode="reduce-overhead")
        elif mode == "reduce-overhead-net":
            den = hdit.Denoiser(torch.compile(net, mode="reduce-overhead"), cfg["sigma_data"])
        else:
            den = hdit.Denoiser(net, cfg["sigma_data"])
        for b in [1, 16]:
            x0 = -torch.ones(b, 3, 128, 512, device=dev)
            mask = torch.zeros(b, 1, 128, 512, device=dev)
            mask[..., 128:256] = 1
            gen = torch.Generator(device=dev).manual_seed(1)
            times = []
            warm = 1  # reduce-overhead: compiles, records the graph and replays inside the first inpaint
            reps = int(os.environ.get("BENCH_REPS", "3" if mode == "eager" else "5"))
            t0 = time.perf_counter()
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                for r in range(warm + reps):
                    torch.cuda.synchronize()
                    t = time.perf_counter()
                    inpaint(den, x0, mask, sigmas, gen)
                    torch.cuda.synchronize()
                    if r >= warm:
                        times.append((time.perf_counter() - t) * 1000)
                setup = time.perf_counter() - t0 - sum(times) / 1000
                x = torch.randn(b, 3, 128, 512, device=dev)
                sig = torch.full((b,), 1.5, device=dev)
                ev = []
                for r in range(60):
                    s0, s1 = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
                    s0.record()
                    den(x, sig, x0, mask)
                    s1.record()
                    torch.cuda.synchronize()
                    if r >= 10:
                        ev.append(s0.elapsed_time(s1))
            print(f"pytorch {mode:19s} batch {b:2d}: {statistics.median(times):8.2f} ms per 60-evaluation inpaint, "
                  f"{statistics.median(ev):.4f} ms per evaluation ({card}; warm-up incl. compile {setup:.0f} s)", flush=True)


if __name__ == "__main__":
    main()
