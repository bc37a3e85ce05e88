package rollview

import (
	"math"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/rolldoc"
	"latentstudio/studio/ui"
)

type gestureKind int

const (
	gNone gestureKind = iota
	gDraw             // pencil: a new note, dragged to its length
	gMove
	gResizeEnd
	gResizeStart
	gRubber
	gBrush
	gBox
	gLasso
	gPan
	gDelete // right-drag with the pencil or select tool: delete what it touches
	gKey
	gVelocity
	gSeek
	gLoop
)

type gesture struct {
	kind           gestureKind
	x0, y0, x1, y1 float64 // screen, for rubber band and box
	start, last    rolldoc.Point
	grab           rolldoc.NoteID // the note under the press
	orig           pianoroll.Note // the grabbed note as it was
	ids            []rolldoc.NoteID
	erase, add     bool
	poly           []rolldoc.Point
	sounding       int // key auditioned now, plus one (0: none)
	loopFrom       int
}

type hoverState struct {
	note    rolldoc.NoteID
	edge    int // -1 start edge, +1 end edge
	key     int // keyboard key under the pointer (-1: none)
	keyDown int // keyboard key held (-1: none)
	inGrid  bool
	x, y    float64
}

// Cursor is the pointer shape the view asks for.
type Cursor int

const (
	CursorDefault Cursor = iota
	CursorCrosshair
	CursorMove
	CursorResize
	CursorPointer
)

// Cursor returns the shape for where the pointer is and what it does.
func (v *View) Cursor() Cursor {
	switch v.g.kind {
	case gMove:
		return CursorMove
	case gResizeEnd, gResizeStart:
		return CursorResize
	case gPan:
		return CursorMove
	}
	if !v.hover.inGrid {
		if v.hover.key >= 0 {
			return CursorPointer
		}
		return CursorDefault
	}
	switch v.Tool {
	case Pencil, Select:
		if v.hover.note != 0 {
			if v.hover.edge != 0 {
				return CursorResize
			}
			return CursorMove
		}
		if v.Tool == Pencil {
			return CursorCrosshair
		}
	case BoxMask, Lasso:
		return CursorCrosshair
	}
	return CursorDefault
}

// Busy reports whether a gesture is under way (the app holds autosave
// snapshots and playback seeks until it ends).
func (v *View) Busy() bool { return v.g.kind != gNone }

// Update handles a tick's pointer input over the view in r: tools, scroll,
// zoom, keyboard, ruler and velocity lane. Keyboard shortcuts are handled by
// HandleKeys.
func (v *View) Update(c *ui.Context, r ui.Rect) {
	v.rect = r
	a := v.Layout(r)
	g := a.Grid
	v.clampView(g)
	v.sync()
	mx, my := c.Mouse()
	pt := v.At(g, mx, my)

	v.wheel(c, r, g, mx, my)
	v.updateHover(c, a, pt, mx, my)

	// Middle-drag pans from anywhere over the roll.
	if v.g.kind == gNone && c.Pressed(ui.MouseMiddle) && r.Contains(mx, my) && !c.Blocked() {
		v.g = gesture{kind: gPan, x0: mx, y0: my}
	}
	if v.g.kind == gPan {
		dx, dy := c.MouseDelta()
		v.Left -= dx / v.StepW
		v.Top += dy / v.RowH
		v.clampView(g)
		if !c.Down(ui.MouseMiddle) {
			v.g = gesture{}
		}
		return
	}

	if it := c.Interact("roll.keys", a.Keys); it.Pressed || v.g.kind == gKey {
		v.keys(c, it, a.Keys, pt)
	}
	if it := c.Interact("roll.ruler", a.Ruler); it.Pressed || v.g.kind == gSeek || v.g.kind == gLoop {
		v.ruler(c, it, a.Ruler)
	}
	if v.ShowLane {
		if it := c.Interact("roll.lane", a.Lane); it.Pressed || v.g.kind == gVelocity {
			v.lane(c, it, a.Lane)
		}
	}
	it := c.Interact("roll.grid", g)
	switch {
	case it.Pressed:
		v.press(c, it, g, pt, mx, my)
	case it.Down && v.g.kind != gNone:
		if v.autoScroll(g, mx, my) {
			pt = v.At(g, mx, my)
		}
		v.drag(c, g, pt, mx, my)
	case it.Released:
		v.release(c, g, pt)
	}
	v.contextMenus(c)
}

