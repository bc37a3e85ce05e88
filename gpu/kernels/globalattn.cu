// A global-attention level's attention half when a sample has at most 64 tokens (the whole
// sample is one attention tile), one block per (head, sample):
//   x += Σ_heads attention_head(rms(x)·scale[b] · Wqkvᵀ) · Wout[:, head]ᵀ
// Run as GemmNorm → Attention → GemmResidual it writes qkv and o to global memory and reads
// them back; attn_block (attnblock.cu) keeps a window in one block but walks its heads in
// sequence, which at the coarse levels (6 heads, few samples) leaves most SMs idle. Here each
// block gathers and normalises its sample's rows, projects q, k, v for its own head (192 Wqkv
// rows, streamed in NCH column chunks by cp.async so the first products start while the rest
// land), applies the q/k RMS norm and axial RoPE, attends over the sample (keys past the token
// count masked), and multiplies its head's output by its 64 columns of Wout. The heads' partial
// updates go to a workspace [heads][tokens][C] and global_attn_reduce adds them to x in head
// order (deterministic).
//
// 128 threads; warp w owns tokens 16w..16w+15 in every product, as attn_block.
#include "common.cuh"

#define T 64   // tokens per tile
#define D 64   // head_dim
#define SD 72  // padded row of k, vᵀ and the head's Wout columns (bf16)
#define NCH 4  // column chunks of the Wqkv load

// Shared memory (bytes), for the Go side (globalAttnShared): xs [64][C+8] then ws [192][C+8].
// After the q/k projection the head's Wout columns wo [C][72] take ws's q and k rows; after the
// v projection ks, vt [64][72] take xs.
#define GLOBAL_ATTN_SMEM(C) (2 * 256 * ((C) + 8))

struct GTok {
  int r, t;
};

__device__ __forceinline__ void cp_async_wait_n(int n) { // n folds to a constant once unrolled
  if (n <= 0) cp_async_wait<0>();
  else if (n == 1) cp_async_wait<1>();
  else if (n == 2) cp_async_wait<2>();
  else cp_async_wait<3>();
}

