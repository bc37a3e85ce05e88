package cuda

import (
	"fmt"

	"github.com/ebitengine/purego"
)

func load() (err error) {
	lib, err := purego.Dlopen(LibraryPath, purego.RTLD_NOW|purego.RTLD_GLOBAL)
	if err != nil {
		return fmt.Errorf("%w: NVIDIA driver not found (%v): install the NVIDIA driver to use the GPU", ErrNoGPU, err)
	}
	// RegisterLibFunc panics on a missing symbol; turn that into an error naming it.
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("NVIDIA driver too old: %v", r)
		}
	}()
	reg := func(fptr any, name string) { purego.RegisterLibFunc(fptr, lib, name) }
	reg(&cuInit, "cuInit")
	reg(&cuDriverGetVersion, "cuDriverGetVersion")
	reg(&cuDeviceGetCount, "cuDeviceGetCount")
	reg(&cuDeviceGet, "cuDeviceGet")
	reg(&cuDeviceGetName, "cuDeviceGetName")
	reg(&cuDeviceTotalMem, "cuDeviceTotalMem_v2")
	reg(&cuDeviceGetAttribute, "cuDeviceGetAttribute")
	reg(&cuDevicePrimaryCtxRetain, "cuDevicePrimaryCtxRetain")
	reg(&cuCtxSetCurrent, "cuCtxSetCurrent")
	reg(&cuCtxSynchronize, "cuCtxSynchronize")
	reg(&cuMemGetInfo, "cuMemGetInfo_v2")
	reg(&cuMemAlloc, "cuMemAlloc_v2")
	reg(&cuMemFree, "cuMemFree_v2")
	reg(&cuMemcpyHtoDAsync, "cuMemcpyHtoDAsync_v2")
	reg(&cuMemcpyDtoHAsync, "cuMemcpyDtoHAsync_v2")
	reg(&cuMemcpyDtoDAsync, "cuMemcpyDtoDAsync_v2")
	reg(&cuMemsetD32Async, "cuMemsetD32Async")
	reg(&cuModuleLoadDataEx, "cuModuleLoadDataEx")
	reg(&cuModuleUnload, "cuModuleUnload")
	reg(&cuModuleGetFunction, "cuModuleGetFunction")
	reg(&cuFuncSetAttribute, "cuFuncSetAttribute")
	reg(&cuLaunchKernel, "cuLaunchKernel")
	reg(&cuStreamCreate, "cuStreamCreate")
	reg(&cuStreamSynchronize, "cuStreamSynchronize")
	reg(&cuStreamDestroy, "cuStreamDestroy_v2")
	reg(&cuEventCreate, "cuEventCreate")
	reg(&cuEventRecord, "cuEventRecord")
	reg(&cuEventSynchronize, "cuEventSynchronize")
	reg(&cuEventElapsedTime, "cuEventElapsedTime")
	reg(&cuEventDestroy, "cuEventDestroy_v2")
	reg(&cuStreamBeginCapture, "cuStreamBeginCapture_v2")
	reg(&cuStreamEndCapture, "cuStreamEndCapture")
	reg(&cuGraphInstantiate, "cuGraphInstantiateWithFlags")
	reg(&cuGraphLaunch, "cuGraphLaunch")
	reg(&cuGraphExecDestroy, "cuGraphExecDestroy")
	reg(&cuGraphDestroy, "cuGraphDestroy")
	reg(&cuGetErrorName, "cuGetErrorName")
	reg(&cuGetErrorString, "cuGetErrorString")
	if r := cuInit(0); r == errNoDevice {
		return fmt.Errorf("%w: NVIDIA driver present but no CUDA-capable device is visible (%w)", ErrNoGPU, r)
	} else if r != 0 {
		return fmt.Errorf("NVIDIA driver present but cuInit failed: %w", r)
	}
	return nil
}