func (v *View) wheel(c *ui.Context, r, g ui.Rect, mx, my float64) {
	wx, wy := c.Wheel()
	if (wx == 0 && wy == 0) || !r.Contains(mx, my) || c.Blocked() {
		return
	}
	m := c.Mods()
	switch {
	case m&(ui.Ctrl|ui.Meta) != 0 && m&ui.Shift != 0, m&ui.Alt != 0:
		v.ZoomPitchAt(g, my, math.Pow(1.1, wy))
	case m&(ui.Ctrl|ui.Meta) != 0:
		v.ZoomAt(g, mx, math.Pow(1.15, wy))
	case m&ui.Shift != 0:
		v.Left -= wy * 40 / v.StepW
	default:
		v.Top += wy * 3
		v.Left -= wx * 40 / v.StepW
	}
	v.clampView(g)
}

func (v *View) updateHover(c *ui.Context, a Areas, pt rolldoc.Point, mx, my float64) {
	h := &v.hover
	h.x, h.y = mx, my
	h.inGrid = a.Grid.Contains(mx, my) && !c.Blocked()
	h.note, h.edge, h.key = 0, 0, -1
	if a.Keys.Contains(mx, my) && !c.Blocked() {
		h.key = int(math.Floor(pt.Y))
	}
	if !h.inGrid || (v.Tool != Pencil && v.Tool != Select) {
		return
	}
	if n, ok := v.noteAt(pt); ok {
		h.note = n.ID
		h.edge = v.edge(a.Grid, n, mx)
	}
}

// noteAt is the note under a roll point.
func (v *View) noteAt(pt rolldoc.Point) (rolldoc.Note, bool) {
	if pt.X < 0 || pt.Y < 0 || pt.Y >= 128 {
		return rolldoc.Note{}, false
	}
	return v.Doc.NoteAt(int(math.Floor(pt.X)), int(math.Floor(pt.Y)))
}

// edge tells whether x grabs a note's start (-1) or end (+1) edge, or its body.
func (v *View) edge(g ui.Rect, n rolldoc.Note, x float64) int {
	x0, x1 := v.X(g, float64(n.Start)), v.X(g, float64(n.End()))
	grip := math.Min(6, (x1-x0)/4)
	switch {
	case x >= x1-grip:
		return 1
	case x < x0+grip && x1-x0 > 16:
		return -1
	}
	return 0
}

func (v *View) snap(c *ui.Context) int {
	if c.Mods()&ui.Alt != 0 {
		return 1 // Alt: off the grid
	}
	return max(1, v.Snap)
}

func floorTo(x float64, q int) int { return int(math.Floor(x/float64(q))) * q }
func roundTo(x float64, q int) int { return int(math.Round(x/float64(q))) * q }

func (v *View) fail(err error) {
	if err != nil && v.OnError != nil {
		v.OnError(err)
	}
}

func (v *View) audition(pitch int) {
	if v.Sound == nil || v.g.sounding == pitch+1 {
		return
	}
	v.silence()
	if pitch >= 0 && pitch < 128 {
		v.Sound.KeyDown(uint8(pitch), v.Velocity)
		v.g.sounding = pitch + 1
	}
}

func (v *View) silence() {
	if v.Sound != nil && v.g.sounding > 0 {
		v.Sound.KeyUp(uint8(v.g.sounding - 1))
	}
	v.g.sounding = 0
}

