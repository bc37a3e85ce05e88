package app

import (
	"fmt"
	"math"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/protocol"
	"latentstudio/studio/rollview"
	"latentstudio/studio/sync"
	"latentstudio/studio/ui"
)

var snaps = []int{1, 2, 4, 8, 16}
var snapNames = []string{"Grid 1/16", "Grid 1/8", "Grid 1/4", "Grid 1/2", "Grid bar"}

// toolbar: title, tools, snap, transport, history, file and view menus.
func (a *App) toolbar(r ui.Rect, ready bool) {
	c, t := a.ui, a.theme
	c.Panel(r)
	c.Paint.FillRect(r.X, r.Bottom()-1, r.W, 1, t.Border)
	row := ui.NewRow(r.Inset(8), 6)
	compact := r.W < 1100 // narrow windows: short tool names
	tw := 150.0
	if compact {
		tw = 118
	}
	title := row.Next(tw)
	c.Paint.Text(title.X+4, title.Y+3, "Latent Studio", -15, t.Text, ui.AlignLeft)
	c.Paint.Text(title.X+4, title.Y+20, a.title(), 11, t.TextDim, ui.AlignLeft)
	if !ready {
		return
	}
	v := a.view
	short := []string{"Pen", "Sel", "Brush", "Erase", "Box", "Lasso"}
	for i, tool := range rollview.Tools() {
		w, label := 62.0, fmt.Sprintf("%d %s", i+1, tool)
		if compact {
			w, label = 48, short[i]
		}
		b := row.Next(w)
		a.rects["tool."+tool.String()] = b
		if c.ToolButton("tool."+tool.String(), b, label, v.Tool == tool) {
			v.Tool = tool
		}
	}
	c.Separator(row.Next(8))
	if v.Tool == rollview.Brush || v.Tool == rollview.Eraser {
		c.Slider("brush", row.Next(110), "Size", &v.BrushRadius, 0, 12, 0.5, "%.1f")
	} else {
		sel := 0
		for i, s := range snaps {
			if s == v.Snap {
				sel = i
			}
		}
		if c.Dropdown("snap", row.Next(110), snapNames, &sel) {
			v.Snap = snaps[sel]
		}
	}
	c.Separator(row.Next(8))
	play, icon := "Play", ui.IconPlay
	if v.Playing {
		play, icon = "Stop", ui.IconStop
	}
	a.rects["play"] = row.Next(74)
	if c.IconButton("play", a.rects["play"], icon, play, v.Playing) {
		a.togglePlay()
	}
	c.Separator(row.Next(8))
	a.rects["undo"] = row.Next(54)
	if !a.doc.CanUndo() {
		c.DisabledButton(a.rects["undo"], "Undo")
	} else if c.Button("undo", a.rects["undo"], "Undo") {
		a.doc.Undo()
	}
	a.rects["redo"] = row.Next(54)
	if !a.doc.CanRedo() {
		c.DisabledButton(a.rects["redo"], "Redo")
	} else if c.Button("redo", a.rects["redo"], "Redo") {
		a.doc.Redo()
	}

	right := ui.NewRow(ui.R(r.Right()-8-2*70-6, r.Y+8, 2*70+6, r.H-16), 6)
	items := []ui.MenuItem{
		{Label: "Open MIDI…", Hint: "Ctrl+O", Disabled: a.cfg.OpenFile == nil},
		{Label: "Export MIDI", Hint: "Ctrl+E"},
	}
	if a.cfg.Projects != nil {
		items = append(items, ui.MenuItem{Label: "Projects…"})
	}
	a.rects["file"] = right.Next(70)
	switch c.Menu("file", a.rects["file"], "File", items) {
	case 0:
		a.cfg.OpenFile()
	case 1:
		_, _ = a.ExportMIDI()
	case 2:
		a.cfg.Projects()
	}
	if c.Button("help", right.Next(70), "Keys ?") {
		a.help = !a.help
	}
}

func (a *App) toggleTheme() {
	if a.theme.Dark {
		a.theme = ui.Light()
	} else {
		a.theme = ui.Dark()
	}
	a.ui.Theme = a.theme
}

