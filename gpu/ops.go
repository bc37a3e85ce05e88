package gpu

import (
	"math"
)

// Views and layout.

// Reshape returns a view of t with a new shape of the same size; one dimension may be -1.
func (c *Context) Reshape(t *Tensor, shape ...int) *Tensor {
	s := Shape(shape).Clone()
	if !c.live("reshape", t) {
		return dead(s)
	}
	infer, known := -1, 1
	for i, d := range s {
		switch {
		case d == -1 && infer < 0:
			infer = i
		case d < 0:
			c.failf("reshape", "bad target shape %v for %v", Shape(shape), t)
			return dead(nil)
		default:
			known *= d
		}
	}
	if infer >= 0 && known > 0 {
		s[infer] = t.Elems() / known
	}
	if s.Elems() != t.Elems() {
		c.failf("reshape", "cannot view %v as %v", t, Shape(shape))
		return dead(s)
	}
	return &Tensor{shape: s, dtype: t.dtype, buf: t.buf, slot: t.slot}
}

// Cast converts t to dt (F32 ⇄ F16/BF16, round to nearest even).
func (c *Context) Cast(t *Tensor, dt DType) *Tensor {
	if !c.ok() {
		return dead(nil)
	}
	if t == nil || t.buf == nil {
		c.failf("cast", "input %v has no storage", t)
		return dead(nil)
	}
	c.use(t)
	out := c.alloc("cast", dt, t.shape)
	if !c.ok() {
		return out
	}
	return c.run("cast", out, c.be.Cast(out, t))
}

// Permute reorders axes: output axis i is input axis perm[i].
func (c *Context) Permute(t *Tensor, perm ...int) *Tensor {
	if !c.live("permute", t) {
		return dead(nil)
	}
	if len(perm) != t.Rank() {
		c.failf("permute", "permutation %v for %v", perm, t)
		return dead(nil)
	}
	seen := make([]bool, len(perm))
	s := make(Shape, len(perm))
	for i, p := range perm {
		if p < 0 || p >= len(perm) || seen[p] {
			c.failf("permute", "permutation %v is not a permutation of %d axes", perm, len(perm))
			return dead(nil)
		}
		seen[p] = true
		s[i] = t.shape[p]
	}
	identity := true
	for i, p := range perm {
		identity = identity && i == p
	}
	if identity {
		return t
	}
	out := c.alloc("permute", F32, s)
	if !c.ok() {
		return out
	}
	return c.run("permute", out, c.be.Permute(out, t, append([]int(nil), perm...)))
}

// Transpose swaps two axes (negative axes count from the end).
func (c *Context) Transpose(t *Tensor, a, b int) *Tensor {
	if !c.live("transpose", t) {
		return dead(nil)
	}
	a, b = axis(a, t.Rank()), axis(b, t.Rank())
	if a < 0 || b < 0 {
		c.failf("transpose", "axes out of range for %v", t)
		return dead(nil)
	}
	perm := make([]int, t.Rank())
	for i := range perm {
		perm[i] = i
	}
	perm[a], perm[b] = b, a
	return c.Permute(t, perm...)
}

func axis(a, rank int) int {
	if a < 0 {
		a += rank
	}
	if a < 0 || a >= rank {
		return -1
	}
	return a
}

// Concat joins tensors along axis; the other dimensions must match.
func (c *Context) Concat(ax int, ts ...*Tensor) *Tensor {
	if len(ts) == 0 {
		c.failf("concat", "no inputs")
		return dead(nil)
	}
	if !c.live("concat", ts...) {
		return dead(nil)
	}
	r := ts[0].Rank()
	a := axis(ax, r)
	if a < 0 {
		c.failf("concat", "axis %d out of range for %v", ax, ts[0])
		return dead(nil)
	}
	s := ts[0].shape.Clone()
	for _, t := range ts[1:] {
		if t.Rank() != r {
			c.failf("concat", "rank mismatch: %v and %v", ts[0], t)
			return dead(nil)
		}
		for i := range s {
			if i != a && t.shape[i] != s[i] {
				c.failf("concat", "shapes %v and %v differ off axis %d", ts[0], t, a)
				return dead(nil)
			}
		}
		s[a] += t.shape[a]
	}
	out := c.alloc("concat", F32, s)
	if !c.ok() {
		return out
	}
	return c.run("concat", out, c.be.Concat(out, append([]*Tensor(nil), ts...), a))
}

