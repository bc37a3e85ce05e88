package rolldoc

import (
	"fmt"

	"latentstudio/studio/pianoroll"
)

// The note edits the editor's tools and keys call. Each is one undo step (a drag is one step
// until EndGesture); apply in notes.go resolves overlaps.

// AddNote adds a note (the pencil) and selects it alone. Notes it covers on its pitch are cut
// short or removed.
func (d *Doc) AddNote(n pianoroll.Note) (NoteID, error) {
	d.lock()
	defer d.unlock()
	if n.Vel == 0 {
		n.Vel = 100
	}
	ids, err := d.apply(change{label: "Add note", set: []Note{{Note: n}}, selectSet: true})
	if err != nil {
		return 0, err
	}
	return ids[0], nil
}

// AddNotes adds several notes as one step and selects them.
func (d *Doc) AddNotes(ns []pianoroll.Note) ([]NoteID, error) {
	d.lock()
	defer d.unlock()
	set := make([]Note, len(ns))
	for i, n := range ns {
		set[i] = Note{Note: n}
	}
	return d.apply(change{label: "Add notes", set: set, selectSet: true})
}

// DeleteNotes deletes notes by id (unknown ids are ignored).
func (d *Doc) DeleteNotes(ids []NoteID) error {
	d.lock()
	defer d.unlock()
	_, err := d.apply(change{label: "Delete notes", del: ids})
	return err
}

// DeleteSelection deletes the selected notes.
func (d *Doc) DeleteSelection() error {
	d.lock()
	defer d.unlock()
	_, err := d.apply(change{label: "Delete notes", del: setIDs(d.sel)})
	return err
}

// MoveNotes moves notes by steps and pitches, relative to where they are now. The move is
// clamped as a whole so that every note stays within 0..127 and 0..MaxSteps (a drag stops at
// the edge; the chord keeps its shape). Consecutive moves of the same notes are one drag and
// one undo step until EndGesture; each is computed from where the notes were when the drag
// began, so notes passed over come back once the dragged ones move on. It returns the delta
// that was applied.
func (d *Doc) MoveNotes(ids []NoteID, dSteps, dPitch int) (int, int, error) {
	d.lock()
	defer d.unlock()
	ns := d.pick(ids)
	if len(ns) == 0 || dSteps == 0 && dPitch == 0 {
		return 0, 0, nil
	}
	key := mergeKey("move", ns)
	prev, a, b := d.restart(key)
	ns = d.pick(ids) // where the drag began
	minS, maxE, minP, maxP := MaxSteps, 0, 127, 0
	for _, n := range ns {
		minS, maxE = min(minS, n.Start), max(maxE, n.End())
		minP, maxP = min(minP, int(n.Pitch)), max(maxP, int(n.Pitch))
	}
	tS := max(min(a+dSteps, MaxSteps-maxE), -minS)
	tP := max(min(b+dPitch, 127-maxP), -minP)
	if tS == 0 && tP == 0 {
		return -a, -b, nil // back where it began: the drag changes nothing
	}
	for i := range ns {
		ns[i].Start += tS
		ns[i].Pitch = uint8(int(ns[i].Pitch) + tP)
	}
	if _, err := d.apply(change{label: "Move notes", merge: key, set: ns, gesture: &gesture{key, tS, tP}}); err != nil {
		d.resume(prev)
		return 0, 0, err
	}
	return tS - a, tP - b, nil
}

// ResizeNotes moves the start and end edges of notes by steps (a note keeps at least one
// step; a start stays ≥ 0). Consecutive resizes of the same notes are one drag, computed from
// where it began, and one undo step.
func (d *Doc) ResizeNotes(ids []NoteID, dStart, dEnd int) error {
	d.lock()
	defer d.unlock()
	ns := d.pick(ids)
	if len(ns) == 0 || dStart == 0 && dEnd == 0 {
		return nil
	}
	key := mergeKey("resize", ns)
	prev, a, b := d.restart(key)
	ns = d.pick(ids)
	tA, tB := a+dStart, b+dEnd
	if tA == 0 && tB == 0 {
		return nil
	}
	for i, n := range ns {
		s := max(0, min(n.Start+tA, n.End()-1))
		e := min(max(n.End()+tB, s+1), MaxSteps)
		ns[i].Start, ns[i].Dur = s, e-s
	}
	if _, err := d.apply(change{label: "Resize notes", merge: key, set: ns, gesture: &gesture{key, tA, tB}}); err != nil {
		d.resume(prev)
		return err
	}
	return nil
}

