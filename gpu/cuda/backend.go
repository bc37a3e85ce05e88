package cuda

import (
	"encoding/binary"
	"fmt"
	"math"

	"latentstudio/gpu"
)

// The CUDA backend of the engine front (gpu.Backend), registered as "cuda". Every kernel call
// runs on the device's thread through Do; work is queued on one stream, so Read and Sync are
// the only points that wait. Kernels checks nothing the Context already checked.

func init() {
	gpu.Register("cuda", func() (gpu.Backend, error) { return NewBackend(0) })
}

// Backend is one GPU as a gpu.Backend.
type Backend struct {
	d      *Device
	k      *Kernels
	lt     *BlasLt // nil where cuBLASLt is missing
	ltWhy  string
	reason string
}

// NewBackend opens GPU ordinal and loads the kernels; it fails with a clear error when the
// driver, the device or the PTX JIT is unusable (then the server runs the CPU backend).
func NewBackend(ordinal int) (*Backend, error) {
	d, err := Open(ordinal)
	if err != nil {
		return nil, err
	}
	b := &Backend{d: d}
	err = d.Do(func() error {
		var err error
		if b.k, err = d.LoadKernels(); err != nil {
			return err
		}
		if lt, lerr := d.OpenBlasLt(); lerr == nil {
			b.lt = lt
		} else {
			b.ltWhy = lerr.Error()
		}
		return nil
	})
	if err != nil {
		d.Close()
		return nil, err
	}
	return b, nil
}

// Device returns the underlying device (for fused model runners such as HDiT).
func (b *Backend) Device() *Device { return b.d }

// Kernels returns the loaded kernels; use them inside Device().Do.
func (b *Backend) Kernels() *Kernels { return b.k }

// SetReason records why gpu.Open chose this backend.
func (b *Backend) SetReason(r string) { b.reason = r }

// Info names the GPU and its memory.
func (b *Backend) Info() gpu.Info {
	in := gpu.Info{Backend: "cuda", Device: b.d.Name, Threads: 1, MemoryTotal: int64(b.d.TotalMemory), Reason: b.reason}
	b.d.Do(func() error {
		if free, total, err := b.d.MemoryInfo(); err == nil {
			in.MemoryFree, in.MemoryTotal = int64(free), int64(total)
		}
		return nil
	})
	return in
}

// Close frees everything and stops the device thread.
func (b *Backend) Close() error {
	if b.lt != nil {
		b.d.Do(func() error { b.lt.Close(); return nil })
	}
	return b.d.Close()
}

// buffer is device memory from the pool.
type buffer struct {
	ptr, size uint64
	bytes     int
}

func (s *buffer) Bytes() int { return s.bytes }

func ptr(t *gpu.Tensor) uint64 {
	if t == nil {
		return 0
	}
	return t.Storage().(*buffer).ptr
}

// ErrOutOfMemory is wrapped by allocation errors when the GPU is full; the server then runs
// the request on the CPU.
// It wraps gpu.ErrOutOfMemory, so callers that know only the front can tell too.
var ErrOutOfMemory error = oomError{}

type oomError struct{}

func (oomError) Error() string { return "cuda: out of GPU memory" }
func (oomError) Unwrap() error { return gpu.ErrOutOfMemory }

// Alloc takes device memory for elems values of dt.
func (b *Backend) Alloc(dt gpu.DType, elems int) (gpu.Storage, error) {
	if elems < 0 {
		return nil, fmt.Errorf("cuda: negative size %d", elems)
	}
	n := max(elems*dt.Size(), 4)
	var s *buffer
	err := b.d.Do(func() error {
		p, size, err := b.d.Alloc(uint64(n))
		if err != nil {
			if IsOutOfMemory(err) {
				free, total, _ := b.d.MemoryInfo()
				return fmt.Errorf("%w: %d MiB wanted, %d of %d MiB free: %w", ErrOutOfMemory, n>>20, free>>20, total>>20, err)
			}
			return err
		}
		s = &buffer{p, size, elems * dt.Size()}
		return nil
	})
	return s, err
}

// Free returns a buffer to the pool.
func (b *Backend) Free(s gpu.Storage) {
	if bb, ok := s.(*buffer); ok && bb != nil {
		b.d.Do(func() error { b.d.Free(bb.ptr, bb.size); return nil })
	}
}

// WeightDType: F32, like the CPU, because the front's ops take F32 tensors. Gemm also takes
// BF16 weights (the tensor-core path) for callers that cast them.
func (b *Backend) WeightDType(gpu.DType) gpu.DType { return gpu.F32 }

