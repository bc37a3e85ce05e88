package cuda

import (
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"strings"
	"sync"
	"testing"

	"latentstudio/gpu"
	"latentstudio/gpu/cpu"
)

// Every op of the front on the CUDA backend against the CPU backend (the CI reference) on the
// same random inputs. Tolerance on ‖cuda − cpu‖/‖cpu‖: 1e-5 for f32 kernels, 1e-2 where the
// GPU multiplies bf16 weights on tensor cores.

var (
	beOnce sync.Once
	beCUDA *Backend
	beErr  error
)

func backendsOrSkip(t *testing.T) (*Backend, gpu.Backend) {
	t.Helper()
	beOnce.Do(func() { beCUDA, beErr = NewBackend(0) })
	if beErr != nil {
		if errors.Is(beErr, ErrNoGPU) {
			t.Skip(beErr)
		}
		t.Fatal(beErr)
	}
	return beCUDA, cpu.New(2)
}

func TestBackendOpsMatchCPU(t *testing.T) {
	gb, cb := backendsOrSkip(t)
	t.Logf("cuda: %+v", gb.Info())
	type op struct {
		name string
		tol  float64
		f    func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor
		ins  [][]int
	}
	un := func(o gpu.UnaryOp) op {
		return op{"unary " + o.String(), tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor {
			x := in[0]
			if o == gpu.Sqrt {
				x = c.Unary(x, gpu.Abs)
			}
			return c.Unary(x, o)
		}, [][]int{{3, 50, 7}}}
	}
	ops := []op{
		{"linear f32 + bias", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Linear(in[0], in[1], in[2]) },
			[][]int{{2, 33, 40}, {24, 40}, {24}}},
		{"matmul batched, ta tb", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.MatMulT(in[0], in[1], true, true) },
			[][]int{{3, 17, 9}, {3, 11, 17}}},
		{"conv2d 3x3 stride 2 groups 2", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor {
			return c.Conv2D(in[0], in[1], in[2], gpu.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, Groups: 2})
		}, [][]int{{2, 4, 9, 10}, {6, 2, 3, 3}, {6}}},
		{"upsample x2", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.UpsampleNearest(in[0], 2) }, [][]int{{2, 3, 5, 4}}},
		{"group norm", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.GroupNorm(in[0], 2, in[1], in[2], 1e-5) },
			[][]int{{2, 6, 5, 5}, {6}, {6}}},
		{"layer norm", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.LayerNorm(in[0], in[1], in[2], 1e-5) },
			[][]int{{7, 45}, {45}, {45}}},
		{"rms norm", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.RMSNorm(in[0], in[1], 1e-6) },
			[][]int{{7, 64}, {64}}},
		{"attention", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Attention(in[0], in[1], in[2], 0) },
			[][]int{{2, 3, 21, 64}, {2, 3, 37, 64}, {2, 3, 37, 40}}},
		{"window partition shifted", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.WindowPartition(in[0], 4, 2, 2, 1) },
			[][]int{{2, 3, 8, 6, 5}}},
		{"window reverse shifted", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor {
			return c.WindowReverse(in[0], 2, 8, 6, 4, 2, 2, 1)
		}, [][]int{{12, 3, 8, 5}}},
		{"rope2d", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.RoPE2D(in[0], 1000) }, [][]int{{2, 5, 7, 16}}},
		{"binary add broadcast", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Add(in[0], in[1]) }, [][]int{{4, 5, 6}, {4, 1, 6}}},
		{"binary div broadcast", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor {
			return c.Div(in[0], c.Affine(c.Unary(in[1], gpu.Abs), 1, 0.5))
		}, [][]int{{4, 5, 6}, {1, 5, 1}}},
		{"binary max", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Binary(in[0], in[1], gpu.Maximum) }, [][]int{{30}, {30}}},
		{"affine", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Affine(in[0], 1.5, -2) }, [][]int{{100}}},
		{"geglu tanh", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.GEGLU(in[0], true) }, [][]int{{3, 4, 10}}},
		{"geglu erf", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.GEGLU(in[0], false) }, [][]int{{3, 4, 10}}},
		{"modulate", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Modulate(in[0], in[1], in[2]) },
			[][]int{{2, 3, 4, 8}, {2, 8}, {2, 8}}},
		{"fourier", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.FourierFeatures(in[0], in[1]) }, [][]int{{3}, {16, 1}}},
		{"permute token merge", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.TokenMerge(in[0], 2, 2) }, [][]int{{2, 6, 4, 3}}},
		{"concat axis 1", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Concat(1, in[0], in[1]) }, [][]int{{2, 3, 4}, {2, 5, 4}}},
		{"slice", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Slice(in[0], 1, 2, 5) }, [][]int{{3, 7, 4}}},
		{"pad", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor {
			return c.Pad(in[0], []int{0, 1, 2}, []int{1, 0, 3}, -0.5)
		}, [][]int{{2, 3, 4}}},
		{"reduce sum", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Sum(in[0], 1) }, [][]int{{3, 9, 4}}},
		{"reduce mean", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Mean(in[0], 2) }, [][]int{{3, 9, 4}}},
		{"reduce max", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Max(in[0], 0) }, [][]int{{3, 9, 4}}},
		{"reduce min", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Reduce(in[0], 1, gpu.Min) }, [][]int{{3, 9, 4}}},
		{"softmax", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Softmax(in[0]) }, [][]int{{5, 77}}},
		{"cast bf16 and back", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Cast(c.Cast(in[0], gpu.BF16), gpu.F32) }, [][]int{{333}}},
		{"cast f16 and back", tolF32, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.Cast(c.Cast(in[0], gpu.F16), gpu.F32) }, [][]int{{333}}},
		{"randn", 0, func(c *gpu.Context, in []*gpu.Tensor) *gpu.Tensor { return c.RandN(42, 3, 5, 77) }, nil},
	}
	for _, o := range []gpu.UnaryOp{gpu.GELU, gpu.GELUTanh, gpu.SiLU, gpu.Sigmoid, gpu.Tanh, gpu.Exp, gpu.Square, gpu.Sqrt, gpu.Abs} {
		ops = append(ops, un(o))
	}
	r := rand.New(rand.NewPCG(rand.Uint64(), 11))
	for _, o := range ops {
		var data [][]float32
		for _, s := range o.ins {
			n := 1
			for _, v := range s {
				n *= v
			}
			data = append(data, randn(r, n, 1))
		}
		run := func(be gpu.Backend) ([]float32, error) {
			c := gpu.NewContext(context.Background(), be)
			defer c.Close()
			var in []*gpu.Tensor
			for i, s := range o.ins {
				in = append(in, c.Upload(data[i], s...))
			}
			return c.Download(o.f(c, in))
		}
		want, err := run(cb)
		if err != nil {
			t.Fatalf("%s on cpu: %v", o.name, err)
		}
		got, err := run(gb)
		if err != nil {
			t.Errorf("%s on cuda: %v", o.name, err)
			continue
		}
		e := relErr(got, f64(want))
		t.Logf("PARITY backend %-28s rel.err vs cpu %.2e (tol %.0e)", o.name, e, max(o.tol, 1e-7))
		if !(e <= max(o.tol, 1e-7)) {
			t.Errorf("%s: cuda vs cpu relative error %.3g", o.name, e)
		}
	}
}

