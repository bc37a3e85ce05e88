package rollview

import (
	"image/color"
	"math"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/rolldoc"
	"latentstudio/studio/ui"
)

// Draw appends the whole surface to p: DrawStatic then DrawOverlay.
func (v *View) Draw(p *ui.Painter, th *ui.Theme, r ui.Rect) {
	v.DrawStatic(p, th, r)
	v.DrawOverlay(p, th, r)
}

// StaticKey identifies what DrawStatic would draw: while it stays equal, a
// shell may keep the static layer it rendered last time (an offscreen image)
// and redraw only the overlay.
type StaticKey struct {
	version           uint64
	rect              ui.Rect
	left, top, sw, rh float64
	lane              bool
	hoverNote         rolldoc.NoteID
	hoverKey, keyDown int
	preview           *pianoroll.Note
	previewN          int
	theme             *ui.Theme
	scale             float64
}

// Key returns the static layer's key for rectangle r, theme th at scale.
func (v *View) Key(r ui.Rect, th *ui.Theme, scale float64) StaticKey {
	k := StaticKey{
		version: v.Doc.Version(), rect: r, left: v.Left, top: v.Top, sw: v.StepW, rh: v.RowH,
		lane: v.ShowLane, hoverNote: v.hover.note, hoverKey: v.hover.key, keyDown: v.hover.keyDown,
		previewN: len(v.Preview), theme: th, scale: scale,
	}
	if len(v.Preview) > 0 {
		k.preview = &v.Preview[0]
	}
	return k
}

// DrawOverlay appends what changes from frame to frame without an edit: the
// playhead, the gesture's feedback (rubber band, box, lasso, the note being
// drawn) and the brush outline.
func (v *View) DrawOverlay(p *ui.Painter, th *ui.Theme, r ui.Rect) {
	a := v.Layout(r)
	g := a.Grid
	p.Clip(g)
	if v.g.kind == gDraw {
		n := v.g.orig
		x, y := v.X(g, float64(n.Start)), v.Y(g, float64(n.Pitch)+1)
		p.FillRect(x, y, float64(n.Dur)*v.StepW, v.RowH, th.NoteSelected)
	}
	v.drawGesture(p, th, g)
	p.NoClip()
	if x := v.X(g, v.Playhead); x >= g.X && x < g.Right() {
		p.FillRect(x-0.5, a.Ruler.Y, 2, g.Bottom()-a.Ruler.Y, th.Playhead)
		p.Triangle(x-6, a.Ruler.Bottom()-10, x+7, a.Ruler.Bottom()-10, x+0.5, a.Ruler.Bottom()-2, th.Playhead)
	}
}