func (v *View) press(c *ui.Context, it ui.Interaction, g ui.Rect, pt rolldoc.Point, mx, my float64) {
	v.g = gesture{start: pt, last: pt, x0: mx, y0: my, x1: mx, y1: my}
	pitch := int(math.Floor(pt.Y))
	shift := c.Mods()&ui.Shift != 0
	switch v.Tool {
	case Pencil, Select:
		n, hit := v.noteAt(pt)
		if it.Right {
			v.g.kind = gDelete
			if hit {
				v.fail(v.Doc.DeleteNotes([]rolldoc.NoteID{n.ID}))
			}
			return
		}
		if !hit {
			if v.Tool == Select {
				v.g.kind, v.g.add = gRubber, shift
				if !shift {
					v.Doc.ClearSelection()
				}
				return
			}
			// The new note is added on release, at the length the drag
			// gave it, so that drawing one note is one undo step.
			q := v.snap(c)
			nn := pianoroll.Note{Start: max(0, floorTo(pt.X, q)), Dur: max(1, v.NoteLen), Pitch: uint8(pitch), Vel: v.Velocity}
			v.g.kind, v.g.orig = gDraw, nn
			v.audition(pitch)
			return
		}
		switch {
		case shift:
			v.Doc.ToggleSelected(n.ID)
		case !v.Doc.Selected(n.ID):
			v.Doc.Select(n.ID)
		}
		if !v.Doc.Selected(n.ID) {
			return // shift-click took it out of the selection
		}
		v.g.grab, v.g.orig, v.g.ids = n.ID, n.Note, v.Doc.Selection()
		switch v.edge(g, n, mx) {
		case 1:
			v.g.kind = gResizeEnd
		case -1:
			v.g.kind = gResizeStart
		default:
			v.g.kind = gMove
			v.audition(int(n.Pitch))
		}
	case Brush, Eraser:
		v.g.kind, v.g.erase = gBrush, v.Tool == Eraser || it.Right
		v.Doc.MaskBrush(pt, pt, v.BrushRadius, v.g.erase)
	case BoxMask:
		v.g.kind, v.g.erase = gBox, shift || it.Right
	case Lasso:
		v.g.kind, v.g.erase = gLasso, shift || it.Right
		v.g.poly = []rolldoc.Point{pt}
	}
}

func (v *View) drag(c *ui.Context, g ui.Rect, pt rolldoc.Point, mx, my float64) {
	v.g.x1, v.g.y1 = mx, my
	q := v.snap(c)
	cur, ok := v.Doc.Note(v.g.grab)
	switch v.g.kind {
	case gDraw:
		// The pencil's drag sets the new note's length (at least one snap);
		// a drag shorter than one snap keeps the remembered length.
		if d := roundTo(pt.X-float64(v.g.orig.Start), q); pt.X-float64(v.g.orig.Start) >= float64(q) {
			v.g.orig.Dur = max(q, d)
		}
	case gMove:
		if !ok {
			return
		}
		ds := roundTo(pt.X-v.g.start.X, q)
		dp := int(math.Floor(pt.Y)) - int(math.Floor(v.g.start.Y))
		wantS, wantP := v.g.orig.Start+ds, int(v.g.orig.Pitch)+dp
		if dS, dP := wantS-cur.Start, wantP-int(cur.Pitch); dS != 0 || dP != 0 {
			_, _, err := v.Doc.MoveNotes(v.g.ids, dS, dP)
			v.fail(err)
			if now, ok := v.Doc.Note(v.g.grab); ok && now.Pitch != cur.Pitch {
				v.audition(int(now.Pitch))
			}
		}
	case gResizeEnd:
		if !ok {
			return
		}
		want := v.g.orig.End() + roundTo(pt.X-v.g.start.X, q)
		if d := want - cur.End(); d != 0 {
			v.fail(v.Doc.ResizeNotes(v.g.ids, 0, d))
		}
	case gResizeStart:
		if !ok {
			return
		}
		want := v.g.orig.Start + roundTo(pt.X-v.g.start.X, q)
		if d := want - cur.Start; d != 0 && want < cur.End() {
			v.fail(v.Doc.ResizeNotes(v.g.ids, d, 0))
		}
	case gDelete:
		if n, hit := v.noteAt(pt); hit {
			v.fail(v.Doc.DeleteNotes([]rolldoc.NoteID{n.ID}))
		}
	case gBrush:
		v.Doc.MaskBrush(v.g.last, pt, v.BrushRadius, v.g.erase)
		v.g.last = pt
	case gLasso:
		if l := v.g.poly[len(v.g.poly)-1]; math.Hypot((pt.X-l.X)*v.StepW, (pt.Y-l.Y)*v.RowH) >= 3 {
			v.g.poly = append(v.g.poly, pt)
		}
	}
}

