// Tensor-core GEMM for linear layers: C[M,N] = A[M,K]·W[N,K]ᵀ with A f32 (converted to bf16 on
// the way into shared memory), W bf16 (a PyTorch Linear weight), f32 accumulation and output.
// At batch 1 the model's step is launch-bound, so the kernel takes a prologue (how A is read)
// and an epilogue (what is done with each result) and the model's glue fuses into it:
//   prologue: plain rows, 2×2 token merge, 4×4 patchify of the raw piano-roll inputs, and an
//             optional RMS norm with a per-sample column scale (adaptive RMS norm);
//   epilogue: store (+bias, SiLU), residual add, GEGLU, token split + lerp with the skip,
//             unpatchify + EDM output mix.
// mma.sync m16n8k16 runs on sm_80 and newer (the PTX targets compute_80).
#include "common.cuh"

enum { A_PLAIN = 0, A_MERGE = 1 };
enum { E_STORE = 0, E_RESIDUAL = 1, E_GEGLU = 2, E_SPLIT = 3, E_PATCHOUT = 4 };

struct GemmArgs {
  const float* a;
  const bf16* w;
  float* c;
  int M, N, K;
  int lda, ldc;
  const float* bias; // E_STORE, may be null
  int act;           // E_STORE: 0 none, 1 SiLU
  float alpha;       // E_STORE: scales the product (before the bias)
  const float* scale; // NORM: column scale, scale[(m / rowsPerBatch)·scaleStride + k]
  int scaleStride, rowsPerBatch;
  float eps;
  int H, W; // A_MERGE: input grid; E_SPLIT: output grid; patches: image (pitches × steps)
  const float* skip; // E_SPLIT
  const float* fac;  // E_SPLIT: lerp weight, one float on the device
  const float* x;    // E_PATCHOUT: the noisy roll [B,3,H,W] for the mix
  const float* scal; // per sample (c_in, c_skip, c_out, c_noise), from the mapping kernel
  float* ws;         // split K (gridDim.z > 1): partial tiles [split][tile][NV + 1][T] (gemm_finish)
  unsigned* cnt;     // split K: arrivals per tile, reset to 0 by the last block
};

template <int EM>
__device__ __forceinline__ void store1(const GemmArgs& p, int m, int n, float v) {
  if (m >= p.M || n >= p.N) return;
  if (EM == E_STORE) {
    v *= p.alpha;
    if (p.bias) v += p.bias[n];
    if (p.act == 1) v = v / (1.f + expf(-v));
    p.c[(size_t)m * p.ldc + n] = v;
  } else if (EM == E_RESIDUAL) {
    p.c[(size_t)m * p.ldc + n] += v;
  }
}

// ---- Pipelined mainloop (every GEMM but gemm_bf16_patch_in, below) ----
// BMP×BNP output tile: 128×64 (8 warps of 32×32), 64×64 (4 warps of 32×32) or 128×128 (8 warps
// of 32×64, the plain store / residual / GEGLU kernels only), k tiles of 32 in an ST-deep
// cp.async ring (4 stages; 3 for 128×128, so that two blocks share an SM): A arrives as f32
// (converted to bf16 while building the mma fragments), W as bf16. With NORM a pass over each
// landed A tile sums the rows' squares and multiplies by the scale row in place. Dynamic shared
// memory: ST · PSTAGE_BYTES(BMP, BNP) bytes (gemmPipeShared in gpu/cuda/kernels.go).
#define PBK 32
#define PAP 40 // f32 A row pitch in floats (160 B ≡ 8 banks): conflict-free float2 fragment reads
#define PWP 40 // bf16 W row pitch in elements (80 B): conflict-free ldmatrix rows
#define PA_BYTES(bm) ((bm) * PAP * 4)
#define PW_BYTES(bn) ((bn) * PWP * 2)
#define PSTAGE_BYTES(bm, bn) (PA_BYTES(bm) + PW_BYTES(bn))

__device__ __forceinline__ int imin(int a, int b) { return a < b ? a : b; }