func TestBackendLinearReplayedGraph(t *testing.T) {
	gb, cb := backendsOrSkip(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 12))
	x, w, bias := randn(r, 5*70*64, 1), randn(r, 48*64, 0.125), randn(r, 48, 1)
	run := func(be gpu.Backend) []float32 {
		wt, err := gpu.NewWeightF32(be, w, 48, 64)
		if err != nil {
			t.Fatal(err)
		}
		defer gpu.FreeTensor(be, wt)
		c := gpu.NewContext(context.Background(), be)
		defer c.Close()
		var last []float32
		for pass := 0; pass < 5; pass++ { // run, run planned, capture, replay (CUDA)
			c.Reset()
			in := c.Upload(x, 5, 70, 64)
			b := c.Upload(bias, 48)
			y := c.Replay("linear", func() *gpu.Tensor { return c.SiLU(c.Linear(in, wt, b)) })
			out, err := c.Download(y)
			if err != nil {
				t.Fatal(err)
			}
			last = out
		}
		return last
	}
	want, got := run(cb), run(gb)
	e := relErr(got, f64(want))
	t.Logf("PARITY backend linear+silu through a replayed graph rel.err %.2e (tol 1e-5)", e)
	if !(e <= 1e-5) {
		t.Errorf("linear through a replayed graph: relative error %.3g", e)
	}
}

func TestBackendOutOfMemoryIsClear(t *testing.T) {
	gb, _ := backendsOrSkip(t)
	_, err := gb.Alloc(gpu.F32, 1<<46)
	if !errors.Is(err, ErrOutOfMemory) || !errors.Is(err, gpu.ErrOutOfMemory) || !strings.Contains(err.Error(), "MiB") {
		t.Errorf("huge allocation: %v, want ErrOutOfMemory naming sizes", err)
	}
}

func TestRandNMatchesEngine(t *testing.T) {
	d, k := kernelsOrSkip(t)
	err := d.Do(func() error {
		for _, c := range []struct {
			n      int
			seed   uint64
			offset uint64
		}{{1000, 7, 0}, {1001, 0xdeadbeef12345678, 6}, {3, 1, 1 << 33}} {
			o := d.poisoned(t, c.n)
			if err := k.RandN(o.ptr, c.n, c.seed, c.offset); err != nil {
				return err
			}
			want := make([]float32, c.n)
			gpu.FillNormal(want, c.seed, c.offset)
			got := d.get(t, o)
			bad := 0
			for i := range got {
				if math.Abs(float64(got[i]-want[i])) > 1e-6*max(1, math.Abs(float64(want[i]))) {
					bad++
				}
			}
			t.Logf("PARITY randn_philox n=%d seed=%#x offset=%d: %d of %d differ beyond 1e-6", c.n, c.seed, c.offset, bad, c.n)
			if bad > 0 {
				t.Errorf("randn n=%d seed=%d offset=%d: %d values differ from gpu.FillNormal", c.n, c.seed, c.offset, bad)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}