// g_qk_rope is attnblock.cu's qk_rope: per-head RMS norm (weight nw) times mul, then the axial
// RoPE (first 32 dims by the grid row, the rest by the column) on a warp's q or k accumulators.
__device__ __forceinline__ void g_qk_rope(float (*a)[4], const float* nw, const float2* rope, GTok t0, GTok t1,
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

// g_project: acc [16 × NT·8] = rows m0..m0+15 of xs · rows 0..NT·8 of wᵀ (K = C), times each
// row's 1/rms. WAIT: the columns arrive in NCH cp.async groups; wait for each before its use.
template <int C, int NT, bool WAIT>
__device__ __forceinline__ void g_project(float (*acc)[4], const bf16 (*xs)[C + 8], const bf16 (*w)[C + 8], int m0,
                                          int lane, float rs0, float rs1) {
  constexpr int KC = C / NCH;
#pragma unroll
  for (int i = 0; i < NT; i++) acc[i][0] = acc[i][1] = acc[i][2] = acc[i][3] = 0.f;
#pragma unroll
  for (int j = 0; j < NCH; j++) {
    if (WAIT) {
      cp_async_wait_n(NCH - 1 - j);
      __syncthreads(); // every thread's copies of chunk j landed
    }
#pragma unroll 2
    for (int kk = j * KC; kk < (j + 1) * KC; kk += 16) {
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
  }
#pragma unroll
  for (int i = 0; i < NT; i++) acc[i][0] *= rs0, acc[i][1] *= rs0, acc[i][2] *= rs1, acc[i][3] *= rs1;
}

template <int C>
__device__ __forceinline__ void global_attn(const float* x, const bf16* wqkv, const bf16* wout, const float* qn,
                                            const float* kn, const float2* rope, int H, int W, const float* scale,
                                            int scaleStride, float eps, float* part) {
  constexpr int P = C + 8; // padded row (≡ 16 mod 128 bytes: ldmatrix conflict-free)
  static_assert(C % (NCH * 16) == 0 && C % 128 == 0, "width");
  extern __shared__ __attribute__((aligned(16))) unsigned char smem_raw[];
  __shared__ float rs[T]; // each token's 1/rms(x)
  bf16(*xs)[P] = reinterpret_cast<bf16(*)[P]>(smem_raw); // [64][P] bf16(x·scale)
  bf16(*ws)[P] = xs + T;                                  // [192][P] the head's q, k, v rows of Wqkv
  bf16(*wo)[SD] = reinterpret_cast<bf16(*)[SD]>(ws);     // [C][SD] Wout[n][head·64 ..]: over ws's q, k rows
  bf16(*ks)[SD] = reinterpret_cast<bf16(*)[SD]>(xs);     // [64][SD] k, after the projections
  bf16(*vt)[SD] = ks + T;                                 // [64][SD] vᵀ

  const int head = blockIdx.x, b = blockIdx.z, N = H * W;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, tq = lane & 3;
  const int m0 = warp * 16;
  const float qmul = 0.125f * 1.4426950408889634f; // 1/sqrt(64), and exp → exp2

  // The head's Wqkv rows: row s·64 + d of ws ← Wqkv row s·C + head·64 + d, NCH column chunks.
#pragma unroll
  for (int j = 0; j < NCH; j++) {
    constexpr int K8 = C / NCH / 8; // 16-byte pieces per row and chunk
#pragma unroll 2
    for (int i = tid; i < 3 * D * K8; i += 128) {
      const int r = i / K8, c8 = j * K8 + (i - r * K8);
      cp_async16(&ws[r][c8 * 8], wqkv + (size_t)((r >> 6) * C + head * D + (r & 63)) * C + c8 * 8);
    }
    cp_async_commit();
  }

  // Gather and normalise the warp's own 16 rows, 4 at a time: a row's C/4 float4 spread over
  // the lanes. Tokens past N are zero rows (their q, k, v come out zero; keys are masked).
  {
    constexpr int F = C / 128; // float4 per lane and row
    const float* xb = x + (size_t)b * N * C;
    float4 sc[F];
#pragma unroll
    for (int f = 0; f < F; f++) sc[f] = *(const float4*)(scale + (size_t)b * scaleStride + (lane + 32 * f) * 4);
#pragma unroll
    for (int i0 = 0; i0 < 16; i0 += 4) {
      float4 v[4][F];
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int n = m0 + i0 + i;
#pragma unroll
        for (int f = 0; f < F; f++)
          v[i][f] = n < N ? *(const float4*)(xb + (size_t)n * C + (lane + 32 * f) * 4) : float4{0.f, 0.f, 0.f, 0.f};
      }
#pragma unroll
      for (int i = 0; i < 4; i++) {
        const int n = m0 + i0 + i;
        float ss = 0.f;
#pragma unroll
        for (int f = 0; f < F; f++) {
          const float4 a = v[i][f];
          ss += a.x * a.x + a.y * a.y + a.z * a.z + a.w * a.w;
          *(uint2*)&xs[n][(lane + 32 * f) * 4] =
              uint2{pack_bf16(a.x * sc[f].x, a.y * sc[f].y), pack_bf16(a.z * sc[f].z, a.w * sc[f].w)};
        }
        ss = warp_sum(ss);
        if (lane == 0) rs[n] = rsqrtf(ss / (float)C + eps);
      }
    }
  }
  const int n0 = m0 + g, n1 = m0 + g + 8;
  const int r0 = n0 < N ? n0 / W : 0, r1 = n1 < N ? n1 / W : 0;
  const GTok t0{r0, n0 < N ? n0 - r0 * W : 0}, t1{r1, n1 < N ? n1 - r1 * W : 0};
  asm volatile("bar.warp.sync 0xffffffff;" ::: "memory"); // __syncwarp: rs rows are the warp's own
  const float rs0 = rs[n0], rs1 = rs[n1];

  // q, k [16 × 128] = xs[m0..m0+16) · ws[0..128)ᵀ as the chunks land
  float acc[16][4];
  g_project<C, 16, true>(acc, xs, ws, m0, lane, rs0, rs1);
  g_qk_rope(acc, qn, rope, t0, t1, tq, eps, qmul);
  g_qk_rope(acc + 8, kn, rope, t0, t1, tq, eps, 1.f);
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
  __syncthreads(); // every warp is done with ws's q and k rows: the head's Wout columns go there
#pragma unroll 4
  for (int i = tid; i < C * 8; i += 128) {
    const int r = i >> 3, c8 = i & 7;
    cp_async16(&wo[r][c8 * 8], wout + (size_t)r * C + head * D + c8 * 8);
  }
  cp_async_commit();

  float va[8][4];
  g_project<C, 8, false>(va, xs, ws + 2 * D, m0, lane, rs0, rs1);
  __syncthreads(); // every warp is done with xs: ks and vt go there
#pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    const int c = nt * 8 + 2 * tq;
    *(uint32_t*)&ks[n0][c] = kf[nt][0];
    *(uint32_t*)&ks[n1][c] = kf[nt][1];
    const uint32_t v0 = pack_bf16(va[nt][0], va[nt][2]); // (d c, rows g, g+8)
    const uint32_t v1 = pack_bf16(va[nt][1], va[nt][3]); // (d c+1, rows g, g+8)
    vt[c][n0] = (bf16)(v0 & 0xffff);
    vt[c][n1] = (bf16)(v0 >> 16);
    vt[c + 1][n0] = (bf16)(v1 & 0xffff);
    vt[c + 1][n1] = (bf16)(v1 >> 16);
  }
  __syncthreads(); // ks, vt complete

  // s = q·kᵀ (already scaled by 1/8·log2 e), keys ≥ N masked, one-pass softmax, o = p·v
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
  if (N < T) {
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
      const int c = nt * 8 + 2 * tq;
      if (c >= N) s[nt][0] = s[nt][2] = NEG_INF;
      if (c + 1 >= N) s[nt][1] = s[nt][3] = NEG_INF;
    }
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
  uint32_t of[4][4]; // o / l as A fragments of the out projection
#pragma unroll
  for (int kk = 0; kk < 4; kk++) {
    of[kk][0] = pack_bf16(o[2 * kk][0] * l[0], o[2 * kk][1] * l[0]);
    of[kk][1] = pack_bf16(o[2 * kk][2] * l[1], o[2 * kk][3] * l[1]);
    of[kk][2] = pack_bf16(o[2 * kk + 1][0] * l[0], o[2 * kk + 1][1] * l[0]);
    of[kk][3] = pack_bf16(o[2 * kk + 1][2] * l[1], o[2 * kk + 1][3] * l[1]);
  }

  cp_async_wait<0>();
  __syncthreads(); // Wout columns landed
  // part[head][b·N + n][0..C) = o · wo[0..C)ᵀ (K = 64), 64 output columns at a time
  float* p0 = part + ((size_t)(head * gridDim.z + b) * N + n0) * C + 2 * tq;
  float* p1 = p0 + 8 * C;
#pragma unroll 1
  for (int nc = 0; nc < C; nc += 64) {
    float y[8][4];
#pragma unroll
    for (int i = 0; i < 8; i++) y[i][0] = y[i][1] = y[i][2] = y[i][3] = 0.f;
#pragma unroll
    for (int kk = 0; kk < 4; kk++)
#pragma unroll
      for (int nj = 0; nj < 4; nj++) {
        uint32_t r[4];
        ldsm_x4(r, &wo[nc + nj * 16 + (lane & 7) + ((lane >> 4) << 3)][kk * 16 + ((lane >> 3) & 1) * 8]);
        mma16816(y[2 * nj], of[kk], r);
        mma16816(y[2 * nj + 1], of[kk], r + 2);
      }
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
      if (n0 < N) *(float2*)(p0 + nc + nt * 8) = float2{y[nt][0], y[nt][1]};
      if (n1 < N) *(float2*)(p1 + nc + nt * 8) = float2{y[nt][2], y[nt][3]};
    }
  }
}

