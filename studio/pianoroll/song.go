// Package pianoroll turns MIDI files into notes on a grid of 16th-note steps and back, and
// notes into the 3-channel piano-roll image the inpainting model reads (TEAM.md contract).
package pianoroll

import (
	"errors"
	"sort"
)

const (
	// Pitches is the height of a roll: every MIDI pitch, row 0 = pitch 0.
	Pitches = 128
	// StepsPerBeat: a step is a 16th note.
	StepsPerBeat = 4
	// StepsPerBar of 4/4, the unit of bar masks and of the distinct-bar count.
	StepsPerBar = 16
	// MaxSteps bounds a song's length (2048 bars of 4/4: ~68 minutes at 120 BPM).
	MaxSteps = 1 << 15
	// MaxSeconds bounds a song's playing time through its tempo map.
	MaxSeconds = 3600
	// MaxFileBytes bounds what the reader accepts before parsing anything.
	MaxFileBytes = 8 << 20
	// DrumChannel is GM channel 10 (index 9); its notes are dropped.
	DrumChannel = 9
	// DefaultBPM is MIDI's tempo when a file names none.
	DefaultBPM = 120.0
)

var (
	// ErrNotMIDI: the bytes are not a Standard MIDI File.
	ErrNotMIDI = errors.New("not a MIDI file")
	// ErrTruncated: a MIDI file that ends before its header says it should.
	ErrTruncated = errors.New("truncated MIDI file")
	// ErrNoNotes: a valid MIDI file without pitched notes (drums alone count as none).
	ErrNoNotes = errors.New("MIDI file has no notes")
	// ErrTooLong: over MaxSteps steps or MaxSeconds seconds.
	ErrTooLong = errors.New("MIDI file too long")
	// ErrTooLarge: over MaxFileBytes bytes.
	ErrTooLarge = errors.New("MIDI file too large")
)

// Note is one note on the step grid.
type Note struct {
	Start int   // first step
	Dur   int   // steps, ≥ 1
	Pitch uint8 // 0..127
	Vel   uint8 // 1..127
}

// End is the first step after the note.
func (n Note) End() int { return n.Start + n.Dur }

// Tempo is a tempo change at a step.
type Tempo struct {
	Step int
	BPM  float64
}

// Song is a piece as notes, sorted by start then pitch, without overlaps on one pitch.
type Song struct {
	Notes  []Note
	Tempos []Tempo // sorted by step; empty means DefaultBPM throughout
	Steps  int     // length: at least the end of the last note
}

// Normalize sorts notes by (start, pitch), clamps velocities to 1..127 and durations to ≥ 1,
// and resolves overlaps on one pitch: a note that starts while the same pitch sounds cuts the
// earlier one short (a piano cannot hold one key twice); of notes that start together the
// longer (then louder) one stays. Steps grows to cover every note.
func Normalize(notes []Note) []Note {
	out := make([]Note, 0, len(notes))
	for _, n := range notes {
		if n.Start < 0 || n.Pitch >= Pitches {
			continue
		}
		if n.Dur < 1 {
			n.Dur = 1
		}
		if n.Vel < 1 {
			n.Vel = 1
		} else if n.Vel > 127 {
			n.Vel = 127
		}
		out = append(out, n)
	}
	sort.Slice(out, func(i, j int) bool {
		a, b := out[i], out[j]
		if a.Start != b.Start {
			return a.Start < b.Start
		}
		if a.Pitch != b.Pitch {
			return a.Pitch < b.Pitch
		}
		if a.Dur != b.Dur {
			return a.Dur > b.Dur
		}
		return a.Vel > b.Vel
	})
	var last [Pitches]int // index+1 of the latest kept note per pitch
	keep := out[:0]
	for _, n := range out {
		if i := last[n.Pitch] - 1; i >= 0 {
			p := &keep[i]
			if p.Start == n.Start {
				continue // same start: the first (longer, louder) wins
			}
			if p.End() > n.Start {
				p.Dur = n.Start - p.Start
			}
		}
		keep = append(keep, n)
		last[n.Pitch] = len(keep)
	}
	return keep
}

// NotesEnd is the first step after the last note.
func NotesEnd(notes []Note) int {
	end := 0
	for _, n := range notes {
		if e := n.End(); e > end {
			end = e
		}
	}
	return end
}

// BPMAt is the tempo in force at a step.
func (s *Song) BPMAt(step int) float64 {
	bpm := DefaultBPM
	for _, t := range s.Tempos {
		if t.Step > step {
			break
		}
		bpm = t.BPM
	}
	return bpm
}

// Seconds is the playing time of the first steps steps through the tempo map.
func (s *Song) Seconds(steps int) float64 {
	sec, at, bpm := 0.0, 0, DefaultBPM
	for _, t := range s.Tempos {
		if t.Step >= steps {
			break
		}
		sec += float64(t.Step-at) * 60 / (bpm * StepsPerBeat)
		at, bpm = t.Step, t.BPM
	}
	return sec + float64(steps-at)*60/(bpm*StepsPerBeat)
}
