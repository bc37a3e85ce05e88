package cpu

import (
	"math"
	"sync"

	"latentstudio/gpu"
)

func strides(s gpu.Shape) []int {
	st := make([]int, len(s))
	n := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = n
		n *= s[i]
	}
	return st
}

func prod(s []int) int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// flat runs f over [0, n) in parallel chunks of at least 16K elements.
func (b *Backend) flat(n int, f func(lo, hi int)) { b.pool.rows(n, 1<<14, f) }

// Unary implements gpu.Kernels.
func (b *Backend) Unary(dst, x *gpu.Tensor, op gpu.UnaryOp) error {
	X, Y := f32(x), f32(dst)
	b.flat(len(X), func(lo, hi int) {
		unary(Y[lo:hi], X[lo:hi], op)
	})
	return nil
}

const sqrt2OverPi = 0.7978845608028654

func gelu(v float32) float32 { return 0.5 * v * (1 + float32(math.Erf(float64(v)/math.Sqrt2))) }

func geluTanh(v float32) float32 {
	return 0.5 * v * (1 + tanh32(sqrt2OverPi*(v+0.044715*v*v*v)))
}

// tanh32 is a rational approximation of tanh (Eigen's generic_fast_tanh_float: odd degree-13
// numerator over even degree-6 denominator, clamped at ±7.9), within a few ulps of float32
// tanh and with no exp, so GEGLU stays cheap. For |x| ≥ 9 it is exactly ±1, as float32 tanh
// is, so 1 + tanh(x) cancels to 0 the way PyTorch's does.
func tanh32(x float32) float32 {
	const (
		a1  = 4.89352455891786e-03
		a3  = 6.37261928875436e-04
		a5  = 1.48572235717979e-05
		a7  = 5.12229709037114e-08
		a9  = -8.60467152213735e-11
		a11 = 2.00018790482477e-13
		a13 = -2.76076847742355e-16
		b0  = 4.89352518554385e-03
		b2  = 2.26843463243900e-03
		b4  = 1.18534705686654e-04
		b6  = 1.19825839466702e-06
		lim = 7.90531110763549805
	)
	switch {
	case x >= 9:
		return 1
	case x <= -9:
		return -1
	case x > lim:
		x = lim
	case x < -lim:
		x = -lim
	}
	x2 := x * x
	p := x2*a13 + a11
	p = x2*p + a9
	p = x2*p + a7
	p = x2*p + a5
	p = x2*p + a3
	p = x2*p + a1
	p *= x
	q := x2*b6 + b4
	q = x2*q + b2
	q = x2*q + b0
	return p / q
}

func sigmoid(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) }

func unary(y, x []float32, op gpu.UnaryOp) {
	switch op {
	case gpu.GELU:
		for i, v := range x {
			y[i] = gelu(v)
		}
	case gpu.GELUTanh:
		for i, v := range x {
			y[i] = geluTanh(v)
		}
	case gpu.SiLU:
		for i, v := range x {
			y[i] = v * sigmoid(v)
		}
	case gpu.Sigmoid:
		for i, v := range x {
			y[i] = sigmoid(v)
		}
	case gpu.Tanh:
		for i, v := range x {
			y[i] = float32(math.Tanh(float64(v)))
		}
	case gpu.Exp:
		for i, v := range x {
			y[i] = float32(math.Exp(float64(v)))
		}
	case gpu.Square:
		for i, v := range x {
			y[i] = v * v
		}
	case gpu.Sqrt:
		for i, v := range x {
			y[i] = float32(math.Sqrt(float64(v)))
		}
	case gpu.Abs:
		for i, v := range x {
			y[i] = float32(math.Abs(float64(v)))
		}
	}
}

// Affine implements gpu.Kernels.
func (b *Backend) Affine(dst, x *gpu.Tensor, alpha, beta float32) error {
	X, Y := f32(x), f32(dst)
	b.flat(len(X), func(lo, hi int) {
		for i := lo; i < hi; i++ {
			Y[i] = alpha*X[i] + beta
		}
	})
	return nil
}

