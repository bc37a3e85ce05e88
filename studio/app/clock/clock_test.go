package clock

import (
	"math"
	"testing"

	"latentstudio/studio/pianoroll"
)

func TestStepInvertsFrameThroughTempoChanges(t *testing.T) {
	c := Clock{Rate: 44100, Tempos: []pianoroll.Tempo{{Step: 0, BPM: 120}, {Step: 64, BPM: 90}, {Step: 100, BPM: 200}}}
	// At 120 BPM a 16th is 0.125 s: step 8 is one second in.
	if f := c.Frame(8); f != 44100 {
		t.Fatalf("Frame(8) = %d, want 44100", f)
	}
	for _, step := range []float64{0, 1, 7.5, 63, 64, 64.25, 80, 99.9, 100, 100.5, 333} {
		got := c.Step(c.FrameAt(step))
		if math.Abs(got-step) > 1e-3 {
			t.Errorf("Step(FrameAt(%v)) = %v", step, got)
		}
	}
	// After the change to 90 BPM a step lasts 1/6 s.
	if d := c.Frame(65) - c.Frame(64); d != 7350 {
		t.Fatalf("a step at 90 BPM is %d frames, want 7350", d)
	}
}

func TestDefaultTempoAndNotes(t *testing.T) {
	c := Clock{Rate: 48000}
	if got := c.Step(c.Frame(16)); math.Abs(got-16) > 1e-9 {
		t.Fatalf("default tempo round trip: %v", got)
	}
	ns := c.Notes([]pianoroll.Note{{Start: 4, Dur: 4, Pitch: 60, Vel: 100}})
	if ns[0].Start != c.Frame(4) || ns[0].End != c.Frame(8) || ns[0].Key != 60 || ns[0].Velocity != 100 {
		t.Fatalf("scheduled note: %+v", ns[0])
	}
}
