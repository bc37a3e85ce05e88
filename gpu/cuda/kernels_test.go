package cuda

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"
)

// Every kernel against a plain float64 Go reference on fresh random inputs; outputs are
// poisoned (NaN) first so an element the kernel misses fails. Tolerances on
// ‖out − ref‖/‖ref‖: 1e-2 where operands go through bf16 (tensor cores), 1e-5 in f32.
const (
	tolBF16 = 1e-2
	tolF32  = 1e-5
)

var (
	sharedOnce sync.Once
	sharedDev  *Device
	sharedK    *Kernels
	sharedErr  error
)

// kernelsOrSkip opens device 0 and loads the kernels once per test binary.
func kernelsOrSkip(tb testing.TB) (*Device, *Kernels) {
	tb.Helper()
	sharedOnce.Do(func() {
		sharedDev, sharedErr = Open(0)
		if sharedErr != nil {
			return
		}
		sharedErr = sharedDev.Do(func() (err error) {
			sharedK, err = sharedDev.LoadKernels()
			return err
		})
	})
	if sharedErr != nil {
		if errors.Is(sharedErr, ErrNoGPU) {
			tb.Skip(sharedErr)
		}
		tb.Fatal(sharedErr)
	}
	return sharedDev, sharedK
}

// buf is a device buffer for tests.
type buf struct {
	ptr, size uint64
	n         int
}

func (d *Device) tbuf(tb testing.TB, v []float32) buf {
	p, s, err := d.Alloc(uint64(4 * len(v)))
	if err != nil {
		tb.Fatal(err)
	}
	if err := d.Upload(p, F32Bytes(v)); err != nil {
		tb.Fatal(err)
	}
	return buf{p, s, len(v)}
}

func (d *Device) tbufBF16(tb testing.TB, v []float32) buf {
	p, s, err := d.Alloc(uint64(2 * len(v)))
	if err != nil {
		tb.Fatal(err)
	}
	if err := d.Upload(p, BF16Bytes(v)); err != nil {
		tb.Fatal(err)
	}
	return buf{p, s, len(v)}
}

func (d *Device) poisoned(tb testing.TB, n int) buf {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(math.NaN())
	}
	return d.tbuf(tb, v)
}

// splitWorkspace installs a split workspace (SetSplitK) for the GEMMs' split K and at least
// floats of partial sums (MLP, global attention), poisoned so a partial read before it is
// written shows; the returned func removes and frees it. Runs on the device thread.
func splitWorkspace(tb testing.TB, d *Device, k *Kernels, floats int) (remove func()) {
	wsF, cn := k.SplitKWorkspace()
	wsF = max(wsF, floats)
	WS, CN := d.poisoned(tb, wsF), d.tbuf(tb, make([]float32, cn))
	k.SetSplitK(WS.ptr, wsF, CN.ptr, cn)
	return func() { k.SetSplitK(0, 0, 0, 0); d.Free(WS.ptr, WS.size); d.Free(CN.ptr, CN.size) }
}

func (d *Device) get(tb testing.TB, b buf) []float32 {
	out := make([]byte, 4*b.n)
	if err := d.Download(out, b.ptr); err != nil {
		tb.Fatal(err)
	}
	return Float32s(out)
}

func randn(r *rand.Rand, n int, s float64) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64() * s)
	}
	return v
}

// relErr is ‖out − ref‖/‖ref‖; any NaN/Inf in out makes it +Inf.
func relErr(out []float32, ref []float64) float64 {
	if len(out) != len(ref) {
		return math.Inf(1)
	}
	var num, den float64
	for i, v := range out {
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return math.Inf(1)
		}
		d := float64(v) - ref[i]
		num += d * d
		den += ref[i] * ref[i]
	}
	return math.Sqrt(num / max(den, 1e-300))
}

func expect(t *testing.T, what string, out []float32, ref []float64, tol float64) {
	t.Helper()
	e := relErr(out, ref)
	t.Logf("PARITY %-34s rel.err %.2e (tol %.0e)", what, e, tol)
	if !(e <= tol) {
		t.Errorf("%s: relative error %.3g > %.0g", what, e, tol)
	}
}

