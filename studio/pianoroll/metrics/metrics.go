// Package metrics scores piano-roll inpainting: how the notes generated inside a mask compare
// with the ground truth there and with the context around it. Every function is pure, over
// notes on the step grid and a mask of the same window.
//
// Definitions (sources in DefinitionsSource):
//   - D_P, D_D: per 16-step bar of the mask, fit a Gaussian to the pitches (durations) of the
//     notes that start in the masked cells of that bar, for the truth and for the generated
//     notes, and take the overlapping area of the two densities; average over bars. This is the
//     frame statistic of Mittal et al. 2021 (symbolic-music-diffusion), used per bar as in
//     Polyffusion (Min et al. 2023) and Pictures of MIDI (Hawley 2024, Table 1).
//   - KL_P, KL_D: the closed-form KL divergence KL(truth ‖ generated) of the same Gaussians,
//     averaged over the same bars.
//   - Pooled: the same OA and KL with one Gaussian fitted to all masked notes of a whole
//     evaluation set (truth against generated), which is what a set-level number such as
//     Pictures of MIDI's KL_P = 0.036 can be compared with more fairly than the per-bar mean.
//   - σ_P: the standard deviation of generated pitches in the mask; IQR_D: the interquartile
//     range of generated durations there (both also given for the truth).
//   - Fill: sounding masked cells / masked cells. Leak: cells outside the mask whose sounding
//     differs from the input (must be 0). On notes only sounding is compared: a note that
//     crosses the mask's edge may come back from the image split or merged, which moves an
//     onset or averages a velocity without any cell changing. LeakImage compares every channel
//     of two roll images, for inpainters that work on images.
//   - PCH: histogram intersection Σ min(p, q) of the 12-bin pitch-class histograms (weighted by
//     sounding cells) of the notes in the mask and of the context outside it.
//   - Onset density: onsets per step, inside the mask (per masked time column) and outside it.
package metrics

import (
	"fmt"
	"math"
	"sort"

	"latentstudio/studio/pianoroll"
)

// DefinitionsSource names where the definitions come from, for reports.
const DefinitionsSource = "OA/KL of per-bar Gaussian pitch and duration fits: Mittal et al. 2021 frame statistics, as used by Polyffusion (Min et al. 2023) and Pictures of MIDI (Hawley 2024); σ_P, IQR_D as in Pictures of MIDI"

// MinSigma floors a fitted standard deviation (in semitones or steps): a bar of one note,
// or of one repeated pitch, would otherwise be a spike whose overlap with anything else is 0
// and whose KL is infinite. Half a grid unit is the resolution of the data.
const MinSigma = 0.5

// Mask marks the cells of a window to generate: Cells[p*W+t] for pitch p, step t.
type Mask struct {
	W     int
	Cells []bool
}

// NewMask makes an empty mask of width w.
func NewMask(w int) Mask { return Mask{W: w, Cells: make([]bool, pianoroll.Pitches*w)} }

// At says whether a cell is masked; cells off the window are not.
func (m Mask) At(p, t int) bool {
	return p >= 0 && p < pianoroll.Pitches && t >= 0 && t < m.W && m.Cells[p*m.W+t]
}

// Box masks pitches [p0,p1) × steps [t0,t1).
func (m Mask) Box(p0, p1, t0, t1 int) Mask {
	for p := max(p0, 0); p < min(p1, pianoroll.Pitches); p++ {
		for t := max(t0, 0); t < min(t1, m.W); t++ {
			m.Cells[p*m.W+t] = true
		}
	}
	return m
}

func (m Mask) check() error {
	if m.W <= 0 || len(m.Cells) != pianoroll.Pitches*m.W {
		return fmt.Errorf("mask: %d cells, want 128×%d", len(m.Cells), m.W)
	}
	return nil
}

// Gaussian is a normal distribution.
type Gaussian struct{ Mu, Sigma float64 }