// Slice returns t[start:end] along axis.
func (c *Context) Slice(t *Tensor, ax, start, end int) *Tensor {
	if !c.live("slice", t) {
		return dead(nil)
	}
	a := axis(ax, t.Rank())
	if a < 0 || start < 0 || end > t.shape[a] || start > end {
		c.failf("slice", "[%d:%d] on axis %d of %v", start, end, ax, t)
		return dead(nil)
	}
	s := t.shape.Clone()
	s[a] = end - start
	out := c.alloc("slice", F32, s)
	if !c.ok() {
		return out
	}
	return c.run("slice", out, c.be.Slice(out, t, a, start))
}

// Pad adds before[i] and after[i] elements of value around axis i (len(before) == rank).
func (c *Context) Pad(t *Tensor, before, after []int, value float32) *Tensor {
	if !c.live("pad", t) {
		return dead(nil)
	}
	if len(before) != t.Rank() || len(after) != t.Rank() {
		c.failf("pad", "pads %v/%v for %v", before, after, t)
		return dead(nil)
	}
	s := t.shape.Clone()
	for i := range s {
		if before[i] < 0 || after[i] < 0 {
			c.failf("pad", "negative pad %v/%v", before, after)
			return dead(nil)
		}
		s[i] += before[i] + after[i]
	}
	out := c.alloc("pad", F32, s)
	if !c.ok() {
		return out
	}
	return c.run("pad", out, c.be.Pad(out, t, append([]int(nil), before...), value))
}

// Matrix products.

// MatMul multiplies a [..., M, K] by b [..., K, N]. Batch dimensions must be equal, or one
// side may be a plain matrix (rank 2), which is then shared by every batch.
func (c *Context) MatMul(a, b *Tensor) *Tensor { return c.MatMulT(a, b, false, false) }

// MatMulT is MatMul with either operand transposed in its last two axes (a stored [..., K, M]
// when ta; b stored [..., N, K] when tb).
func (c *Context) MatMulT(a, b *Tensor, ta, tb bool) *Tensor {
	if !c.live("matmul", a, b) {
		return dead(nil)
	}
	if a.Rank() < 2 || b.Rank() < 2 {
		c.failf("matmul", "needs rank ≥ 2: %v × %v", a, b)
		return dead(nil)
	}
	m, k := a.Dim(-2), a.Dim(-1)
	if ta {
		m, k = k, m
	}
	k2, n := b.Dim(-2), b.Dim(-1)
	if tb {
		k2, n = n, k2
	}
	if k != k2 {
		c.failf("matmul", "inner dimensions differ: %v × %v (transposed %v/%v)", a, b, ta, tb)
		return dead(nil)
	}
	ba, bb := a.shape[:a.Rank()-2], b.shape[:b.Rank()-2]
	batch := ba
	sa, sb := m*k, k*n
	switch {
	case ba.Equal(bb):
	case len(bb) == 0:
		sb = 0
	case len(ba) == 0:
		batch, sa = bb, 0
	default:
		c.failf("matmul", "batch dimensions differ: %v × %v", a, b)
		return dead(nil)
	}
	s := append(batch.Clone(), m, n)
	out := c.alloc("matmul", F32, s)
	if !c.ok() {
		return out
	}
	p := GemmParams{Batch: batch.Elems(), M: m, N: n, K: k, TransA: ta, TransB: tb, StrideA: sa, StrideB: sb, Alpha: 1}
	return c.run("matmul", out, c.be.Gemm(out, a, b, nil, p))
}

