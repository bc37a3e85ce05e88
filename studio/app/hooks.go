package app

import (
	"latentstudio/studio/ui"
)

// State is what end-to-end tests observe (see README.md, "Test hooks").
type State struct {
	Ready       bool    `json:"ready"`      // the project is open and the roll is up
	Title       string  `json:"title"`      // the song's name in the toolbar
	Frames      int     `json:"frames"`     // frames drawn so far
	Notes       int     `json:"notes"`      // notes in the song
	Selected    int     `json:"selected"`   // notes selected
	MaskCells   int     `json:"mask_cells"` // masked cells
	Tool        string  `json:"tool"`
	Connection  string  `json:"connection"` // the session's state ("saved", "offline", …) or "local"
	Version     int     `json:"version"`    // the server's version of the song last saved or loaded
	Playing     bool    `json:"playing"`
	Playhead    float64 `json:"playhead"` // steps
	Audio       bool    `json:"audio"`    // an audio player is running
	Inpainting  bool    `json:"inpainting"`
	Progress    float64 `json:"progress"` // percent of the running job
	Candidates  int     `json:"candidates"`
	Applied     int     `json:"applied"` // candidate in the song (-1: none)
	Generated   int     `json:"generated"`
	LastError   string  `json:"last_error"`
	Toasts      []string
	ExportBytes int `json:"export_bytes"` // size of the last exported MIDI

	// Where things are, in CSS/logical pixels, so a test can click them.
	View     ViewGeom           `json:"view"`
	Controls map[string]ui.Rect `json:"controls"`
}

// ViewGeom maps roll cells to logical pixels: cell (step, pitch) has its
// top-left corner at x = GridX + (step-Left)*StepW, y = GridY + (Top-pitch-1)*RowH.
type ViewGeom struct {
	GridX, GridY, GridW, GridH float64
	Left, Top, StepW, RowH     float64
}

// State returns a snapshot for tests; call it from the game loop's goroutine
// (the wasm shell publishes it from Update).
func (a *App) State() State {
	s := State{Frames: a.frames, Title: a.title(), Tool: "", Connection: "local", LastError: a.lastError,
		Toasts: a.ui.Toasts(), ExportBytes: len(a.lastExport), Applied: a.inp.applied,
		Controls: map[string]ui.Rect{}}
	for k, r := range a.rects {
		s.Controls[k] = r
	}
	if se := a.sess(); se != nil {
		st := se.State()
		s.Connection, s.Version = st.Kind.String(), st.Version
	}
	s.Inpainting, s.Progress, _ = a.inp.progress()
	s.Candidates = len(a.inp.result.Candidates)
	s.Audio = a.audio != nil
	if a.view == nil {
		return s
	}
	d, v := a.doc, a.view
	s.Ready = true
	s.Notes, s.MaskCells = d.Len(), d.MaskCount()
	s.Tool = v.Tool.String()
	s.Playing, s.Playhead = v.Playing, v.Playhead
	s.Selected, s.Generated = v.SelectedCount(), v.GeneratedCount()
	g := v.Layout(a.rects["roll"]).Grid
	s.View = ViewGeom{g.X, g.Y, g.W, g.H, v.Left, v.Top, v.StepW, v.RowH}
	return s
}

// LastExport is the MIDI file the last export produced (nil before one).
func (a *App) LastExport() []byte { return a.lastExport }
