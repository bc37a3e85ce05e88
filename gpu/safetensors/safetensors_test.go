package safetensors_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"latentstudio/gpu"
	"latentstudio/gpu/cpu"
	"latentstudio/gpu/safetensors"
)

func write(t *testing.T, b []byte) string {
	p := filepath.Join(t.TempDir(), "w.safetensors")
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func sample() []byte {
	return safetensors.Encode([]safetensors.Info{
		safetensors.F32("a.weight", []float32{1, 2, 3, 4, 5, 6}, 2, 3),
		safetensors.F16("a.bias", []float32{0.5, -1, 2}, 3),
		safetensors.BF16("layers.0.w", []float32{1, -2}, 2),
		safetensors.BF16("layers.1.w", []float32{3, 4.5}, 2),
		safetensors.F32("fac", []float32{0.25}, 1),
	}, map[string]string{"config": `{"width":3}`})
}

type layer struct {
	W *gpu.Tensor `st:"w" shape:"2"`
}

type model struct {
	A struct {
		Weight *gpu.Tensor `st:"weight" shape:"R,C"`
		Bias   *gpu.Tensor `st:"bias" shape:"C"`
	} `st:"a"`
	Layers []layer   `st:"layers"`
	Fac    []float32 `st:"fac" shape:"1"`
}

func TestReadAndBind(t *testing.T) {
	f, err := safetensors.Open(write(t, sample()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if f.Metadata["config"] != `{"width":3}` || len(f.Names()) != 5 {
		t.Fatalf("metadata %v names %v", f.Metadata, f.Names())
	}
	be := cpu.New(1)
	defer be.Close()
	ld := safetensors.NewLoader(be, f)
	var m model
	m.Layers = make([]layer, 2)
	ld.Bind("", &m, map[string]int{"R": 2, "C": 3})
	if err := ld.Err(); err != nil {
		t.Fatal(err)
	}
	if u := ld.Unused(); len(u) != 0 {
		t.Fatalf("unused %v", u)
	}
	c := gpu.NewContext(context.Background(), be)
	// F16 and BF16 weights arrive as F32 on the CPU with their values.
	y, err := c.Download(c.Add(m.A.Weight, m.A.Bias))
	if err != nil {
		t.Fatal(err)
	}
	want := []float32{1.5, 1, 5, 4.5, 4, 8}
	for i := range want {
		if y[i] != want[i] {
			t.Fatalf("got %v, want %v", y, want)
		}
	}
	l1, _ := c.Download(m.Layers[1].W)
	if l1[0] != 3 || l1[1] != 4.5 || m.Fac[0] != 0.25 {
		t.Fatalf("layers.1.w %v fac %v", l1, m.Fac)
	}
}

func TestBadFiles(t *testing.T) {
	good := sample()
	cases := []struct {
		name string
		data []byte
		want error
		says string
	}{
		{"empty", nil, safetensors.ErrNotSafetensors, "shorter"},
		{"foreign (a PNG)", append([]byte("\x89PNG\r\n\x1a\n"), make([]byte, 64)...), safetensors.ErrNotSafetensors, "implausible"},
		{"foreign (JSON text)", []byte("{\"a\": 1}\n\n\n\n\n\n\n\n"), safetensors.ErrNotSafetensors, ""},
		{"truncated header", good[:20], safetensors.ErrTruncated, "header"},
		{"truncated data", good[:len(good)-3], safetensors.ErrTruncated, "layers.1.w"},
	}
	for _, tc := range cases {
		_, err := safetensors.Open(write(t, tc.data))
		if !errors.Is(err, tc.want) || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: got %v, want %v mentioning %q", tc.name, err, tc.want, tc.says)
		}
	}
	if _, err := safetensors.Open(filepath.Join(t.TempDir(), "none.safetensors")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
}

func TestBindErrorsNameTheTensor(t *testing.T) {
	f, err := safetensors.Open(write(t, sample()))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	be := cpu.New(1)
	defer be.Close()

	ld := safetensors.NewLoader(be, f)
	ld.Weight("a.weight", 3, 2)
	if err := ld.Err(); !errors.Is(err, safetensors.ErrShape) || !strings.Contains(err.Error(), `"a.weight" is [2,3]`) || !strings.Contains(err.Error(), "[3,2]") {
		t.Errorf("shape mismatch: %v", err)
	}
	ld = safetensors.NewLoader(be, f)
	ld.Weight("a.weight", 2, -1)
	ld.Weight("b.weight", 2)
	if err := ld.Err(); !errors.Is(err, safetensors.ErrMissing) || !strings.Contains(err.Error(), `"b.weight"`) {
		t.Errorf("missing tensor: %v", err)
	}
	var m model
	m.Layers = make([]layer, 3) // the file has two layers
	ld = safetensors.NewLoader(be, f)
	ld.Bind("", &m, map[string]int{"R": 2, "C": 3})
	if err := ld.Err(); !errors.Is(err, safetensors.ErrMissing) || !strings.Contains(err.Error(), "layers.2.w") {
		t.Errorf("missing layer: %v", err)
	}
	ld = safetensors.NewLoader(be, f)
	ld.Bind("", &m, map[string]int{"R": 2})
	if err := ld.Err(); err == nil || !strings.Contains(err.Error(), `unknown dimension "C"`) {
		t.Errorf("unknown dim: %v", err)
	}
}

// FuzzParse: any bytes either parse into tensors whose data lies inside the input, or fail
// with an error; never a panic.
func FuzzParse(f *testing.F) {
	good := sample()
	f.Add(good)
	f.Add(good[:len(good)-1])
	f.Add(good[:12])
	f.Add([]byte("\x10\x00\x00\x00\x00\x00\x00\x00{\"a\":{\"dtype\":\"F32\"}}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		st, err := safetensors.Parse(data)
		if err != nil {
			return
		}
		for _, n := range st.Names() {
			info, err := st.Tensor(n)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := info.Float32(); err != nil && info.DType == "F32" {
				t.Fatal(err)
			}
		}
	})
}
