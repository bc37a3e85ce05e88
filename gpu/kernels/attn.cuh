// Attention building blocks shared by attention.cu, attnblock.cu and globalattn.cu: one warp
// owns 16 query rows (g, g+8 of an m16n8 accumulator), head_dim 64, keys in 64-token tiles.
// Scores are pre-scaled by 1/8·log2 e, so softmax uses exp2.
#pragma once
#include "common.cuh"

#define T 64  // tokens per tile
#define D 64  // head_dim
#define SD 72 // padded shared row of k, vᵀ (bf16; 144 bytes ≡ 16 mod 128: ldmatrix conflict-free)

struct Pos { // a token's grid position (RoPE: dims 0–31 rotate by r, 32–63 by t)
  int r, t;
};

__device__ __forceinline__ void zero_acc(float (*a)[4], int n) {
#pragma unroll
  for (int i = 0; i < n; i++) a[i][0] = a[i][1] = a[i][2] = a[i][3] = 0.f;
}

// a_frag packs accumulator tiles a[0], a[1] (m16n8) into one m16k16 A fragment.
__device__ __forceinline__ void a_frag(uint32_t* f, const float (*a)[4]) {
  f[0] = pack_bf16(a[0][0], a[0][1]);
  f[1] = pack_bf16(a[0][2], a[0][3]);
  f[2] = pack_bf16(a[1][0], a[1][1]);
  f[3] = pack_bf16(a[1][2], a[1][3]);
}

// a_frag_scaled is a_frag of rows g times l0 and rows g+8 times l1.
__device__ __forceinline__ void a_frag_scaled(uint32_t* f, const float (*a)[4], float l0, float l1) {
  f[0] = pack_bf16(a[0][0] * l0, a[0][1] * l0);
  f[1] = pack_bf16(a[0][2] * l1, a[0][3] * l1);
  f[2] = pack_bf16(a[1][0] * l0, a[1][1] * l0);
  f[3] = pack_bf16(a[1][2] * l1, a[1][3] * l1);
}

// q_frags packs q accumulators a[0..8) as the A fragments of q·kᵀ (k = head dims).
__device__ __forceinline__ void q_frags(uint32_t (*qf)[4], const float (*a)[4]) {
#pragma unroll
  for (int kk = 0; kk < 4; kk++) a_frag(qf[kk], a + 2 * kk);
}

// k_pack packs k accumulators a[0..8) as bf16 pairs (row g, row g+8) for store_k.
__device__ __forceinline__ void k_pack(uint32_t (*kf)[2], const float (*a)[4]) {
#pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    kf[nt][0] = pack_bf16(a[nt][0], a[nt][1]);
    kf[nt][1] = pack_bf16(a[nt][2], a[nt][3]);
  }
}

// qk_rope applies the per-head RMS norm (weight nw) times mul and the axial RoPE to one warp's
// q or k accumulators a[nt] (dims nt·8 + 2tq + {0,1}; [0..1] row g at t0, [2..3] row g+8 at
// t1). The 4 threads of a row hold all 64 dims; RoPE's pairs (j, j+16) inside each 32-dim half
// are tiles nt and nt+2 of the same thread.
__device__ __forceinline__ void qk_rope(float (*a)[4], const float* nw, const float2* rope, Pos t0, Pos t1, int tq,
                                        float eps, float mul) {
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

// store_k writes packed k rows n0, n1 (kf[nt] = dims nt·8 + 2tq + {0,1}) to ks.
__device__ __forceinline__ void store_k(bf16 (*ks)[SD], const uint32_t (*kf)[2], int n0, int n1, int tq) {
#pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    const int c = nt * 8 + 2 * tq;
    *(uint32_t*)&ks[n0][c] = kf[nt][0];
    *(uint32_t*)&ks[n1][c] = kf[nt][1];
  }
}

