// The transformer's feed-forward half in one kernel: x += GEGLU((rms(x)·scale[b])·Wuᵀ)·Wdᵀ.
// Run as two GEMMs it writes the hidden activations (2C wide, f32) to global memory and reads
// them back, which at batch 16 costs more than both GEMMs' arithmetic. Here a block owns 64
// rows: it normalises them once into shared memory, then walks the hidden units in chunks of
// 32 (the chunk's up rows and down columns arrive by cp.async while the previous chunk
// computes), keeps the chunk's GEGLU output in shared memory and accumulates the down
// projection in registers; x is read once and written once.
//
// With few row tiles (small batches, coarse levels) the hidden units are also split over
// gridDim.y blocks, whose partial products sum_partials adds up. Width 64 has its own
// persistent kernel (mlp_c64, below).
//
// Wu [4C][C] bf16 has its GEGLU rows interleaved (a_0, g_0, a_1, g_1, …; InterleaveGEGLU),
// Wd [C][2C] bf16. 8 warps: 2 (rows) × 4 (columns) for both products.
#include "common.cuh"

#define MBM 64      // rows per block
#define MHC 32      // hidden units per chunk (64 interleaved up rows)
#define MTHREADS 256

template <int C>
struct MlpSmem {
  bf16 xs[MBM][C + 8];           // normalised rows (pitch ≡ 16 mod 32 bytes: ldmatrix conflict-free)
  bf16 wu[2][2 * MHC][C + 8];    // up rows of the chunk, double-buffered
  bf16 wd[2][C][MHC + 8];        // down columns of the chunk
  bf16 hs[MBM][MHC + 8];         // the chunk's GEGLU output
};