// Sync waits for the stream.
func (b *Backend) Sync() error { return b.d.Do(b.d.Sync) }

// Write copies host data of type src into dst, converting on the host.
func (b *Backend) Write(dst *gpu.Tensor, data []byte, src gpu.DType) error {
	n := dst.Elems()
	if len(data) != n*src.Size() {
		return fmt.Errorf("write %v: %d bytes of %v for %d elements", dst, len(data), src, n)
	}
	out := data
	if src != dst.DType() {
		vals := make([]float32, n)
		for i := range vals {
			switch src {
			case gpu.F32:
				vals[i] = math.Float32frombits(binary.LittleEndian.Uint32(data[4*i:]))
			case gpu.F16:
				vals[i] = gpu.F16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
			case gpu.BF16:
				vals[i] = gpu.BF16ToF32(binary.LittleEndian.Uint16(data[2*i:]))
			}
		}
		switch dst.DType() {
		case gpu.F32:
			out = F32Bytes(vals)
		case gpu.BF16:
			out = BF16Bytes(vals)
		case gpu.F16:
			out = make([]byte, 2*n)
			for i, v := range vals {
				binary.LittleEndian.PutUint16(out[2*i:], gpu.F32ToF16(v))
			}
		}
	}
	return b.d.Do(func() error { return b.d.Upload(ptr(dst), out) })
}

