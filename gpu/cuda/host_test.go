package cuda

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"testing"

	"latentstudio/gpu"
	"latentstudio/gpu/sampler"
)

// Host-side helpers, checked everywhere (CI has no GPU).

func TestBF16MatchesEngine(t *testing.T) {
	for _, f := range []float32{0, -0, 1, -1.5, 3.1415927, 1e-40, 65504, 3.4e38, float32(math.Inf(1)), 1.00390625, 1.01171875} {
		if got, want := BF16(f), gpu.F32ToBF16(f); got != want {
			t.Errorf("BF16(%g) = %#x, gpu.F32ToBF16 = %#x", f, got, want)
		}
	}
	if h := BF16(float32(math.NaN())); h&0x7f80 != 0x7f80 || h&0x7f == 0 {
		t.Errorf("NaN became %#x", h)
	}
}

func TestInterleaveGEGLU(t *testing.T) {
	// rows a0 a1 g0 g1 (k = 2) → a0 g0 a1 g1
	w := []float32{1, 1, 2, 2, 10, 10, 20, 20}
	got := InterleaveGEGLU(w, 4, 2)
	want := []float32{1, 1, 10, 10, 2, 2, 20, 20}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("got %v, want %v", got, want)
		}
	}
}

func TestRoPETable(t *testing.T) {
	tab := RoPETable(5, 1000)
	if len(tab) != 5*16*2 {
		t.Fatalf("len %d", len(tab))
	}
	pos, j := 3, 5
	a := float64(pos) * math.Pow(1000, -float64(j)/16)
	if c, s := tab[(pos*16+j)*2], tab[(pos*16+j)*2+1]; math.Abs(float64(c)-math.Cos(a)) > 1e-7 || math.Abs(float64(s)-math.Sin(a)) > 1e-7 {
		t.Errorf("pos %d pair %d: (%g, %g), want (%g, %g)", pos, j, c, s, math.Cos(a), math.Sin(a))
	}
}

func TestGeomLayout(t *testing.T) {
	g, err := newGeom(gpu.Shape{2, 3, 4})
	if err != nil {
		t.Fatal(err)
	}
	g.set(0, contiguous(gpu.Shape{2, 3, 4}))
	g.set(1, broadcastStrides(gpu.Shape{2, 1, 4}))
	b := g.bytes()
	word := func(i int) int32 { return int32(binary.LittleEndian.Uint32(b[4*i:])) }
	// struct Geom { int rank; int shape[6]; int s0[6], s1[6], s2[6]; }
	if len(b) != 100 || word(0) != 3 || word(1) != 2 || word(3) != 4 || word(7) != 12 || word(9) != 1 || word(13) != 4 || word(14) != 0 {
		t.Errorf("geom bytes %v", b)
	}
	if _, err := newGeom(make(gpu.Shape, 7)); err == nil {
		t.Error("rank 7 accepted")
	}
}

func TestSplitKHeuristic(t *testing.T) {
	k := &Kernels{d: &Device{SMs: 132}}
	if s := k.splits(64, 384, 768); s != 1 {
		t.Errorf("no workspace: %d splits", s)
	}
	f, c := k.SplitKWorkspace()
	k.SetSplitK(1, f, 2, c)
	for _, tc := range []struct{ m, n, k, want int }{
		{64, 384, 768, 6},    // 6 tiles, 12 k tiles
		{64, 384, 1024, 8},   // capped
		{256, 1024, 256, 2},  // 64 tiles, 4 k tiles
		{1024, 384, 128, 1},  // enough tiles
		{64, 384, 192, 1},    // K too short
		{16384, 512, 128, 1}, // batch 16
		{64, 1152, 384, 3},   // level 3 qkv
		{1, 3328, 256, 2},    // adaptive-norm scales
		{4096, 192, 64, 1},   // level 0
		{64, 8448, 4096, 1},  // 132 tiles: fills the GPU
		{1024, 384, 768, 2},  // batch 16 level 3 down: 96 tiles of 64 rows
		{1024, 1152, 384, 1}, // 144 tiles of 128 rows
	} {
		if got := k.splits(tc.m, tc.n, tc.k); got != tc.want {
			t.Errorf("splits(%d, %d, %d) = %d, want %d", tc.m, tc.n, tc.k, got, tc.want)
		}
	}
}

// The server tells a full GPU from other failures with errors.Is on the front's error.
func TestOutOfMemoryWrapsTheFrontsError(t *testing.T) {
	err := fmt.Errorf("hdit: %w", ErrOutOfMemory)
	if !errors.Is(err, gpu.ErrOutOfMemory) || !errors.Is(err, ErrOutOfMemory) {
		t.Errorf("%v does not wrap gpu.ErrOutOfMemory and cuda.ErrOutOfMemory", err)
	}
}

// A captured job is reused only for the same program: every number of a step is in the key.
func TestProgramKeyTellsProgramsApart(t *testing.T) {
	steps, err := sampler.Program("dpm++2m-sde", sampler.RePaint(sampler.Karras(5, 0.01, 10, 7), 2))
	if err != nil {
		t.Fatal(err)
	}
	job := sampler.DeviceJob{Sigma0: 10, InitNoise: 12, Steps: steps, Seed: 1}
	base := programKey(job)
	same := job
	same.Seed, same.Steps = 99, append([]sampler.Step(nil), steps...)
	if programKey(same) != base {
		t.Error("the seed or a copy of the steps changed the key")
	}
	for i, change := range []func(j *sampler.DeviceJob){
		func(j *sampler.DeviceJob) { j.Sigma0 = 9 },
		func(j *sampler.DeviceJob) { j.InitNoise = 13 },
		func(j *sampler.DeviceJob) { j.Steps[3].C *= 1.0001 },
		func(j *sampler.DeviceJob) { j.Steps[2].Noise++ },
		func(j *sampler.DeviceJob) { j.Steps[0].Keep = !j.Steps[0].Keep },
		func(j *sampler.DeviceJob) { j.Steps = j.Steps[:len(j.Steps)-1] },
	} {
		j := job
		j.Steps = append([]sampler.Step(nil), steps...)
		change(&j)
		if programKey(j) == base {
			t.Errorf("change %d left the key unchanged", i)
		}
	}
}
