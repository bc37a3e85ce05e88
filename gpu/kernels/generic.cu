// The generic op set of gpu.Kernels on the GPU: strided copies (permute, slice, concat, pad),
// broadcast binaries, unaries, norms, softmax, reductions, convolution, windows, RoPE, casts
// and a plain attention. They favour being obviously right over speed: the model's hot path
// runs the fused kernels of gemm.cu and attention.cu instead.
#include "common.cuh"

#define MAXR 6

// Geom describes an index space of up to 6 axes and the element strides of up to three
// operands over it (0 on broadcast axes). Passed by value.
struct Geom {
  int rank;
  int shape[MAXR];
  int s0[MAXR], s1[MAXR], s2[MAXR];
};

__device__ __forceinline__ void offsets(const Geom& g, long long i, long long& o0, long long& o1, long long& o2) {
  o0 = o1 = o2 = 0;
  for (int a = g.rank - 1; a >= 0; a--) {
    const int n = g.shape[a];
    const long long c = i % n;
    i /= n;
    o0 += c * g.s0[a], o1 += c * g.s1[a], o2 += c * g.s2[a];
  }
}

#define GRID_STRIDE(i, n) for (long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x; i < (n); i += (long long)gridDim.x * blockDim.x)

// dst[o0] = src[o1] over the index space (permute, slice, concat pieces, pad interiors).
extern "C" __global__ void copy_strided(float* dst, const float* src, long long n, Geom g) {
  GRID_STRIDE(i, n) {
    long long o0, o1, o2;
    offsets(g, i, o0, o1, o2);
    dst[o0] = src[o1];
  }
}

__device__ __forceinline__ float binop(int op, float a, float b) {
  switch (op) {
    case 0: return a + b;
    case 1: return a - b;
    case 2: return a * b;
    case 3: return a / b;
    case 4: return fmaxf(a, b);
    default: return fminf(a, b);
  }
}

// dst[o0] = a[o1] op b[o2] (numpy broadcasting through zero strides).
extern "C" __global__ void binary_bcast(float* dst, const float* a, const float* b, long long n, int op, Geom g) {
  GRID_STRIDE(i, n) {
    long long o0, o1, o2;
    offsets(g, i, o0, o1, o2);
    dst[o0] = binop(op, a[o1], b[o2]);
  }
}

// Unary ops in gpu.UnaryOp order: gelu, gelu_tanh, silu, sigmoid, tanh, exp, square, sqrt, abs.
extern "C" __global__ void unary(float* dst, const float* x, long long n, int op) {
  GRID_STRIDE(i, n) {
    const float v = x[i];
    float r;
    switch (op) {
      case 0: r = 0.5f * v * (1.f + erff(v * 0.7071067811865476f)); break;
      case 1: r = gelu_tanh(v); break;
      case 2: r = v / (1.f + expf(-v)); break;
      case 3: r = 1.f / (1.f + expf(-v)); break;
      case 4: r = tanhf(v); break;
      case 5: r = expf(v); break;
      case 6: r = v * v; break;
      case 7: r = sqrtf(v); break;
      default: r = fabsf(v); break;
    }
    dst[i] = r;
  }
}

extern "C" __global__ void affine(float* dst, const float* x, long long n, float alpha, float beta) {
  GRID_STRIDE(i, n) dst[i] = alpha * x[i] + beta;
}

// x [rows, 2h] → dst [rows, h] = a·gelu(g), a = x[:, :h], g = x[:, h:].
extern "C" __global__ void geglu(float* dst, const float* x, long long rows, int h, int tanhApprox) {
  GRID_STRIDE(i, rows * h) {
    const long long r = i / h;
    const int c = (int)(i - r * h);
    const float a = x[r * 2 * h + c], g = x[r * 2 * h + h + c];
    dst[i] = a * (tanhApprox ? gelu_tanh(g) : 0.5f * g * (1.f + erff(g * 0.7071067811865476f)));
  }
}

