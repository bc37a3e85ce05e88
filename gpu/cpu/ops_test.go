package cpu

import (
	"errors"
	"math"
	"math/rand/v2"
	"testing"

	"latentstudio/gpu"
)

func TestMatMulEveryKernel(t *testing.T) {
	base := New(2)
	defer base.Close()
	r := rand.New(rand.NewPCG(1, 2))
	for _, name := range Kernels() {
		be, _ := base.WithKernel(name)
		c := gpu.NewContext(t.Context(), be)
		// odd sizes cross every edge: partial tiles, several k blocks, several row blocks
		for _, sz := range [][3]int{{1, 1, 1}, {5, 7, 3}, {13, 33, 17}, {100, 70, 300}, {197, 45, 513}, {64, 64, 64}} {
			m, n, k := sz[0], sz[1], sz[2]
			for _, tr := range [][2]bool{{false, false}, {false, true}, {true, false}, {true, true}} {
				a, b := randn(r, m*k), randn(r, k*n)
				sa, sb := []int{m, k}, []int{k, n}
				if tr[0] {
					sa = []int{k, m}
				}
				if tr[1] {
					sb = []int{n, k}
				}
				got := get(t, c, c.MatMulT(c.Upload(a, sa...), c.Upload(b, sb...), tr[0], tr[1]))
				near(t, name+" matmul "+shapeString(sz[:]), got, refMatMul(a, b, m, n, k, tr[0], tr[1]), 1e-4*math.Sqrt(float64(k)), 1e-4)
			}
		}
		// batched, with a broadcast right side, and Linear with bias
		a, b := randn(r, 3*20*30), randn(r, 30*9)
		got := get(t, c, c.MatMul(c.Upload(a, 3, 20, 30), c.Upload(b, 30, 9)))
		for i := range 3 {
			near(t, name+" batched", got[i*180:(i+1)*180], refMatMul(a[i*600:(i+1)*600], b, 20, 9, 30, false, false), 1e-4, 1e-4)
		}
		x, w, bias := randn(r, 2*5*24), randn(r, 40*24), randn(r, 40)
		want := refMatMul(x, w, 10, 40, 24, false, true)
		for i := range want {
			want[i] += float64(bias[i%40])
		}
		near(t, name+" linear", get(t, c, c.Linear(c.Upload(x, 2, 5, 24), c.Upload(w, 40, 24), c.Upload(bias, 40))), want, 1e-4, 1e-4)
		// Weights are sealed and their packing cached: check first and repeated use, with K
		// spanning several k blocks and a batched broadcast use of the same weight.
		x, w = randn(r, 37*600), randn(r, 50*600)
		W, err := gpu.NewWeightF32(be, w, 50, 600)
		if err != nil {
			t.Fatal(err)
		}
		want = refMatMul(x, w, 37, 50, 600, false, true)
		for range 2 {
			near(t, name+" sealed linear", get(t, c, c.Linear(c.Upload(x, 37, 600), W, nil)), want, 1e-3, 1e-4)
		}
		got = get(t, c, c.MatMulT(c.Upload(append(x[:600*5:600*5], x[:600*5]...), 2, 5, 600), W, false, true))
		near(t, name+" sealed batched", got[250:], want[:250], 1e-3, 1e-4)
		c.Close()
	}
}