// store_vt writes v accumulators of tokens n0, n1 transposed (vt[d][token]: P·V's B operand).
template <int VP>
__device__ __forceinline__ void store_vt(bf16 (*vt)[VP], const float (*va)[4], int n0, int n1, int tq) {
#pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    const int c = nt * 8 + 2 * tq;
    const uint32_t v0 = pack_bf16(va[nt][0], va[nt][2]); // (d c, rows g, g+8)
    const uint32_t v1 = pack_bf16(va[nt][1], va[nt][3]); // (d c+1, rows g, g+8)
    vt[c][n0] = (bf16)(v0 & 0xffff);
    vt[c][n1] = (bf16)(v0 >> 16);
    vt[c + 1][n0] = (bf16)(v1 & 0xffff);
    vt[c + 1][n1] = (bf16)(v1 >> 16);
  }
}

__device__ __forceinline__ void cp_async_wait_n(int n) { // n folds to a constant once unrolled
  if (n <= 0) cp_async_wait<0>();
  else if (n == 1) cp_async_wait<1>();
  else if (n == 2) cp_async_wait<2>();
  else cp_async_wait<3>();
}

// project: acc [16 × NT·8] = rows m0..m0+15 of xs · rows 0..NT·8 of wᵀ (K = C), times each
// row's 1/rms (rs0 row g, rs1 row g+8). WAIT: w's columns arrive in NCH cp.async groups (one
// per C/NCH columns); wait for each before its use.
template <int C, int NT, int NCH, bool WAIT>
__device__ __forceinline__ void project(float (*acc)[4], const bf16 (*xs)[C + 8], const bf16 (*w)[C + 8], int m0,
                                        int lane, float rs0, float rs1) {
  constexpr int KC = C / NCH;
  zero_acc(acc, NT);
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

// qk_scores: s [16 × 64] = q · ks[0..64)ᵀ.
__device__ __forceinline__ void qk_scores(float (*s)[4], const uint32_t (*qf)[4], const bf16 (*ks)[SD], int lane) {
  zero_acc(s, 8);
#pragma unroll
  for (int kk = 0; kk < 4; kk++)
#pragma unroll
    for (int nj = 0; nj < 4; nj++) {
      uint32_t r[4];
      ldsm_x4(r, &ks[nj * 16 + (lane & 7) + ((lane >> 4) << 3)][kk * 16 + ((lane >> 3) & 1) * 8]);
      mma16816(s[2 * nj], qf[kk], r);
      mma16816(s[2 * nj + 1], qf[kk], r + 2);
    }
}

// mask_keys sets the scores of keys ≥ valid (tile-relative) to -inf.
__device__ __forceinline__ void mask_keys(float (*s)[4], int valid, int tq) {
  if (valid < T) {
#pragma unroll
    for (int nt = 0; nt < 8; nt++) {
      const int c = nt * 8 + 2 * tq;
      if (c >= valid) s[nt][0] = s[nt][2] = NEG_INF;
      if (c + 1 >= valid) s[nt][1] = s[nt][3] = NEG_INF;
    }
  }
}

// row_max: m ← the max of rows g (m[0]) and g+8 (m[1]) of s over the tile.
__device__ __forceinline__ void row_max(const float (*s)[4], float* m) {
  m[0] = m[1] = NEG_INF;
#pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    m[0] = fmaxf(m[0], fmaxf(s[nt][0], s[nt][1]));
    m[1] = fmaxf(m[1], fmaxf(s[nt][2], s[nt][3]));
  }
#pragma unroll
  for (int i = 0; i < 2; i++) {
    m[i] = fmaxf(m[i], shfl_xor(m[i], 1));
    m[i] = fmaxf(m[i], shfl_xor(m[i], 2));
  }
}

