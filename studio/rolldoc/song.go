package rolldoc

import (
	"fmt"
	"slices"

	"latentstudio/studio/pianoroll"
)

// songEdit changes the song's settings (tempo map, meter, length) and loop region.
type songEdit struct {
	d             *Doc
	label         string
	before, after settings
}

type settings struct {
	tempos []pianoroll.Tempo
	meter  []TimeSig
	length int
	loop   Loop
}

func (d *Doc) settings() settings {
	return settings{slices.Clone(d.tempos), slices.Clone(d.meter), d.length, d.loop}
}

func (d *Doc) restore(s settings) {
	song := !slices.Equal(s.tempos, d.tempos) || !slices.Equal(s.meter, d.meter) || s.length != d.length
	d.tempos, d.meter, d.length, d.loop = slices.Clone(s.tempos), slices.Clone(s.meter), s.length, s.loop
	d.changed(song)
}

func (e *songEdit) Do()           { e.d.restore(e.after) }
func (e *songEdit) Undo()         { e.d.restore(e.before) }
func (e *songEdit) Label() string { return e.label }

// editSettings runs f on a copy of the settings and records the change as one step.
func (d *Doc) editSettings(label string, f func(*settings) error) error {
	before := d.settings()
	after := d.settings()
	if err := f(&after); err != nil {
		return err
	}
	d.do(&songEdit{d: d, label: label, before: before, after: after})
	return nil
}

// SetLength sets the song's length in steps (the song stays at least as long as its notes and
// its mask).
func (d *Doc) SetLength(steps int) error {
	if steps < 1 || steps > MaxSteps {
		return fmt.Errorf("%w: length %d steps (1..%d)", ErrBadValue, steps, MaxSteps)
	}
	d.lock()
	defer d.unlock()
	return d.editSettings("Song length", func(s *settings) error { s.length = steps; return nil })
}

// SetTempo sets the tempo from a step on (a change at step 0 sets the song's tempo).
func (d *Doc) SetTempo(step int, bpm float64) error {
	if step < 0 || step >= MaxSteps || !(bpm >= 10 && bpm <= 1000) {
		return fmt.Errorf("%w: tempo %g BPM at step %d (10..1000 BPM)", ErrBadValue, bpm, step)
	}
	d.lock()
	defer d.unlock()
	return d.editSettings("Tempo", func(s *settings) error {
		i, found := slices.BinarySearchFunc(s.tempos, step, func(t pianoroll.Tempo, st int) int { return t.Step - st })
		if found {
			s.tempos[i].BPM = bpm
		} else {
			s.tempos = slices.Insert(s.tempos, i, pianoroll.Tempo{Step: step, BPM: bpm})
		}
		return d.checkPlayingTime(d.end, s.tempos)
	})
}

// SetTimeSignature sets the song's time signature (one for the whole song; files with
// changes keep them until this is called).
func (d *Doc) SetTimeSignature(num, den int) error {
	if num < 1 || num > 32 || den != 1 && den != 2 && den != 4 && den != 8 && den != 16 {
		return fmt.Errorf("%w: time signature %d/%d", ErrBadValue, num, den)
	}
	d.lock()
	defer d.unlock()
	return d.editSettings("Time signature", func(s *settings) error {
		s.meter = []TimeSig{{Step: 0, Num: num, Den: den}}
		return nil
	})
}

// SetLoop sets the loop region [from, to) in steps; from == to removes it.
func (d *Doc) SetLoop(from, to int) error {
	if from > to {
		from, to = to, from
	}
	if from < 0 || to > MaxSteps {
		return fmt.Errorf("%w: loop %d..%d", ErrBadValue, from, to)
	}
	d.lock()
	defer d.unlock()
	if from == to {
		from, to = 0, 0
	}
	if (Loop{from, to}) == d.loop {
		return nil
	}
	return d.editSettings("Loop", func(s *settings) error { s.loop = Loop{from, to}; return nil })
}
