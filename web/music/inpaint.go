// Package music runs the music models for the server's jobs. It holds the roll.inpaint job
// kind: a window of the song, a mask drawn on it, the piano-roll model filling the mask with
// K candidates (studio/protocol/roll.go is the contract).
package music

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync"
	"time"

	"latentstudio/gpu"
	_ "latentstudio/gpu/cpu" // the fallback when the GPU runs out of memory
	"latentstudio/gpu/cuda"
	roll "latentstudio/gpu/models/pianoroll"
	"latentstudio/gpu/sampler"
	"latentstudio/studio/pianoroll"
	"latentstudio/studio/protocol"
	"latentstudio/web/jobs"
)

// MaxWork bounds one request's size: candidates × window steps. 64 candidates of 32 bars
// (what the protocol allows at the trained width) is the most; wider windows take fewer.
const MaxWork = protocol.RollMaxCands * 512

// Inpainter serves roll.inpaint on one engine backend. The model is loaded on first use and
// shared by every session (a Model is safe for concurrent use: each run has its own
// Denoiser). When the backend is a GPU and a request runs out of its memory, that request
// runs again on the CPU, with a note in the result saying so.
type Inpainter struct {
	Weights string       // weights file, e.g. assets/pianoroll-hdit.safetensors
	Log     *slog.Logger // where fallbacks are logged (slog.Default when nil)

	be gpu.Backend

	once  sync.Once
	model *roll.Model
	err   error

	cpuOnce  sync.Once
	cpuBE    gpu.Backend
	cpuModel *roll.Model
	cpuErr   error
}

// NewInpainter serves inpainting with the weights file on be (the server's engine).
func NewInpainter(be gpu.Backend, weights string) *Inpainter {
	return &Inpainter{Weights: weights, be: be}
}

// Kind is the job kind to register as protocol.KindRollInpaint.
func (in *Inpainter) Kind() jobs.Kind { return jobs.Kind{Job: true, Run: in.Run} }

// Check reports whether the weights file can be opened, for a warning at start (the model
// itself loads on the first request).
func (in *Inpainter) Check() error {
	f, err := os.Open(in.Weights)
	if err != nil {
		return fmt.Errorf("piano-roll weights: %w (run the studio from the repository root or pass --weights)", err)
	}
	return f.Close()
}

func (in *Inpainter) log() *slog.Logger {
	if in.Log != nil {
		return in.Log
	}
	return slog.Default()
}

// load returns the model on the engine's backend, loading it once.
func (in *Inpainter) load() (*roll.Model, error) {
	in.once.Do(func() {
		in.model, in.err = roll.Load(in.be, in.Weights)
		if in.err != nil {
			in.err = fmt.Errorf("loading the piano-roll model: %w", in.err)
		}
	})
	return in.model, in.err
}

// loadCPU returns the model on a CPU backend of its own, opened on the first fallback.
func (in *Inpainter) loadCPU() (*roll.Model, error) {
	in.cpuOnce.Do(func() {
		be, err := gpu.Open("cpu")
		if err != nil {
			in.cpuErr = fmt.Errorf("opening the CPU engine for the fallback: %w", err)
			return
		}
		m, err := roll.Load(be, in.Weights)
		if err != nil {
			be.Close()
			in.cpuErr = fmt.Errorf("loading the piano-roll model on the CPU: %w", err)
			return
		}
		in.cpuBE, in.cpuModel = be, m
	})
	return in.cpuModel, in.cpuErr
}

// Close frees the models (and the fallback's CPU backend; the engine's backend is the
// server's to close).
func (in *Inpainter) Close() error {
	var errs []error
	if in.model != nil {
		errs = append(errs, in.model.Close())
	}
	if in.cpuModel != nil {
		errs = append(errs, in.cpuModel.Close(), in.cpuBE.Close())
	}
	return errors.Join(errs...)
}

// request is a validated roll.inpaint request turned into the model's terms.
type request struct {
	p     protocol.RollInpaint
	notes []pianoroll.Note
	mask  *roll.Mask
	opt   roll.Options
}

// decode reads and checks params; every failure is a typed protocol error.
func decode(raw json.RawMessage) (*request, error) {
	var p protocol.RollInpaint
	if len(raw) == 0 {
		return nil, protocol.Errorf(protocol.BadInput, "roll.inpaint: params are missing")
	}
	if err := json.Unmarshal(raw, &p); err != nil {
		return nil, protocol.Errorf(protocol.BadInput, "roll.inpaint params: %v", err)
	}
	if err := p.Validate(); err != nil {
		return nil, err
	}
	k := max(p.Candidates, 1)
	if k*p.Steps > MaxWork {
		return nil, protocol.Errorf(protocol.TooLarge, "roll.inpaint: %d candidates × %d steps is more than one request may ask (%d): ask for fewer candidates or a narrower window", k, p.Steps, MaxWork)
	}
	cells, err := protocol.DecodeMask(p.Mask, p.Steps)
	if err != nil {
		return nil, err
	}
	r := &request{p: p, mask: roll.NewMask(p.Steps)}
	empty := true
	for i, c := range cells {
		if c {
			r.mask.Cells[i], empty = 1, false
		}
	}
	if empty {
		return nil, protocol.Errorf(protocol.BadInput, "roll.inpaint: the mask is empty: draw where the model should play")
	}
	r.notes = make([]pianoroll.Note, 0, len(p.Notes)/4)
	for i := 0; i < len(p.Notes); i += 4 {
		r.notes = append(r.notes, pianoroll.Note{Start: int(p.Notes[i]), Dur: int(p.Notes[i+1]), Pitch: uint8(p.Notes[i+2]), Vel: uint8(p.Notes[i+3])})
	}
	r.opt = roll.Options{Sampler: p.Sampler, Steps: p.Sampling, Jumps: p.Repaint, Candidates: k, Percentile: p.Percentile, Seed: p.Seed}
	return r, nil
}