// SetVelocity sets the velocity (clamped to 1..127) of notes; nil ids: every note.
// Consecutive velocity edits are one undo step until EndGesture (a sweep over the velocity
// lane, whichever notes it crosses).
func (d *Doc) SetVelocity(ids []NoteID, vel int) error {
	return d.velocity(ids, func(int) int { return vel })
}

// AddVelocity changes the velocity of notes by delta (clamped to 1..127); nil ids: every note.
func (d *Doc) AddVelocity(ids []NoteID, delta int) error {
	return d.velocity(ids, func(v int) int { return v + delta })
}

func (d *Doc) velocity(ids []NoteID, f func(int) int) error {
	d.lock()
	defer d.unlock()
	ns := d.pick(ids)
	var set []Note
	for _, n := range ns {
		v := uint8(max(1, min(127, f(int(n.Vel)))))
		if v != n.Vel {
			n.Vel = v
			set = append(set, n)
		}
	}
	_, err := d.apply(change{label: "Velocity", merge: "velocity", set: set}) // a sweep over the lane is one step
	return err
}

// Quantize moves note starts to the nearest multiple of grid steps and, when lengths is set,
// rounds durations to a multiple of grid (at least one grid). nil ids: every note.
func (d *Doc) Quantize(ids []NoteID, grid int, lengths bool) error {
	if grid < 1 || grid > MaxSteps {
		return fmt.Errorf("%w: quantize grid %d steps", ErrBadValue, grid)
	}
	d.lock()
	defer d.unlock()
	var set []Note
	for _, n := range d.pick(ids) {
		q := n
		q.Start = (n.Start + grid/2) / grid * grid
		if lengths {
			q.Dur = max(grid, (n.Dur+grid/2)/grid*grid)
		}
		if q.End() > MaxSteps {
			q.Dur = MaxSteps - q.Start
		}
		if q != n {
			set = append(set, q)
		}
	}
	_, err := d.apply(change{label: "Quantize", set: set})
	return err
}

// Transpose moves notes by semitones (±1, ±12 from the keys; any amount works); nil ids: every
// note. When any note would leave 0..127 nothing moves and the error wraps ErrOutOfRange: a
// clamped transpose would squash chords, which a musician never wants.
func (d *Doc) Transpose(ids []NoteID, semitones int) error {
	d.lock()
	defer d.unlock()
	ns := d.pick(ids)
	if len(ns) == 0 || semitones == 0 {
		return nil
	}
	for i, n := range ns {
		p := int(n.Pitch) + semitones
		if p < 0 || p > 127 {
			return fmt.Errorf("%w: transposing by %+d would take pitch %d to %d (0..127)", ErrOutOfRange, semitones, n.Pitch, p)
		}
		ns[i].Pitch = uint8(p)
	}
	_, err := d.apply(change{label: fmt.Sprintf("Transpose %+d", semitones), set: ns})
	return err
}

// Duplicate copies notes (nil: the selection) to right after themselves (shifted by their
// span, first start to last end) and selects the copies, so pressing it again keeps going.
func (d *Doc) Duplicate(ids []NoteID) ([]NoteID, error) {
	d.lock()
	defer d.unlock()
	if ids == nil {
		ids = setIDs(d.sel)
	}
	ns := d.pick(ids)
	if len(ns) == 0 {
		return nil, nil
	}
	from, end := MaxSteps, 0
	for _, n := range ns {
		from, end = min(from, n.Start), max(end, n.End())
	}
	shift := end - from
	set := make([]Note, len(ns))
	for i, n := range ns {
		n.Start += shift
		n.ID = 0
		set[i] = n
	}
	return d.apply(change{label: "Duplicate", set: set, selectSet: true})
}
