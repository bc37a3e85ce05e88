package app

import (
	"fmt"
	"io"
	"io/fs"
	"path"
	"strings"

	"github.com/hajimehoshi/ebiten/v2"

	"latentstudio/studio/rolldoc"
)

// files imports a MIDI file dropped on the window (both builds: Ebiten
// reports drops from the desktop and from the browser page alike).
func (a *App) files() {
	dropped := ebiten.DroppedFiles()
	if dropped == nil {
		return
	}
	entries, err := fs.ReadDir(dropped, ".")
	if err != nil {
		a.fail("drop", err)
		return
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		name := e.Name()
		ext := strings.ToLower(path.Ext(name))
		if ext != ".mid" && ext != ".midi" && ext != ".smf" && ext != ".kar" {
			a.fail("", fmt.Errorf("%s is not a MIDI file: drop a .mid file", name))
			continue
		}
		data, err := readLimited(dropped, name, rolldoc.MaxImportBytes)
		if err != nil {
			a.fail("", err)
			continue
		}
		_ = a.Import(name, data)
		return // one song at a time
	}
}

// readLimited reads a dropped file, refusing it before reading when it is
// larger than limit.
func readLimited(fsys fs.FS, name string, limit int) ([]byte, error) {
	if st, err := fs.Stat(fsys, name); err == nil && st.Size() > int64(limit) {
		return nil, fmt.Errorf("%s is %d MB; MIDI files over %d MB are refused (your song is unchanged)", name, st.Size()>>20, limit>>20)
	}
	f, err := fsys.Open(name)
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("reading %s: %w", name, err)
	}
	if len(data) > limit {
		return nil, fmt.Errorf("%s is over %d MB; MIDI files that large are refused (your song is unchanged)", name, limit>>20)
	}
	return data, nil
}
