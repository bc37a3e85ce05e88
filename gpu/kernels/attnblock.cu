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
// shared memory), stores vᵀ, and runs the single-tile softmax (attn.cuh). After the last head the out projection
// takes the heads' outputs from registers with Wout in shared memory, and the residual goes
// to each token's own (unshifted) position.
#include "attn.cuh"

// Shared memory (bytes), for the Go side (attnBlockShared): xs [64][C+8] then ws [192][C+8];
// one head: ks, vt [64][72] alias ws (free after the projection) and Wout [64][72] goes into
// xs; two heads: ws takes the next head's rows during attention, so ks and vt follow it and
// Wout [128][C+8] spans xs and ws.
#define ATTN_BLOCK_SMEM(NH) (2 * (256 * (NH * 64 + 8) + (NH > 1 ? 2 * T * SD : 0)))

// tok maps token n of window `tile` (row-major over the shifted grid) to its grid position:
// shifted[r][t] = x[(r+sh) mod H][(t+sw) mod W], as attention.cu.
__device__ __forceinline__ Pos tok(int tile, int n, int H, int W, int wh, int ww, int sh, int sw) {
  const int nwx = W / ww, wy = tile / nwx, wx = tile - wy * nwx;
  const int ty = n / ww, tx = n - ty * ww;
  return Pos{(wy * wh + ty + sh) % H, (wx * ww + tx + sw) % W};
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
      const Pos tk = tok(tile, m0 + i * RPI + sub, H, W, wh, ww, sh, sw);
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
  const Pos t0 = tok(tile, m0 + g, H, W, wh, ww, sh, sw), t1 = tok(tile, m0 + g + 8, H, W, wh, ww, sh, sw);
  asm volatile("bar.warp.sync 0xffffffff;" ::: "memory"); // __syncwarp: rs rows are the warp's own
  const float rs0 = rs[m0 + g], rs1 = rs[m0 + g + 8];

  uint32_t of[NH][4][4]; // each head's output (o / l) as A fragments of the out projection
#pragma unroll
  for (int h = 0; h < NH; h++) {
    cp_async_wait<0>();
    __syncthreads(); // the head's Wqkv rows landed; the previous head's ks, vt are free

    // q, k [16 × 128] = xs[m0..m0+16) · ws[0..128)ᵀ, then v in a second pass over xs
    float acc[16][4];
    project<C, 16, 1, false>(acc, xs, ws, m0, lane, rs0, rs1);
    qk_rope(acc, qn, rope, t0, t1, tq, eps, qmul);
    qk_rope(acc + 8, kn, rope, t0, t1, tq, eps, 1.f);
    uint32_t qf[4][4], kf[8][2];
    q_frags(qf, acc);
    k_pack(kf, acc + 8);
    float va[8][4];
    project<C, 8, 1, false>(va, xs, ws + 2 * D, m0, lane, rs0, rs1);
    __syncthreads(); // every warp is done with ws (and, for the last head, xs)
    if (h + 1 < NH) load_qkv(h + 1);
    else load_out();
    store_k(ks, kf, m0 + g, m0 + g + 8, tq);
    store_vt<SD>(vt, va, m0 + g, m0 + g + 8, tq);
    __syncthreads(); // ks, vt complete

    // s = q·kᵀ (already scaled by 1/8·log2 e), one-pass softmax, o = p·v
    float s[8][4], l[2], o[8][4];
    qk_scores(s, qf, ks, lane);
    softmax_tile(s, l);
    zero_acc(o, 8);
    pv<SD>(o, s, vt, 0, lane);
    inv_rowsum(l);
    o_frags(of[h], o, l);
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
    const Pos tk = half == 0 ? t0 : t1;
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
