package projects

import (
	"testing"

	"latentstudio/studio/protocol"
	"latentstudio/web/store"
)

func TestCreateAndSave(t *testing.T) {
	st, err := store.Open(t.TempDir(), 5)
	if err != nil {
		t.Fatal(err)
	}
	s := New(st)
	m, err := s.Create("pianoroll", "Tune")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := st.ReadFile(m.ID, SongFile)
	if checkSMF(SongFile, b) != nil {
		t.Fatal("a new project's song is not valid MIDI")
	}
	if _, err := s.Create("toon", "x"); protocol.CodeOf(err) != protocol.NotFound {
		t.Fatalf("unknown kind: %v", err)
	}
	v, err := s.Save(m.ID, SongFile, emptySong)
	if err != nil || v != 2 {
		t.Fatal(err, v)
	}
	for _, c := range []struct {
		file string
		data []byte
		code protocol.Code
	}{
		{SongFile, []byte("RIFF...."), protocol.BadInput},
		{SongFile, emptySong[:20], protocol.BadInput},
		{"other.bin", emptySong, protocol.BadInput},
		{ThumbFile, []byte{1}, protocol.BadInput},
	} {
		if _, err := s.Save(m.ID, c.file, c.data); protocol.CodeOf(err) != c.code {
			t.Errorf("save %s %q: %v", c.file, c.data[:4], err)
		}
	}
	if _, err := s.Save("pmissing", SongFile, emptySong); protocol.CodeOf(err) != protocol.NotFound {
		t.Errorf("missing project: %v", err)
	}
	if s.Label("pianoroll") != "Piano roll" {
		t.Fatal(s.Label("pianoroll"))
	}
}
