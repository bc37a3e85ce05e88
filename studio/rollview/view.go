// Package rollview is the piano-roll editor surface over a rolldoc.Doc:
// ruler, keyboard, bar/beat grid, notes, mask, velocity lane, loop and
// playhead, with the pencil, select, mask brush/eraser, box and lasso tools.
// It reads input and builds geometry through the ui package only, so every
// gesture is tested, and the frame's geometry measured, without a display.
package rollview

import (
	"math"
	"sort"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/rolldoc"
	"latentstudio/studio/ui"
)

// Tool is what a press on the grid does.
type Tool int

const (
	Pencil Tool = iota
	Select
	Brush
	Eraser
	BoxMask
	Lasso
	numTools
)

var toolNames = [...]string{"Pencil", "Select", "Brush", "Eraser", "Box", "Lasso"}

func (t Tool) String() string {
	if t < 0 || t >= numTools {
		return "?"
	}
	return toolNames[t]
}

// Tools lists the tools in palette order (keys 1..6).
func Tools() []Tool { return []Tool{Pencil, Select, Brush, Eraser, BoxMask, Lasso} }

// Sound is where the view sends key presses (a click on the keyboard, a note
// drawn or dragged to a new pitch). The app connects it to the sequencer.
type Sound interface {
	KeyDown(key, velocity uint8)
	KeyUp(key uint8)
}

// Layout sizes in logical pixels.
const (
	KeyboardW = 64
	RulerH    = 26
	LaneH     = 84
	laneGap   = 6
)

// View is the editor state of one roll: viewport, tool and gesture. It holds
// no notes of its own: the document is the truth, the view reads it each frame.
type View struct {
	Doc   *rolldoc.Doc
	Sound Sound

	Tool        Tool
	Snap        int     // steps the pencil and drags snap to (1 = 16th)
	NoteLen     int     // length of a new note, steps
	BrushRadius float64 // mask brush radius, cells
	Velocity    uint8   // velocity of a new note
	ShowLane    bool    // velocity lane visible

	// Viewport: the step at the grid's left edge, the pitch edge at its top,
	// and the zoom (pixels per step and per pitch row).
	Left, Top   float64
	StepW, RowH float64

	// Playback, set by the app each tick.
	Playhead float64 // steps
	Playing  bool
	Follow   bool // scroll to keep the playhead visible while playing

	// Preview shows a candidate's notes as ghosts (the candidate strip's
	// audition); PreviewFrom/To bound the window it changes.
	Preview                []pianoroll.Note
	PreviewFrom, PreviewTo int

	// Seek is set when the user clicked the ruler: the app moves the
	// sequencer there and clears it.
	Seek *float64

	// OnError receives errors of edits the user tried (out of range, too many
	// notes), for a toast.
	OnError func(error)

	clip  rolldoc.Clip
	g     gesture
	cache docCache
	hover hoverState
	rect  ui.Rect // last layout
	ctxAt struct {
		step, pitch int
	}
}

// New returns a view of doc with Signal-like defaults: pencil, 16th snap,
// quarter-note notes, middle C in view.
func New(doc *rolldoc.Doc) *View {
	return &View{
		Doc: doc, Tool: Pencil, Snap: 1, NoteLen: 4, BrushRadius: 1.5, Velocity: 96, ShowLane: true,
		Top: 84, StepW: 14, RowH: 14, Follow: true,
		hover: hoverState{key: -1, keyDown: -1},
	}
}

// Areas of the view inside its rectangle.
type Areas struct {
	Ruler, Corner, Keys, Grid, LaneLabel, Lane ui.Rect
}