func binop(op gpu.BinaryOp, y, a, b []float32, sa, sb int) {
	switch op {
	case gpu.Add:
		for i := range y {
			y[i] = a[i*sa] + b[i*sb]
		}
	case gpu.Sub:
		for i := range y {
			y[i] = a[i*sa] - b[i*sb]
		}
	case gpu.Mul:
		for i := range y {
			y[i] = a[i*sa] * b[i*sb]
		}
	case gpu.Div:
		for i := range y {
			y[i] = a[i*sa] / b[i*sb]
		}
	case gpu.Maximum:
		for i := range y {
			y[i] = max(a[i*sa], b[i*sb])
		}
	case gpu.Minimum:
		for i := range y {
			y[i] = min(a[i*sa], b[i*sb])
		}
	}
}

// Binary implements gpu.Kernels: a and b have dst's rank; size-1 axes broadcast.
func (b *Backend) Binary(dst, x, y *gpu.Tensor, op gpu.BinaryOp) error {
	A, B, Y := f32(x), f32(y), f32(dst)
	s := dst.Shape()
	r := len(s)
	if x.Shape().Equal(s) && y.Shape().Equal(s) {
		b.flat(len(Y), func(lo, hi int) { binop(op, Y[lo:hi], A[lo:hi], B[lo:hi], 1, 1) })
		return nil
	}
	// Broadcast strides: 0 on broadcast axes.
	bst := func(t *gpu.Tensor) []int {
		st := strides(t.Shape())
		for i, d := range t.Shape() {
			if d == 1 && s[i] != 1 {
				st[i] = 0
			}
		}
		return st
	}
	as, bs := bst(x), bst(y)
	inner := s[r-1]
	rows := len(Y) / max(inner, 1)
	b.pool.rows(rows, max(1, (1<<14)/max(inner, 1)), func(lo, hi int) {
		for row := lo; row < hi; row++ {
			oa, ob, rem := 0, 0, row
			for ax := r - 2; ax >= 0; ax-- {
				i := rem % s[ax]
				rem /= s[ax]
				oa += i * as[ax]
				ob += i * bs[ax]
			}
			sa, sb := as[r-1], bs[r-1]
			binop(op, Y[row*inner:(row+1)*inner], A[oa:], B[ob:], sa, sb)
		}
	})
	return nil
}

// GEGLU implements gpu.Kernels.
func (b *Backend) GEGLU(dst, x *gpu.Tensor, tanh bool) error {
	X, Y := f32(x), f32(dst)
	h := dst.Dim(-1)
	rows := len(Y) / max(h, 1)
	b.pool.rows(rows, max(1, (1<<13)/max(h, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in := X[r*2*h : (r+1)*2*h]
			out := Y[r*h : (r+1)*h]
			if tanh {
				gegluTanhRow(out, in[:h], in[h:], b.kern.simd)
				continue
			}
			for j := range out {
				out[j] = in[j] * gelu(in[h+j])
			}
		}
	})
	return nil
}

// Modulate implements gpu.Kernels.
func (b *Backend) Modulate(dst, x, scale, shift *gpu.Tensor) error {
	X, Y, S := f32(x), f32(dst), f32(scale)
	nb, c := x.Dim(0), x.Dim(-1)
	m := make([]float32, len(S)) // 1 + scale, per sample
	for i, v := range S {
		m[i] = 1 + v
	}
	T := f32(shift)
	if T == nil {
		T = make([]float32, len(S))
	}
	tokens := len(X) / max(nb*c, 1)
	simd := b.kern.simd
	b.pool.rows(nb*tokens, max(1, (1<<13)/max(c, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			bi := r / tokens
			mulAdd(Y[r*c:(r+1)*c], X[r*c:(r+1)*c], m[bi*c:(bi+1)*c], T[bi*c:(bi+1)*c], simd)
		}
	})
	return nil
}

// RMSNorm implements gpu.Kernels.
func (b *Backend) RMSNorm(dst, x, w *gpu.Tensor, eps float32) error {
	X, Y := f32(x), f32(dst)
	d := x.Dim(-1)
	W := f32(w)
	if W == nil {
		W = ones(d)
	}
	rows := len(X) / max(d, 1)
	simd := b.kern.simd
	b.pool.rows(rows, max(1, (1<<13)/max(d, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in := X[r*d : (r+1)*d]
			ss := dot(in, in, simd)
			inv := float32(1 / math.Sqrt(float64(ss)/float64(d)+float64(eps)))
			scaleMul(Y[r*d:(r+1)*d], in, W, inv, simd)
		}
	})
	return nil
}

