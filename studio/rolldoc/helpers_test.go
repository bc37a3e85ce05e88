package rolldoc

import (
	"fmt"
	"slices"
	"testing"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/protocol"
)

// snap is everything an undo must restore. The selection is kept too but not compared:
// selecting is not an undo step (unit tests check that edits restore it).
type snap struct {
	notes  []Note
	sel    []NoteID
	mask   []uint64
	tempos []pianoroll.Tempo
	meter  []TimeSig
	length int
	loop   Loop
	gen    []NoteID
}

func snapshot(d *Doc) snap {
	d.lock()
	defer d.unlock()
	m := slices.Clone(d.mask.words)
	for len(m) > 0 && m[len(m)-1] == 0 { // growth without cells is not a change
		m = m[:len(m)-1]
	}
	return snap{slices.Clone(d.notes), setIDs(d.sel), m, slices.Clone(d.tempos), slices.Clone(d.meter), d.length, d.loop, setIDs(d.gen.ids)}
}

func (a snap) diff(b snap) string {
	switch {
	case !slices.Equal(a.notes, b.notes):
		return fmt.Sprintf("notes\n%v\n%v", a.notes, b.notes)
	case !slices.Equal(a.mask, b.mask):
		return "mask"
	case !slices.Equal(a.tempos, b.tempos) || !slices.Equal(a.meter, b.meter) || a.length != b.length || a.loop != b.loop:
		return fmt.Sprintf("settings %v %v %d %v vs %v %v %d %v", a.tempos, a.meter, a.length, a.loop, b.tempos, b.meter, b.length, b.loop)
	case !slices.Equal(a.gen, b.gen):
		return "generated"
	}
	return ""
}

// invariants: what every edit must keep true.
func invariants(d *Doc) error {
	d.lock()
	defer d.unlock()
	if len(d.byID) != len(d.notes) {
		return fmt.Errorf("index holds %d notes, list %d", len(d.byID), len(d.notes))
	}
	last := map[uint8]Note{}
	for i, n := range d.notes {
		if i > 0 && noteLess(d.notes[i-1], n) >= 0 {
			return fmt.Errorf("notes out of order at %d: %v %v", i, d.notes[i-1], n)
		}
		if d.byID[n.ID] != n {
			return fmt.Errorf("index disagrees on %v", n)
		}
		if n.Start < 0 || n.Dur < 1 || n.End() > MaxSteps || n.Pitch > 127 || n.Vel < 1 || n.Vel > 127 || n.ID == 0 || n.ID > d.nextID {
			return fmt.Errorf("note out of range: %+v", n)
		}
		if p, ok := last[n.Pitch]; ok && p.End() > n.Start {
			return fmt.Errorf("overlap on pitch %d: %v %v", n.Pitch, p, n)
		}
		last[n.Pitch] = n
	}
	for id := range d.sel {
		if _, ok := d.byID[id]; !ok {
			return fmt.Errorf("selected note %d does not exist", id)
		}
	}
	if l := d.lengthLocked(); l < d.end || l > MaxSteps {
		return fmt.Errorf("length %d, notes end at %d", l, d.end)
	}
	return nil
}