// acc[mi][ni][e]: the warp's 32 × (8·NI) sub-tile, rows wm + mi·16 + g (+8 for e ≥ 2), columns
// wn + ni·8 + 2tq (+1 for odd e).
template <int EM, bool NORM, int T, int BMP, int BNP, int ST, int NI>
__device__ __forceinline__ void gemm_finish(const GemmArgs& p, float (&acc)[2][NI][4], float ss, int m0, int n0,
                                            int wm, int wn) {
  __shared__ float rs[BMP];
  __shared__ int last;
  constexpr int NV = 2 * NI * 4; // accumulators per thread
  const int tid = threadIdx.x, lane = tid & 31, g = lane >> 2, tq = lane & 3;
  const int S = gridDim.z, z = blockIdx.z;
  if (S > 1) { // deterministic split-K reduction by the last block to arrive
    // workspace per tile and split: NV accumulators and the sum of squares per thread
    // ((NV + 1)·T floats: gemmWsFloats in gpu/cuda/kernels.go)
    const int tile = blockIdx.y * gridDim.x + blockIdx.x, ntiles = gridDim.x * gridDim.y;
    float* wp = p.ws + (size_t)(z * ntiles + tile) * (NV + 1) * T + tid;
#pragma unroll
    for (int i = 0; i < NV; i++) wp[i * T] = acc[i / (NI * 4)][(i >> 2) % NI][i & 3];
    wp[NV * T] = ss;
    asm volatile("membar.gl;" ::: "memory");
    __syncthreads();
    if (tid == 0) {
      unsigned old;
      asm volatile("atom.global.add.u32 %0, [%1], 1;" : "=r"(old) : "l"(p.cnt + tile) : "memory");
      last = old == (unsigned)(S - 1);
    }
    __syncthreads();
    if (!last) return;
    asm volatile("membar.gl;" ::: "memory");
#pragma unroll
    for (int i = 0; i < NV; i++) acc[i / (NI * 4)][(i >> 2) % NI][i & 3] = 0.f;
    ss = 0.f;
    for (int zz = 0; zz < S; zz++) {
      const volatile float* rp = p.ws + (size_t)(zz * ntiles + tile) * (NV + 1) * T + tid;
#pragma unroll
      for (int i = 0; i < NV; i++) acc[i / (NI * 4)][(i >> 2) % NI][i & 3] += rp[i * T];
      ss += rp[NV * T];
    }
    if (tid == 0) p.cnt[tile] = 0; // ready for the next launch (graph replays)
  }

  if (NORM) { // thread pairs (2r, 2r+1) summed the squares of row r's two halves
    ss += shfl_xor(ss, 1);
    if ((tid & 1) == 0) rs[tid >> 1] = rsqrtf(ss / (float)p.K + p.eps);
    __syncthreads();
  }

  // E_STORE / E_RESIDUAL / E_GEGLU: stage the finished tile in the pipeline's shared memory,
  // then write it back as float4s of consecutive columns (BNP/4 threads per tile row, BNP/8 per
  // GEGLU row: 16 / 8 for 64 columns, 32 / 16 for 128), residual reading C the same way with
  // every load in flight before the first store. Needs the output's columns and pitch multiples
  // of 4 and c 16-byte aligned (else the per-fragment path below); partial tiles are handled per
  // float4 (the column count is a multiple of 4, so a float4 is wholly in or out).
  if (EM == E_STORE || EM == E_RESIDUAL || EM == E_GEGLU) {
    constexpr int OC = EM == E_GEGLU ? BNP / 2 : BNP;  // output columns of the tile
    constexpr int SP = OC + (EM == E_GEGLU ? 4 : 8);   // 36 / 72 (68 / 136) floats: conflict-free fragment stores
    static_assert(BMP * SP * 4 <= ST * PSTAGE_BYTES(BMP, BNP), "epilogue staging exceeds the pipeline's shared memory");
    const int no = EM == E_GEGLU ? p.N >> 1 : p.N, c0 = EM == E_GEGLU ? n0 >> 1 : n0;
    if ((no & 3) == 0 && (p.ldc & 3) == 0 && ((size_t)p.c & 15) == 0) {
      extern __shared__ __attribute__((aligned(16))) unsigned char smem[];
      float* stg = (float*)smem;
      __syncthreads(); // every warp is done with the mainloop's tiles
#pragma unroll
      for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int half = 0; half < 2; half++) {
          const int rl = wm + mi * 16 + g + half * 8;
          const float f = NORM ? rs[rl] : 1.f;
#pragma unroll
          for (int ni = 0; ni < NI; ni++) {
            const int nl = wn + ni * 8 + tq * 2;
            const float v0 = acc[mi][ni][half * 2] * f, v1 = acc[mi][ni][half * 2 + 1] * f;
            if (EM == E_GEGLU) stg[rl * SP + (nl >> 1)] = v0 * gelu_tanh(v1); // banks 4g + tq
            else *(float2*)(stg + rl * SP + nl) = float2{v0, v1};             // banks 8g + 2tq (half warps)
          }
        }
      __syncthreads();
      constexpr int TPR = OC / 4, RPI = T / TPR, IT = BMP / RPI; // threads per row, rows per pass, passes
      const int cl = (tid % TPR) * 4, n = c0 + cl, r0 = tid / TPR;
      if (n >= no) return;
      float* cp = p.c + (size_t)m0 * p.ldc + n;
      float4 bv = float4{0.f, 0.f, 0.f, 0.f};
      if (EM == E_STORE && p.bias) bv = float4{p.bias[n], p.bias[n + 1], p.bias[n + 2], p.bias[n + 3]};
      float4 ov[IT];
      if (EM == E_RESIDUAL) {
#pragma unroll
        for (int u = 0; u < IT; u++) {
          const int r = r0 + u * RPI;
          ov[u] = float4{0.f, 0.f, 0.f, 0.f};
          if (m0 + r < p.M) ov[u] = *(const float4*)(cp + (size_t)r * p.ldc);
        }
      }
#pragma unroll
      for (int u = 0; u < IT; u++) {
        const int r = r0 + u * RPI;
        if (m0 + r >= p.M) break; // rows only grow with u
        float4 v = *(const float4*)(stg + r * SP + cl);
        if (EM == E_STORE) {
          v.x = v.x * p.alpha + bv.x, v.y = v.y * p.alpha + bv.y;
          v.z = v.z * p.alpha + bv.z, v.w = v.w * p.alpha + bv.w;
          if (p.act == 1) {
            v.x = v.x / (1.f + expf(-v.x)), v.y = v.y / (1.f + expf(-v.y));
            v.z = v.z / (1.f + expf(-v.z)), v.w = v.w / (1.f + expf(-v.w));
          }
        } else if (EM == E_RESIDUAL) {
          v.x += ov[u].x, v.y += ov[u].y, v.z += ov[u].z, v.w += ov[u].w;
        }
        *(float4*)(cp + (size_t)r * p.ldc) = v;
      }
      return;
    }
  }

  if (EM == E_PATCHOUT) { // N = 48, one column tile: stage the tile's features, then write 4-pixel groups
    extern __shared__ __attribute__((aligned(16))) unsigned char smem[];
    constexpr int SP = BMP + 4; // [48][SP] floats: fragment stores hit banks 8·tq + g, conflict-free
    static_assert(EM != E_PATCHOUT || (BNP == 64 && 48 * SP * 4 <= ST * PSTAGE_BYTES(BMP, BNP)),
                  "patch-out staging exceeds the pipeline's shared memory");
    float* stg = (float*)smem;
    __syncthreads(); // every warp is done with the mainloop's tiles
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
      for (int half = 0; half < 2; half++) {
        const int rl = wm + mi * 16 + g + half * 8;
        const float f = NORM ? rs[rl] : 1.f;
#pragma unroll
        for (int ni = 0; ni < NI; ni++) {
          const int nl = wn + ni * 8 + tq * 2;
          if (nl < 48) {
            stg[nl * SP + rl] = acc[mi][ni][half * 2] * f;
            stg[(nl + 1) * SP + rl] = acc[mi][ni][half * 2 + 1] * f;
          }
        }
      }
    __syncthreads();
    // Thread tid takes token tid % BMP and (channel, patch row) pairs tid / BMP + 2u: a warp writes
    // 32 consecutive tokens' 4-pixel groups of one image row (512 contiguous bytes when in one row).
    static_assert(T == 2 * BMP, "one token per thread pair");
    constexpr int U = 12 / 2;
    const int tok = tid % BMP, m = m0 + tok;
    if (m >= p.M) return;
    const int wo = p.W >> 2, ho = p.H >> 2;
    const int b = m / (ho * wo), rem = m - b * ho * wo, r = rem / wo, t = rem - r * wo;
    const float cskip = p.scal[b * 4 + 1], cout = p.scal[b * 4 + 2];
    const size_t base = ((size_t)(b * 3) * p.H + 4 * r) * p.W + 4 * t;
    float4 xv[U];
#pragma unroll
    for (int u = 0; u < U; u++) { // every x load in flight before the first store
      const int ci = tid / BMP + 2 * u, ch = ci >> 2, i = ci & 3;
      xv[u] = *(const float4*)(p.x + base + ((size_t)ch * p.H + i) * p.W);
    }
#pragma unroll
    for (int u = 0; u < U; u++) {
      const int ci = tid / BMP + 2 * u, ch = ci >> 2, i = ci & 3;
      const float* sv = stg + (i * 12 + ch) * SP + tok; // feature (i·4 + j)·3 + ch at + j·3·SP
      float4 o;
      o.x = cskip * xv[u].x + cout * sv[0];
      o.y = cskip * xv[u].y + cout * sv[3 * SP];
      o.z = cskip * xv[u].z + cout * sv[6 * SP];
      o.w = cskip * xv[u].w + cout * sv[9 * SP];
      *(float4*)(p.c + base + ((size_t)ch * p.H + i) * p.W) = o;
    }
    return;
  }

  // E_SPLIT: load every skip value before the first store (c may alias skip, so the compiler
  // would otherwise serialise each load behind the previous store).
  float fac = 0.f;
  float2 sk[2][2][NI];
  if (EM == E_SPLIT) {
    fac = *p.fac;
    const int wo = p.W >> 1, ho = p.H >> 1, c = p.N >> 2;
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
      for (int half = 0; half < 2; half++) {
        const int m = m0 + wm + mi * 16 + g + half * 8;
        const int b = m / (ho * wo), rem = m - b * ho * wo, r = rem / wo, t = rem - r * wo;
        const size_t rowd = ((size_t)(b * p.H + 2 * r) * p.W + 2 * t) * c;
#pragma unroll
        for (int ni = 0; ni < NI; ni++) {
          const int n = n0 + wn + ni * 8 + tq * 2, ij = n / c, ch = n - ij * c;
          sk[mi][half][ni] = float2{0.f, 0.f};
          if (m < p.M && n < p.N)
            sk[mi][half][ni] = *(const float2*)(p.skip + rowd + ((size_t)(ij >> 1) * p.W + (ij & 1)) * c + ch);
        }
      }
  }