func ones(n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = 1
	}
	return v
}

func dotGo(a, b []float32) float32 {
	var s float32
	for i, x := range a {
		s += x * b[i]
	}
	return s
}

func scaleMulGo(out, x, w []float32, s float32) {
	for i, v := range x {
		out[i] = v * s * w[i]
	}
}

func mulAddGo(out, x, m, a []float32) {
	for i, v := range x {
		out[i] = v*m[i] + a[i]
	}
}

// LayerNorm implements gpu.Kernels.
func (b *Backend) LayerNorm(dst, x, w, bias *gpu.Tensor, eps float32) error {
	X, Y := f32(x), f32(dst)
	W, B := f32(w), f32(bias)
	d := x.Dim(-1)
	rows := len(X) / max(d, 1)
	b.pool.rows(rows, max(1, (1<<13)/max(d, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			in, out := X[r*d:(r+1)*d], Y[r*d:(r+1)*d]
			mean, inv := meanInv(in, eps)
			for j, v := range in {
				o := (v - mean) * inv
				if W != nil {
					o *= W[j]
				}
				if B != nil {
					o += B[j]
				}
				out[j] = o
			}
		}
	})
	return nil
}

// meanInv returns the mean and 1/sqrt(variance + eps) (biased variance, two passes).
func meanInv(v []float32, eps float32) (float32, float32) {
	var s float64
	for _, x := range v {
		s += float64(x)
	}
	m := s / float64(len(v))
	var q float64
	for _, x := range v {
		d := float64(x) - m
		q += d * d
	}
	return float32(m), float32(1 / math.Sqrt(q/float64(len(v))+float64(eps)))
}

// GroupNorm implements gpu.Kernels.
func (b *Backend) GroupNorm(dst, x, w, bias *gpu.Tensor, groups int, eps float32) error {
	X, Y := f32(x), f32(dst)
	W, B := f32(w), f32(bias)
	n, c := x.Dim(0), x.Dim(1)
	sp := x.Elems() / max(n*c, 1)
	cg := c / groups
	b.pool.run(n*groups, func(t int) {
		base := t * cg * sp
		in, out := X[base:base+cg*sp], Y[base:base+cg*sp]
		mean, inv := meanInv(in, eps)
		g := t % groups
		for ci := range cg {
			ch := g*cg + ci
			sc, sh := inv, -mean*inv
			if W != nil {
				sc, sh = sc*W[ch], sh*W[ch]
			}
			if B != nil {
				sh += B[ch]
			}
			o, i := out[ci*sp:(ci+1)*sp], in[ci*sp:(ci+1)*sp]
			for j, v := range i {
				o[j] = v*sc + sh
			}
		}
	})
	return nil
}

// Softmax implements gpu.Kernels.
func (b *Backend) Softmax(dst, x *gpu.Tensor) error {
	X, Y := f32(x), f32(dst)
	d := x.Dim(-1)
	rows := len(X) / max(d, 1)
	b.pool.rows(rows, max(1, (1<<13)/max(d, 1)), func(lo, hi int) {
		for r := lo; r < hi; r++ {
			copy(Y[r*d:(r+1)*d], X[r*d:(r+1)*d])
			softmaxRow(Y[r*d:(r+1)*d], 1, b.kern.simd)
		}
	})
	return nil
}

// softmaxRow replaces v by softmax(scale·v) (scale > 0).
func softmaxRow(v []float32, scale float32, simd bool) {
	m := rowMax(v, simd)
	inv := 1 / expSumRow(v, m, scale, simd)
	for i := range v {
		v[i] *= inv
	}
}

func rowMaxGo(v []float32) float32 {
	m := v[0]
	for _, x := range v {
		if x > m { // not the max builtin: its NaN and ±0 rules make it several times slower
			m = x
		}
	}
	return m
}

func expSumRowGo(v []float32, m, scale float32) float32 {
	var s float32
	for i, x := range v {
		e := exp32((x - m) * scale)
		v[i] = e
		s += e
	}
	return s
}

