package cpu

import (
	"math"
	"math/rand/v2"
	"testing"
)

// TestRowHelpers checks the vector softmax and GEGLU helpers against float64 math on lengths
// around the 8-wide vector size, with and without SIMD.
func TestRowHelpers(t *testing.T) {
	r := rand.New(rand.NewPCG(21, 22))
	for _, simd := range []bool{false, true} {
		if simd && !selectKernel().simd {
			continue
		}
		for _, n := range []int{1, 7, 8, 9, 16, 63, 64, 130} {
			v := randn(r, n)
			for i := range v {
				v[i] *= 20 // wide range: exp arguments down to the −87 clamp
			}
			m := rowMax(v, simd)
			var wantM float64 = math.Inf(-1)
			for _, x := range v {
				wantM = math.Max(wantM, float64(x))
			}
			if float64(m) != wantM {
				t.Fatalf("simd %v n %d: max %v, want %v", simd, n, m, wantM)
			}
			want := make([]float64, n)
			var ws float64
			for i, x := range v {
				want[i] = math.Exp((float64(x) - wantM) * 0.7)
				ws += want[i]
			}
			s := expSumRow(v, m, 0.7, simd)
			near(t, "exp", v, want, 1e-30, 1e-5) // float32 rounding of the argument: ≈ |arg|·6e-8 relative
			if math.Abs(float64(s)-ws) > 1e-6*ws {
				t.Fatalf("simd %v n %d: sum %v, want %v", simd, n, s, ws)
			}
			a, g, out := randn(r, n), randn(r, n), make([]float32, n)
			for i := range g {
				g[i] *= 3
			}
			gegluTanhRow(out, a, g, simd)
			for i := range want {
				x := float64(g[i])
				want[i] = float64(a[i]) * 0.5 * x * (1 + math.Tanh(math.Sqrt(2/math.Pi)*(x+0.044715*x*x*x)))
			}
			near(t, "geglu", out, want, 1e-6, 1e-5)
		}
	}
}
