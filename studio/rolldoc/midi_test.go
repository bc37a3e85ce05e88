package rolldoc

import (
	"bytes"
	"errors"
	"math"
	"os"
	"slices"
	"testing"

	"latentstudio/studio/pianoroll"
)

func TestMIDIRoundTrip(t *testing.T) {
	d := New()
	mustAdd(t, d, 0, 4, 60)
	mustAdd(t, d, 2, 7, 64)
	mustAdd(t, d, 30, 1, 127)
	d.SetTimeSignature(6, 8)
	d.SetTempo(0, 96)
	d.SetTempo(24, 140)
	d.SetLength(600)
	b, err := d.MIDI()
	if err != nil {
		t.Fatal(err)
	}
	back, err := FromMIDI(b)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(plainOf(back), plainOf(d)) {
		t.Fatalf("notes %v vs %v", plainOf(back), plainOf(d))
	}
	if !slices.Equal(back.Meter(), d.Meter()) || back.Length() != d.Length() {
		t.Fatalf("meter %v length %d vs %v %d", back.Meter(), back.Length(), d.Meter(), d.Length())
	}
	bt, dt := back.Tempos(), d.Tempos()
	if len(bt) != len(dt) {
		t.Fatalf("tempos %v vs %v", bt, dt)
	}
	for i := range bt {
		if bt[i].Step != dt[i].Step || math.Abs(bt[i].BPM-dt[i].BPM) > 0.01 {
			t.Fatalf("tempos %v vs %v", bt, dt)
		}
	}
	// and the file is what the pianoroll reader (the server's check) accepts
	if _, err := pianoroll.Parse(b); err != nil {
		t.Fatal(err)
	}
}

func TestEmptyDocIsAValidFile(t *testing.T) {
	b, err := New().MIDI()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pianoroll.Parse(b); !errors.Is(err, pianoroll.ErrNoNotes) {
		t.Fatalf("an empty song must read as a MIDI file without notes: %v", err)
	}
	d, err := FromMIDI(b)
	if err != nil || d.Len() != 0 || d.Length() != DefaultLength {
		t.Fatalf("empty: %v %d %d", err, d.Len(), d.Length())
	}
}

func TestFromMIDIExamples(t *testing.T) {
	for _, name := range []string{"bossa-nova-Cm-127bpm.mid", "pop-ballad-G-100bpm.mid"} {
		b, err := os.ReadFile("../../assets/examples/" + name)
		if err != nil {
			t.Skip(err)
		}
		d, err := FromMIDI(b)
		if err != nil {
			t.Fatal(name, err)
		}
		song, _ := pianoroll.Parse(b)
		if !slices.Equal(plainOf(d), song.Notes) || d.Len() == 0 {
			t.Fatalf("%s: notes differ from the reader's", name)
		}
		if err := invariants(d); err != nil {
			t.Fatal(err)
		}
		if d.CanUndo() {
			t.Fatal("opening a file is not an undo step")
		}
	}
}

func TestBadMIDIIsRefusedAndLosesNothing(t *testing.T) {
	good := New()
	mustAdd(t, good, 0, 4, 60)
	valid, _ := good.MIDI()
	cases := map[string]struct {
		data []byte
		want error
	}{
		"not midi":  {[]byte("RIFF....WAVEfmt "), ErrNotMIDI},
		"truncated": {valid[:len(valid)-10], ErrTruncated},
		"too large": {append(slices.Clone(valid), make([]byte, MaxImportBytes)...), ErrTooLarge},
		"corrupt":   {corrupt(valid), ErrCorrupt},
	}
	for name, c := range cases {
		if _, err := FromMIDI(c.data); err == nil || c.want != nil && !errors.Is(err, c.want) {
			t.Errorf("%s: FromMIDI error %v, want %v", name, err, c.want)
		}
		before := snapshot(good)
		if err := good.Import(c.data); err == nil {
			t.Errorf("%s: imported", name)
		}
		if diff := snapshot(good).diff(before); diff != "" || good.CanRedo() {
			t.Errorf("%s: a refused import changed the song: %s", name, diff)
		}
	}
	var long bytes.Buffer // a note past the song length limit
	pianoroll.Write(&long, &pianoroll.Song{Notes: []pianoroll.Note{{Start: MaxSteps + 10, Dur: 4, Pitch: 60, Vel: 90}}})
	if _, err := FromMIDI(long.Bytes()); !errors.Is(err, ErrTooLong) {
		t.Fatalf("too long: %v", err)
	}
	empty, _ := New().MIDI()
	if err := good.Import(empty); !errors.Is(err, ErrNoNotes) {
		t.Fatalf("importing an empty file over a song: %v", err)
	}
}