// Fit is the mean and population standard deviation of xs, σ floored at MinSigma.
func Fit(xs []float64) Gaussian {
	if len(xs) == 0 {
		return Gaussian{math.NaN(), math.NaN()}
	}
	var s float64
	for _, x := range xs {
		s += x
	}
	mu := s / float64(len(xs))
	var v float64
	for _, x := range xs {
		v += (x - mu) * (x - mu)
	}
	return Gaussian{mu, math.Max(math.Sqrt(v/float64(len(xs))), MinSigma)}
}

func (g Gaussian) cdf(x float64) float64 {
	return 0.5 * (1 + math.Erf((x-g.Mu)/(g.Sigma*math.Sqrt2)))
}

// Overlap is the area under both densities, ∫ min(f, g): 1 for equal Gaussians, → 0 for far
// apart ones. The densities cross at up to two points found in closed form (Inman & Bradley
// 1989); the area follows from the CDFs there.
func Overlap(a, b Gaussian) float64 {
	if b.Sigma < a.Sigma || (b.Sigma == a.Sigma && b.Mu < a.Mu) {
		a, b = b, a
	}
	va, vb := a.Sigma*a.Sigma, b.Sigma*b.Sigma
	dm := math.Abs(b.Mu - a.Mu)
	dv := vb - va
	if dv == 0 {
		return 1 - math.Erf(dm/(2*a.Sigma*math.Sqrt2))
	}
	p := a.Mu*vb - b.Mu*va
	q := a.Sigma * b.Sigma * math.Sqrt(dm*dm+dv*math.Log(vb/va))
	x1, x2 := (p+q)/dv, (p-q)/dv
	return 1 - (math.Abs(b.cdf(x1)-a.cdf(x1)) + math.Abs(b.cdf(x2)-a.cdf(x2)))
}

// KL is KL(p ‖ q) for Gaussians, in nats.
func KL(p, q Gaussian) float64 {
	return math.Log(q.Sigma/p.Sigma) + (p.Sigma*p.Sigma+(p.Mu-q.Mu)*(p.Mu-q.Mu))/(2*q.Sigma*q.Sigma) - 0.5
}

// Std is the population standard deviation (0 for fewer than two values; NaN for none).
func Std(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	g := Fit(xs)
	var v float64
	for _, x := range xs {
		v += (x - g.Mu) * (x - g.Mu)
	}
	return math.Sqrt(v / float64(len(xs)))
}

// IQR is the 75th minus the 25th percentile, interpolating linearly between order statistics
// (numpy's default).
func IQR(xs []float64) float64 {
	if len(xs) == 0 {
		return math.NaN()
	}
	s := append([]float64(nil), xs...)
	sort.Float64s(s)
	q := func(f float64) float64 {
		pos := f * float64(len(s)-1)
		i := int(pos)
		if i+1 >= len(s) {
			return s[len(s)-1]
		}
		return s[i] + (pos-float64(i))*(s[i+1]-s[i])
	}
	return q(0.75) - q(0.25)
}

// Result holds the scores of one inpainted window. NaN means "not defined here" (no notes
// on a side, no bar with notes on both sides).
type Result struct {
	DP, DD, KLP, KLD float64 // means over Bars
	Bars             int     // bars with notes in the mask on both sides
	OneSidedBars     int     // bars where only one side has notes in the mask (not in the means)

	SigmaP, SigmaPTruth float64
	IQRD, IQRDTruth     float64
	Notes, NotesTruth   int // notes starting in the mask

	Fill, FillTruth float64 // sounding masked cells / masked cells
	Leak            int     // cells outside the mask sounding differently from the truth

	PCH, PCHTruth float64 // pitch-class histogram intersection of the mask's notes with the context

	OnsetIn, OnsetInTruth   float64 // onsets in the mask per masked step column
	OnsetOut, OnsetOutTruth float64 // onsets outside the mask per step

	// pitches and durations of the notes in the mask, for Pooled
	genP, genD, truthP, truthD []float64
}

