package rollview

import (
	"errors"
	"testing"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/rolldoc"
	"latentstudio/studio/ui"
)

// rig drives a View through a ui.Context with synthetic input, as a window
// would, so every gesture is tested without a display.
type rig struct {
	t    *testing.T
	v    *View
	c    *ui.Context
	in   ui.Input
	r    ui.Rect
	keys []string // sound log
}

type logSound struct{ log *[]string }

func (s logSound) KeyDown(k, v uint8) { *s.log = append(*s.log, "down "+NoteName(int(k))) }
func (s logSound) KeyUp(k uint8)      { *s.log = append(*s.log, "up "+NoteName(int(k))) }

func newRig(t *testing.T) *rig {
	d := rolldoc.New()
	rg := &rig{t: t, v: New(d), r: ui.R(0, 0, 800, 600)}
	rg.c = ui.NewContext(ui.Dark(), ui.NewPainter())
	rg.c.Screen = rg.r
	rg.c.Shortcuts.Add(Shortcuts()...)
	rg.v.Sound = logSound{&rg.keys}
	rg.v.OnError = func(err error) { t.Logf("edit error: %v", err) }
	rg.tick()
	return rg
}

func (rg *rig) tick() {
	rg.c.Paint.Reset()
	rg.c.Begin(rg.in)
	rg.v.Update(rg.c, rg.r)
	rg.v.HandleKeys(rg.c)
	rg.c.End()
	rg.in.WheelX, rg.in.WheelY, rg.in.Chars = 0, 0, nil
}

func (rg *rig) grid() ui.Rect { return rg.v.Layout(rg.r).Grid }

// cell is the screen centre of (step, pitch).
func (rg *rig) cell(step, pitch float64) (float64, float64) {
	g := rg.grid()
	return rg.v.X(g, step+0.5), rg.v.Y(g, pitch+0.5)
}

func (rg *rig) moveTo(x, y float64) { rg.in.X, rg.in.Y = x, y; rg.tick() }

func (rg *rig) drag(x0, y0, x1, y1 float64, b ui.MouseButton) {
	rg.moveTo(x0, y0)
	rg.in.Buttons[b] = true
	rg.tick()
	for i := 1; i <= 4; i++ {
		f := float64(i) / 4
		rg.moveTo(x0+(x1-x0)*f, y0+(y1-y0)*f)
	}
	rg.in.Buttons[b] = false
	rg.tick()
}

func (rg *rig) click(x, y float64) { rg.drag(x, y, x, y, ui.MouseLeft) }

func (rg *rig) press(keys ...ui.Key) {
	rg.in.Keys = keys
	rg.tick()
	rg.in.Keys = nil
	rg.tick()
}

func TestPencilDrawsSnappedNoteAndDragSetsLength(t *testing.T) {
	rg := newRig(t)
	rg.v.Snap = 4
	x, y := rg.cell(9, 60) // inside the beat that starts at step 8
	rg.click(x, y)
	ns := rg.v.Doc.Notes()
	if len(ns) != 1 || ns[0].Start != 8 || ns[0].Pitch != 60 || ns[0].Dur != 4 {
		t.Fatalf("pencil click: %+v", ns)
	}
	if len(rg.keys) < 2 || rg.keys[0] != "down C4" || rg.keys[len(rg.keys)-1] != "up C4" {
		t.Fatalf("drawing a note auditions it: %v", rg.keys)
	}
	// A drag to the right draws a longer note, snapped to the grid.
	x0, y0 := rg.cell(16, 64)
	x1, _ := rg.cell(27, 64)
	rg.drag(x0, y0, x1, y0, ui.MouseLeft)
	n, ok := rg.v.Doc.NoteAt(16, 64)
	if !ok || n.Start != 16 || n.Dur != 12 {
		t.Fatalf("drawn note: %+v %v", n, ok)
	}
	if rg.v.NoteLen != 12 {
		t.Fatalf("the next note takes the drawn length: %d", rg.v.NoteLen)
	}
	// One drawn note is one undo step.
	rg.press(ui.KeyControl, ui.KeyControlLeft, ui.KeyZ)
	if rg.v.Doc.Len() != 1 {
		t.Fatalf("undo after drawing: %d notes", rg.v.Doc.Len())
	}
}