func TestConv2D(t *testing.T) {
	c, _ := newCtx(t)
	r := rand.New(rand.NewPCG(3, 4))
	cases := []struct {
		nb, ch, h, w, o, k int
		p                  gpu.ConvParams
		bias               bool
	}{
		{2, 6, 9, 11, 5, 1, gpu.ConvParams{}, true},                                          // 1×1
		{1, 4, 8, 8, 6, 3, gpu.ConvParams{PadH: 1, PadW: 1}, true},                           // 3×3 same
		{2, 3, 10, 7, 4, 3, gpu.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1}, false}, // strided
		{1, 6, 7, 9, 6, 3, gpu.ConvParams{PadH: 1, PadW: 1, Groups: 6}, true},                // depthwise
		{1, 8, 6, 6, 4, 3, gpu.ConvParams{PadH: 1, PadW: 1, Groups: 2}, true},                // grouped
		{1, 4, 9, 9, 4, 3, gpu.ConvParams{StrideH: 2, StrideW: 2, Groups: 4}, false},         // strided depthwise, no pad
	}
	for i, tc := range cases {
		p := tc.p
		if p.Groups == 0 {
			p.Groups = 1
		}
		if p.StrideH == 0 {
			p.StrideH, p.StrideW = 1, 1
		}
		x := randn(r, tc.nb*tc.ch*tc.h*tc.w)
		w := randn(r, tc.o*(tc.ch/p.Groups)*tc.k*tc.k)
		var bias []float32
		var bt *gpu.Tensor
		if tc.bias {
			bias = randn(r, tc.o)
			bt = c.Upload(bias, tc.o)
		}
		want, oh, ow := refConv(x, w, bias, tc.nb, tc.ch, tc.h, tc.w, tc.o, tc.k, tc.k, p)
		y := c.Conv2D(c.Upload(x, tc.nb, tc.ch, tc.h, tc.w), c.Upload(w, tc.o, tc.ch/p.Groups, tc.k, tc.k), bt, tc.p)
		if !y.Shape().Equal(gpu.Shape{tc.nb, tc.o, oh, ow}) {
			t.Fatalf("case %d: shape %v", i, y.Shape())
		}
		near(t, "conv2d", get(t, c, y), want, 1e-4, 1e-4)
	}
	// upsample + conv, as a decoder does
	x := randn(r, 2*3*4*5)
	up := get(t, c, c.UpsampleNearest(c.Upload(x, 2, 3, 4, 5), 2))
	want := make([]float64, 2*3*8*10)
	for i := range want {
		idx := unravel(i, []int{2, 3, 8, 10})
		want[i] = float64(x[ravel([]int{idx[0], idx[1], idx[2] / 2, idx[3] / 2}, []int{2, 3, 4, 5})])
	}
	near(t, "upsample", up, want, 0, 0)
}

func TestNorms(t *testing.T) {
	c, _ := newCtx(t)
	r := rand.New(rand.NewPCG(5, 6))
	rows, d := 37, 45 // 45 = five vectors of 8 and a tail
	x, w, b := randn(r, rows*d), randn(r, d), randn(r, d)
	for i := range x {
		x[i] = x[i]*3 + 1 // an offset and a scale the norms must remove
	}
	X, W, B := c.Upload(x, rows, d), c.Upload(w, d), c.Upload(b, d)
	ln, rms := make([]float64, rows*d), make([]float64, rows*d)
	for i := range rows {
		var m, q, ss float64
		for j := range d {
			m += float64(x[i*d+j])
			ss += float64(x[i*d+j]) * float64(x[i*d+j])
		}
		m /= float64(d)
		for j := range d {
			q += (float64(x[i*d+j]) - m) * (float64(x[i*d+j]) - m)
		}
		inv := 1 / math.Sqrt(q/float64(d)+1e-5)
		rinv := 1 / math.Sqrt(ss/float64(d)+1e-6)
		for j := range d {
			ln[i*d+j] = (float64(x[i*d+j])-m)*inv*float64(w[j]) + float64(b[j])
			rms[i*d+j] = float64(x[i*d+j]) * rinv * float64(w[j])
		}
	}
	near(t, "layer_norm", get(t, c, c.LayerNorm(X, W, B, 1e-5)), ln, 1e-5, 1e-4)
	near(t, "rms_norm", get(t, c, c.RMSNorm(X, W, 1e-6)), rms, 1e-5, 1e-4)

	n, ch, h, wd, g := 2, 8, 5, 3, 4
	gx, gw, gb := randn(r, n*ch*h*wd), randn(r, ch), randn(r, ch)
	want := make([]float64, len(gx))
	sp := ch / g * h * wd
	for grp := range n * g {
		seg := gx[grp*sp : (grp+1)*sp]
		var m, q float64
		for _, v := range seg {
			m += float64(v)
		}
		m /= float64(sp)
		for _, v := range seg {
			q += (float64(v) - m) * (float64(v) - m)
		}
		inv := 1 / math.Sqrt(q/float64(sp)+1e-5)
		for i := range seg {
			chn := (grp%g)*(ch/g) + i/(h*wd)
			want[grp*sp+i] = (float64(seg[i])-m)*inv*float64(gw[chn]) + float64(gb[chn])
		}
	}
	near(t, "group_norm", get(t, c, c.GroupNorm(c.Upload(gx, n, ch, h, wd), g, c.Upload(gw, ch), c.Upload(gb, ch), 1e-5)), want, 1e-5, 1e-4)
}