// corrupt keeps the chunk structure but breaks the first event.
func corrupt(b []byte) []byte {
	c := slices.Clone(b)
	i := bytes.Index(c, []byte("MTrk")) + 8
	c[i], c[i+1], c[i+2] = 0x00, 0xF4, 0xFF // undefined status
	for j := i + 3; j < len(c); j++ {
		c[j] = 0xF4
	}
	return c
}

func TestImportReplacesAsOneStep(t *testing.T) {
	d := New()
	a := mustAdd(t, d, 0, 4, 60)
	d.Select(a)
	d.MaskBox(0, 0, 7, 127, false)
	other := New()
	mustAdd(t, other, 8, 8, 40)
	mustAdd(t, other, 8, 8, 44)
	other.SetTimeSignature(3, 4)
	b, _ := other.MIDI()
	before := snapshot(d)
	sel := d.Selection()
	if err := d.Import(b); err != nil {
		t.Fatal(err)
	}
	if d.Len() != 2 || d.MaskCount() != 0 || len(d.Selection()) != 0 || d.Meter()[0].Num != 3 || d.UndoLabel() != "Import MIDI" {
		t.Fatalf("import: %d notes, mask %d, meter %v", d.Len(), d.MaskCount(), d.Meter())
	}
	roundTrip(t, d, before)
	d.Undo()
	if !slices.Equal(d.Selection(), sel) {
		t.Fatal("undo import restores the selection")
	}
}

func BenchmarkMIDI10kNotes(b *testing.B) {
	d := New()
	var ns []pianoroll.Note
	for i := range 10000 {
		ns = append(ns, pianoroll.Note{Start: i * 2, Dur: 2, Pitch: uint8(40 + i%40), Vel: 90})
	}
	d.AddNotes(ns)
	b.ResetTimer()
	for range b.N {
		d.MIDI()
	}
}

func BenchmarkMoveOneNoteIn10k(b *testing.B) {
	d := New()
	var ns []pianoroll.Note
	for i := range 10000 {
		ns = append(ns, pianoroll.Note{Start: i * 2, Dur: 2, Pitch: uint8(40 + i%40), Vel: 90})
	}
	ids, _ := d.AddNotes(ns)
	b.ResetTimer()
	for i := range b.N {
		d.MoveNotes(ids[5000:5001], 1-2*(i%2), 0)
	}
}

// FuzzFromMIDI: any bytes give a document or an error, never a panic; a document read writes
// a file that reads back to the same notes.
func FuzzFromMIDI(f *testing.F) {
	d := New()
	d.AddNote(pianoroll.Note{Start: 0, Dur: 4, Pitch: 60, Vel: 90})
	d.SetTimeSignature(3, 4)
	b, _ := d.MIDI()
	f.Add(b)
	e, _ := New().MIDI()
	f.Add(e)
	if ex, err := os.ReadFile("../../assets/examples/bossa-nova-Cm-127bpm.mid"); err == nil {
		f.Add(ex[:min(len(ex), 2000)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := FromMIDI(data)
		if err != nil {
			return
		}
		if err := invariants(d); err != nil {
			t.Fatal(err)
		}
		out, err := d.MIDI()
		if err != nil {
			t.Fatal(err)
		}
		back, err := FromMIDI(out)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(back.PlainNotes(), d.PlainNotes()) || back.Length() != d.Length() || !slices.Equal(back.Meter(), d.Meter()) {
			t.Fatalf("round trip: %d notes len %d %v -> %d notes len %d %v", d.Len(), d.Length(), d.Meter(), back.Len(), back.Length(), back.Meter())
		}
	})
}

func TestReplaceSongTakesAnEmptySong(t *testing.T) {
	d := New()
	mustAdd(t, d, 0, 4, 60)
	empty, _ := New().MIDI()
	if err := d.ReplaceSong(empty); err != nil || d.Len() != 0 {
		t.Fatalf("%v, %d notes", err, d.Len())
	}
	d.Undo()
	if d.Len() != 1 {
		t.Fatal("undo")
	}
}
