"""Export parity goldens of the real model for the Go port (gpu/testdata/pianoroll_golden.safetensors).

    /usr/bin/python3 gpu/train/goldens.py assets/pianoroll-hdit.safetensors gpu/testdata/pianoroll_golden.safetensors

The weights are read from the exported f16 file and run in float32 on the CPU, so the golden
is what the Go model must compute from the same file. Batch 1 (and batch 2 for the denoiser),
a 64-step crop (every level and both window shifts still run). Block outputs are captured by
forward hooks and named after the module ("down.0.layers.0.attn" ...).
"""

import json
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import hdit  # noqa: E402
import st  # noqa: E402


def load_model(path):
    t, meta = st.load(path)
    cfg = json.loads(meta["config"])
    net = hdit.HDiT(cfg)
    net.load_state_dict({k: torch.from_numpy(v.astype(np.float32)) for k, v in t.items()})
    return net.eval(), cfg


def main():
    wpath, out = sys.argv[1], sys.argv[2]
    width = int(sys.argv[3]) if len(sys.argv) > 3 else 64
    net, cfg = load_model(wpath)
    g = torch.Generator().manual_seed(7)
    # a plausible roll: sparse notes, so the golden exercises real activations
    x0 = -torch.ones(2, 3, 128, width)
    for b in range(2):
        for _ in range(24):
            p = int(torch.randint(30, 90, (1,), generator=g))
            s = int(torch.randint(0, width - 4, (1,), generator=g))
            d = int(torch.randint(1, 12, (1,), generator=g))
            v = float(torch.randint(40, 120, (1,), generator=g)) / 127
            x0[b, 0, p, s] = 1
            x0[b, 1, p, s : s + d] = 1
            x0[b, 2, p, s : s + d] = v * 2 - 1
    mask = data.masks(2, width=width, gen=g, kinds=torch.tensor([1, 7]))
    sigma = torch.tensor([2.5, 0.3])
    noise = torch.randn(x0.shape, generator=g)
    x = x0 + noise * sigma[:, None, None, None]
    ctx = x0 * (1 - mask)
    captured = {}
    names = ["patch_in", "mapping", "down.0.layers.0.attn", "merges.0",
             "down.1.layers.0", "merges.1", "down.2.layers.0", "merges.2", "mid",
             "splits.2", "up.2", "splits.1", "up.1.layers.0.attn", "up.1", "splits.0", "up.0",
             "patch_out"]
    mods = dict(net.named_modules())
    hooks = []
    for n in names:
        def hook(m, i, o, n=n):
            captured.setdefault(n, o.detach()[:1].clone())
        hooks.append(mods[n].register_forward_hook(hook))
    den = hdit.Denoiser(net, cfg["sigma_data"])
    with torch.no_grad():
        d = den(x, sigma, ctx, mask)
        c_skip, c_out, c_in = den.scalings(sigma)
        f = net(x * c_in[:, None, None, None], ctx, mask, sigma.log() / 4)
    for h in hooks:
        h.remove()
    t = {
        "input.x": x, "input.sigma": sigma, "input.context": ctx, "input.mask": mask,
        "output.denoised": d, "output.net": f,
    }
    for n, v in captured.items():
        t["block." + n] = v
    t = {k: v.float().numpy() for k, v in t.items()}
    os.makedirs(os.path.dirname(out), exist_ok=True)
    st.save(out, t, {"weights": os.path.basename(wpath), "width": str(width), "config": json.dumps(cfg)})
    total = sum(v.nbytes for v in t.values())
    print(f"wrote {out}: {len(t)} tensors, {total / 1e6:.2f} MB")


if __name__ == "__main__":
    main()