func TestAttentionAndWindows(t *testing.T) {
	c, _ := newCtx(t)
	r := rand.New(rand.NewPCG(7, 8))
	for _, sz := range [][5]int{{1, 1, 5, 7, 3}, {2, 3, 70, 130, 16}, {1, 2, 64, 64, 64}} {
		b, h, lq, lk, d := sz[0], sz[1], sz[2], sz[3], sz[4]
		q, k, v := randn(r, b*h*lq*d), randn(r, b*h*lk*d), randn(r, b*h*lk*d)
		got := get(t, c, c.Attention(c.Upload(q, b, h, lq, d), c.Upload(k, b, h, lk, d), c.Upload(v, b, h, lk, d), 0))
		near(t, "attention", got, refAttention(q, k, v, b*h, lq, lk, d, d, 1/math.Sqrt(float64(d))), 1e-5, 1e-4)
	}
	// Window partition: compare with an explicit roll then a blocked read-out.
	B, N, H, W, D, wh, ww := 2, 3, 8, 12, 4, 4, 3
	for _, sh := range [][2]int{{0, 0}, {2, 1}, {-1, 5}} {
		x := randn(r, B*N*H*W*D)
		X := c.Upload(x, B, N, H, W, D)
		p := c.WindowPartition(X, wh, ww, sh[0], sh[1])
		got := get(t, c, p)
		nwr, nwc := H/wh, W/ww
		want := make([]float64, len(x))
		for i := range want {
			idx := unravel(i, []int{B * nwr * nwc, N, wh * ww, D})
			win, n, tok, e := idx[0], idx[1], idx[2], idx[3]
			bi, wi, wj := win/(nwr*nwc), (win/nwc)%nwr, win%nwc
			row := wi*wh + tok/ww
			col := wj*ww + tok%ww
			// torch.roll(x, (-sh, -sw)): rolled[row][col] = x[(row+sh) mod H][(col+sw) mod W]
			sr := ((row+sh[0])%H + H) % H
			sc := ((col+sh[1])%W + W) % W
			want[i] = float64(x[ravel([]int{bi, n, sr, sc, e}, []int{B, N, H, W, D})])
		}
		near(t, "window_partition", got, want, 0, 0)
		back := get(t, c, c.WindowReverse(p, B, H, W, wh, ww, sh[0], sh[1]))
		near(t, "window_reverse", back, f64(x), 0, 0)
	}
}

func TestRoPE2D(t *testing.T) {
	c, _ := newCtx(t)
	r := rand.New(rand.NewPCG(9, 10))
	for _, d := range []int{16, 64} { // 64: the model's head size, on the vector path
		b, n, h, w := 2, 3, 4, 5
		x := randn(r, b*n*h*w*d)
		got := get(t, c, c.RoPE2D(c.Upload(x, b, n, h, w, d), 1000))
		want := make([]float64, len(x))
		half, q := d/2, d/4
		for row := range len(x) / d {
			idx := unravel(row, []int{b, n, h, w})
			for a, pos := range []int{idx[2], idx[3]} {
				for j := range q {
					th := float64(pos) * math.Pow(1000, -float64(j)/float64(q))
					x1, x2 := float64(x[row*d+a*half+j]), float64(x[row*d+a*half+j+q])
					want[row*d+a*half+j] = x1*math.Cos(th) - x2*math.Sin(th)
					want[row*d+a*half+j+q] = x1*math.Sin(th) + x2*math.Cos(th)
				}
			}
		}
		near(t, "rope2d", got, want, 1e-5, 1e-5)
	}
}

