"""Corpus -> piano-roll windows and inpainting masks, all on the training device.

The corpus format (TEAM.md): `notes` int32 [N,4] = (start, duration, pitch, velocity) sorted by
piece then start, `pieces` int64 [P,3] = (first note row, note count, length in steps). The
whole corpus is rasterized once into two uint8 planes (velocity and onset, 128 x total steps),
then every batch is a gather of random 512-step windows with a random transposition.
"""

import math

import numpy as np
import torch

import st

PITCHES = 128


class Corpus:
    def __init__(self, path, device):
        t, meta = st.load(path)
        notes = t["notes"].astype(np.int64)
        pieces = t["pieces"].astype(np.int64)
        self.meta = meta
        lengths = np.maximum(pieces[:, 2], 1)
        offsets = np.concatenate([[0], np.cumsum(lengths)[:-1]])
        total = int(lengths.sum())
        piece_of = np.repeat(np.arange(len(pieces)), pieces[:, 1])
        start, dur, pitch, vel = notes[:, 0], np.maximum(notes[:, 1], 1), notes[:, 2], notes[:, 3]
        keep = (start < lengths[piece_of]) & (pitch >= 0) & (pitch < PITCHES)
        start, dur, pitch, vel, piece_of = start[keep], dur[keep], pitch[keep], vel[keep], piece_of[keep]
        dur = np.minimum(dur, lengths[piece_of] - start)
        g0 = offsets[piece_of] + start
        velp = np.zeros(PITCHES * total, dtype=np.uint8)
        onset = np.zeros(PITCHES * total, dtype=np.uint8)
        # every sounding cell: note k covers g0[k] .. g0[k]+dur[k]-1
        cells = np.repeat(g0 - np.concatenate([[0], np.cumsum(dur)[:-1]]), dur) + np.arange(dur.sum())
        rows = np.repeat(pitch, dur)
        np.maximum.at(velp, rows * total + cells, np.repeat(np.clip(vel, 1, 127), dur).astype(np.uint8))
        onset[pitch * total + g0] = 1
        self.vel = torch.from_numpy(velp.reshape(PITCHES, total)).to(device)
        self.onset = torch.from_numpy(onset.reshape(PITCHES, total)).to(device)
        self.offsets = torch.from_numpy(offsets).to(device)
        self.lengths = torch.from_numpy(lengths).to(device)
        self.total = total
        self.notes = int(keep.sum())
        self.device = device
        # pieces are drawn in proportion to how many windows they hold
        self.weights = torch.from_numpy(np.maximum(lengths - 511, 1).astype(np.float64)).to(device)

    def hours(self, steps_per_second=8.0):
        return self.total / steps_per_second / 3600

    def windows(self, b, width=512, transpose=6, gen=None):
        """[b,3,128,width] float in [-1,1]: onset, sustain, velocity."""
        dev = self.device
        piece = torch.multinomial(self.weights, b, replacement=True, generator=gen)
        span = (self.lengths[piece] - width).clamp(min=0) + 1
        start = (torch.rand(b, device=dev, generator=gen, dtype=torch.float64) * span).long()
        t = start[:, None] + torch.arange(width, device=dev)[None, :]
        valid = t < self.lengths[piece][:, None]
        idx = (self.offsets[piece][:, None] + t).clamp(max=self.total - 1)
        vel = self.vel[:, idx.reshape(-1)].reshape(PITCHES, b, width).permute(1, 0, 2)
        ons = self.onset[:, idx.reshape(-1)].reshape(PITCHES, b, width).permute(1, 0, 2)
        vel = vel * valid[:, None, :]
        ons = ons * valid[:, None, :]
        if transpose:
            shift = torch.randint(-transpose, transpose + 1, (b,), device=dev, generator=gen)
            src = torch.arange(PITCHES, device=dev)[None, :] - shift[:, None]
            ok = ((src >= 0) & (src < PITCHES))[:, :, None]
            src = src.clamp(0, PITCHES - 1)[:, :, None].expand(b, PITCHES, width)
            vel = torch.gather(vel, 1, src) * ok
            ons = torch.gather(ons, 1, src) * ok
        v = vel.float()
        x = torch.stack([ons.float(), (v > 0).float(), v / 127.0], dim=1)
        return x * 2 - 1