template <int C>
__device__ __forceinline__ void mlp_body(float* x, const bf16* wu, const bf16* wd, int M, const float* scale,
                                         int scaleStride, int rowsPerBatch, float eps, float* ws) {
  extern __shared__ __attribute__((aligned(16))) unsigned char smem_raw[];
  MlpSmem<C>& s = *reinterpret_cast<MlpSmem<C>*>(smem_raw);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, tq = lane & 3;
  const int m0 = blockIdx.x * MBM;
  const int wm = (warp >> 2) * 32; // this warp's 32 rows
  constexpr int NCH = 2 * C / MHC; // chunks of hidden units
  constexpr int DN = C / 4;        // down-projection columns per warp
  constexpr int DT = DN / 8;       // and its n8 tiles

  auto load_chunk = [&](int j, int buf) {
    const bf16* su = wu + (size_t)j * 2 * MHC * C;
#pragma unroll 4
    for (int i = tid; i < 2 * MHC * C / 8; i += MTHREADS) {
      const int r = i / (C / 8), c8 = i - r * (C / 8);
      cp_async16(&s.wu[buf][r][c8 * 8], su + (size_t)r * C + c8 * 8);
    }
#pragma unroll 4
    for (int i = tid; i < C * MHC / 8; i += MTHREADS) {
      const int r = i / (MHC / 8), c8 = i - r * (MHC / 8);
      cp_async16(&s.wd[buf][r][c8 * 8], wd + (size_t)r * 2 * C + j * MHC + c8 * 8);
    }
    cp_async_commit();
  };
  // Split (gridDim.y = S > 1, few row tiles): block z walks chunks [jb, je) and writes its
  // partial sum to ws[z]; sum_partials adds the S partials to x in z order (deterministic).
  const int S = gridDim.y, z = blockIdx.y;
  const int jb = NCH * z / S, je = NCH * (z + 1) / S;
  load_chunk(jb, 0);

  // Normalise: 4 threads per row, each a float4 of every 16 columns (64 contiguous bytes per
  // row per step). The second pass re-reads x from L1 rather than holding C/4 floats.
  {
    const int row = tid >> 2, part = tid & 3, m = m0 + row;
    const bool ok = m < M;
    const float* xr = x + (size_t)(ok ? m : 0) * C;
    float ss = 0.f;
    if (ok) {
#pragma unroll 4
      for (int i = 0; i < C / 16; i++) {
        const float4 f = *(const float4*)(xr + 4 * (part + 4 * i));
        ss += f.x * f.x + f.y * f.y + f.z * f.z + f.w * f.w;
      }
    }
    ss += shfl_xor(ss, 1);
    ss += shfl_xor(ss, 2);
    const float r = rsqrtf(ss / (float)C + eps);
    const float* sc = scale + (ok ? (m / rowsPerBatch) * scaleStride : 0);
#pragma unroll 4
    for (int i = 0; i < C / 16; i++) {
      const int col = 4 * (part + 4 * i);
      float4 f = ok ? *(const float4*)(xr + col) : float4{0.f, 0.f, 0.f, 0.f};
      const float4 k = *(const float4*)(sc + col);
      *(uint2*)&s.xs[row][col] = uint2{pack_bf16(f.x * r * k.x, f.y * r * k.y), pack_bf16(f.z * r * k.z, f.w * r * k.w)};
    }
  }

  float acc[2][DT][4];
#pragma unroll
  for (int mi = 0; mi < 2; mi++)
#pragma unroll
    for (int ni = 0; ni < DT; ni++) acc[mi][ni][0] = acc[mi][ni][1] = acc[mi][ni][2] = acc[mi][ni][3] = 0.f;

  const int un = (warp & 3) * 16; // this warp's 16 of the chunk's 64 up rows
  const int dn = (warp & 3) * DN; // and its columns of the output

  for (int j = jb; j < je; j++) {
    const int buf = (j - jb) & 1;
    cp_async_wait<0>();
    __syncthreads(); // chunk j landed for every thread; chunk j-1's buffers and hs are free
    if (j + 1 < je) load_chunk(j + 1, buf ^ 1);

    // up: [64 × 64] = xs · wu[buf]ᵀ, K = C
    float u[2][2][4];
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
      for (int ni = 0; ni < 2; ni++) u[mi][ni][0] = u[mi][ni][1] = u[mi][ni][2] = u[mi][ni][3] = 0.f;
#pragma unroll 4
    for (int kk = 0; kk < C; kk += 16) {
      uint32_t af[2][4], r[4];
#pragma unroll
      for (int mi = 0; mi < 2; mi++) ldsm_x4(af[mi], &s.xs[wm + mi * 16 + (lane & 15)][kk + (lane >> 4) * 8]);
      ldsm_x4(r, &s.wu[buf][un + (lane & 7) + ((lane >> 4) << 3)][kk + ((lane >> 3) & 1) * 8]);
      const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
#pragma unroll
      for (int mi = 0; mi < 2; mi++) {
        mma16816(u[mi][0], af[mi], b0);
        mma16816(u[mi][1], af[mi], b1);
      }
    }
    // GEGLU: columns (2h, 2h+1) are (value, gate) of hidden unit h, both in this thread
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
      for (int ni = 0; ni < 2; ni++)
#pragma unroll
        for (int half = 0; half < 2; half++) {
          const int row = wm + mi * 16 + g + half * 8, h = (un + ni * 8) / 2 + tq;
          const float v = u[mi][ni][2 * half] * gelu_tanh(u[mi][ni][2 * half + 1]);
          s.hs[row][h] = (bf16)(pack_bf16(v, 0.f) & 0xffff);
        }
    __syncthreads();

    // down: acc [64 × C] += hs · wd[buf]ᵀ, K = 32
#pragma unroll
    for (int kk = 0; kk < MHC; kk += 16) {
      uint32_t af[2][4];
#pragma unroll
      for (int mi = 0; mi < 2; mi++) ldsm_x4(af[mi], &s.hs[wm + mi * 16 + (lane & 15)][kk + (lane >> 4) * 8]);
#pragma unroll
      for (int nj = 0; nj < DT / 2; nj++) {
        uint32_t r[4];
        ldsm_x4(r, &s.wd[buf][dn + nj * 16 + (lane & 7) + ((lane >> 4) << 3)][kk + ((lane >> 3) & 1) * 8]);
        const uint32_t b0[2] = {r[0], r[1]}, b1[2] = {r[2], r[3]};
#pragma unroll
        for (int mi = 0; mi < 2; mi++) {
          mma16816(acc[mi][2 * nj], af[mi], b0);
          mma16816(acc[mi][2 * nj + 1], af[mi], b1);
        }
      }
    }
  }

  // residual: x += acc (each thread owns its elements; the block owns its rows), or the
  // partial sum to ws[z]
  float* out = S > 1 ? ws + (size_t)z * M * C : x;
#pragma unroll
  for (int mi = 0; mi < 2; mi++)
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const int m = m0 + wm + mi * 16 + g + half * 8;
      if (m >= M) continue;
#pragma unroll
      for (int ni = 0; ni < DT; ni++) {
        float2* dst = (float2*)(out + (size_t)m * C + dn + ni * 8 + tq * 2);
        const float2 o = S > 1 ? float2{0.f, 0.f} : *dst;
        *dst = float2{o.x + acc[mi][ni][2 * half], o.y + acc[mi][ni][2 * half + 1]};
      }
    }
}

