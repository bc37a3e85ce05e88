package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"image"
	"image/png"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/hajimehoshi/ebiten/v2"

	"latentstudio/native/desktop"
	"latentstudio/studio/app"
	"latentstudio/studio/ui"
)

// screenshotEnv names a directory; when it is set, the app answers each NAME.req file that
// appears there with NAME.png (the next frame exactly as Ebiten drew it, in device pixels)
// and NAME.json (app.State of that frame: counts, tool, the roll's geometry). The Xvfb tests
// (native/screentest) drive the app this way.
const screenshotEnv = "STUDIO_SCREENSHOT_DIR"

type shooter struct {
	dir     string
	stderr  io.Writer
	ticks   int
	pending []string // requests seen, answered at the next Draw
	errs    chan error
}

func newShooter(dir string, stderr io.Writer) *shooter {
	return &shooter{dir: dir, stderr: stderr, errs: make(chan error, 8)}
}

// look checks for requests about ten times a second (called from Update).
func (s *shooter) look() {
	select {
	case err := <-s.errs:
		fmt.Fprintln(s.stderr, "studio-desktop: screenshot:", err)
	default:
	}
	if s.ticks++; s.ticks%6 != 0 || len(s.pending) > 0 {
		return
	}
	ents, _ := os.ReadDir(s.dir)
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), ".req"); ok && !e.IsDir() {
			if os.Remove(filepath.Join(s.dir, e.Name())) == nil { // seen once, shot once
				s.pending = append(s.pending, n)
			}
		}
	}
}

// shotState is what NAME.json holds: the app's State plus the desktop window's own.
type shotState struct {
	app.State
	Project string             `json:"project"`
	Picker  bool               `json:"picker"`          // the recent-projects list is open
	Picks   map[string]ui.Rect `json:"picker_controls"` // its buttons: recent.0, …, recent.new
}

// take answers the pending requests with this frame (called at the end of Draw).
func (s *shooter) take(screen *ebiten.Image, w *window) {
	if len(s.pending) == 0 {
		return
	}
	b := screen.Bounds()
	img := image.NewRGBA(image.Rect(0, 0, b.Dx(), b.Dy()))
	screen.ReadPixels(img.Pix)
	st := shotState{State: w.app.State(), Project: w.project, Picker: w.picker.open, Picks: w.picker.rects}
	state, err := json.MarshalIndent(st, "", "  ")
	if err != nil {
		s.report(err)
	}
	names := s.pending
	s.pending = nil
	go func() { // encoding a frame takes longer than a frame
		var buf bytes.Buffer
		if err := png.Encode(&buf, img); err != nil {
			s.report(err)
			return
		}
		for _, n := range names {
			// the state first: a test that sees the PNG finds the state beside it
			if err := desktop.WriteFileAtomic(filepath.Join(s.dir, n+".json"), state); err != nil {
				s.report(err)
			}
			if err := desktop.WriteFileAtomic(filepath.Join(s.dir, n+".png"), buf.Bytes()); err != nil {
				s.report(err)
			}
		}
	}()
}

// report hands an error to Update to print; a flood of errors drops the surplus.
func (s *shooter) report(err error) {
	select {
	case s.errs <- err:
	default:
	}
}
