package store

import (
	"encoding/json"
	"fmt"
	"regexp"
	"time"

	"latentstudio/studio/protocol"
)

// ManifestFormat is the version of manifest.json this code writes.
const ManifestFormat = 1

// Manifest is a project's manifest.json: what the project is and which payload files its
// current version holds.
type Manifest struct {
	Format   int                 `json:"format"`
	ID       string              `json:"id"`
	Kind     string              `json:"kind"`
	Name     string              `json:"name"`
	Created  time.Time           `json:"created"`
	Modified time.Time           `json:"modified"`
	Version  int                 `json:"version"`
	Files    map[string]FileInfo `json:"files"`
}

// FileInfo describes one payload file of a version.
type FileInfo struct {
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256"`
}

// Limits on what a manifest may describe.
const (
	MaxNameLen  = 120
	MaxFiles    = 32
	MaxFileSize = 32 << 20
	MaxProject  = 64 << 20 // all files of a version together
)

var (
	kindRE = regexp.MustCompile(`^[a-z][a-z0-9-]{0,31}$`)
	hexRE  = regexp.MustCompile(`^[0-9a-f]{64}$`)
)

// LoadManifest parses and validates manifest.json. Everything in it is checked, because an
// imported zip or a damaged disk may hand us anything.
func LoadManifest(b []byte) (Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Manifest{}, protocol.Errorf(protocol.BadInput, "manifest.json: %v", err)
	}
	if err := m.Validate(); err != nil {
		return Manifest{}, err
	}
	return m, nil
}

// Validate checks a manifest's fields.
func (m Manifest) Validate() error {
	bad := func(format string, args ...any) error {
		return protocol.Errorf(protocol.BadInput, "manifest.json: "+format, args...)
	}
	switch {
	case m.Format < 1 || m.Format > ManifestFormat:
		return bad("format %d is not one this studio reads (1..%d)", m.Format, ManifestFormat)
	case !protocol.ValidID(m.ID):
		return bad("id %q is not a valid project id", clip(m.ID))
	case !kindRE.MatchString(m.Kind):
		return bad("kind %q is not a valid kind", clip(m.Kind))
	case len(m.Name) > MaxNameLen || !validName(m.Name):
		return bad("name must be 1..%d printable characters", MaxNameLen)
	case m.Version < 1:
		return bad("version %d must be ≥ 1", m.Version)
	case len(m.Files) > MaxFiles:
		return bad("%d files, at most %d", len(m.Files), MaxFiles)
	}
	var total int64
	for name, f := range m.Files {
		if !protocol.ValidFile(name) || name == "manifest.json" || name == "version.json" {
			return bad("file name %q is not allowed", clip(name))
		}
		if f.Size < 0 || f.Size > MaxFileSize {
			return bad("file %s size %d out of range", name, f.Size)
		}
		if !hexRE.MatchString(f.SHA256) {
			return bad("file %s has no valid sha256", name)
		}
		total += f.Size
	}
	if total > MaxProject {
		return bad("files total %d bytes, at most %d", total, MaxProject)
	}
	return nil
}

func validName(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return false
		}
	}
	return true
}

func clip(s string) string {
	if len(s) > 40 {
		return s[:40] + "…"
	}
	return s
}

// CleanName trims a user-given project name into a valid one.
func CleanName(s string) (string, error) {
	out := make([]rune, 0, len(s))
	for _, r := range s {
		if r >= 0x20 && r != 0x7f && r != 0xfffd {
			out = append(out, r)
		}
	}
	name := string(out)
	for len(name) > 0 && (name[0] == ' ' || name[len(name)-1] == ' ') {
		if name[0] == ' ' {
			name = name[1:]
		} else {
			name = name[:len(name)-1]
		}
	}
	if name == "" {
		return "", protocol.Errorf(protocol.BadInput, "a project needs a name")
	}
	if len(name) > MaxNameLen {
		return "", protocol.Errorf(protocol.BadInput, "project name longer than %d bytes", MaxNameLen)
	}
	return name, nil
}

func (m Manifest) String() string {
	return fmt.Sprintf("%s (%s %q v%d)", m.ID, m.Kind, m.Name, m.Version)
}

func jsonIndent(m Manifest) ([]byte, error) {
	b, err := json.MarshalIndent(m, "", "  ")
	return append(b, '\n'), err
}
