//go:build amd64 && !noasm

package cpu

//go:generate go run gen_kernels.go

//go:noescape
func kernAVX512(k int, a, b, c *float32, ldc int, acc bool)

//go:noescape
func kernAVX2(k int, a, b, c *float32, ldc int, acc bool)

//go:noescape
func kernAVX512D(k int, a *float32, lda int, b, c *float32, ldc int, acc bool)

//go:noescape
func kernAVX512x8(k int, a, b, c *float32, ldc int, acc bool)

//go:noescape
func kernAVX512x8D(k int, a *float32, lda int, b, c *float32, ldc int, acc bool)

//go:noescape
func kernAVX2D(k int, a *float32, lda int, b, c *float32, ldc int, acc bool)

//go:noescape
func expSumAVX2(v *float32, n int, m, scale float32) float32

//go:noescape
func maxAVX2(v *float32, n int) float32

//go:noescape
func gegluTanhAVX2(out, a, gate *float32, n int)

//go:noescape
func dotAVX2(a, b *float32, n int) float32

//go:noescape
func scaleMulAVX2(out, x, w *float32, n int, s float32)

//go:noescape
func mulAddAVX2(out, x, m, a *float32, n int)

//go:noescape
func ropeAVX2(out, in, c, s *float32, q int)

func cpuid(eax, ecx uint32) (a, b, c, d uint32)
func xgetbv() (eax, edx uint32)

var (
	avx512Kernel = &microkernel{"avx512", 12, 32, kernAVX512, kernAVX512D, true, avx512x8}
	avx2Kernel   = &microkernel{"avx2", 6, 16, kernAVX2, kernAVX2D, true, nil}
	avx512x8     = &microkernel{"avx512x8", 8, 32, kernAVX512x8, kernAVX512x8D, true, nil}
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

// rowMax is max(v) (len(v) ≥ 1); simd uses AVX2 (the kernel's CPU has it).
func rowMax(v []float32, simd bool) float32 {
	n := len(v) &^ 7
	if !simd || n == 0 {
		return rowMaxGo(v)
	}
	m := maxAVX2(&v[0], n)
	if n < len(v) {
		m = max(m, rowMaxGo(v[n:]))
	}
	return m
}

// expSumRow sets v[i] = exp((v[i] − m)·scale) (arguments ≤ 0) and returns the sum.
func expSumRow(v []float32, m, scale float32, simd bool) float32 {
	n := len(v) &^ 7
	if !simd || n == 0 {
		return expSumRowGo(v, m, scale)
	}
	s := expSumAVX2(&v[0], n, m, scale)
	if n < len(v) {
		s += expSumRowGo(v[n:], m, scale)
	}
	return s
}

// gegluTanhRow sets out[i] = a[i]·geluTanh(g[i]).
func gegluTanhRow(out, a, g []float32, simd bool) {
	n := len(out) &^ 7
	if simd && n > 0 {
		gegluTanhAVX2(&out[0], &a[0], &g[0], n)
	} else {
		n = 0
	}
	gegluTanhRowGo(out[n:], a[n:len(out)], g[n:len(out)])
}

// dot is Σ a[i]·b[i].
func dot(a, b []float32, simd bool) float32 {
	n := len(a) &^ 7
	if !simd || n == 0 {
		return dotGo(a, b)
	}
	return dotAVX2(&a[0], &b[0], n) + dotGo(a[n:], b[n:len(a)])
}

// scaleMul sets out[i] = x[i]·s·w[i].
func scaleMul(out, x, w []float32, s float32, simd bool) {
	n := len(out) &^ 7
	if simd && n > 0 {
		scaleMulAVX2(&out[0], &x[0], &w[0], n, s)
	} else {
		n = 0
	}
	scaleMulGo(out[n:], x[n:len(out)], w[n:len(out)], s)
}

// mulAdd sets out[i] = x[i]·m[i] + a[i].
func mulAdd(out, x, m, a []float32, simd bool) {
	n := len(out) &^ 7
	if simd && n > 0 {
		mulAddAVX2(&out[0], &x[0], &m[0], &a[0], n)
	} else {
		n = 0
	}
	mulAddGo(out[n:], x[n:len(out)], m[n:len(out)], a[n:len(out)])
}

// rot applies one RoPE half: pairs (j, j+q) of in rotate by the angles whose cos/sin are c, s.
func rot(out, in, c, s []float32, simd bool) {
	if simd && len(c)%8 == 0 && len(c) > 0 {
		ropeAVX2(&out[0], &in[0], &c[0], &s[0], len(c))
		return
	}
	rotGo(out, in, c, s)
}
