package cuda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sync"
	"unsafe"

	"latentstudio/gpu/sampler"
)

// ErrNotFusable is returned by FuseHDiT for a network the fused kernels do not cover; the
// model then runs op by op through the front.
var ErrNotFusable = errors.New("cuda: network not covered by the fused kernels")

// FusedHDiT is the piano-roll network as the fused HDiT (one CUDA graph per shape) with the
// sampler's loop on the device too: during an inpaint, x, the model's output, the sampler's
// history and the noise stay in GPU memory, each step is one graph launch plus one
// sampler_step kernel, and only the final rolls come back. It implements sampler.Device.
// Safe for concurrent use: jobs are serialized (one set of buffers per shape), and every call
// runs on the device thread. Errors from a full GPU wrap ErrOutOfMemory (and so
// gpu.ErrOutOfMemory), so the caller can run that request on the CPU instead.
type FusedHDiT struct {
	b   *Backend
	h   *HDiT
	mu  sync.Mutex
	old map[[2]int]uint64 // per (batch, width): the sampler's history buffer
	// pre: a job runs the σ network for all its evaluations in one launch at the start, and
	// each step replays the graph without it (HDiT.RunPreconditioned), the sampler kernel
	// storing that step's scalings and adaptive-norm row. On unless EnvFusedPrecondition=0.
	pre bool
}

// EnvFusedPrecondition=0 makes fused jobs run the σ network inside every step's graph (to
// compare; the results agree to float rounding).
const EnvFusedPrecondition = "LATENT_FUSED_PRECOND"

// FuseHDiT builds the fused network from the weights file's config (gpu/models/pianoroll's
// Config JSON) and weights by name. It fails with ErrNotFusable when the config is outside
// what the kernels cover (patch 4×4, 3 roll channels, head_dim 64, ff_mult 2, 64-token
// windows) and when the sampler kernel is missing from the PTX.
func (b *Backend) FuseHDiT(config []byte, weights func(name string) ([]float32, []int, error)) (sampler.Device, error) {
	var c struct {
		RollChannels int     `json:"roll_channels"`
		InChannels   int     `json:"in_channels"`
		Patch        [2]int  `json:"patch"`
		Widths       []int   `json:"widths"`
		Depths       []int   `json:"depths"`
		Window       [2]int  `json:"window"`
		GlobalFrom   int     `json:"global_from"`
		HeadDim      int     `json:"head_dim"`
		FFMult       int     `json:"ff_mult"`
		MappingWidth int     `json:"mapping_width"`
		RopeBase     float64 `json:"rope_base"`
		SigmaData    float64 `json:"sigma_data"`
	}
	if err := json.Unmarshal(config, &c); err != nil {
		return nil, fmt.Errorf("%w: config: %v", ErrNotFusable, err)
	}
	ok := c.RollChannels == 3 && c.InChannels == 8 && c.Patch == [2]int{4, 4} && c.HeadDim == headDim &&
		c.FFMult == 2 && c.Window[0]*c.Window[1] == 64 && len(c.Widths) >= 2 && len(c.Depths) == len(c.Widths) &&
		c.MappingWidth > 0 && c.MappingWidth <= 1024 && c.MappingWidth%64 == 0 && c.SigmaData > 0
	for _, w := range c.Widths {
		ok = ok && w > 0 && w%64 == 0
	}
	if !ok {
		return nil, fmt.Errorf("%w: %s", ErrNotFusable, config)
	}
	if !b.k.Has("sampler_step") {
		return nil, fmt.Errorf("%w: the PTX has no sampler_step kernel (rebuild with task gpu:ptx)", ErrNotFusable)
	}
	cfg := HDiTConfig{Widths: c.Widths, Depths: c.Depths, Window: c.Window, GlobalFrom: c.GlobalFrom,
		MappingWidth: c.MappingWidth, RopeBase: c.RopeBase, SigmaData: c.SigmaData}
	f := &FusedHDiT{b: b, old: map[[2]int]uint64{}, pre: os.Getenv(EnvFusedPrecondition) != "0"}
	err := b.d.Do(func() (err error) {
		f.h, err = NewHDiT(b.d, b.k, cfg, weights)
		return err
	})
	if err != nil {
		return nil, err
	}
	return f, nil
}

// Close frees the weights, buffers and graphs.
func (f *FusedHDiT) Close() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil {
		return nil
	}
	return f.b.d.Do(func() error {
		f.h.Free() // frees the history buffers too: they came from h.alloc
		f.h, f.old = nil, nil
		return nil
	})
}

// Denoise is D(x; σ, ctx, mask) for a batch on host memory (tests and one-off calls):
// x, ctx [B,3,128,W], mask [B,1,128,W], sigma [B].
func (f *FusedHDiT) Denoise(batch, width int, x, sigma, ctx, mask []float32) ([]float32, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil {
		return nil, ErrClosed
	}
	var out []float32
	err := f.b.d.Do(func() (err error) {
		out, err = f.h.Denoise(batch, width, x, sigma, ctx, mask)
		return err
	})
	return out, err
}