// Linear is x [..., K] · wᵀ (+ bias) with w [N, K] (PyTorch layout) and bias [N] or nil.
func (c *Context) Linear(x, w, bias *Tensor) *Tensor {
	in := []*Tensor{x, w}
	if bias != nil {
		in = append(in, bias)
	}
	if !c.live("linear", in...) {
		return dead(nil)
	}
	if w.Rank() != 2 || x.Rank() < 1 || x.Dim(-1) != w.Dim(1) {
		c.failf("linear", "input %v does not fit weight %v (want [..., %d])", x, w, w.Dim(-1))
		return dead(nil)
	}
	n := w.Dim(0)
	if bias != nil && (bias.Rank() != 1 || bias.Dim(0) != n) {
		c.failf("linear", "bias %v for weight %v", bias, w)
		return dead(nil)
	}
	s := x.shape.Clone()
	s[len(s)-1] = n
	out := c.alloc("linear", F32, s)
	if !c.ok() {
		return out
	}
	p := GemmParams{Batch: 1, M: x.Elems() / x.Dim(-1), N: n, K: w.Dim(1), TransB: true, Alpha: 1}
	return c.run("linear", out, c.be.Gemm(out, x, w, bias, p))
}

// Conv2D convolves x [B, C, H, W] with w [O, C/groups, KH, KW] (+ bias [O]).
func (c *Context) Conv2D(x, w, bias *Tensor, p ConvParams) *Tensor {
	in := []*Tensor{x, w}
	if bias != nil {
		in = append(in, bias)
	}
	if !c.live("conv2d", in...) {
		return dead(nil)
	}
	if p.StrideH == 0 {
		p.StrideH = 1
	}
	if p.StrideW == 0 {
		p.StrideW = 1
	}
	if p.Groups == 0 {
		p.Groups = 1
	}
	if x.Rank() != 4 || w.Rank() != 4 {
		c.failf("conv2d", "needs x [B,C,H,W] and w [O,C/g,KH,KW], got %v and %v", x, w)
		return dead(nil)
	}
	b, ch, h, wd := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	o, cg, kh, kw := w.shape[0], w.shape[1], w.shape[2], w.shape[3]
	if p.Groups < 1 || ch%p.Groups != 0 || o%p.Groups != 0 || cg != ch/p.Groups {
		c.failf("conv2d", "input %v, weight %v and groups %d do not fit", x, w, p.Groups)
		return dead(nil)
	}
	if bias != nil && (bias.Rank() != 1 || bias.Dim(0) != o) {
		c.failf("conv2d", "bias %v for weight %v", bias, w)
		return dead(nil)
	}
	oh := (h+2*p.PadH-kh)/p.StrideH + 1
	ow := (wd+2*p.PadW-kw)/p.StrideW + 1
	if p.StrideH < 1 || p.StrideW < 1 || p.PadH < 0 || p.PadW < 0 || oh < 1 || ow < 1 {
		c.failf("conv2d", "kernel %dx%d, stride %d/%d, pad %d/%d do not fit input %v", kh, kw, p.StrideH, p.StrideW, p.PadH, p.PadW, x)
		return dead(nil)
	}
	out := c.alloc("conv2d", F32, Shape{b, o, oh, ow})
	if !c.ok() {
		return out
	}
	return c.run("conv2d", out, c.be.Conv2D(out, x, w, bias, p))
}

// UpsampleNearest repeats each pixel of x [B, C, H, W] f×f times (the "upsample" of
// upsample+conv).
func (c *Context) UpsampleNearest(x *Tensor, f int) *Tensor {
	if !c.live("upsample", x) {
		return dead(nil)
	}
	if x.Rank() != 4 || f < 1 {
		c.failf("upsample", "needs [B,C,H,W] and factor ≥ 1, got %v ×%d", x, f)
		return dead(nil)
	}
	out := c.alloc("upsample", F32, Shape{x.shape[0], x.shape[1], x.shape[2] * f, x.shape[3] * f})
	if !c.ok() {
		return out
	}
	return c.run("upsample", out, c.be.UpsampleNearest(out, x, f, f))
}

// Normalisation.

