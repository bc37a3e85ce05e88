package cpu

import "testing"

// BenchmarkMicrokernel runs each microkernel on cache-resident panels: the ceiling for GEMM.
func BenchmarkMicrokernel(b *testing.B) {
	var ks []*microkernel
	for _, k := range available() {
		ks = append(ks, k)
		if k.small != nil {
			ks = append(ks, k.small)
		}
	}
	for _, k := range ks {
		b.Run(k.name, func(b *testing.B) {
			const kc = 256
			A := make([]float32, kc*k.mr)
			B := make([]float32, kc*k.nr)
			C := make([]float32, k.mr*k.nr)
			for b.Loop() {
				k.fn(kc, &A[0], &B[0], &C[0], k.nr, true)
			}
			b.ReportMetric(2*float64(kc*k.mr*k.nr)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
