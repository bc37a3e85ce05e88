package ui

import (
	"testing"
	"time"
)

// driver feeds synthetic input ticks to a Context, as a window would.
type driver struct {
	c  *Context
	in Input
}

func newDriver() *driver {
	c := NewContext(Dark(), NewPainter())
	c.Screen = R(0, 0, 800, 600)
	return &driver{c: c}
}

// tick runs one frame: Begin, the widget code, End.
func (d *driver) tick(f func(c *Context)) {
	d.c.Paint.Reset()
	d.c.Begin(d.in)
	f(d.c)
	d.c.End()
	d.in.WheelX, d.in.WheelY, d.in.Chars = 0, 0, nil
}

func (d *driver) move(x, y float64) { d.in.X, d.in.Y = x, y }

func TestRectCuts(t *testing.T) {
	r := R(0, 0, 100, 50)
	l, rest := r.CutLeft(30)
	if l != R(0, 0, 30, 50) || rest != R(30, 0, 70, 50) {
		t.Fatalf("CutLeft: %v %v", l, rest)
	}
	b, rest := r.CutBottom(80) // more than there is: clamps
	if b != R(0, 0, 100, 50) || !rest.Empty() {
		t.Fatalf("CutBottom clamps: %v %v", b, rest)
	}
	if !r.Contains(0, 0) || r.Contains(100, 10) {
		t.Fatal("Contains must include the top-left edge and exclude the right")
	}
	if got := Corners(10, 40, 2, 5); got != R(2, 5, 8, 35) {
		t.Fatalf("Corners: %v", got)
	}
	if !R(0, 0, 10, 10).Intersect(R(10, 0, 5, 5)).Empty() {
		t.Fatal("touching rects do not overlap")
	}
	row := NewRow(R(0, 0, 100, 20), 4)
	row.Next(30)
	if n := row.Next(10); n.X != 34 {
		t.Fatalf("row: %v", n)
	}
}

func TestButtonClickNeedsPressAndReleaseInside(t *testing.T) {
	d := newDriver()
	btn := R(10, 10, 80, 24)
	clicks := 0
	frame := func(c *Context) {
		if c.Button("ok", btn, "OK") {
			clicks++
		}
	}
	d.move(20, 20)
	d.tick(frame)
	d.in.Buttons[MouseLeft] = true
	d.tick(frame)
	d.in.Buttons[MouseLeft] = false
	d.tick(frame)
	if clicks != 1 {
		t.Fatalf("clicks = %d, want 1", clicks)
	}
	// Press inside, drag out, release outside: no click.
	d.in.Buttons[MouseLeft] = true
	d.tick(frame)
	d.move(300, 300)
	d.tick(frame)
	d.in.Buttons[MouseLeft] = false
	d.tick(frame)
	if clicks != 1 {
		t.Fatalf("release outside clicked: %d", clicks)
	}
}

func TestDragCaptureKeepsThePointer(t *testing.T) {
	d := newDriver()
	var got []Interaction
	frame := func(c *Context) {
		// "b" overlaps "a" on the right; a drag that starts in a stays in a.
		got = append(got, c.Interact("a", R(0, 0, 100, 100)))
		c.Interact("b", R(90, 0, 100, 100))
	}
	d.move(10, 10)
	d.in.Buttons[MouseLeft] = true
	d.tick(frame)
	if !got[0].Pressed || d.c.Active() != "a" {
		t.Fatalf("press: %+v active %q", got[0], d.c.Active())
	}
	d.move(150, 50) // over b only
	d.tick(frame)
	if !got[1].Down || d.c.Hot() == "b" {
		t.Fatalf("drag outside: a must still hold the pointer, hot=%q", d.c.Hot())
	}
	d.in.Buttons[MouseLeft] = false
	d.tick(frame)
	if !got[2].Released || got[2].Clicked {
		t.Fatalf("release outside: %+v", got[2])
	}
	d.tick(frame)
	if d.c.Active() != "" {
		t.Fatal("active must clear after release")
	}
}

func TestSliderDragWheelAndKeys(t *testing.T) {
	d := newDriver()
	v := 5.0
	frame := func(c *Context) { c.Slider("u", R(0, 0, 100, 40), "Repaint", &v, 1, 10, 1, "%.0f") }
	d.move(99.9, 35)
	d.in.Buttons[MouseLeft] = true
	d.tick(frame)
	if v != 10 {
		t.Fatalf("drag to the right end: %v", v)
	}
	d.move(-50, 35) // outside, still dragging: clamps to the low end
	d.tick(frame)
	if v != 1 {
		t.Fatalf("drag past the left end: %v", v)
	}
	d.in.Buttons[MouseLeft] = false
	d.tick(frame)
	d.move(50, 20)
	d.in.WheelY = 1
	d.tick(frame)
	if v != 2 {
		t.Fatalf("wheel up: %v", v)
	}
	// The slider got focus when pressed: arrow keys step it.
	d.in.Keys = []Key{KeyArrowRight}
	d.tick(frame)
	if v != 3 {
		t.Fatalf("arrow right: %v", v)
	}
	if d.c.KeyPressed(KeyArrowRight) {
		t.Fatal("the focused slider must consume the arrow key")
	}
}