// Layout splits r into ruler, keyboard, grid and velocity lane.
func (v *View) Layout(r ui.Rect) Areas {
	var a Areas
	top, rest := r.CutTop(RulerH)
	a.Corner, a.Ruler = top.CutLeft(KeyboardW)
	if v.ShowLane {
		var lane ui.Rect
		lane, rest = rest.CutBottom(LaneH)
		_, lane = lane.CutTop(laneGap)
		a.LaneLabel, a.Lane = lane.CutLeft(KeyboardW)
	}
	a.Keys, a.Grid = rest.CutLeft(KeyboardW)
	return a
}

// X is the screen x of a step (grid rectangle g).
func (v *View) X(g ui.Rect, step float64) float64 { return g.X + (step-v.Left)*v.StepW }

// Y is the screen y of a pitch edge: pitch p's row spans Y(p+1)..Y(p).
func (v *View) Y(g ui.Rect, pitch float64) float64 { return g.Y + (v.Top-pitch)*v.RowH }

// At converts a screen point to roll cells (fractional steps and pitches).
func (v *View) At(g ui.Rect, x, y float64) rolldoc.Point {
	return rolldoc.Point{X: v.Left + (x-g.X)/v.StepW, Y: v.Top - (y-g.Y)/v.RowH}
}

// Visible is the step range [from, to) the grid shows.
func (v *View) Visible(g ui.Rect) (from, to float64) { return v.Left, v.Left + g.W/v.StepW }

// clampView keeps the viewport inside the song and the piano.
func (v *View) clampView(g ui.Rect) {
	v.StepW = clampf(v.StepW, 1.5, 96)
	v.RowH = clampf(v.RowH, 4, 40)
	rows := g.H / v.RowH
	v.Top = clampf(v.Top, math.Min(rows, 128), 128)
	maxLeft := float64(v.Doc.Length()) + 16 - g.W/v.StepW
	v.Left = clampf(v.Left, 0, math.Max(0, maxLeft))
}

// ZoomAt zooms the time axis by f keeping the step under screen x in place.
func (v *View) ZoomAt(g ui.Rect, x, f float64) {
	s := v.At(g, x, 0).X
	v.StepW = clampf(v.StepW*f, 1.5, 96)
	v.Left = s - (x-g.X)/v.StepW
	v.clampView(g)
}

// ZoomPitchAt zooms the pitch axis by f keeping the pitch under y in place.
func (v *View) ZoomPitchAt(g ui.Rect, y, f float64) {
	p := v.At(g, 0, y).Y
	v.RowH = clampf(v.RowH*f, 4, 40)
	v.Top = p + (y-g.Y)/v.RowH
	v.clampView(g)
}

// ShowNotes scrolls the pitch axis to centre the song's notes (after a load).
func (v *View) ShowNotes(g ui.Rect) {
	ns := v.Doc.Notes()
	if len(ns) == 0 {
		return
	}
	lo, hi := 127, 0
	for _, n := range ns {
		lo, hi = min(lo, int(n.Pitch)), max(hi, int(n.Pitch))
	}
	mid := float64(lo+hi+1) / 2
	v.Top = mid + g.H/v.RowH/2
	v.clampView(g)
}

// docCache holds what the view derives from the document, rebuilt when its
// version changes: sorted starts for the binary search, the longest note (so
// a note that starts left of the view but sounds into it is found), and the
// selection and generated sets.
type docCache struct {
	version   uint64
	valid     bool
	notes     []rolldoc.Note
	maxDur    int
	selected  map[rolldoc.NoteID]bool
	generated map[rolldoc.NoteID]bool
	flags     []uint8 // per note: flagSelected, flagGenerated
	maskFrom  int
	maskW     int
	mask      []bool
	length    int
	meter     []rolldoc.TimeSig
	tempos    []pianoroll.Tempo
	loop      rolldoc.Loop
}