#pragma unroll
  for (int mi = 0; mi < 2; mi++) {
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const int rl = wm + mi * 16 + g + half * 8, m = m0 + rl;
      if (m >= p.M) continue;
      const float f = NORM ? rs[rl] : 1.f;
      size_t rowd = 0; // E_SPLIT: the row's top-left output pixel (channel 0)
      if (EM == E_SPLIT) {
        const int wo = p.W >> 1, ho = p.H >> 1, c = p.N >> 2;
        const int b = m / (ho * wo), rem = m - b * ho * wo, r = rem / wo, t = rem - r * wo;
        rowd = ((size_t)(b * p.H + 2 * r) * p.W + 2 * t) * c;
      }
#pragma unroll
      for (int ni = 0; ni < NI; ni++) {
        const int n = n0 + wn + ni * 8 + tq * 2;
        if (n >= p.N) continue;
        const float v0 = acc[mi][ni][half * 2] * f, v1 = acc[mi][ni][half * 2 + 1] * f;
        if (EM == E_GEGLU) { // weight rows interleaved (a_j, g_j): this thread holds both
          p.c[(size_t)m * p.ldc + (n >> 1)] = v0 * gelu_tanh(v1);
        } else if (EM == E_STORE || EM == E_RESIDUAL) {
          if (n + 1 < p.N && (p.ldc & 1) == 0 && ((size_t)p.c & 7) == 0) {
            float2* dst = (float2*)(p.c + (size_t)m * p.ldc + n); // full 32-byte sectors per row
            if (EM == E_STORE) {
              float a = v0 * p.alpha, b = v1 * p.alpha;
              if (p.bias) a += p.bias[n], b += p.bias[n + 1];
              if (p.act == 1) a = a / (1.f + expf(-a)), b = b / (1.f + expf(-b));
              *dst = float2{a, b};
            } else {
              const float2 o = *dst;
              *dst = float2{o.x + v0, o.y + v1};
            }
          } else {
            store1<EM>(p, m, n, v0);
            store1<EM>(p, m, n + 1, v1);
          }
        } else if (EM == E_SPLIT) { // N % 8 == 0: n, n+1 are one sub-pixel's channels ch, ch+1
          const int c = p.N >> 2, ij = n / c, ch = n - ij * c;
          const size_t d = rowd + ((size_t)(ij >> 1) * p.W + (ij & 1)) * c + ch;
          const float2 s = sk[mi][half][ni];
          *(float2*)(p.c + d) = float2{s.x + fac * (v0 - s.x), s.y + fac * (v1 - s.y)};
        }
      }
    }
  }
}

