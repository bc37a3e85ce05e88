"""Train the piano-roll HDiT (resumable), log losses to CSV, export EMA weights.

On the GPU machine (see gpu/train/README.md):
    python3 gpu/train/train.py --data build/music --ckpt build/ckpt --out $OUT --minutes 8

Resuming: --ckpt holds ckpt.N.safetensors parts (f32 weights and bf16 Adam second moments), each under 15 MB so they come back through $OUT; copy them back into --ckpt and
carry that folder with the next call. Only result lines are printed; the rest goes to --log.
"""

import argparse
import csv
import glob
import json
import math
import os
import sys
import time

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import data  # noqa: E402
import hdit  # noqa: E402
import st  # noqa: E402

PART_BYTES = 15 * 1000 * 1000


def log(args, *msg):
    line = " ".join(str(m) for m in msg)
    with open(args.log, "a") as f:
        f.write(line + "\n")


def to_np(t, dtype):
    if dtype == "bf16":
        u = t.detach().float().cpu().contiguous().numpy().view(np.uint32)
        # round to nearest even, keep as uint16 bits stored in an int16-typed blob
        r = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
        return r
    return t.detach().float().cpu().numpy().astype(dtype)


def save_parts(folder, prefix, tensors, meta):
    """Write tensors across prefix.N.safetensors files of at most PART_BYTES each."""
    os.makedirs(folder, exist_ok=True)
    for old in glob.glob(os.path.join(folder, prefix + ".*.safetensors")):
        os.remove(old)
    part, size, n = {}, 0, 0
    for name in sorted(tensors):
        a = tensors[name]
        if part and size + a.nbytes > PART_BYTES:
            st.save(os.path.join(folder, f"{prefix}.{n}.safetensors"), part, meta)
            part, size, n = {}, 0, n + 1
        part[name] = a
        size += a.nbytes
    st.save(os.path.join(folder, f"{prefix}.{n}.safetensors"), part, meta)


def load_parts(folder, prefix):
    out, meta = {}, {}
    for f in sorted(glob.glob(os.path.join(folder, prefix + ".*.safetensors"))):
        t, m = st.load(f)
        out.update(t)
        meta.update(m)
    return out, meta


def save_ckpt(args, net, ema, opt, state, folder):
    t = {}
    for k, v in net.state_dict().items():
        t["model." + k] = to_np(v, np.float32)
    names = {id(p): n for n, p in net.named_parameters()}
    for group in opt.param_groups:
        for p in group["params"]:
            s = opt.state.get(p)
            if s and "exp_avg_sq" in s:
                t["adam_v." + names[id(p)]] = to_np(s["exp_avg_sq"], "bf16")
    meta = {"state": json.dumps(state), "config": json.dumps(hdit.CONFIG)}
    save_parts(folder, "ckpt", t, meta)


def load_ckpt(args, net, ema, opt, device):
    t, meta = load_parts(args.ckpt, "ckpt")
    if not t:
        return None
    cfg = json.loads(meta["config"])
    if cfg != hdit.CONFIG:
        raise SystemExit(f"checkpoint config differs from hdit.CONFIG: {cfg}")
    net.load_state_dict({k[6:]: torch.from_numpy(v) for k, v in t.items() if k.startswith("model.")})
    # the EMA is not stored (it would not fit the carry limit beside the corpus): it restarts
    # from the model, with a decay that starts near its final value
    ema.load_state_dict(net.state_dict())
    params = dict(net.named_parameters())
    n = 0
    for k, v in t.items():
        if k.startswith("adam_v."):
            p = params[k[7:]]
            opt.state[p] = {
                "step": torch.tensor(1000.0),
                "exp_avg": torch.zeros_like(p),
                "exp_avg_sq": torch.from_numpy(v).to(device).reshape(p.shape),
            }
            n += 1
    state = json.loads(meta["state"])
    state["adam_restored"] = n
    return state


def export_weights(ema, path, state):
    """EMA weights as f16 safetensors with the architecture in the metadata."""
    t = {k: v.detach().float().cpu().numpy().astype(np.float16) for k, v in ema.state_dict().items()}
    meta = {
        "format": "latentstudio-pianoroll-hdit",
        "config": json.dumps(hdit.CONFIG),
        "step": str(state["step"]),
        "windows": str(state["windows"]),
    }
    st.save(path, t, meta)


