package sampler

import (
	"context"
	"fmt"
	"math"
)

// Step is one step of a sampler written as data, so that a device can run the whole loop
// with x, D and the history in its own memory (see Device). With Eval, the model gives
// d = D(x; Sigma) (known cells replaced by the context when inpainting) and
//
//	x ← A·x + B·d + C·(d − old) + G·ε(Noise)   (the C term only when C ≠ 0, the ε term only when G ≠ 0)
//	old ← d                                    (when Keep)
//
// Without Eval the step only re-noises: x ← x + G·ε(Noise). ε(n) is the sampler's Noise for
// step n, so a program draws exactly the noise its sampler function draws.
type Step struct {
	Eval       bool
	Sigma      float64
	A, B, C, G float32
	Noise      int
	Keep       bool
}

// Program returns the named sampler ("euler", "dpm++2m", "dpm++2m-sde") over sigmas as steps:
// the same coefficients as the functions Euler, DPMPP2M and DPMPP2MSDE, which remain the
// reference (RunProgram on the host agrees with them to float32 rounding).
func Program(name string, sigmas []float64) ([]Step, error) {
	if _, err := ByName(name); err != nil {
		return nil, err
	}
	var out []Step
	hasOld, hLast := false, 0.0
	for i := 0; i+1 < len(sigmas); i++ {
		s, next := sigmas[i], sigmas[i+1]
		if next > s {
			out = append(out, Step{G: float32(math.Sqrt(next*next - s*s)), Noise: i})
			hasOld = false
			continue
		}
		st := Step{Eval: true, Sigma: s, Noise: i}
		switch {
		case next == 0: // every sampler ends on x = D
			st.B = 1
			hasOld = false
		case name == "euler":
			r := next / s
			st.A, st.B = float32(r), float32(1-r)
		case name == "dpm++2m" || name == "dpmpp2m":
			h := math.Log(s) - math.Log(next)
			a, b := next/s, -math.Expm1(-h)
			st.A, st.B = float32(a), float32(b)
			if hasOld { // b·(c1·d − c2·old) with c1 = 1 + c2 is b·d + b·c2·(d − old)
				st.C = float32(b / (2 * (hLast / h)))
			}
			st.Keep, hasOld, hLast = true, true, h
		default: // dpm++2m-sde
			h := math.Log(s) - math.Log(next)
			st.A = float32(next / s * math.Exp(-h))
			st.B = float32(-math.Expm1(-2 * h))
			if hasOld {
				st.C = float32(0.5 * -math.Expm1(-2*h) * h / hLast)
			}
			st.G = float32(next * math.Sqrt(-math.Expm1(-2*h)))
			st.Keep, hasOld, hLast = true, true, h
		}
		out = append(out, st)
	}
	return out, nil
}

// Evaluations counts the model calls of a program.
func Evaluations(steps []Step) int {
	n := 0
	for _, s := range steps {
		if s.Eval {
			n++
		}
	}
	return n
}

// RunProgram runs steps on host memory: what a Device does on its own, as a reference.
func RunProgram(ctx context.Context, model Model, x []float32, steps []Step, noise Noise) ([]float32, error) {
	buf := make([]float32, len(x))
	var old []float32
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if !st.Eval {
			noise(st.Noise, buf)
			for j := range x {
				x[j] += st.G * buf[j]
			}
			continue
		}
		d, err := model(x, st.Sigma)
		if err != nil {
			return nil, err
		}
		if st.C != 0 && old == nil {
			return nil, fmt.Errorf("sampler program: step at sigma %v uses a history it does not have", st.Sigma)
		}
		if st.G != 0 {
			noise(st.Noise, buf)
		}
		for j := range x {
			v := st.A*x[j] + st.B*d[j]
			if st.C != 0 {
				v += st.C * (d[j] - old[j])
			}
			if st.G != 0 {
				v += st.G * buf[j]
			}
			x[j] = v
		}
		if st.Keep {
			old = append(old[:0], d...)
		}
	}
	return x, nil
}

// Device runs a whole inpainting job on an accelerator: the K rolls, the model's outputs,
// the sampler's history and the noise stay in device memory, and only the final rolls come
// back. The CUDA backend's fused piano-roll network implements it.
type Device interface {
	Sample(ctx context.Context, job DeviceJob) ([]float32, error)
}