template <int BMP, int BNP, int ST, int AM, int EM, bool NORM>
__device__ __forceinline__ void gemm_pipe(const GemmArgs& p) {
  constexpr int T = 2 * BMP;          // threads: warps of 32 rows × BNP/2 columns, two per row band
  constexpr int NI = BNP / 16;        // n8 fragments per warp (4 or 8)
  constexpr int AR = BMP * 8 / T;     // 16-byte A pieces per thread and k tile (4)
  constexpr int WR = BNP * 4 / T;     // 16-byte W pieces per thread and k tile (1 or 2)
  extern __shared__ __attribute__((aligned(16))) unsigned char smem[];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, tq = lane & 3;
  const int m0 = blockIdx.y * BMP, n0 = blockIdx.x * BNP;
  const int wm = (warp >> 1) * 32, wn = (warp & 1) * (BNP / 2);

  float acc[2][NI][4];
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < NI; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;

  // A piece i: row (tid >> 3) + i·T/8 of the tile, floats ac..ac+3 of the k tile. Rows past M
  // read row M−1 (their results are never stored).
  const int ac = (tid & 7) * 4;
  const float* arow[AR];
#pragma unroll
  for (int i = 0; i < AR; i++) {
    const int m = imin(m0 + (tid >> 3) + i * (T / 8), p.M - 1);
    if (AM == A_MERGE) {
      const int wo = p.W >> 1, ho = p.H >> 1, c = p.K >> 2;
      const int b = m / (ho * wo), rem = m - b * ho * wo, r = rem / wo, t = rem - r * wo;
      arow[i] = p.a + ((size_t)(b * p.H + 2 * r) * p.W + 2 * t) * c;
    } else {
      arow[i] = p.a + (size_t)m * p.lda;
    }
  }
  // W piece j: row (tid + j·T) >> 2 of the tile, bf16 ((tid + j·T) & 3)·8.. ; rows past N read N−1.
  const bf16* wrow[WR];
#pragma unroll
  for (int j = 0; j < WR; j++) {
    const int id = tid + j * T;
    wrow[j] = p.w + (size_t)imin(n0 + (id >> 2), p.N - 1) * p.K + (id & 3) * 8;
  }

  auto load = [&](int stage, int k0) {
    float* As = (float*)(smem + stage * PSTAGE_BYTES(BMP, BNP));
    bf16* Ws = (bf16*)(smem + stage * PSTAGE_BYTES(BMP, BNP) + PA_BYTES(BMP));
    int koff = k0 + ac;
    if (AM == A_MERGE) { // channels c = K/4 are a multiple of 16: a piece stays in one pixel
      const int c = p.K >> 2, ij = koff / c, ch = koff - ij * c;
      koff = ((ij >> 1) * p.W + (ij & 1)) * c + ch;
    }
#pragma unroll
    for (int i = 0; i < AR; i++) cp_async16(As + ((tid >> 3) + i * (T / 8)) * PAP + ac, arow[i] + koff);
#pragma unroll
    for (int j = 0; j < WR; j++) {
      const int id = tid + j * T;
      cp_async16(Ws + (id >> 2) * PWP + (id & 3) * 8, wrow[j] + k0);
    }
  };

  // Split K (gridDim.z > 1): block z takes k tiles [kb, ke); see gemm_finish.
  const int nkAll = p.K / PBK, S = gridDim.z, z = blockIdx.z;
  const int kb = nkAll * z / S, ke = nkAll * (z + 1) / S, nk = ke - kb;
#pragma unroll
  for (int s = 0; s < ST - 1; s++) {
    if (s < nk) load(s, (kb + s) * PBK);
    cp_async_commit(); // empty groups keep the wait counts uniform
  }
  if (EM == E_RESIDUAL && z == 0) { // pull this tile's C into L2 now: the epilogue's read then hits L2
    constexpr int LPR = BNP / 32, LSH = LPR == 4 ? 2 : 1; // 128-byte lines per tile row (2 or 4)
    static_assert(LPR == 1 << LSH, "64 or 128 columns");
#pragma unroll
    for (int u = 0; u < LPR / 2; u++) { // T = 2·BMP: LPR / 2 lines each
      const int m = m0 + ((tid + u * T) >> LSH), n = n0 + (tid & (LPR - 1)) * 32;
      if (m < p.M && n < p.N) asm volatile("prefetch.global.L2 [%0];" ::"l"(p.c + (size_t)m * p.ldc + n));
    }
  }

  float ss = 0.f; // NORM: sum of squares of row tid/2, half tid&1 of every k tile
  int sb = 0;
  if (NORM) sb = (imin(m0 + (tid >> 1), p.M - 1) / p.rowsPerBatch) * p.scaleStride;

  for (int it = 0; it < nk; it++) {
    cp_async_wait<ST - 2>();
    __syncthreads(); // tile it landed for all threads; slot (it−1) % ST is free
    const int st = it % ST;
    float* As = (float*)(smem + st * PSTAGE_BYTES(BMP, BNP));
    const bf16* Ws = (const bf16*)(smem + st * PSTAGE_BYTES(BMP, BNP) + PA_BYTES(BMP));
    if (NORM) {
      float* r = As + (tid >> 1) * PAP + (tid & 1) * 16;
      const float* sc = p.scale + sb + (kb + it) * PBK + (tid & 1) * 16;
#pragma unroll
      for (int e = 0; e < 16; e += 4) {
        float4 x = *(float4*)(r + e);
        const float4 s4 = *(const float4*)(sc + e);
        ss += x.x * x.x + x.y * x.y + x.z * x.z + x.w * x.w;
        x.x *= s4.x, x.y *= s4.y, x.z *= s4.z, x.w *= s4.w;
        *(float4*)(r + e) = x;
      }
      __syncthreads();
    }
    if (it + ST - 1 < nk) load((it + ST - 1) % ST, (kb + it + ST - 1) * PBK);
    cp_async_commit();
    // The 128×128 kernels keep their two k steps a loop: unrolled, they need a few registers over
    // the 128 that two blocks per SM allow (ptxas spills: NORM on sm_90, the plain store on sm_80).
    constexpr int KSU = NI == 8 ? 1 : PBK / 16;
#pragma unroll KSU
    for (int kk = 0; kk < PBK; kk += 16) {
      uint32_t af[2][4], bfr[NI][2];
#pragma unroll
      for (int mi = 0; mi < 2; mi++) { // a0 (g, 2tq..), a1 (g+8, 2tq..), a2 (g, 2tq+8..), a3 (g+8, 2tq+8..)
        const float* r0 = As + (wm + mi * 16 + g) * PAP + kk + 2 * tq;
        const float2 x0 = *(const float2*)r0, x1 = *(const float2*)(r0 + 8 * PAP);
        const float2 x2 = *(const float2*)(r0 + 8), x3 = *(const float2*)(r0 + 8 * PAP + 8);
        af[mi][0] = pack_bf16(x0.x, x0.y), af[mi][1] = pack_bf16(x1.x, x1.y);
        af[mi][2] = pack_bf16(x2.x, x2.y), af[mi][3] = pack_bf16(x3.x, x3.y);
      }
#pragma unroll
      for (int nj = 0; nj < NI / 2; nj++) {
        uint32_t r[4];
        ldsm_x4(r, Ws + (wn + nj * 16 + (lane & 7) + ((lane >> 4) << 3)) * PWP + kk + ((lane >> 3) & 1) * 8);
        bfr[2 * nj][0] = r[0], bfr[2 * nj][1] = r[1], bfr[2 * nj + 1][0] = r[2], bfr[2 * nj + 1][1] = r[3];
      }
#pragma unroll
      for (int mi = 0; mi < 2; mi++)
#pragma unroll
        for (int ni = 0; ni < NI; ni++) mma16816(acc[mi][ni], af[mi], bfr[ni]);
    }
  }
  cp_async_wait<0>();

  gemm_finish<EM, NORM, T, BMP, BNP, ST, NI>(p, acc, ss, m0, n0, wm, wn);
}

