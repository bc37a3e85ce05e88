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
)

// runWindow opens the studio window on the chosen project and runs it until the window is
// closed or the process is told to stop (Ctrl+C, SIGTERM); what is unsaved is saved then.
func runWindow(ctx context.Context, s *desktop.Setup, audio bool, stdout, stderr io.Writer) error {
	local, err := sync.NewFileStore(s.Offline)
	if err != nil {
		return fmt.Errorf("offline store: %w", err)
	}
	w := &window{ctx: ctx, picked: make(chan pickedFile, 1)}
	logf := func(format string, args ...any) { fmt.Fprintf(stderr, format+"\n", args...) }
	a, err := app.New(app.Config{
		Server:  s.Backend.URL,
		Project: s.Project,
		Token:   s.Backend.Token,
		Local:   local,
		NoAudio: !audio,
		Export: func(name string, data []byte) error {
			p, err := desktop.ExportFile(s.ExportDir, firstNonEmpty(s.Name, name), ".mid", data)
			if err == nil {
				fmt.Fprintln(stdout, "exported", p) // the app's toast names the file, not the folder
			}
			return err
		},
		OpenFile: w.openFile(logf),
		Log:      logf,
	})
	if err != nil {
		return err
	}
	w.app = a
	if dir := os.Getenv(screenshotEnv); dir != "" {
		w.shots = newShooter(dir, stderr)
	}
	ebiten.SetWindowTitle("Latent Studio — " + firstNonEmpty(s.Name, s.Project))
	ebiten.SetWindowSize(1280, 800)
	ebiten.SetWindowResizingMode(ebiten.WindowResizingModeEnabled)
	ebiten.SetWindowClosingHandled(true)
	err = ebiten.RunGame(w)
	if cerr := a.Close(); cerr != nil && err == nil {
		err = fmt.Errorf("saving on close: %w", cerr)
	}
	return err
}

// window is the desktop's frame around the studio: it stops the loop on a signal or a close
// of the window, hands files from the picker to the app on the game goroutine, and takes
// screenshots for the Xvfb tests.
type window struct {
	app    *app.App
	ctx    context.Context
	picked chan pickedFile
	shots  *shooter
}

func (w *window) Update() error {
	if w.ctx.Err() != nil || ebiten.IsWindowBeingClosed() {
		return ebiten.Termination
	}
	select {
	case f := <-w.picked:
		_ = w.app.Import(f.name, f.data) // a bad file is a toast in the app; the song is kept
	default:
	}
	if w.shots != nil {
		w.shots.look()
	}
	return w.app.Update()
}

func (w *window) Draw(screen *ebiten.Image) {
	w.app.Draw(screen)
	if w.shots != nil {
		w.shots.take(screen, w.app)
	}
}

func (w *window) Layout(outsideWidth, outsideHeight int) (int, int) {
	return w.app.Layout(outsideWidth, outsideHeight)
}

// LayoutF passes the app's device-pixel layout through (ebiten prefers it over Layout).
func (w *window) LayoutF(outsideWidth, outsideHeight float64) (float64, float64) {
	return w.app.LayoutF(outsideWidth, outsideHeight)
}

func firstNonEmpty(s ...string) string {
	for _, x := range s {
		if x != "" {
			return x
		}
	}
	return ""
}
