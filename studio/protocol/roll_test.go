package protocol

import (
	"errors"
	"math/rand/v2"
	"slices"
	"testing"
)

func TestMaskRoundTrip(t *testing.T) {
	r := rand.New(rand.NewPCG(1, 2))
	for _, steps := range []int{1, 3, 16, 512} {
		cells := make([]bool, RollPitches*steps)
		for i := range cells {
			cells[i] = r.IntN(3) == 0
		}
		got, err := DecodeMask(EncodeMask(cells), steps)
		if err != nil || !slices.Equal(got, cells) {
			t.Fatalf("steps %d: round trip failed (%v)", steps, err)
		}
	}
}

func TestRollInpaintValidate(t *testing.T) {
	ok := RollInpaint{Notes: RollNotes{0, 4, 60, 100}, Steps: 16, Mask: EncodeMask(make([]bool, 128*16)), Candidates: 4, Repaint: 2, Percentile: 0.5}
	if err := ok.Validate(); err != nil {
		t.Fatalf("valid request refused: %v", err)
	}
	bad := map[string]func(r *RollInpaint){
		"wrong mask size": func(r *RollInpaint) { r.Mask = EncodeMask(make([]bool, 128*15)) },
		"not base64":      func(r *RollInpaint) { r.Mask = "%%" },
		"ragged notes":    func(r *RollInpaint) { r.Notes = RollNotes{1, 2, 3} },
		"pitch 128":       func(r *RollInpaint) { r.Notes = RollNotes{0, 4, 128, 100} },
		"zero duration":   func(r *RollInpaint) { r.Notes = RollNotes{0, 0, 60, 100} },
		"too many cands":  func(r *RollInpaint) { r.Candidates = 65 },
		"repaint 11":      func(r *RollInpaint) { r.Repaint = 11 },
		"percentile 2":    func(r *RollInpaint) { r.Percentile = 2 },
		"zero steps":      func(r *RollInpaint) { r.Steps = 0 },
		"huge window":     func(r *RollInpaint) { r.Steps = RollMaxSteps + 1 },
	}
	for name, f := range bad {
		r := ok
		f(&r)
		var pe *Error
		if err := r.Validate(); !errors.As(err, &pe) {
			t.Errorf("%s: got %v, want a typed error", name, err)
		}
	}
}