// GroupNorm normalises x [B, C, ...] over groups of C/groups channels, with optional w, b [C].
func (c *Context) GroupNorm(x *Tensor, groups int, w, b *Tensor, eps float32) *Tensor {
	in := []*Tensor{x}
	for _, t := range []*Tensor{w, b} {
		if t != nil {
			in = append(in, t)
		}
	}
	if !c.live("group_norm", in...) {
		return dead(nil)
	}
	if x.Rank() < 2 || groups < 1 || x.shape[1]%groups != 0 {
		c.failf("group_norm", "%d groups for %v", groups, x)
		return dead(nil)
	}
	for _, t := range []*Tensor{w, b} {
		if t != nil && (t.Rank() != 1 || t.Dim(0) != x.shape[1]) {
			c.failf("group_norm", "affine %v for %v", t, x)
			return dead(nil)
		}
	}
	out := c.alloc("group_norm", F32, x.shape)
	if !c.ok() {
		return out
	}
	return c.run("group_norm", out, c.be.GroupNorm(out, x, w, b, groups, eps))
}

// LayerNorm normalises the last axis, with optional w, b [D].
func (c *Context) LayerNorm(x, w, b *Tensor, eps float32) *Tensor {
	in := []*Tensor{x}
	for _, t := range []*Tensor{w, b} {
		if t != nil {
			in = append(in, t)
		}
	}
	if !c.live("layer_norm", in...) {
		return dead(nil)
	}
	for _, t := range []*Tensor{w, b} {
		if t != nil && (t.Rank() != 1 || t.Dim(0) != x.Dim(-1)) {
			c.failf("layer_norm", "affine %v for %v", t, x)
			return dead(nil)
		}
	}
	out := c.alloc("layer_norm", F32, x.shape)
	if !c.ok() {
		return out
	}
	return c.run("layer_norm", out, c.be.LayerNorm(out, x, w, b, eps))
}

// RMSNorm is x / sqrt(mean(x², last axis) + eps) · w, with optional w [D].
func (c *Context) RMSNorm(x, w *Tensor, eps float32) *Tensor {
	in := []*Tensor{x}
	if w != nil {
		in = append(in, w)
	}
	if !c.live("rms_norm", in...) {
		return dead(nil)
	}
	if w != nil && (w.Rank() != 1 || w.Dim(0) != x.Dim(-1)) {
		c.failf("rms_norm", "weight %v for %v", w, x)
		return dead(nil)
	}
	out := c.alloc("rms_norm", F32, x.shape)
	if !c.ok() {
		return out
	}
	return c.run("rms_norm", out, c.be.RMSNorm(out, x, w, eps))
}

// Attention.

// Attention is softmax(q kᵀ · scale) v for q [B,H,Lq,D], k [B,H,Lk,D], v [B,H,Lk,Dv];
// scale 0 means 1/√D. The softmax is fused: the Lq×Lk scores are never stored whole.
func (c *Context) Attention(q, k, v *Tensor, scale float32) *Tensor {
	if !c.live("attention", q, k, v) {
		return dead(nil)
	}
	if q.Rank() != 4 || k.Rank() != 4 || v.Rank() != 4 ||
		q.shape[0] != k.shape[0] || q.shape[1] != k.shape[1] || k.shape[0] != v.shape[0] ||
		k.shape[1] != v.shape[1] || q.shape[3] != k.shape[3] || k.shape[2] != v.shape[2] || k.shape[2] < 1 {
		c.failf("attention", "q %v, k %v, v %v do not fit [B,H,Lq,D], [B,H,Lk,D], [B,H,Lk,Dv]", q, k, v)
		return dead(nil)
	}
	if scale == 0 {
		scale = float32(1 / math.Sqrt(float64(q.shape[3])))
	}
	out := c.alloc("attention", F32, Shape{q.shape[0], q.shape[1], q.shape[2], v.shape[3]})
	if !c.ok() {
		return out
	}
	return c.run("attention", out, c.be.Attention(out, q, k, v, scale))
}

// WindowPartition splits x [B, N, H, W, D] (N heads, may be 1) into non-overlapping wh×ww
// windows after a cyclic shift by (−sh, −sw) (Swin): the result is [B·nW, N, wh·ww, D] with
// windows in row-major order. Windowed attention = partition q, k, v + Attention + WindowReverse.
func (c *Context) WindowPartition(x *Tensor, wh, ww, sh, sw int) *Tensor {
	if !c.live("window_partition", x) {
		return dead(nil)
	}
	if x.Rank() != 5 || wh < 1 || ww < 1 || x.shape[2]%wh != 0 || x.shape[3]%ww != 0 {
		c.failf("window_partition", "windows %dx%d for %v (want [B,N,H,W,D], H and W multiples of the window)", wh, ww, x)
		return dead(nil)
	}
	nw := (x.shape[2] / wh) * (x.shape[3] / ww)
	out := c.alloc("window_partition", F32, Shape{x.shape[0] * nw, x.shape[1], wh * ww, x.shape[4]})
	if !c.ok() {
		return out
	}
	return c.run("window_partition", out, c.be.Window(out, x, WindowParams{WH: wh, WW: ww, ShiftH: sh, ShiftW: sw}))
}