// part [C/64][B·H·W][C] ← each head's share of the attention half of x [B,H,W,C] (H·W ≤ 64
// tokens per sample, global attention); global_attn_reduce then adds it to x. wqkv [3C][C],
// wout [C][C] bf16; qn, kn [64]; rope (cos, sin) [max(H,W)][16]; scale rows scale +
// b·scaleStride. Grid: x = head, z = sample; 128 threads; GLOBAL_ATTN_SMEM(C) bytes dynamic.
#define GLOBAL_ATTN_KERNEL(C)                                                                                  \
  extern "C" __global__ void __launch_bounds__(128, 1) global_attn_c##C(                                       \
      const float* x, const bf16* wqkv, const bf16* wout, const float* qn, const float* kn, const float2* rope, \
      int H, int W, const float* scale, int scaleStride, float eps, float* part) {                             \
    global_attn<C>(x, wqkv, wout, qn, kn, rope, H, W, scale, scaleStride, eps, part);                          \
  }

GLOBAL_ATTN_KERNEL(256)
GLOBAL_ATTN_KERNEL(384)

// ---- Samples of 65..256 tokens (global_attn_long_c256) ----
// The same layer for samples of up to NMAX = 256 tokens. Grid: x = head, y = query split, z =
// sample; 128 threads, warp w owns rows 16w..16w+15 of every 64-token chunk. Each block keeps
// its head's 192 Wqkv rows resident and
//   1. walks the sample in 64-token chunks: normalises the chunk's x rows, projects k and v
//      (k RMS norm + RoPE) and keeps k [NMAX][72] and vᵀ [64][NMAX+8] for all tokens (bf16);
//   2. for each of its query tiles (tiles y, y + gridDim.y, …) normalises the tile's x rows
//      again, projects q, runs flash attention over the key tiles (online softmax, as
//      attention.cu) and writes the head's out-projection partial for those queries.
// The query split (gridDim.y) recomputes k and v per block but fills the GPU at small batch;
// every query row's arithmetic is the same whatever the split (bitwise).
#define NMAX 256
#define NP (NMAX + 8) // padded row of vᵀ
// Shared memory (bytes): xs [64][C+8], ws [192][C+8] (the head's Wout columns wo [C][72] take
// its k and v rows after step 1), ks [NMAX][72], vt [64][NP].
#define GLOBAL_ATTN_LONG_SMEM(C) (2 * (256 * ((C) + 8) + NMAX * SD + D * NP))

