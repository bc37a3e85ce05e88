package gpu

import (
	"fmt"
	"math"
	"strings"
)

// DType is a tensor's element type. Activations are F32 everywhere; F16 and BF16 are storage
// types for weights (a backend may compute in them, the CPU backend converts them to F32).
type DType uint8

const (
	F32 DType = iota
	F16
	BF16
)

// Size is the number of bytes per element.
func (d DType) Size() int {
	if d == F32 {
		return 4
	}
	return 2
}

func (d DType) String() string {
	switch d {
	case F32:
		return "F32"
	case F16:
		return "F16"
	case BF16:
		return "BF16"
	}
	return fmt.Sprintf("DType(%d)", uint8(d))
}

// Shape is a tensor's dimensions, outermost first (row-major, the last axis is contiguous).
type Shape []int

// Elems is the number of elements.
func (s Shape) Elems() int {
	n := 1
	for _, d := range s {
		n *= d
	}
	return n
}

// valid reports whether every dimension is ≥ 0.
func (s Shape) valid() bool {
	for _, d := range s {
		if d < 0 {
			return false
		}
	}
	return true
}

// Equal reports whether two shapes are identical.
func (s Shape) Equal(o Shape) bool {
	if len(s) != len(o) {
		return false
	}
	for i := range s {
		if s[i] != o[i] {
			return false
		}
	}
	return true
}

func (s Shape) String() string {
	p := make([]string, len(s))
	for i, d := range s {
		p[i] = fmt.Sprint(d)
	}
	return "[" + strings.Join(p, ",") + "]"
}

// Clone returns a copy that does not alias s.
func (s Shape) Clone() Shape { return append(Shape(nil), s...) }

// Storage is a backend's device buffer. Only the backend that made it looks inside.
type Storage interface {
	// Bytes is the buffer's size in bytes.
	Bytes() int
}

// Tensor is a dense row-major view of a device buffer: a shape, a dtype, and the buffer.
// Reshape makes another view of the same buffer; every op writes a fresh tensor.
type Tensor struct {
	shape Shape
	dtype DType
	buf   Storage
	slot  int // 1 + the arena slot that made it (0: a weight or a placeholder)
}

// NewTensor wraps a backend buffer; backends and tests use it, model code gets tensors from a
// Context.
func NewTensor(buf Storage, dt DType, shape ...int) *Tensor {
	return &Tensor{shape: Shape(shape).Clone(), dtype: dt, buf: buf}
}

// Shape returns the tensor's dimensions (do not modify).
func (t *Tensor) Shape() Shape { return t.shape }

// DType returns the element type.
func (t *Tensor) DType() DType { return t.dtype }

// Dim returns dimension i; negative i counts from the end.
func (t *Tensor) Dim(i int) int {
	if i < 0 {
		i += len(t.shape)
	}
	return t.shape[i]
}

// Rank is the number of dimensions.
func (t *Tensor) Rank() int { return len(t.shape) }

// Elems is the number of elements.
func (t *Tensor) Elems() int { return t.shape.Elems() }

// Storage returns the backend buffer (for backends).
func (t *Tensor) Storage() Storage { return t.buf }

func (t *Tensor) String() string {
	if t == nil {
		return "<nil tensor>"
	}
	return t.dtype.String() + t.shape.String()
}

// F16 and BF16 conversions (round to nearest even), shared by every backend and the loader.

// F16ToF32 converts an IEEE half to float32.
func F16ToF32(h uint16) float32 {
	sign := uint32(h>>15) << 31
	exp := uint32(h>>10) & 0x1f
	man := uint32(h) & 0x3ff
	switch {
	case exp == 0 && man == 0:
		return math.Float32frombits(sign)
	case exp == 0: // subnormal
		e := uint32(127 - 15 + 1)
		for man&0x400 == 0 {
			man <<= 1
			e--
		}
		man &= 0x3ff
		return math.Float32frombits(sign | e<<23 | man<<13)
	case exp == 0x1f:
		return math.Float32frombits(sign | 0xff<<23 | man<<13)
	}
	return math.Float32frombits(sign | (exp+127-15)<<23 | man<<13)
}

// F32ToF16 converts float32 to an IEEE half, rounding to nearest even; overflow gives ±Inf.
func F32ToF16(f float32) uint16 {
	b := math.Float32bits(f)
	sign := uint16(b>>16) & 0x8000
	exp := int32(b>>23) & 0xff
	man := b & 0x7fffff
	if exp == 0xff {
		if man != 0 {
			return sign | 0x7e00
		}
		return sign | 0x7c00
	}
	e := exp - 127 + 15
	if e >= 0x1f {
		return sign | 0x7c00
	}
	if e <= 0 {
		if e < -10 {
			return sign
		}
		man |= 0x800000
		shift := uint32(14 - e)
		h := man >> shift
		rem := man & (1<<shift - 1)
		half := uint32(1) << (shift - 1)
		if rem > half || (rem == half && h&1 == 1) {
			h++
		}
		return sign | uint16(h)
	}
	h := uint32(e)<<10 | man>>13
	rem := man & 0x1fff
	if rem > 0x1000 || (rem == 0x1000 && h&1 == 1) {
		h++ // may carry into the exponent, which is the right answer (up to Inf)
	}
	return sign | uint16(h)
}

// BF16ToF32 converts a bfloat16 to float32 (exact).
func BF16ToF32(h uint16) float32 { return math.Float32frombits(uint32(h) << 16) }

// F32ToBF16 converts float32 to bfloat16, rounding to nearest even.
func F32ToBF16(f float32) uint16 {
	b := math.Float32bits(f)
	if b&0x7fffffff > 0x7f800000 {
		return uint16(b>>16) | 0x40 // quiet NaN
	}
	b += 0x7fff + (b>>16)&1
	return uint16(b >> 16)
}
