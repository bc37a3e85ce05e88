//go:build arm64 && !noasm

package cpu

//go:noescape
func kernNEON(k int, a, b, c *float32, ldc int, acc bool)

//go:noescape
func kernNEOND(k int, a *float32, lda int, b, c *float32, ldc int, acc bool)

var neonKernel = &microkernel{"neon", 8, 12, kernNEON, kernNEOND, false, nil}

// available lists the microkernels: Advanced SIMD is part of every arm64 CPU.
func available() []*microkernel { return []*microkernel{neonKernel, genericKernel} }

func rowMax(v []float32, _ bool) float32                      { return rowMaxGo(v) }
func expSumRow(v []float32, m, scale float32, _ bool) float32 { return expSumRowGo(v, m, scale) }
func gegluTanhRow(out, a, g []float32, _ bool)                { gegluTanhRowGo(out, a, g) }
func dot(a, b []float32, _ bool) float32                      { return dotGo(a, b) }
func scaleMul(out, x, w []float32, s float32, _ bool)         { scaleMulGo(out, x, w, s) }
func mulAdd(out, x, m, a []float32, _ bool)                   { mulAddGo(out, x, m, a) }
func rot(out, in, c, s []float32, _ bool)                     { rotGo(out, in, c, s) }
