package sound

import "math"

// sfVoice plays one sample zone: resampling with linear interpolation, looping, the DAHDSR
// volume envelope, pan, and the zone's low-pass filter. Modulation envelopes, LFOs and effects
// are not played; a piano roll is heard well without them.
type sfVoice struct {
	pool               []int16
	pos, step          float64
	end                float64
	loopStart, loopEnd float64
	loop               bool
	loopUntilRelease   bool
	gain               float64
	gl, gr             float32

	stage                envStage
	stageLeft            int     // samples left in delay, attack, hold
	amp                  float64 // envelope amplitude 0..1
	attackInc            float64
	holdSamples          int
	decayMul, sustainAmp float64
	releaseMul           float64

	lp *biquad
}

type envStage uint8

const (
	envDelay envStage = iota
	envAttack
	envHold
	envDecay
	envSustain
	envRelease
	envDone
)

// silentAmp ends a voice: -80 dB under full scale.
const silentAmp = 1e-4

func newSFVoice(sf *SoundFont, h *sampleHeader, g *[genCount]int32, key, vel uint8, sampleRate int) *sfVoice {
	if h.sampleType&0x8000 != 0 { // ROM samples are not in the file
		return nil
	}
	pool := int64(len(sf.samples))
	clamp := func(x int64) float64 { return float64(max(0, min(pool, x))) }
	start := clamp(int64(h.start) + int64(g[genStartAddrsOffset]) + 32768*int64(g[genStartAddrsCoarseOffset]))
	end := clamp(int64(h.end) + int64(g[genEndAddrsOffset]) + 32768*int64(g[genEndAddrsCoarseOffset]))
	if end-start < 2 {
		return nil
	}
	v := &sfVoice{pool: sf.samples, pos: start, end: end - 1}
	v.loopStart = clamp(int64(h.loopStart) + int64(g[genStartloopAddrsOffset]) + 32768*int64(g[genStartloopCoarseOffset]))
	v.loopEnd = clamp(int64(h.loopEnd) + int64(g[genEndloopAddrsOffset]) + 32768*int64(g[genEndloopCoarseOffset]))
	mode := g[genSampleModes] & 3
	if (mode == 1 || mode == 3) && v.loopStart >= start && v.loopEnd <= end && v.loopEnd-v.loopStart >= 2 {
		v.loop = true
		v.loopUntilRelease = mode == 3
	}

	root := int32(h.originalPitch)
	if g[genOverridingRootKey] >= 0 && g[genOverridingRootKey] <= 127 {
		root = g[genOverridingRootKey]
	} else if root > 127 {
		root = 60
	}
	cents := float64((int32(key)-root)*g[genScaleTuning]) + float64(g[genCoarseTune]*100+g[genFineTune]) + float64(h.pitchCorrection)
	v.step = math.Pow(2, cents/1200) * float64(h.rate) / float64(sampleRate)

	// Attenuation is scaled by 0.4, as FluidSynth does, to match the EMU hardware the
	// format was written for; velocity follows the default concave curve, about vel².
	att := 0.4 * float64(max(0, g[genInitialAttenuation]))
	vf := float64(vel) / 127
	v.gain = math.Pow(10, -att/200) * vf * vf / 32768
	v.gl, v.gr = panGains(float64(g[genPan]) / 500)

	sr := float64(sampleRate)
	keyOff := float64(60 - int32(key))
	v.stageLeft = int(timecents(g[genDelayVolEnv]) * sr)
	attack := timecents(g[genAttackVolEnv]) * sr
	v.attackInc = 1 / max(1, attack)
	v.holdSamples = int(timecents(g[genHoldVolEnv]+int32(keyOff*float64(g[genKeynumToVolEnvHold]))) * sr)
	// Decay and release move the level 100 dB (1000 cB) in their time, linearly in dB.
	decay := max(1, timecents(g[genDecayVolEnv]+int32(keyOff*float64(g[genKeynumToVolEnvDecay])))*sr)
	v.decayMul = math.Pow(10, -5/decay)
	sus := float64(max(0, min(1440, g[genSustainVolEnv])))
	v.sustainAmp = math.Pow(10, -sus/200)
	v.releaseMul = math.Pow(10, -5/max(1, timecents(g[genReleaseVolEnv])*sr))
	v.stage = envDelay

	if fc := g[genInitialFilterFc]; fc < 13500 {
		hz := 8.176 * math.Pow(2, float64(fc)/1200)
		if hz < 0.45*sr {
			q := math.Pow(10, float64(max(0, g[genInitialFilterQ]))/200)
			v.lp = newLowpass(hz, max(0.707, q), sr)
		}
	}
	return v
}

