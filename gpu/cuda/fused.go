package cuda

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"

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
}

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
	f := &FusedHDiT{b: b, old: map[[2]int]uint64{}}
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
	// evalSigma[i] is the σ of the first evaluation at or after step i (0: none), which the
	// kernel before it stores for the graph to read.
	evalSigma := make([]float32, len(job.Steps)+1)
	for i := len(job.Steps) - 1; i >= 0; i-- {
		evalSigma[i] = evalSigma[i+1]
		if job.Steps[i].Eval {
			evalSigma[i] = float32(job.Steps[i].Sigma)
			if !(evalSigma[i] > 0) {
				return nil, fmt.Errorf("%w: step %d evaluates at σ = %v", sampler.ErrBadInput, i, job.Steps[i].Sigma)
			}
		}
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.h == nil {
		return nil, ErrClosed
	}
	d, kn := f.b.d, f.b.k
	var p *hditPlan
	var old uint64
	err := d.Do(func() error {
		var err error
		if p, err = f.h.plan(k, width); err != nil {
			return err
		}
		key := [2]int{k, width}
		if old = f.old[key]; old == 0 {
			if old, err = f.h.alloc(4 * k * n); err != nil {
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
		return kn.SamplerStep(p.x, old, 0, p.ctx, p.mask, n, hw, k, 0, 0, 0, 0, job.Sigma0,
			job.Seed, job.InitNoise, false, p.sigma, evalSigma[0])
	})
	if err != nil {
		return nil, fmt.Errorf("fused inpaint: %w", err)
	}
	total := sampler.Evaluations(job.Steps)
	every := max(1, total/10)
	evals, reported := 0, 0
	for i, st := range job.Steps {
		if err := ctx.Err(); err != nil {
			d.Do(d.Sync) // let queued work finish before the buffers are reused
			return nil, err
		}
		err := d.Do(func() error {
			if !st.Eval {
				return kn.SamplerStep(p.x, old, 0, p.ctx, p.mask, n, hw, k, 1, 0, 0, 0, st.G,
					job.Seed, st.Noise, false, p.sigma, evalSigma[i+1])
			}
			if err := f.h.Run(k, width, true); err != nil {
				return err
			}
			return kn.SamplerStep(p.x, old, p.out, p.ctx, p.mask, n, hw, k, 2, st.A, st.B, st.C, st.G,
				job.Seed, st.Noise, st.Keep, p.sigma, evalSigma[i+1])
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
	out := make([]byte, 4*k*n)
	if err := d.Do(func() error { return d.Download(out, p.x) }); err != nil {
		return nil, fmt.Errorf("fused inpaint: %w", err)
	}
	return Float32s(out), nil
}
