// Small kernels around the transformer: the noise-level mapping network with the EDM
// scalings, Philox normal noise, and elementwise helpers for samplers.
#include "common.cuh"

// The σ network (Fourier features → Linear → SiLU → Linear) and the adaptive-norm projection
// run on the batch's few rows (1-16 samples, or every σ of a sampler job at once) against
// hundreds of KB of weights: a GEMM tile would be mostly empty, and one block per sample reads
// every weight through one SM. Here one warp owns an output column and reads its weight row
// once for up to DR rows of input staged in shared memory; blocks spread the columns (x) and
// the rows in groups of DR (y).
#define DR 16 // input rows per block
#define DK 512 // widest input row
#define DWARPS 8

__device__ __forceinline__ void wload(const float* w, float* v) {
  const float4 a = *(const float4*)w, b = *(const float4*)(w + 4);
  v[0] = a.x, v[1] = a.y, v[2] = a.z, v[3] = a.w, v[4] = b.x, v[5] = b.y, v[6] = b.z, v[7] = b.w;
}
__device__ __forceinline__ void wload(const bf16* w, float* v) {
  const uint4 u = *(const uint4*)w;
  const uint32_t p[4] = {u.x, u.y, u.z, u.w};
#pragma unroll
  for (int i = 0; i < 4; i++) v[2 * i] = __uint_as_float(p[i] << 16), v[2 * i + 1] = __uint_as_float(p[i] & 0xffff0000u);
}

// dense_cols: out[b][n] = act(Σ_k xs[b][k]·w[n][k] + bias[n]) for the block's rows (staged in
// xs) and the block's columns. K is a multiple of 8.
template <typename TW>
__device__ __forceinline__ void dense_cols(const float (*xs)[DK], int rows, const TW* w, const float* bias, float* out,
                                           int ldo, int K, int N, bool silu) {
  const int warp = threadIdx.x >> 5, lane = threadIdx.x & 31;
  for (int n = blockIdx.x * DWARPS + warp; n < N; n += gridDim.x * DWARPS) {
    float acc[DR];
#pragma unroll
    for (int b = 0; b < DR; b++) acc[b] = 0.f;
    for (int k = lane * 8; k < K; k += 256) {
      float wv[8];
      wload(w + (size_t)n * K + k, wv);
#pragma unroll
      for (int b = 0; b < DR; b++) {
        if (b < rows) {
          const float4 x0 = *(const float4*)&xs[b][k], x1 = *(const float4*)&xs[b][k + 4];
          acc[b] += wv[0] * x0.x + wv[1] * x0.y + wv[2] * x0.z + wv[3] * x0.w + wv[4] * x1.x + wv[5] * x1.y +
                    wv[6] * x1.z + wv[7] * x1.w;
        }
      }
    }
#pragma unroll
    for (int b = 0; b < DR; b++) {
      if (b >= rows) break;
      const float v = warp_sum(acc[b]);
      if (lane == 0) {
        const float y = v + (bias ? bias[n] : 0.f);
        out[(size_t)b * ldo + n] = silu ? y / (1.f + expf(-y)) : y;
      }
    }
  }
}

// mapping_in: for the samples' σ [B], scal [B,4] = (c_in, c_skip, c_out, c_noise) (written by
// the blocks with x = 0) and h [B,width] = SiLU(w1·fourier(c_noise) + b1) with
// fourier = (cos, sin)(2π·c_noise·f). The second layer is dense_rows_f32.
extern "C" __global__ void __launch_bounds__(256) mapping_in(const float* sigma, const float* fourier, const float* w1,
                                                             const float* b1, float* h, float* scal, int B,
                                                             int width, float sigmaData) {
  __shared__ __attribute__((aligned(16))) float xs[DR][DK];
  const int b0 = blockIdx.y * DR, rows = min(DR, B - b0), half = width >> 1;
  const float sd2 = sigmaData * sigmaData;
  for (int i = threadIdx.x; i < rows * half; i += blockDim.x) {
    const int b = i / half, j = i - b * half;
    const float f = 6.283185307179586f * (logf(sigma[b0 + b]) * 0.25f) * fourier[j];
    xs[b][j] = cosf(f);
    xs[b][j + half] = sinf(f);
  }
  if (blockIdx.x == 0 && threadIdx.x < rows) {
    const int b = b0 + threadIdx.x;
    const float s = sigma[b], den = s * s + sd2;
    scal[b * 4] = rsqrtf(den);
    scal[b * 4 + 1] = sd2 / den;
    scal[b * 4 + 2] = s * sigmaData * rsqrtf(den);
    scal[b * 4 + 3] = logf(s) * 0.25f;
  }
  __syncthreads();
  dense_cols<float>(xs, rows, w1, b1, h + (size_t)b0 * width, width, width, width, true);
}

