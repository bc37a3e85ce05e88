package cuda

import (
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"os"
	"sync"
	"unsafe"

	"latentstudio/gpu/sampler"
)

// ErrNotFusable is returned by FuseHDiT for a network the fused kernels do not cover; the
// model then runs op by op through the front.
var ErrNotFusable = errors.New("cuda: network not covered by the fused kernels")

// FusedHDiT is the piano-roll network as the fused HDiT with the sampler's loop on the device
// too: during an inpaint, x, the model's output, the sampler's history and the noise stay in
// GPU memory and only the final rolls come back. A job's whole program (the σ network for
// every evaluation, then per step the network without it and one sampler_step kernel) is
// captured into CUDA graphs once per (candidates, width, program) and replayed for every seed.
// It implements sampler.Device. Safe for concurrent use: jobs are serialized (one set of
// buffers per shape), and every call runs on the device thread. Errors from a full GPU wrap
// ErrOutOfMemory (and so gpu.ErrOutOfMemory), so the caller can run that request on the CPU.
type FusedHDiT struct {
	b    *Backend
	h    *HDiT
	mu   sync.Mutex
	old  map[[2]int]uint64 // per (batch, width): the sampler's history buffer
	seed uint64            // the job's seed on the device (2 words)
	jobs map[jobKey]*jobGraph
	// pre: the σ network runs for all evaluations at the start of a job and each step skips
	// it (EnvFusedPrecondition=0 turns it off); graphs: the job is captured whole
	// (EnvFusedGraph=0 launches step by step instead). Both are for comparisons.
	pre, graphs bool
}

// Environment switches for comparisons (results agree to float rounding): =0 turns off.
const (
	EnvFusedPrecondition = "LATENT_FUSED_PRECOND"
	EnvFusedGraph        = "LATENT_FUSED_GRAPH"
)

type jobKey struct {
	k, width int
	program  string
}

// jobGraph is one program captured for one plan, in chunks of about a tenth of its
// evaluations (progress is reported between chunks).
type jobGraph struct {
	chunks  []*Graph
	evals   []int // evaluations finished after each chunk
	scratch []allocation
}

func (j *jobGraph) free(d *Device) {
	for _, g := range j.chunks {
		g.Destroy()
	}
	for _, a := range j.scratch {
		d.Free(a.ptr, a.size)
	}
}