func gegluTanhRowGo(out, a, g []float32) {
	for j := range out {
		out[j] = a[j] * geluTanh(g[j])
	}
}

// exp32 is e^x for x ≤ 0 (softmax arguments), to about 2 ulps: range reduction by ln 2 and a
// degree-6 polynomial, much faster than math.Exp on float64.
func exp32(x float32) float32 {
	if x < -87 {
		return 0
	}
	const ln2 = 0.6931471805599453
	k := float32(int32(x*(1/ln2) - 0.5))      // round to nearest (x ≤ 0, truncation is toward zero)
	r := x - k*0.693359375 - k*-2.12194440e-4 // ln2 split in two (Cephes) so r stays exact
	p := 1 + r*(1+r*(0.5+r*(1.0/6+r*(1.0/24+r*(1.0/120+r*(1.0/720))))))
	return p * math.Float32frombits(uint32(int32(k)+127)<<23)
}

// Reduce implements gpu.Kernels.
func (b *Backend) Reduce(dst, x *gpu.Tensor, ax int, op gpu.ReduceOp) error {
	X, Y := f32(x), f32(dst)
	s := x.Shape()
	outer, n, inner := prod(s[:ax]), s[ax], prod(s[ax+1:])
	b.pool.rows(outer*inner, 1<<12, func(lo, hi int) {
		for t := lo; t < hi; t++ {
			o, i := t/inner, t%inner
			base := o*n*inner + i
			var acc float64
			switch op {
			case gpu.Max:
				acc = math.Inf(-1)
			case gpu.Min:
				acc = math.Inf(1)
			}
			for a := range n {
				v := float64(X[base+a*inner])
				switch op {
				case gpu.Sum, gpu.Mean:
					acc += v
				case gpu.Max:
					acc = max(acc, v)
				case gpu.Min:
					acc = min(acc, v)
				}
			}
			if op == gpu.Mean {
				acc /= float64(n)
			}
			Y[t] = float32(acc)
		}
	})
	return nil
}

// Permute implements gpu.Kernels. Output axes that are adjacent in the input too are merged
// (and size-1 axes dropped) first, so a TokenMerge copies runs of ph·C floats and a layout
// change like NCHW → NHWC becomes a plain batched transpose; then rows of the output's last
// axis are gathered with an odometer over the other axes.
func (b *Backend) Permute(dst, x *gpu.Tensor, perm []int) error {
	X, Y := f32(x), f32(dst)
	ist := strides(x.Shape())
	var s, pst []int // merged output shape and the input stride of each merged axis
	for i, p := range perm {
		d := dst.Shape()[i]
		if d == 1 {
			continue
		}
		if n := len(s); n > 0 && pst[n-1] == d*ist[p] {
			s[n-1] *= d
			pst[n-1] = ist[p]
			continue
		}
		s, pst = append(s, d), append(pst, ist[p])
	}
	if len(s) == 0 {
		s, pst = []int{1}, []int{1}
	}
	r := len(s)
	if r >= 2 && pst[r-2] == 1 && pst[r-1] == s[r-2] && s[r-1] > 1 {
		b.transpose(Y, X, s, pst)
		return nil
	}
	inner := s[r-1]
	rows := len(Y) / max(inner, 1)
	st := pst[r-1]
	b.pool.rows(rows, max(1, (1<<14)/max(inner, 1)), func(lo, hi int) {
		idx := make([]int, r)
		off, rem := 0, lo
		for ax := r - 2; ax >= 0; ax-- {
			idx[ax] = rem % s[ax]
			off += idx[ax] * pst[ax]
			rem /= s[ax]
		}
		for row := lo; row < hi; row++ {
			out := Y[row*inner : (row+1)*inner]
			if st == 1 {
				copy(out, X[off:off+inner])
			} else {
				for j := range out {
					out[j] = X[off+j*st]
				}
			}
			for ax := r - 2; ax >= 0; ax-- { // next row
				idx[ax]++
				off += pst[ax]
				if idx[ax] < s[ax] {
					break
				}
				off -= idx[ax] * pst[ax]
				idx[ax] = 0
			}
		}
	})
	return nil
}

