package store

import (
	"archive/zip"
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"latentstudio/studio/protocol"
)

func open(t *testing.T, keep int) *Store {
	t.Helper()
	s, err := Open(t.TempDir(), keep)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func mustRead(t *testing.T, s *Store, id, name string) string {
	t.Helper()
	b, err := s.ReadFile(id, name)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestProjectLifecycle(t *testing.T) {
	s := open(t, 3)
	m, err := s.Create("pianoroll", "  My song ", map[string][]byte{"song.mid": []byte("v1"), "notes.txt": []byte("keep")})
	if err != nil {
		t.Fatal(err)
	}
	if m.Name != "My song" || m.Version != 1 || !protocol.ValidID(m.ID) {
		t.Fatalf("created %+v", m)
	}
	for i := 2; i <= 6; i++ {
		m, err = s.Save(m.ID, map[string][]byte{"song.mid": []byte{'v', byte('0' + i)}})
		if err != nil || m.Version != i {
			t.Fatal(err, m.Version)
		}
	}
	if got := mustRead(t, s, m.ID, "song.mid"); got != "v6" {
		t.Fatalf("current song %q", got)
	}
	if got := mustRead(t, s, m.ID, "notes.txt"); got != "keep" {
		t.Fatalf("unchanged file lost: %q", got)
	}
	vs, _ := s.Versions(m.ID)
	if len(vs) != 3 || vs[0].Version != 6 || vs[2].Version != 4 {
		t.Fatalf("kept versions %+v", vs)
	}
	if _, err := s.Restore(m.ID, 2); protocol.CodeOf(err) != protocol.NotFound {
		t.Fatalf("restore of a pruned version: %v", err)
	}
	m, err = s.Restore(m.ID, 4)
	if err != nil || m.Version != 7 || mustRead(t, s, m.ID, "song.mid") != "v4" || mustRead(t, s, m.ID, "notes.txt") != "keep" {
		t.Fatalf("restore: %v %+v", err, m)
	}
	m, err = s.Rename(m.ID, "Renamed")
	if err != nil || m.Name != "Renamed" {
		t.Fatal(err)
	}
	if _, err := s.Rename(m.ID, "   "); protocol.CodeOf(err) != protocol.BadInput {
		t.Fatalf("empty name: %v", err)
	}
	d, err := s.Duplicate(m.ID, "")
	if err != nil || d.ID == m.ID || d.Name != "Renamed copy" || mustRead(t, s, d.ID, "song.mid") != "v4" {
		t.Fatalf("duplicate %v %+v", err, d)
	}
	list, broken, _ := s.List()
	if len(list) != 2 || len(broken) != 0 {
		t.Fatalf("list %v broken %v", list, broken)
	}
	if err := s.Delete(m.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Get(m.ID); protocol.CodeOf(err) != protocol.NotFound {
		t.Fatalf("deleted project still there: %v", err)
	}
	tr, _ := s.Trash()
	if len(tr) != 1 || tr[0].Manifest.ID != m.ID {
		t.Fatalf("trash %+v", tr)
	}
	if _, err := s.Undelete(tr[0].Entry); err != nil || mustRead(t, s, m.ID, "song.mid") != "v4" {
		t.Fatal("undelete", err)
	}
	s.Delete(m.ID)
	if err := s.EmptyTrash(); err != nil {
		t.Fatal(err)
	}
	if tr, _ := s.Trash(); len(tr) != 0 {
		t.Fatalf("trash not empty: %v", tr)
	}
}

func TestBadIDsAndNames(t *testing.T) {
	s := open(t, 0)
	for _, id := range []string{"..", "../x", "a/b", "", ".hidden", "A", "x\x00"} {
		if _, err := s.Get(id); protocol.CodeOf(err) != protocol.BadInput {
			t.Errorf("Get(%q): %v", id, err)
		}
		if _, err := s.Save(id, nil); protocol.CodeOf(err) != protocol.BadInput {
			t.Errorf("Save(%q): %v", id, err)
		}
		if err := s.Delete(id); protocol.CodeOf(err) != protocol.BadInput {
			t.Errorf("Delete(%q): %v", id, err)
		}
	}
	m, _ := s.Create("pianoroll", "x", nil)
	for _, name := range []string{"../evil", "manifest.json", ".x", "a/b", "version.json"} {
		if _, err := s.Save(m.ID, map[string][]byte{name: nil}); protocol.CodeOf(err) != protocol.BadInput {
			t.Errorf("file %q: %v", name, err)
		}
	}
	if _, err := s.Save("pnope", nil); protocol.CodeOf(err) != protocol.NotFound {
		t.Errorf("missing project: %v", err)
	}
}

// A crash between writing a version and naming it leaves the old version current; Open
// removes the orphan.
func TestCrashLeftovers(t *testing.T) {
	dir := t.TempDir()
	s, _ := Open(dir, 5)
	m, _ := s.Create("pianoroll", "x", map[string][]byte{"song.mid": []byte("saved")})
	pd := filepath.Join(dir, "projects", m.ID)
	os.MkdirAll(filepath.Join(pd, "v", "000002"), 0o755)
	os.WriteFile(filepath.Join(pd, "v", "000002", "song.mid"), []byte("half"), 0o644)
	os.WriteFile(filepath.Join(pd, ".tmp-manifest.json-123"), []byte("{"), 0o644)
	os.MkdirAll(filepath.Join(dir, "projects", ".tmp-999"), 0o755)
	s2, err := Open(dir, 5)
	if err != nil {
		t.Fatal(err)
	}
	if got := mustRead(t, s2, m.ID, "song.mid"); got != "saved" {
		t.Fatalf("after crash: %q", got)
	}
	for _, p := range []string{filepath.Join(pd, "v", "000002"), filepath.Join(pd, ".tmp-manifest.json-123"), filepath.Join(dir, "projects", ".tmp-999")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("%s not tidied", p)
		}
	}
	m2, err := s2.Save(m.ID, map[string][]byte{"song.mid": []byte("next")})
	if err != nil || m2.Version != 2 || mustRead(t, s2, m.ID, "song.mid") != "next" {
		t.Fatal(err, m2)
	}
	// A damaged payload is reported, not served.
	os.WriteFile(filepath.Join(pd, "v", "000002", "song.mid"), []byte("nexT"), 0o644)
	if _, err := s2.ReadFile(m.ID, "song.mid"); err == nil {
		t.Fatal("damaged file read without error")
	}
	// A damaged manifest shows up as broken in the list.
	os.WriteFile(filepath.Join(pd, "manifest.json"), []byte(`{"format":1`), 0o644)
	_, broken, _ := s2.List()
	if protocol.CodeOf(broken[m.ID]) != protocol.BadInput {
		t.Fatalf("broken: %v", broken)
	}
}

func TestExportImport(t *testing.T) {
	s := open(t, 0)
	m, _ := s.Create("pianoroll", "Zipped", map[string][]byte{"song.mid": []byte("MThd..."), "thumb.png": {1, 2, 3}})
	var buf bytes.Buffer
	if err := s.Export(m.ID, &buf); err != nil {
		t.Fatal(err)
	}
	n, err := s.Import(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	if err != nil {
		t.Fatal(err)
	}
	if n.ID == m.ID || n.Name != "Zipped" || n.Kind != "pianoroll" || mustRead(t, s, n.ID, "song.mid") != "MThd..." {
		t.Fatalf("import %+v", n)
	}
	// Tamper with a payload inside the zip: the checksum catches it.
	var badBuf bytes.Buffer
	zw := zip.NewWriter(&badBuf)
	zr, _ := zip.NewReader(bytes.NewReader(buf.Bytes()), int64(buf.Len()))
	for _, f := range zr.File {
		rc, _ := f.Open()
		b, _ := io.ReadAll(rc)
		if f.Name == "thumb.png" {
			b = []byte{1, 2, 4}
		}
		w, _ := zw.Create(f.Name)
		w.Write(b)
	}
	zw.Close()
	bad := badBuf.Bytes()
	if _, err := s.Import(bytes.NewReader(bad), int64(len(bad))); err == nil {
		t.Fatal("tampered zip imported")
	}
	if _, err := s.Import(bytes.NewReader([]byte("not a zip")), 9); protocol.CodeOf(err) != protocol.BadInput {
		t.Fatalf("garbage: %v", err)
	}
}

func TestCloseRefusesWrites(t *testing.T) {
	s := open(t, 0)
	m, _ := s.Create("pianoroll", "x", nil)
	s.Close()
	if _, err := s.Save(m.ID, nil); protocol.CodeOf(err) != protocol.Busy {
		t.Fatalf("save after close: %v", err)
	}
}
