"""Hourglass diffusion transformer for 3x128xW piano-roll images (see ARCHITECTURE.md).

Written for torch 1.13 .. 2.11: no einops, attention falls back to a plain softmax when
F.scaled_dot_product_attention is missing. Every tensor name here is a weight name in the
exported safetensors file that the Go model binds.
"""

import math

import torch
import torch.nn as nn
import torch.nn.functional as F

# The one configuration the studio ships. Go reads the same numbers from the weights'
# metadata, so changing them here changes the exported file, not the Go code.
CONFIG = {
    "roll_channels": 3,  # onset, sustain, velocity
    "in_channels": 8,  # c_in*x (3), context x*(1-m) (3), mask (1), pitch coordinate (1)
    "patch": [4, 4],  # pitches x steps per token
    "widths": [64, 128, 256, 384],
    "depths": [1, 1, 1, 2],  # layers per side at each level; the last level is the middle
    "window": [8, 8],  # tokens (pitch x time) per attention window at windowed levels
    "global_from": 2,  # levels >= this attend globally
    "head_dim": 64,
    "ff_mult": 2,  # GEGLU hidden = ff_mult * width
    "mapping_width": 256,
    "rope_base": 1000.0,
    "sigma_data": 0.5,
}

EPS = 1e-6


def gelu_tanh(x):
    return F.gelu(x, approximate="tanh")


def rms_norm(x, eps=EPS):
    return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps).to(x.dtype)


class RMSNorm(nn.Module):
    def __init__(self, dim):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(dim))

    def forward(self, x):
        return rms_norm(x) * self.weight.to(x.dtype)


class AdaRMSNorm(nn.Module):
    """y = rms(x) * (1 + cond @ W^T); W starts at zero so every block starts as identity."""

    def __init__(self, dim, cond_dim):
        super().__init__()
        self.linear = nn.Linear(cond_dim, dim, bias=False)
        nn.init.zeros_(self.linear.weight)

    def forward(self, x, cond):
        scale = 1 + self.linear(cond)  # [B, C]
        return rms_norm(x) * scale[:, None, None, :].to(x.dtype)


def rope_tables(hh, ww, head_dim, base, device):
    """cos/sin [hh, ww, head_dim/2]: first head_dim/4 pairs use the pitch index, the rest time."""
    n = head_dim // 4  # pairs per axis
    freqs = base ** (-torch.arange(n, dtype=torch.float64, device=device) / n)
    rows = torch.arange(hh, dtype=torch.float64, device=device)
    cols = torch.arange(ww, dtype=torch.float64, device=device)
    ang_r = rows[:, None] * freqs[None, :]  # [hh, n]
    ang_c = cols[:, None] * freqs[None, :]  # [ww, n]
    ang = torch.cat(
        [ang_r[:, None, :].expand(hh, ww, n), ang_c[None, :, :].expand(hh, ww, n)], dim=-1
    )
    return torch.cos(ang).float(), torch.sin(ang).float()


def apply_rope(x, cos, sin):
    """x [B, nh, hh, ww, D]. Each axis owns a half of D (pitch first); inside a half of size
    h = D/2 the pairs are (j, j + h/2) and rotate by pos * base^(-j/(h/2))."""
    d = x.shape[-1]
    half = d // 2
    q = half // 2
    parts = []
    for a in range(2):
        xa = x[..., a * half : (a + 1) * half]
        x1, x2 = xa[..., :q], xa[..., q:]
        c = cos[..., a * q : (a + 1) * q].to(x.dtype)
        s = sin[..., a * q : (a + 1) * q].to(x.dtype)
        parts.append(torch.cat([x1 * c - x2 * s, x1 * s + x2 * c], dim=-1))
    return torch.cat(parts, dim=-1)


def sdpa(q, k, v):
    if hasattr(F, "scaled_dot_product_attention"):
        return F.scaled_dot_product_attention(q, k, v)
    scale = q.shape[-1] ** -0.5
    w = torch.softmax((q @ k.transpose(-1, -2)).float() * scale, dim=-1).to(v.dtype)
    return w @ v


