package sampler

import (
	"context"
	"errors"
	"math"
	"testing"
)

func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / max(den, 1e-30))
}

// A program run on the host is the sampler function, to float32 rounding, for every sampler,
// with RePaint jumps (re-noising steps that clear the history) in the schedule.
func TestProgramMatchesSamplers(t *testing.T) {
	sigmas := RePaint(Karras(12, 0.01, 10, 7), 3)
	for _, name := range []string{"euler", "dpm++2m", "dpm++2m-sde"} {
		samp, _ := ByName(name)
		steps, err := Program(name, sigmas)
		if err != nil {
			t.Fatal(err)
		}
		if got := Evaluations(steps); got != 36 {
			t.Errorf("%s: %d evaluations for 12 steps × U=3", name, got)
		}
		noise := func(step int, out []float32) { testNormal(4, uint64(step), out) }
		x := make([]float32, 4096)
		testNormal(1, 1, x)
		for i := range x {
			x[i] *= 10
		}
		x2 := append([]float32(nil), x...)
		var c1, c2 int
		want, err := samp(context.Background(), gaussModel(0.3, 0.5, &c1), x, sigmas, noise)
		if err != nil {
			t.Fatal(err)
		}
		got, err := RunProgram(context.Background(), gaussModel(0.3, 0.5, &c2), x2, steps, noise)
		if err != nil {
			t.Fatal(err)
		}
		if c1 != c2 {
			t.Errorf("%s: %d model calls, the function made %d", name, c2, c1)
		}
		if e := relErr(got, want); e > 1e-5 || math.IsNaN(e) {
			t.Errorf("%s: program differs from the sampler: relative error %.2e", name, e)
		}
	}
	if _, err := Program("heun", sigmas); err == nil {
		t.Error("an unknown sampler made a program")
	}
}

// InpaintOn a HostDevice is Inpaint: the device contract (noise streams, the initial noise,
// known cells of D replaced) reproduces the host loop, and leakage stays exactly 0.
func TestInpaintOnHostDeviceMatchesInpaint(t *testing.T) {
	x0, mask := testRoll(16, 32)
	for _, name := range []string{"euler", "dpm++2m-sde"} {
		samp, _ := ByName(name)
		req := Inpainting{Sampler: samp, Sigmas: Karras(8, 0.01, 10, 7), Jumps: 2, Candidates: 3, Percentile: 0.5, Seed: 11}
		var calls int
		want, err := Inpaint(context.Background(), gaussNet(0.5, 0.3, &calls), testNormal, x0, mask, req)
		if err != nil {
			t.Fatal(err)
		}
		var progress []int
		dev := HostDevice{Net: gaussNet(0.5, 0.3, &calls), Normal: testNormal}
		got, err := InpaintOn(context.Background(), dev, name, x0, mask, req, func(done int) { progress = append(progress, done) })
		if err != nil {
			t.Fatal(err)
		}
		if len(progress) != 16 || progress[0] != 1 || progress[15] != 16 {
			t.Errorf("%s: progress %v, want 1…16", name, progress)
		}
		for k := range want.Candidates {
			if e := relErr(got.Candidates[k], want.Candidates[k]); e > 1e-5 {
				t.Errorf("%s: candidate %d differs from Inpaint: relative error %.2e", name, k, e)
			}
			if got.Seeds[k] != want.Seeds[k] || got.Notes[k] != want.Notes[k] {
				t.Errorf("%s: rank %d: seed %d notes %d, Inpaint %d %d", name, k, got.Seeds[k], got.Notes[k], want.Seeds[k], want.Notes[k])
			}
			for ch := 0; ch < 3; ch++ {
				for i, m := range mask {
					if m == 0 && math.Float32bits(got.Candidates[k][ch*len(mask)+i]) != math.Float32bits(x0[ch*len(mask)+i]) {
						t.Fatalf("%s: candidate %d leaks at %d", name, k, i)
					}
				}
			}
		}
	}
	_, err := InpaintOn(context.Background(), HostDevice{}, "heun", x0, mask, Inpainting{Sigmas: Karras(8, 0.01, 10, 7), Jumps: 1, Candidates: 1}, nil)
	if !errors.Is(err, ErrBadInput) {
		t.Errorf("unknown sampler: %v, want ErrBadInput", err)
	}
}