// Finish ends a gesture in progress as if the button were released where the
// pointer last was (the app closes while a note is held under the pencil).
func (v *View) Finish() {
	if v.g.kind == gNone {
		return
	}
	g := v.Layout(v.rect).Grid
	v.release(nil, g, v.At(g, v.g.x1, v.g.y1))
}

// autoScroll moves the view while a drag holds the pointer near or past the
// grid's edges, so a note can be dragged, or a mask painted, beyond the view.
// It reports whether the view moved.
func (v *View) autoScroll(g ui.Rect, mx, my float64) bool {
	switch v.g.kind {
	case gDraw, gMove, gResizeEnd, gResizeStart, gRubber, gBrush, gBox, gLasso:
	default:
		return false
	}
	const edge, most = 16.0, 24.0 // pixels from the edge where it starts; fastest pixels per tick
	left, top := v.Left, v.Top
	switch {
	case mx > g.Right()-edge:
		v.Left += math.Min(most, mx-(g.Right()-edge)) / v.StepW
	case mx < g.X+edge:
		v.Left -= math.Min(most, g.X+edge-mx) / v.StepW
	}
	switch {
	case my < g.Y+edge:
		v.Top += math.Min(most, g.Y+edge-my) / v.RowH
	case my > g.Bottom()-edge:
		v.Top -= math.Min(most, my-(g.Bottom()-edge)) / v.RowH
	}
	v.clampView(g)
	return v.Left != left || v.Top != top
}

func (v *View) release(c *ui.Context, g ui.Rect, pt rolldoc.Point) {
	switch v.g.kind {
	case gRubber:
		a, b := v.g.start, pt
		from, to := int(math.Floor(math.Min(a.X, b.X))), int(math.Ceil(math.Max(a.X, b.X)))
		lo, hi := int(math.Floor(math.Min(a.Y, b.Y))), int(math.Floor(math.Max(a.Y, b.Y)))
		v.Doc.SelectRect(max(from, 0), max(to, from+1), max(lo, 0), min(hi, 127), v.g.add)
	case gBox:
		a, b := v.g.start, pt
		s0, s1 := int(math.Floor(math.Min(a.X, b.X))), int(math.Floor(math.Max(a.X, b.X)))
		p0, p1 := int(math.Floor(math.Min(a.Y, b.Y))), int(math.Floor(math.Max(a.Y, b.Y)))
		v.Doc.MaskBox(max(s0, 0), max(p0, 0), max(s1, 0), min(p1, 127), v.g.erase)
	case gLasso:
		if len(v.g.poly) >= 3 {
			v.Doc.MaskLasso(v.g.poly, v.g.erase)
		}
	case gDraw:
		if _, err := v.Doc.AddNote(v.g.orig); err != nil {
			v.fail(err)
		} else {
			v.NoteLen = v.g.orig.Dur // the next note takes the drawn length, as in Signal
		}
	}
	v.silence()
	v.Doc.EndGesture()
	v.g = gesture{}
}

func (v *View) keys(c *ui.Context, it ui.Interaction, k ui.Rect, pt rolldoc.Point) {
	pitch := int(math.Floor(pt.Y))
	switch {
	case it.Pressed && it.Right:
		v.ctxAt.pitch = min(max(pitch, 0), 127)
		c.OpenPopup("roll.keymenu", it.X, it.Y)
	case it.Pressed:
		v.g = gesture{kind: gKey}
		v.audition(pitch)
		v.hover.keyDown = v.g.sounding - 1
	case it.Down && v.g.kind == gKey:
		v.audition(pitch) // glissando across the keys
		v.hover.keyDown = v.g.sounding - 1
	case v.g.kind == gKey:
		v.silence()
		v.hover.keyDown = -1
		v.g = gesture{}
	}
}

