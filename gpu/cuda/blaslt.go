package cuda

import (
	"fmt"
	"sync"
	"unsafe"

	"github.com/ebitengine/purego"
)

// cuBLASLt, opened at run time like the driver. It is optional: where the library is missing
// (a user with only the driver) the engine's own GEMM kernels run instead.
var (
	ltCreate            func(h *uintptr) int32
	ltDestroy           func(h uintptr) int32
	ltDescCreate        func(d *uintptr, compute int32, scale int32) int32
	ltDescDestroy       func(d uintptr) int32
	ltDescSetAttribute  func(d uintptr, attr int32, buf unsafe.Pointer, size uint64) int32
	ltLayoutCreate      func(l *uintptr, dtype int32, rows, cols uint64, ld int64) int32
	ltLayoutDestroy     func(l uintptr) int32
	ltPrefCreate        func(p *uintptr) int32
	ltPrefDestroy       func(p uintptr) int32
	ltPrefSetAttribute  func(p uintptr, attr int32, buf unsafe.Pointer, size uint64) int32
	ltAlgoGetHeuristic  func(h, desc, a, b, c, d, pref uintptr, n int32, res unsafe.Pointer, got *int32) int32
	ltMatmul            func(h, desc uintptr, alpha unsafe.Pointer, a uint64, ad uintptr, b uint64, bd uintptr, beta unsafe.Pointer, c uint64, cd uintptr, d uint64, dd uintptr, algo unsafe.Pointer, ws, wsSize uint64, stream uintptr) int32
	ltLoadOnce          sync.Once
	ltLoadErr           error
	BlasLtLibraryPaths  = []string{"libcublasLt.so.13", "libcublasLt.so.12", "libcublasLt.so"}
	blasLtLoadedLibrary string
)

// Data types (cudaDataType) for BlasLt.Matmul.
const (
	TypeF32  = 0
	TypeF16  = 2
	TypeBF16 = 14
)

func loadBlasLt() error {
	ltLoadOnce.Do(func() {
		var lib uintptr
		var err error
		for _, p := range BlasLtLibraryPaths {
			if lib, err = purego.Dlopen(p, purego.RTLD_NOW|purego.RTLD_GLOBAL); err == nil {
				blasLtLoadedLibrary = p
				break
			}
		}
		if lib == 0 {
			ltLoadErr = fmt.Errorf("cuBLASLt not found (%v): using the engine's own GEMM", err)
			return
		}
		defer func() {
			if r := recover(); r != nil {
				ltLoadErr = fmt.Errorf("cuBLASLt %s is missing a function: %v", blasLtLoadedLibrary, r)
			}
		}()
		reg := func(fptr any, name string) { purego.RegisterLibFunc(fptr, lib, name) }
		reg(&ltCreate, "cublasLtCreate")
		reg(&ltDestroy, "cublasLtDestroy")
		reg(&ltDescCreate, "cublasLtMatmulDescCreate")
		reg(&ltDescDestroy, "cublasLtMatmulDescDestroy")
		reg(&ltDescSetAttribute, "cublasLtMatmulDescSetAttribute")
		reg(&ltLayoutCreate, "cublasLtMatrixLayoutCreate")
		reg(&ltLayoutDestroy, "cublasLtMatrixLayoutDestroy")
		reg(&ltPrefCreate, "cublasLtMatmulPreferenceCreate")
		reg(&ltPrefDestroy, "cublasLtMatmulPreferenceDestroy")
		reg(&ltPrefSetAttribute, "cublasLtMatmulPreferenceSetAttribute")
		reg(&ltAlgoGetHeuristic, "cublasLtMatmulAlgoGetHeuristic")
		reg(&ltMatmul, "cublasLtMatmul")
	})
	return ltLoadErr
}

// BlasLt is a cuBLASLt handle on one device with a workspace and cached matmul plans. Use it
// inside Device.Do.
type BlasLt struct {
	d      *Device
	handle uintptr
	ws     uint64
	wsSize uint64
	plans  map[ltKey]*ltPlan
}

type ltKey struct{ m, n, k, at, wt, ct int }

type ltPlan struct {
	desc, a, w, c uintptr
	algo          [96]byte // cublasLtMatmulHeuristicResult_t; the algo is its first 64 bytes
}

