package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/hajimehoshi/ebiten/v2"

	"latentstudio/native/desktop"
	"latentstudio/studio/app"
	"latentstudio/studio/sync"
	"latentstudio/studio/ui"
	"latentstudio/studio/ui/screen"
)

// runWindow opens the studio window on the chosen project and runs it until the window is
// closed or the process is told to stop (Ctrl+C, SIGTERM); what is unsaved is saved then.
func runWindow(ctx context.Context, s *desktop.Setup, audio bool, stdout, stderr io.Writer) error {
	local, err := sync.NewFileStore(s.Offline)
	if err != nil {
		return fmt.Errorf("offline store: %w", err)
	}
	fonts, err := screen.NewFonts()
	if err != nil {
		return err
	}
	w := &window{ctx: ctx, setup: s, local: local, audio: audio, stdout: stdout, stderr: stderr,
		picked: make(chan pickedFile, 1), made: make(chan created, 1),
		picker: newPicker(ui.Dark(), fonts), recent: s.Recent}
	if err := w.open(s.Project, s.Name); err != nil {
		return err
	}
	if !audio {
		w.app.Notify(ui.Warning, "No sound: no audio device could be opened (see the terminal)")
	}
	if dir := os.Getenv(screenshotEnv); dir != "" {
		w.shots = newShooter(dir, stderr)
	}
	fmt.Fprintln(stdout, "Ctrl+P in the window lists the recent projects")
	if s.Width > 0 && s.Height > 0 {
		ebiten.SetWindowSize(s.Width, s.Height)
	}
	ebiten.SetWindowResizingMode(ebiten.WindowResizingModeEnabled)
	ebiten.SetWindowClosingHandled(true)
	err = ebiten.RunGame(w)
	if cerr := w.app.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("saving on close: %w", cerr)
	}
	return err
}

// window is the desktop's frame around the studio: it stops the loop on a signal or a close
// of the window, switches projects (Ctrl+P, File ▸ Projects…), hands files from the picker to the app on the
// game goroutine, and takes screenshots for the Xvfb tests.
type window struct {
	ctx    context.Context
	setup  *desktop.Setup
	local  sync.LocalStore
	audio  bool
	stdout io.Writer
	stderr io.Writer

	app     *app.App
	project string
	name    string
	recent  []desktop.Recent

	picker *picker
	picked chan pickedFile
	made   chan created
	shots  *shooter

	w, h, scale float64 // logical size and device pixels per logical pixel
}

// open builds the studio on a project (at start, and on a switch from the picker).
func (w *window) open(id, name string) error {
	s := w.setup
	logf := func(format string, args ...any) { fmt.Fprintf(w.stderr, format+"\n", args...) }
	a, err := app.New(app.Config{
		Server:  s.Backend.URL,
		Project: id,
		Token:   s.Backend.Token,
		Local:   w.local,
		NoAudio: !w.audio,
		Export: func(file string, data []byte) error {
			p, err := desktop.ExportFile(s.ExportDir, firstNonEmpty(w.name, file), ".mid", data)
			if err == nil {
				fmt.Fprintln(w.stdout, "exported", p)
				w.app.Notify(ui.Info, "Saved as "+p) // the app's own toast names the file, not the folder
			}
			return err
		},
		OpenFile: w.openFile(logf),
		Projects: func() { w.picker.show(w.recent, w.project) },
		Log:      logf,
	})
	if err != nil {
		return err
	}
	w.app, w.project, w.name = a, id, name
	ebiten.SetWindowTitle("Latent Studio — " + firstNonEmpty(name, id))
	return nil
}

// switchTo closes the open project (saving it) and opens another.
func (w *window) switchTo(id, name string) {
	if id == w.project {
		return
	}
	if err := w.app.Close(); err != nil {
		fmt.Fprintln(w.stderr, "studio-desktop: saving", w.project+":", err)
	}
	prev, prevName := w.project, w.name
	if err := w.open(id, name); err != nil {
		fmt.Fprintln(w.stderr, "studio-desktop: open", id+":", err)
		if rerr := w.open(prev, prevName); rerr != nil { // the closed studio must not stay in use
			fmt.Fprintln(w.stderr, "studio-desktop: reopen", prev+":", rerr)
			return
		}
		w.app.Fail(fmt.Errorf("could not open project %s: %w", id, err))
		return
	}
	list, err := desktop.Remember(w.setup.Backend.Place, id, name)
	if err != nil {
		fmt.Fprintln(w.stderr, "studio-desktop: recent projects not saved:", err)
	} else {
		w.recent = list
	}
	fmt.Fprintf(w.stdout, "project %s %q on %s\n", id, name, w.setup.Backend.Place)
}

func (w *window) Update() error {
	if w.ctx.Err() != nil || ebiten.IsWindowBeingClosed() {
		return ebiten.Termination
	}
	if w.shots != nil {
		w.shots.look()
	}
	select {
	case c := <-w.made:
		w.picker.busy = ""
		if c.err != nil {
			w.picker.err = "could not create a project: " + c.err.Error()
		} else {
			w.picker.open = false
			w.switchTo(c.id, c.name)
		}
	default:
	}
	if toggled() {
		if w.picker.open {
			w.picker.open = false
		} else {
			w.picker.show(w.recent, w.project)
		}
	}
	if w.picker.open && w.scale > 0 {
		if c, ok := w.picker.update(w.w, w.h, w.scale); ok {
			if c.new {
				w.picker.busy = "creating a project…"
				go createProject(w.ctx, w.setup.Backend, w.made)
			} else {
				w.picker.open = false
				w.switchTo(c.id, c.name)
			}
		}
		return nil // the studio waits, untouched, under the list
	}
	select {
	case f := <-w.picked:
		if f.err != nil {
			w.app.Fail(f.err)
		} else {
			_ = w.app.Import(f.name, f.data) // a bad file is a toast in the app; the song is kept
		}
	default:
	}
	return w.app.Update()
}

func (w *window) Draw(dst *ebiten.Image) {
	w.app.Draw(dst)
	if w.picker.open {
		screen.Draw(dst, w.picker.ui.Paint, w.picker.fonts)
	}
	if w.shots != nil {
		w.shots.take(dst, w)
	}
}

func (w *window) Layout(outsideWidth, outsideHeight int) (int, int) {
	fw, fh := w.LayoutF(float64(outsideWidth), float64(outsideHeight))
	return int(fw), int(fh)
}

// LayoutF passes the app's device-pixel layout through (ebiten prefers it over Layout).
func (w *window) LayoutF(outsideWidth, outsideHeight float64) (float64, float64) {
	dw, dh := w.app.LayoutF(outsideWidth, outsideHeight)
	if outsideWidth > 0 {
		w.w, w.h, w.scale = outsideWidth, outsideHeight, dw/outsideWidth
	}
	return dw, dh
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
