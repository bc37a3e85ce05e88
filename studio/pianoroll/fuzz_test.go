package pianoroll

import (
	"bytes"
	"reflect"
	"testing"
)

// FuzzParse: the reader never panics, and whatever it accepts is a normalized song within the
// limits that survives a write and a second read unchanged. Seeds live in testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Add([]byte("MThd\x00\x00\x00\x06\x00\x00\x00\x01\x01\xe0MTrk\x00\x00\x00\x0c\x00\x90\x3c\x40\x83\x60\x80\x3c\x00\x00\xff\x2f\x00"))
	f.Fuzz(func(t *testing.T, data []byte) {
		song, err := Parse(data)
		if err != nil {
			return
		}
		if len(song.Notes) == 0 || song.Steps > MaxSteps || song.Steps != NotesEnd(song.Notes) {
			t.Fatalf("accepted song out of bounds: %d notes, %d steps", len(song.Notes), song.Steps)
		}
		if !reflect.DeepEqual(Normalize(song.Notes), song.Notes) {
			t.Fatal("accepted notes are not normalized")
		}
		var buf bytes.Buffer
		if err := Write(&buf, song); err != nil {
			t.Fatal(err)
		}
		again, err := Parse(buf.Bytes())
		if err != nil {
			t.Fatalf("reading our own file: %v", err)
		}
		if !reflect.DeepEqual(again.Notes, song.Notes) {
			t.Fatal("notes changed through write and read")
		}
	})
}