func TestMoveResizeAndDeleteWithThePencil(t *testing.T) {
	rg := newRig(t)
	if _, err := rg.v.Doc.AddNote(pianoroll.Note{Start: 4, Dur: 4, Pitch: 60, Vel: 90}); err != nil {
		t.Fatal(err)
	}
	rg.tick()
	// Drag the body two steps right and one semitone up.
	x0, y0 := rg.cell(5, 60)
	x1, y1 := rg.cell(7, 61)
	rg.drag(x0, y0, x1, y1, ui.MouseLeft)
	ns := rg.v.Doc.Notes()
	if len(ns) != 1 || ns[0].Start != 6 || ns[0].Pitch != 61 || ns[0].Dur != 4 {
		t.Fatalf("move: %+v", ns)
	}
	if got := rg.v.Doc.History(); len(got) != 2 {
		t.Fatalf("a drag is one undo step: %v", got)
	}
	// Grab the right edge and stretch by three steps.
	g := rg.grid()
	ex := rg.v.X(g, 10) - 2
	_, ey := rg.cell(0, 61)
	x2, _ := rg.cell(12, 61)
	rg.drag(ex, ey, x2+rg.v.StepW/2-2, ey, ui.MouseLeft)
	n := rg.v.Doc.Notes()[0]
	if n.Start != 6 || n.Dur != 7 {
		t.Fatalf("resize end: %+v", n)
	}
	// Right-click deletes.
	rg.drag(x1, y1, x1, y1, ui.MouseRight)
	if rg.v.Doc.Len() != 0 {
		t.Fatal("right-click must delete the note")
	}
}

func TestSelectToolRubberBandAndKeys(t *testing.T) {
	rg := newRig(t)
	rg.v.Tool = Select
	d := rg.v.Doc
	for i, p := range []uint8{60, 64, 67, 72} {
		if _, err := d.AddNote(pianoroll.Note{Start: i * 4, Dur: 4, Pitch: p, Vel: 80}); err != nil {
			t.Fatal(err)
		}
	}
	d.ClearSelection()
	rg.tick()
	// Rubber band over the first three notes (steps 0..11, pitches 60..67).
	x0, y0 := rg.cell(0, 68)
	x1, y1 := rg.cell(10, 59)
	rg.drag(x0-3, y0, x1, y1, ui.MouseLeft)
	if got := len(d.Selection()); got != 3 {
		t.Fatalf("rubber band selected %d, want 3", got)
	}
	rg.press(ui.KeyArrowUp)
	rg.press(ui.KeyShift, ui.KeyShiftLeft, ui.KeyArrowUp)
	sel := d.SelectedNotes()
	if sel[0].Pitch != 73 || sel[2].Pitch != 80 {
		t.Fatalf("↑ then ⇧↑ transpose by 13: %+v", sel)
	}
	// Copy, paste at the playhead.
	rg.v.Playhead = 32
	rg.press(ui.KeyControl, ui.KeyControlLeft, ui.KeyC)
	rg.press(ui.KeyControl, ui.KeyControlLeft, ui.KeyV)
	if d.Len() != 7 {
		t.Fatalf("paste: %d notes", d.Len())
	}
	if first := d.SelectedNotes()[0]; first.Start != 32 {
		t.Fatalf("pasted at %d, want the playhead (32)", first.Start)
	}
	rg.press(ui.KeyControl, ui.KeyControlLeft, ui.KeyD)
	if d.Len() != 10 {
		t.Fatalf("duplicate: %d notes", d.Len())
	}
	rg.press(ui.KeyDelete)
	if d.Len() != 7 {
		t.Fatalf("delete: %d notes", d.Len())
	}
	rg.press(ui.KeyControl, ui.KeyControlLeft, ui.KeyA)
	if len(d.Selection()) != 7 {
		t.Fatal("Ctrl+A selects all")
	}
	rg.press(ui.KeyControl, ui.KeyControlLeft, ui.KeyShift, ui.KeyShiftLeft, ui.KeyZ) // nothing to redo: no change
	rg.press(ui.KeyControl, ui.KeyControlLeft, ui.KeyZ)
	if d.Len() != 10 {
		t.Fatalf("undo the delete: %d notes", d.Len())
	}
	rg.press(ui.KeyControl, ui.KeyControlLeft, ui.KeyY)
	if d.Len() != 7 {
		t.Fatalf("Ctrl+Y redoes: %d notes", d.Len())
	}
}