// WindowReverse is the inverse of WindowPartition: x [B·nW, N, wh·ww, D] → [B, N, h, w, D].
func (c *Context) WindowReverse(x *Tensor, b, h, w, wh, ww, sh, sw int) *Tensor {
	if !c.live("window_reverse", x) {
		return dead(nil)
	}
	if x.Rank() != 4 || wh < 1 || ww < 1 || b < 1 || h%wh != 0 || w%ww != 0 ||
		x.shape[0] != b*(h/wh)*(w/ww) || x.shape[2] != wh*ww {
		c.failf("window_reverse", "%v is not %d×(%d/%d)·(%d/%d) windows of %d tokens", x, b, h, wh, w, ww, wh*ww)
		return dead(nil)
	}
	out := c.alloc("window_reverse", F32, Shape{b, x.shape[1], h, w, x.shape[3]})
	if !c.ok() {
		return out
	}
	return c.run("window_reverse", out, c.be.Window(out, x, WindowParams{WH: wh, WW: ww, ShiftH: sh, ShiftW: sw, Reverse: true}))
}

// RoPE2D applies axial rotary embeddings to x [..., H, W, D] (D divisible by 4): the first half
// of D rotates with the row index r, the second half with the column index t. Inside a half of
// h = D/2 dims, pairs (j, j + h/2) for j < h/2 rotate by θ = pos · base^(−j/(h/2)):
// x'_j = x_j cos θ − x_{j+h/2} sin θ, x'_{j+h/2} = x_j sin θ + x_{j+h/2} cos θ.
func (c *Context) RoPE2D(x *Tensor, base float32) *Tensor {
	if !c.live("rope2d", x) {
		return dead(nil)
	}
	if x.Rank() < 3 || x.Dim(-1)%4 != 0 {
		c.failf("rope2d", "needs [..., H, W, D] with D divisible by 4, got %v", x)
		return dead(nil)
	}
	out := c.alloc("rope2d", F32, x.shape)
	if !c.ok() {
		return out
	}
	return c.run("rope2d", out, c.be.RoPE2D(out, x, base))
}

// Elementwise.

// Unary applies op to every element.
func (c *Context) Unary(x *Tensor, op UnaryOp) *Tensor {
	if !c.live(op.String(), x) {
		return dead(nil)
	}
	out := c.alloc(op.String(), F32, x.shape)
	if !c.ok() {
		return out
	}
	return c.run(op.String(), out, c.be.Unary(out, x, op))
}

// GELU is the exact (erf) GELU.
func (c *Context) GELU(x *Tensor) *Tensor { return c.Unary(x, GELU) }

// GELUTanh is the tanh approximation of GELU.
func (c *Context) GELUTanh(x *Tensor) *Tensor { return c.Unary(x, GELUTanh) }

// SiLU is x·sigmoid(x).
func (c *Context) SiLU(x *Tensor) *Tensor { return c.Unary(x, SiLU) }

// GEGLU splits the last axis in halves a, g and returns a · gelu(g) (tanh approximation when
// tanh is set).
func (c *Context) GEGLU(x *Tensor, tanh bool) *Tensor {
	if !c.live("geglu", x) {
		return dead(nil)
	}
	if x.Dim(-1)%2 != 0 {
		c.failf("geglu", "last axis of %v is odd", x)
		return dead(nil)
	}
	s := x.shape.Clone()
	s[len(s)-1] /= 2
	out := c.alloc("geglu", F32, s)
	if !c.ok() {
		return out
	}
	return c.run("geglu", out, c.be.GEGLU(out, x, tanh))
}

