// A windowed level's whole attention half in one kernel:
//   x += attention(rms(x)·scale[b] · Wqkvᵀ) · Woutᵀ
// with the per-head q/k RMS norm, axial RoPE and shifted 64-token windows of attention.cu.
// Run as GemmNorm → Attention → GemmResidual it writes qkv (3C wide) and o (C wide) in f32 to
// global memory and reads them back; here a block owns one window of one sample and keeps
// everything in shared memory and registers: x is gathered once and updated once (the
// update's read of x mostly hits L2, the gather having just fetched it).
//
// 128 threads; warp w owns the window's tokens 16w..16w+15 in every product, so q and the
// attention output never leave registers (an m16n8 accumulator pair is an m16k16 A fragment).
// Per head: the head's 192 Wqkv rows (q, k, v) arrive by cp.async (the next head's rows, or
// Wout, load during this head's attention), each warp projects its 16 rows (q and k, then v:
// 64 accumulators live, not 96), normalises and rotates q (kept as A fragments) and k (to
// shared memory), stores vᵀ, and runs the single-tile softmax of attention.cu. After the last head the out projection
// takes the heads' outputs from registers with Wout in shared memory, and the residual goes
// to each token's own (unshifted) position.
#include "common.cuh"

#define T 64   // tokens per window
#define D 64   // head_dim
#define SD 72  // padded row of k and vᵀ (bf16)

// Shared memory (bytes), for the Go side (attnBlockShared): xs [64][C+8] then ws [192][C+8];
// one head: ks, vt [64][72] alias ws (free after the projection) and Wout [64][72] goes into
// xs; two heads: ws takes the next head's rows during attention, so ks and vt follow it and
// Wout [128][C+8] spans xs and ws.
#define ATTN_BLOCK_SMEM(NH) (2 * (256 * (NH * 64 + 8) + (NH > 1 ? 2 * T * SD : 0)))

struct Tok {
  int r, t;
};

// tok maps token n of window `tile` (row-major over the shifted grid) to its grid position:
// shifted[r][t] = x[(r+sh) mod H][(t+sw) mod W], as attention.cu.
__device__ __forceinline__ Tok tok(int tile, int n, int H, int W, int wh, int ww, int sh, int sw) {
  const int nwx = W / ww, wy = tile / nwx, wx = tile - wy * nwx;
  const int ty = n / ww, tx = n - ty * ww;
  return Tok{(wy * wh + ty + sh) % H, (wx * ww + tx + sw) % W};
}

// qk_rope applies the per-head RMS norm (weight nw) times mul and the axial RoPE to one warp's
// q or k accumulators a[nt] (dims nt·8 + 2tq + {0,1}; [0..1] row g, [2..3] row g+8). The 4
// threads of a row hold all 64 dims; RoPE's pairs (j, j+16) inside each 32-dim half are tiles
// nt and nt+2 of the same thread. The first half rotates by the token's grid row, the second
// by its column.
__device__ __forceinline__ void qk_rope(float (*a)[4], const float* nw, const float2* rope, Tok t0, Tok t1,
                                        int tq, float eps, float mul) {
  float ss0 = 0.f, ss1 = 0.f;
#pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    ss0 += a[nt][0] * a[nt][0] + a[nt][1] * a[nt][1];
    ss1 += a[nt][2] * a[nt][2] + a[nt][3] * a[nt][3];
  }
  ss0 += shfl_xor(ss0, 1);
  ss0 += shfl_xor(ss0, 2);
  ss1 += shfl_xor(ss1, 1);
  ss1 += shfl_xor(ss1, 2);
  const float i0 = rsqrtf(ss0 / (float)D + eps) * mul, i1 = rsqrtf(ss1 / (float)D + eps) * mul;
#pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    const float2 w = *(const float2*)(nw + nt * 8 + 2 * tq);
    a[nt][0] *= i0 * w.x, a[nt][1] *= i0 * w.y;
    a[nt][2] *= i1 * w.x, a[nt][3] *= i1 * w.y;
  }
#pragma unroll
  for (int half = 0; half < 2; half++) {
    const float2* r0 = rope + (half == 0 ? t0.r : t0.t) * 16;
    const float2* r1 = rope + (half == 0 ? t1.r : t1.t) * 16;
#pragma unroll
    for (int nt = 0; nt < 2; nt++) {
      const int j = nt * 8 + 2 * tq;
      const float2 c[4] = {r0[j], r0[j + 1], r1[j], r1[j + 1]};
      float* lo = a[half * 4 + nt];
      float* hi = a[half * 4 + nt + 2];
#pragma unroll
      for (int e = 0; e < 4; e++) {
        const float x1 = lo[e], x2 = hi[e];
        lo[e] = x1 * c[e].x - x2 * c[e].y;
        hi[e] = x1 * c[e].y + x2 * c[e].x;
      }
    }
  }
}