// transpose handles a merged permutation whose last two axes swap a contiguous input matrix:
// each batch (the leading axes) is a B×A input block written as A×B, in 16×16 tiles so that
// reads and writes both stay in cache lines.
func (b *Backend) transpose(Y, X []float32, s, pst []int) {
	r := len(s)
	A, B := s[r-2], s[r-1]
	const T, chunk = 16, 1024 // tile side; columns of B per task
	tiles, chunks := (A+T-1)/T, (B+chunk-1)/chunk
	batches := len(Y) / (A * B)
	b.pool.rows(batches*tiles*chunks, max(1, 4096/(T*min(B, chunk))), func(lo, hi int) {
		for t := lo; t < hi; t++ {
			bt, a0, c0 := t/(tiles*chunks), (t/chunks%tiles)*T, (t%chunks)*chunk
			off, rem := 0, bt // input offset of this batch
			for ax := r - 3; ax >= 0; ax-- {
				off += (rem % s[ax]) * pst[ax]
				rem /= s[ax]
			}
			in := X[off:]
			out := Y[bt*A*B:]
			a1 := min(a0+T, A)
			for b0 := c0; b0 < min(c0+chunk, B); b0 += T {
				for bb := b0; bb < min(b0+T, B); bb++ {
					src := in[bb*A+a0 : bb*A+a1]
					for a, v := range src {
						out[(a0+a)*B+bb] = v
					}
				}
			}
		}
	})
}

// Concat implements gpu.Kernels.
func (b *Backend) Concat(dst *gpu.Tensor, xs []*gpu.Tensor, ax int) error {
	Y := f32(dst)
	outer := prod(dst.Shape()[:ax])
	row := prod(dst.Shape()[ax:])
	b.pool.rows(outer, 16, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			at := o * row
			for _, x := range xs {
				n := prod(x.Shape()[ax:])
				copy(Y[at:at+n], f32(x)[o*n:(o+1)*n])
				at += n
			}
		}
	})
	return nil
}

// Slice implements gpu.Kernels.
func (b *Backend) Slice(dst, x *gpu.Tensor, ax, start int) error {
	X, Y := f32(x), f32(dst)
	outer := prod(dst.Shape()[:ax])
	inner := prod(dst.Shape()[ax+1:])
	n, full := dst.Dim(ax)*inner, x.Dim(ax)*inner
	b.pool.rows(outer, 16, func(lo, hi int) {
		for o := lo; o < hi; o++ {
			copy(Y[o*n:(o+1)*n], X[o*full+start*inner:])
		}
	})
	return nil
}

// Pad implements gpu.Kernels.
func (b *Backend) Pad(dst, x *gpu.Tensor, before []int, value float32) error {
	X, Y := f32(x), f32(dst)
	for i := range Y {
		Y[i] = value
	}
	s, os := x.Shape(), dst.Shape()
	r := len(s)
	ost := strides(os)
	inner := s[r-1]
	rows := len(X) / max(inner, 1)
	b.pool.rows(rows, 64, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			off, rem := before[r-1], row
			for ax := r - 2; ax >= 0; ax-- {
				off += (rem%s[ax] + before[ax]) * ost[ax]
				rem /= s[ax]
			}
			copy(Y[off:off+inner], X[row*inner:(row+1)*inner])
		}
	})
	return nil
}

// UpsampleNearest implements gpu.Kernels.
func (b *Backend) UpsampleNearest(dst, x *gpu.Tensor, fh, fw int) error {
	X, Y := f32(x), f32(dst)
	h, w := x.Dim(2), x.Dim(3)
	planes := x.Dim(0) * x.Dim(1)
	ow := w * fw
	b.pool.rows(planes*h, 16, func(lo, hi int) {
		for r := lo; r < hi; r++ {
			p, i := r/h, r%h
			src := X[r*w : (r+1)*w]
			o := Y[(p*h*fh+i*fh)*ow:]
			row := o[:ow]
			for j, v := range src {
				for k := range fw {
					row[j*fw+k] = v
				}
			}
			for k := 1; k < fh; k++ {
				copy(o[k*ow:(k+1)*ow], row)
			}
		}
	})
	return nil
}

