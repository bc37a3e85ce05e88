package main

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"

	"latentstudio/studio/rolldoc"
)

type pickedFile struct {
	name string
	data []byte
	err  error // shown in the window (the file was not read)
}

// openFile is the app's "Open MIDI…": the desktop's own file dialog (zenity on GNOME and
// most others, kdialog on KDE). Ebiten has no dialog of its own; without either program it
// is nil, which greys the menu item out (dropping a file on the window still works). The
// pick runs on its own goroutine and the bytes reach the app in Update, on the game goroutine.
func (w *window) openFile(logf func(string, ...any)) func() {
	if !haveDialog() {
		return nil
	}
	return func() {
		go func() {
			var f pickedFile
			path, err := pickMIDI()
			switch {
			case err != nil:
				f.err = fmt.Errorf("open MIDI: %w", err)
			case path == "":
				return // cancelled
			default:
				f.name = filepath.Base(path)
				f.data, f.err = readMIDI(path)
			}
			if f.err != nil {
				logf("studio-desktop: %v", f.err)
			}
			select {
			case w.picked <- f:
			default: // a pick is still waiting for the next frame
			}
		}()
	}
}

var errNoDialog = errors.New("no file dialog (install zenity or kdialog), or drop a .mid file on the window")

func haveDialog() bool {
	for _, p := range []string{"zenity", "kdialog"} {
		if _, err := exec.LookPath(p); err == nil {
			return true
		}
	}
	return false
}

func pickMIDI() (string, error) {
	var cmd *exec.Cmd
	if p, err := exec.LookPath("zenity"); err == nil {
		cmd = exec.Command(p, "--file-selection", "--title=Open a MIDI file", "--file-filter=MIDI files | *.mid *.midi *.MID *.kar")
	} else if p, err := exec.LookPath("kdialog"); err == nil {
		cmd = exec.Command(p, "--getopenfilename", ".", "*.mid *.midi *.kar|MIDI files")
	} else {
		return "", errNoDialog
	}
	out, err := cmd.Output()
	var ee *exec.ExitError
	if errors.As(err, &ee) && ee.ExitCode() == 1 {
		return "", nil // the person cancelled
	}
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(bytes.TrimRight(out, "\n"))), nil
}

// readMIDI reads a picked file, refusing one over the app's import limit before reading it.
func readMIDI(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, err
	}
	if st.Size() > int64(rolldoc.MaxImportBytes) {
		return nil, fmt.Errorf("%s is %d MB; MIDI files over %d MB are refused (your song is unchanged)", filepath.Base(path), st.Size()>>20, rolldoc.MaxImportBytes>>20)
	}
	return os.ReadFile(path)
}
