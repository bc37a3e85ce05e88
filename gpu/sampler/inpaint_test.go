package sampler

import (
	"context"
	"errors"
	"math"
	"testing"
)

// gaussNet ignores context and mask: the exact denoiser for N(mu, s²) data.
func gaussNet(mu, s float64, calls *int) Net {
	m := gaussModel(mu, s, calls)
	return func(x []float32, sigma float64, context, mask []float32) ([]float32, error) {
		if len(context) != len(x) || len(mask)*3 != len(x) {
			return nil, errors.New("net got context/mask of the wrong size")
		}
		return m(x, sigma)
	}
}

func testRoll(h, w int) (x0, mask []float32) {
	x0 = make([]float32, 3*h*w)
	testNormal(9, 9, x0)
	mask = make([]float32, h*w)
	for r := 0; r < h; r++ {
		for c := 0; c < w; c++ {
			if (r-h/2)*(r-h/2)+(c-w/2)*(c-w/2) < h*h/8 { // a round brush blob
				mask[r*w+c] = 1
			}
		}
	}
	return x0, mask
}

func TestInpaintKeepsKnownCellsExactly(t *testing.T) {
	x0, mask := testRoll(16, 32)
	for _, name := range []string{"euler", "dpm++2m", "dpm++2m-sde"} {
		samp, _ := ByName(name)
		calls := 0
		res, err := Inpaint(context.Background(), gaussNet(0.5, 0.3, &calls), testNormal, x0, mask, Inpainting{
			Sampler: samp, Sigmas: Karras(10, 0.01, 10, 7), Jumps: 3, Candidates: 4, Percentile: 0.5, Seed: 5,
		})
		if err != nil {
			t.Fatal(err)
		}
		if calls != 30 {
			t.Errorf("%s: %d net calls for 10 steps × U=3 (one batch of 4)", name, calls)
		}
		changed := 0
		for k, cand := range res.Candidates {
			for ch := 0; ch < 3; ch++ {
				for i, m := range mask {
					v, want := cand[ch*len(mask)+i], x0[ch*len(mask)+i]
					if m == 0 && math.Float32bits(v) != math.Float32bits(want) {
						t.Fatalf("%s: candidate %d leaks at channel %d cell %d: %v != %v", name, k, ch, i, v, want)
					}
					if m == 1 && v != want {
						changed++
					}
				}
			}
		}
		if changed == 0 {
			t.Errorf("%s: nothing was generated inside the mask", name)
		}
	}
}

func TestInpaintCandidatesRankedAndReproducible(t *testing.T) {
	x0, mask := testRoll(16, 32)
	run := func(k int, p float64) *Result {
		calls := 0
		res, err := Inpaint(context.Background(), gaussNet(0, 0.6, &calls), testNormal, x0, mask, Inpainting{
			Sampler: DPMPP2MSDE, Sigmas: Karras(8, 0.01, 10, 7), Jumps: 2, Candidates: k, Percentile: p, Seed: 11,
		})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	one, many := run(1, 0), run(6, 1)
	for i := 1; i < len(many.Notes); i++ {
		if many.Notes[i] < many.Notes[i-1] {
			t.Fatalf("candidates not sorted by notes: %v", many.Notes)
		}
	}
	if many.Pick != 5 {
		t.Errorf("percentile 1 of 6 picked %d, want 5", many.Pick)
	}
	// candidate stream 0 is the same roll whether it ran alone or in a batch of 6
	for i, s := range many.Seeds {
		if s != 0 {
			continue
		}
		for j := range one.Candidates[0] {
			if d := math.Abs(float64(one.Candidates[0][j] - many.Candidates[i][j])); d > 1e-6 {
				t.Fatalf("stream 0 differs alone vs batched at %d by %g", j, d)
			}
		}
		return
	}
	t.Fatal("stream 0 missing from the batch")
}

func TestInpaintBadInput(t *testing.T) {
	x0, mask := testRoll(8, 8)
	calls := 0
	net := gaussNet(0, 1, &calls)
	ok := Inpainting{Sampler: Euler, Sigmas: Karras(4, 0.01, 10, 7), Jumps: 1, Candidates: 1}
	for name, tc := range map[string]struct {
		x0, mask []float32
		mod      func(*Inpainting)
	}{
		"mask of the wrong size": {x0, mask[:10], nil},
		"mask not 0/1":           {x0, append([]float32{0.5}, mask[1:]...), nil},
		"jumps 11":               {x0, mask, func(r *Inpainting) { r.Jumps = 11 }},
		"no candidates":          {x0, mask, func(r *Inpainting) { r.Candidates = 0 }},
		"percentile 2":           {x0, mask, func(r *Inpainting) { r.Percentile = 2 }},
	} {
		req := ok
		if tc.mod != nil {
			tc.mod(&req)
		}
		if _, err := Inpaint(context.Background(), net, testNormal, tc.x0, tc.mask, req); !errors.Is(err, ErrBadInput) {
			t.Errorf("%s: got %v, want ErrBadInput", name, err)
		}
	}
}