// g_gather: xs rows m0..m0+15 ← bf16(x rows tok0+m0.. · scale) (rows ≥ N zero), rs[m0..] ←
// their 1/rms. A warp's own rows only.
template <int C>
__device__ __forceinline__ void g_gather(bf16 (*xs)[C + 8], float* rs, const float* xb, const float4* sc, int N,
                                         int tok0, int m0, int lane, float eps) {
  constexpr int F = C / 128;
#pragma unroll
  for (int i0 = 0; i0 < 16; i0 += 4) {
    float4 v[4][F];
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int n = tok0 + m0 + i0 + i;
#pragma unroll
      for (int f = 0; f < F; f++)
        v[i][f] = n < N ? *(const float4*)(xb + (size_t)n * C + (lane + 32 * f) * 4) : float4{0.f, 0.f, 0.f, 0.f};
    }
#pragma unroll
    for (int i = 0; i < 4; i++) {
      const int m = m0 + i0 + i;
      float ss = 0.f;
#pragma unroll
      for (int f = 0; f < F; f++) {
        const float4 a = v[i][f];
        ss += a.x * a.x + a.y * a.y + a.z * a.z + a.w * a.w;
        *(uint2*)&xs[m][(lane + 32 * f) * 4] =
            uint2{pack_bf16(a.x * sc[f].x, a.y * sc[f].y), pack_bf16(a.z * sc[f].z, a.w * sc[f].w)};
      }
      ss = warp_sum(ss);
      if (lane == 0) rs[m] = rsqrtf(ss / (float)C + eps);
    }
  }
  asm volatile("bar.warp.sync 0xffffffff;" ::: "memory"); // __syncwarp: rows and rs are the warp's own
}

__device__ __forceinline__ GTok g_tok(int n, int N, int W) {
  const int r = n < N ? n / W : 0;
  return GTok{r, n < N ? n - r * W : 0};
}

