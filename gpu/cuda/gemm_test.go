package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmTiles runs the GEMM tests with the 128-row tiles forced (the heuristic gives the
// small test shapes 64-row tiles), then with the 128×128 tiles forced (plain, norm, GEGLU and
// residual kernels; the others keep theirs), then shapes where the heuristic itself picks
// 128-row tiles and splits a 96-tile grid.
func TestGemmTiles(t *testing.T) {
	d, k := kernelsOrSkip(t)
	if k.gemmBM == 0 {
		k.gemmBM = 128
		t.Run("bm128/kernels", TestGemmKernels)
		t.Run("bm128/merge-split-patch", TestGemmMergeSplitPatch)
		k.gemmBM = 0
	} else {
		t.Logf("128-row GEMM tiles off on this device (gemmBM %d)", k.gemmBM)
	}
	if k.n128OK {
		k.gemmBN = 128
		t.Run("n128/kernels", TestGemmKernels)
		t.Run("n128/merge-split-patch", TestGemmMergeSplitPatch)
		t.Run("n128/shapes", func(t *testing.T) { testGemmN128(t, d, k) })
		k.gemmBN = 0
	} else {
		t.Log("128×128 GEMM tiles off on this device")
	}

	r := rand.New(rand.NewPCG(rand.Uint64(), 3))
	err := d.Do(func() error {
		// 17 × 10 tiles of 128 × 64 (the last row tile partial), adaptive norm over 100-row samples
		const m, n, kk = 2112, 640, 64
		if d.SMs <= 170 && k.gemmBM == 0 {
			if bm := k.gemmRows(m, n); bm != 128 {
				t.Errorf("gemmRows(%d, %d) = %d on %d SMs, want 128", m, n, bm, d.SMs)
			}
		}
		a := randn(r, m*kk, 1)
		w := randn(r, n*kk, 1/math.Sqrt(kk))
		nb := (m + 99) / 100
		scale := randn(r, nb*kk, 0.3)
		for i := range scale {
			scale[i] += 1
		}
		A, W, S, C := d.tbuf(t, a), d.tbufBF16(t, w), d.tbuf(t, scale), d.poisoned(t, m*n)
		if err := k.GemmNorm(A.ptr, W.ptr, C.ptr, m, n, kk, S.ptr, kk, 100, 1e-6); err != nil {
			return err
		}
		expect(t, "gemm_bf16_norm 128-row tiles (2112x640x64)", d.get(t, C), linRef(rmsRows(a, m, kk, scale, kk, 100), w, m, n, kk), tolBF16)

		// batch-16 level-3 down projection + residual: 96 tiles of 64 rows, split K on < 96·2 SMs
		defer splitWorkspace(t, d, k, 0)()
		const m2, n2, k2 = 1024, 384, 768
		if s := k.splits(m2, n2, k2); d.SMs > 96 && d.SMs < 192 && s < 2 {
			t.Errorf("split heuristic chose %d splits for %dx%dx%d on %d SMs", s, m2, n2, k2, d.SMs)
		}
		return residualSplitTwice(t, d, k, r, m2, n2, k2, "gemm_bf16_residual split-K (1024x384x768)")
	})
	if err != nil {
		t.Fatal(err)
	}
}

// testGemmN128 checks the 128×128 tiles (forced by the caller) on larger shapes: the adaptive
// norm over two samples, partial tiles both ways with bias and SiLU (staged float4 epilogue),
// and split K for the plain residual and norm + GEGLU kernels.
func testGemmN128(t *testing.T, d *Device, k *Kernels) {
	r := rand.New(rand.NewPCG(rand.Uint64(), 4))
	err := d.Do(func() error {
		{ // 32 × 6 tiles, two samples of 2048 rows
			const m, n, kk = 4096, 768, 256
			if bm, bn := k.gemmTiles("gemm_bf16_norm", m, n); bm != 128 || bn != 128 {
				t.Errorf("gemmTiles = %d×%d, want 128×128", bm, bn)
			}
			a := randn(r, m*kk, 1)
			w := randn(r, n*kk, 1/math.Sqrt(kk))
			scale := randn(r, 2*kk, 0.3)
			for i := range scale {
				scale[i] += 1
			}
			A, W, S, C := d.tbuf(t, a), d.tbufBF16(t, w), d.tbuf(t, scale), d.poisoned(t, m*n)
			if err := k.GemmNorm(A.ptr, W.ptr, C.ptr, m, n, kk, S.ptr, kk, m/2, 1e-6); err != nil {
				return err
			}
			expect(t, "gemm_bf16_norm_n128 (4096x768x256, 2 samples)", d.get(t, C), linRef(rmsRows(a, m, kk, scale, kk, m/2), w, m, n, kk), tolBF16)
		}
		{ // 32 × 5 tiles, the last row tile 32 rows and the last column tile 8 columns
			const m, n, kk = 4000, 520, 128
			a, w, bias := randn(r, m*kk, 1), randn(r, n*kk, 1/math.Sqrt(kk)), randn(r, n, 1)
			A, W, B, C := d.tbuf(t, a), d.tbufBF16(t, w), d.tbuf(t, bias), d.poisoned(t, m*n)
			if err := k.Gemm(A.ptr, W.ptr, C.ptr, m, n, kk, B.ptr, true); err != nil {
				return err
			}
			ref := linRef(f64(a), w, m, n, kk)
			for i, v := range ref {
				v += float64(bias[i%n])
				ref[i] = v / (1 + math.Exp(-v))
			}
			expect(t, "gemm_bf16_n128 (4000x520x128, bias, silu)", d.get(t, C), ref, tolBF16)
		}
		{ // split K: 6 tiles (residual), 4 tiles (GEGLU, 2 samples), K = 1024
			defer splitWorkspace(t, d, k, 0)()
			const m, n, kk = 256, 384, 1024
			if s := k.splits(m, n, kk); s < 2 {
				t.Errorf("split heuristic chose %d splits for %dx%dx%d with 128×128 tiles", s, m, n, kk)
			}
			if err := residualSplitTwice(t, d, k, r, m, n, kk, "gemm_bf16_residual_n128 split-K (256x384x1024)"); err != nil {
				return err
			}

			const n2 = 512 // 256 value/gate pairs
			a := randn(r, m*kk, 1)
			A := d.tbuf(t, a)
			wu := randn(r, n2*kk, 1/math.Sqrt(kk))
			WU := d.tbufBF16(t, InterleaveGEGLU(wu, n2, kk))
			scale := randn(r, 2*kk, 0.3)
			for i := range scale {
				scale[i] += 1
			}
			S, C := d.tbuf(t, scale), d.poisoned(t, m*n2/2)
			if err := k.GemmNormGEGLU(A.ptr, WU.ptr, C.ptr, m, n2, kk, S.ptr, kk, m/2, 1e-6); err != nil {
				return err
			}
			u := linRef(rmsRows(a, m, kk, scale, kk, m/2), wu, m, n2, kk)
			gg := make([]float64, m*n2/2)
			for i := 0; i < m; i++ {
				for j := 0; j < n2/2; j++ {
					gg[i*n2/2+j] = u[i*n2+j] * geluTanh(u[i*n2+n2/2+j])
				}
			}
			expect(t, "gemm_bf16_norm_geglu_n128 split-K (256x512x1024)", d.get(t, C), gg, tolBF16)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestGemmTileHeuristic checks (without a GPU) which shapes get the 128×128 tiles on 132 SMs
// and that split K never meets them unforced, and fits the workspace when forced.
func TestGemmTileHeuristic(t *testing.T) {
	k := &Kernels{d: &Device{SMs: 132}, n128OK: true}
	for _, tc := range []struct {
		name               string
		m, n, wantM, wantN int
	}{
		{"gemm_bf16", 4096, 1024, 128, 128},
		{"gemm_bf16_norm", 16384, 512, 128, 128},
		{"gemm_bf16_norm_geglu", 16384, 384, 128, 128},
		{"gemm_bf16_residual", 4096, 768, 128, 128},
		{"gemm_bf16", 65536, 256, 128, 128},
		{"gemm_bf16", 1024, 1536, 128, 64},       // 96 tiles of 128×128: 192 of 128×64
		{"gemm_bf16", 65536, 192, 128, 64},       // N < 256
		{"gemm_bf16_merge", 16384, 512, 128, 64}, // no 128×128 twin
		{"gemm_bf16", 1024, 384, 64, 64},
	} {
		if bm, bn := k.gemmTiles(tc.name, tc.m, tc.n); bm != tc.wantM || bn != tc.wantN {
			t.Errorf("gemmTiles(%s, %d, %d) = %d×%d, want %d×%d", tc.name, tc.m, tc.n, bm, bn, tc.wantM, tc.wantN)
		}
	}
	f, c := k.SplitKWorkspace()
	k.SetSplitK(1, f, 2, c)
	if s := k.splitsBM(128, 128, 4096, 768, 4096); s != 1 {
		t.Errorf("a 192-tile 128×128 grid split %d ways", s)
	}
	k.gemmBN = 128
	for _, tc := range []struct{ m, n, k, want int }{
		{64, 100, 768, 6},   // one tile
		{256, 384, 1024, 8}, // 6 tiles
	} {
		s := k.splits(tc.m, tc.n, tc.k)
		tiles := ((tc.m + 127) / 128) * ((tc.n + 127) / 128)
		if s != tc.want || s*tiles*gemmWsFloats(128, 128) > f {
			t.Errorf("forced 128×128: splits(%d, %d, %d) = %d, want %d within %d floats", tc.m, tc.n, tc.k, s, tc.want, f)
		}
	}
	k.SetSplitK(1, 3*gemmWsFloats(128, 128), 2, c) // a workspace for 3 partial tiles
	if s := k.splits(64, 100, 768); s != 3 {
		t.Errorf("splits with room for 3 partial 128×128 tiles = %d", s)
	}
}

// residualSplitTwice checks GemmResidual (c += a·wᵀ) at m×n×kk on a fresh c twice: the split-K
// tile counters must be back at 0 for the second launch. Needs a split workspace installed.
func residualSplitTwice(t *testing.T, d *Device, k *Kernels, r *rand.Rand, m, n, kk int, name string) error {
	a, w := randn(r, m*kk, 1), randn(r, n*kk, 1/math.Sqrt(float64(kk)))
	A, W := d.tbuf(t, a), d.tbufBF16(t, w)
	defer func() { d.Free(A.ptr, A.size); d.Free(W.ptr, W.size) }()
	ref := linRef(f64(a), w, m, n, kk)
	for rep := 0; rep < 2; rep++ {
		c0 := randn(r, m*n, 1)
		C := d.tbuf(t, c0)
		err := k.GemmResidual(A.ptr, W.ptr, C.ptr, m, n, kk)
		if err == nil {
			want := make([]float64, len(ref))
			for i := range ref {
				want[i] = ref[i] + float64(c0[i])
			}
			expect(t, fmt.Sprintf("%s #%d", name, rep), d.get(t, C), want, tolBF16)
		}
		d.Free(C.ptr, C.size)
		if err != nil {
			return err
		}
	}
	return nil
}
