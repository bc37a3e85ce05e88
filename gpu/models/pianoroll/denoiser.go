package pianoroll

import (
	"context"
	"fmt"
	"math"

	"latentstudio/gpu"
	"latentstudio/gpu/sampler"
)

// Denoiser evaluates the model for one caller (a session): it owns a gpu.Context whose arena
// and, on CUDA, captured graph are reused while the batch and width stay the same. Not safe
// for concurrent use; make one per goroutine.
type Denoiser struct {
	m     *Model
	c     *gpu.Context
	pitch []float32
	out   []float32
}

// NewDenoiser binds a context; ctx cancels a pass between ops.
func (m *Model) NewDenoiser(ctx context.Context) *Denoiser {
	return &Denoiser{m: m, c: gpu.NewContext(ctx, m.be)}
}

// Close releases the context's buffers.
func (d *Denoiser) Close() { d.c.Close() }

// Net adapts the denoiser to the samplers for rolls of `steps` steps, `batch` at a time.
func (d *Denoiser) Net(batch, steps int) sampler.Net {
	return func(x []float32, sigma float64, context, mask []float32) ([]float32, error) {
		return d.Denoise(batch, steps, x, sigma, context, mask)
	}
}

// Denoise is D(x; σ, context, mask) for a batch of rolls: x and context [B,3,128,W], mask
// [B,1,128,W] (host, row-major), one σ for the whole batch. The returned slice is reused by
// the next call.
func (d *Denoiser) Denoise(batch, steps int, x []float32, sigma float64, context, mask []float32) ([]float32, error) {
	return d.denoise(batch, steps, x, sigma, context, mask, nil)
}

func (d *Denoiser) denoise(batch, steps int, x []float32, sigma float64, context, mask []float32, tr Trace) ([]float32, error) {
	cfg := &d.m.Config
	rc := cfg.RollChannels
	if err := d.m.CheckWidth(steps); err != nil {
		return nil, err
	}
	n := batch * Pitches * steps
	if batch < 1 || len(mask) != n || len(x) != rc*n || len(context) != rc*n {
		return nil, fmt.Errorf("%w: x %d, context %d, mask %d values: want [%d,%d,128,%d] and [%d,1,128,%d]",
			ErrBadTask, len(x), len(context), len(mask), batch, rc, steps, batch, steps)
	}
	if !(sigma > 0) || math.IsInf(sigma, 0) {
		return nil, fmt.Errorf("%w: sigma %v must be positive and finite", ErrBadTask, sigma)
	}
	if len(d.pitch) != n {
		// pitch coordinate: torch.linspace(-1, 1, 128) down the rows, the same on every step
		d.pitch = make([]float32, n)
		for b := 0; b < batch; b++ {
			for p := 0; p < Pitches; p++ {
				v := float32(-1 + 2*float64(p)/float64(Pitches-1))
				row := d.pitch[(b*Pitches+p)*steps : (b*Pitches+p+1)*steps]
				for i := range row {
					row[i] = v
				}
			}
		}
	}
	cskip, cout, cin := d.m.Scalings(sigma)
	col := func(v float64) []float32 {
		s := make([]float32, batch)
		for i := range s {
			s[i] = float32(v)
		}
		return s
	}
	c := d.c
	c.Reset()
	in := &inputs{
		x:      c.Upload(x, batch, rc, Pitches, steps),
		ctx:    c.Upload(context, batch, rc, Pitches, steps),
		mask:   c.Upload(mask, batch, 1, Pitches, steps),
		pitch:  c.Upload(d.pitch, batch, 1, Pitches, steps),
		cin:    c.Upload(col(cin), batch, 1, 1, 1),
		cskip:  c.Upload(col(cskip), batch, 1, 1, 1),
		cout:   c.Upload(col(cout), batch, 1, 1, 1),
		cnoise: c.Upload(col(math.Log(sigma)/4), batch),
	}
	var y *gpu.Tensor
	if tr != nil {
		y = d.m.forward(c, in, tr)
	} else {
		y = c.Replay(fmt.Sprintf("pianoroll.denoise.%dx%d", batch, steps), func() *gpu.Tensor { return d.m.forward(c, in, nil) })
	}
	if cap(d.out) < rc*n {
		d.out = make([]float32, rc*n)
	}
	d.out = d.out[:rc*n]
	if err := c.DownloadInto(d.out, y); err != nil {
		return nil, fmt.Errorf("pianoroll: denoise: %w", err)
	}
	return d.out, nil
}

// Normal is the engine's Philox normal stream as the samplers want it: stream s of seed
// starts at element s·2³².
func Normal(seed, stream uint64, out []float32) { gpu.FillNormal(out, seed, stream<<32) }