#define GEMM_ARGS_BASE                                                                            \
  GemmArgs p = {};                                                                                \
  p.a = a, p.w = w, p.c = c, p.M = M, p.N = N, p.K = K, p.lda = K, p.ldc = N, p.alpha = 1.f; \
  p.ws = ws, p.cnt = cnt;

// Each pipelined kernel comes in two tiles: NAME (128×64, 8 warps) and NAME_m64 (64×64,
// 4 warps, for grids that would not fill the GPU); the plain store / residual / GEGLU kernels
// (GEMM_KERNEL_WIDE) also in NAME_n128 (128×128, 8 warps, 3 stages: A is read from L2 half as
// often for wide N); gpu/cuda/kernels.go picks one per launch.
#define GEMM_KERNEL(NAME, PARAMS, SETUP, AM, EM, NORM)                                    \
  extern "C" __global__ void __launch_bounds__(256, 2) NAME PARAMS {                      \
    GEMM_ARGS_BASE                                                                        \
    SETUP;                                                                                \
    gemm_pipe<128, 64, 4, AM, EM, NORM>(p);                                               \
  }                                                                                       \
  extern "C" __global__ void __launch_bounds__(128) NAME##_m64 PARAMS {                   \
    GEMM_ARGS_BASE                                                                        \
    SETUP;                                                                                \
    gemm_pipe<64, 64, 4, AM, EM, NORM>(p);                                                \
  }

