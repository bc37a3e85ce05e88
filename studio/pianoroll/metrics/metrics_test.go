package metrics

import (
	"math"
	"reflect"
	"testing"

	"latentstudio/studio/pianoroll"
)

func nt(start, dur, pitch, vel int) pianoroll.Note {
	return pianoroll.Note{Start: start, Dur: dur, Pitch: uint8(pitch), Vel: uint8(vel)}
}

func near(t *testing.T, name string, got, want, tol float64) {
	t.Helper()
	if math.IsNaN(got) != math.IsNaN(want) || math.Abs(got-want) > tol {
		t.Errorf("%s = %v, want %v", name, got, want)
	}
}

// numeric ∫ min(f, g) on a fine grid, to check the closed form against
func overlapNumeric(a, b Gaussian) float64 {
	pdf := func(g Gaussian, x float64) float64 {
		z := (x - g.Mu) / g.Sigma
		return math.Exp(-z*z/2) / (g.Sigma * math.Sqrt(2*math.Pi))
	}
	lo := math.Min(a.Mu-10*a.Sigma, b.Mu-10*b.Sigma)
	hi := math.Max(a.Mu+10*a.Sigma, b.Mu+10*b.Sigma)
	const n = 200000
	h := (hi - lo) / n
	s := 0.0
	for i := 0; i < n; i++ {
		x := lo + (float64(i)+0.5)*h
		s += math.Min(pdf(a, x), pdf(b, x))
	}
	return s * h
}

func TestOverlap(t *testing.T) {
	near(t, "same", Overlap(Gaussian{60, 3}, Gaussian{60, 3}), 1, 1e-12)
	// equal widths one σ apart: 2Φ(-1/2)
	near(t, "shifted", Overlap(Gaussian{0, 1}, Gaussian{1, 1}), 0.6170750774519738, 1e-9)
	cases := [][2]Gaussian{
		{{0, 1}, {0, 2}},
		{{60, 2}, {67, 5}},
		{{4, 0.5}, {2, 3}},
		{{10, 1}, {40, 1.5}},
	}
	for _, c := range cases {
		want := overlapNumeric(c[0], c[1])
		near(t, "overlap", Overlap(c[0], c[1]), want, 1e-6)
		near(t, "symmetric", Overlap(c[1], c[0]), want, 1e-6)
	}
}

func TestKL(t *testing.T) {
	near(t, "same", KL(Gaussian{3, 2}, Gaussian{3, 2}), 0, 1e-12)
	near(t, "shift", KL(Gaussian{0, 1}, Gaussian{1, 1}), 0.5, 1e-12)
	near(t, "wider", KL(Gaussian{0, 1}, Gaussian{0, 2}), math.Ln2+1.0/8-0.5, 1e-12)
	near(t, "narrower", KL(Gaussian{0, 2}, Gaussian{0, 1}), -math.Ln2+2-0.5, 1e-12)
}

func TestStatistics(t *testing.T) {
	near(t, "std", Std([]float64{2, 4, 4, 4, 5, 5, 7, 9}), 2, 1e-12)
	near(t, "iqr", IQR([]float64{4, 1, 3, 2}), 1.5, 1e-12) // numpy: 3.25 - 1.75
	near(t, "iqr one", IQR([]float64{7}), 0, 0)
	near(t, "iqr none", IQR(nil), math.NaN(), 0)
	if g := Fit([]float64{60, 60, 60}); g.Mu != 60 || g.Sigma != MinSigma {
		t.Errorf("fit of a constant %+v", g)
	}
	near(t, "intersection", Intersection([]float64{1, 1, 0}, []float64{2, 0, 2}), 0.5, 1e-12)
	near(t, "intersection empty", Intersection([]float64{0, 0}, []float64{1, 0}), math.NaN(), 0)
}

func TestEvaluatePerfect(t *testing.T) {
	truth := []pianoroll.Note{nt(0, 8, 48, 90), nt(16, 4, 60, 100), nt(20, 4, 64, 80), nt(24, 2, 67, 70), nt(40, 8, 55, 60)}
	m := NewMask(64).Box(0, 128, 16, 32)
	r, err := Evaluate(truth, truth, m)
	if err != nil {
		t.Fatal(err)
	}
	near(t, "D_P", r.DP, 1, 1e-12)
	near(t, "D_D", r.DD, 1, 1e-12)
	near(t, "KL_P", r.KLP, 0, 1e-12)
	near(t, "KL_D", r.KLD, 0, 1e-12)
	if r.Leak != 0 || r.Bars != 1 || r.Notes != 3 || r.NotesTruth != 3 || r.Fill != r.FillTruth || r.PCH != r.PCHTruth {
		t.Fatalf("perfect result %+v", r)
	}
	near(t, "fill", r.Fill, 10.0/(128*16), 1e-12)
}

