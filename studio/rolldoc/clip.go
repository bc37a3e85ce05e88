package rolldoc

import (
	"fmt"
	"slices"

	"latentstudio/studio/pianoroll"
)

// Clip is copied notes, with starts relative to the earliest of them.
type Clip []pianoroll.Note

// Span is the steps from the clip's first start to its last end.
func (c Clip) Span() int { return pianoroll.NotesEnd(c) }

// Copy returns the selected notes as a clip (empty when nothing is selected).
func (d *Doc) Copy() Clip {
	d.lock()
	defer d.unlock()
	return d.clip(setIDs(d.sel))
}

func (d *Doc) clip(ids []NoteID) Clip {
	ns := d.pick(ids)
	if len(ns) == 0 {
		return nil
	}
	slices.SortFunc(ns, noteLess)
	from := ns[0].Start
	out := make(Clip, len(ns))
	for i, n := range ns {
		out[i] = n.Note
		out[i].Start -= from
	}
	return out
}

// Cut copies the selection and deletes it as one step.
func (d *Doc) Cut() (Clip, error) {
	d.lock()
	defer d.unlock()
	ids := setIDs(d.sel)
	c := d.clip(ids)
	if len(c) == 0 {
		return nil, nil
	}
	_, err := d.apply(change{label: "Cut", del: ids})
	return c, err
}

// Paste puts a clip at a step and selects the pasted notes.
func (d *Doc) Paste(c Clip, at int) ([]NoteID, error) {
	d.lock()
	defer d.unlock()
	if at < 0 {
		return nil, fmt.Errorf("%w: paste at step %d", ErrBadValue, at)
	}
	set := make([]Note, len(c))
	for i, n := range c {
		n.Start += at
		set[i] = Note{Note: n}
	}
	return d.apply(change{label: "Paste", set: set, selectSet: true})
}
