// Package rolldoc is the editable piano-roll document: notes on the 16th-note step grid of
// studio/pianoroll, tempo map and time signature, length, selection, the inpainting mask and
// the loop region. Every mutation is an undoable command on the document's undo stack, and
// Version changes with every change so that views and autosave can tell.
//
// A Doc is safe for concurrent use: the editor mutates it while autosave reads it. Watch
// registers a function called after every change (outside the document's lock).
//
// Choices a musician will notice:
//   - Notes keep their NoteID through every edit and undo, so a selection survives them.
//     Selecting is not an undo step; edits that change the selection (paste, duplicate, cut,
//     delete) restore it when undone.
//   - No two notes overlap on one pitch. The note being edited wins: a note it covers is cut
//     short where it started earlier and removed where it started under it.
//   - A drag (MoveNotes, ResizeNotes, velocity, brush strokes called repeatedly) is one undo
//     step until EndGesture. Moves clamp as a whole, so a chord dragged to the top keeps its
//     shape; Transpose instead refuses (ErrOutOfRange) when any note would leave 0..127.
//   - The mask is 128 cells per step and grows with the song; painting past the end makes the
//     song longer (ask the model to continue it). Length is at least the notes, the mask and
//     what SetLength asked for, rounded up to a bar.
//   - ApplyCandidate is one undo step and remembers what the model wrote; Remask freezes it
//     and leaves the rest of that mask for another try (see Remask).
//   - Edits take the ids of the notes they act on; nil means every note, except for Duplicate
//     (nil: the selection) and DeleteNotes (nil: none).
//   - FromMIDI of a file without notes is an empty song (a new project); Import of one is
//     refused, since it would only replace a song with nothing.
package rolldoc

import (
	"errors"
	"slices"
	"sync"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/undo"
)

// NoteID names a note for as long as it exists: edits keep a note's id, so a selection
// survives moves, resizes, transposes and undo. Ids are never reused within a document.
type NoteID uint64

// Note is a note of the document.
type Note struct {
	pianoroll.Note
	ID NoteID
}

// TimeSig is a time signature in force from a step (the start of a bar) on.
type TimeSig struct {
	Step int
	Num  int // beats per bar, 1..32
	Den  int // beat unit: 1, 2, 4, 8 or 16
}

// StepsPerBar is how many 16th-note steps a bar of this signature holds.
func (t TimeSig) StepsPerBar() int { return max(1, t.Num*pianoroll.StepsPerBar/t.Den) }

// Loop is the playback loop region [From, To) in steps; To == 0 means no loop.
type Loop struct{ From, To int }

// On reports whether a loop is set.
func (l Loop) On() bool { return l.To > l.From }

// Limits of a document.
const (
	MaxSteps       = pianoroll.MaxSteps // a song is at most 2048 bars of 4/4
	MaxNotes       = 200_000            // notes in one document
	DefaultLength  = 512                // a new song: 32 bars of 4/4, one model window
	MaxImportBytes = 50 << 20           // a file over this is refused unread (FromMIDI opens up to pianoroll.MaxFileBytes)
	undoDepth      = 300
	undoBytes      = 64 << 20 // the history's memory bound (a wasm tab has little to spare)
)

// Errors an edit can return; the document is unchanged when one is returned.
var (
	ErrOutOfRange = errors.New("notes would leave the piano's range")
	ErrNoSuchNote = errors.New("no such note")
	ErrTooMany    = errors.New("too many notes")
	ErrBadValue   = errors.New("value out of range")
)

// Doc is an editable piano-roll song. Create one with New or FromMIDI.
type Doc struct {
	mu sync.Mutex

	notes  []Note // sorted by start, pitch, id; replaced (never modified in place) on change
	byID   map[NoteID]Note
	nextID NoteID
	end    int // first step after the last note

	tempos []pianoroll.Tempo // sorted, first at step 0
	meter  []TimeSig         // sorted, first at step 0
	length int               // the length the user set (the song is at least as long as its notes and mask)

	sel  map[NoteID]bool
	mask mask
	loop Loop
	gen  generated // what the last applied inpainting candidate put in

	stack *undo.Stack

	version, songVersion uint64
	notify               bool // a change happened under the lock: call watchers on unlock
	watchers             map[int]func()
	nextWatch            int
}