#define MLP_KERNEL(C)                                                                                        \
  extern "C" __global__ void __launch_bounds__(MTHREADS) mlp_c##C(float* x, const bf16* wu, const bf16* wd, \
                                                                  int M, const float* scale, int scaleStride, \
                                                                  int rowsPerBatch, float eps, float* ws) { \
    mlp_body<C>(x, wu, wd, M, scale, scaleStride, rowsPerBatch, eps, ws);                                    \
  }

MLP_KERNEL(128)
MLP_KERNEL(256)
MLP_KERNEL(384)

// Width 64 (the finest level, tens of thousands of rows): the layer's weights (48 KB) stay in
// shared memory and each warp walks 16-row tiles on its own, tiles t = blockIdx.x·warps + warp
// + k·gridDim.x·warps (a persistent grid, MLP64_BLOCKS_PER_SM blocks an SM): no barrier after
// the weights land. A warp stages its next tile's x rows in shared memory by cp.async while it
// computes the current one, keeps the tile's x (the residual) and its normalised rows (the up
// product's A fragments) in registers, and walks the 128 hidden units in chunks of 16: the
// chunk's 32 up rows give 16 × 16 GEGLU outputs that are, as packed bf16 pairs, the down
// product's A fragment (nothing goes through shared memory). For that the up rows sit in
// shared memory permuted: row 8·nt + 2·tq + e of chunk j holds interleaved row
// 32j + 2σ + e, σ = 8·(nt/2) + 2·tq + nt%2, so that accumulator tile nt of thread tq holds
// hidden unit σ, and tiles (0,1), (2,3) are k-columns (2tq, 2tq+1), (8+2tq, 9+2tq).
// Any blockDim.x that is a multiple of 32 up to 256; dynamic shared memory MLP64_SMEM(warps).
#define M64P 72   // bf16 pitch of the up rows (≡ 16 mod 128 bytes: ldmatrix conflict-free)
#define M64PD 136 // bf16 pitch of the down rows
#define M64PX 68  // f32 pitch of the staged x rows
#define MLP64_SMEM(W) (2 * (256 * M64P + 64 * M64PD) + (W) * 16 * M64PX * 4)

extern "C" __global__ void __launch_bounds__(256, 2) mlp_c64(float* x, const bf16* wu, const bf16* wd, int M,
                                                             const float* scale, int scaleStride,
                                                             int rowsPerBatch, float eps, float* ws) {
  extern __shared__ __attribute__((aligned(16))) unsigned char smem64[];
  bf16(*su)[M64P] = reinterpret_cast<bf16(*)[M64P]>(smem64);
  bf16(*sd)[M64PD] = reinterpret_cast<bf16(*)[M64PD]>(smem64 + 2 * 256 * M64P);
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, nw = blockDim.x >> 5;
  const int g = lane >> 2, tq = lane & 3;
  float(*xb)[M64PX] = reinterpret_cast<float(*)[M64PX]>(smem64 + 2 * (256 * M64P + 64 * M64PD)) + warp * 16;

  for (int i = tid; i < 256 * 8; i += blockDim.x) {
    const int r = i >> 3, c8 = i & 7, nt = (r >> 3) & 3, w = r & 7;
    const int src = (r & ~31) + 2 * ((nt >> 1) * 8 + (w & 6) + (nt & 1)) + (w & 1);
    cp_async16(&su[r][c8 * 8], wu + (size_t)src * 64 + c8 * 8);
  }
  for (int i = tid; i < 64 * 16; i += blockDim.x) {
    const int r = i >> 4, c8 = i & 15;
    cp_async16(&sd[r][c8 * 8], wd + (size_t)r * 128 + c8 * 8);
  }
  cp_async_commit();

  const int tiles = (M + 15) >> 4, step = gridDim.x * nw;
  auto load_x = [&](int t) { // the warp's 16 rows (the last row repeated past M), 16 B a lane
    if (t < tiles) {
#pragma unroll
      for (int j = 0; j < 8; j++) {
        const int r = (lane >> 4) + 2 * j, c = lane & 15, m = min(t * 16 + r, M - 1);
        cp_async16(&xb[r][c * 4], x + (size_t)m * 64 + c * 4);
      }
    }
    cp_async_commit();
  };
  int t = blockIdx.x * nw + warp;
  load_x(t);
  cp_async_wait<0>();
  __syncthreads(); // the weights landed for every thread

  for (; t < tiles; t += step) {
    cp_async_wait<0>();
    asm volatile("bar.warp.sync 0xffffffff;" ::: "memory");
    // x in the accumulator layout: xr[nt] = rows (g, g+8), columns 8nt + 2tq + {0, 1}
    float xr[8][4];
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
      const float2 a = *(const float2*)&xb[g][nt * 8 + 2 * tq], b = *(const float2*)&xb[g + 8][nt * 8 + 2 * tq];
      xr[nt][0] = a.x, xr[nt][1] = a.y, xr[nt][2] = b.x, xr[nt][3] = b.y;
    }
    asm volatile("bar.warp.sync 0xffffffff;" ::: "memory"); // every lane has read the staging rows
    load_x(t + step);

    const int m0 = t * 16 + g, m1 = m0 + 8;
    float ss0 = 0.f, ss1 = 0.f;
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
      ss0 += xr[nt][0] * xr[nt][0] + xr[nt][1] * xr[nt][1];
      ss1 += xr[nt][2] * xr[nt][2] + xr[nt][3] * xr[nt][3];
    }
    ss0 += shfl_xor(ss0, 1);
    ss0 += shfl_xor(ss0, 2);
    ss1 += shfl_xor(ss1, 1);
    ss1 += shfl_xor(ss1, 2);
    const float r0 = rsqrtf(ss0 / 64.f + eps), r1 = rsqrtf(ss1 / 64.f + eps);
    const float* sc0 = scale + (size_t)(min(m0, M - 1) / rowsPerBatch) * scaleStride + 2 * tq;
    const float* sc1 = scale + (size_t)(min(m1, M - 1) / rowsPerBatch) * scaleStride + 2 * tq;
    uint32_t af[4][4]; // rms(x)·scale as the up product's A fragments, k-tile kk
