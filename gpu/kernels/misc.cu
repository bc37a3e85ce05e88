// Small kernels around the transformer: the noise-level mapping network with the EDM
// scalings, Philox normal noise, and elementwise helpers for samplers.
#include "common.cuh"

// dense8: out[o] = act(Σ_k w[o][k]·in[k] + bias[o]) with each warp taking 8 outputs at once, so
// that their loads are in flight together (the step is latency-bound at batch 1).
__device__ __forceinline__ void dense8(const float* w, const float* bias, const float* in, float* out, int width,
                                       int warp, int lane, int nwarps, bool silu) {
  for (int o0 = warp * 8; o0 < width; o0 += nwarps * 8) {
    float acc[8];
#pragma unroll
    for (int j = 0; j < 8; j++) acc[j] = 0.f;
#pragma unroll 4
    for (int k = lane; k < width; k += 32) {
      const float x = in[k];
#pragma unroll
      for (int j = 0; j < 8; j++)
        if (o0 + j < width) acc[j] += w[(o0 + j) * width + k] * x;
    }
#pragma unroll
    for (int j = 0; j < 8; j++) {
      const float v = warp_sum(acc[j]);
      if (lane == 0 && o0 + j < width) {
        const float y = v + bias[o0 + j];
        out[o0 + j] = silu ? y / (1.f + expf(-y)) : y;
      }
    }
  }
}

// One block per sample (1024 threads). sigma [B] → scal [B,4] = (c_in, c_skip, c_out,
// c_noise) and cond [B,width] = out(silu(in(fourier(c_noise)))), weights [out][in] f32 as
// PyTorch stores them: one warp per output reads a row coalesced. sigmaData is σ_d (0.5).
extern "C" __global__ void __launch_bounds__(1024) mapping(const float* sigma, const float* fourier,
                                                           const float* w1, const float* b1, const float* w2,
                                                           const float* b2, float* cond, float* scal, int width,
                                                           float sigmaData) {
  __shared__ float e[1024], h[1024];
  const int b = blockIdx.x, n = threadIdx.x, half = width >> 1;
  const int warp = n >> 5, lane = n & 31, nwarps = blockDim.x >> 5;
  const float s = sigma[b], sd2 = sigmaData * sigmaData, den = s * s + sd2;
  const float cnoise = logf(s) * 0.25f;
  if (n == 0) {
    scal[b * 4] = rsqrtf(den);
    scal[b * 4 + 1] = sd2 / den;
    scal[b * 4 + 2] = s * sigmaData * rsqrtf(den);
    scal[b * 4 + 3] = cnoise;
  }
  if (n < half) {
    const float f = 6.283185307179586f * cnoise * fourier[n];
    e[n] = cosf(f);
    e[n + half] = sinf(f);
  }
  __syncthreads();
  dense8(w1, b1, e, h, width, warp, lane, nwarps, true);
  __syncthreads();
  dense8(w2, b2, h, cond + b * width, width, warp, lane, nwarps, false);
}

__device__ __forceinline__ uint32_t mulhi(uint32_t a, uint32_t b) { return __umulhi(a, b); }

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
    const uint32_t lo0 = 0xD2511F53u * c0, hi0 = mulhi(0xD2511F53u, c0);
    const uint32_t lo1 = 0xCD9E8D57u * c2, hi1 = mulhi(0xCD9E8D57u, c2);
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