def sample_sigmas(b, device, gen, p_mean=-1.2, p_std=1.2):
    return torch.exp(p_mean + p_std * torch.randn(b, device=device, generator=gen))


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", default="build/music")
    ap.add_argument("--ckpt", default="build/ckpt")
    ap.add_argument("--out", default="build/out")
    ap.add_argument("--minutes", type=float, default=8)
    ap.add_argument("--batch", type=int, default=128)
    ap.add_argument("--lr", type=float, default=6e-4)
    ap.add_argument("--warmup", type=int, default=300)
    ap.add_argument("--ema", type=float, default=0.999)
    ap.add_argument("--decay", type=float, default=0.0, help="fraction of this call over which lr falls to 10%")
    ap.add_argument("--valid-every", type=float, default=60, help="seconds")
    ap.add_argument("--save-every", type=float, default=180, help="seconds")
    ap.add_argument("--valid-windows", type=int, default=256)
    ap.add_argument("--compile", action="store_true")
    ap.add_argument("--csv", default=None)
    ap.add_argument("--run", default="run")
    ap.add_argument("--log", default=None)
    ap.add_argument("--cpu", action="store_true")
    ap.add_argument("--init-from", default="", help="exported weights to start from when --ckpt is empty (e.g. assets/pianoroll-hdit.safetensors)")
    args = ap.parse_args()
    os.makedirs(args.out, exist_ok=True)
    args.log = args.log or os.path.join(args.out, "log")
    args.csv = args.csv or os.path.join(args.out, "loss.csv")
    t_start = time.time()
    device = torch.device("cuda" if torch.cuda.is_available() and not args.cpu else "cpu")
    if device.type == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = True
        torch.backends.cudnn.allow_tf32 = True
        card = torch.cuda.get_device_name()
    else:
        card = "cpu"
    train = data.Corpus(os.path.join(args.data, "train.safetensors"), device)
    valid = data.Corpus(os.path.join(args.data, "valid.safetensors"), device)
    print(f"data train {train.hours():.2f} h ({train.notes} notes), valid {valid.hours():.2f} h, card {card}")
    log(args, "start", time.ctime(), card, json.dumps(vars(args)))

    torch.manual_seed(0)
    net = hdit.HDiT().to(device)
    ema = hdit.HDiT().to(device)
    ema.load_state_dict(net.state_dict())
    ema.requires_grad_(False)
    decay_params = [p for n, p in net.named_parameters() if p.ndim >= 2]
    other = [p for n, p in net.named_parameters() if p.ndim < 2]
    opt = torch.optim.AdamW(
        [{"params": decay_params, "weight_decay": 0.01}, {"params": other, "weight_decay": 0.0}],
        lr=args.lr,
        betas=(0.9, 0.99),
        eps=1e-8,
    )
    state = load_ckpt(args, net, ema, opt, device)
    if state is None and args.init_from:
        # later sessions continue from the committed f16 EMA weights (no optimizer state)
        t, meta = st.load(args.init_from)
        if json.loads(meta["config"]) != hdit.CONFIG:
            raise SystemExit(f"{args.init_from}: config differs from hdit.CONFIG")
        sd = {k: torch.from_numpy(v.astype(np.float32)) for k, v in t.items()}
        net.load_state_dict(sd)
        ema.load_state_dict(sd)
        state = {"step": int(meta.get("step", 0)), "windows": int(meta.get("windows", 0)), "seconds": 0.0, "calls": 0}
    state = state or {"step": 0, "windows": 0, "seconds": 0.0, "calls": 0}
    resumed = state["step"] > 0
    state["calls"] = state.get("calls", 0) + 1
    print(f"resume step {state['step']} windows {state['windows']} adam_v {state.get('adam_restored', 0)}")
    den = hdit.Denoiser(net)
    den_ema = hdit.Denoiser(ema)
    step_fn = den.loss
    if args.compile and device.type == "cuda":
        net_c = torch.compile(net)
        step_fn = hdit.Denoiser(net_c).loss

    # fixed validation set: windows, masks, sigmas, noise drawn from one seeded generator
    vgen = torch.Generator(device=device)
    vgen.manual_seed(1234)
    vsets = []
    for i in range(0, args.valid_windows, 64):
        b = min(64, args.valid_windows - i)
        x0 = valid.windows(b, gen=vgen, transpose=0)
        m = data.masks(b, device=device, gen=vgen)
        sig = sample_sigmas(b, device, vgen)
        noise = torch.randn(x0.shape, device=device, generator=vgen)
        vsets.append((x0, m, sig, noise))

    def validate(model_den):
        tot, n = 0.0, 0
        with torch.no_grad(), torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            for x0, m, sig, noise in vsets:
                per = model_den.loss(x0, noise, sig, x0 * (1 - m), m)
                tot += per.sum().item()
                n += per.numel()
        return tot / n

    new_csv = not os.path.exists(args.csv)
    csvf = open(args.csv, "a", newline="")
    wr = csv.writer(csvf)
    if new_csv:
        wr.writerow(["run", "call", "step", "windows", "train_seconds", "lr", "train_loss", "valid_loss_ema"])

    gen = torch.Generator(device=device)
    gen.manual_seed(state["step"] * 7919 + 17)
    budget = args.minutes * 60
    last_valid = last_save = time.time()
    run_loss, run_n, last_tl = 0.0, 0, float("nan")
    call_steps, call_t0 = 0, None
    ema_steps = 0
    while True:
        now = time.time()
        elapsed = now - t_start
        if elapsed > budget:
            break
        # lr: warmup from the first step of training (or short re-warmup after a resume)
        warm = args.warmup if not resumed else 50
        lr = args.lr * min(1.0, (call_steps + 1) / warm)
        if args.decay > 0:
            frac_left = (budget - elapsed) / (budget * args.decay)
            lr *= max(0.1, min(1.0, frac_left))
        for g in opt.param_groups:
            g["lr"] = lr
        x0 = train.windows(args.batch, gen=gen)
        m = data.masks(args.batch, device=device, gen=gen)
        sig = sample_sigmas(args.batch, device, gen)
        noise = torch.randn(x0.shape, device=device, generator=gen)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=device.type == "cuda"):
            loss = step_fn(x0, noise, sig, x0 * (1 - m), m).mean()
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
        opt.step()
        ema_steps += 1
        d = min(args.ema, (1 + ema_steps + (1000 if resumed else 0)) / (10 + ema_steps + (1000 if resumed else 0)))
        with torch.no_grad():
            for pe, pn in zip(ema.parameters(), net.parameters()):
                pe.lerp_(pn, 1 - d)
        state["step"] += 1
        state["windows"] += args.batch
        call_steps += 1
        run_loss += loss.item() if call_steps % 10 == 0 else 0.0
        run_n += 1 if call_steps % 10 == 0 else 0
        if call_steps == 20:
            if device.type == "cuda":
                torch.cuda.synchronize()
            call_t0 = time.time()
            print(f"first 20 steps done at {time.time() - t_start:.0f} s, loss {loss.item():.4f}")
        if call_steps % 50 == 0 and not math.isfinite(loss.item()):
            raise SystemExit(f"loss is not finite at step {state['step']}")
        now = time.time()
        if now - last_valid > args.valid_every or now - t_start > budget:
            vl = validate(den_ema)
            tl = run_loss / run_n if run_n else last_tl
            last_tl = tl
            run_loss, run_n = 0.0, 0
            state["seconds"] += now - last_valid
            wr.writerow([args.run, state["calls"], state["step"], state["windows"], f"{state['seconds']:.0f}", f"{lr:.2e}", f"{tl:.5f}", f"{vl:.5f}"])
            csvf.flush()
            rate = (call_steps - 20) * args.batch / (now - call_t0) if call_t0 and call_steps > 20 else 0
            log(args, f"step {state['step']} train {tl:.5f} valid_ema {vl:.5f} lr {lr:.2e} {rate:.0f} windows/s")
            last_valid = now
        if now - last_save > args.save_every:
            save_ckpt(args, net, ema, opt, state, args.out)
            last_save = now
    if device.type == "cuda":
        torch.cuda.synchronize()
    rate = (call_steps - 20) * args.batch / (time.time() - call_t0) if call_t0 else 0
    vl, vl_raw = validate(den_ema), validate(den)
    state["seconds"] += time.time() - last_valid
    wr.writerow([args.run, state["calls"], state["step"], state["windows"], f"{state['seconds']:.0f}", f"{lr:.2e}", f"{run_loss / run_n if run_n else last_tl:.5f}", f"{vl:.5f}"])
    csvf.close()
    save_ckpt(args, net, ema, opt, state, args.out)
    export_weights(ema, os.path.join(args.out, "pianoroll-hdit.safetensors"), state)
    mem = torch.cuda.max_memory_allocated() / 2**30 if device.type == "cuda" else 0
    print(
        f"done step {state['step']} windows {state['windows']} this call {call_steps} steps, "
        f"{rate:.0f} windows/s, valid {vl:.5f} (ema) {vl_raw:.5f} (raw), peak {mem:.1f} GiB, {time.time() - t_start:.0f} s"
    )


if __name__ == "__main__":
    main()