// Window implements gpu.Kernels.
func (b *Backend) Window(dst, src *gpu.Tensor, p gpu.WindowParams) error {
	S, D := f32(src), f32(dst)
	var nb, n, h, w, d int
	if p.Reverse {
		nb, n, h, w, d = dst.Dim(0), dst.Dim(1), dst.Dim(2), dst.Dim(3), dst.Dim(4)
	} else {
		nb, n, h, w, d = src.Dim(0), src.Dim(1), src.Dim(2), src.Dim(3), src.Dim(4)
	}
	nwr, nwc := h/p.WH, w/p.WW
	L := p.WH * p.WW
	sh, sw := ((p.ShiftH%h)+h)%h, ((p.ShiftW%w)+w)%w
	b.pool.rows(nb*nwr*nwc, 4, func(lo, hi int) {
		for win := lo; win < hi; win++ {
			bi, wi, wj := win/(nwr*nwc), (win/nwc)%nwr, win%nwc
			for hd := range n {
				for ti := range p.WH {
					r := (wi*p.WH + ti + sh) % h
					for tj := range p.WW {
						t := (wj*p.WW + tj + sw) % w
						grid := (((bi*n+hd)*h+r)*w + t) * d
						wnd := ((win*n+hd)*L + ti*p.WW + tj) * d
						if p.Reverse {
							copy(D[grid:grid+d], S[wnd:wnd+d])
						} else {
							copy(D[wnd:wnd+d], S[grid:grid+d])
						}
					}
				}
			}
		}
	})
	return nil
}

// RoPE2D implements gpu.Kernels.
func (b *Backend) RoPE2D(dst, x *gpu.Tensor, base float32) error {
	X, Y := f32(x), f32(dst)
	h, w, d := x.Dim(-3), x.Dim(-2), x.Dim(-1)
	q := d / 4
	cr, sr := ropeTable(h, q, base)
	cc, sc := ropeTable(w, q, base)
	rows := len(X) / d
	b.pool.rows(rows, 256, func(lo, hi int) {
		for row := lo; row < hi; row++ {
			t, r := row%w, (row/w)%h
			in, out := X[row*d:(row+1)*d], Y[row*d:(row+1)*d]
			rot(out[:2*q], in[:2*q], cr[r*q:(r+1)*q], sr[r*q:(r+1)*q], b.kern.simd)
			rot(out[2*q:], in[2*q:], cc[t*q:(t+1)*q], sc[t*q:(t+1)*q], b.kern.simd)
		}
	})
	return nil
}

type ropeKey struct {
	n, q int
	base float32
}

var ropeTables sync.Map // ropeKey → [2][]float32

// ropeTable returns cos and sin of pos·base^(−j/q) for pos < n, j < q (computed in float64,
// cached: every layer of a level uses the same grid).
func ropeTable(n, q int, base float32) ([]float32, []float32) {
	k := ropeKey{n, q, base}
	if t, ok := ropeTables.Load(k); ok {
		v := t.([2][]float32)
		return v[0], v[1]
	}
	c, s := make([]float32, n*q), make([]float32, n*q)
	for pos := range n {
		for j := range q {
			a := float64(pos) * math.Pow(float64(base), -float64(j)/float64(q))
			c[pos*q+j], s[pos*q+j] = float32(math.Cos(a)), float32(math.Sin(a))
		}
	}
	ropeTables.Store(k, [2][]float32{c, s})
	return c, s
}

func rotGo(out, in, c, s []float32) {
	q := len(c)
	for j := range q {
		x1, x2 := in[j], in[j+q]
		out[j] = x1*c[j] - x2*s[j]
		out[j+q] = x1*s[j] + x2*c[j]
	}
}

// Fourier implements gpu.Kernels.
func (b *Backend) Fourier(dst, t, freqs *gpu.Tensor) error {
	T, F, Y := f32(t), f32(freqs), f32(dst)
	k := len(F)
	for i, tv := range T {
		for j, f := range F {
			a := 2 * math.Pi * float64(tv) * float64(f)
			Y[i*2*k+j] = float32(math.Cos(a))
			Y[i*2*k+k+j] = float32(math.Sin(a))
		}
	}
	return nil
}

// RandN implements gpu.Kernels (gpu.FillNormal spreads large fills over the cores itself).
func (b *Backend) RandN(dst *gpu.Tensor, seed, offset uint64) error {
	gpu.FillNormal(f32(dst), seed, offset)
	return nil
}