// project: acc [16 × NT·8] = rows m0..m0+15 of xs · rows 0..NT·8 of wᵀ (K = C), times each
// row's 1/rms (rs0 for row g, rs1 for row g+8).
template <int P, int NT>
__device__ __forceinline__ void project(float (*acc)[4], const bf16 (*xs)[P], const bf16 (*w)[P], int m0, int lane,
                                        int C, float rs0, float rs1) {
#pragma unroll
  for (int i = 0; i < NT; i++) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.f;
#pragma unroll 2
  for (int kk = 0; kk < C; kk += 16) {
    uint32_t af[4];
    ldsm_x4(af, &xs[m0 + (lane & 15)][kk + (lane >> 4) * 8]);
#pragma unroll
    for (int nj = 0; nj < NT / 2; nj++) {
      uint32_t r[4];
      ldsm_x4(r, &w[nj * 16 + (lane & 7) + ((lane >> 4) << 3)][kk + ((lane >> 3) & 1) * 8]);
      mma16816(acc[2 * nj], af, r);
      mma16816(acc[2 * nj + 1], af, r + 2);
    }
  }
#pragma unroll
  for (int i = 0; i < NT; i++) acc[i][0] *= rs0, acc[i][1] *= rs0, acc[i][2] *= rs1, acc[i][3] *= rs1;
}

