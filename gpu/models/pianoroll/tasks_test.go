package pianoroll

import (
	"errors"
	"testing"
)

func TestTaskMasks(t *testing.T) {
	const steps = 512
	cont, _ := ContinueMask(steps, 256)
	bars, _ := BarsMask(steps, 9, 12)
	acc, _ := AccompanyMask(steps, 60)
	mel, _ := MelodyMask(steps, 60)
	box, _ := BoxMask(steps, 48, 72, 64, 128)
	for name, tc := range map[string]struct {
		m    *Mask
		want int
		in   [2]int // a (pitch, step) that must be generated
		out  [2]int // and one that must be kept
	}{
		"continue":  {cont, 128 * 256, [2]int{0, 256}, [2]int{127, 255}},
		"bars 9-12": {bars, 128 * 64, [2]int{60, 128}, [2]int{60, 192}},
		"accompany": {acc, 60 * steps, [2]int{59, 0}, [2]int{60, 0}},
		"melody":    {mel, 68 * steps, [2]int{60, 511}, [2]int{59, 511}},
		"box":       {box, 24 * 64, [2]int{48, 64}, [2]int{72, 64}},
	} {
		if got := tc.m.Count(); got != tc.want {
			t.Errorf("%s: %d cells, want %d", name, got, tc.want)
		}
		if tc.m.Cells[tc.in[0]*steps+tc.in[1]] != 1 || tc.m.Cells[tc.out[0]*steps+tc.out[1]] != 0 {
			t.Errorf("%s: wrong edge", name)
		}
	}
	keep, _ := BoxMask(steps, 0, 128, 256, 300)
	re, err := Remask(cont, keep)
	if err != nil || re.Count() != 128*(256-44) {
		t.Errorf("remask: %v, %d cells", err, re.Count())
	}
	for name, err := range map[string]error{
		"continue at 0": func() error { _, e := ContinueMask(steps, 0); return e }(),
		"bar 33":        func() error { _, e := BarsMask(steps, 30, 33); return e }(),
		"line 128":      func() error { _, e := MelodyMask(steps, 128); return e }(),
		"empty box":     func() error { _, e := BoxMask(steps, 5, 5, 0, 10); return e }(),
		"remask size":   func() error { _, e := Remask(cont, NewMask(256)); return e }(),
	} {
		if !errors.Is(err, ErrBadTask) {
			t.Errorf("%s: got %v, want ErrBadTask", name, err)
		}
	}
}