// inMask are the notes whose first cell is masked.
func inMask(notes []pianoroll.Note, m Mask) []pianoroll.Note {
	var out []pianoroll.Note
	for _, n := range notes {
		if m.At(int(n.Pitch), n.Start) {
			out = append(out, n)
		}
	}
	return out
}

// Evaluate scores generated notes against the truth for one window of mask.W steps (notes in
// window steps; parts outside [0, W) are ignored). gen is the whole output: context and
// generated notes together, as the sampler returns it.
func Evaluate(truth, gen []pianoroll.Note, m Mask) (Result, error) {
	if err := m.check(); err != nil {
		return Result{}, err
	}
	w := m.W
	plane := pianoroll.Pitches * w
	ti := pianoroll.Image(truth, 0, w)
	gi := pianoroll.Image(gen, 0, w)
	r := Result{}

	// cells: fill inside, leakage outside
	var masked, fillG, fillT int
	for i, on := range m.Cells {
		gs, ts := gi[pianoroll.ChanSustain*plane+i] > 0, ti[pianoroll.ChanSustain*plane+i] > 0
		if on {
			masked++
			if gs {
				fillG++
			}
			if ts {
				fillT++
			}
			continue
		}
		if gs != ts {
			r.Leak++
		}
	}
	r.Fill, r.FillTruth = ratio(fillG, masked), ratio(fillT, masked)

	gIn, tIn := inMask(clip(gen, w), m), inMask(clip(truth, w), m)
	r.Notes, r.NotesTruth = len(gIn), len(tIn)
	pitches := func(ns []pianoroll.Note) []float64 {
		out := make([]float64, len(ns))
		for i, n := range ns {
			out[i] = float64(n.Pitch)
		}
		return out
	}
	durs := func(ns []pianoroll.Note) []float64 {
		out := make([]float64, len(ns))
		for i, n := range ns {
			out[i] = float64(n.Dur)
		}
		return out
	}
	r.genP, r.genD, r.truthP, r.truthD = pitches(gIn), durs(gIn), pitches(tIn), durs(tIn)
	r.SigmaP, r.SigmaPTruth = Std(pitches(gIn)), Std(pitches(tIn))
	r.IQRD, r.IQRDTruth = IQR(durs(gIn)), IQR(durs(tIn))

	// per bar of the mask
	nb := (w + pianoroll.StepsPerBar - 1) / pianoroll.StepsPerBar
	byBar := func(ns []pianoroll.Note) [][]pianoroll.Note {
		out := make([][]pianoroll.Note, nb)
		for _, n := range ns {
			out[n.Start/pianoroll.StepsPerBar] = append(out[n.Start/pianoroll.StepsPerBar], n)
		}
		return out
	}
	gb, tb := byBar(gIn), byBar(tIn)
	var dp, dd, klp, kld float64
	for b := 0; b < nb; b++ {
		switch {
		case len(gb[b]) > 0 && len(tb[b]) > 0:
			gp, tp := Fit(pitches(gb[b])), Fit(pitches(tb[b]))
			gd, td := Fit(durs(gb[b])), Fit(durs(tb[b]))
			dp += Overlap(gp, tp)
			dd += Overlap(gd, td)
			klp += KL(tp, gp)
			kld += KL(td, gd)
			r.Bars++
		case len(gb[b]) > 0 || len(tb[b]) > 0:
			r.OneSidedBars++
		}
	}
	r.DP, r.DD, r.KLP, r.KLD = div(dp, r.Bars), div(dd, r.Bars), div(klp, r.Bars), div(kld, r.Bars)

	// pitch classes of the mask's cells against the context's cells
	var ctx, gh, th [12]float64
	for p := 0; p < pianoroll.Pitches; p++ {
		for t := 0; t < w; t++ {
			i := p*w + t
			switch {
			case !m.Cells[i] && ti[pianoroll.ChanSustain*plane+i] > 0:
				ctx[p%12]++
			case m.Cells[i]:
				if gi[pianoroll.ChanSustain*plane+i] > 0 {
					gh[p%12]++
				}
				if ti[pianoroll.ChanSustain*plane+i] > 0 {
					th[p%12]++
				}
			}
		}
	}
	r.PCH, r.PCHTruth = Intersection(gh[:], ctx[:]), Intersection(th[:], ctx[:])

	// onset density
	cols := 0
	for t := 0; t < w; t++ {
		for p := 0; p < pianoroll.Pitches; p++ {
			if m.Cells[p*w+t] {
				cols++
				break
			}
		}
	}
	var inG, inT, outG, outT int
	for i, on := range m.Cells {
		g, t := gi[i] > 0, ti[i] > 0
		switch {
		case on && g:
			inG++
		case !on && g:
			outG++
		}
		switch {
		case on && t:
			inT++
		case !on && t:
			outT++
		}
	}
	r.OnsetIn, r.OnsetInTruth = ratio(inG, cols), ratio(inT, cols)
	r.OnsetOut, r.OnsetOutTruth = ratio(outG, w), ratio(outT, w)
	return r, nil
}

