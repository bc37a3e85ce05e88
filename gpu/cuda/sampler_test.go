package cuda

import (
	"context"
	"math"
	"math/rand/v2"
	"os"
	"testing"
	"time"

	"latentstudio/gpu"
	"latentstudio/gpu/sampler"
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

// TestFusedInpaintTimeline (LATENT_PROFILE=1, GPU machine) splits a 32-bar fused inpaint
// (30 DPM++ 2M SDE steps, U = 2, random weights) into its parts, with CUDA events: the job's
// graphs, the 60 network passes alone, the 90 sampler kernels alone (with and without noise),
// and the final download, beside the host's wall time for Sample.
func TestFusedInpaintTimeline(t *testing.T) {
	if os.Getenv("LATENT_PROFILE") == "" {
		t.Skip("LATENT_PROFILE not set")
	}
	gb, _ := backendsOrSkip(t)
	cfg := `{"roll_channels":3,"in_channels":8,"patch":[4,4],"widths":[64,128,256,384],"depths":[1,1,1,2],` +
		`"window":[8,8],"global_from":2,"head_dim":64,"ff_mult":2,"mapping_width":256,"rope_base":1000,"sigma_data":0.5}`
	dev, err := gb.FuseHDiT([]byte(cfg), weightsOf(randomHDiTWeights(DefaultHDiT, 3)))
	if err != nil {
		t.Fatal(err)
	}
	f := dev.(*FusedHDiT)
	defer f.Close()
	steps, err := sampler.Program("dpm++2m-sde", sampler.RePaint(sampler.Karras(30, 0.01, 10, 7), 2))
	if err != nil {
		t.Fatal(err)
	}
	const width = 512
	hw := 128 * width
	known, mask := make([]float32, 3*hw), make([]float32, hw)
	for r := 0; r < 128; r++ {
		for c := 128; c < 256; c++ {
			mask[r*width+c] = 1
		}
	}
	d, k := gb.d, gb.k
	timed := func(f func() error) float32 {
		var ms float32
		err := d.Do(func() error {
			tm, err := d.NewTimer()
			if err != nil {
				return err
			}
			defer tm.Destroy()
			d.Start(tm)
			if err := f(); err != nil {
				return err
			}
			d.Stop(tm)
			ms, err = tm.Milliseconds()
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		return ms
	}
	for _, cands := range []int{1, 16} {
		job := sampler.DeviceJob{Known: known, Mask: mask, Channels: 3, Candidates: cands, Seed: 1,
			Sigma0: float32(steps[0].Sigma), InitNoise: 99, Steps: steps}
		if _, err := f.Sample(context.Background(), job); err != nil { // captures
			t.Fatal(err)
		}
		t0 := time.Now()
		if _, err := f.Sample(context.Background(), job); err != nil {
			t.Fatal(err)
		}
		wall := time.Since(t0)
		jg := f.jobs[jobKey{cands, width, programKey(job)}]
		graphs := timed(func() error {
			for _, g := range jg.chunks {
				if err := g.Launch(); err != nil {
					return err
				}
			}
			return nil
		})
		p := f.h.plans[[2]int{cands, width}]
		old := f.old[[2]int{cands, width}]
		nets := timed(func() error {
			for range 60 {
				if err := f.h.RunPreconditioned(cands, width); err != nil {
					return err
				}
			}
			return nil
		})
		kernels := func(noise bool) float32 {
			return timed(func() error {
				for _, st := range steps {
					g, mode, dd := st.G, 1, uint64(0)
					if !noise {
						g = 0
					}
					if st.Eval {
						mode, dd = 2, p.out
					}
					if err := k.SamplerStep(p.x, old, dd, p.ctx, p.mask, 3*hw, hw, cands, mode, st.A, st.B, st.C, g,
						f.seed, st.Noise, st.Keep, 0, Prep{Sigma: p.sigma}); err != nil {
						return err
					}
				}
				return nil
			})
		}
		withNoise, without := kernels(true), kernels(false)
		out := make([]byte, 4*cands*3*hw)
		var dl time.Duration
		d.Do(func() error {
			d.Sync()
			t1 := time.Now()
			err := d.Download(out, p.x)
			dl = time.Since(t1)
			return err
		})
		t.Logf("TIMELINE K=%d: Sample wall %.2f ms; device: job graphs %.2f ms, 60 networks alone %.2f ms, %d sampler kernels %.2f ms (without noise %.2f ms); download %.2f ms",
			cands, float64(wall.Microseconds())/1000, graphs, nets, len(steps), withNoise, without, float64(dl.Microseconds())/1000)
	}
}
