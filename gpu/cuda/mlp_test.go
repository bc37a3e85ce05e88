package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"testing"
)

// mlpRef is the feed-forward half in float64: x + GEGLU((rms(x)·scale[b])·wuᵀ)·wdᵀ, wu [4c][c]
// with value rows before gate rows (not interleaved), wd [c][2c]. It returns the update alone.
func mlpRef(x []float32, wu, wd []float32, m, c int, scale []float32, stride, rowsPerBatch int) []float64 {
	u := linRef(rmsRows(x, m, c, scale, stride, rowsPerBatch), wu, m, 4*c, c)
	h := make([]float64, m*2*c)
	for i := 0; i < m; i++ {
		for j := 0; j < 2*c; j++ {
			h[i*2*c+j] = u[i*4*c+j] * geluTanh(u[i*4*c+2*c+j])
		}
	}
	return linRef(h, wd, m, c, 2*c)
}

func TestMLP(t *testing.T) {
	d, k := kernelsOrSkip(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 7))
	err := d.Do(func() error {
		for _, c := range mlpWidths {
			if !k.HasMLP(c) {
				t.Logf("width %d: no fused kernel on this device (%d bytes of shared memory)", c, d.SharedOptIn)
				continue
			}
			// two samples of 100 rows (a partial tile, a tile across samples); width 64 also at
			// the finest level of batch 16 (32×128 tokens a sample): more 16-row tiles than
			// mlp_c64's persistent grid has warps, so warps walk several and prefetch
			shapes := []struct{ m, rows, stride int }{{200, 100, c}, {200, 100, 0}}
			if c == 64 {
				shapes = append(shapes, struct{ m, rows, stride int }{16 * 32 * 128, 32 * 128, c})
			}
			for _, sh := range shapes {
				m, rows, stride := sh.m, sh.rows, sh.stride
				x := randn(r, m*c, 1)
				wu := randn(r, 4*c*c, 1/math.Sqrt(float64(c)))
				wd := randn(r, 2*c*c, 1/math.Sqrt(float64(2*c)))
				scale := randn(r, (m/rows)*c, 0.3)
				for i := range scale {
					scale[i] += 1
				}
				X, WU, WD, S := d.tbuf(t, x), d.tbufBF16(t, InterleaveGEGLU(wu, 4*c, c)), d.tbufBF16(t, wd), d.tbuf(t, scale)
				ref := mlpRef(x, wu, wd, m, c, scale, stride, rows)
				// one block per row tile, then (widths ≥ 128) the hidden units split over
				// blocks, twice: the partial sums must add up in the same order
				wsF := k.MLPWorkspace(m, c)
				WS := d.poisoned(t, max(wsF, 1))
				var first []float32
				for run, split := range []bool{false, true, true} {
					if split {
						k.SetSplitK(WS.ptr, wsF, 0, 0)
					}
					if err := d.Upload(X.ptr, F32Bytes(x)); err != nil {
						return err
					}
					err := k.MLP(X.ptr, WU.ptr, WD.ptr, m, c, S.ptr, stride, rows, 1e-6)
					k.SetSplitK(0, 0, 0, 0)
					if err != nil {
						return err
					}
					out := d.get(t, X)
					if run == 1 {
						first = slices.Clone(out)
					} else if run == 2 && !slices.Equal(first, out) {
						t.Errorf("mlp c=%d: two split runs differ", c)
					}
					for i := range out {
						out[i] -= x[i]
					}
					splits := 1
					if split && wsF > 0 {
						splits = k.mlpSplits(m, c)
					}
					expect(t, fmt.Sprintf("mlp c=%d M=%d scaleStride=%d splits=%d", c, m, stride, splits), out, ref, tolBF16)
				}
				d.Free(WS.ptr, WS.size)
				for _, b := range []buf{X, WU, WD, S} {
					d.Free(b.ptr, b.size)
				}
			}
		}
		if err := k.MLP(0, 0, 0, 64, 96, 0, 0, 64, 1e-6); err == nil {
			t.Error("mlp accepted width 96, which it has no kernel for")
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkMLP times the fused feed-forward kernel against the two GEMMs it replaces
// (norm+up+GEGLU into a buffer, then down+residual) at the model's shapes.
func BenchmarkMLP(b *testing.B) {
	d, k := kernelsOrSkip(b)
	r := rand.New(rand.NewPCG(5, 6))
	var remove func()
	d.Do(func() error { // split K for the small GEMMs and split MLPs, as the model runs them
		floats := 0
		for _, batch := range []int{1, 16} {
			for i, c := range DefaultHDiT.Widths {
				floats = max(floats, k.MLPWorkspace(batch*4096>>(2*i), c))
			}
		}
		remove = splitWorkspace(b, d, k, floats)
		return nil
	})
	defer d.Do(func() error { remove(); return nil })
	tokens := []int{4096, 1024, 256, 64} // per sample at W = 512, levels 0-3
	for _, batch := range []int{1, 16} {
		for i, c := range DefaultHDiT.Widths {
			m := batch * tokens[i]
			var X, H, WU, WD, S buf
			d.Do(func() error {
				X = d.tbuf(b, randn(r, m*c, 1))
				H = d.tbuf(b, make([]float32, m*2*c))
				WU = d.tbufBF16(b, randn(r, 4*c*c, 0.05))
				WD = d.tbufBF16(b, randn(r, 2*c*c, 0.05))
				S = d.tbuf(b, randn(r, c, 1))
				return nil
			})
			name := fmt.Sprintf("L%d_b%d_%dx%d", i, batch, m, c)
			if k.HasMLP(c) {
				b.Run("fused/"+name, func(b *testing.B) {
					timeDevice(b, d, func() error { return k.MLP(X.ptr, WU.ptr, WD.ptr, m, c, S.ptr, 0, m, 1e-6) })
				})
			}
			b.Run("twogemms/"+name, func(b *testing.B) {
				timeDevice(b, d, func() error {
					if err := k.GemmNormGEGLU(X.ptr, WU.ptr, H.ptr, m, 4*c, c, S.ptr, 0, m, 1e-6); err != nil {
						return err
					}
					return k.GemmResidual(H.ptr, WD.ptr, X.ptr, m, c, 2*c)
				})
			})
			d.Do(func() error {
				for _, x := range []buf{X, H, WU, WD, S} {
					d.Free(x.ptr, x.size)
				}
				return nil
			})
		}
	}
}