func TestToggleAndTabFocus(t *testing.T) {
	d := newDriver()
	a, b := false, false
	clicked := false
	frame := func(c *Context) {
		c.Toggle("a", R(0, 0, 100, 20), "A", &a)
		c.Toggle("b", R(0, 30, 100, 20), "B", &b)
		clicked = c.Button("c", R(0, 60, 100, 20), "C") || clicked
	}
	d.tick(frame)
	d.in.Keys = []Key{KeyTab}
	d.tick(frame)
	d.in.Keys = nil
	d.tick(frame)
	d.in.Keys = []Key{KeyTab}
	d.tick(frame)
	if d.c.Focus() != "b" {
		t.Fatalf("two Tabs focus the second widget, got %q", d.c.Focus())
	}
	d.in.Keys = []Key{KeySpace}
	d.tick(frame)
	if a || !b {
		t.Fatalf("space toggles the focused toggle only: a=%v b=%v", a, b)
	}
	d.in.Keys = []Key{KeyShift, KeyShiftLeft, KeyTab}
	d.tick(frame)
	if d.c.Focus() != "a" {
		t.Fatalf("Shift-Tab goes back, got %q", d.c.Focus())
	}
}

func TestMenuPicksAndBlocksWidgetsBelow(t *testing.T) {
	d := newDriver()
	sel := 0
	under := 0
	frame := func(c *Context) {
		// A button under where the list opens: it must not get the click.
		if c.Button("under", R(0, 56, 100, 24), "Under") {
			under++
		}
		c.Dropdown("dd", R(0, 0, 100, 24), []string{"one", "two", "three"}, &sel)
	}
	click := func(x, y float64) {
		d.move(x, y)
		d.tick(frame)
		d.in.Buttons[MouseLeft] = true
		d.tick(frame)
		d.in.Buttons[MouseLeft] = false
		d.tick(frame)
	}
	click(10, 10) // open
	// Items are 26 px rows from y = 24+2+4: "two" is at y ≈ 56..82.
	click(10, 66)
	d.tick(frame)
	if sel != 1 {
		t.Fatalf("picked %d, want 1", sel)
	}
	if under != 0 {
		t.Fatal("the click on the open list reached the widget below")
	}
}

func TestShortcutsMatchModifiersExactly(t *testing.T) {
	d := newDriver()
	d.c.Shortcuts.Add(
		Shortcut{Name: "undo", Title: "Undo", Group: "Edit", Chords: []Chord{{Key: KeyZ, Mods: Primary}}},
		Shortcut{Name: "redo", Title: "Redo", Group: "Edit", Chords: []Chord{{Key: KeyZ, Mods: Primary | Shift}, {Key: KeyY, Mods: Primary}}},
		Shortcut{Name: "help", Title: "Shortcuts", Group: "View", Chords: []Chord{{Rune: '?'}}},
		Shortcut{Name: "up", Title: "Transpose up", Group: "Edit", Chords: []Chord{{Key: KeyArrowUp}}, Repeat: true},
	)
	fired := map[string]int{}
	frame := func(c *Context) {
		for _, n := range []string{"undo", "redo", "help", "up"} {
			if c.Fired(n) {
				fired[n]++
			}
		}
	}
	d.in.Keys = []Key{KeyControl, KeyControlLeft, KeyZ}
	d.tick(frame)
	d.tick(frame) // held: no repeat for undo
	d.in.Keys = nil
	d.tick(frame)
	d.in.Keys = []Key{KeyMeta, KeyMetaLeft, KeyShift, KeyShiftLeft, KeyZ}
	d.tick(frame)
	d.in.Keys = []Key{KeyZ}
	d.tick(frame)
	d.in.Keys, d.in.Chars = nil, []rune{'?'}
	d.tick(frame)
	d.in.Keys = []Key{KeyArrowUp}
	for i := 0; i < 30; i++ {
		d.tick(frame)
	}
	want := map[string]int{"undo": 1, "redo": 1, "help": 1, "up": 3} // press, then repeats at 24 and 28
	for k, v := range want {
		if fired[k] != v {
			t.Errorf("%s fired %d times, want %d (all: %v)", k, fired[k], v, fired)
		}
	}
	if got := d.c.Shortcuts.List()[1].Keys(); got != "Ctrl+Shift+Z  Ctrl+Y" {
		t.Errorf("sheet text: %q", got)
	}
	if g := d.c.Shortcuts.Groups(); len(g) != 2 || g[0] != "Edit" {
		t.Errorf("groups: %v", g)
	}
}