const ltWorkspace = 32 << 20

// OpenBlasLt loads cuBLASLt and makes a handle, or returns why it cannot (then use Kernels.Gemm).
func (d *Device) OpenBlasLt() (*BlasLt, error) {
	if err := loadBlasLt(); err != nil {
		return nil, err
	}
	l := &BlasLt{d: d, plans: map[ltKey]*ltPlan{}}
	if r := ltCreate(&l.handle); r != 0 {
		return nil, fmt.Errorf("cublasLtCreate: status %d", r)
	}
	var err error
	if l.ws, l.wsSize, err = d.Alloc(ltWorkspace); err != nil {
		ltDestroy(l.handle)
		return nil, err
	}
	return l, nil
}

// Library is the cuBLASLt file that was opened.
func (l *BlasLt) Library() string { return blasLtLoadedLibrary }

// Matmul: c[M,N] (row-major, type ct) = a[M,K] (type at) · w[N,K]ᵀ (type wt), f32 accumulate:
// the engine's linear layer. cuBLASLt is column-major, so this computes cᵀ = w·aᵀ.
func (l *BlasLt) Matmul(a, w, c uint64, m, n, k, at, wt, ct int) error {
	key := ltKey{m, n, k, at, wt, ct}
	p := l.plans[key]
	if p == nil {
		var err error
		if p, err = l.plan(key); err != nil {
			return err
		}
		l.plans[key] = p
	}
	alpha, beta := float32(1), float32(0)
	r := ltMatmul(l.handle, p.desc, unsafe.Pointer(&alpha), w, p.w, a, p.a, unsafe.Pointer(&beta), c, p.c, c, p.c,
		unsafe.Pointer(&p.algo[0]), l.ws, l.wsSize, l.d.stream)
	if r != 0 {
		return fmt.Errorf("cublasLtMatmul %d×%d×%d: status %d", m, n, k, r)
	}
	return nil
}

func (l *BlasLt) plan(key ltKey) (*ltPlan, error) {
	const compute32F, transA, prefMaxWorkspace = 68, 3, 1
	p := &ltPlan{}
	if r := ltDescCreate(&p.desc, compute32F, TypeF32); r != 0 {
		return nil, fmt.Errorf("cublasLtMatmulDescCreate: status %d", r)
	}
	opT := int32(1)
	ltDescSetAttribute(p.desc, transA, unsafe.Pointer(&opT), 4)
	// column-major views: w is K×N (ld K) used transposed, a is K×M (ld K), c is N×M (ld N)
	ltLayoutCreate(&p.w, int32(key.wt), uint64(key.k), uint64(key.n), int64(key.k))
	ltLayoutCreate(&p.a, int32(key.at), uint64(key.k), uint64(key.m), int64(key.k))
	ltLayoutCreate(&p.c, int32(key.ct), uint64(key.n), uint64(key.m), int64(key.n))
	var pref uintptr
	ltPrefCreate(&pref)
	defer ltPrefDestroy(pref)
	ws := l.wsSize
	ltPrefSetAttribute(pref, prefMaxWorkspace, unsafe.Pointer(&ws), 8)
	var got int32
	r := ltAlgoGetHeuristic(l.handle, p.desc, p.w, p.a, p.c, p.c, pref, 1, unsafe.Pointer(&p.algo[0]), &got)
	if r != 0 || got == 0 {
		l.destroyPlan(p)
		return nil, fmt.Errorf("cuBLASLt has no algorithm for %d×%d×%d (types %d,%d→%d): status %d", key.m, key.n, key.k, key.at, key.wt, key.ct, r)
	}
	return p, nil
}

func (l *BlasLt) destroyPlan(p *ltPlan) {
	ltLayoutDestroy(p.a)
	ltLayoutDestroy(p.w)
	ltLayoutDestroy(p.c)
	ltDescDestroy(p.desc)
}

// Close frees the plans, workspace and handle.
func (l *BlasLt) Close() {
	for _, p := range l.plans {
		l.destroyPlan(p)
	}
	l.plans = nil
	l.d.Free(l.ws, l.wsSize)
	ltDestroy(l.handle)
}