// maxJobGraphs bounds the cache; programs differ only by the sampling options.
const maxJobGraphs = 8

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
	f := &FusedHDiT{b: b, old: map[[2]int]uint64{}, jobs: map[jobKey]*jobGraph{},
		pre: os.Getenv(EnvFusedPrecondition) != "0", graphs: os.Getenv(EnvFusedGraph) != "0"}
	err := b.d.Do(func() (err error) {
		if f.h, err = NewHDiT(b.d, b.k, cfg, weights); err != nil {
			return err
		}
		f.seed, err = f.h.alloc(8)
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
		for _, j := range f.jobs {
			j.free(f.b.d)
		}
		f.h.Free() // frees the history and seed buffers too: they came from h.alloc
		f.h, f.old, f.jobs = nil, nil, nil
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
	pre := (f.pre || f.graphs) && len(sig) > 0
	var sigT, condT, scalT, adaT uint64 // with pre: the σ network's inputs and outputs for every evaluation
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
	// tables allocates (into scratch) and fills what the prologue reads; not capturable.
	tables := func(scratch *[]allocation) error {
		if !pre {
			return nil
		}
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
			*scratch = append(*scratch, allocation{ptr, size})
			bufs[j] = ptr
		}
		sigT, condT, scalT, adaT = bufs[0], bufs[1], bufs[2], bufs[3]
		return d.Upload(sigT, F32Bytes(sig))
	}
	// prologue queues what starts a job after the uploads: the other candidates' context and
	// mask, the σ network for every evaluation (with pre), the initial noise.
	prologue := func() error {
		for b := 1; b < k; b++ {
			if err := d.Copy(p.ctx+uint64(4*b*n), p.ctx, uint64(4*n)); err != nil {
				return err
			}
			if err := d.Copy(p.mask+uint64(4*b*hw), p.mask, uint64(4*hw)); err != nil {
				return err
			}
		}
		if pre {
			if err := h.Conditioning(sigT, condT, scalT, adaT, len(sig)); err != nil {
				return err
			}
		}
		s, pr := prep(0)
		return kn.SamplerStep(p.x, old, 0, p.ctx, p.mask, n, hw, k, 0, 0, 0, 0, job.Sigma0,
			f.seed, job.InitNoise, false, s, pr)
	}
	// step queues step i: the network (captured inline, from a replayed graph, or launched)
	// and the sampler kernel.
	step := func(i int, inline bool) error {
		st := job.Steps[i]
		s, pr := prep(i + 1)
		if !st.Eval {
			return kn.SamplerStep(p.x, old, 0, p.ctx, p.mask, n, hw, k, 1, 0, 0, 0, st.G,
				f.seed, st.Noise, false, s, pr)
		}
		var err error
		switch {
		case inline:
			err = h.queue(p, true)
		case pre:
			err = h.RunPreconditioned(k, width)
		default:
			err = h.Run(k, width, true)
		}
		if err != nil {
			return err
		}
		return kn.SamplerStep(p.x, old, p.out, p.ctx, p.mask, n, hw, k, 2, st.A, st.B, st.C, st.G,
			f.seed, st.Noise, st.Keep, s, pr)
	}
	var seedBytes [8]byte
	binary.LittleEndian.PutUint64(seedBytes[:], job.Seed)
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
		if err := d.Upload(f.seed, seedBytes[:]); err != nil {
			return err
		}
		// the context and mask of one roll; the prologue copies them for the others
		if err := d.Upload(p.ctx, F32Bytes(job.Known)); err != nil {
			return err
		}
		return d.Upload(p.mask, F32Bytes(job.Mask))
	})
	if err != nil {
		return nil, fmt.Errorf("fused inpaint: %w", err)
	}
	total := len(sig)
	report := func(done int, reported *int) error {
		if job.Progress == nil || done == *reported {
			return nil
		}
		if err := d.Do(d.Sync); err != nil {
			return fmt.Errorf("fused inpaint: %w", err)
		}
		for ; *reported < done; *reported++ {
			job.Progress(*reported + 1)
		}
		return nil
	}
	reported := 0
	if f.graphs {
		key := jobKey{k, width, programKey(job)}
		jg := f.jobs[key]
		if jg == nil {
			err := d.Do(func() error {
				var err error
				jg, err = f.capture(total, tables, prologue, step, job.Steps)
				return err
			})
			if err != nil {
				return nil, fmt.Errorf("fused inpaint: capturing the job: %w", err)
			}
			if len(f.jobs) >= maxJobGraphs {
				d.Do(func() error {
					for key, j := range f.jobs {
						j.free(d)
						delete(f.jobs, key)
					}
					return nil
				})
			}
			f.jobs[key] = jg
		}
		for c, g := range jg.chunks {
			if err := ctx.Err(); err != nil {
				d.Do(d.Sync) // let queued work finish before the buffers are reused
				return nil, err
			}
			if err := d.Do(g.Launch); err != nil {
				return nil, fmt.Errorf("fused inpaint: %w", err)
			}
			if err := report(jg.evals[c], &reported); err != nil {
				return nil, err
			}
		}
	} else {
		var scratch []allocation
		defer func() {
			d.Do(func() error {
				for _, a := range scratch {
					d.Free(a.ptr, a.size)
				}
				return nil
			})
		}()
		if err := d.Do(func() error {
			if err := tables(&scratch); err != nil {
				return err
			}
			return prologue()
		}); err != nil {
			return nil, fmt.Errorf("fused inpaint: %w", err)
		}
		every := max(1, total/10)
		evals := 0
		for i, st := range job.Steps {
			if err := ctx.Err(); err != nil {
				d.Do(d.Sync)
				return nil, err
			}
			if err := d.Do(func() error { return step(i, false) }); err != nil {
				return nil, fmt.Errorf("fused inpaint: step %d: %w", i, err)
			}
			if st.Eval {
				if evals++; evals%every == 0 || evals == total {
					if err := report(evals, &reported); err != nil {
						return nil, err
					}
				}
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

// capture records a job into graphs of about a tenth of its evaluations each: the prologue
// and the first steps in the first, the network inline (no nested graphs). Call inside Do.
func (f *FusedHDiT) capture(total int, tables func(*[]allocation) error, prologue func() error, step func(int, bool) error, steps []sampler.Step) (*jobGraph, error) {
	jg := &jobGraph{}
	if err := tables(&jg.scratch); err != nil {
		jg.free(f.b.d)
		return nil, err
	}
	per := max(1, (total+9)/10)
	i, evals := 0, 0
	for i < len(steps) || len(jg.chunks) == 0 {
		target := min(total, evals+per)
		g, err := f.b.d.Capture(func() error {
			if len(jg.chunks) == 0 {
				if err := prologue(); err != nil {
					return err
				}
			}
			for ; i < len(steps) && (evals < target || !steps[i].Eval); i++ {
				if err := step(i, true); err != nil {
					return err
				}
				if steps[i].Eval {
					evals++
				}
			}
			return nil
		})
		if err != nil {
			jg.free(f.b.d)
			return nil, err
		}
		jg.chunks = append(jg.chunks, g)
		jg.evals = append(jg.evals, evals)
	}
	return jg, nil
}

// programKey is what a captured job depends on besides the plan: the start and every step's
// numbers, as bytes.
func programKey(job sampler.DeviceJob) string {
	b := make([]byte, 0, 16+40*len(job.Steps))
	b = binary.LittleEndian.AppendUint32(b, math.Float32bits(job.Sigma0))
	b = binary.LittleEndian.AppendUint64(b, uint64(job.InitNoise))
	for _, st := range job.Steps {
		flags := byte(0)
		if st.Eval {
			flags |= 1
		}
		if st.Keep {
			flags |= 2
		}
		b = append(b, flags)
		b = binary.LittleEndian.AppendUint64(b, math.Float64bits(st.Sigma))
		for _, v := range []float32{st.A, st.B, st.C, st.G} {
			b = binary.LittleEndian.AppendUint32(b, math.Float32bits(v))
		}
		b = binary.LittleEndian.AppendUint64(b, uint64(st.Noise))
	}
	return string(b)
}
