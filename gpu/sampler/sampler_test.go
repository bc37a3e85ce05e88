package sampler

import (
	"context"
	"errors"
	"math"
	"testing"
)

// testNormal is a small counter-based normal generator (splitmix64 + Box-Muller) for tests
// that need no engine; the studio passes the engine's Philox.
func testNormal(seed, stream uint64, out []float32) {
	s := seed*0x9E3779B97F4A7C15 ^ stream*0xBF58476D1CE4E5B9
	next := func() float64 {
		s += 0x9E3779B97F4A7C15
		z := s
		z = (z ^ z>>30) * 0xBF58476D1CE4E5B9
		z = (z ^ z>>27) * 0x94D049BB133111EB
		z ^= z >> 31
		return (float64(z>>11) + 0.5) / (1 << 53)
	}
	for i := 0; i < len(out); i += 2 {
		r := math.Sqrt(-2 * math.Log(next()))
		t := 2 * math.Pi * next()
		out[i] = float32(r * math.Cos(t))
		if i+1 < len(out) {
			out[i+1] = float32(r * math.Sin(t))
		}
	}
}

func noiseOf(seed uint64) Noise {
	return func(step int, out []float32) { testNormal(seed, uint64(step), out) }
}

// gaussModel is the exact denoiser for data ~ N(mu, s²) per value.
func gaussModel(mu, s float64, calls *int) Model {
	return func(x []float32, sigma float64) ([]float32, error) {
		*calls++
		k := s * s / (s*s + sigma*sigma)
		d := make([]float32, len(x))
		for i, v := range x {
			d[i] = float32(mu + k*(float64(v)-mu))
		}
		return d, nil
	}
}

func TestKarras(t *testing.T) {
	s := Karras(30, 0.01, 10, 7)
	if len(s) != 31 || s[30] != 0 {
		t.Fatalf("want 30 sigmas and a final 0, got %d ending %v", len(s), s[len(s)-1])
	}
	if math.Abs(s[0]-10) > 1e-9 || math.Abs(s[29]-0.01) > 1e-12 {
		t.Fatalf("ends %v %v, want 10 and 0.01", s[0], s[29])
	}
	for i := 1; i < 30; i++ {
		if s[i] >= s[i-1] {
			t.Fatalf("not decreasing at %d: %v", i, s)
		}
	}
}

// The probability-flow ODE for Gaussian data has a closed form:
// x(0) = mu + (x_T − mu)·s/sqrt(s² + σ_max²). Euler must converge to it at first order and
// DPM++ 2M at second order (doubling the steps divides the error by 2 and by 4).
func TestDeterministicSamplersSolveODE(t *testing.T) {
	const mu, s, smax = 0.3, 0.5, 10.0
	solve := func(samp Sampler, steps int) float64 {
		x := make([]float32, 512)
		testNormal(1, 0, x)
		want := make([]float64, len(x))
		for i := range x {
			x[i] = x[i]*smax + mu
			want[i] = mu + float64(x[i]-mu)*s/math.Sqrt(s*s+smax*smax)
		}
		calls := 0
		out, err := samp(context.Background(), gaussModel(mu, s, &calls), x, Karras(steps, 0.002, smax, 7), noiseOf(1))
		if err != nil {
			t.Fatal(err)
		}
		if calls != steps {
			t.Errorf("%d model calls for %d steps", calls, steps)
		}
		worst := 0.0
		for i := range out {
			worst = max(worst, math.Abs(float64(out[i])-want[i]))
		}
		return worst
	}
	for _, tc := range []struct {
		name           string
		ratio, at60max float64
	}{{"euler", 0.5, 0.06}, {"dpm++2m", 0.25, 0.004}} {
		samp, err := ByName(tc.name)
		if err != nil {
			t.Fatal(err)
		}
		e30, e60 := solve(samp, 30), solve(samp, 60)
		if r := e60 / e30; math.Abs(r-tc.ratio) > 0.08 || e60 > tc.at60max {
			t.Errorf("%s: error %.3g at 30 steps, %.3g at 60 (ratio %.2f), want ratio ≈ %.2f and ≤ %.3g", tc.name, e30, e60, r, tc.ratio, tc.at60max)
		}
	}
}

// The SDE sampler is stochastic: its samples must have the data's mean and spread.
func TestSDESamplerMatchesDistribution(t *testing.T) {
	const mu, s = -0.4, 0.5
	x := make([]float32, 20000)
	testNormal(3, 0, x)
	for i := range x {
		x[i] *= 10
	}
	calls := 0
	out, err := DPMPP2MSDE(context.Background(), gaussModel(mu, s, &calls), x, Karras(30, 0.002, 10, 7),
		func(step int, o []float32) { testNormal(3, uint64(step)+1, o) })
	if err != nil {
		t.Fatal(err)
	}
	var m, v float64
	for _, o := range out {
		m += float64(o)
	}
	m /= float64(len(out))
	for _, o := range out {
		v += (float64(o) - m) * (float64(o) - m)
	}
	sd := math.Sqrt(v / float64(len(out)))
	if math.Abs(m-mu) > 0.02 || math.Abs(sd-s) > 0.03 {
		t.Fatalf("mean %.3f sd %.3f, want %.3f and %.3f", m, sd, mu, s)
	}
}

func TestRePaintSchedule(t *testing.T) {
	base := Karras(30, 0.01, 10, 7)
	for u := 1; u <= 4; u++ {
		s := RePaint(base, u)
		calls := 0
		x := make([]float32, 8)
		if _, err := Euler(context.Background(), gaussModel(0, 1, &calls), x, s, noiseOf(2)); err != nil {
			t.Fatal(err)
		}
		if calls != 30*u {
			t.Errorf("U=%d: %d model calls, want %d", u, calls, 30*u)
		}
		if s[len(s)-1] != 0 || s[0] != base[0] {
			t.Errorf("U=%d: schedule must start at σ_max and end at 0", u)
		}
	}
}

func TestCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	calls := 0
	m := gaussModel(0, 1, &calls)
	stop := func(x []float32, s float64) ([]float32, error) {
		if calls == 3 {
			cancel()
		}
		return m(x, s)
	}
	_, err := DPMPP2M(ctx, stop, make([]float32, 4), Karras(30, 0.01, 10, 7), noiseOf(4))
	if !errors.Is(err, context.Canceled) || calls != 4 {
		t.Fatalf("got %v after %d calls, want context.Canceled after 4", err, calls)
	}
}