// LeakImage counts cells outside the mask where any channel of two roll images (as
// pianoroll.Image makes them, width m.W) differs: exactly 0 for a correct image inpainter.
func LeakImage(in, out []float32, m Mask) (int, error) {
	if err := m.check(); err != nil {
		return 0, err
	}
	plane := pianoroll.Pitches * m.W
	if len(in) != pianoroll.Channels*plane || len(out) != len(in) {
		return 0, fmt.Errorf("roll images of %d and %d values, want %d", len(in), len(out), pianoroll.Channels*plane)
	}
	n := 0
	for i, on := range m.Cells {
		if on {
			continue
		}
		for c := 0; c < pianoroll.Channels; c++ {
			if in[c*plane+i] != out[c*plane+i] {
				n++
				break
			}
		}
	}
	return n, nil
}

// Intersection is Σ min(p_i, q_i) of two histograms normalized to sum 1: 1 for the same
// shape, 0 for disjoint supports; NaN if either is empty.
func Intersection(p, q []float64) float64 {
	var sp, sq float64
	for i := range p {
		sp += p[i]
		sq += q[i]
	}
	if sp == 0 || sq == 0 {
		return math.NaN()
	}
	var s float64
	for i := range p {
		s += math.Min(p[i]/sp, q[i]/sq)
	}
	return s
}

// clip keeps notes that start inside [0, w).
func clip(ns []pianoroll.Note, w int) []pianoroll.Note {
	var out []pianoroll.Note
	for _, n := range ns {
		if n.Start >= 0 && n.Start < w {
			out = append(out, n)
		}
	}
	return out
}

func ratio(a, b int) float64 {
	if b == 0 {
		return math.NaN()
	}
	return float64(a) / float64(b)
}

func div(a float64, n int) float64 {
	if n == 0 {
		return math.NaN()
	}
	return a / float64(n)
}

// PooledScores are set-level scores: one Gaussian per side over every note in every mask.
type PooledScores struct{ DP, DD, KLP, KLD float64 }

// Pooled computes PooledScores over results (NaN where a side has no notes at all).
func Pooled(rs []Result) PooledScores {
	var gp, gd, tp, td []float64
	for _, r := range rs {
		gp, gd = append(gp, r.genP...), append(gd, r.genD...)
		tp, td = append(tp, r.truthP...), append(td, r.truthD...)
	}
	if len(gp) == 0 || len(tp) == 0 {
		return PooledScores{math.NaN(), math.NaN(), math.NaN(), math.NaN()}
	}
	g1, g2, t1, t2 := Fit(gp), Fit(gd), Fit(tp), Fit(td)
	return PooledScores{Overlap(g1, t1), Overlap(g2, t2), KL(t1, g1), KL(t2, g2)}
}