// DrawStatic appends the surface that changes only with an edit, a scroll or
// a hover: ruler, keyboard, grid, mask, notes, velocity lane, loop. Only
// what is visible is built: notes by a binary search on their sorted starts,
// the mask as horizontal runs of the visible window.
func (v *View) DrawStatic(p *ui.Painter, th *ui.Theme, r ui.Rect) {
	v.rect = r
	a := v.Layout(r)
	c := v.sync()
	g := a.Grid
	from, to := v.Visible(g)

	// Rows: white- and black-key stripes, an octave line under every C.
	p.Clip(g)
	pLo, pHi := int(math.Floor(v.Top-g.H/v.RowH)), int(math.Ceil(v.Top))
	pLo, pHi = max(pLo, 0), min(pHi, 127)
	for pitch := pLo; pitch <= pHi; pitch++ {
		col := th.RowWhite
		if isBlack(pitch) {
			col = th.RowBlack
		}
		y := v.Y(g, float64(pitch+1))
		p.FillRect(g.X, y, g.W, v.RowH, col)
		if pitch%12 == 0 {
			p.FillRect(g.X, y+v.RowH-1, g.W, 1, th.GridBeat)
		}
	}
	// Past the song's end: dimmed.
	if end := v.X(g, float64(c.length)); end < g.Right() {
		p.FillRect(end, g.Y, g.Right()-end, g.H, color.RGBA{0, 0, 0, 0x38})
	}
	if c.loop.On() {
		x0, x1 := v.X(g, float64(c.loop.From)), v.X(g, float64(c.loop.To))
		p.FillRect(x0, g.Y, x1-x0, g.H, th.Loop)
	}

	// Vertical grid: steps when there is room, beats, bars.
	iFrom, iTo := int(math.Floor(from)), int(math.Ceil(to))+1
	c.bars(iFrom, iTo, func(step, bar, spb, beat int) {
		for s := step; s < step+spb && s < iTo; s++ {
			x := v.X(g, float64(s))
			switch {
			case s == step:
				p.FillRect(x, g.Y, 1, g.H, th.GridBar)
			case (s-step)%beat == 0:
				p.FillRect(x, g.Y, 1, g.H, th.GridBeat)
			case v.StepW >= 8:
				p.FillRect(x, g.Y, 1, g.H, th.GridStep)
			}
		}
	})

	// Mask: one rectangle per run of masked cells in a row.
	v.drawMask(p, th, g, iFrom, iTo, pLo, pHi)

	// Notes: louder notes are brighter, as in Signal (a colour per velocity
	// step of 8, computed once a frame).
	hoverID := v.hover.note
	var fills [3][17]color.RGBA
	var edges [3]color.RGBA
	for k, base := range [3]color.RGBA{th.Note, th.NoteSelected, th.NoteGenerated} {
		for i := range fills[k] {
			fills[k][i] = ui.Mix(th.RowBlack, base, 0.45+0.55*float64(i*8)/127)
		}
		edges[k] = ui.Mix(base, color.RGBA{0, 0, 0, 255}, 0.45)
	}
	small := v.RowH < 6
	lo, hi := c.visibleRange(from, to)
	for i := lo; i < hi; i++ {
		n := &c.notes[i]
		if int(n.Pitch) < pLo || int(n.Pitch) > pHi {
			continue
		}
		x := v.X(g, float64(n.Start))
		y := v.Y(g, float64(n.Pitch)+1)
		w := float64(n.Dur) * v.StepW
		k := 0
		switch f := c.flags[i]; {
		case f&flagSelected != 0:
			k = 1
		case f&flagGenerated != 0:
			k = 2
		}
		fill := fills[k][n.Vel/8]
		if n.ID == hoverID {
			fill = ui.Mix(fill, th.Text, 0.25)
		}
		if small || w < 6 {
			p.FillRect(x, y, w, v.RowH, fill) // too small for an edge to show
			continue
		}
		p.FillRect(x, y, w, v.RowH, edges[k])
		p.FillRect(x+1, y+1, w-2, v.RowH-2, fill)
	}
	// Candidate preview: ghost outlines over the window it would replace.
	if v.Preview != nil {
		x0, x1 := v.X(g, float64(v.PreviewFrom)), v.X(g, float64(v.PreviewTo))
		p.FillRect(x0, g.Y, x1-x0, g.H, ui.Mix(th.NoteGenerated, color.RGBA{}, 0.92))
		for _, n := range v.Preview {
			if n.Start+n.Dur <= v.PreviewFrom || n.Start >= v.PreviewTo || float64(n.Start) >= to || float64(n.Start+n.Dur) <= from {
				continue
			}
			x, y := v.X(g, float64(n.Start)), v.Y(g, float64(n.Pitch)+1)
			p.Stroke(ui.R(x, y, float64(n.Dur)*v.StepW, v.RowH), 1.5, th.NoteGenerated)
		}
	}

	p.NoClip()

	v.drawKeys(p, th, a.Keys)
	v.drawRuler(p, th, a.Ruler, a.Corner, iFrom, iTo)
	if v.ShowLane {
		v.drawLane(p, th, a, from, to)
	}
}