func TestQuantizeKey(t *testing.T) {
	rg := newRig(t)
	d := rg.v.Doc
	if _, err := d.AddNote(pianoroll.Note{Start: 5, Dur: 3, Pitch: 60, Vel: 80}); err != nil {
		t.Fatal(err)
	}
	d.ClearSelection()
	rg.v.Snap = 4
	rg.press(ui.KeyQ)
	if n := d.Notes()[0]; n.Start != 4 {
		t.Fatalf("Q with nothing selected quantizes every note to the grid: %+v", n)
	}
}

func TestMaskToolsPaintAndErase(t *testing.T) {
	rg := newRig(t)
	d := rg.v.Doc
	rg.press(ui.Key3)
	if rg.v.Tool != Brush {
		t.Fatalf("key 3 picks the brush, got %v", rg.v.Tool)
	}
	rg.v.BrushRadius = 0
	x0, y0 := rg.cell(0, 60)
	x1, _ := rg.cell(15, 60)
	rg.drag(x0, y0, x1, y0, ui.MouseLeft)
	if !d.Masked(0, 60) || !d.Masked(15, 60) || d.Masked(8, 62) {
		t.Fatalf("brush stroke: %d cells", d.MaskCount())
	}
	if got := d.History(); len(got) != 1 {
		t.Fatalf("one stroke is one undo step: %v", got)
	}
	// Right-drag with the brush erases.
	xm, _ := rg.cell(4, 60)
	rg.drag(xm, y0, xm, y0, ui.MouseRight)
	if d.Masked(4, 60) || !d.Masked(3, 60) {
		t.Fatal("right-drag with the brush must erase one cell")
	}
	// Box mask.
	rg.press(ui.Key5)
	bx0, by0 := rg.cell(32, 70)
	bx1, by1 := rg.cell(35, 68)
	rg.drag(bx0, by0, bx1, by1, ui.MouseLeft)
	for s := 32; s <= 35; s++ {
		for p := 68; p <= 70; p++ {
			if !d.Masked(s, p) {
				t.Fatalf("box: cell %d,%d not masked", s, p)
			}
		}
	}
	if d.Masked(36, 70) || d.Masked(32, 71) {
		t.Fatal("box masked past its corners")
	}
	// Lasso: a triangle.
	rg.press(ui.Key6)
	before := d.MaskCount()
	lx0, ly0 := rg.cell(40, 72)
	lx1, ly1 := rg.cell(48, 72)
	lx2, ly2 := rg.cell(44, 64)
	rg.moveTo(lx0, ly0)
	rg.in.Buttons[ui.MouseLeft] = true
	rg.tick()
	for _, p := range [][2]float64{{lx1, ly1}, {lx2, ly2}} {
		for i := 1; i <= 6; i++ {
			f := float64(i) / 6
			rg.moveTo(rg.in.X+(p[0]-rg.in.X)*f, rg.in.Y+(p[1]-rg.in.Y)*f)
		}
	}
	rg.in.Buttons[ui.MouseLeft] = false
	rg.tick()
	if d.MaskCount() <= before || !d.Masked(44, 70) || d.Masked(40, 65) {
		t.Fatalf("lasso: %d → %d cells", before, d.MaskCount())
	}
}

func TestKeyboardAuditionsAndContextMenuMasksAbove(t *testing.T) {
	rg := newRig(t)
	k := rg.v.Layout(rg.r).Keys
	_, y := rg.cell(0, 60)
	rg.click(k.X+10, y)
	if len(rg.keys) != 2 || rg.keys[0] != "down C4" || rg.keys[1] != "up C4" {
		t.Fatalf("keyboard click: %v", rg.keys)
	}
	// Right-click C5, pick "Mask C5 and above" (the first item).
	_, y5 := rg.cell(0, 72)
	rg.drag(k.X+10, y5, k.X+10, y5, ui.MouseRight)
	rg.tick()
	rg.click(k.X+40, y5+4+13) // first row of the menu opened at the pointer
	rg.tick()
	d := rg.v.Doc
	if !d.Masked(0, 72) || !d.Masked(d.Length()-1, 127) || d.Masked(0, 71) {
		t.Fatalf("mask above C5: %d cells", d.MaskCount())
	}
}

func TestRulerSeeksAndDrawsTheLoop(t *testing.T) {
	rg := newRig(t)
	ru := rg.v.Layout(rg.r).Ruler
	g := rg.grid()
	rg.click(rg.v.X(g, 16.2), ru.Y+10)
	if rg.v.Seek == nil || *rg.v.Seek < 16 || *rg.v.Seek > 16.5 {
		t.Fatalf("ruler click seeks: %v", rg.v.Seek)
	}
	rg.drag(rg.v.X(g, 16.5), ru.Y+10, rg.v.X(g, 31.8), ru.Y+10, ui.MouseLeft)
	if l := rg.v.Doc.Loop(); l.From != 16 || l.To != 32 {
		t.Fatalf("loop: %+v", l)
	}
}

