package rollview

import (
	"math"

	"latentstudio/studio/rolldoc"
	"latentstudio/studio/ui"
)

// Shortcuts are the roll's keys, after Signal's. The app registers them with
// its ui.Context so that the `?` sheet lists exactly what works.
func Shortcuts() []ui.Shortcut {
	k := func(key ui.Key, mods ui.Mods) ui.Chord { return ui.Chord{Key: key, Mods: mods} }
	return []ui.Shortcut{
		{Name: "tool.pencil", Title: "Pencil", Group: "Tools", Chords: []ui.Chord{k(ui.Key1, 0)}},
		{Name: "tool.select", Title: "Select", Group: "Tools", Chords: []ui.Chord{k(ui.Key2, 0)}},
		{Name: "tool.brush", Title: "Mask brush", Group: "Tools", Chords: []ui.Chord{k(ui.Key3, 0)}},
		{Name: "tool.eraser", Title: "Mask eraser", Group: "Tools", Chords: []ui.Chord{k(ui.Key4, 0)}},
		{Name: "tool.box", Title: "Box mask (Shift: erase)", Group: "Tools", Chords: []ui.Chord{k(ui.Key5, 0)}},
		{Name: "tool.lasso", Title: "Lasso mask (Shift: erase)", Group: "Tools", Chords: []ui.Chord{k(ui.Key6, 0)}},
		{Name: "brush.smaller", Title: "Smaller brush", Group: "Tools", Chords: []ui.Chord{k(ui.KeyBracketL, 0)}},
		{Name: "brush.bigger", Title: "Bigger brush", Group: "Tools", Chords: []ui.Chord{k(ui.KeyBracketR, 0)}},

		{Name: "undo", Title: "Undo", Group: "Edit", Chords: []ui.Chord{k(ui.KeyZ, ui.Primary)}},
		{Name: "redo", Title: "Redo", Group: "Edit", Chords: []ui.Chord{k(ui.KeyZ, ui.Primary|ui.Shift), k(ui.KeyY, ui.Primary)}},
		{Name: "selectall", Title: "Select all", Group: "Edit", Chords: []ui.Chord{k(ui.KeyA, ui.Primary)}},
		{Name: "copy", Title: "Copy", Group: "Edit", Chords: []ui.Chord{k(ui.KeyC, ui.Primary)}},
		{Name: "cut", Title: "Cut", Group: "Edit", Chords: []ui.Chord{k(ui.KeyX, ui.Primary)}},
		{Name: "paste", Title: "Paste at the playhead", Group: "Edit", Chords: []ui.Chord{k(ui.KeyV, ui.Primary)}},
		{Name: "duplicate", Title: "Duplicate", Group: "Edit", Chords: []ui.Chord{k(ui.KeyD, ui.Primary)}},
		{Name: "delete", Title: "Delete", Group: "Edit", Chords: []ui.Chord{k(ui.KeyDelete, 0), k(ui.KeyBackspace, 0)}},
		{Name: "deselect", Title: "Select nothing", Group: "Edit", Chords: []ui.Chord{k(ui.KeyEscape, 0)}},
		{Name: "quantize", Title: "Quantize to the grid", Group: "Edit", Chords: []ui.Chord{k(ui.KeyQ, 0)}},
		{Name: "up", Title: "Transpose up", Group: "Edit", Chords: []ui.Chord{k(ui.KeyArrowUp, 0)}, Repeat: true},
		{Name: "down", Title: "Transpose down", Group: "Edit", Chords: []ui.Chord{k(ui.KeyArrowDown, 0)}, Repeat: true},
		{Name: "octup", Title: "Octave up", Group: "Edit", Chords: []ui.Chord{k(ui.KeyArrowUp, ui.Shift)}, Repeat: true},
		{Name: "octdown", Title: "Octave down", Group: "Edit", Chords: []ui.Chord{k(ui.KeyArrowDown, ui.Shift)}, Repeat: true},
		{Name: "left", Title: "Nudge left", Group: "Edit", Chords: []ui.Chord{k(ui.KeyArrowLeft, 0)}, Repeat: true},
		{Name: "right", Title: "Nudge right", Group: "Edit", Chords: []ui.Chord{k(ui.KeyArrowRight, 0)}, Repeat: true},

		{Name: "zoomin", Title: "Zoom in", Group: "View", Chords: []ui.Chord{k(ui.KeyEqual, 0), k(ui.KeyEqual, ui.Primary)}},
		{Name: "zoomout", Title: "Zoom out", Group: "View", Chords: []ui.Chord{k(ui.KeyMinus, 0), k(ui.KeyMinus, ui.Primary)}},
		{Name: "home", Title: "To the start", Group: "View", Chords: []ui.Chord{k(ui.KeyHome, 0)}},
	}
}