// broadcastShape returns numpy's broadcast of a and b, padding ranks on the left.
func broadcastShape(a, b Shape) (Shape, bool) {
	n := max(len(a), len(b))
	s := make(Shape, n)
	for i := 0; i < n; i++ {
		da, db := 1, 1
		if j := i - (n - len(a)); j >= 0 {
			da = a[j]
		}
		if j := i - (n - len(b)); j >= 0 {
			db = b[j]
		}
		switch {
		case da == db:
			s[i] = da
		case da == 1:
			s[i] = db
		case db == 1:
			s[i] = da
		default:
			return nil, false
		}
	}
	return s, true
}

// padRank views t with rank n by adding leading 1s.
func padRank(t *Tensor, n int) *Tensor {
	if t.Rank() == n {
		return t
	}
	s := make(Shape, n-t.Rank(), n)
	for i := range s {
		s[i] = 1
	}
	return &Tensor{shape: append(s, t.shape...), dtype: t.dtype, buf: t.buf, slot: t.slot}
}

// Binary applies op with numpy broadcasting.
func (c *Context) Binary(a, b *Tensor, op BinaryOp) *Tensor {
	if !c.live(op.String(), a, b) {
		return dead(nil)
	}
	s, ok := broadcastShape(a.shape, b.shape)
	if !ok {
		c.failf(op.String(), "shapes %v and %v do not broadcast", a, b)
		return dead(nil)
	}
	out := c.alloc(op.String(), F32, s)
	if !c.ok() {
		return out
	}
	return c.run(op.String(), out, c.be.Binary(out, padRank(a, len(s)), padRank(b, len(s)), op))
}

// Add is a + b (broadcast).
func (c *Context) Add(a, b *Tensor) *Tensor { return c.Binary(a, b, Add) }

// Sub is a − b (broadcast).
func (c *Context) Sub(a, b *Tensor) *Tensor { return c.Binary(a, b, Sub) }

// Mul is a · b (broadcast).
func (c *Context) Mul(a, b *Tensor) *Tensor { return c.Binary(a, b, Mul) }

// Div is a / b (broadcast).
func (c *Context) Div(a, b *Tensor) *Tensor { return c.Binary(a, b, Div) }

// Affine is alpha·x + beta.
func (c *Context) Affine(x *Tensor, alpha, beta float32) *Tensor {
	if !c.live("affine", x) {
		return dead(nil)
	}
	out := c.alloc("affine", F32, x.shape)
	if !c.ok() {
		return out
	}
	return c.run("affine", out, c.be.Affine(out, x, alpha, beta))
}

// Scale is s·x.
func (c *Context) Scale(x *Tensor, s float32) *Tensor { return c.Affine(x, s, 0) }

// Lerp is a + t·(b − a), t broadcast (a scalar [1] tensor such as a learned mix factor).
func (c *Context) Lerp(a, b, t *Tensor) *Tensor {
	return c.Add(a, c.Mul(c.Sub(b, a), t))
}

// Modulate is the adaptive-norm modulation x·(1 + scale) + shift for x [B, ..., C] and
// scale, shift [B, C] (per sample, broadcast over the tokens); shift may be nil.
func (c *Context) Modulate(x, scale, shift *Tensor) *Tensor {
	in := []*Tensor{x, scale}
	if shift != nil {
		in = append(in, shift)
	}
	if !c.live("modulate", in...) {
		return dead(nil)
	}
	want := Shape{x.Dim(0), x.Dim(-1)}
	if x.Rank() < 2 || !scale.shape.Equal(want) || (shift != nil && !shift.shape.Equal(want)) {
		c.failf("modulate", "x %v needs scale/shift %v, got %v and %v", x, want, scale, shift)
		return dead(nil)
	}
	out := c.alloc("modulate", F32, x.shape)
	if !c.ok() {
		return out
	}
	return c.run("modulate", out, c.be.Modulate(out, x, scale, shift))
}

// Embeddings.