#define GEMM_KERNEL_WIDE(NAME, PARAMS, SETUP, AM, EM, NORM)                               \
  GEMM_KERNEL(NAME, PARAMS, SETUP, AM, EM, NORM)                                          \
  extern "C" __global__ void __launch_bounds__(256, 2) NAME##_n128 PARAMS {               \
    GEMM_ARGS_BASE                                                                        \
    SETUP;                                                                                \
    gemm_pipe<128, 128, 3, AM, EM, NORM>(p);                                              \
  }

// c = alpha·a·wᵀ (+ bias), optional SiLU. a [M,K] f32, w [N,K] bf16, c [M,N] f32.
GEMM_KERNEL_WIDE(gemm_bf16,
                 (const float* a, const bf16* w, float* c, int M, int N, int K, const float* bias, int act,
                  float alpha, float* ws, unsigned* cnt),
                 (p.bias = bias, p.act = act, p.alpha = alpha), A_PLAIN, E_STORE, false)

// c = (rms(a)·scale[b]) · wᵀ with scale [B, scaleStride] (adaptive RMS norm, scale = 1 + s).
GEMM_KERNEL_WIDE(gemm_bf16_norm,
                 (const float* a, const bf16* w, float* c, int M, int N, int K, const float* scale,
                  int scaleStride, int rowsPerBatch, float eps, float* ws, unsigned* cnt),
                 (p.scale = scale, p.scaleStride = scaleStride, p.rowsPerBatch = rowsPerBatch, p.eps = eps),
                 A_PLAIN, E_STORE, true)

// c [M, N/2] = GEGLU of (rms(a)·scale[b])·wᵀ, w's rows interleaved (a_0, g_0, a_1, g_1, …).
GEMM_KERNEL_WIDE(gemm_bf16_norm_geglu,
                 (const float* a, const bf16* w, float* c, int M, int N, int K, const float* scale,
                  int scaleStride, int rowsPerBatch, float eps, float* ws, unsigned* cnt),
                 (p.ldc = N / 2, p.scale = scale, p.scaleStride = scaleStride, p.rowsPerBatch = rowsPerBatch,
                  p.eps = eps),
                 A_PLAIN, E_GEGLU, true)

// c += a·wᵀ (residual).
GEMM_KERNEL_WIDE(gemm_bf16_residual,
                 (const float* a, const bf16* w, float* c, int M, int N, int K, float* ws, unsigned* cnt), (void)0,
                 A_PLAIN, E_RESIDUAL, false)

// 2×2 token merge of a [B,H,W,K/4] then c [B·H/2·W/2, N] = merged·wᵀ.
GEMM_KERNEL(gemm_bf16_merge,
            (const float* a, const bf16* w, float* c, int M, int N, int K, int H, int W, float* ws,
             unsigned* cnt),
            (p.H = H, p.W = W), A_MERGE, E_STORE, false)