func TestEvaluateKnownAnswers(t *testing.T) {
	// context: C3 and G3, 8 steps each, before and after the masked bar 1 (steps 16..31)
	ctx := []pianoroll.Note{nt(0, 8, 48, 90), nt(8, 8, 55, 90), nt(32, 8, 48, 90), nt(40, 8, 55, 90)}
	truth := append(append([]pianoroll.Note{}, ctx...), nt(16, 4, 60, 100), nt(20, 4, 64, 100))
	// the model put the same rhythm an octave higher, and wrongly touched one context cell
	gen := append(append([]pianoroll.Note{}, ctx...), nt(16, 4, 72, 100), nt(20, 4, 76, 100), nt(60, 3, 90, 50))
	m := NewMask(64).Box(0, 128, 16, 32)
	r, err := Evaluate(truth, gen, m)
	if err != nil {
		t.Fatal(err)
	}
	// pitches N(62, 2) vs N(74, 2): overlap 1 - erf(12 / (2·2·√2)); KL = 12² / (2·2²) = 18
	near(t, "D_P", r.DP, 1-math.Erf(12/(4*math.Sqrt2)), 1e-12)
	near(t, "KL_P", r.KLP, 18, 1e-12)
	// durations all 4: σ floored, same Gaussian
	near(t, "D_D", r.DD, 1, 1e-12)
	near(t, "KL_D", r.KLD, 0, 1e-12)
	near(t, "σ_P", r.SigmaP, 2, 1e-12)
	near(t, "σ_P truth", r.SigmaPTruth, 2, 1e-12)
	near(t, "IQR_D", r.IQRD, 0, 0)
	if r.Leak != 3 { // the 3-step note outside the mask: 3 sustain cells
		t.Errorf("leak %d, want 3", r.Leak)
	}
	near(t, "fill", r.Fill, 8.0/2048, 1e-12)
	// context pitch classes C and G (equal weight); mask C+E (truth) and C+E (gen, octave up)
	near(t, "PCH", r.PCH, 0.5, 1e-12)
	near(t, "PCH truth", r.PCHTruth, 0.5, 1e-12)
	// 2 onsets over 16 masked columns; outside: 4 context onsets (+1 stray) over 64 steps
	near(t, "onsets in", r.OnsetIn, 2.0/16, 1e-12)
	near(t, "onsets out", r.OnsetOut, 5.0/64, 1e-12)
	near(t, "onsets out truth", r.OnsetOutTruth, 4.0/64, 1e-12)
	if r.Bars != 1 || r.OneSidedBars != 0 {
		t.Errorf("bars %d one-sided %d", r.Bars, r.OneSidedBars)
	}

	// an empty inpainting: nothing to fit, every bar one-sided
	r, _ = Evaluate(truth, ctx, m)
	if !math.IsNaN(r.DP) || r.OneSidedBars != 1 || r.Fill != 0 || !math.IsNaN(r.PCH) || r.Leak != 0 {
		t.Errorf("empty inpainting %+v", r)
	}
	if _, err := Evaluate(truth, gen, Mask{W: 64, Cells: make([]bool, 10)}); err == nil {
		t.Error("a mask of the wrong size was accepted")
	}
}

func TestCopyBefore(t *testing.T) {
	bar := []pianoroll.Note{nt(0, 4, 60, 100), nt(4, 4, 64, 90), nt(8, 8, 67, 80)}
	var song []pianoroll.Note
	for b := 0; b < 4; b++ {
		for _, n := range bar {
			n.Start += 16 * b
			song = append(song, n)
		}
	}
	// a repeating song: copying the bar before restores bars 2..3 exactly
	got, err := CopyBefore(song, NewMask(64).Box(0, 128, 32, 64))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(got, pianoroll.Normalize(song)) {
		t.Fatalf("got %v", got)
	}
	// a mask at the start copies from after it
	got, _ = CopyBefore(song, NewMask(64).Box(0, 128, 0, 16))
	if !reflect.DeepEqual(got, pianoroll.Normalize(song)) {
		t.Fatalf("mask at the start: got %v", got)
	}
	// what the mask hides is never read: a note only inside the mask does not come back,
	// and a mask over pitches 64..127 of bar 1 takes only those pitches from bar 0
	hidden := append(append([]pianoroll.Note{}, song...), nt(18, 2, 100, 127))
	m := NewMask(64).Box(64, 128, 16, 32)
	got, _ = CopyBefore(hidden, m)
	r, _ := Evaluate(hidden, got, m)
	if r.Leak != 0 {
		t.Fatalf("baseline leaked %d cells", r.Leak)
	}
	for _, n := range got {
		if n.Pitch == 100 {
			t.Fatal("baseline saw the hidden note")
		}
	}
	if !reflect.DeepEqual(got, pianoroll.Normalize(song)) {
		t.Fatalf("band mask: got %v", got)
	}
}

