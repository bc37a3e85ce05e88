package sync

import (
	"errors"
	"os"
	"testing"
)

func testStore(t *testing.T, s LocalStore) {
	t.Helper()
	if _, err := s.Get("song/p1"); !errors.Is(err, ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}
	if err := s.Put("song/p1", []byte("one")); err != nil {
		t.Fatal(err)
	}
	if err := s.Put("song/p1", []byte("two")); err != nil {
		t.Fatal(err)
	}
	s.Put("song/p2", []byte("other"))
	b, err := s.Get("song/p1")
	if err != nil || string(b) != "two" {
		t.Fatalf("got %q %v", b, err)
	}
	b[0] = 'X' // the caller's copy
	if b, _ := s.Get("song/p1"); string(b) != "two" {
		t.Fatal("store shares its bytes")
	}
}

func TestMemoryStore(t *testing.T) { testStore(t, NewMemoryStore()) }

func TestFileStore(t *testing.T) {
	dir := t.TempDir()
	s, err := NewFileStore(dir)
	if err != nil {
		t.Fatal(err)
	}
	testStore(t, s)
	ents, _ := os.ReadDir(dir)
	if len(ents) != 2 {
		var names []string
		for _, e := range ents {
			names = append(names, e.Name())
		}
		t.Fatalf("files %v: one per key, no temp files left", names)
	}
	// keys never leave the folder
	for _, k := range []string{"../escape", "/abs", ".hidden", ""} {
		if got := fileName(k); got == "" || got[0] == '.' || len(got) > 0 && (got[0] == '/' || containsSep(got)) {
			t.Fatalf("key %q -> %q", k, got)
		}
	}
	if err := (&FileStore{Dir: dir + "/missing/deeper"}).Put("k", nil); err == nil {
		t.Fatal("put into a missing folder succeeded")
	}
}

func containsSep(s string) bool {
	for _, r := range s {
		if r == '/' || r == '\\' {
			return true
		}
	}
	return false
}

func TestBrowserCodec(t *testing.T) {
	for _, b := range [][]byte{nil, []byte(`{"midi":"TVRoZA=="}`), {0xff, 0x00, 'M'}, []byte("t:looks like a prefix")} {
		s := encodeBrowser(b)
		back, err := decodeBrowser(s)
		if err != nil || string(back) != string(b) {
			t.Fatalf("%q -> %q -> %q %v", b, s, back, err)
		}
	}
	if s := encodeBrowser([]byte(`{"a":1}`)); s != `t:{"a":1}` {
		t.Fatalf("JSON is kept as text: %q", s)
	}
	if _, err := decodeBrowser("garbage"); err == nil {
		t.Fatal("an entry without a prefix was read")
	}
}