// linRef: y[m][n] = Σ_k a[m][k]·w[n][k].
func linRef(a []float64, w []float32, m, n, k int) []float64 {
	y := make([]float64, m*n)
	for i := 0; i < m; i++ {
		for j := 0; j < n; j++ {
			var s float64
			for q := 0; q < k; q++ {
				s += a[i*k+q] * float64(w[j*k+q])
			}
			y[i*n+j] = s
		}
	}
	return y
}

func f64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

func geluTanh(x float64) float64 {
	return 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
}

// rmsRows returns rows of a [m][k] normalised, times scale[b][k] (b = row / rowsPerBatch).
func rmsRows(a []float32, m, k int, scale []float32, stride, rowsPerBatch int) []float64 {
	o := make([]float64, m*k)
	for i := 0; i < m; i++ {
		var ss float64
		for q := 0; q < k; q++ {
			ss += float64(a[i*k+q]) * float64(a[i*k+q])
		}
		r := 1 / math.Sqrt(ss/float64(k)+1e-6)
		b := i / rowsPerBatch
		for q := 0; q < k; q++ {
			o[i*k+q] = float64(a[i*k+q]) * r * float64(scale[b*stride+q])
		}
	}
	return o
}

func TestGemmKernels(t *testing.T) {
	d, k := kernelsOrSkip(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 1))
	err := d.Do(func() error {
		const m, n, kk = 200, 136, 96
		a := randn(r, m*kk, 1)
		w := randn(r, n*kk, 1/math.Sqrt(kk))
		bias := randn(r, n, 1)
		A, W, Bi := d.tbuf(t, a), d.tbufBF16(t, w), d.tbuf(t, bias)

		C := d.poisoned(t, m*n)
		if err := k.Gemm(A.ptr, W.ptr, C.ptr, m, n, kk, Bi.ptr, true); err != nil {
			return err
		}
		ref := linRef(f64(a), w, m, n, kk)
		silu := make([]float64, len(ref))
		for i, v := range ref {
			v += float64(bias[i%n])
			silu[i] = v / (1 + math.Exp(-v))
		}
		expect(t, "gemm_bf16 (+bias, silu)", d.get(t, C), silu, tolBF16)

		// adaptive RMS norm fused into the A load, two samples of 100 rows
		scale := randn(r, 2*kk, 0.3)
		for i := range scale {
			scale[i] += 1
		}
		S := d.tbuf(t, scale)
		C = d.poisoned(t, m*n)
		if err := k.GemmNorm(A.ptr, W.ptr, C.ptr, m, n, kk, S.ptr, kk, 100, 1e-6); err != nil {
			return err
		}
		normed := rmsRows(a, m, kk, scale, kk, 100)
		expect(t, "gemm_bf16_norm (adaptive rms)", d.get(t, C), linRef(normed, w, m, n, kk), tolBF16)

		// GEGLU: value rows then gate rows, interleaved for the kernel
		wu := randn(r, 128*kk, 1/math.Sqrt(kk))
		WU := d.tbufBF16(t, InterleaveGEGLU(wu, 128, kk))
		C = d.poisoned(t, m*64)
		if err := k.GemmNormGEGLU(A.ptr, WU.ptr, C.ptr, m, 128, kk, S.ptr, kk, 100, 1e-6); err != nil {
			return err
		}
		u := linRef(normed, wu, m, 128, kk)
		gg := make([]float64, m*64)
		for i := 0; i < m; i++ {
			for j := 0; j < 64; j++ {
				gg[i*64+j] = u[i*128+j] * geluTanh(u[i*128+64+j])
			}
		}
		expect(t, "gemm_bf16_norm_geglu", d.get(t, C), gg, tolBF16)

		// several K tiles, odd N (scalar stores), alpha
		{
			const m2, n2, k2 = 70, 45, 256
			a2, w2 := randn(r, m2*k2, 1), randn(r, n2*k2, 1/16.0)
			A2, W2, C2 := d.tbuf(t, a2), d.tbufBF16(t, w2), d.poisoned(t, m2*n2)
			if err := k.GemmAlpha(A2.ptr, W2.ptr, C2.ptr, m2, n2, k2, 0, false, -0.5); err != nil {
				return err
			}
			ref := linRef(f64(a2), w2, m2, n2, k2)
			for i := range ref {
				ref[i] *= -0.5
			}
			expect(t, "gemm_bf16 (K=256, N=45, alpha)", d.get(t, C2), ref, tolBF16)
		}

		// split K: 2 output tiles, K = 768 → the heuristic spreads K over blocks
		{
			remove := splitWorkspace(t, d, k, 0)
			const m3, n3, k3 = 64, 100, 768
			if s := k.splits(m3, n3, k3); s < 2 {
				t.Errorf("split heuristic chose %d splits for %dx%dx%d", s, m3, n3, k3)
			}
			a3, w3 := randn(r, m3*k3, 1), randn(r, n3*k3, 1/math.Sqrt(k3))
			sc3 := randn(r, k3, 0.2)
			for i := range sc3 {
				sc3[i] += 1
			}
			A3, W3, SC3 := d.tbuf(t, a3), d.tbufBF16(t, w3), d.tbuf(t, sc3)
			for rep := 0; rep < 2; rep++ { // counters must be back at 0 for the second launch
				C3 := d.poisoned(t, m3*n3)
				if err := k.GemmNorm(A3.ptr, W3.ptr, C3.ptr, m3, n3, k3, SC3.ptr, 0, m3, 1e-6); err != nil {
					return err
				}
				expect(t, fmt.Sprintf("gemm_bf16_norm split-K (64x100x768) #%d", rep), d.get(t, C3), linRef(rmsRows(a3, m3, k3, sc3, 0, m3), w3, m3, n3, k3), tolBF16)
			}
			c0 := randn(r, m3*n3, 1)
			C4 := d.tbuf(t, c0)
			if err := k.GemmResidual(A3.ptr, W3.ptr, C4.ptr, m3, n3, k3); err != nil {
				return err
			}
			ref := linRef(f64(a3), w3, m3, n3, k3)
			for i := range ref {
				ref[i] += float64(c0[i])
			}
			expect(t, "gemm_bf16_residual split-K (64x100x768)", d.get(t, C4), ref, tolBF16)
			remove()
		}

		// large shapes, full tiles: the staged float4 epilogue (alpha + bias; residual), then the
		// per-fragment fallback for a c that is not 16-byte aligned
		{
			const m4, n4, k4 = 4096, 192, 64
			a4, w4, b4 := randn(r, m4*k4, 1), randn(r, n4*k4, 1/math.Sqrt(k4)), randn(r, n4, 1)
			A4, W4, B4, C4 := d.tbuf(t, a4), d.tbufBF16(t, w4), d.tbuf(t, b4), d.poisoned(t, m4*n4)
			if err := k.GemmAlpha(A4.ptr, W4.ptr, C4.ptr, m4, n4, k4, B4.ptr, false, 0.75); err != nil {
				return err
			}
			ref := linRef(f64(a4), w4, m4, n4, k4)
			for i := range ref {
				ref[i] = 0.75*ref[i] + float64(b4[i%n4])
			}
			expect(t, "gemm_bf16 (4096x192x64, alpha, bias)", d.get(t, C4), ref, tolBF16)

			const m5, n5, k5 = 4096, 64, 128
			a5, w5 := randn(r, m5*k5, 1), randn(r, n5*k5, 1/math.Sqrt(k5))
			A5, W5 := d.tbuf(t, a5), d.tbufBF16(t, w5)
			ref = linRef(f64(a5), w5, m5, n5, k5)
			for _, off := range []int{0, 2, 1} { // c at +0 (staged), +8 bytes (float2 fallback), +4 (scalar)
				c0 := randn(r, m5*n5+2, 1)
				C5 := d.tbuf(t, c0)
				if err := k.GemmResidual(A5.ptr, W5.ptr, C5.ptr+uint64(4*off), m5, n5, k5); err != nil {
					return err
				}
				want := make([]float64, len(c0))
				for i, v := range c0 {
					want[i] = float64(v)
				}
				for i, v := range ref {
					want[off+i] += v
				}
				expect(t, fmt.Sprintf("gemm_bf16_residual (4096x64x128, c+%dB)", 4*off), d.get(t, C5), want, tolBF16)
			}
		}

		// residual: c += a·wᵀ
		c0 := randn(r, m*n, 1)
		C = d.tbuf(t, c0)
		if err := k.GemmResidual(A.ptr, W.ptr, C.ptr, m, n, kk); err != nil {
			return err
		}
		res := linRef(f64(a), w, m, n, kk)
		for i := range res {
			res[i] += float64(c0[i])
		}
		expect(t, "gemm_bf16_residual", d.get(t, C), res, tolBF16)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGemmMergeSplitPatch(t *testing.T) {
	d, k := kernelsOrSkip(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 2))
	err := d.Do(func() error {
		// merge: grid [2,8,12,32] → [2,4,6,128] → ·wᵀ (N 72)
		const B, H, W, C = 2, 8, 12, 32
		x := randn(r, B*H*W*C, 1)
		X := d.tbuf(t, x)
		wm := randn(r, 72*4*C, 0.1)
		WM := d.tbufBF16(t, wm)
		M := B * (H / 2) * (W / 2)
		out := d.poisoned(t, M*72)
		if err := k.GemmMerge(X.ptr, WM.ptr, out.ptr, B, H, W, 72, 4*C); err != nil {
			return err
		}
		merged := make([]float64, M*4*C)
		for b := 0; b < B; b++ {
			for rr := 0; rr < H/2; rr++ {
				for tt := 0; tt < W/2; tt++ {
					m := (b*(H/2)+rr)*(W/2) + tt
					for i := 0; i < 2; i++ {
						for j := 0; j < 2; j++ {
							for c := 0; c < C; c++ {
								merged[m*4*C+(i*2+j)*C+c] = float64(x[((b*H+2*rr+i)*W+2*tt+j)*C+c])
							}
						}
					}
				}
			}
		}
		expect(t, "gemm_bf16_merge (2x2 token merge)", d.get(t, out), linRef(merged, wm, M, 72, 4*C), tolBF16)

		// split: coarse [2,4,6,64] ·wᵀ (N = 4·32) → 2×2 onto [2,8,12,32], lerp with skip
		coarse := randn(r, M*64, 1)
		CO := d.tbuf(t, coarse)
		ws := randn(r, 4*C*64, 0.125)
		WS := d.tbufBF16(t, ws)
		skip := randn(r, B*H*W*C, 1)
		SK := d.tbuf(t, skip)
		fac := float32(0.3)
		F := d.tbuf(t, []float32{fac})
		if err := k.GemmSplit(CO.ptr, WS.ptr, SK.ptr, B, H, W, 4*C, 64, SK.ptr, F.ptr); err != nil {
			return err
		}
		y := linRef(f64(coarse), ws, M, 4*C, 64)
		want := make([]float64, len(skip))
		for b := 0; b < B; b++ {
			for rr := 0; rr < H/2; rr++ {
				for tt := 0; tt < W/2; tt++ {
					m := (b*(H/2)+rr)*(W/2) + tt
					for i := 0; i < 2; i++ {
						for j := 0; j < 2; j++ {
							for c := 0; c < C; c++ {
								di := ((b*H+2*rr+i)*W+2*tt+j)*C + c
								s := float64(skip[di])
								want[di] = s + float64(fac)*(y[m*4*C+(i*2+j)*C+c]-s)
							}
						}
					}
				}
			}
		}
		expect(t, "gemm_bf16_split (2x2 split + lerp)", d.get(t, SK), want, tolBF16)

		// patch in/out on a 16 × 24 roll
		const P, S = 16, 24
		img := B * P * S
		xi, ci, mi := randn(r, 3*img, 1), randn(r, 3*img, 1), randn(r, img, 1)
		scal := []float32{0.7, 0.2, 0.4, 0.1, 1.3, 0.5, 0.6, -0.2}
		XI, CI, MI, SC := d.tbuf(t, xi), d.tbuf(t, ci), d.tbuf(t, mi), d.tbuf(t, scal)
		wp := randn(r, 64*128, 0.1)
		WP := d.tbufBF16(t, wp)
		T := B * (P / 4) * (S / 4)
		tok := d.poisoned(t, T*64)
		if err := k.GemmPatchIn(WP.ptr, tok.ptr, B, P, S, 64, XI.ptr, CI.ptr, MI.ptr, SC.ptr); err != nil {
			return err
		}
		patches := make([]float64, T*128)
		for b := 0; b < B; b++ {
			for rr := 0; rr < P/4; rr++ {
				for tt := 0; tt < S/4; tt++ {
					m := (b*(P/4)+rr)*(S/4) + tt
					for i := 0; i < 4; i++ {
						for j := 0; j < 4; j++ {
							py, px := 4*rr+i, 4*tt+j
							for c := 0; c < 8; c++ {
								var v float64
								switch {
								case c < 3:
									v = float64(scal[b*4]) * float64(xi[((b*3+c)*P+py)*S+px])
								case c < 6:
									v = float64(ci[((b*3+c-3)*P+py)*S+px])
								case c == 6:
									v = float64(mi[(b*P+py)*S+px])
								default:
									v = -1 + 2*float64(py)/float64(P-1)
								}
								patches[m*128+(i*4+j)*8+c] = v
							}
						}
					}
				}
			}
		}
		expect(t, "gemm_bf16_patch_in (concat+patchify)", d.get(t, tok), linRef(patches, wp, T, 64, 128), tolBF16)

		a := randn(r, T*64, 1)
		A := d.tbuf(t, a)
		onw := randn(r, 64, 0.2)
		for i := range onw {
			onw[i] += 1
		}
		ON := d.tbuf(t, onw)
		wo := randn(r, 48*64, 0.125)
		WO := d.tbufBF16(t, wo)
		outImg := d.poisoned(t, 3*img)
		if err := k.GemmPatchOut(A.ptr, WO.ptr, outImg.ptr, B, P, S, 48, 64, ON.ptr, 1e-6, XI.ptr, SC.ptr); err != nil {
			return err
		}
		f := linRef(rmsRows(a, T, 64, onw, 0, T), wo, T, 48, 64)
		wantImg := make([]float64, 3*img)
		for b := 0; b < B; b++ {
			for rr := 0; rr < P/4; rr++ {
				for tt := 0; tt < S/4; tt++ {
					m := (b*(P/4)+rr)*(S/4) + tt
					for n := 0; n < 48; n++ {
						ij, c := n/3, n%3
						di := ((b*3+c)*P+4*rr+ij/4)*S + 4*tt + ij%4
						wantImg[di] = float64(scal[b*4+1])*float64(xi[di]) + float64(scal[b*4+2])*f[m*48+n]
					}
				}
			}
		}
		expect(t, "gemm_bf16_patch_out (+EDM mix)", d.get(t, outImg), wantImg, tolBF16)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestGemmF32(t *testing.T) {
	d, k := kernelsOrSkip(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 3))
	err := d.Do(func() error {
		const batch, m, n, kk = 3, 37, 45, 29
		a := randn(r, batch*kk*m, 1) // stored transposed: [b][k][m]
		bm := randn(r, kk*n, 1)      // one B [k][n] broadcast to every batch
		bias := randn(r, n, 1)
		A, Bm, Bi := d.tbuf(t, a), d.tbuf(t, bm), d.tbuf(t, bias)
		C := d.poisoned(t, batch*m*n)
		if err := k.GemmF32(A.ptr, Bm.ptr, C.ptr, Bi.ptr, batch, m, n, kk, kk*m, 1, m, 0, n, 1, 0.5, false); err != nil {
			return err
		}
		ref := make([]float64, batch*m*n)
		for b := 0; b < batch; b++ {
			for i := 0; i < m; i++ {
				for j := 0; j < n; j++ {
					var s float64
					for q := 0; q < kk; q++ {
						s += float64(a[b*kk*m+q*m+i]) * float64(bm[q*n+j])
					}
					ref[(b*m+i)*n+j] = 0.5*s + float64(bias[j])
				}
			}
		}
		expect(t, "gemm_f32 (transposed A, batch)", d.get(t, C), ref, tolF32)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// attnRef is the HDiT attention on qkv [B,H,W,3C] in float64 (hdit.py's Attention without
// its projections).
func attnRef(qkv []float32, qn, kn []float32, rope []float32, B, H, W, C, wh, ww, sh, sw int) []float64 {
	nh := C / 64
	out := make([]float64, B*H*W*C)
	prep := func(b, r, t, s, head int, nw []float32) []float64 {
		v := make([]float64, 64)
		var ss float64
		for dd := 0; dd < 64; dd++ {
			v[dd] = float64(qkv[((b*H+r)*W+t)*3*C+s*C+head*64+dd])
			ss += v[dd] * v[dd]
		}
		if s == 2 {
			return v
		}
		inv := 1 / math.Sqrt(ss/64+1e-6)
		for dd := range v {
			v[dd] *= inv * float64(nw[dd])
		}
		o := make([]float64, 64)
		for half := 0; half < 2; half++ {
			pos := r
			if half == 1 {
				pos = t
			}
			for j := 0; j < 16; j++ {
				c, sn := float64(rope[(pos*16+j)*2]), float64(rope[(pos*16+j)*2+1])
				x1, x2 := v[half*32+j], v[half*32+j+16]
				o[half*32+j] = x1*c - x2*sn
				o[half*32+j+16] = x1*sn + x2*c
			}
		}
		return o
	}
	type pos struct{ r, t int }
	var groups [][]pos
	if wh == 0 {
		var g []pos
		for r := 0; r < H; r++ {
			for t := 0; t < W; t++ {
				g = append(g, pos{r, t})
			}
		}
		groups = append(groups, g)
	} else {
		for wy := 0; wy < H/wh; wy++ {
			for wx := 0; wx < W/ww; wx++ {
				var g []pos
				for ty := 0; ty < wh; ty++ {
					for tx := 0; tx < ww; tx++ {
						g = append(g, pos{(wy*wh + ty + sh) % H, (wx*ww + tx + sw) % W})
					}
				}
				groups = append(groups, g)
			}
		}
	}
	for b := 0; b < B; b++ {
		for head := 0; head < nh; head++ {
			for _, g := range groups {
				ks := make([][]float64, len(g))
				vs := make([][]float64, len(g))
				for i, p := range g {
					ks[i] = prep(b, p.r, p.t, 1, head, kn)
					vs[i] = prep(b, p.r, p.t, 2, head, nil)
				}
				for _, p := range g {
					q := prep(b, p.r, p.t, 0, head, qn)
					sc := make([]float64, len(g))
					mx := math.Inf(-1)
					for i := range g {
						var s float64
						for dd := 0; dd < 64; dd++ {
							s += q[dd] * ks[i][dd]
						}
						sc[i] = s / 8
						mx = max(mx, sc[i])
					}
					var sum float64
					for i := range sc {
						sc[i] = math.Exp(sc[i] - mx)
						sum += sc[i]
					}
					for dd := 0; dd < 64; dd++ {
						var o float64
						for i := range g {
							o += sc[i] * vs[i][dd]
						}
						out[((b*H+p.r)*W+p.t)*C+head*64+dd] = o / sum
					}
				}
			}
		}
	}
	return out
}

func TestAttention(t *testing.T) {
	d, k := kernelsOrSkip(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 4))
	cases := []struct {
		name                       string
		B, H, W, C, wh, ww, sh, sw int
	}{
		{"windows 8x8", 2, 16, 16, 128, 8, 8, 0, 0},
		{"windows 8x8 shifted (4,4)", 2, 16, 24, 64, 8, 8, 4, 4},
		{"global 96 tokens (partial tile)", 2, 8, 12, 128, 0, 0, 0, 0},
		{"global 256 tokens", 1, 8, 32, 256, 0, 0, 0, 0},
	}
	for _, c := range cases {
		err := d.Do(func() error {
			qkv := randn(r, c.B*c.H*c.W*3*c.C, 1.5)
			qn, kn := randn(r, 64, 0.2), randn(r, 64, 0.2)
			for i := range qn {
				qn[i] += 1
				kn[i] += 1
			}
			rope := RoPETable(max(c.H, c.W), 1000)
			Q, QN, KN, R := d.tbuf(t, qkv), d.tbuf(t, qn), d.tbuf(t, kn), d.tbuf(t, rope)
			O := d.poisoned(t, c.B*c.H*c.W*c.C)
			if err := k.Attention(Q.ptr, O.ptr, QN.ptr, KN.ptr, R.ptr, c.B, c.H, c.W, c.C, c.wh, c.ww, c.sh, c.sw, 1e-6); err != nil {
				return err
			}
			expect(t, "attention "+c.name, d.get(t, O), attnRef(qkv, qn, kn, rope, c.B, c.H, c.W, c.C, c.wh, c.ww, c.sh, c.sw), tolBF16)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestMapping(t *testing.T) {
	d, k := kernelsOrSkip(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 5))
	err := d.Do(func() error {
		const B, mw = 3, 256
		sigma := []float32{0.02, 1.1, 80}
		four := randn(r, mw/2, 1)
		w1, b1 := randn(r, mw*mw, 1/16.0), randn(r, mw, 0.1)
		w2, b2 := randn(r, mw*mw, 1/16.0), randn(r, mw, 0.1)
		S, F := d.tbuf(t, sigma), d.tbuf(t, four)
		W1, B1, W2, B2 := d.tbuf(t, w1), d.tbuf(t, b1), d.tbuf(t, w2), d.tbuf(t, b2)
		cond, scal, hid := d.poisoned(t, B*mw), d.poisoned(t, B*4), d.poisoned(t, B*mw)
		if err := k.Mapping(S.ptr, F.ptr, W1.ptr, B1.ptr, W2.ptr, B2.ptr, hid.ptr, cond.ptr, scal.ptr, B, mw, 0.5); err != nil {
			return err
		}
		var wantCond, wantScal []float64
		for b := 0; b < B; b++ {
			s := float64(sigma[b])
			den := s*s + 0.25
			cn := math.Log(s) / 4
			wantScal = append(wantScal, 1/math.Sqrt(den), 0.25/den, s*0.5/math.Sqrt(den), cn)
			e := make([]float64, mw)
			for i := 0; i < mw/2; i++ {
				f := 2 * math.Pi * cn * float64(four[i])
				e[i], e[i+mw/2] = math.Cos(f), math.Sin(f)
			}
			h := make([]float64, mw)
			for n := 0; n < mw; n++ {
				v := float64(b1[n])
				for q := 0; q < mw; q++ {
					v += float64(w1[n*mw+q]) * e[q]
				}
				h[n] = v / (1 + math.Exp(-v))
			}
			for n := 0; n < mw; n++ {
				v := float64(b2[n])
				for q := 0; q < mw; q++ {
					v += float64(w2[n*mw+q]) * h[q]
				}
				wantCond = append(wantCond, v)
			}
		}
		expect(t, "mapping (fourier+mlp)", d.get(t, cond), wantCond, tolF32)
		expect(t, "mapping EDM scalings", d.get(t, scal), wantScal, tolF32)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// DenseRows at more rows than a block takes (16) and columns not a multiple of a block's 8,
// f32 and bf16 weights, with and without bias and SiLU.
func TestDenseRows(t *testing.T) {
	d, k := kernelsOrSkip(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 9))
	err := d.Do(func() error {
		const B, K, N = 37, 256, 3330
		in, w, bias := randn(r, B*K, 1), randn(r, N*K, 1/16.0), randn(r, N, 0.5)
		In, B1 := d.tbuf(t, in), d.tbuf(t, bias)
		for _, c := range []struct {
			bf16, silu bool
			bias       uint64
		}{{true, false, B1.ptr}, {false, true, B1.ptr}, {false, false, 0}} {
			W := d.tbuf(t, w)
			wq := w
			if c.bf16 {
				W = d.tbufBF16(t, w)
				wq = make([]float32, len(w))
				for i, v := range w {
					wq[i] = math.Float32frombits(uint32(BF16(v)) << 16)
				}
			}
			Out := d.poisoned(t, B*N)
			if err := k.DenseRows(In.ptr, W.ptr, c.bias, Out.ptr, B, K, N, c.silu, c.bf16); err != nil {
				return err
			}
			ref := linRef(f64(in), wq, B, N, K)
			for i := range ref {
				if c.bias != 0 {
					ref[i] += float64(bias[i%N])
				}
				if c.silu {
					ref[i] /= 1 + math.Exp(-ref[i])
				}
			}
			expect(t, fmt.Sprintf("dense rows (bf16 %v, silu %v, bias %v)", c.bf16, c.silu, c.bias != 0), d.get(t, Out), ref, tolF32)
		}
		if err := k.DenseRows(In.ptr, 0, 0, 0, B, 1024, N, false, false); err == nil {
			t.Error("dense rows accepted K = 1024")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestKernelArgumentErrors(t *testing.T) {
	d, k := kernelsOrSkip(t)
	_ = d.Do(func() error {
		if err := k.Gemm(0, 0, 0, 10, 10, 30, 0, false); err == nil || !strings.Contains(err.Error(), "multiple of 32") {
			t.Errorf("K=30: %v", err)
		}
		if err := k.Attention(0, 0, 0, 0, 0, 1, 12, 12, 64, 8, 8, 0, 0, 1e-6); err == nil {
			t.Error("windows that do not tile the grid were accepted")
		}
		return nil
	})
}
