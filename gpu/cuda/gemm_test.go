package cuda

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestGemmTiles runs the GEMM tests with the 128-row tiles forced (the heuristic gives the
// small test shapes 64-row tiles), then shapes where the heuristic itself picks 128-row tiles
// and splits a 96-tile grid.
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
		wsF, cn := k.SplitKWorkspace()
		WS, CN := d.poisoned(t, wsF), d.tbuf(t, make([]float32, cn))
		k.SetSplitK(WS.ptr, wsF, CN.ptr, cn)
		defer k.SetSplitK(0, 0, 0, 0)
		const m2, n2, k2 = 1024, 384, 768
		if s := k.splits(m2, n2, k2); d.SMs > 96 && d.SMs < 192 && s < 2 {
			t.Errorf("split heuristic chose %d splits for %dx%dx%d on %d SMs", s, m2, n2, k2, d.SMs)
		}
		a2, w2 := randn(r, m2*k2, 1), randn(r, n2*k2, 1/math.Sqrt(k2))
		A2, W2 := d.tbuf(t, a2), d.tbufBF16(t, w2)
		ref := linRef(f64(a2), w2, m2, n2, k2)
		for rep := 0; rep < 2; rep++ { // counters back at 0 for the second launch
			c0 := randn(r, m2*n2, 1)
			C2 := d.tbuf(t, c0)
			if err := k.GemmResidual(A2.ptr, W2.ptr, C2.ptr, m2, n2, k2); err != nil {
				return err
			}
			want := make([]float64, len(ref))
			for i := range ref {
				want[i] = ref[i] + float64(c0[i])
			}
			expect(t, "gemm_bf16_residual split-K (1024x384x768)", d.get(t, C2), want, tolBF16)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
