package cpu

import (
	"math"
	"testing"

	"latentstudio/gpu"
)

// capBackend imitates a backend with graphs on top of the CPU: while capturing, Gemm and Unary
// are recorded instead of run, and a graph launch runs the recording. It checks the front's
// Replay bookkeeping the way CUDA uses it.
type capBackend struct {
	*Backend
	capturing bool
	rec       []func() error
}

func (b *capBackend) Gemm(dst, a, bm, bias *gpu.Tensor, p gpu.GemmParams) error {
	if b.capturing {
		b.rec = append(b.rec, func() error { return b.Backend.Gemm(dst, a, bm, bias, p) })
		return nil
	}
	return b.Backend.Gemm(dst, a, bm, bias, p)
}

func (b *capBackend) Unary(dst, x *gpu.Tensor, op gpu.UnaryOp) error {
	if b.capturing {
		b.rec = append(b.rec, func() error { return b.Backend.Unary(dst, x, op) })
		return nil
	}
	return b.Backend.Unary(dst, x, op)
}

type recGraph struct{ steps []func() error }

func (g *recGraph) Launch() error {
	for _, s := range g.steps {
		if err := s(); err != nil {
			return err
		}
	}
	return nil
}
func (g *recGraph) Destroy() {}

func (b *capBackend) Capture(f func() error) (gpu.Graph, error) {
	b.capturing, b.rec = true, nil
	err := f()
	b.capturing = false
	return &recGraph{b.rec}, err
}

func TestReplayCapturesOnceThePassIsPlanned(t *testing.T) {
	base := New(2)
	defer base.Close()
	be := &capBackend{Backend: base}
	w, err := gpu.NewWeightF32(be, []float32{1, 2, 3, 4, 5, 6}, 3, 2)
	if err != nil {
		t.Fatal(err)
	}
	c := gpu.NewContext(t.Context(), be)
	defer c.Close()
	calls := 0
	for pass := range 6 {
		c.Reset()
		v := float32(pass + 1)
		x := c.Upload([]float32{v, -v}, 1, 2)
		y := c.Replay("step", func() *gpu.Tensor {
			calls++
			return c.SiLU(c.Linear(c.SiLU(x), w, nil))
		})
		got, err := c.Download(y)
		if err != nil {
			t.Fatal(err)
		}
		// reference: silu(x) then x·wᵀ then silu
		s0, s1 := float64(v)*sigm(float64(v)), -float64(v)*sigm(-float64(v))
		for i := range 3 {
			h := s0*float64(2*i+1) + s1*float64(2*i+2)
			want := h * sigm(h)
			if d := float64(got[i]) - want; d > 1e-4 || d < -1e-4 {
				t.Fatalf("pass %d: element %d = %v, want %v", pass, i, got[i], want)
			}
		}
	}
	// pass 0 fills the arena, pass 1 runs on the plan, pass 2 captures, passes 3–5 replay
	if calls != 3 {
		t.Fatalf("f ran %d times, want 3", calls)
	}
}

func sigm(x float64) float64 { return 1 / (1 + math.Exp(-x)) }