// sidePanel: the inpainting controls and the mask's quick actions.
func (a *App) sidePanel(r ui.Rect) {
	c, t := a.ui, a.theme
	c.Panel(r)
	c.Paint.FillRect(r.X, r.Y, 1, r.H, t.Border)
	in := r.Inset(16)
	// A short window scrolls the panel (wheel over it).
	if mx, my := c.Mouse(); r.Contains(mx, my) && !c.Blocked() {
		if _, wy := c.Wheel(); wy != 0 {
			a.sideScroll -= wy * 30
		}
	}
	a.sideScroll = max(0, min(a.sideScroll, a.sideH-in.H))
	y := in.Y - a.sideScroll
	c.Paint.Clip(r)
	defer func() {
		c.Paint.NoClip()
		a.sideH = y + a.sideScroll - in.Y
	}()
	heading := func(s string) {
		c.Paint.Text(in.X, y, s, -13, t.Text, ui.AlignLeft)
		y += 26
	}
	heading("Inpaint")
	c.Paint.Text(in.X, y, "Paint a mask, the model fills it.", 11.5, t.TextDim, ui.AlignLeft)
	y += 24

	u := float64(a.opts.Repaint)
	if c.Slider("repaint", ui.R(in.X, y, in.W, 34), "Repaint (U)", &u, 1, 10, 1, "%.0f") {
		a.opts.Repaint = int(u)
	}
	y += 42
	busy := a.opts.Percentile * 100
	if c.Slider("busy", ui.R(in.X, y, in.W, 34), "Busy-ness", &busy, 0, 100, 5, "%.0f%%") {
		a.opts.Percentile = busy / 100
	}
	y += 42
	k := float64(a.opts.Candidates)
	if c.Slider("k", ui.R(in.X, y, in.W, 34), "Candidates (K)", &k, 1, 8, 1, "%.0f") {
		a.opts.Candidates = int(k)
	}
	y += 48

	running, pct, stage := a.inp.progress()
	btn := ui.R(in.X, y, in.W, 34)
	a.rects["inpaint"] = btn
	switch {
	case running:
		cancel, bar := btn.CutRight(74)
		bar.W -= 6
		label := fmt.Sprintf("%s %.0f%%", stage, pct)
		c.Progress(bar, pct/100, label)
		a.rects["cancel"] = cancel
		if c.Button("cancel", cancel, "Cancel") {
			a.inp.cancelJob()
		}
	case a.doc.MaskCount() == 0:
		c.DisabledButton(btn, "Inpaint — paint a mask first")
	case a.sess() == nil:
		c.DisabledButton(btn, "Inpaint — no server")
	default:
		if c.ToolButton("inpaint", btn, "Inpaint  (Enter)", true) {
			a.startInpaint()
		}
	}
	y += 44
	a.rects["remask"] = ui.R(in.X, y, in.W, 30)
	if a.inp.applied >= 0 {
		if c.Button("remask", a.rects["remask"], "Re-mask (keep what it wrote)") {
			a.fail("re-mask", a.doc.Remask())
		}
	} else {
		c.DisabledButton(a.rects["remask"], "Re-mask")
	}
	y += 50

	heading("Mask")
	c.Paint.Text(in.X, y, fmt.Sprintf("%d cells masked", a.doc.MaskCount()), 11.5, t.TextDim, ui.AlignLeft)
	y += 24
	half := (in.W - 8) / 2
	if c.Button("clearmask", ui.R(in.X, y, half, 28), "Clear") {
		a.doc.ClearMask()
	}
	if c.Button("invertmask", ui.R(in.X+half+8, y, half, 28), "Invert") {
		a.doc.InvertMask()
	}
	y += 36
	loop := a.doc.Loop()
	if loop.On() {
		if c.Button("maskloop", ui.R(in.X, y, in.W, 28), "Mask the loop's bars") {
			a.fail("mask", a.doc.MaskBars(a.doc.BarOf(loop.From), a.doc.BarOf(loop.To-1)))
		}
	} else {
		c.DisabledButton(ui.R(in.X, y, in.W, 28), "Mask the loop's bars")
	}
	y += 36
	for _, line := range []string{
		"Right-click a key: mask above/below it.",
		"Right-click the ruler: mask a bar.",
		"Drag on the ruler: set the loop.",
	} {
		c.Paint.Text(in.X, y, line, 11, t.TextDim, ui.AlignLeft)
		y += 18
	}
	y += 16
	heading("Song")
	meters := []string{"2/4", "3/4", "4/4", "5/4", "6/8", "7/8", "12/8"}
	sel := -1
	if m := a.doc.Meter(); len(m) > 0 {
		cur := fmt.Sprintf("%d/%d", m[0].Num, m[0].Den)
		for i, s := range meters {
			if s == cur {
				sel = i
			}
		}
		if sel < 0 {
			meters = append(meters, cur)
			sel = len(meters) - 1
		}
	}
	bpm := 120.0
	if ts := a.doc.Tempos(); len(ts) > 0 {
		bpm = ts[0].BPM
	}
	if c.Slider("tempo", ui.R(in.X, y, in.W, 34), "Tempo (BPM)", &bpm, 40, 240, 1, "%.0f") {
		a.fail("tempo", a.doc.SetTempo(0, bpm))
	}
	y += 42
	c.Paint.Text(in.X, y+6, "Time signature", 12, t.TextDim, ui.AlignLeft)
	if c.Dropdown("meter", ui.R(in.X+in.W-96, y, 96, 28), meters, &sel) {
		var num, den int
		if _, err := fmt.Sscanf(meters[sel], "%d/%d", &num, &den); err == nil {
			a.fail("time signature", a.doc.SetTimeSignature(num, den))
		}
	}
	y += 40
	heading("View")
	c.Toggle("follow", ui.R(in.X, y, in.W, 24), "Follow the playhead", &a.view.Follow)
	y += 30
	c.Toggle("lane", ui.R(in.X, y, in.W, 24), "Velocity lane", &a.view.ShowLane)
	y += 30
	light := !t.Dark
	if c.Toggle("theme", ui.R(in.X, y, in.W, 24), "Light theme", &light) {
		a.toggleTheme()
	}
}

