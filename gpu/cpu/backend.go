// Package cpu is the engine's CPU backend: every kernel of gpu.Kernels in Go, spread over all
// cores by a small worker pool, with a cache-blocked GEMM whose microkernel is Go assembly
// (AVX-512 or AVX2+FMA, chosen at run time) and a portable Go fallback. Importing the package
// registers it as "cpu". It is the reference the other backends are checked against in CI.
package cpu

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"unsafe"

	"latentstudio/gpu"
)

// EnvThreads overrides the number of worker threads (default: GOMAXPROCS).
const EnvThreads = "STUDIO_CPU_THREADS"

func init() {
	gpu.Register("cpu", func() (gpu.Backend, error) {
		n := 0
		if v := os.Getenv(EnvThreads); v != "" {
			var err error
			if n, err = strconv.Atoi(v); err != nil || n < 1 {
				return nil, fmt.Errorf("%s=%q: want a positive number of threads", EnvThreads, v)
			}
		}
		return New(n), nil
	})
}

// Backend runs kernels on the CPU. It is safe for concurrent use by several Contexts.
type Backend struct {
	pool   *pool
	kern   *microkernel
	reason string
}

// New makes a CPU backend with the given number of worker threads (0: GOMAXPROCS, which
// follows the CPUs the process may use).
func New(threads int) *Backend {
	if threads <= 0 {
		threads = runtime.GOMAXPROCS(0)
	}
	return &Backend{pool: newPool(threads), kern: selectKernel()}
}

// Close stops the workers.
func (b *Backend) Close() error { b.pool.close(); return nil }

// SetReason records why Open chose this backend.
func (b *Backend) SetReason(r string) { b.reason = r }

// Kernel names the GEMM microkernel in use ("avx512", "avx2" or "go").
func (b *Backend) Kernel() string { return b.kern.name }

// Info describes the CPU.
func (b *Backend) Info() gpu.Info {
	in := gpu.Info{Backend: "cpu", Device: cpuName() + " (" + b.kern.name + ")", Threads: b.pool.n, Reason: b.reason}
	in.MemoryTotal, in.MemoryFree = memInfo()
	return in
}

func cpuName() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if k, v, ok := strings.Cut(s.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

func memInfo() (total, free int64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		var kb int64
		line := s.Text()
		if _, err := fmt.Sscanf(line, "MemTotal: %d kB", &kb); err == nil {
			total = kb << 10
		} else if _, err := fmt.Sscanf(line, "MemAvailable: %d kB", &kb); err == nil {
			free = kb << 10
		}
	}
	return total, free
}

// buffer is the CPU storage: float32 elements, or raw 16-bit words for F16/BF16.
type buffer struct {
	f []float32
	h []uint16

	// A sealed buffer (a weight) never changes, so its GEMM packing is cached.
	sealed bool
	mu     sync.Mutex
	packed map[packKey][]float32
}

type packKey struct {
	kernel string
	transB bool
	k, n   int
}

// Seal marks a weight's buffer immutable (gpu.Sealer).
func (b *Backend) Seal(s gpu.Storage) { s.(*buffer).sealed = true }

// packedB returns the cached packing of a sealed buffer used as GEMM operand B.
func (b *buffer) packedB(kr *microkernel, B matrix, transB bool, k, n int) []float32 {
	key := packKey{kr.name, transB, k, n}
	b.mu.Lock()
	defer b.mu.Unlock()
	if p, ok := b.packed[key]; ok {
		return p
	}
	if b.packed == nil {
		b.packed = map[packKey][]float32{}
	}
	p := packAllB(kr, B, k, n)
	b.packed[key] = p
	return p
}

func (b *buffer) Bytes() int { return 4*len(b.f) + 2*len(b.h) }

// f32 returns t's float32 elements.
func f32(t *gpu.Tensor) []float32 {
	if t == nil {
		return nil
	}
	return t.Storage().(*buffer).f
}