func TestElementwise(t *testing.T) {
	c, _ := newCtx(t)
	r := rand.New(rand.NewPCG(11, 12))
	x := randn(r, 3*40)
	for i := range x {
		x[i] *= 4
	}
	X := c.Upload(x, 3, 40)
	ref := map[gpu.UnaryOp]func(float64) float64{
		gpu.GELU:     func(v float64) float64 { return 0.5 * v * (1 + math.Erf(v/math.Sqrt2)) },
		gpu.GELUTanh: func(v float64) float64 { return 0.5 * v * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(v+0.044715*v*v*v))) },
		gpu.SiLU:     func(v float64) float64 { return v / (1 + math.Exp(-v)) },
		gpu.Sigmoid:  func(v float64) float64 { return 1 / (1 + math.Exp(-v)) },
		gpu.Tanh:     math.Tanh,
		gpu.Exp:      math.Exp,
		gpu.Square:   func(v float64) float64 { return v * v },
		gpu.Abs:      math.Abs,
	}
	for op, f := range ref {
		want := make([]float64, len(x))
		for i, v := range x {
			want[i] = f(float64(v))
		}
		near(t, op.String(), get(t, c, c.Unary(X, op)), want, 1e-6, 1e-5)
	}
	// GEGLU: a·gelu(g)
	for _, tanh := range []bool{false, true} {
		want := make([]float64, 3*20)
		for i := range 3 {
			for j := range 20 {
				a, g := float64(x[i*40+j]), float64(x[i*40+20+j])
				if tanh {
					want[i*20+j] = a * ref[gpu.GELUTanh](g)
				} else {
					want[i*20+j] = a * ref[gpu.GELU](g)
				}
			}
		}
		near(t, "geglu", get(t, c, c.GEGLU(X, tanh)), want, 1e-5, 1e-5)
	}
	// Modulate over [B, T, C] with per-sample scale and shift.
	mx, sc, sh := randn(r, 2*6*13), randn(r, 2*13), randn(r, 2*13) // 13 = a vector of 8 and a tail
	want := make([]float64, len(mx))
	wantNoShift := make([]float64, len(mx))
	for i := range want {
		bi, ch := i/(6*13), i%13
		wantNoShift[i] = float64(mx[i]) * (1 + float64(sc[bi*13+ch]))
		want[i] = wantNoShift[i] + float64(sh[bi*13+ch])
	}
	MX, SC := c.Upload(mx, 2, 6, 13), c.Upload(sc, 2, 13)
	near(t, "modulate", get(t, c, c.Modulate(MX, SC, c.Upload(sh, 2, 13))), want, 1e-6, 1e-6)
	near(t, "modulate without shift", get(t, c, c.Modulate(MX, SC, nil)), wantNoShift, 1e-6, 1e-6)
	// Affine, Lerp with a scalar factor.
	a, b := randn(r, 12), randn(r, 12)
	wantL := make([]float64, 12)
	for i := range wantL {
		wantL[i] = float64(a[i]) + 0.3*(float64(b[i])-float64(a[i]))
	}
	near(t, "lerp", get(t, c, c.Lerp(c.Upload(a, 3, 4), c.Upload(b, 3, 4), c.Upload([]float32{0.3}, 1))), wantL, 1e-6, 1e-6)
	wantA := make([]float64, 12)
	for i := range wantA {
		wantA[i] = 2*float64(a[i]) - 1
	}
	near(t, "affine", get(t, c, c.Affine(c.Upload(a, 12), 2, -1)), wantA, 1e-6, 1e-6)
}