template <int C>
__device__ __forceinline__ void global_attn_long(const float* x, const bf16* wqkv, const bf16* wout, const float* qn,
                                                 const float* kn, const float2* rope, int H, int W,
                                                 const float* scale, int scaleStride, float eps, float* part) {
  constexpr int P = C + 8;
  static_assert(C % (NCH * 16) == 0 && C % 128 == 0 && C * SD <= 128 * P, "width");
  extern __shared__ __attribute__((aligned(16))) unsigned char smem_raw[];
  __shared__ float rs[T];
  bf16(*xs)[P] = reinterpret_cast<bf16(*)[P]>(smem_raw);      // [64][P] bf16(x·scale) of a chunk
  bf16(*ws)[P] = xs + T;                                       // [192][P] the head's q, k, v rows of Wqkv
  bf16(*wo)[SD] = reinterpret_cast<bf16(*)[SD]>(ws + D);      // [C][SD] Wout columns, over ws's k, v rows
  bf16(*ks)[SD] = reinterpret_cast<bf16(*)[SD]>(ws + 3 * D);  // [NMAX][SD] k of every token
  bf16(*vt)[NP] = reinterpret_cast<bf16(*)[NP]>(ks + NMAX);   // [64][NP] vᵀ of every token

  const int head = blockIdx.x, b = blockIdx.z, N = H * W, nkt = (N + T - 1) / T;
  const int tid = threadIdx.x, lane = tid & 31, warp = tid >> 5, g = lane >> 2, tq = lane & 3;
  const int m0 = warp * 16;
  const float qmul = 0.125f * 1.4426950408889634f; // 1/sqrt(64), and exp → exp2
  const float* xb = x + (size_t)b * N * C;

#pragma unroll
  for (int j = 0; j < NCH; j++) {
    constexpr int K8 = C / NCH / 8;
#pragma unroll 2
    for (int i = tid; i < 3 * D * K8; i += 128) {
      const int r = i / K8, c8 = j * K8 + (i - r * K8);
      cp_async16(&ws[r][c8 * 8], wqkv + (size_t)((r >> 6) * C + head * D + (r & 63)) * C + c8 * 8);
    }
    cp_async_commit();
  }
  constexpr int F = C / 128;
  float4 sc[F];
#pragma unroll
  for (int f = 0; f < F; f++) sc[f] = *(const float4*)(scale + (size_t)b * scaleStride + (lane + 32 * f) * 4);

  // 1. k and vᵀ of every token, 64 at a time
#pragma unroll 1
  for (int ct = 0; ct < nkt; ct++) {
    const int tok0 = ct * T;
    g_gather<C>(xs, rs, xb, sc, N, tok0, m0, lane, eps);
    const int n0 = tok0 + m0 + g, n1 = n0 + 8;
    const float rs0 = rs[m0 + g], rs1 = rs[m0 + g + 8];
    float acc[16][4]; // k | v
    if (ct == 0) g_project<C, 16, true>(acc, xs, ws + D, m0, lane, rs0, rs1);
    else g_project<C, 16, false>(acc, xs, ws + D, m0, lane, rs0, rs1);
    g_qk_rope(acc, kn, rope, g_tok(n0, N, W), g_tok(n1, N, W), tq, eps, 1.f);
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
      const int c = nt * 8 + 2 * tq;
      *(uint32_t*)&ks[n0][c] = pack_bf16(acc[nt][0], acc[nt][1]);
      *(uint32_t*)&ks[n1][c] = pack_bf16(acc[nt][2], acc[nt][3]);
      const uint32_t v0 = pack_bf16(acc[8 + nt][0], acc[8 + nt][2]); // (d c, rows g, g+8)
      const uint32_t v1 = pack_bf16(acc[8 + nt][1], acc[8 + nt][3]); // (d c+1, rows g, g+8)
      vt[c][n0] = (bf16)(v0 & 0xffff);
      vt[c][n1] = (bf16)(v0 >> 16);
      vt[c + 1][n0] = (bf16)(v1 & 0xffff);
      vt[c + 1][n1] = (bf16)(v1 >> 16);
    }
  }
  __syncthreads(); // ks, vt complete; every warp is done with ws's k and v rows: Wout goes there
#pragma unroll 4
  for (int i = tid; i < C * 8; i += 128) {
    const int r = i >> 3, c8 = i & 7;
    cp_async16(&wo[r][c8 * 8], wout + (size_t)r * C + head * D + c8 * 8);
  }
  cp_async_commit();

  // 2. the block's query tiles
  bool first = true;