func (v *sfVoice) Release() {
	if v.stage < envRelease {
		v.stage = envRelease
		if v.loopUntilRelease {
			v.loop = false
		}
	}
}

// envelope advances one sample and returns the amplitude.
func (v *sfVoice) envelope() float64 {
	switch v.stage {
	case envDelay:
		if v.stageLeft > 0 {
			v.stageLeft--
			return 0
		}
		v.stage = envAttack
		fallthrough
	case envAttack:
		v.amp += v.attackInc
		if v.amp >= 1 {
			v.amp = 1
			v.stage = envHold
			v.stageLeft = v.holdSamples
		}
	case envHold:
		if v.stageLeft > 0 {
			v.stageLeft--
		} else {
			v.stage = envDecay
		}
	case envDecay:
		v.amp *= v.decayMul
		if v.amp <= v.sustainAmp {
			v.amp = v.sustainAmp
			v.stage = envSustain
		}
	case envRelease:
		v.amp *= v.releaseMul
		if v.amp < silentAmp {
			v.stage = envDone
		}
	}
	return v.amp
}

func (v *sfVoice) Render(out []float32) bool {
	for i := 0; i < len(out)/2; i++ {
		if v.stage == envDone {
			return false
		}
		if v.loop && v.pos >= v.loopEnd {
			v.pos -= v.loopEnd - v.loopStart
		}
		if v.pos >= v.end {
			v.stage = envDone
			return false
		}
		idx := int(v.pos)
		frac := v.pos - float64(idx)
		next := idx + 1
		if v.loop && float64(next) >= v.loopEnd {
			next = int(v.loopStart)
		}
		s := float64(v.pool[idx])*(1-frac) + float64(v.pool[next])*frac
		if v.lp != nil {
			s = v.lp.process(s)
		}
		s *= v.gain * v.envelope()
		out[2*i] += float32(s) * v.gl
		out[2*i+1] += float32(s) * v.gr
		v.pos += v.step
	}
	// A sustained zone whose sustain level is inaudible is done, too.
	if v.stage == envSustain && v.sustainAmp < silentAmp {
		v.stage = envDone
	}
	return v.stage != envDone
}

// biquad is a direct-form-I filter (RBJ cookbook low-pass).
type biquad struct {
	b0, b1, b2, a1, a2 float64
	x1, x2, y1, y2     float64
}

func newLowpass(hz, q, sr float64) *biquad {
	w := 2 * math.Pi * hz / sr
	alpha := math.Sin(w) / (2 * q)
	cw := math.Cos(w)
	a0 := 1 + alpha
	return &biquad{
		b0: (1 - cw) / 2 / a0, b1: (1 - cw) / a0, b2: (1 - cw) / 2 / a0,
		a1: -2 * cw / a0, a2: (1 - alpha) / a0,
	}
}

func (f *biquad) process(x float64) float64 {
	y := f.b0*x + f.b1*f.x1 + f.b2*f.x2 - f.a1*f.y1 - f.a2*f.y2
	f.x2, f.x1 = f.x1, x
	f.y2, f.y1 = f.y1, y
	return y
}
