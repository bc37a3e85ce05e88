package desktop

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"time"

	"latentstudio/studio/safefile"
)

// maxRecent bounds the recent-projects list; older entries fall off the end.
const maxRecent = 20

// Recent is one project the desktop app opened, newest first in a RecentList.
type Recent struct {
	// Place says where the project lives: "local:" + the data directory for the in-process
	// server, or the base URL of a remote server.
	Place  string    `json:"place"`
	ID     string    `json:"id"`
	Name   string    `json:"name,omitempty"`
	Opened time.Time `json:"opened"`
}

// RecentList is the recent-projects file (recent.json in the user's config directory).
type RecentList struct {
	Format   int      `json:"format"`
	Projects []Recent `json:"projects"`
}

const recentFormat = 1

// localPlace names the in-process server's projects by their data directory, since its port
// changes from run to run.
func localPlace(dataDir string) string { return "local:" + dataDir }

// ConfigDir is where the desktop app keeps its own files (recent projects, offline edits).
func ConfigDir() (string, error) {
	d, err := os.UserConfigDir()
	if err != nil {
		return "", fmt.Errorf("no config directory for the recent-projects list: set XDG_CONFIG_HOME: %w", err)
	}
	return filepath.Join(d, "latent-studio"), nil
}

// ErrRecentCorrupt says the recent-projects file could not be read; it is moved aside (never
// deleted) and the app starts with an empty list.
var ErrRecentCorrupt = errors.New("recent-projects list unreadable")

// LoadRecent reads the list at path. A missing file is an empty list. A damaged file is renamed
// to path+".bad" and reported with ErrRecentCorrupt alongside an empty list, so the app still
// starts and the old file stays for a person to look at.
func LoadRecent(path string) (RecentList, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return RecentList{Format: recentFormat}, nil
	}
	if err != nil {
		return RecentList{Format: recentFormat}, fmt.Errorf("read %s: %w", path, err)
	}
	var l RecentList
	if err := json.Unmarshal(b, &l); err != nil || l.Format != recentFormat || !l.valid() {
		if err == nil {
			err = fmt.Errorf("format %d or entries not understood", l.Format)
		}
		bad := path + ".bad"
		if rerr := os.Rename(path, bad); rerr != nil {
			return RecentList{Format: recentFormat}, fmt.Errorf("%w: %s: %v (and moving it aside failed: %v)", ErrRecentCorrupt, path, err, rerr)
		}
		return RecentList{Format: recentFormat}, fmt.Errorf("%w: %s: %v; kept as %s", ErrRecentCorrupt, path, err, bad)
	}
	return l, nil
}

func (l RecentList) valid() bool {
	for _, r := range l.Projects {
		if r.Place == "" || r.ID == "" {
			return false
		}
	}
	return true
}

// Add puts a project at the top of the list (moving it there when it was already listed) and
// trims the list to maxRecent entries.
func (l *RecentList) Add(r Recent) {
	out := []Recent{r}
	for _, e := range l.Projects {
		if e.Place == r.Place && e.ID == r.ID {
			continue
		}
		out = append(out, e)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].Opened.After(out[j].Opened) })
	if len(out) > maxRecent {
		out = out[:maxRecent]
	}
	l.Format, l.Projects = recentFormat, out
}

// Remove drops a project from the list (one that no longer exists on its server).
func (l *RecentList) Remove(place, id string) {
	out := l.Projects[:0]
	for _, e := range l.Projects {
		if e.Place != place || e.ID != id {
			out = append(out, e)
		}
	}
	l.Projects = out
}

// At lists the projects of one place, newest first.
func (l RecentList) At(place string) []Recent {
	var out []Recent
	for _, e := range l.Projects {
		if e.Place == place {
			out = append(out, e)
		}
	}
	return out
}

// Save writes the list atomically: a temp file in the same directory, fsync, rename, and an
// fsync of the directory, so a crash leaves either the old list or the new one.
func (l RecentList) Save(path string) error {
	l.Format = recentFormat
	b, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return err
	}
	return WriteFileAtomic(path, append(b, '\n'))
}

// WriteFileAtomic writes data to path atomically, making its folder first.
func WriteFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	return safefile.Write(path, data)
}