// x [B, ..., C] · (1 + scale[b, c]) + shift[b, c]; perBatch = elements per sample.
extern "C" __global__ void modulate(float* dst, const float* x, const float* scale, const float* shift, long long n,
                                    long long perBatch, int C) {
  GRID_STRIDE(i, n) {
    const long long b = i / perBatch;
    const int c = (int)(i % C);
    float v = x[i] * (1.f + scale[b * C + c]);
    if (shift) v += shift[b * C + c];
    dst[i] = v;
  }
}

// One warp per row of d: RMS norm (bias null, mode 0) or layer norm (mode 1); w, b optional.
extern "C" __global__ void norm_rows(float* dst, const float* x, const float* w, const float* b, int rows, int d,
                                     float eps, int mode) {
  const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (row >= rows) return;
  const float* xr = x + (long long)row * d;
  float mean = 0.f;
  if (mode == 1) {
    float s = 0.f;
    for (int i = lane; i < d; i += 32) s += xr[i];
    mean = warp_sum(s) / d;
  }
  float ss = 0.f;
  for (int i = lane; i < d; i += 32) {
    const float v = xr[i] - mean;
    ss += v * v;
  }
  const float inv = rsqrtf(warp_sum(ss) / d + eps);
  for (int i = lane; i < d; i += 32) {
    float v = (xr[i] - mean) * inv;
    if (w) v *= w[i];
    if (b) v += b[i];
    dst[(long long)row * d + i] = v;
  }
}

// One warp per row: softmax over the last axis.
extern "C" __global__ void softmax_rows(float* dst, const float* x, int rows, int d) {
  const int row = blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5), lane = threadIdx.x & 31;
  if (row >= rows) return;
  const float* xr = x + (long long)row * d;
  float m = NEG_INF;
  for (int i = lane; i < d; i += 32) m = fmaxf(m, xr[i]);
  m = warp_max(m);
  float s = 0.f;
  for (int i = lane; i < d; i += 32) s += expf(xr[i] - m);
  s = warp_sum(s);
  for (int i = lane; i < d; i += 32) dst[(long long)row * d + i] = expf(xr[i] - m) / s;
}

// Group norm on [N, C, S]: one block per (n, group), mean then variance (two passes).
extern "C" __global__ void __launch_bounds__(256) group_norm(float* dst, const float* x, const float* w, const float* b,
                                                             int C, int S, int G, float eps) {
  __shared__ float red[8];
  const int n = blockIdx.x / G, g = blockIdx.x % G, cpg = C / G;
  const long long base = ((long long)n * C + g * cpg) * S, cnt = (long long)cpg * S;
  auto block_sum = [&](float v) {
    v = warp_sum(v);
    if ((threadIdx.x & 31) == 0) red[threadIdx.x >> 5] = v;
    __syncthreads();
    float t = 0.f;
    for (int i = 0; i < (int)(blockDim.x >> 5); i++) t += red[i];
    __syncthreads();
    return t;
  };
  float s = 0.f;
  for (long long i = threadIdx.x; i < cnt; i += blockDim.x) s += x[base + i];
  const float mean = block_sum(s) / cnt;
  float ss = 0.f;
  for (long long i = threadIdx.x; i < cnt; i += blockDim.x) {
    const float v = x[base + i] - mean;
    ss += v * v;
  }
  const float inv = rsqrtf(block_sum(ss) / cnt + eps);
  for (long long i = threadIdx.x; i < cnt; i += blockDim.x) {
    const int c = g * cpg + (int)(i / S);
    float v = (x[base + i] - mean) * inv;
    if (w) v *= w[c];
    if (b) v += b[c];
    dst[base + i] = v;
  }
}