func TestEmbeddings(t *testing.T) {
	c, _ := newCtx(t)
	ts := []float32{-0.5, 0.25, 1.7}
	fr := []float32{0.1, -1.3, 2.2, 0.7}
	want := make([]float64, 3*8)
	for i, tv := range ts {
		for k, f := range fr {
			a := 2 * math.Pi * float64(tv) * float64(f)
			want[i*8+k], want[i*8+4+k] = math.Cos(a), math.Sin(a)
		}
	}
	T := c.Upload(ts, 3)
	near(t, "fourier", get(t, c, c.FourierFeatures(T, c.Upload(fr, 4, 1))), want, 1e-6, 1e-5)
	// ADM timestep embedding with dim 6, max period 10000.
	want = make([]float64, 3*6)
	for i, tv := range ts {
		for k := range 3 {
			f := math.Exp(-math.Log(10000) * float64(k) / 3)
			want[i*6+k], want[i*6+3+k] = math.Cos(float64(tv)*f), math.Sin(float64(tv)*f)
		}
	}
	near(t, "timestep", get(t, c, c.TimestepEmbedding(T, 6, 10000)), want, 1e-5, 1e-5)
}

func TestLayoutOps(t *testing.T) {
	c, _ := newCtx(t)
	r := rand.New(rand.NewPCG(13, 14))
	// TokenMerge: feature (i·pw + j)·C + c.
	B, H, W, C, ph, pw := 2, 4, 6, 3, 2, 3
	x := randn(r, B*H*W*C)
	X := c.Upload(x, B, H, W, C)
	m := c.TokenMerge(X, ph, pw)
	want := make([]float64, len(x))
	for i := range want {
		idx := unravel(i, []int{B, H / ph, W / pw, ph * pw * C})
		f := idx[3]
		ii, jj, cc := f/(pw*C), (f/C)%pw, f%C
		want[i] = float64(x[ravel([]int{idx[0], idx[1]*ph + ii, idx[2]*pw + jj, cc}, []int{B, H, W, C})])
	}
	near(t, "token_merge", get(t, c, m), want, 0, 0)
	near(t, "token_split", get(t, c, c.TokenSplit(m, ph, pw)), f64(x), 0, 0)
	// Patchify of NCHW = permute to NHWC + merge; Unpatchify inverts it.
	img := randn(r, 2*3*8*4)
	I := c.Upload(img, 2, 3, 8, 4)
	p := c.Patchify(I, 2)
	if !p.Shape().Equal(gpu.Shape{2, 4, 2, 12}) {
		t.Fatalf("patchify shape %v", p.Shape())
	}
	pv := get(t, c, p)
	for i := range pv {
		idx := unravel(i, []int{2, 4, 2, 12})
		f := idx[3]
		ii, jj, cc := f/(2*3), (f/3)%2, f%3
		if pv[i] != img[ravel([]int{idx[0], cc, idx[1]*2 + ii, idx[2]*2 + jj}, []int{2, 3, 8, 4})] {
			t.Fatalf("patchify element %d", i)
		}
	}
	near(t, "unpatchify", get(t, c, c.Unpatchify(p, 2)), f64(img), 0, 0)
	// PixelShuffle (torch formula) and its inverse.
	ps := get(t, c, c.PixelShuffle(c.Upload(img, 2, 12, 2, 4), 2))
	for i := range ps {
		idx := unravel(i, []int{2, 3, 4, 8})
		src := ravel([]int{idx[0], idx[1]*4 + (idx[2]%2)*2 + idx[3]%2, idx[2] / 2, idx[3] / 2}, []int{2, 12, 2, 4})
		if ps[i] != img[src] {
			t.Fatalf("pixel_shuffle element %d", i)
		}
	}
	near(t, "pixel_unshuffle", get(t, c, c.PixelUnshuffle(c.Upload(ps, 2, 3, 4, 8), 2)), f64(img), 0, 0)
	// Concat, Slice, Pad, Transpose.
	a, b := randn(r, 2*3*4), randn(r, 2*5*4)
	cat := get(t, c, c.Concat(1, c.Upload(a, 2, 3, 4), c.Upload(b, 2, 5, 4)))
	for i := range cat {
		idx := unravel(i, []int{2, 8, 4})
		var w float32
		if idx[1] < 3 {
			w = a[ravel(idx, []int{2, 3, 4})]
		} else {
			w = b[ravel([]int{idx[0], idx[1] - 3, idx[2]}, []int{2, 5, 4})]
		}
		if cat[i] != w {
			t.Fatalf("concat element %d", i)
		}
	}
	sl := get(t, c, c.Slice(c.Upload(cat, 2, 8, 4), 1, 3, 8))
	near(t, "slice", sl, f64(b), 0, 0)
	pd := get(t, c, c.Pad(c.Upload(a, 2, 3, 4), []int{0, 1, 2}, []int{1, 0, 1}, -7))
	for i := range pd {
		idx := unravel(i, []int{3, 4, 7})
		w := float32(-7)
		if idx[0] < 2 && idx[1] >= 1 && idx[2] >= 2 && idx[2] < 6 {
			w = a[ravel([]int{idx[0], idx[1] - 1, idx[2] - 2}, []int{2, 3, 4})]
		}
		if pd[i] != w {
			t.Fatalf("pad element %d = %v, want %v", i, pd[i], w)
		}
	}
	tr := get(t, c, c.Transpose(c.Upload(a, 2, 3, 4), 0, 2))
	for i := range tr {
		idx := unravel(i, []int{4, 3, 2})
		if tr[i] != a[ravel([]int{idx[2], idx[1], idx[0]}, []int{2, 3, 4})] {
			t.Fatalf("transpose element %d", i)
		}
	}
}

