package cuda

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// EnvParityDir names the folder of parity files written by bench/parity.py (on the GPU
// machine; they hold PyTorch's outputs for random weights).
const EnvParityDir = "LATENT_PARITY_DIR"

type stTensor struct {
	shape []int
	data  []float32
}

// readF32Safetensors reads an all-F32 safetensors file (test data only).
func readF32Safetensors(path string) (map[string]stTensor, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	if len(b) < 8 {
		return nil, fmt.Errorf("%s: truncated", path)
	}
	n := binary.LittleEndian.Uint64(b)
	if n > uint64(len(b)-8) {
		return nil, fmt.Errorf("%s: header length %d past the end", path, n)
	}
	var hdr map[string]json.RawMessage
	if err := json.Unmarshal(b[8:8+n], &hdr); err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	data := b[8+n:]
	out := map[string]stTensor{}
	for name, raw := range hdr {
		if name == "__metadata__" {
			continue
		}
		var info struct {
			Dtype   string    `json:"dtype"`
			Shape   []int     `json:"shape"`
			Offsets [2]uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(raw, &info); err != nil {
			return nil, fmt.Errorf("%s: %s: %w", path, name, err)
		}
		if info.Dtype != "F32" || info.Offsets[1] > uint64(len(data)) || info.Offsets[0] > info.Offsets[1] {
			return nil, fmt.Errorf("%s: %s: want in-range F32, got %s", path, name, info.Dtype)
		}
		out[name] = stTensor{info.Shape, Float32s(data[info.Offsets[0]:info.Offsets[1]])}
	}
	return out, nil
}

func weightsOf(ts map[string]stTensor) WeightFunc {
	return func(name string) ([]float32, []int, error) {
		t, ok := ts[name]
		if !ok {
			return nil, nil, fmt.Errorf("missing tensor")
		}
		return t.data, t.shape, nil
	}
}

func TestHDiTMatchesPyTorch(t *testing.T) {
	dir := os.Getenv(EnvParityDir)
	if dir == "" {
		t.Skip(EnvParityDir + " not set (bench/run.sh sets it on the GPU machine)")
	}
	d, k := kernelsOrSkip(t)
	files, _ := filepath.Glob(filepath.Join(dir, "hdit_*.safetensors"))
	if len(files) == 0 {
		t.Fatalf("no hdit_*.safetensors in %s", dir)
	}
	for _, f := range files {
		ts, err := readF32Safetensors(f)
		if err != nil {
			t.Fatal(err)
		}
		x := ts["input.x"]
		b, w := x.shape[0], x.shape[3]
		err = d.Do(func() error {
			h, err := NewHDiT(d, k, DefaultHDiT, weightsOf(ts))
			if err != nil {
				return err
			}
			defer h.Free()
			for run := 0; run < 2; run++ { // the second call replays the captured graph
				y, err := h.Denoise(b, w, x.data, ts["input.sigma"].data, ts["input.context"].data, ts["input.mask"].data)
				if err != nil {
					return err
				}
				expect(t, fmt.Sprintf("hdit denoiser b=%d w=%d run %d", b, w, run), y, f64(ts["output.denoised"].data), 2e-2)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestHDiTWeightErrors(t *testing.T) {
	d, k := kernelsOrSkip(t)
	ts := randomHDiTWeights(DefaultHDiT, 1)
	delete(ts, "mid.layers.1.ff.up.weight")
	err := d.Do(func() error {
		_, err := NewHDiT(d, k, DefaultHDiT, weightsOf(ts))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "mid.layers.1.ff.up.weight") {
		t.Errorf("missing tensor: %v", err)
	}
	ts = randomHDiTWeights(DefaultHDiT, 1)
	ts["patch_out.weight"] = stTensor{[]int{48, 32}, make([]float32, 48*32)}
	err = d.Do(func() error {
		_, err := NewHDiT(d, k, DefaultHDiT, weightsOf(ts))
		return err
	})
	if err == nil || !strings.Contains(err.Error(), "patch_out.weight has shape [48 32]") {
		t.Errorf("bad shape: %v", err)
	}
}

// randomHDiTWeights makes a full weight set with the export names (for benchmarks and error
// tests; parity uses PyTorch's).
func randomHDiTWeights(cfg HDiTConfig, seed uint64) map[string]stTensor {
	r := rand.New(rand.NewPCG(seed, 9))
	ts := map[string]stTensor{}
	add := func(name string, s float64, shape ...int) {
		n := 1
		for _, v := range shape {
			n *= v
		}
		ts[name] = stTensor{shape, randn(r, n, s)}
	}
	w, mw := cfg.Widths, cfg.MappingWidth
	add("patch_in.proj.weight", 0.09, w[0], 128)
	add("mapping.fourier", 1, mw/2, 1)
	add("mapping.in_proj.weight", 0.06, mw, mw)
	add("mapping.in_proj.bias", 0.1, mw)
	add("mapping.out_proj.weight", 0.06, mw, mw)
	add("mapping.out_proj.bias", 0.1, mw)
	layer := func(p string, c int) {
		add(p+".attn.norm.linear.weight", 0.02, c, mw)
		add(p+".ff.norm.linear.weight", 0.02, c, mw)
		add(p+".attn.qkv.weight", 1/math.Sqrt(float64(c)), 3*c, c)
		add(p+".attn.out.weight", 1/math.Sqrt(float64(c)), c, c)
		add(p+".ff.up.weight", 1/math.Sqrt(float64(c)), 4*c, c)
		add(p+".ff.down.weight", 1/math.Sqrt(float64(2*c)), c, 2*c)
		add(p+".attn.q_norm.weight", 0.1, 64)
		add(p+".attn.k_norm.weight", 0.1, 64)
	}
	nl := len(w)
	for i := 0; i < nl-1; i++ {
		for j := 0; j < cfg.Depths[i]; j++ {
			layer(fmt.Sprintf("down.%d.layers.%d", i, j), w[i])
			layer(fmt.Sprintf("up.%d.layers.%d", i, j), w[i])
		}
		add(fmt.Sprintf("merges.%d.proj.weight", i), 0.05, w[i+1], 4*w[i])
		add(fmt.Sprintf("splits.%d.proj.weight", i), 0.05, 4*w[i], w[i+1])
		add(fmt.Sprintf("splits.%d.fac", i), 0.3, 1)
	}
	for j := 0; j < cfg.Depths[nl-1]; j++ {
		layer(fmt.Sprintf("mid.layers.%d", j), w[nl-1])
	}
	add("out_norm.weight", 0.1, w[0])
	add("patch_out.weight", 0.1, 48, w[0])
	return ts
}
