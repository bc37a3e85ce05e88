package cuda

import (
	"fmt"
	"math/rand/v2"
	"os"
	"sort"
	"testing"
)

// Benchmarks on the GPU machine (bench/run.sh). Each reports device time per evaluation from
// CUDA events around b.N back-to-back runs ("ms/eval", "TFLOP/s" where counted); ns/op is the
// host's view of the same loop.

func timeDevice(b *testing.B, d *Device, f func() error) float64 {
	b.Helper()
	var ms float32
	err := d.Do(func() error {
		for i := 0; i < 3; i++ { // warm up (module JIT, graph upload, plans)
			if err := f(); err != nil {
				return err
			}
		}
		if err := d.Sync(); err != nil {
			return err
		}
		tm, err := d.NewTimer()
		if err != nil {
			return err
		}
		defer tm.Destroy()
		b.ResetTimer()
		d.Start(tm)
		for i := 0; i < b.N; i++ {
			if err := f(); err != nil {
				return err
			}
		}
		d.Stop(tm)
		ms, err = tm.Milliseconds()
		b.StopTimer()
		return err
	})
	if err != nil {
		b.Fatal(err)
	}
	per := float64(ms) / float64(b.N)
	b.ReportMetric(per, "ms/eval")
	return per
}

func BenchmarkHDiT(b *testing.B) {
	d, k := kernelsOrSkip(b)
	var h *HDiT
	if err := d.Do(func() (err error) {
		h, err = NewHDiT(d, k, DefaultHDiT, weightsOf(randomHDiTWeights(DefaultHDiT, 3)))
		return err
	}); err != nil {
		b.Fatal(err)
	}
	for _, batch := range []int{1, 16} {
		const width = 512
		if err := d.Do(func() error {
			x, sigma, ctx, mask, _, err := h.Inputs(batch, width)
			if err != nil {
				return err
			}
			r := rand.New(rand.NewPCG(5, 5))
			img := batch * 128 * width
			for _, u := range []struct {
				p uint64
				v []float32
			}{{x, randn(r, 3*img, 1)}, {ctx, randn(r, 3*img, 1)}, {mask, randn(r, img, 1)}} {
				if err := d.Upload(u.p, F32Bytes(u.v)); err != nil {
					return err
				}
			}
			s := make([]float32, batch)
			for i := range s {
				s[i] = 1.5
			}
			return d.Upload(sigma, F32Bytes(s))
		}); err != nil {
			b.Fatal(err)
		}
		for _, graph := range []bool{true, false} {
			name := fmt.Sprintf("b=%d/graph=%v", batch, graph)
			b.Run(name, func(b *testing.B) {
				timeDevice(b, d, func() error { return h.Run(batch, width, graph) })
				b.ReportMetric(float64(h.Launches(batch, width)), "kernels")
			})
		}
	}
}

