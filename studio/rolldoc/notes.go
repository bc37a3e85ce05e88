package rolldoc

import (
	"cmp"
	"fmt"
	"maps"
	"slices"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/undo"
)

func noteLess(a, b Note) int {
	if c := cmp.Compare(a.Start, b.Start); c != 0 {
		return c
	}
	if c := cmp.Compare(a.Pitch, b.Pitch); c != 0 {
		return c
	}
	return cmp.Compare(a.ID, b.ID)
}

// replace removes notes (removed holds the versions stored now) and inserts added. Callers
// hold the lock. The note slice is rebuilt, never modified in place, so slices handed out stay
// valid; it is rebuilt by copying runs between binary-searched positions, since a drag calls
// it twice a step on songs of 10,000 notes.
func (d *Doc) replace(removed, added []Note) {
	rm := make([]int, 0, len(removed))
	endGone := false
	for _, n := range removed {
		i, found := slices.BinarySearchFunc(d.notes, n, noteLess)
		if !found || d.notes[i].ID != n.ID {
			i = slices.IndexFunc(d.notes, func(m Note) bool { return m.ID == n.ID })
		}
		if i >= 0 {
			rm = append(rm, i)
			endGone = endGone || d.notes[i].End() >= d.end
		}
		delete(d.byID, n.ID)
	}
	slices.Sort(rm)
	rm = slices.Compact(rm)
	ins := slices.Clone(added)
	slices.SortFunc(ins, noteLess)
	pos := make([]int, len(ins))
	for i, n := range ins {
		pos[i], _ = slices.BinarySearchFunc(d.notes, n, noteLess)
	}
	out := make([]Note, 0, len(d.notes)-len(rm)+len(ins))
	at, r, k := 0, 0, 0
	for {
		stop := len(d.notes)
		if r < len(rm) && rm[r] < stop {
			stop = rm[r]
		}
		if k < len(ins) && pos[k] < stop {
			stop = pos[k]
		}
		out = append(out, d.notes[at:stop]...)
		at = stop
		for k < len(ins) && pos[k] == at {
			out = append(out, ins[k])
			k++
		}
		if r < len(rm) && rm[r] == at {
			at, r = at+1, r+1
			continue
		}
		if at == len(d.notes) {
			break
		}
	}
	for _, n := range added {
		d.byID[n.ID] = n
	}
	for _, n := range removed {
		if _, back := d.byID[n.ID]; !back {
			delete(d.sel, n.ID) // a selection holds only notes that exist
		}
	}
	d.notes = out
	if endGone {
		d.end = pianoroll.NotesEnd(plain(out))
	}
	for _, n := range added {
		d.end = max(d.end, n.End())
	}
}

// noteEdit is every change of notes: the old versions of what it touched and the new ones.
// Selections are kept only when the edit changes the selection.
type noteEdit struct {
	d                   *Doc
	label, merge        string // merge: consecutive edits with the same key are one step
	removed, added      []Note
	selBefore, selAfter []NoteID
	selChange           bool
	gesture             *gesture // a move or resize that a drag may redo from its start
}

// gesture is the total of a drag so far, so that each step of it is computed from where the
// notes were when it began: a note dragged over others and on does not eat them.
type gesture struct {
	key    string
	dA, dB int // move: steps, pitches; resize: start, end
}

// restart reverts the open drag step with this key (if it is the newest step) and returns it
// with its totals; the caller redoes the whole drag from the notes' starting positions.
func (d *Doc) restart(key string) (prev *noteEdit, dA, dB int) {
	top, open := d.stack.Open()
	e, ok := top.(*noteEdit)
	if !open || !ok || e.gesture == nil || e.gesture.key != key {
		return nil, 0, 0
	}
	e.Undo()
	d.stack.Drop()
	return e, e.gesture.dA, e.gesture.dB
}

// resume puts a restarted drag back when its replacement failed.
func (d *Doc) resume(prev *noteEdit) {
	if prev != nil {
		d.stack.Do(prev)
	}
}

func (e *noteEdit) Do() {
	e.d.replace(e.removed, e.added)
	if e.selChange {
		e.d.setSel(e.selAfter)
	}
	e.d.changed(true)
}

