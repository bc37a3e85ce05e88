package protocol

import (
	"encoding/binary"
	"fmt"
)

// A binary frame carries a tensor or an image. Its header (little-endian):
//
//	offset size field
//	0      2    magic "LS"
//	2      1    header version (1)
//	3      1    kind   (FrameKind)
//	4      1    format (Format)
//	5      1    ndim   (0..4)
//	6      2    reserved, zero
//	8      8    seq    (the request this frame answers)
//	16     4×ndim dims (uint32 each, outermost first)
//
// then the payload. For element formats the payload length must equal the product of the
// dims times the element size; PNG payloads carry their own size, so their dims are a hint
// (height, width) and the length is free.
const (
	frameMagic0   = 'L'
	frameMagic1   = 'S'
	FrameVersion  = 1
	frameFixedLen = 16
	MaxDims       = 4
)

// FrameKind says what a binary frame holds.
type FrameKind uint8

const (
	KindTensor    FrameKind = 1 // a generic tensor
	KindImage     FrameKind = 2 // an image to draw (RGBA8 [H,W,4] or PNG)
	KindPianoRoll FrameKind = 3 // piano-roll cells [channels, pitches, steps]
	KindBlob      FrameKind = 4 // opaque bytes (a MIDI file, a zip) [len]
)

// Format is the element format of a frame's payload.
type Format uint8

const (
	FormatU8  Format = 1
	FormatI32 Format = 2
	FormatF16 Format = 3
	FormatF32 Format = 4
	FormatPNG Format = 5 // payload is a PNG file
)

// ElemSize is the size of one element in bytes, 0 for formats without fixed elements.
func (f Format) ElemSize() int {
	switch f {
	case FormatU8:
		return 1
	case FormatF16:
		return 2
	case FormatI32, FormatF32:
		return 4
	}
	return 0
}

func (f Format) valid() bool { return f >= FormatU8 && f <= FormatPNG }
func (k FrameKind) valid() bool {
	return k >= KindTensor && k <= KindBlob
}

// Frame is a decoded binary frame. Data aliases the decoded buffer.
type Frame struct {
	Kind   FrameKind
	Format Format
	Seq    uint64
	Shape  []int
	Data   []byte
}

// Elements is the product of the shape (1 for a scalar).
func (f Frame) Elements() int {
	n := 1
	for _, d := range f.Shape {
		n *= d
	}
	return n
}

// AppendFrame encodes f after dst.
func AppendFrame(dst []byte, f Frame) ([]byte, error) {
	if err := f.check(); err != nil {
		return nil, err
	}
	dst = append(dst, frameMagic0, frameMagic1, FrameVersion, byte(f.Kind), byte(f.Format), byte(len(f.Shape)), 0, 0)
	dst = binary.LittleEndian.AppendUint64(dst, f.Seq)
	for _, d := range f.Shape {
		dst = binary.LittleEndian.AppendUint32(dst, uint32(d))
	}
	return append(dst, f.Data...), nil
}

// EncodeFrame encodes f into a new buffer.
func EncodeFrame(f Frame) ([]byte, error) {
	return AppendFrame(make([]byte, 0, frameFixedLen+4*len(f.Shape)+len(f.Data)), f)
}

func (f Frame) check() error {
	if !f.Kind.valid() {
		return Errorf(BadInput, "frame kind %d is unknown", f.Kind)
	}
	if !f.Format.valid() {
		return Errorf(BadInput, "frame format %d is unknown", f.Format)
	}
	if len(f.Shape) > MaxDims {
		return Errorf(BadInput, "frame has %d dims, at most %d are allowed", len(f.Shape), MaxDims)
	}
	total := frameFixedLen + 4*len(f.Shape) + len(f.Data)
	if total > MaxBinaryFrame {
		return Errorf(TooLarge, "binary frame is %d bytes, the limit is %d", total, MaxBinaryFrame)
	}
	n := uint64(1)
	for _, d := range f.Shape {
		if d < 0 || d > MaxBinaryFrame {
			return Errorf(BadInput, "frame dim %d out of range", d)
		}
		n *= uint64(d)
		if n > MaxBinaryFrame {
			return Errorf(TooLarge, "frame shape %v has too many elements", f.Shape)
		}
	}
	if es := f.Format.ElemSize(); es > 0 && n*uint64(es) != uint64(len(f.Data)) {
		return Errorf(BadInput, "frame payload is %d bytes, shape %v of format %d needs %d", len(f.Data), f.Shape, f.Format, n*uint64(es))
	}
	if f.Format == FormatPNG && (len(f.Data) < 8 || string(f.Data[1:4]) != "PNG") {
		return Errorf(BadInput, "frame says PNG but the payload is not a PNG file")
	}
	return nil
}

// DecodeFrame decodes and checks one binary frame. Data aliases b.
func DecodeFrame(b []byte) (Frame, error) {
	if len(b) > MaxBinaryFrame {
		return Frame{}, Errorf(TooLarge, "binary frame is %d bytes, the limit is %d", len(b), MaxBinaryFrame)
	}
	if len(b) < frameFixedLen {
		return Frame{}, Errorf(BadInput, "binary frame is %d bytes, shorter than its %d-byte header", len(b), frameFixedLen)
	}
	if b[0] != frameMagic0 || b[1] != frameMagic1 {
		return Frame{}, Errorf(BadInput, "binary frame does not start with \"LS\"")
	}
	if b[2] != FrameVersion {
		return Frame{}, Errorf(VersionCode, "binary frame header version %d, this side reads %d", b[2], FrameVersion)
	}
	ndim := int(b[5])
	if ndim > MaxDims {
		return Frame{}, Errorf(BadInput, "frame has %d dims, at most %d are allowed", ndim, MaxDims)
	}
	if b[6] != 0 || b[7] != 0 {
		return Frame{}, Errorf(BadInput, "frame header reserved bytes are not zero")
	}
	hl := frameFixedLen + 4*ndim
	if len(b) < hl {
		return Frame{}, Errorf(BadInput, "binary frame is %d bytes, shorter than its %d-byte header", len(b), hl)
	}
	f := Frame{
		Kind:   FrameKind(b[3]),
		Format: Format(b[4]),
		Seq:    binary.LittleEndian.Uint64(b[8:16]),
		Data:   b[hl:],
	}
	if ndim > 0 {
		f.Shape = make([]int, ndim)
		for i := range f.Shape {
			f.Shape[i] = int(binary.LittleEndian.Uint32(b[16+4*i:]))
		}
	}
	if err := f.check(); err != nil {
		return Frame{}, err
	}
	return f, nil
}

func (f Frame) String() string {
	return fmt.Sprintf("frame{kind %d, format %d, seq %d, shape %v, %d bytes}", f.Kind, f.Format, f.Seq, f.Shape, len(f.Data))
}