func (v *View) drawMask(p *ui.Painter, th *ui.Theme, g ui.Rect, sFrom, sTo, pLo, pHi int) {
	if v.Doc.MaskCount() == 0 {
		return
	}
	sFrom = max(sFrom, 0)
	w := sTo - sFrom
	if w <= 0 {
		return
	}
	cells := v.maskRange(sFrom, w)
	for pitch := pLo; pitch <= pHi; pitch++ {
		row := cells[pitch*w : (pitch+1)*w]
		y := v.Y(g, float64(pitch+1))
		for i := 0; i < w; {
			if !row[i] {
				i++
				continue
			}
			j := i
			for j < w && row[j] {
				j++
			}
			x0, x1 := v.X(g, float64(sFrom+i)), v.X(g, float64(sFrom+j))
			p.FillRect(x0, y, x1-x0, v.RowH, th.Mask)
			// Edges where the mask meets unmasked rows read as an outline.
			if pitch == 127 || !cells[(pitch+1)*w+i] {
				p.FillRect(x0, y, x1-x0, 1, th.MaskEdge)
			}
			if pitch == 0 || !cells[(pitch-1)*w+i] {
				p.FillRect(x0, y+v.RowH-1, x1-x0, 1, th.MaskEdge)
			}
			p.FillRect(x0, y, 1, v.RowH, th.MaskEdge)
			p.FillRect(x1-1, y, 1, v.RowH, th.MaskEdge)
			i = j
		}
	}
}

func (v *View) drawKeys(p *ui.Painter, th *ui.Theme, k ui.Rect) {
	p.Clip(k)
	p.FillRect(k.X, k.Y, k.W, k.H, th.KeyWhite)
	pLo, pHi := int(math.Floor(v.Top-k.H/v.RowH)), int(math.Ceil(v.Top))
	for pitch := max(pLo, 0); pitch <= min(pHi, 127); pitch++ {
		y := v.Y(k, float64(pitch+1))
		pressed := v.hover.keyDown == pitch
		switch {
		case isBlack(pitch):
			col := th.KeyBlack
			if pressed {
				col = th.KeyPressed
			}
			p.FillRect(k.X, y, k.W*0.62, v.RowH, col)
			// The white keys' boundary runs through the middle of a black key.
			p.FillRect(k.X+k.W*0.62, y+v.RowH/2, k.W*0.38, 1, ui.Mix(th.KeyWhite, th.KeyBlack, 0.25))
		default:
			if pressed {
				p.FillRect(k.X, y, k.W, v.RowH, th.KeyPressed)
			} else if v.hover.key == pitch {
				p.FillRect(k.X, y, k.W, v.RowH, ui.Mix(th.KeyWhite, th.Accent, 0.18))
			}
			if pitch%12 == 4 || pitch%12 == 11 { // E|F and B|C have no black key between
				p.FillRect(k.X, y, k.W, 1, ui.Mix(th.KeyWhite, th.KeyBlack, 0.25))
			}
		}
		if pitch%12 == 0 && v.RowH >= 7 {
			size := math.Min(11, v.RowH*0.8+1)
			p.Text(k.Right()-4, y+(v.RowH-size*1.25)/2, NoteName(pitch), size, th.KeyLabel, ui.AlignRight)
		}
	}
	p.FillRect(k.Right()-1, k.Y, 1, k.H, th.Border)
	p.NoClip()
}

