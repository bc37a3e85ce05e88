package pianoroll

import (
	"context"
	"fmt"

	"latentstudio/gpu/sampler"
)

// Options for one inpainting call. Zero fields take DefaultOptions' values.
type Options struct {
	Sampler    string  // "euler", "dpm++2m", "dpm++2m-sde"
	Steps      int     // sampler steps before RePaint jumps
	Jumps      int     // RePaint U, 1..10: more gives busier, better-joined music (and costs U× the steps)
	Candidates int     // K rolls in one batch
	Percentile float64 // which candidate, ranked by notes in the mask (0 = sparsest, 1 = busiest)
	Seed       uint64
	SigmaMin   float64
	SigmaMax   float64
	// Progress, when set, is called after every network evaluation with the evaluations done
	// and the total the schedule needs (from the calling goroutine; keep it cheap).
	Progress func(done, total int)
}

// DefaultOptions: 30 DPM++ 2M SDE steps, U = 2, one candidate.
func DefaultOptions() Options {
	return Options{Sampler: "dpm++2m-sde", Steps: 30, Jumps: 2, Candidates: 1, Percentile: 0.5, SigmaMin: 0.01, SigmaMax: 10}
}

func (o Options) withDefaults() Options {
	d := DefaultOptions()
	if o.Sampler == "" {
		o.Sampler = d.Sampler
	}
	if o.Steps == 0 {
		o.Steps = d.Steps
	}
	if o.Jumps == 0 {
		o.Jumps = d.Jumps
	}
	if o.Candidates == 0 {
		o.Candidates = d.Candidates
	}
	if o.SigmaMin == 0 {
		o.SigmaMin = d.SigmaMin
	}
	if o.SigmaMax == 0 {
		o.SigmaMax = d.SigmaMax
	}
	return o
}

// Inpaint fills the cells of roll [3,128,W] (the TEAM.md roll image in [-1,1]) where mask is
// 1 and returns every candidate, ranked by the notes it put in the mask, with the pick.
// Cells outside the mask come back exactly as given.
func (m *Model) Inpaint(ctx context.Context, roll []float32, mask *Mask, opt Options) (*sampler.Result, error) {
	opt = opt.withDefaults()
	if err := m.CheckWidth(mask.Steps); err != nil {
		return nil, err
	}
	if len(roll) != m.Config.RollChannels*Pitches*mask.Steps {
		return nil, fmt.Errorf("%w: roll has %d values, want 3 × 128 × %d", ErrBadTask, len(roll), mask.Steps)
	}
	if mask.Count() == 0 {
		return nil, fmt.Errorf("%w: the mask is empty: draw where the model should play", ErrBadTask)
	}
	if opt.Steps < 1 || opt.Steps > 1000 {
		return nil, fmt.Errorf("%w: %d steps out of 1..1000", ErrBadTask, opt.Steps)
	}
	samp, err := sampler.ByName(opt.Sampler)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadTask, err)
	}
	sigmas := sampler.Karras(opt.Steps, opt.SigmaMin, opt.SigmaMax, 7)
	req := sampler.Inpainting{
		Sampler:    samp,
		Sigmas:     sigmas,
		Jumps:      opt.Jumps,
		Candidates: opt.Candidates,
		Percentile: opt.Percentile,
		Seed:       opt.Seed,
		Channels:   m.Config.RollChannels,
	}
	if m.fused != nil && useFused {
		var progress func(int)
		if opt.Progress != nil {
			total := evaluations(sampler.RePaint(sigmas, opt.Jumps))
			progress = func(done int) { opt.Progress(min(done, total), total) }
		}
		return sampler.InpaintOn(ctx, m.fused, opt.Sampler, roll, mask.Cells, req, progress)
	}
	d := m.NewDenoiser(ctx)
	defer d.Close()
	net := d.Net(opt.Candidates, mask.Steps)
	if opt.Progress != nil {
		total, done := evaluations(sampler.RePaint(sigmas, opt.Jumps)), 0
		inner := net
		net = func(x []float32, sigma float64, context, mask []float32) ([]float32, error) {
			out, err := inner(x, sigma, context, mask)
			if err == nil {
				done++
				opt.Progress(min(done, total), total)
			}
			return out, err
		}
	}
	return sampler.Inpaint(ctx, net, Normal, roll, mask.Cells, req)
}

// useFused lets tests and benchmarks time the op-by-op path on a backend that fuses.
var useFused = true

// Fused reports whether Inpaint runs the backend's fused network with the sampler's loop on
// the device (the CUDA backend), rather than op by op with the loop on the host.
func (m *Model) Fused() bool { return m.fused != nil }

// evaluations counts the network calls a schedule costs: one per step down (a step up only
// re-noises).
func evaluations(sigmas []float64) int {
	n := 0
	for i := 0; i+1 < len(sigmas); i++ {
		if sigmas[i+1] <= sigmas[i] {
			n++
		}
	}
	return n
}