// dense_rows_f32 / _bf16: out [B,N] = act(in [B,K]·wᵀ + bias) (act 1: SiLU), w [N][K] f32 or
// bf16, bias may be null.
template <typename TW>
__device__ __forceinline__ void dense_rows(const float* in, const TW* w, const float* bias, float* out, int B, int K,
                                           int N, int act) {
  __shared__ __attribute__((aligned(16))) float xs[DR][DK];
  const int b0 = blockIdx.y * DR, rows = min(DR, B - b0);
  for (int i = threadIdx.x; i < rows * K; i += blockDim.x) {
    const int b = i / K;
    xs[b][i - b * K] = in[(size_t)b0 * K + i];
  }
  __syncthreads();
  dense_cols<TW>(xs, rows, w, bias, out + (size_t)b0 * N, N, K, N, act == 1);
}

extern "C" __global__ void __launch_bounds__(256) dense_rows_f32(const float* in, const float* w, const float* bias,
                                                                 float* out, int B, int K, int N, int act) {
  dense_rows<float>(in, w, bias, out, B, K, N, act);
}

extern "C" __global__ void __launch_bounds__(256) dense_rows_bf16(const float* in, const bf16* w, const float* bias,
                                                                  float* out, int B, int K, int N, int act) {
  dense_rows<bf16>(in, w, bias, out, B, K, N, act);
}

__device__ __forceinline__ uint32_t philox_mulhi(uint32_t a, uint32_t b) { return __umulhi(a, b); }

// Philox4x32-10 normals, defined in gpu/philox.go: element n = offset + i uses counter
// (n/4, 0) and key seed, Box–Muller in double. One thread per block of four.
extern "C" __global__ void randn_philox(float* out, long long count, unsigned seedLo, unsigned seedHi,
                                        long long offset) {
  const long long j = (long long)blockIdx.x * blockDim.x + threadIdx.x; // counter block index
  const long long first = offset / 4;
  const long long blk = first + j;
  if (blk * 4 >= offset + count) return;
  uint32_t c0 = (uint32_t)blk, c1 = (uint32_t)((unsigned long long)blk >> 32), c2 = 0, c3 = 0;
  uint32_t k0 = seedLo, k1 = seedHi;
#pragma unroll
  for (int r = 0; r < 10; r++) {
    if (r > 0) k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
    const uint32_t lo0 = 0xD2511F53u * c0, hi0 = philox_mulhi(0xD2511F53u, c0);
    const uint32_t lo1 = 0xCD9E8D57u * c2, hi1 = philox_mulhi(0xCD9E8D57u, c2);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0, c1 = lo1, c2 = n2, c3 = lo0;
  }
  const uint32_t x[4] = {c0, c1, c2, c3};
  float z[4];
#pragma unroll
  for (int i = 0; i < 4; i += 2) {
    const double u0 = ((double)x[i] + 0.5) / 4294967296.0;
    const double u1 = ((double)x[i + 1] + 0.5) / 4294967296.0;
    const double r = sqrt(-2.0 * log(u0));
    const double th = 6.283185307179586 * u1;
    z[i] = (float)(r * cos(th));
    z[i + 1] = (float)(r * sin(th));
  }
#pragma unroll
  for (int i = 0; i < 4; i++) {
    const long long n = blk * 4 + i;
    if (n >= offset && n < offset + count) out[n - offset] = z[i];
  }
}

// dst = a·x + b·y (samplers' steps, residual mixes).
extern "C" __global__ void axpby(float* dst, const float* x, const float* y, float a, float b, long long n) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i < n) dst[i] = a * x[i] + b * y[i];
}

// x [n4 float4] += Σ_z part[z] for z = 0..S-1 in order (deterministic): the partial sums of
// mlp_c* (hidden-unit split) and global_attn* (one per head).
extern "C" __global__ void __launch_bounds__(256) sum_partials(float* x, const float* part, long long n4, int S) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n4) return;
  float4 a = ((const float4*)x)[i];
  for (int z = 0; z < S; z++) {
    const float4 p = ((const float4*)part)[z * n4 + i];
    a.x += p.x, a.y += p.y, a.z += p.z, a.w += p.w;
  }
  ((float4*)x)[i] = a;
}
