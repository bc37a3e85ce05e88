package desktop

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func TestRecentAddMovesToTopAndTrims(t *testing.T) {
	var l RecentList
	t0 := time.Date(2026, 11, 1, 12, 0, 0, 0, time.UTC)
	for i := range maxRecent + 5 {
		l.Add(Recent{Place: "local:/d", ID: fmt.Sprint("p", i), Opened: t0.Add(time.Duration(i) * time.Minute)})
	}
	if len(l.Projects) != maxRecent {
		t.Fatalf("len %d, want %d", len(l.Projects), maxRecent)
	}
	if l.Projects[0].ID != fmt.Sprint("p", maxRecent+4) {
		t.Fatalf("newest first: got %s", l.Projects[0].ID)
	}
	l.Add(Recent{Place: "local:/d", ID: "p10", Name: "again", Opened: t0.Add(time.Hour)})
	if l.Projects[0].ID != "p10" || l.Projects[0].Name != "again" || len(l.Projects) != maxRecent {
		t.Fatalf("re-opened project not moved to the top once: %+v", l.Projects[:2])
	}
	n := 0
	for _, r := range l.Projects {
		if r.ID == "p10" {
			n++
		}
	}
	if n != 1 {
		t.Fatalf("p10 listed %d times", n)
	}
	l.Add(Recent{Place: "http://gpu:7380", ID: "p10", Opened: t0.Add(2 * time.Hour)})
	if got := l.At("local:/d"); len(got) != maxRecent-1 || got[0].ID != "p10" {
		t.Fatalf("places are separate lists: %d local, first %s", len(got), got[0].ID)
	}
	l.Remove("local:/d", "p10")
	for _, r := range l.At("local:/d") {
		if r.ID == "p10" {
			t.Fatal("removed project still listed")
		}
	}
	if len(l.At("http://gpu:7380")) != 1 {
		t.Fatal("Remove dropped another place's project")
	}
}

func TestRecentSaveLoadRoundTrip(t *testing.T) {
	path := filepath.Join(t.TempDir(), "cfg", "recent.json")
	l, err := LoadRecent(path)
	if err != nil || len(l.Projects) != 0 {
		t.Fatalf("missing file: %v %v", l, err)
	}
	l.Add(Recent{Place: "local:/x", ID: "abc", Name: "Song", Opened: time.Unix(1700000000, 0).UTC()})
	if err := l.Save(path); err != nil {
		t.Fatal(err)
	}
	got, err := LoadRecent(path)
	if err != nil || len(got.Projects) != 1 || got.Projects[0] != l.Projects[0] {
		t.Fatalf("round trip: %+v %v", got, err)
	}
	ents, _ := os.ReadDir(filepath.Dir(path))
	if len(ents) != 1 {
		t.Fatalf("temp files left behind: %v", ents)
	}
}

func TestRecentCorruptIsKeptAside(t *testing.T) {
	for name, body := range map[string]string{
		"garbage":   "{not json",
		"format":    `{"format": 9, "projects": []}`,
		"no id":     `{"format": 1, "projects": [{"place": "local:/x"}]}`,
		"truncated": `{"format": 1, "projects": [{"place": "local:/x", "id": "a"`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "recent.json")
			os.WriteFile(path, []byte(body), 0o644)
			l, err := LoadRecent(path)
			if !errors.Is(err, ErrRecentCorrupt) {
				t.Fatalf("err %v, want ErrRecentCorrupt", err)
			}
			if len(l.Projects) != 0 {
				t.Fatalf("list from a corrupt file: %+v", l)
			}
			if b, _ := os.ReadFile(path + ".bad"); string(b) != body {
				t.Fatalf("corrupt file not kept as .bad: %q", b)
			}
			l.Add(Recent{Place: "local:/x", ID: "b", Opened: time.Now()})
			if err := l.Save(path); err != nil {
				t.Fatal(err)
			}
			if _, err := LoadRecent(path); err != nil {
				t.Fatalf("fresh list after a corrupt one: %v", err)
			}
		})
	}
}
