//go:build amd64 && !noasm

package cpu

//go:generate go run gen_kernels.go

//go:noescape
func kernAVX512(k int, a, b, c *float32, ldc int, acc bool)

//go:noescape
func kernAVX2(k int, a, b, c *float32, ldc int, acc bool)

func cpuid(eax, ecx uint32) (a, b, c, d uint32)
func xgetbv() (eax, edx uint32)

var (
	avx512Kernel = &microkernel{"avx512", 12, 32, kernAVX512}
	avx2Kernel   = &microkernel{"avx2", 6, 16, kernAVX2}
)

// available lists the microkernels this CPU and OS support, fastest first: AVX-512F needs the
// OS to save ZMM and opmask state, AVX2+FMA the YMM state (XCR0 bits).
func available() []*microkernel {
	var ks []*microkernel
	maxID, _, _, _ := cpuid(0, 0)
	_, _, c1, _ := cpuid(1, 0)
	if maxID < 7 || c1&(1<<27) == 0 { // no OSXSAVE
		return []*microkernel{genericKernel}
	}
	_, b7, _, _ := cpuid(7, 0)
	xcr0, _ := xgetbv()
	ymm := xcr0&0x6 == 0x6
	zmm := ymm && xcr0&0xe0 == 0xe0
	fma := c1&(1<<12) != 0
	if zmm && b7&(1<<16) != 0 {
		ks = append(ks, avx512Kernel)
	}
	if ymm && fma && b7&(1<<5) != 0 {
		ks = append(ks, avx2Kernel)
	}
	return append(ks, genericKernel)
}
