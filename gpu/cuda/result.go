// Package cuda drives NVIDIA GPUs through the CUDA driver API, loaded at run time with purego
// (no cgo). A Device owns one OS thread: CUDA contexts are bound to threads, so every driver
// call for a device runs on that thread (a call from another thread fails with error 201).
package cuda

import (
	"errors"
	"fmt"
	"unsafe"
)

// ErrNoGPU marks the errors that mean this machine cannot run CUDA at all (no driver library,
// or a driver with no device): the engine falls back to the CPU and GPU tests skip.
var ErrNoGPU = errors.New("no NVIDIA GPU")

// result is a CUresult.
type result int32

// Common CUresult codes the engine reacts to.
const (
	errOutOfMemory     result = 2
	errNotInitialized  result = 3
	errNoDevice        result = 100
	errInvalidContext  result = 201
	errInvalidPTX      result = 218
	errUnsupportedPTX  result = 222
	errNotFound        result = 500
	errLaunchResources result = 701
)

func (r result) Error() string {
	name, desc := fmt.Sprintf("CUDA error %d", int32(r)), ""
	if cuGetErrorName != nil {
		var p *byte
		if cuGetErrorName(r, &p) == 0 && p != nil {
			name = cstring(p)
		}
		if cuGetErrorString(r, &p) == 0 && p != nil {
			desc = cstring(p)
		}
	}
	switch r {
	case errUnsupportedPTX, errInvalidPTX:
		desc += " (the NVIDIA driver is too old for the engine's PTX: update the driver)"
	case errInvalidContext:
		desc += " (a driver call ran off the device's thread)"
	}
	if desc == "" {
		return name
	}
	return name + ": " + desc
}

// IsOutOfMemory reports whether err is the device running out of memory.
func IsOutOfMemory(err error) bool {
	for err != nil {
		if r, ok := err.(result); ok {
			return r == errOutOfMemory
		}
		u, ok := err.(interface{ Unwrap() error })
		if !ok {
			return false
		}
		err = u.Unwrap()
	}
	return false
}

func check(what string, r result) error {
	if r == 0 {
		return nil
	}
	return fmt.Errorf("%s: %w", what, r)
}

func cstring(p *byte) string {
	var n int
	for *(*byte)(unsafe.Add(unsafe.Pointer(p), n)) != 0 {
		n++
	}
	return string(unsafe.Slice(p, n))
}
