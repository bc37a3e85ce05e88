package cpu

import "latentstudio/gpu"

// attnBlock is the number of query rows whose scores are held at once.
const attnBlock = 64

// Attention implements gpu.Kernels: for each (batch, head) and block of up to 64 queries, the
// scores S = q·kᵀ·scale come from the GEMM, the softmax runs in place on S, and S·v is another
// GEMM, so only a 64×Lk block of scores ever exists.
func (b *Backend) Attention(dst, q, k, v *gpu.Tensor, scale float32) error {
	Q, K, V, O := f32(q), f32(k), f32(v), f32(dst)
	bh := q.Dim(0) * q.Dim(1)
	lq, d, lk, dv := q.Dim(2), q.Dim(3), k.Dim(2), v.Dim(3)
	blocks := (lq + attnBlock - 1) / attnBlock
	unit := ones(dv)
	b.pool.run(bh*blocks, func(t int) {
		h, blk := t/blocks, t%blocks
		r0 := blk * attnBlock
		rows := min(attnBlock, lq-r0)
		sp := getBuf(rows * lk)
		S := *sp
		qm := matrix{d: Q[(h*lq+r0)*d : (h*lq+r0+rows)*d], rs: d, cs: 1}
		km := matrix{d: K[h*lk*d : (h+1)*lk*d], rs: 1, cs: d} // kᵀ: element (e, j) = k[j][e]
		kr := b.kern.forRows(rows)
		gemm(nil, kr, rows, lk, d, 1, qm, km, S, lk, nil) // alpha 1 keeps q unpacked; scale goes into the softmax
		var inv [attnBlock]float32
		for r := range rows {
			row := S[r*lk : (r+1)*lk]
			inv[r] = 1 / expSumRow(row, rowMax(row, b.kern.simd), scale, b.kern.simd)
		}
		vm := matrix{d: V[h*lk*dv : (h+1)*lk*dv], rs: dv, cs: 1}
		out := O[(h*lq+r0)*dv : (h*lq+r0+rows)*dv]
		gemm(nil, kr, rows, dv, lk, 1, matrix{d: S, rs: lk, cs: 1}, vm, out, dv, nil)
		// normalise the dv outputs of a row rather than its lk probabilities
		for r := range rows {
			o := out[r*dv : (r+1)*dv]
			scaleMul(o, o, unit, inv[r], b.kern.simd)
		}
		packPool.Put(sp)
	})
	return nil
}