#pragma unroll 1
  for (int qt = blockIdx.y; qt < nkt; qt += gridDim.y) {
    const int tok0 = qt * T;
    g_gather<C>(xs, rs, xb, sc, N, tok0, m0, lane, eps);
    const int n0 = tok0 + m0 + g, n1 = n0 + 8;
    uint32_t qf[4][4];
    {
      float acc[8][4];
      g_project<C, 8, false>(acc, xs, ws, m0, lane, rs[m0 + g], rs[m0 + g + 8]);
      g_qk_rope(acc, qn, rope, g_tok(n0, N, W), g_tok(n1, N, W), tq, eps, qmul);
#pragma unroll
      for (int kk = 0; kk < 4; kk++) {
        qf[kk][0] = pack_bf16(acc[2 * kk][0], acc[2 * kk][1]);
        qf[kk][1] = pack_bf16(acc[2 * kk][2], acc[2 * kk][3]);
        qf[kk][2] = pack_bf16(acc[2 * kk + 1][0], acc[2 * kk + 1][1]);
        qf[kk][3] = pack_bf16(acc[2 * kk + 1][2], acc[2 * kk + 1][3]);
      }
    }
    float o[8][4];
#pragma unroll
    for (int i = 0; i < 8; i++) o[i][0] = o[i][1] = o[i][2] = o[i][3] = 0.f;
    float mx[2] = {NEG_INF, NEG_INF}, l[2] = {0.f, 0.f};
#pragma unroll 1
    for (int kt = 0; kt < nkt; kt++) {
      const int k0 = kt * T;
      float s[8][4];
#pragma unroll
      for (int i = 0; i < 8; i++) s[i][0] = s[i][1] = s[i][2] = s[i][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < 4; kk++)
#pragma unroll
        for (int nj = 0; nj < 4; nj++) {
          uint32_t r[4];
          ldsm_x4(r, &ks[k0 + nj * 16 + (lane & 7) + ((lane >> 4) << 3)][kk * 16 + ((lane >> 3) & 1) * 8]);
          mma16816(s[2 * nj], qf[kk], r);
          mma16816(s[2 * nj + 1], qf[kk], r + 2);
        }
      const int valid = N - k0; // mask keys past the end of the sample
      if (valid < T) {
#pragma unroll
        for (int nt = 0; nt < 8; nt++) {
          const int c = nt * 8 + 2 * tq;
          if (c >= valid) s[nt][0] = s[nt][2] = NEG_INF;
          if (c + 1 >= valid) s[nt][1] = s[nt][3] = NEG_INF;
        }
      }
      float tm[2] = {NEG_INF, NEG_INF};
#pragma unroll
      for (int nt = 0; nt < 8; nt++) {
        tm[0] = fmaxf(tm[0], fmaxf(s[nt][0], s[nt][1]));
        tm[1] = fmaxf(tm[1], fmaxf(s[nt][2], s[nt][3]));
      }
      float alpha[2];
#pragma unroll
      for (int h = 0; h < 2; h++) {
        tm[h] = fmaxf(tm[h], shfl_xor(tm[h], 1));
        tm[h] = fmaxf(tm[h], shfl_xor(tm[h], 2));
        const float mnew = fmaxf(mx[h], tm[h]); // finite: every key tile has a valid key
        alpha[h] = fast_exp2(mx[h] - mnew);
        mx[h] = mnew;
        l[h] *= alpha[h];
      }
#pragma unroll
      for (int nt = 0; nt < 8; nt++) {
        s[nt][0] = fast_exp2(s[nt][0] - mx[0]);
        s[nt][1] = fast_exp2(s[nt][1] - mx[0]);
        s[nt][2] = fast_exp2(s[nt][2] - mx[1]);
        s[nt][3] = fast_exp2(s[nt][3] - mx[1]);
        l[0] += s[nt][0] + s[nt][1];
        l[1] += s[nt][2] + s[nt][3];
        o[nt][0] *= alpha[0], o[nt][1] *= alpha[0];
        o[nt][2] *= alpha[1], o[nt][3] *= alpha[1];
      }
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
          ldsm_x4(r, &vt[nj * 16 + (lane & 7) + ((lane >> 4) << 3)][k0 + kk * 16 + ((lane >> 3) & 1) * 8]);
          mma16816(o[2 * nj], pa, r);
          mma16816(o[2 * nj + 1], pa, r + 2);
        }
      }
    }
