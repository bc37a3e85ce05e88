package desktop

import (
	"os"
	"path/filepath"
	"testing"
)

func TestExportFileNeverOverwrites(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "Music", "Latent Studio")
	p1, err := ExportFile(dir, "My song", ".mid", []byte("one"))
	if err != nil {
		t.Fatal(err)
	}
	p2, err := ExportFile(dir, "My song", ".mid", []byte("two"))
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Base(p1) != "My song.mid" || filepath.Base(p2) != "My song (2).mid" {
		t.Fatalf("names %q %q", p1, p2)
	}
	for p, want := range map[string]string{p1: "one", p2: "two"} {
		if b, _ := os.ReadFile(p); string(b) != want {
			t.Fatalf("%s holds %q, want %q", p, b, want)
		}
	}
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		t.Fatalf("temp files left behind: %v", ents)
	}
}

func TestFileNameIsSafe(t *testing.T) {
	for in, want := range map[string]string{
		"a/b\\c:d":                 "a-b-c-d",
		"  ..hidden.. ":            "hidden",
		"":                         "song",
		"line\nbreak\x00":          "linebreak",
		"Desktop 2026-11-27 00:15": "Desktop 2026-11-27 00-15",
	} {
		if got := fileName(in); got != want {
			t.Errorf("fileName(%q) = %q, want %q", in, got, want)
		}
	}
}