// Reduce the middle axis of [outer, len, inner]: op 0 sum, 1 mean, 2 max, 3 min.
extern "C" __global__ void reduce_axis(float* dst, const float* x, long long outer, int len, long long inner, int op) {
  GRID_STRIDE(i, outer * inner) {
    const long long o = i / inner, in = i - o * inner;
    const float* p = x + o * len * inner + in;
    float acc = op == 2 ? NEG_INF : (op == 3 ? -NEG_INF : 0.f);
    for (int j = 0; j < len; j++) {
      const float v = p[(long long)j * inner];
      acc = op == 2 ? fmaxf(acc, v) : (op == 3 ? fminf(acc, v) : acc + v);
    }
    dst[i] = op == 1 ? acc / len : acc;
  }
}

// Direct 2-D convolution, one thread per output: x [N,C,H,W], w [O,C/groups,KH,KW].
extern "C" __global__ void conv2d(float* dst, const float* x, const float* w, const float* bias, int N, int C, int H,
                                  int W, int O, int KH, int KW, int OH, int OW, int sh, int sw, int ph, int pw,
                                  int groups) {
  GRID_STRIDE(i, (long long)N * O * OH * OW) {
    long long t = i;
    const int ox = t % OW; t /= OW;
    const int oy = t % OH; t /= OH;
    const int o = t % O;
    const int n = (int)(t / O);
    const int cpg = C / groups, g = o / (O / groups);
    float acc = bias ? bias[o] : 0.f;
    for (int c = 0; c < cpg; c++) {
      const float* xc = x + ((long long)n * C + g * cpg + c) * H * W;
      const float* wc = w + ((long long)o * cpg + c) * KH * KW;
      for (int ky = 0; ky < KH; ky++) {
        const int iy = oy * sh - ph + ky;
        if (iy < 0 || iy >= H) continue;
        for (int kx = 0; kx < KW; kx++) {
          const int ix = ox * sw - pw + kx;
          if (ix >= 0 && ix < W) acc += xc[(long long)iy * W + ix] * wc[ky * KW + kx];
        }
      }
    }
    dst[i] = acc;
  }
}

extern "C" __global__ void upsample_nearest(float* dst, const float* x, long long nc, int H, int W, int fh, int fw) {
  const int OH = H * fh, OW = W * fw;
  GRID_STRIDE(i, nc * OH * OW) {
    const long long p = i / ((long long)OH * OW);
    const int r = (int)(i - p * OH * OW);
    const int oy = r / OW, ox = r - oy * OW;
    dst[i] = x[(p * H + oy / fh) * W + ox / fw];
  }
}

// Swin window partition of [B,N,H,W,D] into [B·nW,N,wh·ww,D] after rolling by (−sh, −sw), or
// the inverse (reverse = 1). One thread per element.
extern "C" __global__ void window(float* dst, const float* src, int B, int N, int H, int W, int D, int wh, int ww,
                                  int sh, int sw, int reverse) {
  const int nwx = W / ww, nw = (H / wh) * nwx, tw = wh * ww;
  GRID_STRIDE(i, (long long)B * N * H * W * D) {
    long long t = i;
    const int d = t % D; t /= D;
    const int tok = t % tw; t /= tw;
    const int n = t % N; t /= N;
    const int widx = t % nw;
    const int b = (int)(t / nw);
    const int wy = widx / nwx, wx = widx - wy * nwx, ty = tok / ww, tx = tok - ty * ww;
    const int r = (wy * wh + ty + sh) % H, c = (wx * ww + tx + sw) % W;
    const long long g = ((((long long)b * N + n) * H + r) * W + c) * D + d;
    if (reverse) dst[g] = src[i];
    else dst[i] = src[g];
  }
}

// Axial RoPE on x [..., H, W, D] (see gpu.Context.RoPE2D). One thread per rotated pair; the
// angle is computed in double like the CPU reference.
extern "C" __global__ void rope2d(float* dst, const float* x, long long tokens, int H, int W, int D, float base) {
  const int half = D / 2, q = half / 2;
  GRID_STRIDE(i, tokens * 2 * q) {
    const long long tk = i / (2 * q);
    const int pr = (int)(i - tk * 2 * q), a = pr / q, j = pr - a * q;
    const int col = (int)(tk % W), row = (int)((tk / W) % H);
    const double ang = (double)(a == 0 ? row : col) * pow((double)base, -(double)j / q);
    const float cs = (float)cos(ang), sn = (float)sin(ang);
    const long long o = tk * D + a * half + j;
    const float x1 = x[o], x2 = x[o + q];
    dst[o] = x1 * cs - x2 * sn;
    dst[o + q] = x1 * sn + x2 * cs;
  }
}