func TestReductionsAndSoftmax(t *testing.T) {
	c, _ := newCtx(t)
	r := rand.New(rand.NewPCG(15, 16))
	s := []int{3, 4, 5}
	x := randn(r, 60)
	X := c.Upload(x, s...)
	for ax := range 3 {
		for _, op := range []gpu.ReduceOp{gpu.Sum, gpu.Mean, gpu.Max, gpu.Min} {
			os := append(append([]int{}, s[:ax]...), s[ax+1:]...)
			want := make([]float64, 60/s[ax])
			for i := range want {
				idx := unravel(i, os)
				full := append(append(append([]int{}, idx[:ax]...), 0), idx[ax:]...)
				acc := map[gpu.ReduceOp]float64{gpu.Max: math.Inf(-1), gpu.Min: math.Inf(1)}[op]
				for a := range s[ax] {
					full[ax] = a
					v := float64(x[ravel(full, s)])
					switch op {
					case gpu.Sum, gpu.Mean:
						acc += v
					case gpu.Max:
						acc = math.Max(acc, v)
					case gpu.Min:
						acc = math.Min(acc, v)
					}
				}
				if op == gpu.Mean {
					acc /= float64(s[ax])
				}
				want[i] = acc
			}
			near(t, op.String(), get(t, c, c.Reduce(X, ax, op)), want, 1e-6, 1e-6)
		}
	}
	sm := get(t, c, c.Softmax(c.Upload(x, 12, 5)))
	for i := range 12 {
		var z float64
		for j := range 5 {
			z += math.Exp(float64(x[i*5+j]))
		}
		for j := range 5 {
			if d := math.Abs(float64(sm[i*5+j]) - math.Exp(float64(x[i*5+j]))/z); d > 1e-6 {
				t.Fatalf("softmax row %d: off by %g", i, d)
			}
		}
	}
}

