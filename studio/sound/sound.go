// Package sound turns notes into audio that works everywhere the studio runs: a built-in piano
// synth (no files needed, so wasm and bare machines have sound) and a SoundFont 2 player when a
// .sf2 file is found. A Sequencer schedules notes on exact sample frames, so the playhead, which
// is derived from frames rendered, never drifts from what is heard.
package sound

import "math"

// An Instrument makes voices. Implementations must be safe to call from the audio goroutine.
type Instrument interface {
	// NewVoice starts a note; it returns nil when the instrument has nothing for that key.
	NewVoice(key, velocity uint8, sampleRate int) Voice
	Name() string
}

// A Voice is one sounding note.
type Voice interface {
	// Render adds the voice's next len(out)/2 stereo frames (interleaved L, R) into out and
	// reports whether it still sounds afterwards.
	Render(out []float32) bool
	// Release starts the note's release (key up).
	Release()
}

// keyFrequency is the equal-tempered frequency of a MIDI key (A4 = key 69 = 440 Hz).
func keyFrequency(key float64) float64 { return 440 * math.Pow(2, (key-69)/12) }

// panGains gives constant-power left and right gains for pan in [-1, 1].
func panGains(pan float64) (l, r float32) {
	pan = math.Max(-1, math.Min(1, pan))
	a := (pan + 1) * math.Pi / 4
	return float32(math.Cos(a)), float32(math.Sin(a))
}

// softClip keeps the sum of many voices under full scale without the harshness of a hard clip;
// below 0.8 it is the identity.
func softClip(x float32) float32 {
	const knee = 0.8
	switch {
	case x > knee:
		return knee + (1-knee)*float32(math.Tanh(float64((x-knee)/(1-knee))))
	case x < -knee:
		return -knee - (1-knee)*float32(math.Tanh(float64((-x-knee)/(1-knee))))
	}
	return x
}
