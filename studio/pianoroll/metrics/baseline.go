package metrics

import (
	"fmt"
	"math"

	"latentstudio/studio/pianoroll"
)

// CopyBefore is the trivial inpainter the model must beat: every masked cell takes the value
// of the same pitch L steps earlier, where L is the mask's time span rounded up to whole bars
// (so the bars just before the mask are repeated into it); where that is before the window it
// takes the cell L steps later instead. Only cells outside the mask are read, so passing the
// whole truth reveals nothing of what the mask hides. Returns the whole window's notes.
func CopyBefore(notes []pianoroll.Note, m Mask) ([]pianoroll.Note, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	img, err := CopyBeforeImage(pianoroll.Image(notes, 0, m.W), m)
	if err != nil {
		return nil, err
	}
	return pianoroll.FromImage(img, m.W, 0)
}

// CopyBeforeImage is CopyBefore on a roll image of width m.W; cells outside the mask come back
// unchanged, bit for bit.
func CopyBeforeImage(in []float32, m Mask) ([]float32, error) {
	if err := m.check(); err != nil {
		return nil, err
	}
	w := m.W
	plane := pianoroll.Pitches * w
	if len(in) != pianoroll.Channels*plane {
		return nil, fmt.Errorf("roll image of %d values, want %d", len(in), pianoroll.Channels*plane)
	}
	img := append([]float32(nil), in...)
	t0, t1 := w, -1
	for p := 0; p < pianoroll.Pitches; p++ {
		for t := 0; t < w; t++ {
			if m.Cells[p*w+t] {
				for c := 0; c < pianoroll.Channels; c++ {
					img[c*plane+p*w+t] = -1 // hidden
				}
				t0, t1 = min(t0, t), max(t1, t)
			}
		}
	}
	if t1 < 0 {
		return img, nil
	}
	span := t1 - t0 + 1
	l := int(math.Ceil(float64(span)/pianoroll.StepsPerBar)) * pianoroll.StepsPerBar
	// ascending time: a source inside the mask L steps back was filled already
	for t := t0; t <= t1; t++ {
		src := t - l
		if src < 0 {
			src = t + l
		}
		if src >= w {
			continue
		}
		for p := 0; p < pianoroll.Pitches; p++ {
			if !m.Cells[p*w+t] {
				continue
			}
			for c := 0; c < pianoroll.Channels; c++ {
				img[c*plane+p*w+t] = img[c*plane+p*w+src]
			}
		}
	}
	return img, nil
}

// Field is one named score.
type Field struct {
	Name  string
	Value float64
}

// Fields lists a result's scores in table order.
func (r Result) Fields() []Field {
	return []Field{
		{"D_P", r.DP}, {"D_D", r.DD}, {"KL_P", r.KLP}, {"KL_D", r.KLD},
		{"σ_P", r.SigmaP}, {"σ_P truth", r.SigmaPTruth}, {"IQR_D", r.IQRD}, {"IQR_D truth", r.IQRDTruth},
		{"fill", r.Fill}, {"fill truth", r.FillTruth}, {"leak cells", float64(r.Leak)},
		{"PCH ∩ context", r.PCH}, {"PCH ∩ context truth", r.PCHTruth},
		{"onsets/step in", r.OnsetIn}, {"onsets/step in truth", r.OnsetInTruth},
		{"onsets/step out", r.OnsetOut}, {"onsets/step out truth", r.OnsetOutTruth},
		{"notes in mask", float64(r.Notes)}, {"notes in mask truth", float64(r.NotesTruth)},
		{"bars scored", float64(r.Bars)}, {"one-sided bars", float64(r.OneSidedBars)},
	}
}

// Mean averages each score over results, skipping NaN (a score undefined for a window); counts
// (leak, notes, bars) are averaged too. n is how many results had each score defined.
func Mean(rs []Result) (mean []Field, n []int) {
	if len(rs) == 0 {
		return nil, nil
	}
	mean = rs[0].Fields()
	n = make([]int, len(mean))
	for i := range mean {
		mean[i].Value = 0
	}
	for _, r := range rs {
		for i, f := range r.Fields() {
			if !math.IsNaN(f.Value) {
				mean[i].Value += f.Value
				n[i]++
			}
		}
	}
	for i := range mean {
		if n[i] == 0 {
			mean[i].Value = math.NaN()
		} else {
			mean[i].Value /= float64(n[i])
		}
	}
	return mean, n
}
