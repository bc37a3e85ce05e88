// Attention for the hourglass transformer, one kernel per layer: it reads q, k, v straight out
// of the qkv projection [B,H,W,3C], applies the per-head RMS norm (q_norm, k_norm) and the
// axial RoPE, gathers shifted windows (cyclic shift, no copy), runs flash-style attention on
// tensor cores (online softmax in registers) and writes o [B,H,W,C] back at the unshifted
// positions, head-major, ready for the out projection.
//
// Grid: x = query tiles of 64 tokens (one window, or 64 consecutive tokens for global
// attention), y = heads, z = batch. 128 threads: each warp owns 16 query rows. head_dim is 64.
#include "attn.cuh"

struct Tok {
  int r, t;
  bool ok;
};

// tok maps token n of tile `tile` to its grid position. Windowed (wh > 0): tile = window index
// (row-major over the shifted grid), token n row-major inside it; shifted[r][t] =
// x[(r+sh) mod H][(t+sw) mod W]. Global: tokens tile·64 + n in row-major order.
__device__ __forceinline__ Tok tok(int tile, int n, int H, int W, int wh, int ww, int sh, int sw) {
  Tok o;
  if (wh > 0) {
    int nwx = W / ww, wy = tile / nwx, wx = tile - wy * nwx;
    int ty = n / ww, tx = n - ty * ww;
    o.r = (wy * wh + ty + sh) % H;
    o.t = (wx * ww + tx + sw) % W;
    o.ok = true;
  } else {
    int i = tile * T + n;
    o.ok = i < H * W;
    o.r = o.ok ? i / W : 0;
    o.t = o.ok ? i - o.r * W : 0;
  }
  return o;
}

// load_qk fills dst [64][SD] with rope(rms(x)·nw)·mul for tile tokens of part s (0 q, 1 k).
// Two threads per token, one per half of head_dim: the pitch half (dims 0–31) rotates by the
// token's row, the time half (32–63) by its column; pairs (j, j+16) inside a half.
__device__ __forceinline__ void load_qk(bf16 (*dst)[SD], const float* qkv, const float* nw, const float2* rope,
                                        int s, int tile, int b, int head, int H, int W, int C, int wh, int ww,
                                        int sh, int sw, float eps, float mul) {
  const int n = threadIdx.x >> 1, half = threadIdx.x & 1;
  Tok tk = tok(tile, n, H, W, wh, ww, sh, sw);
  float x[32];
  float ss = 0.f;
  if (tk.ok) {
    const float* src = qkv + ((size_t)(b * H + tk.r) * W + tk.t) * 3 * C + s * C + head * D + half * 32;
#pragma unroll
    for (int e = 0; e < 32; e += 4) {
      float4 f = *(const float4*)(src + e);
      x[e] = f.x, x[e + 1] = f.y, x[e + 2] = f.z, x[e + 3] = f.w;
    }
#pragma unroll
    for (int e = 0; e < 32; e++) ss += x[e] * x[e];
  } else {
#pragma unroll
    for (int e = 0; e < 32; e++) x[e] = 0.f;
  }
  ss += shfl_xor(ss, 1);
  const float inv = rsqrtf(ss / (float)D + eps) * mul;
#pragma unroll
  for (int e = 0; e < 32; e++) x[e] *= inv * nw[half * 32 + e];
  const float2* rp = rope + (half == 0 ? tk.r : tk.t) * 16;
  uint32_t pk[16];
#pragma unroll
  for (int j = 0; j < 16; j += 2) {
    float2 cs0 = rp[j], cs1 = rp[j + 1];
    float a0 = x[j], b0 = x[j + 16], a1 = x[j + 1], b1 = x[j + 17];
    pk[j >> 1] = pack_bf16(a0 * cs0.x - b0 * cs0.y, a1 * cs1.x - b1 * cs1.y);
    pk[8 + (j >> 1)] = pack_bf16(a0 * cs0.y + b0 * cs0.x, a1 * cs1.y + b1 * cs1.x);
  }
  uint4* d4 = (uint4*)&dst[n][half * 32];
#pragma unroll
  for (int i = 0; i < 4; i++) d4[i] = uint4{pk[4 * i], pk[4 * i + 1], pk[4 * i + 2], pk[4 * i + 3]};
}

