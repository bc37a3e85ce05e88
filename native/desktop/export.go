package desktop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"unicode"
)

// DefaultExportDir is where exported MIDI files go unless --export-dir says otherwise:
// ~/Music/Latent Studio, next to the user's other music.
func DefaultExportDir() (string, error) {
	home, err := os.UserHomeDir()
	if err != nil {
		return "", fmt.Errorf("no home directory to export into: pass --export-dir: %w", err)
	}
	return filepath.Join(home, "Music", "Latent Studio"), nil
}

// ExportFile writes data as a new file in dir named after the project (name.mid, or
// "name (2).mid" and so on when that exists) and returns its path. The file appears whole
// or not at all, and an existing file is never overwritten.
func ExportFile(dir, name, ext string, data []byte) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	base := fileName(name)
	tmp, err := os.CreateTemp(dir, ".export-*.tmp")
	if err != nil {
		return "", fmt.Errorf("export: %w", err)
	}
	_, werr := tmp.Write(data)
	if werr == nil {
		werr = tmp.Sync()
	}
	if cerr := tmp.Close(); werr == nil {
		werr = cerr
	}
	defer os.Remove(tmp.Name())
	if werr != nil {
		return "", fmt.Errorf("export: %w", werr)
	}
	for n := 1; n < 1000; n++ {
		p := filepath.Join(dir, base+ext)
		if n > 1 {
			p = filepath.Join(dir, fmt.Sprintf("%s (%d)%s", base, n, ext))
		}
		// A hard link publishes the finished file and fails if the name is taken.
		err := os.Link(tmp.Name(), p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("export: %w", err)
		}
	}
	return "", fmt.Errorf("export: 999 files named %q in %s already", base, dir)
}

// fileName makes a project name safe as a file name on every desktop system.
func fileName(name string) string {
	s := strings.Map(func(r rune) rune {
		switch {
		case r == '/' || r == '\\' || r == ':' || r == '*' || r == '?' || r == '"' || r == '<' || r == '>' || r == '|':
			return '-'
		case unicode.IsControl(r):
			return -1
		}
		return r
	}, name)
	s = strings.Trim(strings.TrimSpace(s), ".")
	if s == "" {
		s = "song"
	}
	if len(s) > 100 {
		s = s[:100]
	}
	return s
}