// TestHDiTProfile logs each kernel's device time in one evaluation (LATENT_PROFILE=1, GPU
// machine): where the step's time goes.
func TestHDiTProfile(t *testing.T) {
	if os.Getenv("LATENT_PROFILE") == "" {
		t.Skip("LATENT_PROFILE not set")
	}
	d, k := kernelsOrSkip(t)
	err := d.Do(func() error {
		h, err := NewHDiT(d, k, DefaultHDiT, weightsOf(randomHDiTWeights(DefaultHDiT, 3)))
		if err != nil {
			return err
		}
		defer h.Free()
		for _, batch := range []int{1, 16} {
			for run := 0; run < 3; run++ { // the last run counts
				names, ms, err := h.Profile(batch, 512)
				if err != nil {
					return err
				}
				if run < 2 {
					continue
				}
				sum := map[string]float32{}
				var total float32
				for i, n := range names {
					sum[n] += ms[i]
					total += ms[i]
				}
				keys := make([]string, 0, len(sum))
				for n := range sum {
					keys = append(keys, n)
				}
				sort.Slice(keys, func(i, j int) bool { return sum[keys[i]] > sum[keys[j]] })
				t.Logf("PROFILE b=%d: %d kernels, %.4f ms summed (events around each, no graph)", batch, len(names), total)
				for _, n := range keys {
					t.Logf("PROFILE b=%d %-22s %.4f ms", batch, n, sum[n])
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// gemmShapes are the model's linear layers at W = 512: tokens per level 4096, 1024, 256, 64.
func gemmShapes(batch int) (out []struct {
	name    string
	m, n, k int
}) {
	toks := []int{4096, 1024, 256, 64}
	for i, c := range DefaultHDiT.Widths {
		m := batch * toks[i]
		for _, s := range []struct {
			n, k int
			nm   string
		}{{3 * c, c, "qkv"}, {c, c, "out"}, {4 * c, c, "up"}, {c, 2 * c, "down"}} {
			out = append(out, struct {
				name    string
				m, n, k int
			}{fmt.Sprintf("L%d_%s_b%d_%dx%dx%d", i, s.nm, batch, m, s.n, s.k), m, s.n, s.k})
		}
	}
	return
}

// BenchmarkGemm compares the engine's GEMM (f32 activations in, bf16 tensor cores, f32 out)
// with cuBLASLt (bf16 in, f32 out) at the model's shapes.
func BenchmarkGemm(b *testing.B) {
	d, k := kernelsOrSkip(b)
	var lt *BlasLt
	var ltErr error
	d.Do(func() error { lt, ltErr = d.OpenBlasLt(); return nil })
	if ltErr != nil {
		b.Logf("cuBLASLt: %v", ltErr)
	}
	r := rand.New(rand.NewPCG(1, 2))
	for _, batch := range []int{1, 16} {
		for _, s := range gemmShapes(batch) {
			var A, Abf, W, C buf
			d.Do(func() error {
				A = d.tbuf(b, randn(r, s.m*s.k, 1))
				Abf = d.tbufBF16(b, randn(r, s.m*s.k, 1))
				W = d.tbufBF16(b, randn(r, s.n*s.k, 0.1))
				C = d.tbuf(b, make([]float32, s.m*s.n))
				return nil
			})
			flop := 2 * float64(s.m) * float64(s.n) * float64(s.k)
			b.Run("ours/"+s.name, func(b *testing.B) {
				ms := timeDevice(b, d, func() error { return k.Gemm(A.ptr, W.ptr, C.ptr, s.m, s.n, s.k, 0, false) })
				b.ReportMetric(flop/ms/1e9, "TFLOP/s")
			})
			if lt != nil {
				b.Run("cublaslt/"+s.name, func(b *testing.B) {
					ms := timeDevice(b, d, func() error { return lt.Matmul(Abf.ptr, W.ptr, C.ptr, s.m, s.n, s.k, TypeBF16, TypeBF16, TypeF32) })
					b.ReportMetric(flop/ms/1e9, "TFLOP/s")
				})
			}
			d.Do(func() error {
				for _, x := range []buf{A, Abf, W, C} {
					d.Free(x.ptr, x.size)
				}
				return nil
			})
		}
	}
}

// BenchmarkAttention times the fused attention (q/k norm, RoPE, shifted windows, flash
// attention) per level at W = 512.
func BenchmarkAttention(b *testing.B) {
	d, k := kernelsOrSkip(b)
	r := rand.New(rand.NewPCG(3, 4))
	grids := [][2]int{{32, 128}, {16, 64}, {8, 32}, {4, 16}}
	for _, batch := range []int{1, 16} {
		for i, c := range DefaultHDiT.Widths {
			gh, gw := grids[i][0], grids[i][1]
			wh, ww, sh := 0, 0, 0
			if i < DefaultHDiT.GlobalFrom {
				wh, ww, sh = 8, 8, 4
			}
			var Q, O, N, R buf
			d.Do(func() error {
				Q = d.tbuf(b, randn(r, batch*gh*gw*3*c, 1))
				O = d.tbuf(b, make([]float32, batch*gh*gw*c))
				N = d.tbuf(b, randn(r, 64, 1))
				R = d.tbuf(b, RoPETable(max(gh, gw), 1000))
				return nil
			})
			keys := 64
			if wh == 0 {
				keys = gh * gw
			}
			flop := 4 * float64(batch*gh*gw) * float64(keys) * float64(c)
			b.Run(fmt.Sprintf("L%d_b%d_%dx%d_c%d", i, batch, gh, gw, c), func(b *testing.B) {
				ms := timeDevice(b, d, func() error {
					return k.Attention(Q.ptr, O.ptr, N.ptr, N.ptr, R.ptr, batch, gh, gw, c, wh, ww, sh, sh, 1e-6)
				})
				b.ReportMetric(flop/ms/1e9, "TFLOP/s")
			})
			d.Do(func() error {
				for _, x := range []buf{Q, O, N, R} {
					d.Free(x.ptr, x.size)
				}
				return nil
			})
		}
	}
}
