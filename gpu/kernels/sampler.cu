// The diffusion sampler's step on the device (gpu/sampler Step, run by the CUDA backend's
// fused piano-roll network): x, the model's output, the history and the noise never leave the
// GPU during an inpaint.
#include "common.cuh"

// Philox4x32-10 for counter block blk and key (k0, k1), then Box–Muller in double: the four
// normals of gpu/philox.go (and misc.cu's randn_philox) for elements 4·blk … 4·blk+3.
__device__ __forceinline__ void philox_normal4(unsigned long long blk, uint32_t k0, uint32_t k1, float* z) {
  uint32_t c0 = (uint32_t)blk, c1 = (uint32_t)(blk >> 32), c2 = 0, c3 = 0;
#pragma unroll
  for (int r = 0; r < 10; r++) {
    if (r > 0) k0 += 0x9E3779B9u, k1 += 0xBB67AE85u;
    const uint32_t lo0 = 0xD2511F53u * c0, hi0 = __umulhi(0xD2511F53u, c0);
    const uint32_t lo1 = 0xCD9E8D57u * c2, hi1 = __umulhi(0xCD9E8D57u, c2);
    const uint32_t n0 = hi1 ^ c1 ^ k0, n2 = hi0 ^ c3 ^ k1;
    c0 = n0, c1 = lo1, c2 = n2, c3 = lo0;
  }
  const uint32_t v[4] = {c0, c1, c2, c3};
#pragma unroll
  for (int i = 0; i < 4; i += 2) {
    const double u0 = ((double)v[i] + 0.5) / 4294967296.0;
    const double u1 = ((double)v[i + 1] + 0.5) / 4294967296.0;
    const double r = sqrt(-2.0 * log(u0));
    const double th = 6.283185307179586 * u1;
    z[i] = (float)(r * cos(th));
    z[i + 1] = (float)(r * sin(th));
  }
}

// sampler_step: one thread per 4 consecutive values of one candidate (one Philox block).
// x, d, known, old are [K, n] (n = C·hw values per candidate, hw a multiple of 4), mask [K, hw].
//   mode 0 (start):    x = known + G·ε
//   mode 1 (re-noise): x = x + G·ε
//   mode 2 (after D):  dv = mask ? d : known; x = A·x + B·dv (+ C·(dv − old) when C ≠ 0)
//                      (+ G·ε when G ≠ 0); old = dv when keep
// ε of candidate b at noise step s is element j of Philox stream (s<<16 | b), i.e. offset
// (s<<16 | b)·2³², as pianoroll.Normal draws it on the host; the 64-bit seed is read from
// device memory (seed[0] low word), so one captured graph serves every seed.
// When sigmaNext > 0 (the σ of the next evaluation) the kernel also prepares that evaluation,
// so a replayed graph needs no copy from the host: threads t < K store sigmaNext into
// sigmaOut[t] and, when scalOut is set, the EDM scalings (c_in, c_skip, c_out, c_noise) into
// scalOut[4t…] exactly as misc.cu's mapping kernel computes them; threads t < adaCols copy the
// adaptive-norm row adaSrc[t] (precomputed for that σ) into adaDst[t] when adaSrc is set.
extern "C" __global__ void sampler_step(float* x, float* old, const float* d, const float* known, const float* mask,
                                        long long n, int hw, int K, int mode, float A, float B, float C, float G,
                                        const unsigned* seed, long long noiseStep, int keep,
                                        float* sigmaOut, float sigmaNext, float* scalOut, float sigmaData,
                                        const float* adaSrc, float* adaDst, int adaCols) {
  const long long t = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (sigmaNext > 0.f) {
    if (t < K) {
      sigmaOut[t] = sigmaNext;
      if (scalOut) {
        const float s = sigmaNext, sd2 = sigmaData * sigmaData, den = s * s + sd2;
        scalOut[t * 4] = rsqrtf(den);
        scalOut[t * 4 + 1] = sd2 / den;
        scalOut[t * 4 + 2] = s * sigmaData * rsqrtf(den);
        scalOut[t * 4 + 3] = logf(s) * 0.25f;
      }
    }
    if (adaSrc && t < adaCols) adaDst[t] = adaSrc[t];
  }
  const long long per = n >> 2;
  if (t >= per * K) return;
  const int b = (int)(t / per);
  const long long j = (t - (long long)b * per) << 2;
  const long long i = (long long)b * n + j;
  float z[4] = {0.f, 0.f, 0.f, 0.f};
  if (G != 0.f) {
    const unsigned long long stream = ((unsigned long long)noiseStep << 16) | (unsigned)b;
    philox_normal4((stream << 30) + (unsigned long long)(j >> 2), seed[0], seed[1], z);
  }
  const float4 kv = *reinterpret_cast<const float4*>(known + i);
  float4 xv;
  if (mode == 0) {
    xv.x = kv.x + G * z[0];
    xv.y = kv.y + G * z[1];
    xv.z = kv.z + G * z[2];
    xv.w = kv.w + G * z[3];
    *reinterpret_cast<float4*>(x + i) = xv;
    return;
  }
  xv = *reinterpret_cast<const float4*>(x + i);
  if (mode == 1) {
    xv.x += G * z[0];
    xv.y += G * z[1];
    xv.z += G * z[2];
    xv.w += G * z[3];
    *reinterpret_cast<float4*>(x + i) = xv;
    return;
  }
  const float4 mv = *reinterpret_cast<const float4*>(mask + (long long)b * hw + (j % hw));
  const float4 dd = *reinterpret_cast<const float4*>(d + i);
  float4 dv;
  dv.x = mv.x != 0.f ? dd.x : kv.x;
  dv.y = mv.y != 0.f ? dd.y : kv.y;
  dv.z = mv.z != 0.f ? dd.z : kv.z;
  dv.w = mv.w != 0.f ? dd.w : kv.w;
  float4 v;
  v.x = A * xv.x + B * dv.x;
  v.y = A * xv.y + B * dv.y;
  v.z = A * xv.z + B * dv.z;
  v.w = A * xv.w + B * dv.w;
  if (C != 0.f) {
    const float4 ov = *reinterpret_cast<const float4*>(old + i);
    v.x += C * (dv.x - ov.x);
    v.y += C * (dv.y - ov.y);
    v.z += C * (dv.z - ov.z);
    v.w += C * (dv.w - ov.w);
  }
  if (G != 0.f) {
    v.x += G * z[0];
    v.y += G * z[1];
    v.z += G * z[2];
    v.w += G * z[3];
  }
  *reinterpret_cast<float4*>(x + i) = v;
  if (keep) *reinterpret_cast<float4*>(old + i) = dv;
}
