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
// updates go to a workspace [heads][tokens][C] and sum_partials (misc.cu) adds them to x in
// head order (deterministic).
//
// 128 threads; warp w owns tokens 16w..16w+15 in every product, as attn_block.
#include "attn.cuh"

#define NCH 4 // column chunks of the Wqkv load

// Shared memory (bytes), for the Go side (globalAttnShared): xs [64][C+8] then ws [192][C+8].
// After the q/k projection the head's Wout columns wo [C][72] take ws's q and k rows; after the
// v projection ks, vt [64][72] take xs.
#define GLOBAL_ATTN_SMEM(C) (2 * 256 * ((C) + 8))

// load_wqkv: row s·64 + d of ws ← Wqkv row s·C + head·64 + d, in NCH cp.async groups of
// C/NCH columns (project<C, NT, NCH, true> waits for each).
template <int C>
__device__ __forceinline__ void load_wqkv(bf16 (*ws)[C + 8], const bf16* wqkv, int head, int tid) {
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
}

// load_wout: wo [C][SD] ← the head's 64 columns of Wout, one cp.async group.
template <int C>
__device__ __forceinline__ void load_wout(bf16 (*wo)[SD], const bf16* wout, int head, int tid) {
#pragma unroll 4
  for (int i = tid; i < C * 8; i += 128) {
    const int r = i >> 3, c8 = i & 7;
    cp_async16(&wo[r][c8 * 8], wout + (size_t)r * C + head * D + c8 * 8);
  }
  cp_async_commit();
}

// g_gather: xs rows m0..m0+15 ← bf16(x rows tok0+m0.. · scale) (rows ≥ N zero), rs[m0..] ←
// their 1/rms: 4 rows at a time, a row's C/4 float4 spread over the lanes. A warp's own rows.
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

// g_tok: token n's grid position (row-major; tokens past N at 0, 0).
__device__ __forceinline__ Pos g_tok(int n, int N, int W) {
  const int r = n < N ? n / W : 0;
  return Pos{r, n < N ? n - r * W : 0};
}

// out_partial: rows n0 (at p0) and n1 (at p1) of the head's partial ← o · wo[0..C)ᵀ (K = 64),
// 64 output columns at a time; rows ≥ N are not written.
template <int C>
__device__ __forceinline__ void out_partial(float* p0, float* p1, const bf16 (*wo)[SD], const uint32_t (*of)[4],
                                            int n0, int n1, int N, int lane) {
#pragma unroll 1
  for (int nc = 0; nc < C; nc += 64) {
    float y[8][4];
    zero_acc(y, 8);
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

  load_wqkv<C>(ws, wqkv, head, tid);

  // Gather and normalise the warp's own 16 rows. Tokens past N are zero rows (their q, k, v
  // come out zero; keys are masked).
  {
    constexpr int F = C / 128; // float4 per lane and row
    float4 sc[F];
#pragma unroll
    for (int f = 0; f < F; f++) sc[f] = *(const float4*)(scale + (size_t)b * scaleStride + (lane + 32 * f) * 4);
    g_gather<C>(xs, rs, x + (size_t)b * N * C, sc, N, 0, m0, lane, eps);
  }
  const int n0 = m0 + g, n1 = m0 + g + 8;
  const Pos t0 = g_tok(n0, N, W), t1 = g_tok(n1, N, W);
  const float rs0 = rs[n0], rs1 = rs[n1];

  // q, k [16 × 128] = xs[m0..m0+16) · ws[0..128)ᵀ as the chunks land
  float acc[16][4];
  project<C, 16, NCH, true>(acc, xs, ws, m0, lane, rs0, rs1);
  qk_rope(acc, qn, rope, t0, t1, tq, eps, qmul);
  qk_rope(acc + 8, kn, rope, t0, t1, tq, eps, 1.f);
  uint32_t qf[4][4], kf[8][2];
  q_frags(qf, acc);
  k_pack(kf, acc + 8);
  __syncthreads(); // every warp is done with ws's q and k rows: the head's Wout columns go there
  load_wout<C>(wo, wout, head, tid);

  float va[8][4];
  project<C, 8, NCH, false>(va, xs, ws + 2 * D, m0, lane, rs0, rs1);
  __syncthreads(); // every warp is done with xs: ks and vt go there
  store_k(ks, kf, n0, n1, tq);
  store_vt<SD>(vt, va, n0, n1, tq);
  __syncthreads(); // ks, vt complete

  // s = q·kᵀ (already scaled by 1/8·log2 e), keys ≥ N masked, one-pass softmax, o = p·v
  float s[8][4], l[2], o[8][4];
  qk_scores(s, qf, ks, lane);
  mask_keys(s, N, tq);
  softmax_tile(s, l);
  zero_acc(o, 8);
  pv<SD>(o, s, vt, 0, lane);
  inv_rowsum(l);
  uint32_t of[4][4]; // o / l as A fragments of the out projection
  o_frags(of, o, l);

  cp_async_wait<0>();
  __syncthreads(); // Wout columns landed
  // part[head][b·N + n][0..C)
  float* p0 = part + ((size_t)(head * gridDim.z + b) * N + n0) * C + 2 * tq;
  out_partial<C>(p0, p0 + 8 * C, wo, of, n0, n1, N, lane);
}

// part [C/64][B·H·W][C] ← each head's share of the attention half of x [B,H,W,C] (H·W ≤ 64
// tokens per sample, global attention); sum_partials then adds it to x. wqkv [3C][C],
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

  load_wqkv<C>(ws, wqkv, head, tid);
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
    if (ct == 0) project<C, 16, NCH, true>(acc, xs, ws + D, m0, lane, rs0, rs1);
    else project<C, 16, NCH, false>(acc, xs, ws + D, m0, lane, rs0, rs1);
    qk_rope(acc, kn, rope, g_tok(n0, N, W), g_tok(n1, N, W), tq, eps, 1.f);
    uint32_t kf[8][2];
    k_pack(kf, acc);
    store_k(ks, kf, n0, n1, tq);
    store_vt<NP>(vt, acc + 8, n0, n1, tq);
  }
  __syncthreads(); // ks, vt complete; every warp is done with ws's k and v rows: Wout goes there
  load_wout<C>(wo, wout, head, tid);

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
      project<C, 8, NCH, false>(acc, xs, ws, m0, lane, rs[m0 + g], rs[m0 + g + 8]);
      qk_rope(acc, qn, rope, g_tok(n0, N, W), g_tok(n1, N, W), tq, eps, qmul);
      q_frags(qf, acc);
    }
    float o[8][4], mx[2] = {NEG_INF, NEG_INF}, l[2] = {0.f, 0.f};
    zero_acc(o, 8);
#pragma unroll 1
    for (int kt = 0; kt < nkt; kt++) {
      const int k0 = kt * T;
      float s[8][4];
      qk_scores(s, qf, ks + k0, lane);
      mask_keys(s, N - k0, tq);    // keys past the end of the sample
      softmax_online(s, mx, l, o); // mx stays finite: every key tile has a valid key
      pv<NP>(o, s, vt, k0, lane);
    }
    inv_rowsum(l);
    uint32_t of[4][4];
    o_frags(of, o, l);
    if (first) { // block-uniform
      cp_async_wait<0>();
      __syncthreads(); // Wout columns landed
      first = false;
    }
    float* p0 = part + ((size_t)(head * gridDim.z + b) * N + n0) * C + 2 * tq;
    out_partial<C>(p0, p0 + 8 * C, wo, of, n0, n1, N, lane);
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