// y = a·wᵀ split 2×2 onto the grid [B,H,W,N/4]: c = skip + fac·(y − skip) (c may be skip).
GEMM_KERNEL(gemm_bf16_split,
            (const float* a, const bf16* w, float* c, int M, int N, int K, int H, int W, const float* skip,
             const float* fac, float* ws, unsigned* cnt),
            (p.H = H, p.W = W, p.skip = skip, p.fac = fac), A_PLAIN, E_SPLIT, false)

// out [B,3,H,W] = c_skip·x + c_out·unpatchify((rms(a)·scale)·wᵀ): the model's last layer and
// the EDM denoiser mix in one pass.
GEMM_KERNEL(gemm_bf16_patch_out,
            (const float* a, const bf16* w, float* c, int M, int N, int K, const float* scale, float eps,
             int H, int W, const float* x, const float* scal, float* ws, unsigned* cnt),
            (p.scale = scale, p.scaleStride = 0, p.rowsPerBatch = M, p.eps = eps, p.H = H, p.W = W, p.x = x,
             p.scal = scal),
            A_PLAIN, E_PATCHOUT, true)

// Patchify concat(c_in·x, ctx, mask, pitch) [B,8,H,W] 4×4 and project: c [B·H/4·W/4, N]. K = 128
// (feature (i·4 + j)·8 + channel of pixel (4r+i, 4t+j)), so the whole k range of a 64×64 tile
// fits shared memory at once: 128 threads gather the tile's A with float4 reads (4 pixels of a
// plane row: thread (token, patch row i) reads 7 planes and writes 4 pixels × 8 channels as
// 16-byte bf16 rows), W arrives by cp.async, then 8 k-steps of mma. ws and cnt are unused (never
// split: 4 k tiles).
#define PIK 128
#define PIP (PIK + 8) // bf16 row pitch (272 B): conflict-free ldmatrix rows and 16-byte stores
extern "C" __global__ void __launch_bounds__(128) gemm_bf16_patch_in(const bf16* w, float* c, int M, int N,
                                                                     int H, int W, const float* x,
                                                                     const float* ctx, const float* mask,
                                                                     const float* scal, float* ws, unsigned* cnt) {
  __shared__ __attribute__((aligned(16))) bf16 As[64][PIP];
  __shared__ __attribute__((aligned(16))) bf16 Ws[64][PIP];
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5;
  const int g = lane >> 2, tq = lane & 3;
  const int m0 = blockIdx.y * 64, n0 = blockIdx.x * 64;
  const int wm = (warp >> 1) * 32, wn = (warp & 1) * 32;

#pragma unroll
  for (int j = 0; j < 8; j++) { // W tile: 64 rows × 16 pieces of 8 bf16; rows past N are zero
    const int id = tid + j * 128, row = id >> 4, col = (id & 15) * 8;
    if (n0 + row < N) cp_async16(&Ws[row][col], w + (size_t)(n0 + row) * PIK + col);
    else *(uint4*)&Ws[row][col] = uint4{0, 0, 0, 0};
  }
  cp_async_commit();

  // Thread: token tid & 63 (rows past M repeat row M−1; never stored), patch rows i0, i0 + 2.
  const int tok = tid & 63, i0 = tid >> 6;
  const int m = imin(m0 + tok, M - 1);
  const int wo = W >> 2, ho = H >> 2;
  const int b = m / (ho * wo), rem = m - b * ho * wo, r = rem / wo, t = rem - r * wo;
  const size_t plane = (size_t)H * W;
  const float cin = scal[b * 4];
  float4 v[2][7];
#pragma unroll
  for (int u = 0; u < 2; u++) {
    const size_t pix = (size_t)(4 * r + i0 + 2 * u) * W + 4 * t;
#pragma unroll
    for (int ch = 0; ch < 3; ch++) {
      v[u][ch] = *(const float4*)(x + (b * 3 + ch) * plane + pix);
      v[u][3 + ch] = *(const float4*)(ctx + (b * 3 + ch) * plane + pix);
    }
    v[u][6] = *(const float4*)(mask + b * plane + pix);
  }
#pragma unroll
  for (int u = 0; u < 2; u++) {
    const int i = i0 + 2 * u, py = 4 * r + i;
    const float pitch = -1.f + 2.f * (float)py / (float)(H - 1);
#pragma unroll
    for (int j = 0; j < 4; j++) {
      float e[7];
#pragma unroll
      for (int q = 0; q < 7; q++) e[q] = j == 0 ? v[u][q].x : j == 1 ? v[u][q].y : j == 2 ? v[u][q].z : v[u][q].w;
      *(uint4*)&As[tok][(i * 4 + j) * 8] = uint4{pack_bf16(cin * e[0], cin * e[1]), pack_bf16(cin * e[2], e[3]),
                                                 pack_bf16(e[4], e[5]), pack_bf16(e[6], pitch)};
    }
  }
  cp_async_wait<0>();
  __syncthreads();

  float acc[2][4][4];
#pragma unroll
  for (int i = 0; i < 2; i++)
#pragma unroll
    for (int j = 0; j < 4; j++)
#pragma unroll
      for (int e = 0; e < 4; e++) acc[i][j][e] = 0.f;
#pragma unroll
  for (int kk = 0; kk < PIK; kk += 16) {
    // ldmatrix: A as (rows 0-7 | 8-15) × (k 0-7 | 8-15); B as two n8 tiles × (k 0-7 | 8-15)
    uint32_t af[2][4], bfr[4][2];
#pragma unroll
    for (int mi = 0; mi < 2; mi++) ldsm_x4(af[mi], &As[wm + mi * 16 + (lane & 15)][kk + (lane >> 4) * 8]);
#pragma unroll
    for (int nj = 0; nj < 2; nj++) {
      uint32_t q[4];
      ldsm_x4(q, &Ws[wn + nj * 16 + (lane & 7) + ((lane >> 4) << 3)][kk + ((lane >> 3) & 1) * 8]);
      bfr[2 * nj][0] = q[0], bfr[2 * nj][1] = q[1], bfr[2 * nj + 1][0] = q[2], bfr[2 * nj + 1][1] = q[3];
    }
#pragma unroll
    for (int mi = 0; mi < 2; mi++)
#pragma unroll
      for (int ni = 0; ni < 4; ni++) mma16816(acc[mi][ni], af[mi], bfr[ni]);
  }

#pragma unroll
  for (int mi = 0; mi < 2; mi++)
#pragma unroll
    for (int half = 0; half < 2; half++) {
      const int mm = m0 + wm + mi * 16 + g + half * 8;
      if (mm >= M) continue;
#pragma unroll
      for (int ni = 0; ni < 4; ni++) {
        const int n = n0 + wn + ni * 8 + tq * 2;
        const float v0 = acc[mi][ni][half * 2], v1 = acc[mi][ni][half * 2 + 1];
        float* dst = c + (size_t)mm * N + n;
        if (n + 1 < N && (N & 1) == 0) *(float2*)dst = float2{v0, v1};
        else {
          if (n < N) dst[0] = v0;
          if (n + 1 < N) dst[1] = v1;
        }
      }
    }
}