// Run is the job: decode, load, inpaint (on the CPU again after a GPU out-of-memory), answer
// protocol.RollInpaintResult.
func (in *Inpainter) Run(ctx context.Context, raw json.RawMessage, report jobs.Report) (jobs.Output, error) {
	r, err := decode(raw)
	if err != nil {
		return jobs.Output{}, err
	}
	report(0, "loading the model")
	m, err := in.load()
	var note string
	onCPU := !in.onGPU()
	if err != nil && !onCPU && isOutOfMemory(err) {
		note = "the GPU had no memory for the model, so it ran on the CPU (slower)"
		in.log().Warn("roll.inpaint: GPU out of memory loading the model; running on the CPU", "err", err)
		m, err = in.loadCPU()
		onCPU = true
	}
	if err != nil {
		return jobs.Output{}, protocol.Errorf(protocol.Engine, "%v", err)
	}
	if err := m.CheckWidth(r.p.Steps); err != nil {
		return jobs.Output{}, protocol.Errorf(protocol.BadInput, "roll.inpaint: the window is %d steps; the model fills windows of a multiple of %d steps (512 = 32 bars is what it was trained on)", r.p.Steps, stepMultiple(m))
	}
	img := pianoroll.Image(r.notes, r.p.From, r.p.Steps)
	res, err := in.inpaint(ctx, m, img, r, report, "")
	if err != nil && ctx.Err() == nil && !onCPU && isOutOfMemory(err) {
		note = fmt.Sprintf("the GPU ran out of memory for %d candidates of %d steps, so this request ran on the CPU (slower); fewer candidates stay on the GPU", r.opt.Candidates, r.p.Steps)
		in.log().Warn("roll.inpaint: GPU out of memory; running this request on the CPU", "request", r.p.String(), "err", err)
		if m, err = in.loadCPU(); err == nil {
			res, err = in.inpaint(ctx, m, img, r, report, "on the CPU (GPU out of memory): ")
		}
	}
	if err != nil {
		if ctx.Err() != nil {
			return jobs.Output{}, ctx.Err()
		}
		if errors.Is(err, roll.ErrBadTask) || errors.Is(err, sampler.ErrBadInput) {
			return jobs.Output{}, protocol.Errorf(protocol.BadInput, "roll.inpaint: %v", err)
		}
		if isOutOfMemory(err) {
			return jobs.Output{}, protocol.Errorf(protocol.Engine, "roll.inpaint: not enough memory for %d candidates of %d steps on the %s: ask for fewer candidates or a narrower window (%v)", r.opt.Candidates, r.p.Steps, m.Backend().Info().Backend, err)
		}
		return jobs.Output{}, protocol.Errorf(protocol.Engine, "roll.inpaint: %v", err)
	}
	out := protocol.RollInpaintResult{From: r.p.From, Steps: r.p.Steps, Pick: res.Pick, Backend: m.Backend().Info().Backend, Note: note}
	for k, c := range res.Candidates {
		notes, err := pianoroll.FromImage(c, r.p.Steps, r.p.From)
		if err != nil {
			return jobs.Output{}, protocol.Errorf(protocol.Engine, "roll.inpaint: candidate %d: %v", k, err)
		}
		flat := make(protocol.RollNotes, 0, 4*len(notes))
		for _, n := range notes {
			flat = append(flat, int32(n.Start), int32(n.Dur), int32(n.Pitch), int32(n.Vel))
		}
		out.Candidates = append(out.Candidates, protocol.RollCandidate{Notes: flat, NotesInMask: res.Notes[k], Seed: res.Seeds[k]})
	}
	report(100, "done")
	return jobs.Output{Data: out}, nil
}

// progressGap spaces the progress events of one run.
const progressGap = 100 * time.Millisecond

// inpaint runs the model once, reporting "step i/n" (model evaluations) as it goes.
func (in *Inpainter) inpaint(ctx context.Context, m *roll.Model, img []float32, r *request, report jobs.Report, stage string) (*sampler.Result, error) {
	opt := r.opt
	var last time.Time
	opt.Progress = func(done, total int) {
		// The stage text changes every step, which the scheduler's throttle lets through, so
		// a fast GPU would send an event per evaluation: send the first, the last and ten a
		// second between.
		if now := time.Now(); done == 1 || done == total || now.Sub(last) >= progressGap {
			last = now
			report(float64(done)*100/float64(total), fmt.Sprintf("%sstep %d/%d", stage, done, total))
		}
	}
	return m.Inpaint(ctx, img, r.mask, opt)
}

// onGPU tells whether the engine's backend is a GPU (a CPU that runs out of memory has
// nowhere to fall back to).
func (in *Inpainter) onGPU() bool { return in.be.Info().Backend != "cpu" }

// isOutOfMemory recognizes a full device through either name the engine gives it.
func isOutOfMemory(err error) bool {
	return errors.Is(err, gpu.ErrOutOfMemory) || errors.Is(err, cuda.ErrOutOfMemory)
}

// stepMultiple is the smallest width the model accepts (CheckWidth's granularity).
func stepMultiple(m *roll.Model) int {
	for w := 16; w <= protocol.RollMaxSteps; w += 16 {
		if m.CheckWidth(w) == nil {
			return w
		}
	}
	return 512
}
