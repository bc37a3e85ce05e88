"""PyTorch reference timing of one 32-bar inpaint: 30 DPM++ 2M SDE steps with RePaint U = 2
(60 evaluations), batch 1 and 16, eager and torch.compile(mode="reduce-overhead"), bf16.

    python3 gpu/train/bench_inpaint.py assets/pianoroll-hdit.safetensors

The sampler mirrors gpu/sampler (Karras σ 10 → 0.01, ρ 7; known cells of D replaced by the
context), so the Go engine's BenchmarkInpaint32Bars (gpu/models/pianoroll) times the same work.
Prints one line per case: ms per inpaint (median of 5 after 2 warm-ups).
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
    for mode in ["eager", "reduce-overhead"]:
        run_net = net if mode == "eager" else torch.compile(net, mode="reduce-overhead")
        den = hdit.Denoiser(run_net, cfg["sigma_data"])
        for b in [1, 16]:
            x0 = -torch.ones(b, 3, 128, 512, device=dev)
            mask = torch.zeros(b, 1, 128, 512, device=dev)
            mask[..., 128:256] = 1
            gen = torch.Generator(device=dev).manual_seed(1)
            times = []
            with torch.no_grad(), torch.autocast("cuda", dtype=torch.bfloat16):
                for r in range(7):
                    torch.cuda.synchronize()
                    t = time.perf_counter()
                    inpaint(den, x0, mask, sigmas, gen)
                    torch.cuda.synchronize()
                    if r >= 2:
                        times.append((time.perf_counter() - t) * 1000)
            print(f"pytorch {mode:16s} batch {b:2d}: {statistics.median(times):8.1f} ms per 60-evaluation inpaint ({card})")


if __name__ == "__main__":
    main()