#pragma unroll
    for (int kk = 0; kk < 4; kk++)
#pragma unroll
      for (int hi = 0; hi < 2; hi++) {
        const int nt = 2 * kk + hi;
        const float2 k0 = *(const float2*)(sc0 + nt * 8), k1 = *(const float2*)(sc1 + nt * 8);
        af[kk][2 * hi] = pack_bf16(xr[nt][0] * r0 * k0.x, xr[nt][1] * r0 * k0.y);
        af[kk][2 * hi + 1] = pack_bf16(xr[nt][2] * r1 * k1.x, xr[nt][3] * r1 * k1.y);
      }

    float acc[8][4];
#pragma unroll
    for (int nt = 0; nt < 8; nt++) acc[nt][0] = acc[nt][1] = acc[nt][2] = acc[nt][3] = 0.f;
#pragma unroll 2
    for (int j = 0; j < 8; j++) { // hidden units 16j..16j+15
      float u[4][4];
#pragma unroll
      for (int nt = 0; nt < 4; nt++) u[nt][0] = u[nt][1] = u[nt][2] = u[nt][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < 4; kk++)
#pragma unroll
        for (int nj = 0; nj < 2; nj++) {
          uint32_t r[4];
          ldsm_x4(r, &su[j * 32 + nj * 16 + (lane & 7) + ((lane >> 4) << 3)][kk * 16 + ((lane >> 3) & 1) * 8]);
          mma16816(u[2 * nj], af[kk], r);
          mma16816(u[2 * nj + 1], af[kk], r + 2);
        }
      // GEGLU: columns (2tq, 2tq+1) of tile nt are (value, gate) of hidden unit σ(nt, tq)
      float v[4][2];
#pragma unroll
      for (int nt = 0; nt < 4; nt++) {
        v[nt][0] = u[nt][0] * gelu_tanh(u[nt][1]);
        v[nt][1] = u[nt][2] * gelu_tanh(u[nt][3]);
      }
      const uint32_t hf[4] = {pack_bf16(v[0][0], v[1][0]), pack_bf16(v[0][1], v[1][1]), pack_bf16(v[2][0], v[3][0]),
                              pack_bf16(v[2][1], v[3][1])};
#pragma unroll
      for (int nj = 0; nj < 4; nj++) {
        uint32_t r[4];
        ldsm_x4(r, &sd[nj * 16 + (lane & 7) + ((lane >> 4) << 3)][j * 16 + ((lane >> 3) & 1) * 8]);
        mma16816(acc[2 * nj], hf, r);
        mma16816(acc[2 * nj + 1], hf, r + 2);
      }
    }
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const int m = half ? m1 : m0;
      if (m >= M) continue;
      float* dst = x + (size_t)m * 64 + 2 * tq;
#pragma unroll
      for (int nt = 0; nt < 8; nt++)
        *(float2*)(dst + nt * 8) = float2{xr[nt][2 * half] + acc[nt][2 * half], xr[nt][2 * half + 1] + acc[nt][2 * half + 1]};
    }
  }
  cp_async_wait<0>(); // nothing in flight at exit
}