#pragma unroll
    for (int i = 0; i < 2; i++) {
      l[i] += shfl_xor(l[i], 1);
      l[i] += shfl_xor(l[i], 2);
      l[i] = 1.f / l[i];
    }
    uint32_t of[4][4];
#pragma unroll
    for (int kk = 0; kk < 4; kk++) {
      of[kk][0] = pack_bf16(o[2 * kk][0] * l[0], o[2 * kk][1] * l[0]);
      of[kk][1] = pack_bf16(o[2 * kk][2] * l[1], o[2 * kk][3] * l[1]);
      of[kk][2] = pack_bf16(o[2 * kk + 1][0] * l[0], o[2 * kk + 1][1] * l[0]);
      of[kk][3] = pack_bf16(o[2 * kk + 1][2] * l[1], o[2 * kk + 1][3] * l[1]);
    }
    if (first) { // block-uniform
      cp_async_wait<0>();
      __syncthreads(); // Wout columns landed
      first = false;
    }
    float* p0 = part + ((size_t)(head * gridDim.z + b) * N + n0) * C + 2 * tq;
    float* p1 = p0 + 8 * C;
#pragma unroll 1
    for (int nc = 0; nc < C; nc += 64) {
      float y[8][4];
#pragma unroll
      for (int i = 0; i < 8; i++) y[i][0] = y[i][1] = y[i][2] = y[i][3] = 0.f;
#pragma unroll
      for (int kk = 0; kk < 4; kk++)
#pragma unroll
        for (int nj = 0; nj < 4; nj++) {
          uint32_t r[4];
          ldsm_x4(r, &wo[nc + nj * 16 + (lane & 7) + ((lane >> 4) << 3)][kk * 16 + ((lane >> 3) & 1) * 8]);
          mma16816(y[2 * nj], of[kk], r);
          mma16816(y[2 * nj + 1], of[kk], r + 2);
        }
#pragma unroll
      for (int nt = 0; nt < 8; nt++) {
        if (n0 < N) *(float2*)(p0 + nc + nt * 8) = float2{y[nt][0], y[nt][1]};
        if (n1 < N) *(float2*)(p1 + nc + nt * 8) = float2{y[nt][2], y[nt][3]};
      }
    }
  }
  cp_async_wait<0>(); // a block without query tiles still drains its copies
}

// part as global_attn_c##C for samples of 1..NMAX tokens (meant for 65..NMAX). Grid: x = head,
// y = query split (1..⌈H·W/64⌉), z = sample; 128 threads; GLOBAL_ATTN_LONG_SMEM(C) bytes dynamic.
#define GLOBAL_ATTN_LONG_KERNEL(C)                                                                              \
  extern "C" __global__ void __launch_bounds__(128, 1) global_attn_long_c##C(                                  \
      const float* x, const bf16* wqkv, const bf16* wout, const float* qn, const float* kn, const float2* rope, \
      int H, int W, const float* scale, int scaleStride, float eps, float* part) {                             \
    global_attn_long<C>(x, wqkv, wout, qn, kn, rope, H, W, scale, scaleStride, eps, part);                     \
  }

GLOBAL_ATTN_LONG_KERNEL(256)

// x [n4 float4] += Σ_z part[z] for z = 0..S-1 in order (deterministic): the heads' partials.
extern "C" __global__ void __launch_bounds__(256) global_attn_reduce(float* x, const float* part, long long n4, int S) {
  const long long i = (long long)blockIdx.x * blockDim.x + threadIdx.x;
  if (i >= n4) return;
  float4 a = ((const float4*)x)[i];
  for (int z = 0; z < S; z++) {
    const float4 p = ((const float4*)part)[z * n4 + i];
    a.x += p.x, a.y += p.y, a.z += p.z, a.w += p.w;
  }
  ((float4*)x)[i] = a;
}
