package rolldoc

import "slices"

// Selection is not an undo step of its own (clicking around should not fill the history), but
// edits that change it (paste, duplicate, delete) restore it on undo. Changing it changes
// Version, not SongVersion.

func (d *Doc) setSel(ids []NoteID) {
	d.sel = make(map[NoteID]bool, len(ids))
	for _, id := range ids {
		if _, ok := d.byID[id]; ok {
			d.sel[id] = true
		}
	}
}

// selectIDs replaces (or, with add, extends) the selection and records the change.
func (d *Doc) selectIDs(ids []NoteID, add bool) {
	before := setIDs(d.sel)
	if !add {
		d.sel = map[NoteID]bool{}
	}
	for _, id := range ids {
		if _, ok := d.byID[id]; ok {
			d.sel[id] = true
		}
	}
	if !slices.Equal(before, setIDs(d.sel)) {
		d.changed(false)
	}
}

// Selection returns the selected ids, sorted.
func (d *Doc) Selection() []NoteID {
	d.lock()
	defer d.unlock()
	return setIDs(d.sel)
}

// SelectedNotes returns the selected notes sorted by start, then pitch.
func (d *Doc) SelectedNotes() []Note {
	d.lock()
	defer d.unlock()
	ns := d.pick(setIDs(d.sel))
	slices.SortFunc(ns, noteLess)
	return ns
}

// Selected reports whether a note is selected.
func (d *Doc) Selected(id NoteID) bool {
	d.lock()
	defer d.unlock()
	return d.sel[id]
}

// Select makes exactly these notes the selection.
func (d *Doc) Select(ids ...NoteID) {
	d.lock()
	defer d.unlock()
	d.selectIDs(ids, false)
}

// AddToSelection adds notes to the selection (shift-click, shift-drag).
func (d *Doc) AddToSelection(ids ...NoteID) {
	d.lock()
	defer d.unlock()
	d.selectIDs(ids, true)
}

// ToggleSelected flips one note in or out of the selection.
func (d *Doc) ToggleSelected(id NoteID) {
	d.lock()
	defer d.unlock()
	if _, ok := d.byID[id]; !ok {
		return
	}
	if d.sel[id] {
		delete(d.sel, id)
	} else {
		d.sel[id] = true
	}
	d.changed(false)
}

// SelectAll selects every note.
func (d *Doc) SelectAll() {
	d.lock()
	defer d.unlock()
	ids := make([]NoteID, len(d.notes))
	for i, n := range d.notes {
		ids[i] = n.ID
	}
	d.selectIDs(ids, false)
}

// ClearSelection selects nothing.
func (d *Doc) ClearSelection() {
	d.lock()
	defer d.unlock()
	d.selectIDs(nil, false)
}

// SelectRect selects the notes that sound somewhere in steps [from, to) with pitches lo..hi
// (the rubber band); add keeps the current selection too. It returns the notes it found.
func (d *Doc) SelectRect(from, to, lo, hi int, add bool) []NoteID {
	d.lock()
	defer d.unlock()
	if from > to {
		from, to = to, from
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	var ids []NoteID
	for _, n := range d.notesIn(from, to) {
		if int(n.Pitch) >= lo && int(n.Pitch) <= hi {
			ids = append(ids, n.ID)
		}
	}
	d.selectIDs(ids, add)
	return ids
}
