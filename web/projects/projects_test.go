package projects

import (
	"bytes"
	"image/png"
	"testing"

	"latentstudio/studio/pianoroll"
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
	if checkSong(SongFile, b) != nil {
		t.Fatal("a new project's song is not valid MIDI")
	}
	if _, err := s.Create("toon", "x"); protocol.CodeOf(err) != protocol.NotFound {
		t.Fatalf("unknown kind: %v", err)
	}
	if _, err := st.ReadFile(m.ID, ThumbFile); err != nil {
		t.Fatal("a new piano roll has no thumbnail:", err)
	}
	// A song with notes: its thumbnail shows them.
	var mid bytes.Buffer
	if err := pianoroll.Write(&mid, &pianoroll.Song{Notes: []pianoroll.Note{{Start: 0, Dur: 8, Pitch: 60, Vel: 100}}, Steps: 16}); err != nil {
		t.Fatal(err)
	}
	v, err := s.Save(m.ID, SongFile, mid.Bytes())
	if err != nil || v != 2 {
		t.Fatal(err, v)
	}
	tb, _ := s.Thumbnail(m.ID)
	img, err := png.Decode(bytes.NewReader(tb))
	if err != nil || img.Bounds().Dx() != thumbSteps || img.Bounds().Dy() != 128 {
		t.Fatalf("thumbnail: %v %v", err, img.Bounds())
	}
	if r, g, _, _ := img.At(2, 127-60).RGBA(); g == 0 || r != 0 {
		t.Fatalf("pitch 60 at step 2 not drawn as sustain: %v %v", r, g)
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
