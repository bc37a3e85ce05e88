package cpu

import (
	"encoding/json"
	"strings"
	"testing"

	"latentstudio/gpu"
	"latentstudio/gpu/safetensors"
)

// TestPyTorchGoldens runs every case of gpu/testdata/golden_ops.safetensors (written by
// gpu/train/golden_ops.py with PyTorch; the version is in its metadata) on the CPU backend.
// Tolerance: |got − want| ≤ 2e-5 + 2e-4·|want| for every element (float32 math on both sides,
// different summation orders), except the timestep embedding: its angles reach 999 rad, where
// float32 spacing is 6e-5, so both sides round the argument differently (atol 2e-4).
func TestPyTorchGoldens(t *testing.T) {
	f, err := safetensors.Open("../testdata/golden_ops.safetensors")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var params map[string]map[string]any
	if err := json.Unmarshal([]byte(f.Metadata["cases"]), &params); err != nil {
		t.Fatal(err)
	}
	t.Logf("goldens from torch %s", f.Metadata["torch"])
	be := New(2)
	defer be.Close()
	ints := func(v any) []int {
		var o []int
		for _, x := range v.([]any) {
			o = append(o, int(x.(float64)))
		}
		return o
	}
	num := func(v any) int { return int(v.(float64)) }
	ops := map[string]func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor{
		"linear": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Linear(in["x"], in["w"], in["b"])
		},
		"linear_f16": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Linear(in["x"], in["w"], nil)
		},
		"linear_bf16": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Linear(in["x"], in["w"], nil)
		},
		"matmul": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.MatMul(in["a"], in["b"])
		},
		"upsample": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.UpsampleNearest(in["x"], num(p["factor"]))
		},
		"group_norm": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.GroupNorm(in["x"], num(p["groups"]), in["w"], in["b"], float32(p["eps"].(float64)))
		},
		"layer_norm": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.LayerNorm(in["x"], in["w"], in["b"], float32(p["eps"].(float64)))
		},
		"rms_norm": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.RMSNorm(in["x"], in["w"], float32(p["eps"].(float64)))
		},
		"attention": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Attention(in["q"], in["k"], in["v"], 0)
		},
		"window_attention": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			w, s := ints(p["window"]), ints(p["shift"])
			q := in["q"]
			part := func(x *gpu.Tensor) *gpu.Tensor { return c.WindowPartition(x, w[0], w[1], s[0], s[1]) }
			o := c.Attention(part(q), part(in["k"]), part(in["v"]), 0)
			return c.WindowReverse(o, q.Dim(0), q.Dim(2), q.Dim(3), w[0], w[1], s[0], s[1])
		},
		"rope2d": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.RoPE2D(in["x"], float32(p["base"].(float64)))
		},
		"gelu": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor { return c.GELU(in["x"]) },
		"gelu_tanh": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.GELUTanh(in["x"])
		},
		"silu": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor { return c.SiLU(in["x"]) },
		"geglu": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.GEGLU(in["x"], p["tanh"].(bool))
		},
		"modulate": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Modulate(in["x"], in["scale"], in["shift"])
		},
		"fourier": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.FourierFeatures(in["t"], in["freqs"])
		},
		"timestep": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.TimestepEmbedding(in["t"], num(p["dim"]), p["max_period"].(float64))
		},
		"token_merge": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.TokenMerge(in["x"], num(p["ph"]), num(p["pw"]))
		},
		"token_split": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.TokenSplit(in["x"], num(p["ph"]), num(p["pw"]))
		},
		"pixel_shuffle": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.PixelShuffle(in["x"], num(p["r"]))
		},
		"pixel_unshuffle": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.PixelUnshuffle(in["x"], num(p["r"]))
		},
		"concat": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Concat(num(p["axis"]), in["a"], in["b"])
		},
		"slice": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Slice(in["x"], num(p["axis"]), num(p["start"]), num(p["end"]))
		},
		"pad": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Pad(in["x"], ints(p["before"]), ints(p["after"]), float32(p["value"].(float64)))
		},
		"permute": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Permute(in["x"], ints(p["perm"])...)
		},
		"add_broadcast": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Add(in["a"], in["b"])
		},
		"mul_broadcast": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Mul(in["a"], in["b"])
		},
		"lerp": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Lerp(in["a"], in["b"], in["t"])
		},
		"sum": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Sum(in["x"], num(p["axis"]))
		},
		"mean": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Mean(in["x"], num(p["axis"]))
		},
		"max": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Max(in["x"], num(p["axis"]))
		},
		"softmax": func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
			return c.Softmax(in["x"])
		},
	}
	conv := func(c *gpu.Context, in map[string]*gpu.Tensor, p map[string]any) *gpu.Tensor {
		s, pd := num(p["stride"]), num(p["pad"])
		return c.Conv2D(in["x"], in["w"], in["b"], gpu.ConvParams{StrideH: s, StrideW: s, PadH: pd, PadW: pd, Groups: num(p["groups"])})
	}
	for _, n := range []string{"conv3x3", "conv1x1", "conv_strided", "conv_depthwise", "conv_grouped"} {
		ops[n] = conv
	}
	if len(params) != len(ops) {
		t.Errorf("the file has %d cases, the test knows %d", len(params), len(ops))
	}
	ld := safetensors.NewLoader(be, f)
	for name, p := range params {
		t.Run(name, func(t *testing.T) {
			op, ok := ops[name]
			if !ok {
				t.Fatalf("no Go op for golden case %q", name)
			}
			in := map[string]*gpu.Tensor{}
			for _, tn := range f.Names() {
				if arg, ok := strings.CutPrefix(tn, name+".in."); ok {
					in[arg] = ld.Weight(tn, shapeOf(f, tn)...)
				}
			}
			want := ld.Floats(name+".out", shapeOf(f, name+".out")...)
			if err := ld.Err(); err != nil {
				t.Fatal(err)
			}
			c := gpu.NewContext(t.Context(), be)
			defer c.Close()
			y := op(c, in, p)
			got := get(t, c, y)
			info, _ := f.Tensor(name + ".out")
			if !y.Shape().Equal(info.Shape) {
				t.Fatalf("shape %v, torch %v", y.Shape(), info.Shape)
			}
			atol := 2e-5
			if name == "timestep" {
				atol = 2e-4
			}
			near(t, name, got, f64(want), atol, 2e-4)
		})
	}
	if u := ld.Unused(); len(u) != 0 {
		t.Errorf("golden tensors no case used: %v", u)
	}
}

func shapeOf(f *safetensors.File, name string) []int {
	info, err := f.Tensor(name)
	if err != nil {
		return nil
	}
	return info.Shape
}