// DeviceJob is one inpainting run for a Device. The rolls start at
// x = known + Sigma0·ε(InitNoise) and follow Steps; the model sees (x, σ, known, mask) and
// its output is replaced by known wherever mask is 0. Candidate b draws its noise for step n
// from the seed's Philox stream n<<16 | b (element offset stream·2³², as pianoroll.Normal),
// so a device run draws the same noise as Inpaint on the host.
type DeviceJob struct {
	Known      []float32 // [C,H,W]: the roll with masked cells zeroed
	Mask       []float32 // [H,W]: 1 where the model generates
	Channels   int
	Candidates int
	Seed       uint64
	Sigma0     float32
	InitNoise  int
	Steps      []Step
	// Progress, when set, is called with the number of evaluations finished, in order, at
	// least every tenth of the program (device work is asynchronous, so calls come in bursts).
	Progress func(done int)
}

// InpaintOn is Inpaint with the sampling loop on dev: the named sampler ("euler", "dpm++2m",
// "dpm++2m-sde") over RePaint(req.Sigmas, req.Jumps). req.Sampler is not used. Validation,
// clipping and ranking are Inpaint's, so cells outside the mask come back exactly as x0.
func InpaintOn(ctx context.Context, dev Device, name string, x0, mask []float32, req Inpainting, progress func(done int)) (*Result, error) {
	req.Sampler = Euler // validated below; the program decides the arithmetic
	p, err := prepare(x0, mask, req)
	if err != nil {
		return nil, err
	}
	steps, err := Program(name, p.sigmas)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrBadInput, err)
	}
	x, err := dev.Sample(ctx, DeviceJob{
		Known: p.known, Mask: mask, Channels: p.c, Candidates: p.k, Seed: req.Seed,
		Sigma0: float32(p.sigmas[0]), InitNoise: len(p.sigmas) + 1, Steps: steps, Progress: progress,
	})
	if err != nil {
		return nil, err
	}
	if len(x) != p.k*len(x0) {
		return nil, fmt.Errorf("sampler: device returned %d values, want %d", len(x), p.k*len(x0))
	}
	return p.finish(x0, mask, x, req), nil
}

// HostDevice runs DeviceJobs on the host with Net and Normal: the reference a Device must
// agree with (up to float32 rounding), and a way to run a program on any backend.
type HostDevice struct {
	Net    Net
	Normal Normal
}

// Sample runs job on the host.
func (h HostDevice) Sample(ctx context.Context, job DeviceJob) ([]float32, error) {
	n, hw, k := len(job.Known), len(job.Mask), job.Candidates
	if hw == 0 || k < 1 || n != job.Channels*hw {
		return nil, fmt.Errorf("%w: device job with %d known values, %d mask cells, %d channels, %d candidates", ErrBadInput, n, hw, job.Channels, k)
	}
	known := make([]float32, k*n)
	maskB := make([]float32, k*hw)
	for b := 0; b < k; b++ {
		copy(known[b*n:], job.Known)
		copy(maskB[b*hw:], job.Mask)
	}
	noise := func(step int, out []float32) {
		for b := 0; b < k; b++ {
			h.Normal(job.Seed, uint64(step)<<16|uint64(b), out[b*n:(b+1)*n])
		}
	}
	done, total := 0, Evaluations(job.Steps)
	model := func(x []float32, sigma float64) ([]float32, error) {
		d, err := h.Net(x, sigma, known, maskB)
		if err != nil {
			return nil, err
		}
		for b := 0; b < k; b++ {
			for ch := 0; ch < job.Channels; ch++ {
				o := b*n + ch*hw
				for i, m := range job.Mask {
					if m == 0 {
						d[o+i] = known[o+i]
					}
				}
			}
		}
		if done++; job.Progress != nil && done <= total {
			job.Progress(done)
		}
		return d, nil
	}
	x := make([]float32, k*n)
	noise(job.InitNoise, x)
	for i := range x {
		x[i] = known[i] + job.Sigma0*x[i]
	}
	return RunProgram(ctx, model, x, job.Steps, noise)
}