def window_partition(x, wh, ww):
    """[B, nh, H, W, D] -> [B*(H/wh)*(W/ww), nh, wh*ww, D], windows in row-major order."""
    b, nh, h, w, d = x.shape
    x = x.reshape(b, nh, h // wh, wh, w // ww, ww, d)
    x = x.permute(0, 2, 4, 1, 3, 5, 6)  # b, H/wh, W/ww, nh, wh, ww, d
    return x.reshape(b * (h // wh) * (w // ww), nh, wh * ww, d)


def window_reverse(x, b, h, w, wh, ww):
    nh, d = x.shape[1], x.shape[-1]
    x = x.reshape(b, h // wh, w // ww, nh, wh, ww, d)
    x = x.permute(0, 3, 1, 4, 2, 5, 6)  # b, nh, H/wh, wh, W/ww, ww, d
    return x.reshape(b, nh, h, w, d)


class Attention(nn.Module):
    def __init__(self, dim, cond_dim, head_dim, window, shift):
        super().__init__()
        self.heads = dim // head_dim
        self.head_dim = head_dim
        self.window = window  # None: global
        self.shift = shift
        self.norm = AdaRMSNorm(dim, cond_dim)
        self.qkv = nn.Linear(dim, 3 * dim, bias=False)
        self.q_norm = RMSNorm(head_dim)
        self.k_norm = RMSNorm(head_dim)
        self.out = nn.Linear(dim, dim, bias=False)
        nn.init.zeros_(self.out.weight)

    def forward(self, x, cond, rope):
        b, h, w, c = x.shape
        skip = x
        x = self.qkv(self.norm(x, cond))  # [B, H, W, 3C]
        x = x.reshape(b, h, w, 3, self.heads, self.head_dim).permute(3, 0, 4, 1, 2, 5)
        q, k, v = x[0], x[1], x[2]  # [B, nh, H, W, D]
        q = apply_rope(self.q_norm(q), *rope)
        k = apply_rope(self.k_norm(k), *rope)
        if self.window is None:
            o = sdpa(*(t.reshape(b, self.heads, h * w, self.head_dim) for t in (q, k, v)))
            o = o.reshape(b, self.heads, h, w, self.head_dim)
        else:
            wh, ww = self.window
            sh, sw = self.shift
            if sh or sw:
                q, k, v = (torch.roll(t, shifts=(-sh, -sw), dims=(2, 3)) for t in (q, k, v))
            o = sdpa(*(window_partition(t, wh, ww) for t in (q, k, v)))
            o = window_reverse(o, b, h, w, wh, ww)
            if sh or sw:
                o = torch.roll(o, shifts=(sh, sw), dims=(2, 3))
        o = o.permute(0, 2, 3, 1, 4).reshape(b, h, w, c)
        return skip + self.out(o)


class FeedForward(nn.Module):
    def __init__(self, dim, cond_dim, hidden):
        super().__init__()
        self.norm = AdaRMSNorm(dim, cond_dim)
        self.up = nn.Linear(dim, 2 * hidden, bias=False)
        self.down = nn.Linear(hidden, dim, bias=False)
        nn.init.zeros_(self.down.weight)

    def forward(self, x, cond):
        a, gate = self.up(self.norm(x, cond)).chunk(2, dim=-1)
        return x + self.down(a * gelu_tanh(gate))


class Layer(nn.Module):
    def __init__(self, dim, cond_dim, head_dim, hidden, window, shift):
        super().__init__()
        self.attn = Attention(dim, cond_dim, head_dim, window, shift)
        self.ff = FeedForward(dim, cond_dim, hidden)

    def forward(self, x, cond, rope):
        return self.ff(self.attn(x, cond, rope), cond)


def merge_tokens(x, ph, pw):
    """[B, H, W, C] -> [B, H/ph, W/pw, ph*pw*C], features ordered (pitch-in-patch, step, channel)."""
    b, h, w, c = x.shape
    x = x.reshape(b, h // ph, ph, w // pw, pw, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h // ph, w // pw, ph * pw * c)


def split_tokens(x, ph, pw):
    b, h, w, f = x.shape
    c = f // (ph * pw)
    x = x.reshape(b, h, w, ph, pw, c).permute(0, 1, 3, 2, 4, 5)
    return x.reshape(b, h * ph, w * pw, c)


class TokenMerge(nn.Module):
    def __init__(self, cin, cout, ph=2, pw=2):
        super().__init__()
        self.ph, self.pw = ph, pw
        self.proj = nn.Linear(cin * ph * pw, cout, bias=False)

    def forward(self, x):
        return self.proj(merge_tokens(x, self.ph, self.pw))


class TokenSplit(nn.Module):
    """Split each token into 2x2 and blend with the skip: skip + fac * (x - skip)."""

    def __init__(self, cin, cout):
        super().__init__()
        self.proj = nn.Linear(cin, cout * 4, bias=False)
        self.fac = nn.Parameter(torch.full((1,), 0.5))

    def forward(self, x, skip):
        x = split_tokens(self.proj(x), 2, 2)
        return torch.lerp(skip, x, self.fac.to(x.dtype))


class Mapping(nn.Module):
    """log sigma -> Fourier features (fixed random frequencies) -> MLP -> cond vector."""

    def __init__(self, width):
        super().__init__()
        self.register_buffer("fourier", torch.randn(width // 2, 1))
        self.in_proj = nn.Linear(width, width)
        self.out_proj = nn.Linear(width, width)

    def forward(self, c_noise):
        f = 2 * math.pi * c_noise[:, None] * self.fourier[:, 0][None, :]
        emb = torch.cat([torch.cos(f), torch.sin(f)], dim=-1)
        return self.out_proj(F.silu(self.in_proj(emb)))


class Level(nn.Module):
    def __init__(self, cfg, li, first_index, n):
        super().__init__()
        width = cfg["widths"][li]
        window = None if li >= cfg["global_from"] else tuple(cfg["window"])
        layers = []
        for j in range(first_index, first_index + n):
            shift = (0, 0)
            if window is not None and j % 2 == 1:
                shift = (window[0] // 2, window[1] // 2)
            layers.append(
                Layer(width, cfg["mapping_width"], cfg["head_dim"], cfg["ff_mult"] * width, window, shift)
            )
        self.layers = nn.ModuleList(layers)

    def forward(self, x, cond, rope):
        for layer in self.layers:
            x = layer(x, cond, rope)
        return x


class HDiT(nn.Module):
    """Raw network F(c_in x, context, mask, pitch, c_noise) -> 3 channels. Use Denoiser for D(x, sigma)."""

    def __init__(self, cfg=CONFIG):
        super().__init__()
        self.cfg = dict(cfg)
        w = cfg["widths"]
        nl = len(w)
        ph, pw = cfg["patch"]
        self.patch_in = TokenMerge(cfg["in_channels"], w[0], ph, pw)
        self.mapping = Mapping(cfg["mapping_width"])
        self.down = nn.ModuleList([Level(cfg, i, 0, cfg["depths"][i]) for i in range(nl - 1)])
        self.mid = Level(cfg, nl - 1, 0, cfg["depths"][-1])
        self.up = nn.ModuleList(
            [Level(cfg, i, cfg["depths"][i], cfg["depths"][i]) for i in range(nl - 1)]
        )
        self.merges = nn.ModuleList([TokenMerge(w[i], w[i + 1]) for i in range(nl - 1)])
        self.splits = nn.ModuleList([TokenSplit(w[i + 1], w[i]) for i in range(nl - 1)])
        self.out_norm = RMSNorm(w[0])
        self.patch_out = nn.Linear(w[0], ph * pw * cfg["roll_channels"], bias=False)
        nn.init.zeros_(self.patch_out.weight)
        self._rope = {}

    def rope(self, li, hh, ww, device):
        key = (li, hh, ww, str(device))
        if key not in self._rope:
            self._rope[key] = rope_tables(hh, ww, self.cfg["head_dim"], self.cfg["rope_base"], device)
        return self._rope[key]

    def forward(self, x_in, context, mask, c_noise):
        """x_in, context [B,3,128,W]; mask [B,1,128,W] (1 = generate); c_noise [B] = log(sigma)/4."""
        b, _, h, w = x_in.shape
        pitch = torch.linspace(-1, 1, h, device=x_in.device, dtype=x_in.dtype)
        pitch = pitch[None, None, :, None].expand(b, 1, h, w)
        x = torch.cat([x_in, context, mask, pitch], dim=1).permute(0, 2, 3, 1)  # [B,128,W,8]
        ph, pw = self.cfg["patch"]
        x = self.patch_in(x)  # [B, 128/ph, W/pw, widths[0]]
        cond = self.mapping(c_noise.float())
        skips = []
        for i, lev in enumerate(self.down):
            x = lev(x, cond, self.rope(i, x.shape[1], x.shape[2], x.device))
            skips.append(x)
            x = self.merges[i](x)
        nl = len(self.cfg["widths"])
        x = self.mid(x, cond, self.rope(nl - 1, x.shape[1], x.shape[2], x.device))
        for i in reversed(range(nl - 1)):
            x = self.splits[i](x, skips[i])
            x = self.up[i](x, cond, self.rope(i, x.shape[1], x.shape[2], x.device))
        x = self.patch_out(self.out_norm(x))
        x = split_tokens(x, ph, pw)  # [B,128,W,3]
        return x.permute(0, 3, 1, 2)


class Denoiser(nn.Module):
    """EDM preconditioning: D(x; sigma) = c_skip x + c_out F(c_in x, ...)."""

    def __init__(self, net, sigma_data=0.5):
        super().__init__()
        self.net = net
        self.sigma_data = sigma_data

    def scalings(self, sigma):
        sd2 = self.sigma_data**2
        c_skip = sd2 / (sigma**2 + sd2)
        c_out = sigma * self.sigma_data / (sigma**2 + sd2) ** 0.5
        c_in = 1 / (sigma**2 + sd2) ** 0.5
        return c_skip, c_out, c_in

    def forward(self, x, sigma, context, mask):
        c_skip, c_out, c_in = (s[:, None, None, None] for s in self.scalings(sigma))
        f = self.net(x * c_in, context, mask, sigma.log() / 4)
        return c_skip * x + c_out * f.to(x.dtype)

    def loss(self, x0, noise, sigma, context, mask):
        """EDM-weighted MSE on the masked cells only, mean per sample."""
        c_skip, c_out, c_in = (s[:, None, None, None] for s in self.scalings(sigma))
        xn = x0 + noise * sigma[:, None, None, None]
        f = self.net(xn * c_in, context, mask, sigma.log() / 4).float()
        target = (x0 - c_skip * xn) / c_out
        err = (f - target).pow(2) * mask
        per = err.flatten(1).sum(1) / (mask.flatten(1).sum(1) * x0.shape[1]).clamp(min=1)
        return per