// bigAlloc is the size above which Alloc first checks the memory the system has left: Go
// cannot recover from running out, so a huge request must fail before it is made.
const bigAlloc = 256 << 20

// Alloc makes a zeroed buffer; a request larger than the available memory fails with
// gpu.ErrOutOfMemory instead of crashing the process.
func (b *Backend) Alloc(dt gpu.DType, n int) (gpu.Storage, error) {
	if n < 0 || n > math.MaxInt/8 {
		return nil, fmt.Errorf("bad size %d", n)
	}
	if bytes := int64(n) * int64(dt.Size()); bytes > bigAlloc {
		if _, free := memInfo(); free > 0 && bytes > free {
			return nil, fmt.Errorf("%w: %d MiB asked, %d MiB available", gpu.ErrOutOfMemory, bytes>>20, free>>20)
		}
	}
	if dt == gpu.F32 {
		return &buffer{f: make([]float32, n)}, nil
	}
	return &buffer{h: make([]uint16, n)}, nil
}

// Free drops the buffer (the Go GC reclaims it).
func (b *Backend) Free(gpu.Storage) {}

// WeightDType: the CPU computes in float32, so weights are stored as F32.
func (b *Backend) WeightDType(gpu.DType) gpu.DType { return gpu.F32 }

// Sync: kernels run synchronously.
func (b *Backend) Sync() error { return nil }

// Write copies little-endian host data of type src into dst, converting.
func (b *Backend) Write(dst *gpu.Tensor, data []byte, src gpu.DType) error {
	buf := dst.Storage().(*buffer)
	n := dst.Elems()
	if len(data) != n*src.Size() {
		return fmt.Errorf("write %v: %d bytes of %v for %d elements", dst, len(data), src, n)
	}
	switch {
	case dst.DType() == gpu.F32 && src == gpu.F32:
		if n > 0 { // a byte copy: data may be unaligned (a mapped file), the host is little-endian
			copy(unsafe.Slice((*byte)(unsafe.Pointer(&buf.f[0])), 4*n), data)
		}
	case dst.DType() == gpu.F32:
		conv := gpu.F16ToF32
		if src == gpu.BF16 {
			conv = gpu.BF16ToF32
		}
		for i := range n {
			buf.f[i] = conv(binary.LittleEndian.Uint16(data[2*i:]))
		}
	case src == dst.DType():
		for i := range n {
			buf.h[i] = binary.LittleEndian.Uint16(data[2*i:])
		}
	default:
		return fmt.Errorf("write %v from %v: convert through F32", dst, src)
	}
	return nil
}

// Read copies src into data as float32.
func (b *Backend) Read(data []float32, src *gpu.Tensor) error {
	buf := src.Storage().(*buffer)
	switch src.DType() {
	case gpu.F32:
		copy(data, buf.f)
	case gpu.F16:
		for i, h := range buf.h {
			data[i] = gpu.F16ToF32(h)
		}
	case gpu.BF16:
		for i, h := range buf.h {
			data[i] = gpu.BF16ToF32(h)
		}
	}
	return nil
}

// Cast converts between F32 and F16/BF16.
func (b *Backend) Cast(dst, src *gpu.Tensor) error {
	s, d := src.Storage().(*buffer), dst.Storage().(*buffer)
	from, to := src.DType(), dst.DType()
	switch {
	case from == to && from == gpu.F32:
		copy(d.f, s.f)
	case from == to:
		copy(d.h, s.h)
	case from == gpu.F32:
		conv := gpu.F32ToF16
		if to == gpu.BF16 {
			conv = gpu.F32ToBF16
		}
		for i, v := range s.f {
			d.h[i] = conv(v)
		}
	case to == gpu.F32:
		return b.Read(d.f, src)
	default:
		tmp := make([]float32, src.Elems())
		_ = b.Read(tmp, src)
		conv := gpu.F32ToF16
		if to == gpu.BF16 {
			conv = gpu.F32ToBF16
		}
		for i, v := range tmp {
			d.h[i] = conv(v)
		}
	}
	return nil
}