// exp_rows: s ← exp2(s − mx) and l += this thread's row sums.
__device__ __forceinline__ void exp_rows(float (*s)[4], const float* mx, float* l) {
#pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    s[nt][0] = fast_exp2(s[nt][0] - mx[0]);
    s[nt][1] = fast_exp2(s[nt][1] - mx[0]);
    s[nt][2] = fast_exp2(s[nt][2] - mx[1]);
    s[nt][3] = fast_exp2(s[nt][3] - mx[1]);
    l[0] += s[nt][0] + s[nt][1];
    l[1] += s[nt][2] + s[nt][3];
  }
}

// softmax_tile: s ← exp2(s − row max) for a single key tile; l ← this thread's row sums.
__device__ __forceinline__ void softmax_tile(float (*s)[4], float* l) {
  float mx[2];
  row_max(s, mx);
  l[0] = l[1] = 0.f;
  exp_rows(s, mx, l);
}

// softmax_online: one key tile of flash attention. Raises the running max mx, rescales the
// running sums l and the output o by exp2(old − new), and s ← exp2(s − mx). Every tile must
// hold a valid key (mx stays finite).
__device__ __forceinline__ void softmax_online(float (*s)[4], float* mx, float* l, float (*o)[4]) {
  float tm[2], alpha[2];
  row_max(s, tm);
#pragma unroll
  for (int h = 0; h < 2; h++) {
    const float mnew = fmaxf(mx[h], tm[h]);
    alpha[h] = fast_exp2(mx[h] - mnew);
    mx[h] = mnew;
    l[h] *= alpha[h];
  }
  exp_rows(s, mx, l);
#pragma unroll
  for (int nt = 0; nt < 8; nt++) {
    o[nt][0] *= alpha[0], o[nt][1] *= alpha[0];
    o[nt][2] *= alpha[1], o[nt][3] *= alpha[1];
  }
}

// pv: o += bf16(p) · v over keys k0..k0+63, vt [64][VP] = vᵀ. LDSM = false reads the B
// fragments with 32-bit loads instead of ldmatrix (attention.cu: 128 registers, not 136).
template <int VP, bool LDSM = true>
__device__ __forceinline__ void pv(float (*o)[4], const float (*s)[4], const bf16 (*vt)[VP], int k0, int lane) {
  const int g = lane >> 2, tq = lane & 3;
#pragma unroll
  for (int kk = 0; kk < 4; kk++) {
    uint32_t pa[4];
    a_frag(pa, s + 2 * kk);
#pragma unroll
    for (int nj = 0; nj < 4; nj++) {
      uint32_t r[4];
      if (LDSM) {
        ldsm_x4(r, &vt[nj * 16 + (lane & 7) + ((lane >> 4) << 3)][k0 + kk * 16 + ((lane >> 3) & 1) * 8]);
      } else {
        r[0] = *(const uint32_t*)&vt[nj * 16 + g][k0 + kk * 16 + tq * 2];
        r[1] = *(const uint32_t*)&vt[nj * 16 + g][k0 + kk * 16 + 8 + tq * 2];
        r[2] = *(const uint32_t*)&vt[nj * 16 + 8 + g][k0 + kk * 16 + tq * 2];
        r[3] = *(const uint32_t*)&vt[nj * 16 + 8 + g][k0 + kk * 16 + 8 + tq * 2];
      }
      mma16816(o[2 * nj], pa, r);
      mma16816(o[2 * nj + 1], pa, r + 2);
    }
  }
}

// inv_rowsum: l ← 1 / (the row's sum over its 4 threads).
__device__ __forceinline__ void inv_rowsum(float* l) {
#pragma unroll
  for (int i = 0; i < 2; i++) {
    l[i] += shfl_xor(l[i], 1);
    l[i] += shfl_xor(l[i], 2);
    l[i] = 1.f / l[i];
  }
}

// o_frags: of ← bf16(o / l) as the A fragments of the out projection (l from inv_rowsum).
__device__ __forceinline__ void o_frags(uint32_t (*of)[4], const float (*o)[4], const float* l) {
#pragma unroll
  for (int kk = 0; kk < 4; kk++) a_frag_scaled(of[kk], o + 2 * kk, l[0], l[1]);
}