// TestBroadcastProperty checks Binary on random shapes with random size-1 axes against an
// index-by-index reference.
func TestBroadcastProperty(t *testing.T) {
	c, _ := newCtx(t)
	r := rand.New(rand.NewPCG(17, 18))
	for trial := range 200 {
		rank := 1 + r.IntN(4)
		full := make([]int, rank)
		for i := range full {
			full[i] = 1 + r.IntN(5)
		}
		sa, sb := append([]int{}, full...), append([]int{}, full...)
		for i := range full {
			switch r.IntN(4) {
			case 0:
				sa[i] = 1
			case 1:
				sb[i] = 1
			}
		}
		if r.IntN(3) == 0 { // drop leading axes of b: numpy pads rank on the left
			sb = sb[r.IntN(rank):]
		}
		a, b := randn(r, prod(sa)), randn(r, prod(sb))
		out, ok := broadcast(sa, sb)
		if !ok {
			t.Fatalf("trial %d: %v %v", trial, sa, sb)
		}
		op := gpu.BinaryOp(r.IntN(6))
		got := c.Binary(c.Upload(a, sa...), c.Upload(b, sb...), op)
		if !got.Shape().Equal(out) {
			t.Fatalf("trial %d: shape %v, want %v", trial, got.Shape(), out)
		}
		want := make([]float64, prod(out))
		for i := range want {
			idx := unravel(i, out)
			av := float64(a[ravel(bidx(idx, sa), sa)])
			bv := float64(b[ravel(bidx(idx, sb), sb)])
			want[i] = map[gpu.BinaryOp]float64{gpu.Add: av + bv, gpu.Sub: av - bv, gpu.Mul: av * bv, gpu.Div: av / bv, gpu.Maximum: math.Max(av, bv), gpu.Minimum: math.Min(av, bv)}[op]
		}
		near(t, op.String()+" "+shapeString(sa)+"⊕"+shapeString(sb), get(t, c, got), want, 1e-6, 1e-5)
	}
	// Incompatible shapes are an error naming the op and both shapes.
	c.Add(c.Upload(make([]float32, 6), 2, 3), c.Upload(make([]float32, 8), 2, 4))
	var oe *gpu.OpError
	if err := c.Err(); !errors.As(err, &oe) || oe.Op != "add" {
		t.Fatalf("want an add OpError, got %v", err)
	}
}

func broadcast(a, b []int) ([]int, bool) {
	n := max(len(a), len(b))
	out := make([]int, n)
	for i := range n {
		da, db := 1, 1
		if j := i - n + len(a); j >= 0 {
			da = a[j]
		}
		if j := i - n + len(b); j >= 0 {
			db = b[j]
		}
		if da != db && da != 1 && db != 1 {
			return nil, false
		}
		out[i] = max(da, db)
	}
	return out, true
}

// bidx maps an output index to an input of shape s (right-aligned, size-1 axes pinned to 0).
func bidx(idx, s []int) []int {
	o := make([]int, len(s))
	for i := range s {
		if s[i] != 1 {
			o[i] = idx[len(idx)-len(s)+i]
		}
	}
	return o
}

func TestRandN(t *testing.T) {
	c, _ := newCtx(t)
	a := get(t, c, c.RandN(42, 0, 1000))
	b := get(t, c, c.RandN(42, 0, 1000))
	for i := range a {
		if a[i] != b[i] {
			t.Fatalf("same (seed, offset) gave different values at %d", i)
		}
	}
	// The offset addresses the same stream: RandN(seed, 7)[i] == RandN(seed, 0)[7+i].
	s := get(t, c, c.RandN(42, 7, 100))
	for i := range s {
		if s[i] != a[7+i] {
			t.Fatalf("offset stream differs at %d", i)
		}
	}
	other := get(t, c, c.RandN(43, 0, 1000))
	same := 0
	var m, v float64
	for i := range a {
		if a[i] == other[i] {
			same++
		}
		m += float64(a[i])
		v += float64(a[i]) * float64(a[i])
	}
	m /= 1000
	v = v/1000 - m*m
	if same > 2 || math.Abs(m) > 0.15 || math.Abs(v-1) > 0.15 {
		t.Fatalf("noise looks wrong: %d equal to another seed, mean %.3f var %.3f", same, m, v)
	}
}

