package pianoroll

import (
	"errors"
	"fmt"
)

// Pitches is the roll's height: one row per MIDI pitch, row 0 = pitch 0.
const Pitches = 128

// StepsPerBar is the number of 16th-note steps in a 4/4 bar.
const StepsPerBar = 16

// ErrBadTask marks a task or mask that cannot be built as asked.
var ErrBadTask = errors.New("bad inpainting task")

// Mask is a [Pitches, Steps] grid, row-major, 1 on cells to generate and 0 on cells to keep.
type Mask struct {
	Steps int
	Cells []float32
}

// NewMask returns an all-zero mask (nothing to generate).
func NewMask(steps int) *Mask { return &Mask{Steps: steps, Cells: make([]float32, Pitches*steps)} }

func (m *Mask) set(p0, p1, t0, t1 int) {
	for p := max(p0, 0); p < min(p1, Pitches); p++ {
		for t := max(t0, 0); t < min(t1, m.Steps); t++ {
			m.Cells[p*m.Steps+t] = 1
		}
	}
}

// Count is the number of cells to generate.
func (m *Mask) Count() int {
	n := 0
	for _, c := range m.Cells {
		if c != 0 {
			n++
		}
	}
	return n
}

// ContinueMask generates everything from step `from` on: "continue the music".
func ContinueMask(steps, from int) (*Mask, error) {
	if from <= 0 || from >= steps {
		return nil, fmt.Errorf("%w: continue from step %d: want 1..%d", ErrBadTask, from, steps-1)
	}
	m := NewMask(steps)
	m.set(0, Pitches, from, steps)
	return m, nil
}

// BarsMask generates bars first..last (1-based, inclusive) at every pitch: "fill these bars".
func BarsMask(steps, first, last int) (*Mask, error) {
	bars := steps / StepsPerBar
	if first < 1 || last < first || last > bars {
		return nil, fmt.Errorf("%w: bars %d-%d: the roll has bars 1-%d", ErrBadTask, first, last, bars)
	}
	m := NewMask(steps)
	m.set(0, Pitches, (first-1)*StepsPerBar, last*StepsPerBar)
	return m, nil
}

// AccompanyMask generates every pitch below line (a lower voice under a kept melody).
func AccompanyMask(steps, line int) (*Mask, error) {
	if line <= 0 || line >= Pitches {
		return nil, fmt.Errorf("%w: pitch line %d: want 1..127", ErrBadTask, line)
	}
	m := NewMask(steps)
	m.set(0, line, 0, steps)
	return m, nil
}

// MelodyMask generates every pitch at or above line (a melody over kept chords).
func MelodyMask(steps, line int) (*Mask, error) {
	if line <= 0 || line >= Pitches {
		return nil, fmt.Errorf("%w: pitch line %d: want 1..127", ErrBadTask, line)
	}
	m := NewMask(steps)
	m.set(line, Pitches, 0, steps)
	return m, nil
}

// BoxMask generates pitches [p0,p1) over steps [t0,t1).
func BoxMask(steps, p0, p1, t0, t1 int) (*Mask, error) {
	if p0 < 0 || p1 > Pitches || p0 >= p1 || t0 < 0 || t1 > steps || t0 >= t1 {
		return nil, fmt.Errorf("%w: box pitches %d-%d steps %d-%d outside 0-%d × 0-%d", ErrBadTask, p0, p1, t0, t1, Pitches, steps)
	}
	m := NewMask(steps)
	m.set(p0, p1, t0, t1)
	return m, nil
}

// Remask keeps (freezes) the generated cells the user marked in keep and generates the rest of
// the old mask again.
func Remask(old, keep *Mask) (*Mask, error) {
	if old.Steps != keep.Steps || len(old.Cells) != len(keep.Cells) {
		return nil, fmt.Errorf("%w: keep mask is %d steps, mask %d", ErrBadTask, keep.Steps, old.Steps)
	}
	m := NewMask(old.Steps)
	for i, c := range old.Cells {
		if c != 0 && keep.Cells[i] == 0 {
			m.Cells[i] = 1
		}
	}
	return m, nil
}