// candidateStrip: one card per candidate with a thumbnail of its window;
// click to apply (and hear it), the speaker to audition without applying.
func (a *App) candidateStrip(r ui.Rect) {
	c, t := a.ui, a.theme
	s := &a.inp
	c.Paint.Rect(r, t.Panel)
	c.Paint.FillRect(r.X, r.Y, r.W, 1, t.Border)
	head, body := r.Inset(10).CutTop(20)
	c.Paint.Text(head.X, head.Y, "Candidates", -12.5, t.Text, ui.AlignLeft)
	c.Paint.Text(head.X+90, head.Y+1, "sparsest first · click one to use it · the play button listens without using it", 11, t.TextDim, ui.AlignLeft)
	if c.Button("cand.close", ui.R(head.Right()-60, head.Y-2, 60, 22), "Close") {
		a.stopPreview()
		s.result.Candidates = nil
		return
	}
	cw := 168.0
	for i, cand := range s.result.Candidates {
		card := ui.R(body.X+float64(i)*(cw+8), body.Y+4, cw, body.H-4)
		if card.Right() > body.Right() {
			break
		}
		id := fmt.Sprintf("cand.%d", i)
		a.rects[id] = card
		play, main := card.CutRight(28)
		it := c.Interact(id, main)
		bg := t.PanelHi
		if i == s.applied {
			bg = ui.Mix(t.PanelHi, t.NoteGenerated, 0.25)
		} else if it.Hover {
			bg = ui.Mix(t.PanelHi, t.Text, 0.06)
		}
		c.Paint.Rect(card, bg)
		if i == s.applied {
			c.Paint.Stroke(card, 1.5, t.NoteGenerated)
		}
		thumb := ui.R(main.X+6, main.Y+20, main.W-12, main.H-26)
		a.thumbnail(thumb, cand.Notes, s.result.From, s.result.Steps)
		label := fmt.Sprintf("#%d · %d notes", i+1, cand.NotesInMask)
		if i == s.result.Pick {
			label += " · pick"
		}
		c.Paint.Text(main.X+6, main.Y+4, label, 11, t.Text, ui.AlignLeft)
		if it.Clicked && !it.Right {
			a.applyCandidate(i)
			if a.audio != nil {
				a.audio.seek(float64(s.result.From))
				a.audio.seq.Play(true)
			}
		}
		icon := ui.IconPlay
		if s.preview == i {
			icon = ui.IconStop
		}
		if c.IconButton(id+".play", play, icon, "", s.preview == i) {
			if s.preview == i {
				a.stopPreview()
				if a.audio != nil {
					a.audio.seq.Play(false)
				}
			} else {
				a.audition(i)
			}
		}
	}
}