// FourierFeatures maps t [B] with frequencies freqs [K] (or [K, 1], as k-diffusion stores
// them) to [B, 2K] = [cos(2π t f_0) … cos(2π t f_{K−1}), sin(2π t f_0) … sin(2π t f_{K−1})]
// (k-diffusion's FourierFeatures; the HDiT mapping network feeds it c_noise = ln(σ)/4).
func (c *Context) FourierFeatures(t, freqs *Tensor) *Tensor {
	if !c.live("fourier", t, freqs) {
		return dead(nil)
	}
	if t.Rank() != 1 || !(freqs.Rank() == 1 || (freqs.Rank() == 2 && freqs.Dim(1) == 1)) {
		c.failf("fourier", "needs t [B] and freqs [K] or [K,1], got %v and %v", t, freqs)
		return dead(nil)
	}
	out := c.alloc("fourier", F32, Shape{t.Dim(0), 2 * freqs.Dim(0)})
	if !c.ok() {
		return out
	}
	return c.run("fourier", out, c.be.Fourier(out, t, freqs))
}

// TimestepEmbedding is the fixed sinusoidal embedding of DDPM/ADM (guided-diffusion's
// timestep_embedding): with half = dim/2 and f_k = exp(−ln(maxPeriod)·k/half),
// [cos(t f_0) … cos(t f_{half−1}), sin(t f_0) … sin(t f_{half−1})] for t [B]; dim even.
func (c *Context) TimestepEmbedding(t *Tensor, dim int, maxPeriod float64) *Tensor {
	if dim%2 != 0 || dim < 2 {
		c.failf("timestep_embedding", "dim %d must be even", dim)
		return dead(nil)
	}
	half := dim / 2
	f := make([]float32, half)
	for k := range f {
		f[k] = float32(math.Exp(-math.Log(maxPeriod)*float64(k)/float64(half)) / (2 * math.Pi))
	}
	return c.FourierFeatures(t, c.Upload(f, half))
}

// Patches and tokens (all are reshapes and permutes).

// TokenMerge groups ph×pw neighbouring tokens of x [B, H, W, C] into one token:
// [B, H/ph, W/pw, ph·pw·C] with feature index (i·pw + j)·C + c (HDiT's TokenMerge before its
// projection).
func (c *Context) TokenMerge(x *Tensor, ph, pw int) *Tensor {
	if !c.live("token_merge", x) {
		return dead(nil)
	}
	if x.Rank() != 4 || ph < 1 || pw < 1 || x.shape[1]%ph != 0 || x.shape[2]%pw != 0 {
		c.failf("token_merge", "%dx%d patches of %v (want [B,H,W,C] with H, W multiples)", ph, pw, x)
		return dead(nil)
	}
	b, h, w, ch := x.shape[0], x.shape[1], x.shape[2], x.shape[3]
	y := c.Permute(c.Reshape(x, b, h/ph, ph, w/pw, pw, ch), 0, 1, 3, 2, 4, 5)
	return c.Reshape(y, b, h/ph, w/pw, ph*pw*ch)
}

// TokenSplit is the inverse of TokenMerge: [B, H, W, ph·pw·C] → [B, H·ph, W·pw, C].
func (c *Context) TokenSplit(x *Tensor, ph, pw int) *Tensor {
	if !c.live("token_split", x) {
		return dead(nil)
	}
	if x.Rank() != 4 || ph < 1 || pw < 1 || x.shape[3]%(ph*pw) != 0 {
		c.failf("token_split", "%dx%d patches from %v", ph, pw, x)
		return dead(nil)
	}
	b, h, w, ch := x.shape[0], x.shape[1], x.shape[2], x.shape[3]/(ph*pw)
	y := c.Permute(c.Reshape(x, b, h, w, ph, pw, ch), 0, 1, 3, 2, 4, 5)
	return c.Reshape(y, b, h*ph, w*pw, ch)
}

// Patchify turns an image x [B, C, H, W] into channel-last patch tokens
// [B, H/p, W/p, p·p·C] (feature (i·p + j)·C + c): NCHW → NHWC, then TokenMerge.
func (c *Context) Patchify(x *Tensor, p int) *Tensor {
	if !c.live("patchify", x) {
		return dead(nil)
	}
	if x.Rank() != 4 {
		c.failf("patchify", "needs [B,C,H,W], got %v", x)
		return dead(nil)
	}
	return c.TokenMerge(c.Permute(x, 0, 2, 3, 1), p, p)
}

