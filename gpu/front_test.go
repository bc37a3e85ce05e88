package gpu_test

import (
	"context"
	"errors"
	"fmt"
	"math"
	"strings"
	"testing"

	"latentstudio/gpu"
	_ "latentstudio/gpu/cpu"
)

func TestOpenChoosesAndLogsOnce(t *testing.T) {
	var lines []string
	old := gpu.Logf
	gpu.Logf = func(f string, a ...any) { lines = append(lines, fmt.Sprintf(f, a...)) }
	defer func() { gpu.Logf = old }()

	t.Setenv(gpu.EnvEngine, "cpu")
	be, err := gpu.Open("")
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	in := be.Info()
	if in.Backend != "cpu" || in.Threads < 1 || !strings.Contains(in.Reason, gpu.EnvEngine) {
		t.Fatalf("info %+v", in)
	}
	if len(lines) != 1 || !strings.Contains(lines[0], "cpu backend") || !strings.Contains(lines[0], gpu.EnvEngine) {
		t.Fatalf("log lines %q", lines)
	}

	lines = nil
	t.Setenv(gpu.EnvEngine, "")
	be2, err := gpu.Open("auto") // no cuda backend in this test binary: falls back and says why
	if err != nil {
		t.Fatal(err)
	}
	defer be2.Close()
	if len(lines) != 1 || !strings.Contains(lines[0], "cuda") || be2.Info().Backend != "cpu" {
		t.Fatalf("auto: log %q, info %+v", lines, be2.Info())
	}

	if _, err := gpu.Open("tpu"); err == nil || !strings.Contains(err.Error(), "auto, cuda or cpu") {
		t.Fatalf("unknown engine: %v", err)
	}
	if _, err := gpu.Open("cuda"); !errors.Is(err, gpu.ErrNoBackend) {
		t.Fatalf("cuda without the backend: %v", err)
	}
}

func openCPU(t *testing.T) gpu.Backend {
	old := gpu.Logf
	gpu.Logf = func(string, ...any) {}
	defer func() { gpu.Logf = old }()
	be, err := gpu.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { be.Close() })
	return be
}

func TestDeferredShapeErrors(t *testing.T) {
	c := gpu.NewContext(context.Background(), openCPU(t))
	x := c.Upload(make([]float32, 12), 3, 4)
	w := c.Upload(make([]float32, 10), 2, 5)
	y := c.Linear(x, w, nil)       // 4 ≠ 5: error
	z := c.GELU(c.Add(y, y))       // skipped, no panic
	_ = c.Reshape(z, z.Dim(0), -1) // dims of placeholders are readable
	err := c.Sync()
	var oe *gpu.OpError
	if !errors.As(err, &oe) || oe.Op != "linear" || !strings.Contains(err.Error(), "[3,4]") || !strings.Contains(err.Error(), "[2,5]") {
		t.Fatalf("want a linear error naming both shapes, got %v", err)
	}
	if _, err := c.Download(z); err == nil {
		t.Fatal("download after an error must fail")
	}
	c.Reset() // a new pass starts clean
	if err := c.Err(); err != nil {
		t.Fatal(err)
	}
}

func TestCancellationStopsOps(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	c := gpu.NewContext(ctx, openCPU(t))
	x := c.Upload([]float32{1, 2, 3}, 3)
	cancel()
	y := c.Scale(x, 2)
	if _, err := c.Download(y); !errors.Is(err, context.Canceled) {
		t.Fatalf("want context.Canceled, got %v", err)
	}
	// The next request brings its own context; the Context (and its arena) carries on.
	c.SetContext(context.Background())
	c.Reset()
	got, err := c.Download(c.Scale(c.Upload([]float32{1, 2, 3}, 3), 2))
	if err != nil || got[2] != 6 {
		t.Fatalf("after SetContext: %v %v", got, err)
	}
}

func TestArenaReusesBuffersAcrossPasses(t *testing.T) {
	c := gpu.NewContext(context.Background(), openCPU(t))
	pass := func(v float32) float32 {
		c.Reset()
		x := c.Upload([]float32{v, 2 * v, 3 * v, 4 * v}, 2, 2)
		y := c.Replay("step", func() *gpu.Tensor { return c.Sum(c.MatMul(x, x), 1) })
		out, err := c.Download(y)
		if err != nil {
			t.Fatal(err)
		}
		return out[0]
	}
	if got := pass(1); got != 7+10 {
		t.Fatalf("pass 1: %v", got)
	}
	_, _, misses := c.ArenaStats()
	for i := 2; i < 5; i++ {
		v := float32(i)
		if got := pass(v); got != 17*v*v {
			t.Fatalf("pass %d: %v", i, got)
		}
	}
	if n, _, m := c.ArenaStats(); m != misses || n != 3 {
		t.Fatalf("arena grew after the first pass: %d buffers, misses %d → %d", n, misses, m)
	}
}