func (v *View) ruler(c *ui.Context, it ui.Interaction, r ui.Rect) {
	step := v.At(r, it.X, 0).X
	beat := 4 * max(1, v.Snap/4)
	switch {
	case it.Pressed && it.Right:
		v.ctxAt.step = max(0, int(math.Floor(step)))
		c.OpenPopup("roll.rulermenu", it.X, it.Y)
	case it.Pressed:
		v.g = gesture{kind: gSeek, x0: it.X, loopFrom: max(0, floorTo(step, beat))}
		s := math.Max(0, step)
		v.Seek = &s
	case it.Down && (v.g.kind == gSeek || v.g.kind == gLoop):
		// Dragging along the ruler draws the loop region, snapped to beats.
		if math.Abs(it.X-v.g.x0) >= 4 {
			v.g.kind = gLoop
			a, b := v.g.loopFrom, max(0, roundTo(step, beat))
			if b < a {
				a, b = b, a+beat
			}
			if b > a {
				v.fail(v.Doc.SetLoop(a, b))
			}
		}
	case it.Released:
		v.Doc.EndGesture()
		v.g = gesture{}
	}
}

func (v *View) lane(c *ui.Context, it ui.Interaction, l ui.Rect) {
	switch {
	case it.Pressed || (it.Down && v.g.kind == gVelocity):
		v.g.kind = gVelocity
		vel := int(math.Round((l.Bottom() - it.Y) / (l.H - 8) * 127))
		vel = min(max(vel, 1), 127)
		s := v.At(l, it.X, 0).X
		tol := math.Max(3/v.StepW, 0.5)
		var ids, sel []rolldoc.NoteID
		for _, n := range v.cache.visibleNotes(s-tol, s+tol) {
			if math.Abs(float64(n.Start)-s) <= tol || (float64(n.Start) <= s && s < float64(n.Start)+tol*2) {
				ids = append(ids, n.ID)
				if v.cache.selected[n.ID] {
					sel = append(sel, n.ID)
				}
			}
		}
		if len(sel) > 0 {
			ids = sel // a selected note in a chord: only the selection
		}
		if len(ids) > 0 {
			v.fail(v.Doc.SetVelocity(ids, vel))
		}
	case it.Released:
		v.Doc.EndGesture()
		v.g = gesture{}
	}
}

// contextMenus shows the keyboard's and the ruler's right-click menus: the
// "mask above/below this pitch" and "mask these bars" actions.
func (v *View) contextMenus(c *ui.Context) {
	from, to := v.scope()
	name := NoteName(v.ctxAt.pitch)
	switch c.Popup("roll.keymenu", []ui.MenuItem{
		{Label: "Mask " + name + " and above"},
		{Label: "Mask " + name + " and below"},
		{Label: "Play " + name},
	}) {
	case 0:
		v.Doc.MaskAbove(v.ctxAt.pitch, from, to)
	case 1:
		v.Doc.MaskBelow(v.ctxAt.pitch, from, to)
	case 2:
		if v.Sound != nil {
			v.Sound.KeyDown(uint8(v.ctxAt.pitch), v.Velocity)
			v.Sound.KeyUp(uint8(v.ctxAt.pitch))
		}
	}
	bar := v.Doc.BarOf(v.ctxAt.step)
	loop := v.Doc.Loop()
	items := []ui.MenuItem{
		{Label: "Mask bar " + itoa(bar+1)},
		{Label: "Mask the loop's bars", Disabled: !loop.On()},
		{Label: "Loop bar " + itoa(bar+1)},
		{Label: "Clear loop", Disabled: !loop.On()},
	}
	switch c.Popup("roll.rulermenu", items) {
	case 0:
		v.fail(v.Doc.MaskBars(bar, bar))
	case 1:
		v.fail(v.Doc.MaskBars(v.Doc.BarOf(loop.From), v.Doc.BarOf(loop.To-1)))
	case 2:
		v.fail(v.Doc.SetLoop(v.Doc.BarStart(bar), v.Doc.BarStart(bar+1)))
	case 3:
		v.fail(v.Doc.SetLoop(0, 0))
	}
}

// scope is the step range that pitch masks cover: the loop region when set,
// else the selection's bars, else the whole song.
func (v *View) scope() (from, to int) {
	if l := v.Doc.Loop(); l.On() {
		return l.From, l.To
	}
	if sel := v.Doc.SelectedNotes(); len(sel) > 0 {
		from, to = sel[0].Start, sel[0].End()
		for _, n := range sel {
			from, to = min(from, n.Start), max(to, n.End())
		}
		return v.Doc.BarStart(v.Doc.BarOf(from)), v.Doc.BarStart(v.Doc.BarOf(to-1) + 1)
	}
	return 0, v.Doc.Length()
}
