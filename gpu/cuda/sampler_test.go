package cuda

import (
	"math"
	"math/rand/v2"
	"testing"

	"latentstudio/gpu"
)

// The sampler_step kernel in each mode against the same arithmetic in float64 on the host,
// with the engine's Philox noise (gpu.FillNormal) of stream (step<<16 | candidate).
func TestSamplerStepKernel(t *testing.T) {
	d, k := kernelsOrSkip(t)
	if !k.Has("sampler_step") {
		t.Fatal("sampler_step missing from the PTX: rebuild with task gpu:ptx")
	}
	r := rand.New(rand.NewPCG(7, 8))
	const cands, hw = 3, 128 * 8
	n := 3 * hw
	x0, dd, known, old0 := randn(r, cands*n, 1), randn(r, cands*n, 1), randn(r, cands*n, 1), randn(r, cands*n, 1)
	mask := make([]float32, cands*hw)
	for i := range mask {
		if r.IntN(3) == 0 {
			mask[i] = 1
		}
	}
	const step = 5
	var seed uint64 = 0x1234_5678_9abc
	const adaCols = 5000 // more than the candidates' threads: the grid must cover it
	ada := randn(r, adaCols, 1)
	eps := make([]float32, cands*n)
	for b := 0; b < cands; b++ {
		gpu.FillNormal(eps[b*n:(b+1)*n], seed, (uint64(step)<<16|uint64(b))<<32)
	}
	type tc struct {
		name       string
		mode       int
		a, b, c, g float32
		keep       bool
	}
	for _, c := range []tc{
		{"start", 0, 0, 0, 0, 1.7, false},
		{"renoise", 1, 0, 0, 0, 0.6, false},
		{"dpm++2m-sde", 2, 0.8, 0.3, 0.05, 0.4, true},
		{"first eval", 2, 0.8, 0.3, 0, 0, true},
		{"last", 2, 0, 1, 0, 0, false},
	} {
		err := d.Do(func() error {
			x, old := d.tbuf(t, x0), d.tbuf(t, old0)
			db, kb, mb := d.tbuf(t, dd), d.tbuf(t, known), d.tbuf(t, mask)
			sig, scal, adaDst := d.poisoned(t, cands), d.poisoned(t, 4*cands), d.poisoned(t, adaCols)
			adaSrc := d.tbuf(t, ada)
			sb := d.tbuf(t, []float32{math.Float32frombits(uint32(seed)), math.Float32frombits(uint32(seed >> 32))})
			defer func() {
				for _, bb := range []buf{x, old, db, kb, mb, sig, scal, adaSrc, adaDst, sb} {
					d.Free(bb.ptr, bb.size)
				}
			}()
			prep := Prep{Sigma: sig.ptr, Scal: scal.ptr, SigmaData: 0.5, AdaSrc: adaSrc.ptr, AdaDst: adaDst.ptr, AdaCols: adaCols}
			if err := k.SamplerStep(x.ptr, old.ptr, db.ptr, kb.ptr, mb.ptr, n, hw, cands, c.mode, c.a, c.b, c.c, c.g,
				sb.ptr, step, c.keep, 0.25, prep); err != nil {
				return err
			}
			wantX, wantOld := make([]float64, cands*n), f64(old0)
			for b := 0; b < cands; b++ {
				for j := 0; j < n; j++ {
					i := b*n + j
					e := float64(c.g) * float64(eps[i])
					switch c.mode {
					case 0:
						wantX[i] = float64(known[i]) + e
					case 1:
						wantX[i] = float64(x0[i]) + e
					default:
						dv := float64(known[i])
						if mask[b*hw+j%hw] != 0 {
							dv = float64(dd[i])
						}
						wantX[i] = float64(c.a)*float64(x0[i]) + float64(c.b)*dv + float64(c.c)*(dv-float64(old0[i])) + e
						if c.keep {
							wantOld[i] = dv
						}
					}
				}
			}
			expect(t, "sampler_step "+c.name+" x", d.get(t, x), wantX, tolF32)
			expect(t, "sampler_step "+c.name+" old", d.get(t, old), wantOld, tolF32)
			expect(t, "sampler_step "+c.name+" sigma", d.get(t, sig), []float64{0.25, 0.25, 0.25}, tolF32)
			// the next evaluation's EDM scalings (as the mapping kernel) and adaptive-norm row
			const s, sd = 0.25, 0.5
			den := s*s + sd*sd
			var wantScal []float64
			for b := 0; b < cands; b++ {
				wantScal = append(wantScal, 1/math.Sqrt(den), sd*sd/den, s*sd/math.Sqrt(den), math.Log(s)/4)
			}
			expect(t, "sampler_step "+c.name+" scalings", d.get(t, scal), wantScal, tolF32)
			expect(t, "sampler_step "+c.name+" ada row", d.get(t, adaDst), f64(ada), 0)
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}
