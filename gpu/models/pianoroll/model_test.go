package pianoroll

import (
	"context"
	"errors"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"testing"

	"latentstudio/gpu"
	_ "latentstudio/gpu/cpu"
	_ "latentstudio/gpu/cuda"
	"latentstudio/gpu/safetensors"
)

func repoFile(t testing.TB, rel string) string {
	t.Helper()
	_, here, _, _ := runtime.Caller(0)
	p := filepath.Join(filepath.Dir(here), "..", "..", "..", rel)
	if _, err := os.Stat(p); err != nil {
		// a test binary run elsewhere (the GPU machine) from this package's folder
		q := filepath.Join("..", "..", "..", rel)
		if _, err2 := os.Stat(q); err2 != nil {
			t.Fatalf("%s: %v", rel, err)
		}
		p = q
	}
	return p
}

// WeightsPath is the shipped model, relative to the repository root.
const WeightsPath = "assets/pianoroll-hdit.safetensors"

// loadShipped loads the real weights on the CPU, or on the engine STUDIO_ENGINE names (run the
// parity test and the benchmark on the GPU machine with STUDIO_ENGINE=cuda).
func loadShipped(t testing.TB) *Model {
	t.Helper()
	gpu.Logf = func(string, ...any) {}
	choice := "cpu"
	if os.Getenv(gpu.EnvEngine) != "" {
		choice = ""
	}
	be, err := gpu.Open(choice)
	if err != nil {
		t.Fatal(err)
	}
	m, err := Load(be, repoFile(t, WeightsPath))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close(); be.Close() })
	return m
}

func relErr(got, want []float32) float64 {
	var num, den float64
	for i := range want {
		d := float64(got[i]) - float64(want[i])
		num += d * d
		den += float64(want[i]) * float64(want[i])
	}
	return math.Sqrt(num / max(den, 1e-30))
}