func TestHalfConversions(t *testing.T) {
	for _, v := range []float32{0, 1, -2.5, 65504, 6.1035156e-05, 5.9604645e-08, 0.1, 3.14159} {
		h := gpu.F16ToF32(gpu.F32ToF16(v))
		if math.Abs(float64(h-v)) > math.Abs(float64(v))/1024+6e-8 {
			t.Errorf("f16 round trip %v → %v", v, h)
		}
		b := gpu.BF16ToF32(gpu.F32ToBF16(v))
		if math.Abs(float64(b-v)) > math.Abs(float64(v))/128 {
			t.Errorf("bf16 round trip %v → %v", v, b)
		}
	}
	if gpu.F32ToF16(1e6) != 0x7c00 || gpu.F32ToF16(1+1.0/2048) != 0x3c00 || gpu.F32ToF16(1+3.0/2048) != 0x3c02 {
		t.Error("f16 overflow or round-to-even is wrong")
	}
	if gpu.F32ToBF16(1+1.0/256) != 0x3f80 || gpu.F32ToBF16(1+3.0/256) != 0x3f82 {
		t.Error("bf16 round-to-even is wrong")
	}
	// every half value survives f16 → f32 → f16
	for h := 0; h < 1<<16; h++ {
		if (h&0x7c00) == 0x7c00 && h&0x3ff != 0 {
			continue // NaN payloads
		}
		if got := gpu.F32ToF16(gpu.F16ToF32(uint16(h))); got != uint16(h) {
			t.Fatalf("half %#04x → %#04x", h, got)
		}
	}
}

// Known-answer vectors of Philox4x32-10 from Random123's kat_vectors.
func TestPhiloxKnownAnswers(t *testing.T) {
	cases := []struct {
		c    [4]uint32
		k    [2]uint32
		want [4]uint32
	}{
		{[4]uint32{0, 0, 0, 0}, [2]uint32{0, 0}, [4]uint32{0x6627e8d5, 0xe169c58d, 0xbc57ac4c, 0x9b00dbd8}},
		{[4]uint32{0xffffffff, 0xffffffff, 0xffffffff, 0xffffffff}, [2]uint32{0xffffffff, 0xffffffff}, [4]uint32{0x408f276d, 0x41c83b0e, 0xa20bc7c6, 0x6d5451fd}},
		{[4]uint32{0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344}, [2]uint32{0xa4093822, 0x299f31d0}, [4]uint32{0xd16cfe09, 0x94fdcceb, 0x5001e420, 0x24126ea1}},
	}
	for _, tc := range cases {
		if got := gpu.Philox4x32(tc.c, tc.k); got != tc.want {
			t.Errorf("philox(%x, %x) = %x, want %x", tc.c, tc.k, got, tc.want)
		}
	}
}

// TestArenaPlanSharesBuffersAndCatchesLateReads: after a pass, Reset plans the arena so tensors
// with disjoint lifetimes share buffers; a later pass that reads a tensor after its planned
// lifetime gets an error (not silently wrong values), and the pass after it is replanned.
func TestArenaPlanSharesBuffersAndCatchesLateReads(t *testing.T) {
	c := gpu.NewContext(context.Background(), openCPU(t))
	chain := func(late bool) ([]float32, error) {
		c.Reset()
		x := c.Upload([]float32{1, 2, 3, 4}, 4)
		first := c.Scale(x, 2)
		y := first
		for range 6 {
			y = c.Scale(y, 2) // each step's input dies: the plan reuses buffers
		}
		if late {
			y = c.Add(y, first) // first is read long after its planned last use
		}
		return c.Download(y)
	}
	if _, err := chain(false); err != nil {
		t.Fatal(err)
	}
	unplanned, _, _ := c.ArenaStats()
	got, err := chain(false)
	if err != nil || got[3] != 4*128 {
		t.Fatalf("planned pass: %v %v", got, err)
	}
	planned, _, _ := c.ArenaStats()
	if planned >= unplanned {
		t.Fatalf("planning kept %d of %d buffers", planned, unplanned)
	}
	if _, err := chain(true); err == nil || !strings.Contains(err.Error(), "reused") {
		t.Fatalf("late read: want an error, got %v", err)
	}
	got, err = chain(true) // replanned with the new lifetimes
	if err != nil || got[3] != 4*128+4*2 {
		t.Fatalf("replanned pass: %v %v", got, err)
	}
}

func TestCPUThreadsFromEnvironment(t *testing.T) {
	old := gpu.Logf
	gpu.Logf = func(string, ...any) {}
	defer func() { gpu.Logf = old }()
	t.Setenv("STUDIO_CPU_THREADS", "zero")
	if _, err := gpu.Open("cpu"); err == nil || !strings.Contains(err.Error(), "STUDIO_CPU_THREADS") {
		t.Fatalf("bad thread count: %v", err)
	}
	t.Setenv("STUDIO_CPU_THREADS", "1")
	be, err := gpu.Open("cpu")
	if err != nil || be.Info().Threads != 1 {
		t.Fatalf("one thread: %v", err)
	}
	be.Close()
}