template <int NH>
__device__ __forceinline__ void attn_block(float* x, const bf16* wqkv, const bf16* wout, const float* qn,
                                           const float* kn, const float2* rope, int H, int W, int wh, int ww,
                                           int sh, int sw, const float* scale, int scaleStride, float eps) {
  constexpr int C = NH * D, P = C + 8; // width; padded row (≡ 16 mod 128 bytes: ldmatrix conflict-free)
  extern __shared__ __attribute__((aligned(16))) unsigned char smem_raw[];
  __shared__ float rs[T]; // each token's 1/rms(x)
  bf16(*xs)[P] = reinterpret_cast<bf16(*)[P]>(smem_raw); // [64][P] bf16(x·scale); at the end Wout [C][P]
  bf16(*ws)[P] = xs + T;                                  // [192][P] the head's q, k, v rows of Wqkv
  bf16(*ks)[SD] = reinterpret_cast<bf16(*)[SD]>(NH == 1 ? (void*)ws : (void*)(ws + 3 * D)); // [64][SD]
  bf16(*vt)[SD] = ks + T;                                                                    // [64][SD] vᵀ
  bf16(*wo)[P] = xs;

  const int tile = blockIdx.x, b = blockIdx.z;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, tq = lane & 3;
  const int m0 = warp * 16;
  const float qmul = 0.125f * 1.4426950408889634f; // 1/sqrt(64), and exp → exp2

  auto load_qkv = [&](int head) { // row s·64 + d of ws ← Wqkv row s·C + head·64 + d
#pragma unroll 4
    for (int i = tid; i < 3 * D * C / 8; i += 128) {
      const int r = i / (C / 8), c8 = i - r * (C / 8);
      cp_async16(&ws[r][c8 * 8], wqkv + (size_t)((r >> 6) * C + head * D + (r & 63)) * C + c8 * 8);
    }
    cp_async_commit();
  };
  auto load_out = [&]() {
#pragma unroll 4
    for (int i = tid; i < C * C / 8; i += 128) {
      const int r = i / (C / 8), c8 = i - r * (C / 8);
      cp_async16(&wo[r][c8 * 8], wout + (size_t)r * C + c8 * 8);
    }
    cp_async_commit();
  };
  load_qkv(0);

  // Gather and normalise the warp's own 16 rows: C/4 lanes per row, a float4 each (whole
  // rows per instruction). Like GemmNorm, xs holds bf16(x·scale) and 1/rms scales the products.
  {
    constexpr int F4 = C / 4, RPI = 32 / F4; // float4 per row, rows per instruction
    const int f = lane % F4, sub = lane / F4;
    const float4 sc = *(const float4*)(scale + (size_t)b * scaleStride + f * 4);
    float4 v[16 / RPI];
#pragma unroll
    for (int i = 0; i < 16 / RPI; i++) {
      const Tok tk = tok(tile, m0 + i * RPI + sub, H, W, wh, ww, sh, sw);
      v[i] = *(const float4*)(x + ((size_t)(b * H + tk.r) * W + tk.t) * C + f * 4);
    }
#pragma unroll
    for (int i = 0; i < 16 / RPI; i++) {
      const int n = m0 + i * RPI + sub;
      float ss = v[i].x * v[i].x + v[i].y * v[i].y + v[i].z * v[i].z + v[i].w * v[i].w;
#pragma unroll
      for (int m = F4 / 2; m > 0; m >>= 1) ss += shfl_xor(ss, m);
      if (f == 0) rs[n] = rsqrtf(ss / (float)C + eps);
      *(uint2*)&xs[n][f * 4] = uint2{pack_bf16(v[i].x * sc.x, v[i].y * sc.y), pack_bf16(v[i].z * sc.z, v[i].w * sc.w)};
    }
  }
  const Tok t0 = tok(tile, m0 + g, H, W, wh, ww, sh, sw), t1 = tok(tile, m0 + g + 8, H, W, wh, ww, sh, sw);
  asm volatile("bar.warp.sync 0xffffffff;" ::: "memory"); // __syncwarp: rs rows are the warp's own
  const float rs0 = rs[m0 + g], rs1 = rs[m0 + g + 8];

  uint32_t of[NH][4][4]; // each head's output (o / l) as A fragments of the out projection
#pragma unroll
  for (int h = 0; h < NH; h++) {
    cp_async_wait<0>();
    __syncthreads(); // the head's Wqkv rows landed; the previous head's ks, vt are free

    // q, k [16 × 128] = xs[m0..m0+16) · ws[0..128)ᵀ, then v in a second pass over xs
    float acc[16][4];
    project<P, 16>(acc, xs, ws, m0, lane, C, rs0, rs1);
    qk_rope(acc, qn, rope, t0, t1, tq, eps, qmul);
    qk_rope(acc + 8, kn, rope, t0, t1, tq, eps, 1.f);
    uint32_t qf[4][4];
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      qf[kk][0] = pack_bf16(acc[2 * kk][0], acc[2 * kk][1]);
      qf[kk][1] = pack_bf16(acc[2 * kk][2], acc[2 * kk][3]);
      qf[kk][2] = pack_bf16(acc[2 * kk + 1][0], acc[2 * kk + 1][1]);
      qf[kk][3] = pack_bf16(acc[2 * kk + 1][2], acc[2 * kk + 1][3]);
    }
    uint32_t kf[8][2];
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
      kf[nt][0] = pack_bf16(acc[8 + nt][0], acc[8 + nt][1]);
      kf[nt][1] = pack_bf16(acc[8 + nt][2], acc[8 + nt][3]);
    }
    float va[8][4];
    project<P, 8>(va, xs, ws + 2 * D, m0, lane, C, rs0, rs1);
    __syncthreads(); // every warp is done with ws (and, for the last head, xs)
    if (h + 1 < NH) load_qkv(h + 1);
    else load_out();
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
      const int c = nt * 8 + 2 * tq;
      *(uint32_t*)&ks[m0 + g][c] = kf[nt][0];
      *(uint32_t*)&ks[m0 + g + 8][c] = kf[nt][1];
      const uint32_t v0 = pack_bf16(va[nt][0], va[nt][2]); // (d c, rows g, g+8)
      const uint32_t v1 = pack_bf16(va[nt][1], va[nt][3]); // (d c+1, rows g, g+8)
      vt[c][m0 + g] = (bf16)(v0 & 0xffff);
      vt[c][m0 + g + 8] = (bf16)(v0 >> 16);
      vt[c + 1][m0 + g] = (bf16)(v1 & 0xffff);
      vt[c + 1][m0 + g + 8] = (bf16)(v1 >> 16);
    }
    __syncthreads(); // ks, vt complete

    // s = q·kᵀ (already scaled by 1/8·log2 e), one-pass softmax, o = p·v
    float s[8][4];
#pragma unroll
    for (int i = 0; i < 8; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < 4; kk++)
#pragma unroll
      for (int nj = 0; nj < 4; nj++) {
        uint32_t r[4];
        ldsm_x4(r, &ks[nj * 16 + (lane & 7) + ((lane >> 4) << 3)][kk * 16 + ((lane >> 3) & 1) * 8]);
        mma16816(s[2 * nj], qf[kk], r);
        mma16816(s[2 * nj + 1], qf[kk], r + 2);
      }
    float mx[2] = {NEG_INF, NEG_INF}, l[2] = {0.f, 0.f};
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
      mx[0] = fmaxf(mx[0], fmaxf(s[nt][0], s[nt][1]));
      mx[1] = fmaxf(mx[1], fmaxf(s[nt][2], s[nt][3]));
    }
