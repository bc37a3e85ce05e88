package cuda

import (
	"sync"
	"unsafe"
)

// The CUDA driver API, opened at run time from libcuda.so.1 (installed with the NVIDIA driver)
// through purego: no cgo, and a build without a GPU runs the same binary.
var (
	cuInit                   func(flags uint32) result
	cuDriverGetVersion       func(v *int32) result
	cuDeviceGetCount         func(n *int32) result
	cuDeviceGet              func(dev *int32, ordinal int32) result
	cuDeviceGetName          func(name *byte, n int32, dev int32) result
	cuDeviceTotalMem         func(bytes *uint64, dev int32) result
	cuDeviceGetAttribute     func(v *int32, attr int32, dev int32) result
	cuDevicePrimaryCtxRetain func(ctx *uintptr, dev int32) result
	cuCtxSetCurrent          func(ctx uintptr) result
	cuCtxSynchronize         func() result
	cuMemGetInfo             func(free, total *uint64) result
	cuMemAlloc               func(ptr *uint64, size uint64) result
	cuMemFree                func(ptr uint64) result
	cuMemcpyHtoDAsync        func(dst uint64, src unsafe.Pointer, n uint64, s uintptr) result
	cuMemcpyDtoHAsync        func(dst unsafe.Pointer, src uint64, n uint64, s uintptr) result
	cuMemcpyDtoDAsync        func(dst, src uint64, n uint64, s uintptr) result
	cuMemsetD32Async         func(dst uint64, v uint32, n uint64, s uintptr) result
	cuModuleLoadDataEx       func(mod *uintptr, image unsafe.Pointer, n uint32, opts unsafe.Pointer, vals unsafe.Pointer) result
	cuModuleUnload           func(mod uintptr) result
	cuModuleGetFunction      func(f *uintptr, mod uintptr, name *byte) result
	cuFuncSetAttribute       func(f uintptr, attr int32, v int32) result
	cuLaunchKernel           func(f uintptr, gx, gy, gz, bx, by, bz, smem uint32, s uintptr, params unsafe.Pointer, extra unsafe.Pointer) result
	cuStreamCreate           func(s *uintptr, flags uint32) result
	cuStreamSynchronize      func(s uintptr) result
	cuStreamDestroy          func(s uintptr) result
	cuEventCreate            func(e *uintptr, flags uint32) result
	cuEventRecord            func(e, s uintptr) result
	cuEventSynchronize       func(e uintptr) result
	cuEventElapsedTime       func(ms *float32, start, end uintptr) result
	cuEventDestroy           func(e uintptr) result
	cuStreamBeginCapture     func(s uintptr, mode int32) result
	cuStreamEndCapture       func(s uintptr, g *uintptr) result
	cuGraphInstantiate       func(exec *uintptr, g uintptr, flags uint64) result
	cuGraphLaunch            func(exec, s uintptr) result
	cuGraphExecDestroy       func(exec uintptr) result
	cuGraphDestroy           func(g uintptr) result
	cuGetErrorName           func(r result, s **byte) result
	cuGetErrorString         func(r result, s **byte) result
)

var (
	loadOnce sync.Once
	loadErr  error
)

// LibraryPath is the driver library opened by Load.
var LibraryPath = "libcuda.so.1"

// Load opens the driver library and resolves every entry point the engine uses. It fails
// with a clear error when the NVIDIA driver is not installed or is too old.
func Load() error {
	loadOnce.Do(func() { loadErr = load() })
	return loadErr
}
