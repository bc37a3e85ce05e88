package main

import (
	"strings"
	"testing"

	"latentstudio/studio/pianoroll"
)

func scaleNotes(tonic int, steps []int, weights map[int]int) []pianoroll.Note {
	var ns []pianoroll.Note
	t := 0
	for _, s := range steps {
		d := 2 + weights[s]
		ns = append(ns, pianoroll.Note{Start: t, Dur: d, Pitch: uint8(60 + tonic + s), Vel: 80})
		t += d
	}
	return ns
}

// The listening check's key finder names the key of plain scales with their tonic and
// dominant held longer, and its scale holds their notes.
func TestEstimateKey(t *testing.T) {
	stress := map[int]int{0: 8, 7: 4}
	cases := []struct {
		notes []pianoroll.Note
		want  string
	}{
		{scaleNotes(0, []int{0, 2, 4, 5, 7, 9, 11}, stress), "C major"},
		{scaleNotes(7, []int{0, 2, 4, 5, 7, 9, 11}, stress), "G major"},
		{scaleNotes(9, []int{0, 2, 3, 5, 7, 8, 11}, map[int]int{0: 8, 7: 4, 3: 4}), "A minor"},
	}
	for _, c := range cases {
		got, scale := estimateKey(c.notes)
		if !strings.HasPrefix(got, c.want) {
			t.Errorf("key %q, want %s", got, c.want)
		}
		for _, n := range c.notes {
			if !scale[n.Pitch%12] {
				t.Errorf("%s: pitch class %d outside the scale", c.want, n.Pitch%12)
			}
		}
	}
	if bpmFromName("mma/00757-PopBallad2Plus-G-100") != 100 || bpmFromName("freedoom/D_E2M9") != pianoroll.DefaultBPM {
		t.Error("tempo from an mma corpus name")
	}
}
