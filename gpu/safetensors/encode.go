package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"math"
	"sort"

	"latentstudio/gpu"
)

// Encode writes tensors (Name, DType, Shape, Data) and metadata as a safetensors file, data in
// name order and the header padded to 8 bytes as the reference writer does.
func Encode(tensors []Info, meta map[string]string) []byte {
	ts := append([]Info(nil), tensors...)
	sort.Slice(ts, func(i, j int) bool { return ts[i].Name < ts[j].Name })
	hdr := map[string]any{}
	if len(meta) > 0 {
		hdr["__metadata__"] = meta
	}
	off := 0
	for _, t := range ts {
		shape := []int(t.Shape)
		if shape == nil {
			shape = []int{}
		}
		hdr[t.Name] = map[string]any{"dtype": t.DType, "shape": shape, "data_offsets": []int{off, off + len(t.Data)}}
		off += len(t.Data)
	}
	h, _ := json.Marshal(hdr)
	for len(h)%8 != 0 {
		h = append(h, ' ')
	}
	out := make([]byte, 8, 8+len(h)+off)
	binary.LittleEndian.PutUint64(out, uint64(len(h)))
	out = append(out, h...)
	for _, t := range ts {
		out = append(out, t.Data...)
	}
	return out
}

// F32 makes an F32 tensor entry for Encode.
func F32(name string, v []float32, shape ...int) Info {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(x))
	}
	return Info{Name: name, DType: "F32", Shape: gpu.Shape(shape), Data: b}
}

// F16 makes an F16 tensor entry for Encode (values rounded to nearest even).
func F16(name string, v []float32, shape ...int) Info {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], gpu.F32ToF16(x))
	}
	return Info{Name: name, DType: "F16", Shape: gpu.Shape(shape), Data: b}
}

// BF16 makes a BF16 tensor entry for Encode.
func BF16(name string, v []float32, shape ...int) Info {
	b := make([]byte, 2*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint16(b[2*i:], gpu.F32ToBF16(x))
	}
	return Info{Name: name, DType: "BF16", Shape: gpu.Shape(shape), Data: b}
}