func (e *noteEdit) Undo() {
	e.d.replace(e.added, e.removed)
	if e.selChange {
		e.d.setSel(e.selBefore)
	}
	e.d.changed(true)
}

func (e *noteEdit) Label() string { return e.label }

// Cost is about the bytes the step holds (for the history's memory bound).
func (e *noteEdit) Cost() int {
	return 48*(len(e.removed)+len(e.added)) + 8*(len(e.selBefore)+len(e.selAfter))
}

// Merge composes two edits of one drag: the old versions of the first and the new of the second.
func (e *noteEdit) Merge(next undo.Command) bool {
	n, ok := next.(*noteEdit)
	if !ok || e.merge == "" || n.merge != e.merge {
		return false
	}
	addedByE := map[NoteID]bool{}
	for _, a := range e.added {
		addedByE[a.ID] = true
	}
	removedByN := map[NoteID]bool{}
	for _, r := range n.removed {
		removedByN[r.ID] = true
	}
	removed := slices.Clone(e.removed)
	for _, r := range n.removed {
		if !addedByE[r.ID] {
			removed = append(removed, r)
		}
	}
	var added []Note
	for _, a := range e.added {
		if !removedByN[a.ID] {
			added = append(added, a)
		}
	}
	added = append(added, n.added...)
	e.removed, e.added = removed, added
	if n.selChange {
		if !e.selChange {
			e.selBefore = n.selBefore
		}
		e.selAfter, e.selChange = n.selAfter, true
	}
	return true
}

// change is an edit before it is resolved: new versions of notes (ID 0: a new note) and
// notes to delete.
type change struct {
	label, merge string
	set          []Note
	del          []NoteID
	selectSet    bool // the selection becomes the notes of set that survive
	gesture      *gesture
}