// New returns an empty song: 4/4 at 120 BPM, DefaultLength steps long.
func New() *Doc {
	return &Doc{
		byID:   map[NoteID]Note{},
		tempos: []pianoroll.Tempo{{Step: 0, BPM: pianoroll.DefaultBPM}},
		meter:  []TimeSig{{Step: 0, Num: 4, Den: 4}},
		length: DefaultLength,
		sel:    map[NoteID]bool{},
		stack:  newStack(),
	}
}

func newStack() *undo.Stack {
	s := undo.NewStack(undoDepth)
	s.MaxCost = undoBytes
	return s
}

// lock/unlock wrap every public method; unlock calls the watchers after a change.
func (d *Doc) lock() { d.mu.Lock() }

func (d *Doc) unlock() {
	fire := d.notify
	d.notify = false
	var fns []func()
	if fire {
		fns = make([]func(), 0, len(d.watchers))
		for _, f := range d.watchers {
			fns = append(fns, f)
		}
	}
	d.mu.Unlock()
	for _, f := range fns {
		f()
	}
}

// changed records a change; song is true when the MIDI file would differ.
func (d *Doc) changed(song bool) {
	d.version++
	if song {
		d.songVersion++
	}
	d.notify = true
}

// Version changes on every change of the document, selection and mask included.
func (d *Doc) Version() uint64 {
	d.lock()
	defer d.unlock()
	return d.version
}

// SongVersion changes only when what MIDI writes changes (notes, tempo, meter, length): what
// autosave compares.
func (d *Doc) SongVersion() uint64 {
	d.lock()
	defer d.unlock()
	return d.songVersion
}

// Watch calls f after every change (from the goroutine that made it, outside the document's
// lock, so f may read the document). The returned function stops the calls.
func (d *Doc) Watch(f func()) (stop func()) {
	d.lock()
	defer d.unlock()
	if d.watchers == nil {
		d.watchers = map[int]func(){}
	}
	id := d.nextWatch
	d.nextWatch++
	d.watchers[id] = f
	return func() {
		d.lock()
		defer d.unlock()
		delete(d.watchers, id)
	}
}

// Notes returns the notes sorted by start, then pitch. The slice is shared: do not modify it
// (the document replaces its slice on every edit, so a slice once returned never changes).
func (d *Doc) Notes() []Note {
	d.lock()
	defer d.unlock()
	return d.notes
}

// PlainNotes returns the notes without ids (for the sequencer and the model).
func (d *Doc) PlainNotes() []pianoroll.Note {
	d.lock()
	defer d.unlock()
	return plain(d.notes)
}

func plain(ns []Note) []pianoroll.Note {
	out := make([]pianoroll.Note, len(ns))
	for i, n := range ns {
		out[i] = n.Note
	}
	return out
}

// Len is the number of notes.
func (d *Doc) Len() int {
	d.lock()
	defer d.unlock()
	return len(d.notes)
}

// Note returns the note with the given id.
func (d *Doc) Note(id NoteID) (Note, bool) {
	d.lock()
	defer d.unlock()
	n, ok := d.byID[id]
	return n, ok
}

// NotesIn returns the notes that sound somewhere in [from, to).
func (d *Doc) NotesIn(from, to int) []Note {
	d.lock()
	defer d.unlock()
	return d.notesIn(from, to)
}

func (d *Doc) notesIn(from, to int) []Note {
	// notes are sorted by start: everything from the first start ≥ to on is out
	hi, _ := slices.BinarySearchFunc(d.notes, to, func(n Note, t int) int { return n.Start - t })
	var out []Note
	for _, n := range d.notes[:hi] {
		if n.End() > from {
			out = append(out, n)
		}
	}
	return out
}

// NoteAt returns the note that sounds at (step, pitch), if any.
func (d *Doc) NoteAt(step, pitch int) (Note, bool) {
	d.lock()
	defer d.unlock()
	for _, n := range d.notesIn(step, step+1) {
		if int(n.Pitch) == pitch {
			return n, true
		}
	}
	return Note{}, false
}