// Plain GEMM for the generic op set (any transposes, batch strides, alpha, bias; B in f32 or
// bf16): dst[b][m][n] = alpha·Σ_k A(b,m,k)·B(b,k,n) + bias[n], A(b,m,k) = a[b·sa + m·sam +
// k·sak]. 16×16 tiles in shared memory; the model's linear layers use the tensor-core kernels.
template <typename TB>
__device__ __forceinline__ float ldb(const TB* p, size_t i);
template <>
__device__ __forceinline__ float ldb<float>(const float* p, size_t i) { return p[i]; }
template <>
__device__ __forceinline__ float ldb<bf16>(const bf16* p, size_t i) { return bf16_to_f32(p[i]); }

template <typename TB>
__device__ __forceinline__ void gemm_simt(const float* a, const TB* b, float* c, const float* bias, int M, int N,
                                          int K, long long sa, int sam, int sak, long long sb, int sbk, int sbn,
                                          float alpha) {
  __shared__ float ta[16][17], tb[16][17];
  const int tx = threadIdx.x & 15, ty = threadIdx.x >> 4;
  const int bz = blockIdx.z;
  const int m = blockIdx.y * 16 + ty, n = blockIdx.x * 16 + tx;
  const float* ab = a + bz * sa;
  const TB* bb = b + bz * sb;
  float acc = 0.f;
  for (int k0 = 0; k0 < K; k0 += 16) {
    const int ka = k0 + tx, kb = k0 + ty;
    const int mr = blockIdx.y * 16 + ty, nc = blockIdx.x * 16 + tx;
    ta[ty][tx] = (mr < M && ka < K) ? ab[(size_t)mr * sam + (size_t)ka * sak] : 0.f;
    tb[ty][tx] = (nc < N && kb < K) ? ldb<TB>(bb, (size_t)kb * sbk + (size_t)nc * sbn) : 0.f;
    __syncthreads();
#pragma unroll
    for (int k = 0; k < 16; k++) acc += ta[ty][k] * tb[k][tx];
    __syncthreads();
  }
  if (m < M && n < N) c[((size_t)bz * M + m) * N + n] = alpha * acc + (bias ? bias[n] : 0.f);
}

extern "C" __global__ void __launch_bounds__(256) gemm_f32(const float* a, const float* b, float* c,
                                                           const float* bias, int M, int N, int K,
                                                           long long sa, int sam, int sak, long long sb,
                                                           int sbk, int sbn, float alpha) {
  gemm_simt<float>(a, b, c, bias, M, N, K, sa, sam, sak, sb, sbk, sbn, alpha);
}

extern "C" __global__ void __launch_bounds__(256) gemm_f32_wbf16(const float* a, const bf16* b, float* c,
                                                                 const float* bias, int M, int N, int K,
                                                                 long long sa, int sam, int sak, long long sb,
                                                                 int sbk, int sbn, float alpha) {
  gemm_simt<bf16>(a, b, c, bias, M, N, K, sa, sam, sak, sb, sbk, sbn, alpha);
}