// load_vt fills vt [D][SD] with v transposed (vt[d][token]), the B operand layout for P·V.
__device__ __forceinline__ void load_vt(bf16 (*vt)[SD], const float* qkv, int tile, int b, int head, int H,
                                        int W, int C, int wh, int ww, int sh, int sw) {
  const int n = threadIdx.x >> 1, half = threadIdx.x & 1;
  Tok tk = tok(tile, n, H, W, wh, ww, sh, sw);
  const float* src = qkv + ((size_t)(b * H + tk.r) * W + tk.t) * 3 * C + 2 * C + head * D + half * 32;
#pragma unroll
  for (int e = 0; e < 32; e += 4) {
    float4 f = tk.ok ? *(const float4*)(src + e) : float4{0.f, 0.f, 0.f, 0.f};
    uint32_t p0 = pack_bf16(f.x, f.y), p1 = pack_bf16(f.z, f.w);
    vt[half * 32 + e][n] = (bf16)(p0 & 0xffff);
    vt[half * 32 + e + 1][n] = (bf16)(p0 >> 16);
    vt[half * 32 + e + 2][n] = (bf16)(p1 & 0xffff);
    vt[half * 32 + e + 3][n] = (bf16)(p1 >> 16);
  }
}

// qkv [B,H,W,3C] → o [B,H,W,C]. qn, kn: RMS weights [64]. rope: (cos, sin) [max(H,W)][16].
// wh = 0: global attention; else windows wh × ww (wh·ww = 64) after a cyclic shift (sh, sw).
extern "C" __global__ void __launch_bounds__(128) attention(const float* qkv, float* o, const float* qn,
                                                            const float* kn, const float2* rope, int H, int W,
                                                            int C, int wh, int ww, int sh, int sw, float eps) {
  __shared__ __attribute__((aligned(16))) bf16 qs[T][SD];
  __shared__ __attribute__((aligned(16))) bf16 ks[T][SD];
  __shared__ __attribute__((aligned(16))) bf16 vt[D][SD];
  const int tile = blockIdx.x, head = blockIdx.y, b = blockIdx.z;
  const int lane = threadIdx.x & 31, warp = threadIdx.x >> 5, g = lane >> 2, tq = lane & 3;
  const float qmul = 0.125f * 1.4426950408889634f; // 1/sqrt(64), and exp → exp2

  load_qk(qs, qkv, qn, rope, 0, tile, b, head, H, W, C, wh, ww, sh, sw, eps, qmul);
  __syncthreads();
  uint32_t qf[4][4];
#pragma unroll
  for (int kk = 0; kk < 4; kk++) {
    const int r = warp * 16 + g, c = kk * 16 + tq * 2;
    qf[kk][0] = *(const uint32_t*)&qs[r][c];
    qf[kk][1] = *(const uint32_t*)&qs[r + 8][c];
    qf[kk][2] = *(const uint32_t*)&qs[r][c + 8];
    qf[kk][3] = *(const uint32_t*)&qs[r + 8][c + 8];
  }

  float oacc[8][4];
#pragma unroll
  for (int i = 0; i < 8; i++) oacc[i][0] = oacc[i][1] = oacc[i][2] = oacc[i][3] = 0.f;
  float mx[2] = {NEG_INF, NEG_INF}, l[2] = {0.f, 0.f};

  const int ntiles = wh > 0 ? 1 : (H * W + T - 1) / T;
  for (int kt = 0; kt < ntiles; kt++) {
    const int ktile = wh > 0 ? tile : kt;
    load_qk(ks, qkv, kn, rope, 1, ktile, b, head, H, W, C, wh, ww, sh, sw, eps, 1.f);
    load_vt(vt, qkv, ktile, b, head, H, W, C, wh, ww, sh, sw);
    __syncthreads();
    float s[8][4];
    qk_scores(s, qf, ks, lane);
    if (wh == 0) mask_keys(s, H * W - kt * T, tq); // keys past the end of the sequence
    softmax_online(s, mx, l, oacc);
    pv<SD, false>(oacc, s, vt, 0, lane);
    __syncthreads();
  }
#pragma unroll
  for (int h = 0; h < 2; h++) {
    l[h] += shfl_xor(l[h], 1);
    l[h] += shfl_xor(l[h], 2);
    const int n = warp * 16 + g + h * 8;
    Tok tk = tok(tile, n, H, W, wh, ww, sh, sw);
    if (!tk.ok) continue;
    float* dst = o + ((size_t)(b * H + tk.r) * W + tk.t) * C + head * D + tq * 2;
    const float inv = 1.f / l[h];
#pragma unroll
    for (int dt = 0; dt < 8; dt++)
      *(float2*)(dst + dt * 8) = float2{oacc[dt][2 * h] * inv, oacc[dt][2 * h + 1] * inv};
  }
}