// apply resolves overlaps (edited notes win: a note they cover is cut short where it started
// before them, deleted where it started under them; of edited notes on one pitch the later
// start cuts the earlier) and runs the edit as an undoable step. It returns the ids of the
// surviving notes of set, in the order of set (0 for one that was dropped). Callers hold the
// lock.
func (d *Doc) apply(c change) ([]NoteID, error) {
	if len(c.set) == 0 && len(c.del) == 0 {
		return nil, nil
	}
	newCount := 0
	set := make([]Note, len(c.set))
	for i, n := range c.set {
		if n.Start < 0 || n.Dur < 1 || n.End() > MaxSteps || n.Pitch >= pianoroll.Pitches || n.Vel < 1 || n.Vel > 127 {
			return nil, fmt.Errorf("%w: note at step %d, pitch %d, %d steps long, velocity %d", ErrBadValue, n.Start, n.Pitch, n.Dur, n.Vel)
		}
		if n.ID == 0 {
			newCount++
			d.nextID++
			n.ID = d.nextID
		} else if _, ok := d.byID[n.ID]; !ok {
			return nil, fmt.Errorf("%w: %d", ErrNoSuchNote, n.ID)
		}
		set[i] = n
	}
	if len(d.notes)+newCount > MaxNotes {
		return nil, fmt.Errorf("%w: a song holds at most %d notes", ErrTooMany, MaxNotes)
	}
	end := d.end
	for _, n := range set {
		end = max(end, n.End())
	}
	if err := d.checkPlayingTime(end, d.tempos); err != nil {
		return nil, err
	}
	edited := map[NoteID]bool{}
	for _, n := range set {
		edited[n.ID] = true
	}
	deleted := map[NoteID]bool{}
	for _, id := range c.del {
		if _, ok := d.byID[id]; ok && !edited[id] {
			deleted[id] = true
		}
	}

	// edited notes on one pitch, by start: the later start cuts the earlier; same start: the
	// longer stays
	var byPitch [pianoroll.Pitches][]Note // an array: the loop over every note below looks up each pitch
	for _, n := range set {
		byPitch[n.Pitch] = append(byPitch[n.Pitch], n)
	}
	final := map[NoteID]Note{}
	for p, ns := range byPitch {
		if len(ns) == 0 {
			continue
		}
		slices.SortFunc(ns, func(a, b Note) int {
			if c := cmp.Compare(a.Start, b.Start); c != 0 {
				return c
			}
			return cmp.Compare(b.Dur, a.Dur)
		})
		keep := ns[:0]
		for _, n := range ns {
			if k := len(keep); k > 0 {
				prev := &keep[k-1]
				if prev.Start == n.Start {
					deleted[n.ID] = true
					continue
				}
				if prev.End() > n.Start {
					prev.Dur = n.Start - prev.Start
				}
			}
			keep = append(keep, n)
		}
		byPitch[p] = keep
		for _, n := range keep {
			final[n.ID] = n
		}
	}
	// other notes under the edited ones
	var trimmed []Note
	for _, o := range d.notes {
		ivs := byPitch[o.Pitch]
		if len(ivs) == 0 || edited[o.ID] || deleted[o.ID] {
			continue
		}
		i, _ := slices.BinarySearchFunc(ivs, o.Start, func(n Note, s int) int {
			if n.End() <= s {
				return -1
			}
			return 1
		}) // first edited note ending after o starts
		if i == len(ivs) || ivs[i].Start >= o.End() {
			continue
		}
		if ivs[i].Start <= o.Start {
			deleted[o.ID] = true
			continue
		}
		o.Dur = ivs[i].Start - o.Start
		trimmed = append(trimmed, o)
	}

	e := &noteEdit{d: d, label: c.label, merge: c.merge, gesture: c.gesture}
	for id := range deleted {
		if old, ok := d.byID[id]; ok && !edited[id] {
			e.removed = append(e.removed, old)
		}
	}
	ids := make([]NoteID, len(set))
	for i, n := range set {
		if old, ok := d.byID[n.ID]; ok {
			e.removed = append(e.removed, old)
		}
		if f, ok := final[n.ID]; ok && !deleted[n.ID] {
			e.added = append(e.added, f)
			ids[i] = n.ID
		}
	}
	for _, o := range trimmed {
		e.removed = append(e.removed, d.byID[o.ID])
		e.added = append(e.added, o)
	}
	slices.SortFunc(e.removed, noteLess)

	// the selection: the surviving notes of set, or the old one without deleted notes
	var after map[NoteID]bool
	if c.selectSet {
		after = map[NoteID]bool{}
		for _, id := range ids {
			if id != 0 {
				after[id] = true
			}
		}
	} else {
		for id := range deleted {
			if d.sel[id] { // only then does the selection change (cloning it per drag step is slow)
				after = maps.Clone(d.sel)
				break
			}
		}
		for id := range deleted {
			delete(after, id)
		}
	}
	if after != nil && !maps.Equal(after, d.sel) {
		e.selChange = true
		e.selBefore = setIDs(d.sel)
		e.selAfter = setIDs(after)
	}
	d.do(e)
	return ids, nil
}

// checkPlayingTime refuses a song whose notes would play longer than a MIDI file may (the
// server and FromMIDI refuse such files: a song made here must always open again).
func (d *Doc) checkPlayingTime(end int, tempos []pianoroll.Tempo) error {
	if end <= d.end && slices.Equal(tempos, d.tempos) {
		return nil // no longer than it is
	}
	song := pianoroll.Song{Tempos: tempos}
	if sec := song.Seconds(end); sec > pianoroll.MaxSeconds {
		return fmt.Errorf("%w: the song would play for %.0f minutes, at most %d", ErrTooLong, sec/60, pianoroll.MaxSeconds/60)
	}
	return nil
}

func setIDs(m map[NoteID]bool) []NoteID {
	out := make([]NoteID, 0, len(m))
	for id := range m {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

// pick returns the notes named (unknown ids are skipped), or every note when ids is nil.
func (d *Doc) pick(ids []NoteID) []Note {
	if ids == nil {
		return slices.Clone(d.notes)
	}
	out := make([]Note, 0, len(ids))
	seen := map[NoteID]bool{}
	for _, id := range ids {
		if n, ok := d.byID[id]; ok && !seen[id] {
			seen[id] = true
			out = append(out, n)
		}
	}
	return out
}

func mergeKey(kind string, ns []Note) string {
	k := kind
	for _, n := range ns {
		k += fmt.Sprintf(",%d", n.ID)
	}
	return k
}