func (v *View) drawRuler(p *ui.Painter, th *ui.Theme, r, corner ui.Rect, sFrom, sTo int) {
	c := &v.cache
	p.Rect(corner, th.Ruler)
	if len(c.tempos) > 0 && len(c.meter) > 0 {
		ts := c.meter[0]
		p.Text(corner.X+6, corner.Y+(corner.H-14)/2, itoa(int(math.Round(c.tempos[0].BPM)))+" · "+itoa(ts.Num)+"/"+itoa(ts.Den), 10.5, th.TextDim, ui.AlignLeft)
	}
	p.Rect(r, th.Ruler)
	p.Clip(r)
	if c.loop.On() {
		x0, x1 := v.X(r, float64(c.loop.From)), v.X(r, float64(c.loop.To))
		p.FillRect(x0, r.Y, x1-x0, 6, th.Ok)
	}
	lastLabel := math.Inf(-1)
	c.bars(sFrom, sTo, func(step, bar, spb, beat int) {
		x := v.X(r, float64(step))
		p.FillRect(x, r.Y+r.H-12, 1, 12, th.GridBar)
		if v.StepW*float64(beat) >= 10 {
			for s := step + beat; s < step+spb; s += beat {
				p.FillRect(v.X(r, float64(s)), r.Y+r.H-5, 1, 5, th.GridBeat)
			}
		}
		if x-lastLabel >= 36 {
			p.Text(x+4, r.Y+5, itoa(bar+1), 11, th.TextDim, ui.AlignLeft)
			lastLabel = x
		}
	})
	p.FillRect(r.X, r.Bottom()-1, r.W, 1, th.Border)
	p.NoClip()
}

func (v *View) drawLane(p *ui.Painter, th *ui.Theme, a Areas, from, to float64) {
	l := a.Lane
	p.Rect(a.LaneLabel, th.Ruler)
	p.Text(a.LaneLabel.X+6, a.LaneLabel.Y+6, "Velocity", 10.5, th.TextDim, ui.AlignLeft)
	p.Rect(l, th.RowBlack)
	p.FillRect(l.X, l.Y, l.W, 1, th.Border)
	p.Clip(l)
	c := &v.cache
	lo, hi := c.visibleRange(from, to)
	for i := lo; i < hi; i++ {
		n := &c.notes[i]
		if float64(n.Start) < from {
			continue
		}
		x := v.X(l, float64(n.Start))
		h := (l.H - 8) * float64(n.Vel) / 127
		col := th.Note
		if f := c.flags[i]; f&flagSelected != 0 {
			col = th.NoteSelected
		} else if f&flagGenerated != 0 {
			col = th.NoteGenerated
		}
		if v.StepW < 4 {
			p.FillRect(x, l.Bottom()-h, 1, h, col) // zoomed out: a line each
			continue
		}
		p.FillRect(x, l.Bottom()-h, 2, h, col)
		p.FillRect(x-1.5, l.Bottom()-h-1.5, 5, 4, col)
	}
	p.NoClip()
}

func (v *View) drawGesture(p *ui.Painter, th *ui.Theme, g ui.Rect) {
	switch v.g.kind {
	case gRubber, gBox:
		col := th.Accent
		if v.g.kind == gBox {
			col = th.MaskEdge
		}
		// Anchored in roll cells: the view may scroll during the drag.
		r := ui.Corners(v.X(g, v.g.start.X), v.Y(g, v.g.start.Y), v.g.x1, v.g.y1)
		p.FillRect(r.X, r.Y, r.W, r.H, ui.Mix(col, color.RGBA{}, 0.8))
		p.Stroke(r, 1, col)
	case gLasso:
		pts := v.g.poly
		for i := 1; i < len(pts); i++ {
			a, b := pts[i-1], pts[i]
			p.Line(v.X(g, a.X), v.Y(g, a.Y), v.X(g, b.X), v.Y(g, b.Y), 1.5, th.MaskEdge)
		}
		if n := len(pts); n > 2 {
			a, b := pts[n-1], pts[0]
			p.Line(v.X(g, a.X), v.Y(g, a.Y), v.X(g, b.X), v.Y(g, b.Y), 1, ui.Mix(th.MaskEdge, color.RGBA{}, 0.5))
		}
	}
	if (v.Tool == Brush || v.Tool == Eraser) && v.hover.inGrid {
		// The brush is round in cells, so an ellipse on screen.
		rc := v.BrushRadius + 0.5
		p.Ellipse(v.hover.x, v.hover.y, rc*v.StepW, rc*v.RowH, 1.5, th.MaskEdge)
	}
}
