package rolldoc

import (
	"errors"
	"slices"
	"testing"

	"latentstudio/studio/pianoroll"
)

// roundTrip undoes one step and redoes it, checking both states.
func roundTrip(t *testing.T, d *Doc, before snap) {
	t.Helper()
	after := snapshot(d)
	if !d.Undo() {
		t.Fatal("nothing to undo")
	}
	if diff := snapshot(d).diff(before); diff != "" {
		t.Fatalf("undo: %s", diff)
	}
	if !d.Redo() {
		t.Fatal("nothing to redo")
	}
	if diff := snapshot(d).diff(after); diff != "" {
		t.Fatalf("redo: %s", diff)
	}
}

func TestAddNoteCutsAndReplacesCoveredNotes(t *testing.T) {
	d := New()
	a := mustAdd(t, d, 0, 8, 60) // starts before the new note: cut short
	b := mustAdd(t, d, 5, 2, 60) // under a's tail... a is cut at 5 by b (the edited note wins)
	if na, _ := d.Note(a); na.Dur != 5 {
		t.Fatalf("a not cut at b: %+v", na)
	}
	before := snapshot(d)
	c := mustAdd(t, d, 4, 6, 60) // covers b's start: b removed, a cut at 4
	if _, ok := d.Note(b); ok {
		t.Fatal("b survives under c")
	}
	if na, _ := d.Note(a); na.Dur != 4 {
		t.Fatalf("a: %+v", na)
	}
	if sel := d.Selection(); !slices.Equal(sel, []NoteID{c}) {
		t.Fatalf("the pencil selects the new note: %v", sel)
	}
	roundTrip(t, d, before)
	if _, err := d.AddNote(n(-1, 2, 60)); !errors.Is(err, ErrBadValue) {
		t.Fatalf("negative start: %v", err)
	}
	if _, err := d.AddNote(pianoroll.Note{Start: 0, Dur: 2, Pitch: 200, Vel: 1}); !errors.Is(err, ErrBadValue) {
		t.Fatalf("pitch 200: %v", err)
	}
	if d.Version() == 0 || d.SongVersion() == 0 {
		t.Fatal("versions did not move")
	}
}

func TestMoveClampsAsAWholeAndMergesOneDrag(t *testing.T) {
	d := New()
	a := mustAdd(t, d, 4, 2, 120)
	b := mustAdd(t, d, 6, 2, 124)
	d.EndGesture()
	before := snapshot(d)
	for range 5 { // a drag upwards: the top note stops at 127, the chord keeps its shape
		d.MoveNotes([]NoteID{a, b}, 1, 1)
	}
	na, _ := d.Note(a)
	nb, _ := d.Note(b)
	if na.Pitch != 123 || nb.Pitch != 127 || na.Start != 9 || nb.Start != 11 {
		t.Fatalf("moved to %+v %+v", na, nb)
	}
	if got := d.History(); len(got) != 3 || got[2] != "Move notes" {
		t.Fatalf("one drag, one step: %v", got)
	}
	ds, dp, _ := d.MoveNotes([]NoteID{a, b}, -100, 0)
	if ds != -9 || dp != 0 {
		t.Fatalf("clamp at step 0: %d %d", ds, dp)
	}
	d.Undo() // the whole drag, both moves (no EndGesture between them: one drag)
	if diff := snapshot(d).diff(before); diff != "" {
		t.Fatal(diff)
	}
	// a note moved onto another replaces it
	c := mustAdd(t, d, 20, 4, 50)
	e := mustAdd(t, d, 30, 4, 50)
	d.MoveNotes([]NoteID{e}, -10, 0)
	if _, ok := d.Note(c); ok || d.Len() != 3 {
		t.Fatalf("moved note did not replace the one under it: %v", d.Notes())
	}
}