// TestLayoutProperty checks Permute, Concat, Slice, Pad and Reduce on random shapes against
// index-by-index references, and round trips (a permutation then its inverse, pad then slice).
func TestLayoutProperty(t *testing.T) {
	c, _ := newCtx(t)
	r := rand.New(rand.NewPCG(31, 32))
	for trial := range 150 {
		rank := 1 + r.IntN(5)
		s := make([]int, rank)
		for i := range s {
			s[i] = 1 + r.IntN(4)
		}
		x := randn(r, prod(s))
		X := c.Upload(x, s...)
		perm := r.Perm(rank)
		ps := make([]int, rank)
		for i, p := range perm {
			ps[i] = s[p]
		}
		P := c.Permute(X, perm...)
		pv := get(t, c, P)
		for i := range pv {
			idx := unravel(i, ps)
			src := make([]int, rank)
			for a, p := range perm {
				src[p] = idx[a]
			}
			if pv[i] != x[ravel(src, s)] {
				t.Fatalf("trial %d: permute %v of %v wrong at %d", trial, perm, s, i)
			}
		}
		inv := make([]int, rank)
		for i, p := range perm {
			inv[p] = i
		}
		near(t, "permute round trip", get(t, c, c.Permute(P, inv...)), f64(x), 0, 0)

		ax := r.IntN(rank)
		before, after := make([]int, rank), make([]int, rank)
		for i := range before {
			before[i], after[i] = r.IntN(3), r.IntN(3)
		}
		pad := c.Pad(X, before, after, 9)
		back := pad
		for a := range rank {
			back = c.Slice(back, a, before[a], before[a]+s[a])
		}
		near(t, "pad then slice", get(t, c, back), f64(x), 0, 0)
		extra := 1 + r.IntN(3)
		s2 := append([]int{}, s...)
		s2[ax] = extra
		y := randn(r, prod(s2))
		cat := c.Concat(ax, X, c.Upload(y, s2...))
		near(t, "concat then slice (first)", get(t, c, c.Slice(cat, ax, 0, s[ax])), f64(x), 0, 0)
		near(t, "concat then slice (second)", get(t, c, c.Slice(cat, ax, s[ax], s[ax]+extra)), f64(y), 0, 0)

		sum := get(t, c, c.Sum(X, ax))
		os := append(append([]int{}, s[:ax]...), s[ax+1:]...)
		for i := range sum {
			idx := unravel(i, os)
			full := append(append(append([]int{}, idx[:ax]...), 0), idx[ax:]...)
			var want float64
			for a := range s[ax] {
				full[ax] = a
				want += float64(x[ravel(full, s)])
			}
			if math.Abs(float64(sum[i])-want) > 1e-5 {
				t.Fatalf("trial %d: sum over %d of %v wrong at %d", trial, ax, s, i)
			}
		}
	}
}

// TestSmallKernels runs the reduced-row microkernels (used for 64-row attention blocks) on
// their own through the GEMM driver, partial tiles and transposed operands included.
func TestSmallKernels(t *testing.T) {
	r := rand.New(rand.NewPCG(41, 42))
	for _, k := range available() {
		if k.small == nil {
			continue
		}
		for _, sz := range [][3]int{{8, 32, 5}, {64, 64, 64}, {13, 45, 300}, {3, 7, 2}} {
			m, n, kk := sz[0], sz[1], sz[2]
			a, b := randn(r, m*kk), randn(r, kk*n)
			c := make([]float32, m*n)
			gemm(nil, k.small, m, n, kk, 1, matrix{d: a, rs: kk, cs: 1}, matrix{d: b, rs: 1, cs: kk}, c, n, nil)
			near(t, k.small.name, c, refMatMul(a, b, m, n, kk, false, true), 1e-4*math.Sqrt(float64(kk)), 1e-4)
			gemm(nil, k.small, m, n, kk, 0.5, matrix{d: a, rs: 1, cs: m}, matrix{d: b, rs: n, cs: 1}, c, n, nil)
			want := refMatMul(a, b, m, n, kk, true, false)
			for i := range want {
				want[i] *= 0.5
			}
			near(t, k.small.name+" transposed A", c, want, 1e-4*math.Sqrt(float64(kk)), 1e-4)
		}
	}
}
