package sound

import "math"

// Piano is the built-in instrument: a small modal model of a struck string. Each partial is a
// damped phasor (one complex multiply a sample), slightly stretched for string stiffness, with
// brighter and louder partials for harder strikes, two detuned strings for the slow beating of
// a real unison, and a short burst of hammer noise.
type Piano struct{}

func (Piano) Name() string { return "Built-in piano" }

const (
	pianoMaxPartials = 24
	pianoRelease     = 0.12 // seconds for the damper to stop a string
)

type partial struct {
	re, im float64 // phasor state
	cr, ci float64 // per-sample rotation times decay
	gain   float64
}

type pianoVoice struct {
	partials  []partial
	relDecay  float64 // per-sample factor once the damper falls
	level     float64 // overall envelope after release
	released  bool
	noise     uint32 // hammer noise generator state
	noiseLeft int    // samples of hammer noise still to play
	noiseGain float64
	noiseLP   float64
	gl, gr    float32
	// bound is an upper bound of the voice's amplitude; it ends on the first frame the bound
	// falls under -100 dB, so the end does not depend on how audio is split into blocks.
	bound, boundDecay float64
	done              bool
}

func (Piano) NewVoice(key, velocity uint8, sampleRate int) Voice {
	if velocity == 0 || sampleRate <= 0 {
		return nil
	}
	sr := float64(sampleRate)
	v := float64(velocity) / 127
	f0 := keyFrequency(float64(key))
	// Stiffness grows towards the treble; low strings ring for seconds, high ones briefly.
	inharm := 0.00008 * math.Pow(2, (float64(key)-48)/18)
	baseDecay := 6.0 * math.Pow(2, -(float64(key)-21)/22) // seconds to -60 dB for the fundamental
	pv := &pianoVoice{
		relDecay:  math.Pow(1e-3, 1/(pianoRelease*sr)),
		level:     1,
		noise:     uint32(key)*2654435761 + 1,
		noiseLeft: int(0.004 * sr),
		noiseGain: 0.05 * v * v,
	}
	pv.gl, pv.gr = panGains((float64(key) - 64) / 90)
	pv.bound = pv.noiseGain
	amp := 0.18 * v * v // loudness grows faster than velocity, as on a real instrument
	brightness := 0.35 + 0.9*v
	for n := 1; n <= pianoMaxPartials; n++ {
		fn := f0 * float64(n) * math.Sqrt(1+inharm*float64(n*n))
		if fn > 0.45*sr {
			break
		}
		g := amp * math.Exp(-float64(n-1)/(3*brightness)) / math.Pow(float64(n), 0.6)
		t60 := baseDecay / (1 + 0.25*float64(n-1))
		decay := math.Pow(1e-3, 1/(t60*sr))
		pv.bound += g
		pv.boundDecay = math.Max(pv.boundDecay, decay)
		// Two strings a fraction of a cent apart give the unison's beating.
		for _, detune := range []float64{-0.0004, 0.0004} {
			w := 2 * math.Pi * fn * (1 + detune) / sr
			pv.partials = append(pv.partials, partial{
				re: 0, im: 1,
				cr: decay * math.Cos(w), ci: decay * math.Sin(w),
				gain: g / 2,
			})
		}
	}
	return pv
}

func (p *pianoVoice) Release() { p.released = true }

func (p *pianoVoice) Render(out []float32) bool {
	frames := len(out) / 2
	for i := 0; i < frames && !p.done; i++ {
		var s float64
		for j := range p.partials {
			q := &p.partials[j]
			re := q.re*q.cr - q.im*q.ci
			q.im = q.re*q.ci + q.im*q.cr
			q.re = re
			s += q.im * q.gain
		}
		if p.noiseLeft > 0 {
			p.noise ^= p.noise << 13
			p.noise ^= p.noise >> 17
			p.noise ^= p.noise << 5
			white := float64(int32(p.noise)) / (1 << 31)
			p.noiseLP += 0.3 * (white - p.noiseLP)
			s += p.noiseLP * p.noiseGain
			p.noiseLeft--
		}
		if p.released {
			p.level *= p.relDecay
		}
		s *= p.level
		out[2*i] += float32(s) * p.gl
		out[2*i+1] += float32(s) * p.gr
		if p.noiseLeft == 0 {
			p.bound *= p.boundDecay
			p.done = p.bound*p.level < 1e-5
		}
	}
	return !p.done
}