// Read waits for queued work and copies src to the host as float32.
func (b *Backend) Read(data []float32, src *gpu.Tensor) error {
	raw := make([]byte, src.Elems()*src.DType().Size())
	if err := b.d.Do(func() error { return b.d.Download(raw, ptr(src)) }); err != nil {
		return err
	}
	switch src.DType() {
	case gpu.F32:
		for i := range data {
			data[i] = math.Float32frombits(binary.LittleEndian.Uint32(raw[4*i:]))
		}
	case gpu.F16:
		for i := range data {
			data[i] = gpu.F16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	case gpu.BF16:
		for i := range data {
			data[i] = gpu.BF16ToF32(binary.LittleEndian.Uint16(raw[2*i:]))
		}
	}
	return nil
}

// do runs f on the device thread.
func (b *Backend) do(f func(k *Kernels) error) error { return b.d.Do(func() error { return f(b.k) }) }

func dtCode(dt gpu.DType) int32 { return [...]int32{gpu.F32: 0, gpu.F16: 1, gpu.BF16: 2}[dt] }

// Cast converts between F32, F16 and BF16 on the device.
func (b *Backend) Cast(dst, src *gpu.Tensor) error {
	return b.do(func(k *Kernels) error {
		return k.launchN("cast", int64(dst.Elems()), ptr(dst), ptr(src), int64(dst.Elems()), dtCode(src.DType()), dtCode(dst.DType()))
	})
}

// Gemm: linear layers with bf16 weights (TransB, one weight for every batch) run on the
// tensor-core kernel; everything else on the plain kernel (f32 or bf16 B).
func (b *Backend) Gemm(dst, a, bm, bias *gpu.Tensor, p gpu.GemmParams) error {
	return b.do(func(k *Kernels) error {
		bf := bm.DType() == gpu.BF16
		if bm.DType() == gpu.F16 {
			return fmt.Errorf("cuda gemm: F16 operands are stored as BF16 here (use WeightDType)")
		}
		contiguousA := p.Batch == 1 || p.StrideA == p.M*p.K
		if bf && p.TransB && !p.TransA && p.StrideB == 0 && contiguousA && p.K%32 == 0 {
			return k.GemmAlpha(ptr(a), ptr(bm), ptr(dst), p.Batch*p.M, p.N, p.K, ptr(bias), false, p.Alpha)
		}
		sam, sak := p.K, 1
		if p.TransA {
			sam, sak = 1, p.M
		}
		sbk, sbn := p.N, 1
		if p.TransB {
			sbk, sbn = 1, p.K
		}
		return k.GemmF32(ptr(a), ptr(bm), ptr(dst), ptr(bias), p.Batch, p.M, p.N, p.K, int64(p.StrideA), sam, sak, int64(p.StrideB), sbk, sbn, p.Alpha, bf)
	})
}

// Conv2D is a direct convolution (one thread per output).
func (b *Backend) Conv2D(dst, x, w, bias *gpu.Tensor, p gpu.ConvParams) error {
	if w.DType() != gpu.F32 {
		return fmt.Errorf("cuda conv2d: weights must be F32 here, got %v", w.DType())
	}
	n, c, h, wd := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	o, kh, kw := w.Dim(0), w.Dim(2), w.Dim(3)
	oh, ow := dst.Dim(2), dst.Dim(3)
	return b.do(func(k *Kernels) error {
		return k.launchN("conv2d", int64(dst.Elems()), ptr(dst), ptr(x), ptr(w), ptr(bias), n, c, h, wd, o, kh, kw, oh, ow,
			p.StrideH, p.StrideW, p.PadH, p.PadW, max(p.Groups, 1))
	})
}

// UpsampleNearest by integer factors on NCHW.
func (b *Backend) UpsampleNearest(dst, x *gpu.Tensor, fh, fw int) error {
	nc := x.Dim(0) * x.Dim(1)
	return b.do(func(k *Kernels) error {
		return k.launchN("upsample_nearest", int64(dst.Elems()), ptr(dst), ptr(x), int64(nc), x.Dim(2), x.Dim(3), fh, fw)
	})
}

// GroupNorm on [N, C, ...].
func (b *Backend) GroupNorm(dst, x, w, bias *gpu.Tensor, groups int, eps float32) error {
	n, c := x.Dim(0), x.Dim(1)
	s := x.Elems() / max(n*c, 1)
	return b.do(func(k *Kernels) error {
		return k.d.Launch(k.fn["group_norm"], Dim{X: uint32(n * groups)}, Dim{X: 256}, 0, ptr(dst), ptr(x), ptr(w), ptr(bias), c, s, groups, eps)
	})
}

func (b *Backend) normRows(dst, x, w, bias *gpu.Tensor, eps float32, mode int32) error {
	d := x.Dim(-1)
	rows := x.Elems() / max(d, 1)
	return b.do(func(k *Kernels) error {
		return k.d.Launch(k.fn["norm_rows"], Dim{X: uint32((rows + 3) / 4)}, block128, 0, ptr(dst), ptr(x), ptr(w), ptr(bias), rows, d, eps, mode)
	})
}

// LayerNorm over the last axis.
func (b *Backend) LayerNorm(dst, x, w, bias *gpu.Tensor, eps float32) error {
	return b.normRows(dst, x, w, bias, eps, 1)
}

// RMSNorm over the last axis.
func (b *Backend) RMSNorm(dst, x, w *gpu.Tensor, eps float32) error {
	return b.normRows(dst, x, w, nil, eps, 0)
}

// Attention: one warp per query row with an online softmax (D, Dv ≤ 256).
func (b *Backend) Attention(dst, q, kt, v *gpu.Tensor, scale float32) error {
	bh, lq, lk, d, dv := q.Dim(0)*q.Dim(1), q.Dim(2), kt.Dim(2), q.Dim(3), v.Dim(3)
	if d > 256 || dv > 256 {
		return fmt.Errorf("cuda attention: head sizes %d/%d over 256", d, dv)
	}
	rows := bh * lq
	return b.do(func(k *Kernels) error {
		return k.d.Launch(k.fn["attention_rows"], Dim{X: uint32((rows + 3) / 4)}, block128, 0, ptr(dst), ptr(q), ptr(kt), ptr(v), bh, lq, lk, d, dv, scale)
	})
}

// Window partitions or reverses Swin windows with a cyclic shift.
func (b *Backend) Window(dst, src *gpu.Tensor, p gpu.WindowParams) error {
	grid := src
	if p.Reverse {
		grid = dst
	}
	nb, n, h, w, d := grid.Dim(0), grid.Dim(1), grid.Dim(2), grid.Dim(3), grid.Dim(4)
	rev := int32(0)
	if p.Reverse {
		rev = 1
	}
	sh, sw := ((p.ShiftH%h)+h)%h, ((p.ShiftW%w)+w)%w
	return b.do(func(k *Kernels) error {
		return k.launchN("window", int64(grid.Elems()), ptr(dst), ptr(src), nb, n, h, w, d, p.WH, p.WW, sh, sw, rev)
	})
}

// RoPE2D rotates x [..., H, W, D].
func (b *Backend) RoPE2D(dst, x *gpu.Tensor, base float32) error {
	h, w, d := x.Dim(-3), x.Dim(-2), x.Dim(-1)
	tokens := x.Elems() / d
	return b.do(func(k *Kernels) error {
		return k.launchN("rope2d", int64(tokens*d/2), ptr(dst), ptr(x), int64(tokens), h, w, d, base)
	})
}

// Unary applies op elementwise.
func (b *Backend) Unary(dst, x *gpu.Tensor, op gpu.UnaryOp) error {
	n := int64(x.Elems())
	return b.do(func(k *Kernels) error { return k.launchN("unary", n, ptr(dst), ptr(x), n, int32(op)) })
}

// Binary with broadcasting (a and b have dst's rank).
func (b *Backend) Binary(dst, x, y *gpu.Tensor, op gpu.BinaryOp) error {
	g, err := newGeom(dst.Shape())
	if err != nil {
		return err
	}
	g.set(0, contiguous(dst.Shape()))
	g.set(1, broadcastStrides(x.Shape()))
	g.set(2, broadcastStrides(y.Shape()))
	n := int64(dst.Elems())
	return b.do(func(k *Kernels) error {
		return k.launchN("binary_bcast", n, ptr(dst), ptr(x), ptr(y), n, int32(op), g.bytes())
	})
}

// Affine: alpha·x + beta.
func (b *Backend) Affine(dst, x *gpu.Tensor, alpha, beta float32) error {
	n := int64(x.Elems())
	return b.do(func(k *Kernels) error { return k.launchN("affine", n, ptr(dst), ptr(x), n, alpha, beta) })
}

// GEGLU: x [..., 2H] → a·gelu(g).
func (b *Backend) GEGLU(dst, x *gpu.Tensor, tanh bool) error {
	h := dst.Dim(-1)
	rows := int64(dst.Elems() / max(h, 1))
	t := int32(0)
	if tanh {
		t = 1
	}
	return b.do(func(k *Kernels) error {
		return k.launchN("geglu", rows*int64(h), ptr(dst), ptr(x), rows, h, t)
	})
}

// Modulate: x·(1 + scale[b]) + shift[b].
func (b *Backend) Modulate(dst, x, scale, shift *gpu.Tensor) error {
	n := int64(x.Elems())
	per := n / int64(x.Dim(0))
	return b.do(func(k *Kernels) error {
		return k.launchN("modulate", n, ptr(dst), ptr(x), ptr(scale), ptr(shift), n, per, x.Dim(-1))
	})
}

// Fourier features [cos, sin] of 2π t f.
func (b *Backend) Fourier(dst, t, freqs *gpu.Tensor) error {
	bn, kn := t.Dim(0), freqs.Dim(0)
	return b.do(func(k *Kernels) error {
		return k.launchN("fourier", int64(bn*kn), ptr(dst), ptr(t), ptr(freqs), bn, kn)
	})
}

// Permute: dst axis i is x axis perm[i].
func (b *Backend) Permute(dst, x *gpu.Tensor, perm []int) error {
	g, err := newGeom(dst.Shape())
	if err != nil {
		return err
	}
	xs := contiguous(x.Shape())
	ps := make([]int, len(perm))
	for i, p := range perm {
		ps[i] = xs[p]
	}
	g.set(0, contiguous(dst.Shape()))
	g.set(1, ps)
	return b.copyStrided(ptr(dst), ptr(x), g, dst.Elems())
}

func (b *Backend) copyStrided(dst, src uint64, g geom, n int) error {
	if n == 0 {
		return nil
	}
	return b.do(func(k *Kernels) error {
		return k.launchN("copy_strided", int64(n), dst, src, int64(n), g.bytes())
	})
}

// Concat along ax: each input is a strided copy into its slab of dst.
func (b *Backend) Concat(dst *gpu.Tensor, xs []*gpu.Tensor, ax int) error {
	ds := contiguous(dst.Shape())
	at := 0
	for _, x := range xs {
		g, err := newGeom(x.Shape())
		if err != nil {
			return err
		}
		g.set(0, ds)
		g.set(1, contiguous(x.Shape()))
		if err := b.copyStrided(ptr(dst)+uint64(4*at*ds[ax]), ptr(x), g, x.Elems()); err != nil {
			return err
		}
		at += x.Dim(ax)
	}
	return nil
}

// Slice: dst = x[..., start:start+dst.Dim(ax), ...].
func (b *Backend) Slice(dst, x *gpu.Tensor, ax, start int) error {
	g, err := newGeom(dst.Shape())
	if err != nil {
		return err
	}
	xs := contiguous(x.Shape())
	g.set(0, contiguous(dst.Shape()))
	g.set(1, xs)
	return b.copyStrided(ptr(dst), ptr(x)+uint64(4*start*xs[ax]), g, dst.Elems())
}

// Pad: fill with value, then copy x to its offset.
func (b *Backend) Pad(dst, x *gpu.Tensor, before []int, value float32) error {
	g, err := newGeom(x.Shape())
	if err != nil {
		return err
	}
	ds := contiguous(dst.Shape())
	off := 0
	for i, v := range before {
		off += v * ds[i]
	}
	g.set(0, ds)
	g.set(1, contiguous(x.Shape()))
	if err := b.do(func(k *Kernels) error {
		return k.d.Fill32(ptr(dst), math.Float32bits(value), uint64(dst.Elems()))
	}); err != nil {
		return err
	}
	return b.copyStrided(ptr(dst)+uint64(4*off), ptr(x), g, x.Elems())
}

// Reduce over one axis.
func (b *Backend) Reduce(dst, x *gpu.Tensor, ax int, op gpu.ReduceOp) error {
	s := x.Shape()
	outer, inner := 1, 1
	for _, v := range s[:ax] {
		outer *= v
	}
	for _, v := range s[ax+1:] {
		inner *= v
	}
	return b.do(func(k *Kernels) error {
		return k.launchN("reduce_axis", int64(outer*inner), ptr(dst), ptr(x), int64(outer), s[ax], int64(inner), int32(op))
	})
}

// Softmax over the last axis.
func (b *Backend) Softmax(dst, x *gpu.Tensor) error {
	d := x.Dim(-1)
	rows := x.Elems() / max(d, 1)
	return b.do(func(k *Kernels) error {
		return k.d.Launch(k.fn["softmax_rows"], Dim{X: uint32((rows + 3) / 4)}, block128, 0, ptr(dst), ptr(x), rows, d)
	})
}

// RandN fills dst with the engine's Philox normals.
func (b *Backend) RandN(dst *gpu.Tensor, seed, offset uint64) error {
	return b.do(func(k *Kernels) error { return k.RandN(ptr(dst), dst.Elems(), seed, offset) })
}

// Capture records the kernels f queues into a CUDA graph (gpu.Capturer). f runs on the
// caller's goroutine; its ops reach the device thread through Do as usual.
func (b *Backend) Capture(f func() error) (gpu.Graph, error) {
	if err := b.d.Do(b.d.BeginCapture); err != nil {
		return nil, err
	}
	ferr := f()
	var g *Graph
	err := b.d.Do(func() (err error) { g, err = b.d.EndCapture(ferr); return err })
	if err != nil {
		return nil, err
	}
	return &backendGraph{b.d, g}, nil
}

type backendGraph struct {
	d *Device
	g *Graph
}

func (g *backendGraph) Launch() error { return g.d.Do(g.g.Launch) }
func (g *backendGraph) Destroy()      { g.d.Do(func() error { g.g.Destroy(); return nil }) }

// geom mirrors the kernels' Geom struct: an index space of up to 6 axes and three operands'
// element strides.
type geom struct {
	rank  int
	shape [6]int32
	s     [3][6]int32
}

func newGeom(shape gpu.Shape) (geom, error) {
	var g geom
	if len(shape) > 6 {
		return g, fmt.Errorf("cuda: rank %d over the kernels' 6 axes (%v)", len(shape), shape)
	}
	g.rank = len(shape)
	for i, v := range shape {
		g.shape[i] = int32(v)
	}
	return g, nil
}

func (g *geom) set(op int, strides []int) {
	for i, v := range strides {
		g.s[op][i] = int32(v)
	}
}

func (g geom) bytes() []byte {
	b := make([]byte, 4*(1+6+18))
	binary.LittleEndian.PutUint32(b, uint32(g.rank))
	for i := 0; i < 6; i++ {
		binary.LittleEndian.PutUint32(b[4+4*i:], uint32(g.shape[i]))
		for o := 0; o < 3; o++ {
			binary.LittleEndian.PutUint32(b[28+24*o+4*i:], uint32(g.s[o][i]))
		}
	}
	return b
}

func contiguous(s gpu.Shape) []int {
	st := make([]int, len(s))
	acc := 1
	for i := len(s) - 1; i >= 0; i-- {
		st[i] = acc
		acc *= s[i]
	}
	return st
}

func broadcastStrides(s gpu.Shape) []int {
	st := contiguous(s)
	for i, v := range s {
		if v == 1 {
			st[i] = 0
		}
	}
	return st
}

// launchN launches a grid-stride kernel over n elements.
func (k *Kernels) launchN(name string, n int64, args ...any) error {
	if n <= 0 {
		return nil
	}
	blocks := min((n+255)/256, int64(k.d.SMs)*32)
	return k.d.Launch(k.fn[name], Dim{X: uint32(blocks)}, Dim{X: 256}, 0, args...)
}

var _ gpu.Backend = (*Backend)(nil)
var _ gpu.Capturer = (*Backend)(nil)