MASK_KINDS = ["all", "box", "bars", "above", "below", "continue", "blobs", "lasso"]
MASK_PROBS = [0.15, 0.15, 0.15, 0.1, 0.1, 0.1, 0.125, 0.125]


def _u(b, lo, hi, dev, gen):
    return lo + (hi - lo) * torch.rand(b, device=dev, generator=gen)


def masks(b, width=512, device="cpu", gen=None, kinds=None):
    """[b,1,128,width] float, 1 = cells to generate. Each row draws one shape from MASK_KINDS."""
    dev = device
    p = torch.arange(PITCHES, device=dev, dtype=torch.float32)[None, :, None]
    t = torch.arange(width, device=dev, dtype=torch.float32)[None, None, :]
    if kinds is None:
        kinds = torch.multinomial(torch.tensor(MASK_PROBS, device=dev), b, replacement=True, generator=gen)
    out = torch.zeros(b, PITCHES, width, device=dev)

    def col(v):
        return v[:, None, None]

    # box: a pitch band x a time span
    p0 = _u(b, 0, 100, dev, gen)
    p1 = p0 + _u(b, 6, 60, dev, gen)
    t0 = _u(b, 0, width - 32, dev, gen)
    t1 = t0 + _u(b, 16, width / 2, dev, gen)
    box = (p >= col(p0)) & (p < col(p1)) & (t >= col(t0)) & (t < col(t1))
    # bars: whole bars (16 steps), all pitches
    nb = width // 16
    b0 = torch.floor(_u(b, 0, nb - 1, dev, gen))
    b1 = b0 + torch.floor(_u(b, 1, nb / 2, dev, gen))
    bars = (t >= col(b0 * 16)) & (t < col(b1 * 16))
    bars = bars.expand(b, PITCHES, width)
    # above / below a pitch line (melody / accompaniment)
    line = col(_u(b, 40, 84, dev, gen))
    above = (p >= line).expand(b, PITCHES, width)
    below = (p < line).expand(b, PITCHES, width)
    # continue: everything after a time
    tc = col(_u(b, width / 8, width * 7 / 8, dev, gen))
    cont = (t >= tc).expand(b, PITCHES, width)
    # brush: union of 1-5 ellipses
    blobs = torch.zeros(b, PITCHES, width, dtype=torch.bool, device=dev)
    nblob = torch.randint(1, 6, (b,), device=dev, generator=gen)
    for i in range(5):
        cy, cx = col(_u(b, 10, 118, dev, gen)), col(_u(b, 0, width, dev, gen))
        ry, rx = col(_u(b, 3, 20, dev, gen)), col(_u(b, 8, 80, dev, gen))
        e = ((p - cy) / ry) ** 2 + ((t - cx) / rx) ** 2 < 1
        blobs |= e & col(nblob > i)
    # lasso: a star-shaped polygon of 9 vertices at even angles, radii 0.35..1
    k = 9
    cy, cx = col(_u(b, 20, 108, dev, gen)), col(_u(b, width / 8, width * 7 / 8, dev, gen))
    sy, sx = col(_u(b, 8, 45, dev, gen)), col(_u(b, 24, width / 3, dev, gen))
    radii = 0.35 + 0.65 * torch.rand(b, k, device=dev, generator=gen)
    dy, dx = (p - cy) / sy, (t - cx) / sx
    r = torch.sqrt(dy**2 + dx**2)
    u = (torch.atan2(dy, dx) + math.pi) / (2 * math.pi) * k
    k0 = torch.floor(u).long().clamp(0, k - 1)
    frac = u - k0
    flat = radii[:, None, :].expand(b, PITCHES, k)
    ra = torch.gather(flat, 2, k0.reshape(b, PITCHES, width).reshape(b, PITCHES, width))
    rb = torch.gather(flat, 2, ((k0 + 1) % k).reshape(b, PITCHES, width))
    lasso = r < ra * (1 - frac) + rb * frac
    shapes = [torch.ones_like(box), box, bars, above, below, cont, blobs, lasso]
    for i, s in enumerate(shapes):
        out = torch.where(col(kinds == i), s.float(), out)
    # a shape that came out empty (tiny blob off the roll) becomes a box
    empty = out.flatten(1).sum(1) == 0
    out = torch.where(col(empty), box.float(), out)
    return out[:, None]
