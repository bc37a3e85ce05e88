package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"latentstudio/gpu"
)

func benchTensor(b testing.TB, be *Backend, r *rand.Rand, shape ...int) *gpu.Tensor {
	s, _ := be.Alloc(gpu.F32, gpu.Shape(shape).Elems())
	copy(s.(*buffer).f, randn(r, gpu.Shape(shape).Elems()))
	return gpu.NewTensor(s, gpu.F32, shape...)
}

// BenchmarkLinear measures y = x·wᵀ (w [N,K], PyTorch layout) at the model's shapes with each
// microkernel this CPU has, on all cores; GFLOP/s is reported as a metric.
func BenchmarkLinear(b *testing.B) {
	base := New(0)
	defer base.Close()
	r := rand.New(rand.NewPCG(1, 1))
	for _, kn := range Kernels() {
		be, _ := base.WithKernel(kn)
		for _, s := range [][3]int{{4096, 64, 192}, {4096, 128, 128}, {4096, 128, 512}, {4096, 256, 512}, {4096, 512, 512}, {4096, 128, 1536}, {4096, 512, 1536}, {1024, 128, 384}, {256, 256, 768}} {
			m, k, n := s[0], s[1], s[2]
			b.Run(fmt.Sprintf("%s/M%d_K%d_N%d", kn, m, k, n), func(b *testing.B) {
				x, w, y := benchTensor(b, be, r, m, k), benchTensor(b, be, r, n, k), benchTensor(b, be, r, m, n)
				p := gpu.GemmParams{Batch: 1, M: m, N: n, K: k, TransB: true, Alpha: 1}
				for b.Loop() {
					be.Gemm(y, x, w, nil, p)
				}
				b.ReportMetric(2*float64(m*n*k)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
			})
		}
	}
}

// BenchmarkAttention measures fused attention at the model's shapes: 8×8 windows (64 tokens,
// D 64) over a 32×128 grid, and global attention over 8×32 and 4×16 grids.
func BenchmarkAttention(b *testing.B) {
	be := New(0)
	defer be.Close()
	r := rand.New(rand.NewPCG(2, 2))
	for _, s := range [][3]int{{64, 1, 64}, {16, 2, 64}, {1, 4, 256}, {1, 6, 64}} {
		bt, h, l := s[0], s[1], s[2]
		b.Run(fmt.Sprintf("B%d_H%d_L%d_D64", bt, h, l), func(b *testing.B) {
			q, k, v, o := benchTensor(b, be, r, bt, h, l, 64), benchTensor(b, be, r, bt, h, l, 64), benchTensor(b, be, r, bt, h, l, 64), benchTensor(b, be, r, bt, h, l, 64)
			for b.Loop() {
				be.Attention(o, q, k, v, 0.125)
			}
			b.ReportMetric(4*float64(bt*h*l*l*64)*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}

// BenchmarkGEGLU measures the feed-forward gate at level 0 (4096 tokens, hidden 128).
func BenchmarkGEGLU(b *testing.B) {
	be := New(0)
	defer be.Close()
	r := rand.New(rand.NewPCG(3, 3))
	x, y := benchTensor(b, be, r, 4096, 256), benchTensor(b, be, r, 4096, 128)
	for b.Loop() {
		be.GEGLU(y, x, true)
	}
}

// BenchmarkSoftmax measures softmax rows of 64 (window attention scores).
func BenchmarkSoftmax(b *testing.B) {
	be := New(0)
	defer be.Close()
	r := rand.New(rand.NewPCG(3, 3))
	x, y := benchTensor(b, be, r, 4096, 64), benchTensor(b, be, r, 4096, 64)
	for b.Loop() {
		be.Softmax(y, x)
	}
}

// BenchmarkConv2D measures convolutions at VAE-like shapes (64×64 feature maps).
func BenchmarkConv2D(b *testing.B) {
	be := New(0)
	defer be.Close()
	r := rand.New(rand.NewPCG(4, 4))
	for _, s := range []struct {
		name        string
		c, o, k, hw int
		p           gpu.ConvParams
	}{
		{"3x3_64to64_64px", 64, 64, 3, 64, gpu.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 1}},
		{"1x1_128to64_64px", 128, 64, 1, 64, gpu.ConvParams{StrideH: 1, StrideW: 1, Groups: 1}},
		{"3x3s2_64to128_64px", 64, 128, 3, 64, gpu.ConvParams{StrideH: 2, StrideW: 2, PadH: 1, PadW: 1, Groups: 1}},
		{"dw3x3_128_64px", 128, 128, 3, 64, gpu.ConvParams{StrideH: 1, StrideW: 1, PadH: 1, PadW: 1, Groups: 128}},
	} {
		b.Run(s.name, func(b *testing.B) {
			oh := (s.hw+2*s.p.PadH-s.k)/s.p.StrideH + 1
			x := benchTensor(b, be, r, 1, s.c, s.hw, s.hw)
			w := benchTensor(b, be, r, s.o, s.c/s.p.Groups, s.k, s.k)
			y := benchTensor(b, be, r, 1, s.o, oh, oh)
			for b.Loop() {
				be.Conv2D(y, x, w, nil, s.p)
			}
			flops := 2 * float64(s.o*oh*oh*(s.c/s.p.Groups)*s.k*s.k)
			b.ReportMetric(flops*float64(b.N)/b.Elapsed().Seconds()/1e9, "GFLOP/s")
		})
	}
}