// Sample runs an inpainting job (see sampler.DeviceJob) on the GPU.
func (f *FusedHDiT) Sample(ctx context.Context, job sampler.DeviceJob) ([]float32, error) {
	hw, k := len(job.Mask), job.Candidates
	n := len(job.Known)
	if job.Channels != 3 || hw == 0 || hw%hditPitches != 0 || n != 3*hw || k < 1 {
		return nil, fmt.Errorf("%w: fused piano-roll job: %d channels, %d known values, %d mask cells, %d candidates (want 3 × 128 × W)",
			sampler.ErrBadInput, job.Channels, n, hw, k)
	}
	width := hw / hditPitches
	// the evaluations' σ, and next[i]: the first evaluation at or after step i (-1: none),
	// which the kernel before step i prepares
	var sig []float32
	num := make([]int, len(job.Steps))
	for i, st := range job.Steps {
		if st.Eval {
			if !(st.Sigma > 0) {
				return nil, fmt.Errorf("%w: step %d evaluates at σ = %v", sampler.ErrBadInput, i, st.Sigma)
			}
			num[i] = len(sig)
			sig = append(sig, float32(st.Sigma))
		}
	}
	next := make([]int, len(job.Steps)+1)
	next[len(job.Steps)] = -1
	for i := len(job.Steps) - 1; i >= 0; i-- {
		next[i] = next[i+1]
		if job.Steps[i].Eval {
			next[i] = num[i]
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil {
		return nil, ErrClosed
	}
	d, kn, h := f.b.d, f.b.k, f.h
	var p *hditPlan
	var old uint64
	var scratch []allocation // the σ network's outputs for every evaluation (pre)
	var adaT uint64
	defer func() {
		d.Do(func() error {
			for _, a := range scratch {
				d.Free(a.ptr, a.size)
			}
			return nil
		})
	}()
	pre := f.pre && len(sig) > 0
	prep := func(i int) (float32, Prep) {
		pr := Prep{Sigma: p.sigma}
		e := next[i]
		if e < 0 {
			return 0, pr
		}
		if pre {
			pr.Scal, pr.SigmaData = p.scal, float32(h.cfg.SigmaData)
			pr.AdaSrc, pr.AdaDst, pr.AdaCols = adaT+uint64(4*e*h.adaCols), p.ada, h.adaCols
		}
		return sig[e], pr
	}
	err := d.Do(func() error {
		var err error
		if p, err = h.plan(k, width); err != nil {
			return err
		}
		key := [2]int{k, width}
		if old = f.old[key]; old == 0 {
			if old, err = h.alloc(4 * k * n); err != nil {
				return err
			}
			f.old[key] = old
		}
		// the context and mask of one roll, then copies for the other candidates
		if err := d.Upload(p.ctx, F32Bytes(job.Known)); err != nil {
			return err
		}
		if err := d.Upload(p.mask, F32Bytes(job.Mask)); err != nil {
			return err
		}
		for b := 1; b < k; b++ {
			if err := d.Copy(p.ctx+uint64(4*b*n), p.ctx, uint64(4*n)); err != nil {
				return err
			}
			if err := d.Copy(p.mask+uint64(4*b*hw), p.mask, uint64(4*hw)); err != nil {
				return err
			}
		}
		if pre {
			e := len(sig)
			var bufs [4]uint64
			for j, floats := range []int{e, e * h.cfg.MappingWidth, 4 * e, e * h.adaCols} {
				ptr, size, err := d.Alloc(uint64(4 * floats))
				if err != nil {
					if IsOutOfMemory(err) {
						return fmt.Errorf("%w: %w", ErrOutOfMemory, err)
					}
					return err
				}
				scratch = append(scratch, allocation{ptr, size})
				bufs[j] = ptr
			}
			adaT = bufs[3]
			if err := d.Upload(bufs[0], F32Bytes(sig)); err != nil {
				return err
			}
			if err := h.Conditioning(bufs[0], bufs[1], bufs[2], bufs[3], e); err != nil {
				return err
			}
		}
		s, pr := prep(0)
		return kn.SamplerStep(p.x, old, 0, p.ctx, p.mask, n, hw, k, 0, 0, 0, 0, job.Sigma0,
			job.Seed, job.InitNoise, false, s, pr)
	})
	if err != nil {
		return nil, fmt.Errorf("fused inpaint: %w", err)
	}
	total := len(sig)
	every := max(1, total/10)
	evals, reported := 0, 0
	for i, st := range job.Steps {
		if err := ctx.Err(); err != nil {
			d.Do(d.Sync) // let queued work finish before the buffers are reused
			return nil, err
		}
		err := d.Do(func() error {
			s, pr := prep(i + 1)
			if !st.Eval {
				return kn.SamplerStep(p.x, old, 0, p.ctx, p.mask, n, hw, k, 1, 0, 0, 0, st.G,
					job.Seed, st.Noise, false, s, pr)
			}
			run := func() error { return h.Run(k, width, true) }
			if pre {
				run = func() error { return h.RunPreconditioned(k, width) }
			}
			if err := run(); err != nil {
				return err
			}
			return kn.SamplerStep(p.x, old, p.out, p.ctx, p.mask, n, hw, k, 2, st.A, st.B, st.C, st.G,
				job.Seed, st.Noise, st.Keep, s, pr)
		})
		if err != nil {
			return nil, fmt.Errorf("fused inpaint: step %d: %w", i, err)
		}
		if !st.Eval {
			continue
		}
		if evals++; job.Progress != nil && (evals%every == 0 || evals == total) {
			if err := d.Do(d.Sync); err != nil {
				return nil, fmt.Errorf("fused inpaint: %w", err)
			}
			for ; reported < evals; reported++ {
				job.Progress(reported + 1)
			}
		}
	}
	out := make([]float32, k*n)
	raw := unsafe.Slice((*byte)(unsafe.Pointer(&out[0])), 4*len(out)) // little-endian, as the device
	if err := d.Do(func() error { return d.Download(raw, p.x) }); err != nil {
		return nil, fmt.Errorf("fused inpaint: %w", err)
	}
	return out, nil
}
