package pianoroll

import (
	"reflect"
	"testing"
)

func TestSpliceWindow(t *testing.T) {
	orig := []Note{
		{Start: 0, Dur: 20, Pitch: 60, Vel: 90},  // starts before the window and sounds into it
		{Start: 18, Dur: 2, Pitch: 64, Vel: 80},  // inside: replaced by the window's notes
		{Start: 30, Dur: 10, Pitch: 67, Vel: 70}, // inside, runs past the end: keeps its length
		{Start: 40, Dur: 4, Pitch: 72, Vel: 60},  // after the window: kept
	}
	// The model's window [16, 32): the tail of the first note (no onset of its own in the
	// image, read back as a note at the window's start), a new note, the cut long note.
	gen := []Note{
		{Start: 16, Dur: 4, Pitch: 60, Vel: 90},
		{Start: 20, Dur: 3, Pitch: 62, Vel: 100},
		{Start: 30, Dur: 2, Pitch: 67, Vel: 70},
	}
	got := SpliceWindow(orig, gen, 16, 16)
	want := []Note{
		{Start: 0, Dur: 20, Pitch: 60, Vel: 90},
		{Start: 20, Dur: 3, Pitch: 62, Vel: 100},
		{Start: 30, Dur: 10, Pitch: 67, Vel: 70},
		{Start: 40, Dur: 4, Pitch: 72, Vel: 60},
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got %v\nwant %v", got, want)
	}
}
