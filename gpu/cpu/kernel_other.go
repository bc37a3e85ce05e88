//go:build !amd64 || noasm

package cpu

// available lists the microkernels: only the portable one on this build.
func available() []*microkernel { return []*microkernel{genericKernel} }