// A request larger than the machine's memory is an error naming the sizes, not a crash.
func TestHugeAllocationIsAnError(t *testing.T) {
	c := gpu.NewContext(context.Background(), openCPU(t))
	y := c.RandN(1, 0, 1<<20, 1<<20, 64) // 256 TiB
	_, err := c.Download(y)
	if !errors.Is(err, gpu.ErrOutOfMemory) || !strings.Contains(err.Error(), "MiB") {
		t.Fatalf("want ErrOutOfMemory, got %v", err)
	}
}

// FillNormal gives the same values whether it fills in one piece or in parallel chunks, and
// from any offset.
func TestFillNormalChunksAgree(t *testing.T) {
	big := make([]float32, 100003)
	gpu.FillNormal(big, 9, 5)
	for _, off := range []int{0, 1, 4, 777, 65536, 99000} {
		small := make([]float32, 1000)
		n := min(len(small), len(big)-off)
		gpu.FillNormal(small[:n], 9, uint64(5+off))
		for i := range n {
			if small[i] != big[off+i] {
				t.Fatalf("offset %d, element %d: %v vs %v", off, i, small[i], big[off+i])
			}
		}
	}
}

func TestProfileCountsOps(t *testing.T) {
	c := gpu.NewContext(context.Background(), openCPU(t))
	c.SetProfile(true)
	x := c.Upload(make([]float32, 64), 8, 8)
	for range 3 {
		x = c.GELU(c.MatMul(x, x))
	}
	if _, err := c.Download(x); err != nil {
		t.Fatal(err)
	}
	calls := map[string]int{}
	for _, s := range c.Profile() {
		calls[s.Op] = s.Calls
	}
	if calls["matmul"] != 3 || calls["gelu"] != 3 || calls["upload"] != 1 {
		t.Fatalf("profile %v", c.Profile())
	}
}

func TestBadShapesAreErrors(t *testing.T) {
	c := gpu.NewContext(context.Background(), openCPU(t))
	for name, f := range map[string]func() *gpu.Tensor{
		"upload negative": func() *gpu.Tensor { return c.Upload([]float32{1}, -1, -1) },
		"randn negative":  func() *gpu.Tensor { return c.RandN(1, 0, 2, -3) },
		"attention no keys": func() *gpu.Tensor {
			q := c.Upload(make([]float32, 4), 1, 1, 1, 4)
			k := c.Upload(nil, 1, 1, 0, 4)
			return c.Attention(q, k, k, 0)
		},
		"reshape": func() *gpu.Tensor { return c.Reshape(c.Upload(make([]float32, 6), 2, 3), 4, -1) },
	} {
		c.Reset()
		f()
		if _, ok := errors.AsType[*gpu.OpError](c.Err()); !ok {
			t.Errorf("%s: want an OpError, got %v", name, c.Err())
		}
	}
}

// recorder is the CPU backend with stream capture: Capture records the Binary kernels f
// queues without running them, and the graph runs them, as CUDA graphs do.
type recorder struct {
	gpu.Backend
	rec *[]func() error
}

func (r *recorder) Binary(dst, a, b *gpu.Tensor, op gpu.BinaryOp) error {
	if r.rec != nil {
		*r.rec = append(*r.rec, func() error { return r.Backend.Binary(dst, a, b, op) })
		return nil
	}
	return r.Backend.Binary(dst, a, b, op)
}

func (r *recorder) Capture(f func() error) (gpu.Graph, error) {
	var ops []func() error
	r.rec = &ops
	err := f()
	r.rec = nil
	return recorded(ops), err
}

type recorded []func() error

func (g recorded) Launch() error {
	for _, op := range g {
		if err := op(); err != nil {
			return err
		}
	}
	return nil
}
func (recorded) Destroy() {}

// A replayed graph whose output shares a buffer with an input uploaded earlier in the pass
// (the planner gives the output the input's buffer once the input is dead) still downloads:
// the replayed tensors take their buffers back.
func TestReplayedOutputSharingAnInputsBuffer(t *testing.T) {
	c := gpu.NewContext(context.Background(), &recorder{Backend: openCPU(t)})
	for pass := 1; pass <= 5; pass++ {
		v := float32(pass)
		c.Reset()
		x := c.Upload([]float32{v, 2 * v, 3 * v, 4 * v}, 4)
		y := c.Replay("step", func() *gpu.Tensor {
			sq := c.Mul(x, x) // x's last use: y may take its buffer
			return c.Add(sq, sq)
		})
		out, err := c.Download(y)
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		for i, got := range out {
			if want := 2 * (float32(i+1) * v) * (float32(i+1) * v); got != want {
				t.Fatalf("pass %d: y[%d] = %v, want %v", pass, i, got, want)
			}
		}
	}
	if n, _, _ := c.ArenaStats(); n != 2 {
		t.Errorf("%d buffers: the output should share the input's", n)
	}
}
