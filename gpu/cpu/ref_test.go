package cpu

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"

	"latentstudio/gpu"
)

// Plain reference implementations (float64 where it helps) and helpers shared by the tests.

func newCtx(t testing.TB) (*gpu.Context, *Backend) {
	t.Helper()
	be := New(2)
	t.Cleanup(func() { be.Close() })
	return gpu.NewContext(context.Background(), be), be
}

func randn(r *rand.Rand, n int) []float32 {
	v := make([]float32, n)
	for i := range v {
		v[i] = float32(r.NormFloat64())
	}
	return v
}

func get(t testing.TB, c *gpu.Context, x *gpu.Tensor) []float32 {
	t.Helper()
	v, err := c.Download(x)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// near fails when any |got − want| > atol + rtol·|want|.
func near(t testing.TB, what string, got []float32, want []float64, atol, rtol float64) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("%s: %d values, want %d", what, len(got), len(want))
	}
	for i := range got {
		if d := math.Abs(float64(got[i]) - want[i]); !(d <= atol+rtol*math.Abs(want[i])) {
			t.Fatalf("%s: element %d = %v, want %v (|diff| %.3g)", what, i, got[i], want[i], d)
		}
	}
}

func f64(v []float32) []float64 {
	o := make([]float64, len(v))
	for i, x := range v {
		o[i] = float64(x)
	}
	return o
}

func refMatMul(a, b []float32, m, n, k int, ta, tb bool) []float64 {
	out := make([]float64, m*n)
	for i := range m {
		for j := range n {
			var s float64
			for p := range k {
				av := a[i*k+p]
				if ta {
					av = a[p*m+i]
				}
				bv := b[p*n+j]
				if tb {
					bv = b[j*k+p]
				}
				s += float64(av) * float64(bv)
			}
			out[i*n+j] = s
		}
	}
	return out
}

func refConv(x, w, bias []float32, nb, c, h, wd, o, kh, kw int, p gpu.ConvParams) ([]float64, int, int) {
	oh := (h+2*p.PadH-kh)/p.StrideH + 1
	ow := (wd+2*p.PadW-kw)/p.StrideW + 1
	cg, og := c/p.Groups, o/p.Groups
	out := make([]float64, nb*o*oh*ow)
	for n := range nb {
		for oc := range o {
			g := oc / og
			for i := range oh {
				for j := range ow {
					var s float64
					if bias != nil {
						s = float64(bias[oc])
					}
					for ci := range cg {
						for u := range kh {
							for v := range kw {
								r, col := i*p.StrideH-p.PadH+u, j*p.StrideW-p.PadW+v
								if r < 0 || r >= h || col < 0 || col >= wd {
									continue
								}
								s += float64(x[((n*c+g*cg+ci)*h+r)*wd+col]) * float64(w[((oc*cg+ci)*kh+u)*kw+v])
							}
						}
					}
					out[((n*o+oc)*oh+i)*ow+j] = s
				}
			}
		}
	}
	return out, oh, ow
}

func refAttention(q, k, v []float32, bh, lq, lk, d, dv int, scale float64) []float64 {
	out := make([]float64, bh*lq*dv)
	for h := range bh {
		for i := range lq {
			s := make([]float64, lk)
			m := math.Inf(-1)
			for j := range lk {
				for e := range d {
					s[j] += float64(q[(h*lq+i)*d+e]) * float64(k[(h*lk+j)*d+e])
				}
				s[j] *= scale
				m = math.Max(m, s[j])
			}
			var z float64
			for j := range s {
				s[j] = math.Exp(s[j] - m)
				z += s[j]
			}
			for j := range lk {
				for e := range dv {
					out[(h*lq+i)*dv+e] += s[j] / z * float64(v[(h*lk+j)*dv+e])
				}
			}
		}
	}
	return out
}

// index helpers for n-d reference code
func unravel(i int, s []int) []int {
	idx := make([]int, len(s))
	for a := len(s) - 1; a >= 0; a-- {
		idx[a] = i % s[a]
		i /= s[a]
	}
	return idx
}

func ravel(idx, s []int) int {
	o := 0
	for a := range s {
		o = o*s[a] + idx[a]
	}
	return o
}

func shapeString(s []int) string { return fmt.Sprint(s) }