func TestVelocityLane(t *testing.T) {
	rg := newRig(t)
	d := rg.v.Doc
	if _, err := d.AddNote(pianoroll.Note{Start: 8, Dur: 4, Pitch: 60, Vel: 80}); err != nil {
		t.Fatal(err)
	}
	lane := rg.v.Layout(rg.r).Lane
	x := rg.v.X(rg.grid(), 8) + 1
	rg.drag(x, lane.Bottom()-10, x, lane.Y+2, ui.MouseLeft) // drag to the top: loudest
	if v := d.Notes()[0].Vel; v != 127 {
		t.Fatalf("velocity: %d", v)
	}
}

func TestWheelScrollsAndZooms(t *testing.T) {
	rg := newRig(t)
	g := rg.grid()
	top, w := rg.v.Top, rg.v.StepW
	rg.in.X, rg.in.Y = g.X+200, g.Y+100
	rg.in.WheelY = -1
	rg.tick()
	if rg.v.Top >= top {
		t.Fatal("wheel down scrolls to lower pitches")
	}
	step := rg.v.At(g, g.X+200, 0).X
	rg.in.Keys = []ui.Key{ui.KeyControl, ui.KeyControlLeft}
	rg.in.WheelY = 1
	rg.tick()
	rg.in.Keys = nil
	if rg.v.StepW <= w {
		t.Fatal("Ctrl+wheel up zooms in")
	}
	if got := rg.v.At(g, g.X+200, 0).X; got < step-0.01 || got > step+0.01 {
		t.Fatalf("zoom must keep the step under the pointer: %v → %v", step, got)
	}
}

func TestErrorsReachTheApp(t *testing.T) {
	rg := newRig(t)
	var got error
	rg.v.OnError = func(err error) { got = err }
	d := rg.v.Doc
	if _, err := d.AddNote(pianoroll.Note{Start: 0, Dur: 4, Pitch: 127, Vel: 80}); err != nil {
		t.Fatal(err)
	}
	rg.press(ui.KeyArrowUp)
	if !errors.Is(got, rolldoc.ErrOutOfRange) {
		t.Fatalf("transposing past the top: %v", got)
	}
}

func TestDragPastTheEdgeScrolls(t *testing.T) {
	rg := newRig(t)
	if err := rg.v.Doc.SetLength(4096); err != nil {
		t.Fatal(err)
	}
	if _, err := rg.v.Doc.AddNote(pianoroll.Note{Start: 4, Dur: 4, Pitch: 60, Vel: 90}); err != nil {
		t.Fatal(err)
	}
	rg.tick()
	g := rg.grid()
	x0, y0 := rg.cell(5, 60)
	rg.moveTo(x0, y0)
	rg.in.Buttons[ui.MouseLeft] = true
	rg.tick()
	rg.moveTo(g.Right()+30, y0) // past the right edge, held there
	for i := 0; i < 30; i++ {
		rg.tick()
	}
	rg.in.Buttons[ui.MouseLeft] = false
	rg.tick()
	if rg.v.Left <= 0 {
		t.Fatal("holding a drag past the edge must scroll")
	}
	_, vis := rg.v.Visible(g)
	if n := rg.v.Doc.Notes()[0]; float64(n.Start) < vis-8 {
		t.Fatalf("the note must follow the scroll: start %d, view ends at %.0f", n.Start, vis)
	}
	if h := rg.v.Doc.History(); len(h) != 3 || h[2] != "Move notes" {
		t.Fatalf("the whole drag is one undo step: %v", h)
	}
}

func TestFinishCommitsAHeldPencilNote(t *testing.T) {
	rg := newRig(t)
	x, y := rg.cell(8, 62)
	rg.moveTo(x, y)
	rg.in.Buttons[ui.MouseLeft] = true
	rg.tick()
	if rg.v.Doc.Len() != 0 {
		t.Fatal("the pencil adds its note on release")
	}
	rg.v.Finish() // the app is closing with the button still down
	if n, ok := rg.v.Doc.NoteAt(8, 62); !ok || n.Dur != 4 {
		t.Fatalf("held note after Finish: %+v %v", n, ok)
	}
	if rg.v.Busy() {
		t.Fatal("Finish must end the gesture")
	}
}