func TestMean(t *testing.T) {
	a := Result{DP: 1, DD: 0.5, KLP: math.NaN(), Leak: 2}
	b := Result{DP: 0, DD: 1, KLP: 4, Leak: 0}
	mean, n := Mean([]Result{a, b})
	for i, f := range mean {
		switch f.Name {
		case "D_P":
			near(t, "D_P", f.Value, 0.5, 0)
		case "KL_P":
			near(t, "KL_P", f.Value, 4, 0)
			if n[i] != 1 {
				t.Errorf("KL_P counted %d", n[i])
			}
		case "leak cells":
			near(t, "leak", f.Value, 1, 0)
		}
	}
}

func TestSuite(t *testing.T) {
	for _, task := range Tasks() {
		m := task.Mask(512)
		n := 0
		for _, c := range m.Cells {
			if c {
				n++
			}
		}
		if n == 0 || n == len(m.Cells) {
			t.Errorf("task %s masks %d cells", task.Name, n)
		}
	}
	notes := []pianoroll.Note{nt(0, 4, 60, 90), nt(14, 8, 62, 90), nt(20, 4, 64, 90), nt(40, 4, 65, 90)}
	wins := Windows(notes, 48, 16, 1)
	want := [][]pianoroll.Note{{nt(0, 4, 60, 90), nt(14, 2, 62, 90)}, {nt(4, 4, 64, 90)}, {nt(8, 4, 65, 90)}}
	if !reflect.DeepEqual(wins, want) {
		t.Fatalf("windows %v", wins)
	}
	// the truth itself scores perfectly on every task: no leak, D_P = D_D = 1
	res, err := Run(wins, 16, []Task{{"half", func(w int) Mask { return NewMask(w).Box(0, 128, 8, 16) }}},
		func(win []pianoroll.Note, m Mask) ([]pianoroll.Note, error) { return win, nil })
	if err != nil || len(res["half"]) != 3 || res["half"][0].Leak != 0 {
		t.Fatalf("run %v %v", res, err)
	}
}

func TestLeakImage(t *testing.T) {
	song := []pianoroll.Note{nt(0, 20, 60, 100), nt(10, 4, 64, 90), nt(24, 8, 67, 80)}
	m := NewMask(32).Box(0, 128, 8, 16)
	in := pianoroll.Image(song, 0, 32)
	out, err := CopyBeforeImage(in, m)
	if err != nil {
		t.Fatal(err)
	}
	if n, _ := LeakImage(in, out, m); n != 0 {
		t.Fatalf("baseline changed %d cells outside the mask", n)
	}
	out[(2*128+67)*32+30] = 0.5 // velocity of a context cell
	out[(0*128+20)*32+2] = 1    // a stray onset
	if n, _ := LeakImage(in, out, m); n != 2 {
		t.Fatalf("leak %d, want 2", n)
	}
	if _, err := LeakImage(in, out[:5], m); err == nil {
		t.Fatal("short image accepted")
	}
}

func TestPooled(t *testing.T) {
	m := NewMask(32).Box(0, 128, 0, 32)
	// window 1 truth pitches {60, 62}, window 2 {64, 66}: pooled truth N(63, √5); the generated
	// side has the same notes shifted up 2 semitones: pooled N(65, √5)
	var rs []Result
	for _, base := range []int{60, 64} {
		truth := []pianoroll.Note{nt(0, 4, base, 90), nt(16, 4, base+2, 90)}
		gen := []pianoroll.Note{nt(0, 4, base+2, 90), nt(16, 4, base+4, 90)}
		r, err := Evaluate(truth, gen, m)
		if err != nil {
			t.Fatal(err)
		}
		rs = append(rs, r)
	}
	p := Pooled(rs)
	near(t, "pooled KL_P", p.KLP, 4.0/(2*5), 1e-12)
	near(t, "pooled D_P", p.DP, 1-math.Erf(2/(2*math.Sqrt(5)*math.Sqrt2)), 1e-12)
	near(t, "pooled KL_D", p.KLD, 0, 1e-12)
	if q := Pooled(nil); !math.IsNaN(q.KLP) {
		t.Fatal("pooled over nothing is not NaN")
	}
}
