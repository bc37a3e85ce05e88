//go:build (!amd64 && !arm64) || noasm

package cpu

// available lists the microkernels: only the portable one on this build.
func available() []*microkernel { return []*microkernel{genericKernel} }

func rowMax(v []float32, _ bool) float32                      { return rowMaxGo(v) }
func expSumRow(v []float32, m, scale float32, _ bool) float32 { return expSumRowGo(v, m, scale) }
func gegluTanhRow(out, a, g []float32, _ bool)                { gegluTanhRowGo(out, a, g) }
func dot(a, b []float32, _ bool) float32                      { return dotGo(a, b) }
func scaleMul(out, x, w []float32, s float32, _ bool)         { scaleMulGo(out, x, w, s) }
func mulAdd(out, x, m, a []float32, _ bool)                   { mulAddGo(out, x, m, a) }
func rot(out, in, c, s []float32, _ bool)                     { rotGo(out, in, c, s) }
