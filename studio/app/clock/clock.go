// Package clock converts between song positions in steps (16th notes) and
// audio sample frames through a tempo map, both ways, so that the playhead
// the studio draws is derived from the frames the sequencer rendered and
// never drifts from what is heard. It is plain Go (the app package links
// Ebiten, which cannot run headless tests).
package clock

import (
	"latentstudio/studio/pianoroll"
	"latentstudio/studio/sound"
)

// Clock is a tempo map at a sample rate.
type Clock struct {
	Rate   int               // frames per second
	Tempos []pianoroll.Tempo // sorted by step; empty: pianoroll.DefaultBPM throughout
}

func (c Clock) song() pianoroll.Song { return pianoroll.Song{Tempos: c.Tempos} }

// Frame is the first sample frame of a step.
func (c Clock) Frame(step int) int64 {
	s := c.song()
	return int64(s.Seconds(step)*float64(c.Rate) + 0.5)
}

// FrameAt is the frame of a fractional step (a click on the ruler).
func (c Clock) FrameAt(step float64) int64 {
	i := int(step)
	if step < 0 {
		return 0
	}
	f0, f1 := c.Frame(i), c.Frame(i+1)
	return f0 + int64((step-float64(i))*float64(f1-f0)+0.5)
}

// Step is the (fractional) step sounding at a frame: the inverse of Frame.
func (c Clock) Step(frame int64) float64 {
	sec := float64(frame) / float64(c.Rate)
	// The inverse of pianoroll.Song.Seconds, walking the same tempo map.
	t, at, bpm := 0.0, 0, pianoroll.DefaultBPM
	for _, tc := range c.Tempos {
		d := float64(tc.Step-at) * 60 / (bpm * pianoroll.StepsPerBeat)
		if t+d > sec {
			break
		}
		t += d
		at, bpm = tc.Step, tc.BPM
	}
	return float64(at) + (sec-t)*bpm*pianoroll.StepsPerBeat/60
}

// Notes schedules notes on sample frames for the sequencer.
func (c Clock) Notes(notes []pianoroll.Note) []sound.Note {
	s := c.song()
	r := float64(c.Rate)
	out := make([]sound.Note, len(notes))
	for i, n := range notes {
		out[i] = sound.Note{
			Key: n.Pitch, Velocity: n.Vel,
			Start: int64(s.Seconds(n.Start)*r + 0.5),
			End:   int64(s.Seconds(n.End())*r + 0.5),
		}
	}
	return out
}