// Unpatchify is the inverse of Patchify: [B, H, W, p·p·C] → [B, C, H·p, W·p].
func (c *Context) Unpatchify(x *Tensor, p int) *Tensor {
	return c.Permute(c.TokenSplit(x, p, p), 0, 3, 1, 2)
}

// PixelShuffle is torch.nn.PixelShuffle: [B, C·r², H, W] → [B, C, H·r, W·r] with
// out[b, c, h·r + i, w·r + j] = in[b, c·r² + i·r + j, h, w].
func (c *Context) PixelShuffle(x *Tensor, r int) *Tensor {
	if !c.live("pixel_shuffle", x) {
		return dead(nil)
	}
	if x.Rank() != 4 || r < 1 || x.shape[1]%(r*r) != 0 {
		c.failf("pixel_shuffle", "factor %d for %v", r, x)
		return dead(nil)
	}
	b, ch, h, w := x.shape[0], x.shape[1]/(r*r), x.shape[2], x.shape[3]
	y := c.Permute(c.Reshape(x, b, ch, r, r, h, w), 0, 1, 4, 2, 5, 3)
	return c.Reshape(y, b, ch, h*r, w*r)
}

// PixelUnshuffle is the inverse of PixelShuffle: [B, C, H·r, W·r] → [B, C·r², H, W].
func (c *Context) PixelUnshuffle(x *Tensor, r int) *Tensor {
	if !c.live("pixel_unshuffle", x) {
		return dead(nil)
	}
	if x.Rank() != 4 || r < 1 || x.shape[2]%r != 0 || x.shape[3]%r != 0 {
		c.failf("pixel_unshuffle", "factor %d for %v", r, x)
		return dead(nil)
	}
	b, ch, h, w := x.shape[0], x.shape[1], x.shape[2]/r, x.shape[3]/r
	y := c.Permute(c.Reshape(x, b, ch, h, r, w, r), 0, 1, 3, 5, 2, 4)
	return c.Reshape(y, b, ch*r*r, h, w)
}

// Reductions.

// Reduce applies op over one axis, which is removed from the shape.
func (c *Context) Reduce(x *Tensor, ax int, op ReduceOp) *Tensor {
	if !c.live(op.String(), x) {
		return dead(nil)
	}
	a := axis(ax, x.Rank())
	if a < 0 || x.shape[a] == 0 {
		c.failf(op.String(), "axis %d of %v", ax, x)
		return dead(nil)
	}
	s := append(x.shape[:a:a].Clone(), x.shape[a+1:]...)
	out := c.alloc(op.String(), F32, s)
	if !c.ok() {
		return out
	}
	return c.run(op.String(), out, c.be.Reduce(out, x, a, op))
}

// Sum over an axis.
func (c *Context) Sum(x *Tensor, ax int) *Tensor { return c.Reduce(x, ax, Sum) }

// Mean over an axis.
func (c *Context) Mean(x *Tensor, ax int) *Tensor { return c.Reduce(x, ax, Mean) }

// Max over an axis.
func (c *Context) Max(x *Tensor, ax int) *Tensor { return c.Reduce(x, ax, Max) }

// Softmax over the last axis.
func (c *Context) Softmax(x *Tensor) *Tensor {
	if !c.live("softmax", x) {
		return dead(nil)
	}
	out := c.alloc("softmax", F32, x.shape)
	if !c.ok() {
		return out
	}
	return c.run("softmax", out, c.be.Softmax(out, x))
}

// RandN returns standard normal noise of the given shape; (seed, offset) fully determine it
// and every backend gives the same bits (Philox4x32-10, see philox.go). Element i is
// Normal(seed, offset + i).
func (c *Context) RandN(seed, offset uint64, shape ...int) *Tensor {
	s := Shape(shape)
	if !c.ok() {
		return dead(s)
	}
	if !s.valid() {
		c.failf("randn", "bad shape %v", s)
		return dead(nil)
	}
	out := c.alloc("randn", F32, s)
	if !c.ok() {
		return out
	}
	return c.run("randn", out, c.be.RandN(out, seed, offset))
}