// The Go network on the CPU backend against PyTorch (gpu/train/goldens.py) on the same f16
// weights: every traced block and the denoiser output.
func TestParityWithPyTorch(t *testing.T) {
	m := loadShipped(t)
	g, err := safetensors.Open(repoFile(t, "gpu/testdata/pianoroll_golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	get := func(name string) ([]float32, gpu.Shape) {
		info, err := g.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := info.Float32()
		if err != nil {
			t.Fatal(err)
		}
		return v, info.Shape
	}
	x, xs := get("input.x")
	sig, _ := get("input.sigma")
	ctxv, _ := get("input.context")
	mask, _ := get("input.mask")
	batch, steps := xs[0], xs[3]
	d := m.NewDenoiser(context.Background())
	defer d.Close()
	// f32 on the CPU; the GPU computes in bf16
	tol := 1e-4
	if m.Backend().Info().Backend != "cpu" {
		tol = 2e-2
	}
	per := len(x) / batch
	perM := len(mask) / batch
	checked, worst := 0, 0.0
	for b := 0; b < batch; b++ {
		seen := map[string][]float32{}
		trace := func(name string, tt *gpu.Tensor) {
			if b != 0 { // blocks are golden for batch element 0 only
				return
			}
			v, err := d.c.Download(tt)
			if err != nil {
				t.Fatalf("%s: %v", name, err)
			}
			seen[name] = v
		}
		out, err := d.denoise(1, steps, x[b*per:(b+1)*per], float64(sig[b]), ctxv[b*per:(b+1)*per], mask[b*perM:(b+1)*perM], trace)
		if err != nil {
			t.Fatal(err)
		}
		want, _ := get("output.denoised")
		e := relErr(out, want[b*per:(b+1)*per])
		t.Logf("batch %d σ=%.2f: denoised relative error %.2e", b, sig[b], e)
		if e > tol {
			t.Errorf("batch %d: denoised output relative error %.2e, want ≤ %.0e", b, e, tol)
		}
		checked++
		if b != 0 {
			continue
		}
		for _, name := range g.Names() {
			var key string
			switch {
			case len(name) > 6 && name[:6] == "block.":
				key = name[6:]
			case name == "output.net":
				key = name
			default:
				continue
			}
			got, ok := seen[key]
			if !ok {
				t.Errorf("golden %s: the Go network has no block %q", name, key)
				continue
			}
			want, _ := get(name)
			if name == "output.net" {
				want = want[:per]
			}
			if len(got) != len(want) {
				t.Errorf("%s: %d values, golden %d", name, len(got), len(want))
				continue
			}
			e := relErr(got, want)
			if e > tol {
				t.Errorf("%s: relative error %.2e, want ≤ %.0e", name, e, tol)
			}
			worst = max(worst, e)
			checked++
		}
	}
	t.Logf("%d comparisons, worst block relative error %.2e", checked, worst)
	if checked < 10 {
		t.Fatalf("only %d comparisons ran", checked)
	}
}

func TestLoadErrors(t *testing.T) {
	gpu.Logf = func(string, ...any) {}
	be, err := gpu.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer be.Close()
	dir := t.TempDir()
	bad := filepath.Join(dir, "notes.txt")
	os.WriteFile(bad, []byte("these are not weights"), 0o644)
	if _, err := Load(be, bad); !errors.Is(err, safetensors.ErrNotSafetensors) {
		t.Errorf("a text file: got %v, want ErrNotSafetensors", err)
	}
	// the golden file is a valid safetensors file with the config but other tensors
	if _, err := Load(be, repoFile(t, "gpu/testdata/pianoroll_golden.safetensors")); !errors.Is(err, safetensors.ErrMissing) {
		t.Errorf("a file of other tensors: got %v, want ErrMissing", err)
	}
	if _, err := Load(be, filepath.Join(dir, "missing.safetensors")); err == nil {
		t.Error("a missing file loaded")
	}
}

func TestDenoiseBadInput(t *testing.T) {
	m := loadShipped(t)
	d := m.NewDenoiser(context.Background())
	defer d.Close()
	n := 128 * 64
	x, mask := make([]float32, 3*n), make([]float32, n)
	for name, err := range map[string]error{
		"width 100":    func() error { _, e := d.Denoise(1, 100, x, 1, x, mask); return e }(),
		"short mask":   func() error { _, e := d.Denoise(1, 64, x, 1, x, mask[:10]); return e }(),
		"sigma 0":      func() error { _, e := d.Denoise(1, 64, x, 0, x, mask); return e }(),
		"batch 2 of 1": func() error { _, e := d.Denoise(2, 64, x, 1, x, mask); return e }(),
	} {
		if !errors.Is(err, ErrBadTask) {
			t.Errorf("%s: got %v, want ErrBadTask", name, err)
		}
	}
}

type hostDenoiser interface {
	Denoise(batch, width int, x, sigma, ctx, mask []float32) ([]float32, error)
}

// fusedOrSkip returns the backend's fused network (STUDIO_ENGINE=cuda on the GPU machine).
func fusedOrSkip(t *testing.T, m *Model) hostDenoiser {
	t.Helper()
	if !m.Fused() {
		t.Skipf("backend %s runs the network op by op (set %s=cuda on a GPU machine)", m.Backend().Info().Backend, gpu.EnvEngine)
	}
	return m.fused.(hostDenoiser)
}

// The fused network (the whole denoiser in one CUDA graph, bf16 tensor cores) against the
// PyTorch goldens, both batch elements at once (per-sample σ).
func TestFusedParityWithPyTorch(t *testing.T) {
	m := loadShipped(t)
	f := fusedOrSkip(t, m)
	g, err := safetensors.Open(repoFile(t, "gpu/testdata/pianoroll_golden.safetensors"))
	if err != nil {
		t.Fatal(err)
	}
	defer g.Close()
	get := func(name string) ([]float32, gpu.Shape) {
		info, err := g.Tensor(name)
		if err != nil {
			t.Fatal(err)
		}
		v, err := info.Float32()
		if err != nil {
			t.Fatal(err)
		}
		return v, info.Shape
	}
	x, xs := get("input.x")
	sig, _ := get("input.sigma")
	ctxv, _ := get("input.context")
	mask, _ := get("input.mask")
	want, _ := get("output.denoised")
	for run := 0; run < 2; run++ { // the second call replays the captured graph
		out, err := f.Denoise(xs[0], xs[3], x, sig, ctxv, mask)
		if err != nil {
			t.Fatal(err)
		}
		e := relErr(out, want)
		t.Logf("PARITY fused pianoroll denoiser vs PyTorch (b=%d, W=%d, run %d): relative error %.2e (tol 2e-2)", xs[0], xs[3], run, e)
		if !(e <= 2e-2) {
			t.Errorf("fused denoiser: relative error %.2e, want ≤ 2e-2", e)
		}
	}
}
