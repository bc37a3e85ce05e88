package gpu

// Kernels is what a backend implements. The Context has already checked every shape and
// dtype and allocated dst, so a kernel only computes. Kernels may run asynchronously (queued on
// a stream); Read and Sync wait for all queued work. Inputs and dst never alias.
//
// Layouts are row-major and contiguous. Activations are F32; a backend may accept F16/BF16
// weights in Gemm and Conv2D (the CPU backend stores weights as F32, see WeightDType).
type Kernels interface {
	// Memory.
	Alloc(dt DType, elems int) (Storage, error)
	Free(s Storage)
	// WeightDType is the storage type the backend keeps for weights given in dt.
	WeightDType(dt DType) DType
	// Write copies host data (little-endian elements of type src) into dst, converting to
	// dst's dtype if they differ. data may alias the caller's memory (Upload passes a view of
	// its []float32): finish reading it before returning.
	Write(dst *Tensor, data []byte, src DType) error
	// Read waits for queued work and copies src into data, converted to float32.
	Read(data []float32, src *Tensor) error
	Sync() error

	// Cast converts src to dst's dtype (same shape), rounding to nearest even.
	Cast(dst, src *Tensor) error
	// Gemm: dst[b] = alpha·op(a[b])·op(b[b]) (+ bias broadcast over rows), see GemmParams.
	Gemm(dst, a, b, bias *Tensor, p GemmParams) error
	// Conv2D on NCHW input, weight [O, C/groups, KH, KW], optional bias [O].
	Conv2D(dst, x, w, bias *Tensor, p ConvParams) error
	// UpsampleNearest by integer factors on NCHW.
	UpsampleNearest(dst, x *Tensor, fh, fw int) error
	// GroupNorm on NCHW (or [N,C,...]) with optional affine w, b [C].
	GroupNorm(dst, x, w, b *Tensor, groups int, eps float32) error
	// LayerNorm over the last axis with optional w, b [D].
	LayerNorm(dst, x, w, b *Tensor, eps float32) error
	// RMSNorm over the last axis: x / sqrt(mean(x²) + eps) · w (w optional).
	RMSNorm(dst, x, w *Tensor, eps float32) error
	// Attention: q [B,H,Lq,D], k [B,H,Lk,D], v [B,H,Lk,Dv] → dst [B,H,Lq,Dv], softmax(q kᵀ·scale) v.
	Attention(dst, q, k, v *Tensor, scale float32) error
	// Window partitions src [B,N,H,W,D] into dst [B·nW,N,wh·ww,D] after a cyclic shift, or
	// with p.Reverse does the inverse (see WindowParams).
	Window(dst, src *Tensor, p WindowParams) error
	// RoPE2D rotates x [..., H, W, D] (see Context.RoPE2D for the formula).
	RoPE2D(dst, x *Tensor, base float32) error
	Unary(dst, x *Tensor, op UnaryOp) error
	// Binary with numpy broadcasting; a and b have dst's rank (size-1 axes broadcast).
	Binary(dst, a, b *Tensor, op BinaryOp) error
	// Affine: dst = alpha·x + beta.
	Affine(dst, x *Tensor, alpha, beta float32) error
	// GEGLU: x [..., 2H] → a·gelu(g) with a = x[..., :H], g = x[..., H:].
	GEGLU(dst, x *Tensor, tanh bool) error
	// Modulate: x [B, ..., C] · (1 + scale[B, C]) + shift[B, C] (shift may be nil).
	Modulate(dst, x, scale, shift *Tensor) error
	// Fourier: t [B], freqs [K] → dst [B, 2K] = [cos(2π t f_k)…, sin(2π t f_k)…].
	Fourier(dst, t, freqs *Tensor) error
	// Permute: dst axis i is x axis perm[i].
	Permute(dst, x *Tensor, perm []int) error
	// Concat along axis; the xs fill dst in order.
	Concat(dst *Tensor, xs []*Tensor, axis int) error
	// Slice: dst = x[..., start:start+dst.Dim(axis), ...] on axis.
	Slice(dst, x *Tensor, axis, start int) error
	// Pad: dst = x placed at offset before[i] on each axis, value elsewhere.
	Pad(dst, x *Tensor, before []int, value float32) error
	// Reduce over one axis (dst has that axis removed).
	Reduce(dst, x *Tensor, axis int, op ReduceOp) error
	// Softmax over the last axis.
	Softmax(dst, x *Tensor) error
	// RandN fills dst with standard normal values from Philox4x32-10 (see philox.go).
	RandN(dst *Tensor, seed, offset uint64) error
}

// GemmParams describes dst[b] (M×N) = Alpha · A[b] · B[b] (+ Bias[n]) for b < Batch.
// A[b] is M×K (stored K×M when TransA); B[b] is K×N (stored N×K when TransB: a PyTorch
// Linear weight). StrideA/StrideB are the element distance between batches; 0 broadcasts one
// matrix to every batch. dst is contiguous [Batch, M, N].
type GemmParams struct {
	Batch, M, N, K   int
	TransA, TransB   bool
	StrideA, StrideB int
	Alpha            float32
}

// ConvParams for Conv2D; output size is (H + 2·PadH − KH)/StrideH + 1 (no dilation).
type ConvParams struct {
	StrideH, StrideW int
	PadH, PadW       int
	Groups           int
}

// WindowParams for Window: windows of WH×WW tokens over an H×W grid, after rolling the grid by
// (−ShiftH, −ShiftW) (torch.roll), so shifted[r][t] = x[(r+ShiftH) mod H][(t+ShiftW) mod W].
// Windows are in row-major order over the grid, tokens row-major inside a window. Reverse
// maps windows back and undoes the roll.
type WindowParams struct {
	WH, WW         int
	ShiftH, ShiftW int
	Reverse        bool
}

// UnaryOp names an elementwise function.
type UnaryOp uint8

const (
	GELU     UnaryOp = iota // exact: 0.5 x (1 + erf(x/√2))
	GELUTanh                // 0.5 x (1 + tanh(√(2/π)(x + 0.044715 x³)))
	SiLU                    // x · sigmoid(x)
	Sigmoid
	Tanh
	Exp
	Square
	Sqrt
	Abs
)

// BinaryOp names an elementwise binary function.
type BinaryOp uint8

const (
	Add BinaryOp = iota
	Sub
	Mul
	Div
	Maximum
	Minimum
)

// ReduceOp names a reduction.
type ReduceOp uint8

const (
	Sum ReduceOp = iota
	Mean
	Max
	Min
)

func (o UnaryOp) String() string {
	return [...]string{"gelu", "gelu_tanh", "silu", "sigmoid", "tanh", "exp", "square", "sqrt", "abs"}[o]
}

func (o BinaryOp) String() string {
	return [...]string{"add", "sub", "mul", "div", "maximum", "minimum"}[o]
}

func (o ReduceOp) String() string { return [...]string{"sum", "mean", "max", "min"}[o] }