func TestResizeVelocityQuantize(t *testing.T) {
	d := New()
	a := mustAdd(t, d, 3, 5, 60)
	b := mustAdd(t, d, 9, 1, 62)
	before := snapshot(d)
	d.ResizeNotes([]NoteID{a, b}, 0, -10) // never below one step
	if na, _ := d.Note(a); na.Dur != 1 {
		t.Fatalf("resize: %+v", na)
	}
	roundTrip(t, d, before)
	d.EndGesture()
	before = snapshot(d)
	d.ResizeNotes([]NoteID{a}, -5, 0) // the start stays ≥ 0
	if na, _ := d.Note(a); na.Start != 0 || na.End() != 4 {
		t.Fatalf("resize start: %+v", na)
	}
	roundTrip(t, d, before)
	d.Undo()

	d.Select(a, b)
	before = snapshot(d)
	d.SetVelocity(nil, 300)
	for _, n := range d.Notes() {
		if n.Vel != 127 {
			t.Fatalf("velocity clamp: %+v", n)
		}
	}
	roundTrip(t, d, before)
	d.AddVelocity([]NoteID{a}, -200)
	if na, _ := d.Note(a); na.Vel != 1 {
		t.Fatalf("velocity floor: %+v", na)
	}

	before = snapshot(d)
	d.Quantize(nil, 4, true)
	na, _ := d.Note(a)
	nb, _ := d.Note(b)
	if na.Start != 4 || na.Dur != 4 || nb.Start != 8 || nb.Dur != 4 {
		t.Fatalf("quantize: %+v %+v", na, nb)
	}
	roundTrip(t, d, before)
	if err := d.Quantize(nil, 0, false); !errors.Is(err, ErrBadValue) {
		t.Fatalf("grid 0: %v", err)
	}
}

func TestTransposeRefusesToLeaveTheRange(t *testing.T) {
	d := New()
	a := mustAdd(t, d, 0, 4, 60)
	b := mustAdd(t, d, 0, 4, 120)
	before := snapshot(d)
	if err := d.Transpose(nil, 12); !errors.Is(err, ErrOutOfRange) {
		t.Fatalf("120+12: %v", err)
	}
	if diff := snapshot(d).diff(before); diff != "" {
		t.Fatalf("a refused transpose changed the song: %s", diff)
	}
	if err := d.Transpose([]NoteID{a}, 12); err != nil {
		t.Fatal(err)
	}
	if na, _ := d.Note(a); na.Pitch != 72 {
		t.Fatalf("%+v", na)
	}
	roundTrip(t, d, before)
	d.Transpose(nil, -1)
	if nb, _ := d.Note(b); nb.Pitch != 119 {
		t.Fatalf("%+v", nb)
	}
}

func TestCopyCutPasteDuplicate(t *testing.T) {
	d := New()
	a := mustAdd(t, d, 4, 2, 60)
	b := mustAdd(t, d, 6, 4, 64)
	d.Select(a, b)
	c := d.Copy()
	if len(c) != 2 || c[0].Start != 0 || c[1].Start != 2 || c.Span() != 6 {
		t.Fatalf("clip %v", c)
	}
	before := snapshot(d)
	ids, err := d.Paste(c, 32)
	if err != nil || len(ids) != 2 || !slices.Equal(d.Selection(), ids) {
		t.Fatalf("paste: %v %v sel %v", ids, err, d.Selection())
	}
	if nn, _ := d.Note(ids[1]); nn.Start != 34 || nn.Pitch != 64 {
		t.Fatalf("pasted %+v", nn)
	}
	roundTrip(t, d, before)
	d.Undo()
	if !slices.Equal(d.Selection(), []NoteID{a, b}) {
		t.Fatalf("undo of paste restores the selection: %v", d.Selection())
	}

	before = snapshot(d)
	dup, _ := d.Duplicate(nil)
	if nn, _ := d.Note(dup[0]); nn.Start != 10 { // right after the selection's span (4..10)
		t.Fatalf("duplicate at %+v", nn)
	}
	dup2, _ := d.Duplicate(nil) // again: keeps going
	if nn, _ := d.Note(dup2[0]); nn.Start != 16 {
		t.Fatalf("second duplicate at %+v", nn)
	}
	d.Undo()
	roundTrip(t, d, before)
	d.Undo()

	d.Select(a)
	cut, _ := d.Cut()
	if len(cut) != 1 || d.Len() != 1 || len(d.Selection()) != 0 {
		t.Fatalf("cut %v, left %d", cut, d.Len())
	}
	d.Undo()
	if !slices.Equal(d.Selection(), []NoteID{a}) {
		t.Fatalf("undo of cut reselects: %v", d.Selection())
	}
}

