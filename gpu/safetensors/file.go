// Package safetensors reads safetensors files (8-byte little-endian header length, a JSON
// header, then raw little-endian tensor data) and binds their tensors by name into Go layer
// structs with shape checks. Files are memory-mapped on unix and read whole elsewhere.
package safetensors

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"sort"

	"latentstudio/gpu"
)

// Errors, wrapped with the file, the tensor and the details.
var (
	ErrNotSafetensors = errors.New("not a safetensors file")
	ErrTruncated      = errors.New("file is truncated")
	ErrMissing        = errors.New("tensor missing")
	ErrShape          = errors.New("shape mismatch")
	ErrDType          = errors.New("unsupported dtype")
)

// maxHeader bounds the JSON header (the reference implementation allows 100 MB).
const maxHeader = 100 << 20

// Info describes one tensor of a file.
type Info struct {
	Name  string
	DType string // "F32", "F16", "BF16", "I32", "I64", ...
	Shape gpu.Shape
	Data  []byte // the raw little-endian bytes (a view of the mapped file)
}

// File is an open safetensors file.
type File struct {
	Path     string
	Metadata map[string]string
	tensors  map[string]*Info
	data     []byte
	unmap    func() error
}

var dtypeSize = map[string]int{"F64": 8, "F32": 4, "F16": 2, "BF16": 2, "I64": 8, "I32": 4, "I16": 2, "I8": 1, "U8": 1, "BOOL": 1, "U16": 2, "U32": 4, "U64": 8}

// Open maps (or reads) path and parses its header. Close releases the file; tensor data slices
// are invalid after Close.
func Open(path string) (*File, error) {
	data, unmap, err := mapFile(path)
	if err != nil {
		return nil, fmt.Errorf("safetensors: %w", err)
	}
	f, err := Parse(data)
	if err != nil {
		unmap()
		return nil, fmt.Errorf("safetensors: %s: %w", path, err)
	}
	f.Path, f.unmap = path, unmap
	return f, nil
}

// Parse reads a whole safetensors file from memory (the slice is kept, not copied).
func Parse(data []byte) (*File, error) {
	if len(data) < 8 {
		return nil, fmt.Errorf("%w: %d bytes, shorter than the 8-byte header length", ErrNotSafetensors, len(data))
	}
	n := binary.LittleEndian.Uint64(data)
	if n < 2 || n > maxHeader {
		return nil, fmt.Errorf("%w: header length %d is implausible", ErrNotSafetensors, n)
	}
	if uint64(len(data)-8) < n {
		return nil, fmt.Errorf("%w: header needs %d bytes, file has %d after the length", ErrTruncated, n, len(data)-8)
	}
	hdr := data[8 : 8+n]
	if hdr[0] != '{' {
		return nil, fmt.Errorf("%w: header does not start with '{'", ErrNotSafetensors)
	}
	var raw map[string]json.RawMessage
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, fmt.Errorf("%w: header is not JSON: %v", ErrNotSafetensors, err)
	}
	body := data[8+n:]
	f := &File{tensors: map[string]*Info{}, data: data, Metadata: map[string]string{}}
	for name, msg := range raw {
		if name == "__metadata__" {
			if err := json.Unmarshal(msg, &f.Metadata); err != nil {
				return nil, fmt.Errorf("%w: __metadata__ is not a string map: %v", ErrNotSafetensors, err)
			}
			continue
		}
		var e struct {
			DType   string   `json:"dtype"`
			Shape   []int    `json:"shape"`
			Offsets []uint64 `json:"data_offsets"`
		}
		if err := json.Unmarshal(msg, &e); err != nil {
			return nil, fmt.Errorf("%w: entry %q: %v", ErrNotSafetensors, name, err)
		}
		size, ok := dtypeSize[e.DType]
		if !ok {
			return nil, fmt.Errorf("tensor %q: %w %q", name, ErrDType, e.DType)
		}
		if len(e.Offsets) != 2 || e.Offsets[0] > e.Offsets[1] {
			return nil, fmt.Errorf("%w: tensor %q has bad data_offsets %v", ErrNotSafetensors, name, e.Offsets)
		}
		elems := uint64(1)
		for _, d := range e.Shape {
			if d < 0 {
				return nil, fmt.Errorf("%w: tensor %q has negative shape %v", ErrNotSafetensors, name, e.Shape)
			}
			if d > 0 && elems > uint64(len(body))/uint64(d) { // also stops overflow
				return nil, fmt.Errorf("%w: tensor %q shape %v is larger than the file", ErrTruncated, name, e.Shape)
			}
			elems *= uint64(d)
		}
		if e.Offsets[1]-e.Offsets[0] != elems*uint64(size) {
			return nil, fmt.Errorf("%w: tensor %q %s%v needs %d bytes, offsets give %d", ErrNotSafetensors, name, e.DType, e.Shape, elems*uint64(size), e.Offsets[1]-e.Offsets[0])
		}
		if e.Offsets[1] > uint64(len(body)) {
			return nil, fmt.Errorf("%w: tensor %q ends at byte %d of the data, which has only %d", ErrTruncated, name, e.Offsets[1], len(body))
		}
		f.tensors[name] = &Info{Name: name, DType: e.DType, Shape: gpu.Shape(e.Shape), Data: body[e.Offsets[0]:e.Offsets[1]:e.Offsets[1]]}
	}
	return f, nil
}

// Close unmaps the file.
func (f *File) Close() error {
	if f.unmap == nil {
		return nil
	}
	err := f.unmap()
	f.unmap, f.data, f.tensors = nil, nil, nil
	return err
}

// Names lists the tensors, sorted.
func (f *File) Names() []string {
	n := make([]string, 0, len(f.tensors))
	for k := range f.tensors {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Tensor returns a tensor's description and raw data, or ErrMissing.
func (f *File) Tensor(name string) (*Info, error) {
	t, ok := f.tensors[name]
	if !ok {
		return nil, fmt.Errorf("safetensors: %s: %w: %q", f.Path, ErrMissing, name)
	}
	return t, nil
}

// Float32 returns a float tensor's values converted to float32 (F32, F16, BF16, F64).
func (t *Info) Float32() ([]float32, error) {
	n := t.Shape.Elems()
	out := make([]float32, n)
	switch t.DType {
	case "F32":
		for i := range out {
			out[i] = float32frombits(binary.LittleEndian.Uint32(t.Data[4*i:]))
		}
	case "F16":
		for i := range out {
			out[i] = gpu.F16ToF32(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
	case "BF16":
		for i := range out {
			out[i] = gpu.BF16ToF32(binary.LittleEndian.Uint16(t.Data[2*i:]))
		}
	case "F64":
		for i := range out {
			out[i] = float32(float64frombits(binary.LittleEndian.Uint64(t.Data[8*i:])))
		}
	default:
		return nil, fmt.Errorf("tensor %q: %w %s (want a float type)", t.Name, ErrDType, t.DType)
	}
	return out, nil
}

// GPUType maps a float dtype to the engine's storage type.
func (t *Info) GPUType() (gpu.DType, error) {
	switch t.DType {
	case "F32":
		return gpu.F32, nil
	case "F16":
		return gpu.F16, nil
	case "BF16":
		return gpu.BF16, nil
	}
	return 0, fmt.Errorf("tensor %q: %w %s for a weight (want F32, F16 or BF16)", t.Name, ErrDType, t.DType)
}

func readAll(path string) ([]byte, func() error, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	return b, func() error { return nil }, nil
}