// t [B], freqs [K] → [B, 2K] = [cos(2π t f)…, sin(2π t f)…] (angle in double).
extern "C" __global__ void fourier(float* dst, const float* t, const float* f, int B, int K) {
  GRID_STRIDE(i, (long long)B * K) {
    const int b = (int)(i / K), k = (int)(i - (long long)b * K);
    const double a = 6.283185307179586 * (double)t[b] * (double)f[k];
    dst[(long long)b * 2 * K + k] = (float)cos(a);
    dst[(long long)b * 2 * K + K + k] = (float)sin(a);
  }
}

__device__ __forceinline__ float load_any(const void* p, long long i, int dt) {
  if (dt == 0) return ((const float*)p)[i];
  const uint16_t h = ((const uint16_t*)p)[i];
  if (dt == 2) return bf16_to_f32(h);
  float f;
  asm("cvt.f32.f16 %0, %1;" : "=f"(f) : "h"(h));
  return f;
}

// Casts between f32 (0), f16 (1) and bf16 (2), rounding to nearest even.
extern "C" __global__ void cast(void* dst, const void* src, long long n, int from, int to) {
  GRID_STRIDE(i, n) {
    const float v = load_any(src, i, from);
    if (to == 0) {
      ((float*)dst)[i] = v;
    } else if (to == 2) {
      ((uint16_t*)dst)[i] = (uint16_t)(pack_bf16(v, 0.f) & 0xffff);
    } else {
      uint16_t h;
      asm("cvt.rn.f16.f32 %0, %1;" : "=h"(h) : "f"(v));
      ((uint16_t*)dst)[i] = h;
    }
  }
}

// Plain attention: q [BH, Lq, D], k [BH, Lk, D], v [BH, Lk, Dv], D, Dv ≤ 256. One warp per
// query row with an online softmax (scores never stored).
extern "C" __global__ void attention_rows(float* dst, const float* q, const float* k, const float* v, int BH, int Lq,
                                          int Lk, int D, int Dv, float scale) {
  const long long row = (long long)blockIdx.x * (blockDim.x >> 5) + (threadIdx.x >> 5);
  const int lane = threadIdx.x & 31;
  if (row >= (long long)BH * Lq) return;
  const long long bh = row / Lq;
  float qr[8], acc[8];
#pragma unroll
  for (int e = 0; e < 8; e++) {
    const int d = lane + 32 * e;
    qr[e] = d < D ? q[row * D + d] * scale : 0.f;
    acc[e] = 0.f;
  }
  float m = NEG_INF, l = 0.f;
  const float* kb = k + bh * Lk * D;
  const float* vb = v + bh * Lk * Dv;
  for (int j = 0; j < Lk; j++) {
    float s = 0.f;
#pragma unroll
    for (int e = 0; e < 8; e++) {
      const int d = lane + 32 * e;
      if (d < D) s += qr[e] * kb[(long long)j * D + d];
    }
    s = warp_sum(s);
    const float mn = fmaxf(m, s), al = expf(m - mn), p = expf(s - mn);
    l = l * al + p;
#pragma unroll
    for (int e = 0; e < 8; e++) {
      const int d = lane + 32 * e;
      acc[e] = acc[e] * al + (d < Dv ? p * vb[(long long)j * Dv + d] : 0.f);
    }
    m = mn;
  }
#pragma unroll
  for (int e = 0; e < 8; e++) {
    const int d = lane + 32 * e;
    if (d < Dv) dst[row * Dv + d] = acc[e] / l;
  }
}