func TestSelection(t *testing.T) {
	d := New()
	a := mustAdd(t, d, 0, 4, 60)
	b := mustAdd(t, d, 8, 4, 72)
	c := mustAdd(t, d, 16, 4, 40)
	d.SelectAll()
	if len(d.Selection()) != 3 {
		t.Fatal("select all")
	}
	v := d.Version()
	sv := d.SongVersion()
	got := d.SelectRect(2, 10, 50, 80, false) // a sounds at 2, b starts at 8
	if !slices.Equal(got, []NoteID{a, b}) || !slices.Equal(d.Selection(), []NoteID{a, b}) {
		t.Fatalf("rect: %v", got)
	}
	if d.Version() == v || d.SongVersion() != sv {
		t.Fatal("a selection changes Version, not SongVersion")
	}
	d.ToggleSelected(a)
	d.ToggleSelected(c)
	if !slices.Equal(d.Selection(), []NoteID{b, c}) {
		t.Fatalf("toggle: %v", d.Selection())
	}
	d.SelectRect(0, 1, 0, 127, true)
	if len(d.Selection()) != 3 {
		t.Fatalf("add rect: %v", d.Selection())
	}
	h := len(d.History())
	d.ClearSelection()
	if len(d.History()) != h {
		t.Fatal("selecting made an undo step")
	}
	// the selection survives edits: ids are stable
	d.Select(b)
	d.MoveNotes([]NoteID{b}, 3, -2)
	d.Transpose([]NoteID{b}, 12)
	if !d.Selected(b) || len(d.SelectedNotes()) != 1 || d.SelectedNotes()[0].Pitch != 82 {
		t.Fatalf("selection after edits: %v", d.SelectedNotes())
	}
}

func TestSettingsAndLoop(t *testing.T) {
	d := New()
	before := snapshot(d)
	if err := d.SetTempo(0, 90); err != nil {
		t.Fatal(err)
	}
	roundTrip(t, d, before)
	if err := d.SetTempo(0, 5000); !errors.Is(err, ErrBadValue) {
		t.Fatal(err)
	}
	d.SetTimeSignature(3, 4)
	if d.BarStart(2) != 24 || d.BarOf(25) != 2 || d.Length() != 516 { // 512 rounded up to 3/4 bars
		t.Fatalf("3/4: bar 2 at %d, step 25 in bar %d, length %d", d.BarStart(2), d.BarOf(25), d.Length())
	}
	if err := d.SetTimeSignature(4, 3); !errors.Is(err, ErrBadValue) {
		t.Fatal(err)
	}
	d.SetLoop(32, 16)
	if l := d.Loop(); l != (Loop{16, 32}) || !l.On() {
		t.Fatalf("loop %v", l)
	}
	d.SetLoop(5, 5)
	if d.Loop().On() {
		t.Fatal("empty loop is off")
	}
	d.Undo()
	if d.Loop() != (Loop{16, 32}) {
		t.Fatal("undo loop")
	}
	mustAdd(t, d, 600, 4, 60)
	if d.Length() != 612 { // the song grows with its notes, to a whole bar
		t.Fatalf("length %d", d.Length())
	}
}

func TestWatchIsCalledAfterChanges(t *testing.T) {
	d := New()
	calls := 0
	stop := d.Watch(func() {
		calls++
		d.Len() // watchers may read the document
	})
	mustAdd(t, d, 0, 1, 1)
	d.MaskBox(0, 0, 3, 3, false)
	d.Undo()
	if calls != 3 {
		t.Fatalf("%d calls", calls)
	}
	stop()
	mustAdd(t, d, 4, 1, 1)
	if calls != 3 {
		t.Fatal("stopped watcher called")
	}
}