#pragma unroll
    for (int i = 0; i < 2; i++) {
      mx[i] = fmaxf(mx[i], shfl_xor(mx[i], 1));
      mx[i] = fmaxf(mx[i], shfl_xor(mx[i], 2));
    }
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
      s[nt][0] = fast_exp2(s[nt][0] - mx[0]);
      s[nt][1] = fast_exp2(s[nt][1] - mx[0]);
      s[nt][2] = fast_exp2(s[nt][2] - mx[1]);
      s[nt][3] = fast_exp2(s[nt][3] - mx[1]);
      l[0] += s[nt][0] + s[nt][1];
      l[1] += s[nt][2] + s[nt][3];
    }
    float o[8][4];
#pragma unroll
    for (int i = 0; i < 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      uint32_t pa[4];
      pa[0] = pack_bf16(s[2 * kk][0], s[2 * kk][1]);
      pa[1] = pack_bf16(s[2 * kk][2], s[2 * kk][3]);
      pa[2] = pack_bf16(s[2 * kk + 1][0], s[2 * kk + 1][1]);
      pa[3] = pack_bf16(s[2 * kk + 1][2], s[2 * kk + 1][3]);
#pragma unroll
      for (int nj = 0; nj < 4; nj++) {
        uint32_t r[4];
        ldsm_x4(r, &vt[nj * 16 + (lane & 7) + ((lane >> 4) << 3)][kk * 16 + ((lane >> 3) & 1) * 8]);
        mma16816(o[2 * nj], pa, r);
        mma16816(o[2 * nj + 1], pa, r + 2);
      }
    }
#pragma unroll
    for (int i = 0; i < 2; i++) {
      l[i] += shfl_xor(l[i], 1);
      l[i] += shfl_xor(l[i], 2);
      l[i] = 1.f / l[i];
    }
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      of[h][kk][0] = pack_bf16(o[2 * kk][0] * l[0], o[2 * kk][1] * l[0]);
      of[h][kk][1] = pack_bf16(o[2 * kk][2] * l[1], o[2 * kk][3] * l[1]);
      of[h][kk][2] = pack_bf16(o[2 * kk + 1][0] * l[0], o[2 * kk + 1][1] * l[0]);
      of[h][kk][3] = pack_bf16(o[2 * kk + 1][2] * l[1], o[2 * kk + 1][3] * l[1]);
    }
  }

  cp_async_wait<0>();
  __syncthreads(); // Wout landed
  // out [16 × C] = o · Woutᵀ, K = C (head h's dims are columns h·64..h·64+63 of Wout)
  float y[C / 8][4];
#pragma unroll
  for (int i = 0; i < C / 8; i++) y[i][0] = y[i][1] = y[i][2] = y[i][3] = 0.f;
#pragma unroll
  for (int h = 0; h < NH; h++)
#pragma unroll
    for (int kk = 0; kk < 4; kk++)
#pragma unroll
      for (int nj = 0; nj < C / 16; nj++) {
        uint32_t r[4];
        ldsm_x4(r, &wo[nj * 16 + (lane & 7) + ((lane >> 4) << 3)][h * D + kk * 16 + ((lane >> 3) & 1) * 8]);
        mma16816(y[2 * nj], of[h][kk], r);
        mma16816(y[2 * nj + 1], of[h][kk], r + 2);
      }
  // residual at each token's own position (windows partition the grid: no other block writes it)
#pragma unroll
  for (int half = 0; half < 2; half++) {
    const Tok tk = half == 0 ? t0 : t1;
    float* dst = x + ((size_t)(b * H + tk.r) * W + tk.t) * C + 2 * tq;
#pragma unroll
    for (int nt = 0; nt < C / 8; nt++) {
      float2* p = (float2*)(dst + nt * 8);
      const float2 v = *p;
      *p = float2{v.x + y[nt][2 * half], v.y + y[nt][2 * half + 1]};
    }
  }
}

// x [B,H,W,C] += the attention half of a layer, C = 64 (one head) or 128 (two). wqkv [3C][C]
// and wout [C][C] bf16; qn, kn [64]; rope (cos, sin) [max(H,W)][16]; windows wh × ww (64
// tokens) shifted by (sh, sw); scale rows scale + b·scaleStride. Grid: x = window (row-major
// over the shifted grid), z = sample; 128 threads; ATTN_BLOCK_SMEM(C/64) bytes dynamic.
#define ATTN_BLOCK_KERNEL(C)                                                                                    \
  extern "C" __global__ void __launch_bounds__(128, 256 / C) attn_block_c##C(                                        \
      float* x, const bf16* wqkv, const bf16* wout, const float* qn, const float* kn, const float2* rope,     \
      int H, int W, int wh, int ww, int sh, int sw, const float* scale, int scaleStride, float eps) {         \
    attn_block<C / 64>(x, wqkv, wout, qn, kn, rope, H, W, wh, ww, sh, sw, scale, scaleStride, eps);            \
  }

ATTN_BLOCK_KERNEL(64)
ATTN_BLOCK_KERNEL(128)
