"""Parity data for the CUDA HDiT: random weights (every parameter randomised, so no block is
the identity), inputs, and PyTorch's f32 output of hdit.Denoiser, for the Go test
TestHDiTMatchesPyTorch.

    python3 gpu/cuda/bench/parity.py OUTDIR

Writes OUTDIR/hdit_b{B}_w{W}.safetensors for (B, W) in (2, 64) and (1, 512), holding the
weights under their export names, input.{x,sigma,context,mask} and output.denoised.
"""

import os
import sys

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(here, "..", "..", "train"))
import hdit  # noqa: E402
import st  # noqa: E402


def random_model(seed):
    torch.manual_seed(seed)
    net = hdit.HDiT(hdit.CONFIG)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if name.endswith("norm.weight") or name.endswith("q_norm.weight") or name.endswith("k_norm.weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith(".fac"):
                p.copy_(torch.rand_like(p))
            elif ".norm.linear." in name:
                p.copy_(0.3 * torch.randn_like(p) / p.shape[1] ** 0.5)
            elif p.dim() == 2:
                p.copy_(torch.randn_like(p) / p.shape[1] ** 0.5)
            else:
                p.copy_(0.1 * torch.randn_like(p))
    return net.eval()


def main():
    out = sys.argv[1]
    os.makedirs(out, exist_ok=True)
    net = random_model(1234)
    den = hdit.Denoiser(net)
    weights = {k: v.detach().float().numpy() for k, v in net.state_dict().items()}
    dev = "cuda" if torch.cuda.is_available() else "cpu"
    torch.backends.cuda.matmul.allow_tf32 = False
    torch.backends.cudnn.allow_tf32 = False
    den = den.to(dev)
    g = torch.Generator().manual_seed(99)
    for b, w in ((2, 64), (1, 512)):
        x0 = (torch.rand(b, 3, 128, w, generator=g) < 0.05).float() * 2 - 1
        mask = (torch.rand(b, 1, 128, w, generator=g) < 0.5).float()
        sigma = torch.tensor([2.5, 0.3][:b])
        x = x0 + torch.randn(x0.shape, generator=g) * sigma[:, None, None, None]
        ctx = x0 * (1 - mask)
        with torch.no_grad():
            y = den(x.to(dev), sigma.to(dev), ctx.to(dev), mask.to(dev)).float().cpu()
        t = dict(weights)
        t.update({"input.x": x.numpy(), "input.sigma": sigma.numpy(), "input.context": ctx.numpy(),
                  "input.mask": mask.numpy(), "output.denoised": y.numpy()})
        st.save(os.path.join(out, f"hdit_b{b}_w{w}.safetensors"), {k: np.asarray(v, dtype=np.float32) for k, v in t.items()})
        print(f"parity data b={b} w={w}: |y| rms {y.pow(2).mean().sqrt():.3f}")


if __name__ == "__main__":
    main()
