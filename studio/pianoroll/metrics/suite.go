package metrics

import (
	"fmt"

	"latentstudio/studio/pianoroll"
)

// Inpainter fills the masked cells of a window: it gets the window's notes (it must not look
// under the mask; CopyBefore shows how) and returns the whole window's notes.
type Inpainter func(window []pianoroll.Note, m Mask) ([]pianoroll.Note, error)

// Task is a named mask shape of the one-call tasks.
type Task struct {
	Name string
	Mask func(w int) Mask
}

// Tasks are the evaluation masks on a window of w steps (w = 512: 32 bars), fixed so that
// every model and baseline is scored on the same cells: four bars in the middle, the last
// quarter (continue), the lower and upper halves of the keyboard over the middle half of the
// window (accompany, melody), and a box of three octaves by eight bars.
func Tasks() []Task {
	q := func(w int) int { return w / 4 }
	return []Task{
		{"bars", func(w int) Mask {
			return NewMask(w).Box(0, 128, w/2-2*pianoroll.StepsPerBar, w/2+2*pianoroll.StepsPerBar)
		}},
		{"continue", func(w int) Mask { return NewMask(w).Box(0, 128, w-q(w), w) }},
		{"accompany", func(w int) Mask { return NewMask(w).Box(0, 60, q(w), w-q(w)) }},
		{"melody", func(w int) Mask { return NewMask(w).Box(60, 128, q(w), w-q(w)) }},
		{"box", func(w int) Mask {
			return NewMask(w).Box(48, 84, w/2-4*pianoroll.StepsPerBar, w/2+4*pianoroll.StepsPerBar)
		}},
	}
}

// Windows cuts a piece into whole windows of w steps (notes starting in each, durations cut at
// its end, steps relative to it), skipping windows with fewer than minNotes notes.
func Windows(notes []pianoroll.Note, steps, w, minNotes int) [][]pianoroll.Note {
	var out [][]pianoroll.Note
	for s := 0; s+w <= steps; s += w {
		var win []pianoroll.Note
		for _, n := range notes {
			if n.Start >= s && n.Start < s+w {
				n.Start -= s
				n.Dur = min(n.Dur, w-n.Start)
				win = append(win, n)
			}
		}
		if len(win) >= minNotes {
			out = append(out, pianoroll.Normalize(win))
		}
	}
	return out
}

// Run scores an inpainter on every window for every task.
func Run(windows [][]pianoroll.Note, w int, tasks []Task, inp Inpainter) (map[string][]Result, error) {
	out := map[string][]Result{}
	for _, task := range tasks {
		m := task.Mask(w)
		for i, win := range windows {
			gen, err := inp(win, m)
			if err != nil {
				return nil, fmt.Errorf("task %s window %d: %w", task.Name, i, err)
			}
			r, err := Evaluate(win, gen, m)
			if err != nil {
				return nil, err
			}
			out[task.Name] = append(out[task.Name], r)
		}
	}
	return out, nil
}