// HandleKeys runs the roll's shortcuts that fired this tick.
func (v *View) HandleKeys(c *ui.Context) {
	d := v.Doc
	for i, t := range Tools() {
		if c.Fired([]string{"tool.pencil", "tool.select", "tool.brush", "tool.eraser", "tool.box", "tool.lasso"}[i]) {
			v.Tool = t
		}
	}
	switch {
	case c.Fired("brush.smaller"):
		v.BrushRadius = math.Max(0, v.BrushRadius-0.5)
	case c.Fired("brush.bigger"):
		v.BrushRadius = math.Min(12, v.BrushRadius+0.5)
	case c.Fired("undo"):
		d.Undo()
	case c.Fired("redo"):
		d.Redo()
	case c.Fired("selectall"):
		d.SelectAll()
	case c.Fired("copy"):
		if clip := d.Copy(); len(clip) > 0 {
			v.clip = clip
		}
	case c.Fired("cut"):
		clip, err := d.Cut()
		v.fail(err)
		if err == nil && len(clip) > 0 {
			v.clip = clip
		}
	case c.Fired("paste"):
		if len(v.clip) > 0 {
			_, err := d.Paste(v.clip, max(0, int(math.Round(v.Playhead))))
			v.fail(err)
		}
	case c.Fired("duplicate"):
		if len(d.Selection()) > 0 {
			_, err := d.Duplicate(nil)
			v.fail(err)
		}
	case c.Fired("delete"):
		v.fail(d.DeleteSelection())
	case c.Fired("deselect"):
		d.ClearSelection()
	case c.Fired("quantize"):
		v.fail(d.Quantize(v.targets(), max(1, v.Snap), false))
	case c.Fired("up"):
		v.transpose(1)
	case c.Fired("down"):
		v.transpose(-1)
	case c.Fired("octup"):
		v.transpose(12)
	case c.Fired("octdown"):
		v.transpose(-12)
	case c.Fired("left"):
		if ids := d.Selection(); len(ids) > 0 {
			_, _, err := d.MoveNotes(ids, -max(1, v.Snap), 0)
			v.fail(err)
		}
	case c.Fired("right"):
		if ids := d.Selection(); len(ids) > 0 {
			_, _, err := d.MoveNotes(ids, max(1, v.Snap), 0)
			v.fail(err)
		}
	case c.Fired("zoomin"):
		g := v.Layout(v.rect).Grid
		v.ZoomAt(g, g.X+g.W/2, 1.25)
	case c.Fired("zoomout"):
		g := v.Layout(v.rect).Grid
		v.ZoomAt(g, g.X+g.W/2, 0.8)
	case c.Fired("home"):
		v.Left = 0
		s := 0.0
		v.Seek = &s
	}
}

// targets are the notes an edit key acts on: the selection, or every note
// when nothing is selected (Q on an unselected song quantizes it all).
func (v *View) targets() []rolldoc.NoteID {
	if ids := v.Doc.Selection(); len(ids) > 0 {
		return ids
	}
	return nil
}

func (v *View) transpose(semi int) {
	ids := v.Doc.Selection()
	if len(ids) == 0 {
		return
	}
	v.fail(v.Doc.Transpose(ids, semi))
	v.Doc.EndGesture()
	if sel := v.Doc.SelectedNotes(); len(sel) > 0 && v.Sound != nil {
		p := sel[0].Pitch
		v.Sound.KeyDown(p, v.Velocity)
		v.Sound.KeyUp(p)
	}
}

// FollowPlayhead pages the view when the playhead leaves it during playback.
func (v *View) FollowPlayhead() {
	if !v.Playing || !v.Follow || v.g.kind != gNone {
		return
	}
	g := v.Layout(v.rect).Grid
	from, to := v.Visible(g)
	if v.Playhead < from || v.Playhead >= to-(to-from)*0.05 {
		v.Left = math.Max(0, v.Playhead-(to-from)*0.1)
		v.clampView(g)
	}
}