// Length is the song's length in steps: at least what the user set, the end of the last note
// and the end of the mask, rounded up to a whole bar.
func (d *Doc) Length() int {
	d.lock()
	defer d.unlock()
	return d.lengthLocked()
}

func (d *Doc) lengthLocked() int {
	l := max(d.length, d.end, d.mask.end())
	return min(d.barCeil(l), MaxSteps)
}

// Tempos is the tempo map, sorted by step, the first at step 0.
func (d *Doc) Tempos() []pianoroll.Tempo {
	d.lock()
	defer d.unlock()
	return slices.Clone(d.tempos)
}

// Meter is the list of time signatures, sorted by step, the first at step 0.
func (d *Doc) Meter() []TimeSig {
	d.lock()
	defer d.unlock()
	return slices.Clone(d.meter)
}

// BarStart is the first step of a bar (0-based) through the time signatures.
func (d *Doc) BarStart(bar int) int {
	d.lock()
	defer d.unlock()
	return d.barStart(bar)
}

func (d *Doc) barStart(bar int) int {
	step, b := 0, 0
	for i, ts := range d.meter {
		per := ts.StepsPerBar()
		if i+1 < len(d.meter) {
			next := d.meter[i+1].Step
			bars := (next - ts.Step + per - 1) / per
			if bar < b+bars {
				return ts.Step + (bar-b)*per
			}
			b += bars
			step = next
			continue
		}
		return step + (bar-b)*per
	}
	return bar * pianoroll.StepsPerBar
}

// BarOf is the bar (0-based) holding a step.
func (d *Doc) BarOf(step int) int {
	d.lock()
	defer d.unlock()
	return d.barOf(step)
}

func (d *Doc) barOf(step int) int {
	b := 0
	for i, ts := range d.meter {
		per := ts.StepsPerBar()
		if i+1 < len(d.meter) && step >= d.meter[i+1].Step {
			b += (d.meter[i+1].Step - ts.Step + per - 1) / per
			continue
		}
		return b + (step-ts.Step)/per
	}
	return step / pianoroll.StepsPerBar
}

// barCeil rounds a step up to the start of a bar.
func (d *Doc) barCeil(step int) int {
	b := d.barOf(step)
	if s := d.barStart(b); s == step {
		return s
	}
	return d.barStart(b + 1)
}

// Loop is the loop region (To == 0: none).
func (d *Doc) Loop() Loop {
	d.lock()
	defer d.unlock()
	return d.loop
}

// Undo reverts the newest step; false when there is none.
func (d *Doc) Undo() bool {
	d.lock()
	defer d.unlock()
	return d.stack.Undo()
}

// Redo runs the most recently undone step again; false when there is none.
func (d *Doc) Redo() bool {
	d.lock()
	defer d.unlock()
	return d.stack.Redo()
}

// CanUndo reports whether there is a step to undo.
func (d *Doc) CanUndo() bool {
	d.lock()
	defer d.unlock()
	return d.stack.CanUndo()
}

// CanRedo reports whether there is a step to redo.
func (d *Doc) CanRedo() bool {
	d.lock()
	defer d.unlock()
	return d.stack.CanRedo()
}

// UndoLabel names the step Undo would revert, RedoLabel the one Redo would run ("" when none).
func (d *Doc) UndoLabel() string {
	d.lock()
	defer d.unlock()
	return d.stack.UndoLabel()
}

// RedoLabel names the step Redo would run ("" when none).
func (d *Doc) RedoLabel() string {
	d.lock()
	defer d.unlock()
	return d.stack.RedoLabel()
}

// History names the steps that can be undone, oldest first.
func (d *Doc) History() []string {
	d.lock()
	defer d.unlock()
	return d.stack.Labels()
}

// EndGesture ends a drag or a brush stroke: the next edit is a new undo step even when it
// would merge with the last one (two drags of the same notes are two steps).
func (d *Doc) EndGesture() {
	d.lock()
	defer d.unlock()
	d.stack.Seal()
}

// do runs a command on the stack; callers hold the lock.
func (d *Doc) do(c undo.Command) { d.stack.Do(c) }