func mustAdd(t testing.TB, d *Doc, start, dur, pitch int) NoteID {
	t.Helper()
	id, err := d.AddNote(pianoroll.Note{Start: start, Dur: dur, Pitch: uint8(pitch), Vel: 100})
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func plainOf(d *Doc) []pianoroll.Note { return d.PlainNotes() }

func n(start, dur, pitch int) pianoroll.Note {
	return pianoroll.Note{Start: start, Dur: dur, Pitch: uint8(pitch), Vel: 100}
}

// edit is one random edit driven by a stream of choices; it names what it did.
func edit(d *Doc, next func(n int) int) string {
	ids := func() []NoteID {
		ns := d.Notes()
		if len(ns) == 0 || next(4) == 0 {
			return nil
		}
		var out []NoteID
		for range 1 + next(4) {
			out = append(out, ns[next(len(ns))].ID)
		}
		return out
	}
	pt := func() Point {
		return Point{float64(next(200)) + float64(next(10))/10, float64(next(128)) + float64(next(10))/10}
	}
	switch op := next(27); op {
	case 0, 1, 2:
		d.AddNote(pianoroll.Note{Start: next(300), Dur: 1 + next(40), Pitch: uint8(next(128)), Vel: uint8(1 + next(127))})
		return "add"
	case 3:
		d.DeleteNotes(ids())
		return "delete"
	case 4: // a drag: a few moves of the same notes
		ns := ids()
		for range 1 + next(4) {
			d.MoveNotes(ns, next(41)-20, next(25)-12)
		}
		return "move"
	case 5:
		ns := ids()
		for range 1 + next(3) {
			d.ResizeNotes(ns, next(9)-4, next(17)-8)
		}
		return "resize"
	case 6:
		d.SetVelocity(ids(), next(140)-5)
		return "velocity"
	case 7:
		d.Quantize(ids(), 1+next(8), next(2) == 0)
		return "quantize"
	case 8:
		d.Transpose(ids(), []int{1, -1, 12, -12}[next(4)])
		return "transpose"
	case 9:
		d.Select(ids()...)
		c := d.Copy()
		d.Paste(c, next(400))
		return "copy/paste"
	case 10:
		d.Select(ids()...)
		d.Cut()
		return "cut"
	case 11:
		d.Duplicate(ids())
		return "duplicate"
	case 12:
		d.SelectRect(next(300), next(300), next(128), next(128), next(2) == 0)
		return "select rect"
	case 13:
		d.MaskBrush(pt(), pt(), float64(next(6)), next(3) == 0)
		return "brush"
	case 14:
		d.MaskBox(next(300), next(128), next(300), next(128), next(3) == 0)
		return "box"
	case 15:
		d.MaskLasso([]Point{pt(), pt(), pt(), pt(), pt()}, next(3) == 0)
		return "lasso"
	case 16:
		d.MaskBars(next(20), next(20))
		return "bars"
	case 17:
		d.MaskAbove(next(128), next(300), next(300))
		return "above"
	case 18:
		d.ClearMask()
		return "clear mask"
	case 19:
		d.InvertMask()
		return "invert"
	case 20:
		d.SetLoop(next(300), next(300))
		return "loop"
	case 21:
		d.SetTempo(next(3)*16, float64(60+next(120)))
		return "tempo"
	case 22:
		d.SetTimeSignature(1+next(7), []int{2, 4, 8}[next(3)])
		return "meter"
	case 23:
		d.EndGesture()
		return "end gesture"
	case 24:
		// inpaint with a fake model answer: the window's notes plus one note per masked column
		from := next(3) * 16
		req, err := d.InpaintRequest(from, 64, InpaintOptions{})
		if err != nil {
			return "inpaint (empty)"
		}
		d.ApplyCandidate(fakeModel(req), 0)
		return "apply candidate"
	case 25:
		d.Remask()
		return "remask"
	default: // import the song itself: every note gets a new id, the mask is cleared
		b, _ := d.MIDI()
		d.Import(b)
		return "import"
	}
}

// fakeModel answers a request the way the real model's output is shaped: the window's notes
// that start in unmasked cells stay, and one short note appears in every other masked column
// (at its lowest masked pitch). It is no stand-in for the model's music, only for its shape.
func fakeModel(req protocol.RollInpaint) protocol.RollInpaintResult {
	cells, _ := protocol.DecodeMask(req.Mask, req.Steps)
	var out protocol.RollNotes
	for i := 0; i < len(req.Notes); i += 4 {
		s, du, p, v := req.Notes[i], req.Notes[i+1], req.Notes[i+2], req.Notes[i+3]
		c := int(s) - req.From
		if c < 0 {
			du -= int32(-c)
			s, c = int32(req.From), 0
		}
		if cells[int(p)*req.Steps+c] {
			continue
		}
		if e := int(s+du) - req.From; e > req.Steps {
			du = int32(req.From + req.Steps - int(s))
		}
		out = append(out, s, du, p, v)
	}
	for c := 0; c < req.Steps; c += 2 {
		for p := 0; p < 128; p++ {
			if cells[p*req.Steps+c] {
				out = append(out, int32(req.From+c), 1, int32(p), 80)
				break
			}
		}
	}
	return protocol.RollInpaintResult{From: req.From, Steps: req.Steps, Candidates: []protocol.RollCandidate{{Notes: out}}}
}