func (v *View) sync() *docCache {
	c := &v.cache
	ver := v.Doc.Version()
	if c.valid && c.version == ver {
		return c
	}
	c.valid, c.version = true, ver
	c.notes = v.Doc.Notes()
	c.maxDur = 0
	for _, n := range c.notes {
		c.maxDur = max(c.maxDur, n.Dur)
	}
	c.selected = map[rolldoc.NoteID]bool{}
	for _, id := range v.Doc.Selection() {
		c.selected[id] = true
	}
	c.generated = map[rolldoc.NoteID]bool{}
	for _, n := range c.notes {
		if v.Doc.Generated(n.ID) {
			c.generated[n.ID] = true
		}
	}
	c.flags = make([]uint8, len(c.notes))
	for i, n := range c.notes {
		if c.selected[n.ID] {
			c.flags[i] |= flagSelected
		}
		if c.generated[n.ID] {
			c.flags[i] |= flagGenerated
		}
	}
	c.length = v.Doc.Length()
	c.meter = v.Doc.Meter()
	c.tempos = v.Doc.Tempos()
	c.loop = v.Doc.Loop()
	c.maskW = 0 // mask window reloaded lazily for the visible range
	return c
}

// SelectedCount is the number of selected notes (cached per version; the
// document's Selection sorts on every call).
func (v *View) SelectedCount() int { return len(v.sync().selected) }

const (
	flagSelected uint8 = 1 << iota
	flagGenerated
)

// GeneratedCount is the number of notes the last applied candidate wrote.
func (v *View) GeneratedCount() int { return len(v.sync().generated) }

// visibleNotes returns the notes sounding in [from, to): a binary search on
// the sorted starts, widened left by the longest note.
func (c *docCache) visibleNotes(from, to float64) []rolldoc.Note {
	lo, hi := c.visibleRange(from, to)
	return c.notes[lo:hi]
}

// visibleRange is visibleNotes as indices into c.notes (and c.flags).
func (c *docCache) visibleRange(from, to float64) (int, int) {
	lo := sort.Search(len(c.notes), func(i int) bool { return float64(c.notes[i].Start+c.maxDur) > from })
	hi := sort.Search(len(c.notes), func(i int) bool { return float64(c.notes[i].Start) >= to })
	return lo, max(lo, hi)
}

// maskRange returns the mask of [from, from+w) (128×w, row = pitch), cached
// until the document or the range changes.
func (v *View) maskRange(from, w int) []bool {
	c := &v.cache
	if c.maskW != w || c.maskFrom != from || c.mask == nil {
		c.mask = v.Doc.MaskWindow(from, w)
		c.maskFrom, c.maskW = from, w
	}
	return c.mask
}

// barLines returns the bar starts in [from, to) with their bar numbers, and
// the steps per beat of each bar, through the time signatures.
func (c *docCache) bars(from, to int, f func(step, bar, stepsPerBar, stepsPerBeat int)) {
	step, bar := 0, 0
	for i, ts := range c.meter {
		end := math.MaxInt
		if i+1 < len(c.meter) {
			end = c.meter[i+1].Step
		}
		spb := ts.StepsPerBar()
		beat := max(1, 16/max(ts.Den, 1))
		if ts.Step > step {
			step = ts.Step
		}
		if to <= step {
			return
		}
		// Skip whole bars before from.
		if from > step {
			n := (min(from, end) - step) / spb
			step += n * spb
			bar += n
		}
		for ; step < end && step < to; step += spb {
			f(step, bar, spb, beat)
			bar++
		}
	}
}

// NoteName is the name of a MIDI pitch with middle C = C4.
func NoteName(p int) string {
	names := [...]string{"C", "C♯", "D", "D♯", "E", "F", "F♯", "G", "G♯", "A", "A♯", "B"}
	return names[p%12] + itoa(p/12-1)
}

func isBlack(p int) bool {
	switch p % 12 {
	case 1, 3, 6, 8, 10:
		return true
	}
	return false
}

func itoa(n int) string {
	if n < 0 {
		return "-" + itoa(-n)
	}
	if n < 10 {
		return string(rune('0' + n))
	}
	return itoa(n/10) + string(rune('0'+n%10))
}

func clampf(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