// A drag across other notes of its pitch trims or replaces them while it covers them and
// gives them back once it has moved on; the whole drag is one undo step.
func TestDragAcrossNotesGivesThemBack(t *testing.T) {
	d := New()
	for s := 8; s < 64; s += 8 {
		mustAdd(t, d, s, 6, 60)
	}
	mover := mustAdd(t, d, 0, 4, 60)
	d.EndGesture()
	before := snapshot(d)
	for range 17 {
		d.MoveNotes([]NoteID{mover}, 1, 0)
		if err := invariants(d); err != nil {
			t.Fatal(err)
		}
	}
	// now at 17..21: the note at 16..22 starts before it and is cut to one step
	if n, ok := d.NoteAt(16, 60); !ok || n.Dur != 1 {
		t.Fatalf("covered note: %+v %v", n, ok)
	}
	for range 53 {
		d.MoveNotes([]NoteID{mover}, 1, 0)
	}
	ds, dp, _ := d.MoveNotes([]NoteID{mover}, -3, 1) // and off the row
	if ds != -3 || dp != 1 {
		t.Fatalf("applied %d %d", ds, dp)
	}
	if d.Len() != 8 {
		t.Fatalf("notes passed over did not come back: %v", d.Notes())
	}
	for _, n := range d.Notes() {
		if n.ID != mover && n.Dur != 6 {
			t.Fatalf("a note passed over was left cut: %+v", n)
		}
	}
	if h := d.History(); h[len(h)-1] != "Move notes" || len(h) != 9 {
		t.Fatalf("history %v", h)
	}
	// dragging back to the start is no change at all
	d.MoveNotes([]NoteID{mover}, -67, -1)
	if diff := snapshot(d).diff(before); diff != "" || len(d.History()) != 8 {
		t.Fatalf("back at the start: %s %v", diff, d.History())
	}
	d.MoveNotes([]NoteID{mover}, 67, 1)
	d.Undo()
	if diff := snapshot(d).diff(before); diff != "" {
		t.Fatal(diff)
	}
	d.Redo()
	if n, _ := d.Note(mover); n.Start != 67 || n.Pitch != 61 {
		t.Fatalf("redo: %+v", n)
	}
	// a resize drag over a neighbour and back leaves it whole too
	d.EndGesture()
	first := d.Notes()[0]
	d.ResizeNotes([]NoteID{first.ID}, 0, 12)
	d.ResizeNotes([]NoteID{first.ID}, 0, -12)
	if d.Len() != 8 || len(d.History()) != 9 {
		t.Fatalf("resize over and back: %d notes, %v", d.Len(), d.History())
	}
}

// The history's memory is bounded: big edits of a big song push the oldest steps out.
func TestHistoryMemoryIsBounded(t *testing.T) {
	d := New()
	d.stack.MaxCost = 1 << 20 // 64 MB in use; smaller here to keep the test quick
	var ns []pianoroll.Note
	for i := range 2000 {
		ns = append(ns, pianoroll.Note{Start: i, Dur: 1, Pitch: uint8(40 + i%40), Vel: 90})
	}
	d.AddNotes(ns)
	for i := range 20 {
		d.Transpose(nil, 1-2*(i%2))
	}
	if h := len(d.History()); h >= 10 || h < 3 { // a transpose of 2000 notes costs ~190 kB
		t.Fatalf("%d steps kept", h)
	}
}

// A song made here always opens again: notes or tempos that would make it play longer than a
// MIDI file may are refused.
func TestPlayingTimeLimit(t *testing.T) {
	d := New()
	last := 3600 * 8 // steps in an hour at 120 BPM (8 steps a second)
	if _, err := d.AddNote(n(last-4, 4, 60)); err != nil {
		t.Fatal(err)
	}
	if _, err := d.AddNote(n(last, 4, 60)); !errors.Is(err, ErrTooLong) {
		t.Fatalf("past an hour: %v", err)
	}
	if err := d.SetTempo(0, 100); !errors.Is(err, ErrTooLong) {
		t.Fatalf("slower tempo: %v", err)
	}
	b, _ := d.MIDI()
	if _, err := FromMIDI(b); err != nil {
		t.Fatal(err)
	}
}

func TestVelocitySweepIsOneStep(t *testing.T) {
	d := New()
	a := mustAdd(t, d, 0, 2, 60)
	b := mustAdd(t, d, 4, 2, 62)
	d.EndGesture()
	before := snapshot(d)
	d.SetVelocity([]NoteID{a}, 30)
	d.SetVelocity([]NoteID{a}, 40)
	d.SetVelocity([]NoteID{b}, 50)
	d.EndGesture()
	if h := d.History(); len(h) != 3 {
		t.Fatalf("history %v", h)
	}
	na, _ := d.Note(a)
	nb, _ := d.Note(b)
	if na.Vel != 40 || nb.Vel != 50 {
		t.Fatal(na, nb)
	}
	roundTrip(t, d, before)
}
