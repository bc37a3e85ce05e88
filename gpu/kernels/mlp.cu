// The transformer's feed-forward half in one kernel: x += GEGLU((rms(x)·scale[b])·Wuᵀ)·Wdᵀ.
// Run as two GEMMs it writes the hidden activations (2C wide, f32) to global memory and reads
// them back, which at batch 16 costs more than both GEMMs' arithmetic. Here a block owns 64
// rows: it normalises them once into shared memory, then walks the hidden units in chunks of
// 32 (the chunk's up rows and down columns arrive by cp.async while the previous chunk
// computes), keeps the chunk's GEGLU output in shared memory and accumulates the down
// projection in registers; x is read once and written once.
//
// With few row tiles (small batches, coarse levels) the hidden units are also split over
// gridDim.y blocks, whose partial products mlp_reduce adds up.
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
  // partial sum to ws[z]; mlp_reduce adds the S partials to x in z order (deterministic).
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

MLP_KERNEL(64)
MLP_KERNEL(128)
MLP_KERNEL(256)
MLP_KERNEL(384)

// x += Σ_z ws[z] over n4 float4s, z in order: the split kernel's partial sums.
extern "C" __global__ void __launch_bounds__(256) mlp_reduce(float* x, const float* ws, long long n4, int S) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n4) return;
  float4 a = ((const float4*)x)[i];
  for (int z = 0; z < S; z++) {
    const float4 p = ((const float4*)ws)[z * n4 + i];
    a.x += p.x, a.y += p.y, a.z += p.z, a.w += p.w;
  }
  ((float4*)x)[i] = a;
}