// thumbnail draws a candidate's notes of its window, scaled to fit.
func (a *App) thumbnail(r ui.Rect, flat protocol.RollNotes, from, steps int) {
	t := a.theme
	a.ui.Paint.Rect(r, t.RowBlack)
	notes := decodeNotes(flat)
	lo, hi := 127, 0
	for _, n := range notes {
		lo, hi = min(lo, int(n.Pitch)), max(hi, int(n.Pitch))
	}
	if lo > hi {
		return
	}
	lo, hi = max(0, lo-2), min(127, hi+2)
	sx := r.W / float64(max(steps, 1))
	// Shade the part of the window the mask covered, where the candidates differ.
	if mf, mt, ok := a.doc.MaskBounds(); ok && mt > from && mf < from+steps {
		x0 := r.X + float64(max(mf, from)-from)*sx
		x1 := r.X + float64(min(mt, from+steps)-from)*sx
		a.ui.Paint.FillRect(x0, r.Y, x1-x0, r.H, t.Mask)
	}
	sy := r.H / float64(hi-lo+1)
	for _, n := range notes {
		x := r.X + float64(n.Start-from)*sx
		if x >= r.Right() || x+float64(n.Dur)*sx < r.X {
			continue
		}
		y := r.Y + float64(hi-int(n.Pitch))*sy
		a.ui.Paint.FillRect(math.Max(x, r.X), y, math.Max(1, float64(n.Dur)*sx), math.Max(1, sy), t.NoteGenerated)
	}
}

// drawStatus: connection, engine, song facts, tool and position.
func (a *App) drawStatus(r ui.Rect) {
	c, t := a.ui, a.theme
	conn, dot := "local song (no server)", t.TextDim
	if s := a.sess(); s != nil {
		st := s.State()
		conn = st.String()
		switch st.Kind {
		case sync.Saved:
			dot = t.Ok
		case sync.Saving, sync.Unsaved, sync.Connecting, sync.Reconnecting:
			dot = t.Warn
		case sync.Offline, sync.Failed:
			dot = t.Danger
		}
	} else if a.cfg.Server != "" {
		conn, dot = "connecting…", t.Warn
	}
	left := []ui.StatusItem{{Text: conn, Dot: dot}}
	if e := a.engine(); e != "" {
		left = append(left, ui.StatusItem{Text: "engine: " + e})
	}
	if a.audio == nil && !a.cfg.NoAudio {
		left = append(left, ui.StatusItem{Text: "no audio output"})
	}
	var right []ui.StatusItem
	if a.doc != nil {
		v := a.view
		bar := a.doc.BarOf(int(v.Playhead))
		beat := (int(v.Playhead) - a.doc.BarStart(bar)) / 4
		right = []ui.StatusItem{
			{Text: fmt.Sprintf("%d notes", a.doc.Len())},
			{Text: fmt.Sprintf("%d selected", v.SelectedCount())},
			{Text: fmt.Sprintf("mask %d", a.doc.MaskCount())},
			{Text: v.Tool.String()},
			{Text: fmt.Sprintf("bar %d.%d", bar+1, beat+1)},
		}
	}
	c.StatusBar(r, left, right)
}

// engine describes the server's engine when the session reports it.
func (a *App) engine() string {
	s := a.sess()
	if s == nil {
		return ""
	}
	return engineLine(s.Engine())
}

// decodeNotes unflattens (start, dur, pitch, vel) quadruples, skipping
// malformed ones (the thumbnail only draws; ApplyCandidate validates).
func decodeNotes(flat protocol.RollNotes) []pianoroll.Note {
	out := make([]pianoroll.Note, 0, len(flat)/4)
	for i := 0; i+3 < len(flat); i += 4 {
		s, d, p, v := flat[i], flat[i+1], flat[i+2], flat[i+3]
		if s < 0 || d < 1 || p < 0 || p > 127 || v < 1 || v > 127 {
			continue
		}
		out = append(out, pianoroll.Note{Start: int(s), Dur: int(d), Pitch: uint8(p), Vel: uint8(v)})
	}
	return out
}