func TestModalBlocksEverythingElse(t *testing.T) {
	d := newDriver()
	clicks, picked := 0, -1
	frame := func(c *Context) {
		if c.Button("bg", R(0, 0, 800, 600), "") {
			clicks++
		}
		if p := c.Modal("m", "Title", []string{"a line"}, []string{"Cancel", "OK"}); p >= 0 {
			picked = p
		}
	}
	d.move(5, 5)
	d.tick(frame)
	d.in.Buttons[MouseLeft] = true
	d.tick(frame)
	d.in.Buttons[MouseLeft] = false
	d.tick(frame)
	if clicks != 0 {
		t.Fatal("a modal must block the widgets behind it")
	}
	// OK is the rightmost button, 24 px from the dialog's right edge, 44 from its bottom.
	w, h := 420.0, 56+20+56.0
	x, y := (800-w)/2+w-24-10, (600-h)/2+h-44+14
	d.move(x, y)
	d.tick(frame)
	d.in.Buttons[MouseLeft] = true
	d.tick(frame)
	d.in.Buttons[MouseLeft] = false
	d.tick(frame)
	d.tick(frame)
	if picked != 1 {
		t.Fatalf("picked %d, want OK (1)", picked)
	}
}

func TestPainterSplitsBatchesAtTheIndexLimit(t *testing.T) {
	p := NewPainter()
	p.Scale = 2
	n := 20000 // 80,000 vertices: more than one uint16-indexed batch
	for i := 0; i < n; i++ {
		p.FillRect(float64(i%100), float64(i/100), 1, 1, Dark().Note)
	}
	if p.Rects() != n {
		t.Fatalf("rects %d", p.Rects())
	}
	if len(p.ops) != 2 {
		t.Fatalf("batches %d, want 2", len(p.ops))
	}
	for _, o := range p.ops {
		if o.v1-o.v0 > maxBatchVerts {
			t.Fatalf("batch of %d vertices", o.v1-o.v0)
		}
		for _, ix := range p.idx[o.i0:o.i1] {
			if int(ix) >= o.v1-o.v0 {
				t.Fatalf("index %d outside its batch of %d", ix, o.v1-o.v0)
			}
		}
	}
	// Device pixels: the scale applies, and thin rects stay at least 1 px.
	v := p.verts[0]
	if v.DstX != 0 || p.verts[2].DstX != 2 {
		t.Fatalf("scale not applied: %v %v", v.DstX, p.verts[2].DstX)
	}
	p.Reset()
	p.Clip(R(0, 0, 10, 10))
	p.FillRect(5, 5, 10, 10, Dark().Note)
	p.FillRect(20, 20, 5, 5, Dark().Note)
	if p.Rects() != 1 || p.verts[2].DstX != 20 {
		t.Fatalf("clip: %d rects, right edge %v", p.Rects(), p.verts[2].DstX)
	}
	p.Text(30, 30, "outside", 12, Dark().Text, AlignLeft)
	if len(p.ops) != 1 {
		t.Fatal("text outside the clip must be dropped")
	}
}

func TestPopupOpensAtThePointAndClosesOutside(t *testing.T) {
	d := newDriver()
	picked := -1
	frame := func(c *Context) {
		if p := c.Popup("ctx", []MenuItem{{Label: "Mask above"}, {Label: "Mask below"}}); p >= 0 {
			picked = p
		}
	}
	d.tick(func(c *Context) { c.OpenPopup("ctx", 100, 100); frame(c) })
	// Second row: 26 px rows from y = 100+4.
	d.move(150, 100+4+26+10)
	d.tick(frame)
	d.in.Buttons[MouseLeft] = true
	d.tick(frame)
	d.in.Buttons[MouseLeft] = false
	d.tick(frame)
	d.tick(frame)
	if picked != 1 {
		t.Fatalf("picked %d, want 1", picked)
	}
	// Reopen, then click elsewhere: closed, nothing picked.
	picked = -1
	d.tick(func(c *Context) { c.OpenPopup("ctx", 100, 100); frame(c) })
	d.move(600, 500)
	d.tick(frame)
	d.in.Buttons[MouseLeft] = true
	d.tick(frame)
	d.in.Buttons[MouseLeft] = false
	d.tick(frame)
	if picked != -1 || d.c.Focus() != "" {
		t.Fatalf("a click outside must close the popup: picked %d focus %q", picked, d.c.Focus())
	}
}

func TestToastsExpire(t *testing.T) {
	d := newDriver()
	now := time.Unix(1000, 0)
	d.c.now = func() time.Time { return now }
	d.c.Toast(Info, "saved")
	d.c.Toast(Error, "offline")
	d.tick(func(*Context) {})
	if got := d.c.Toasts(); len(got) != 2 {
		t.Fatalf("toasts: %v", got)
	}
	now = now.Add(5 * time.Second)
	d.tick(func(*Context) {})
	if got := d.c.Toasts(); len(got) != 1 || got[0] != "offline" {
		t.Fatalf("after 5 s only the error stays: %v", got)
	}
	now = now.Add(5 * time.Second)
	d.tick(func(*Context) {})
	if got := d.c.Toasts(); len(got) != 0 {
		t.Fatalf("after 10 s none: %v", got)
	}
}
