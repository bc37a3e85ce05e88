package cpu

import (
	"os"
	"sync"

	"latentstudio/gpu"
)

// The GEMM follows Goto & van de Geijn: B is packed in kc×NR column panels shared by all
// workers (once per weight, for sealed weights), each worker takes an mc×kc block of A (read
// in place when row-major and alpha is 1, else packed into MR-row panels scaled by alpha) and
// a microkernel computes MR×NR tiles of C with the whole tile in registers.
const (
	gemmKC = 256
	gemmMC = 96 // a multiple of every MR (4, 6, 8, 12)
)

// microkernel computes C[MR×NR] (+)= Apanel[kc×MR]ᵀ·Bpanel[kc×NR]; c points at a full tile of
// a row-major matrix with row stride ldc; acc adds to C instead of overwriting it.
type microkernel struct {
	name   string
	mr, nr int
	fn     func(k int, a, b, c *float32, ldc int, acc bool)
	// direct reads A unpacked (row i at a + i·lda), saving the packing of A when A is
	// row-major and alpha is 1: with the model's small N, packing A cost as much as the math.
	direct func(k int, a *float32, lda int, b, c *float32, ldc int, acc bool)
	simd   bool // the CPU has AVX2+FMA: use the vector row helpers (exp, max, GEGLU)
	// small is a kernel with fewer rows for small products whose M it divides (64-row
	// attention blocks waste a third of a 12-row panel); nil when there is none.
	small *microkernel
}

// forRows picks the kernel for an m-row product.
func (kr *microkernel) forRows(m int) *microkernel {
	if kr.small != nil && m%kr.mr != 0 && m%kr.small.mr == 0 && m <= 4*gemmMC {
		return kr.small
	}
	return kr
}

var genericKernel = &microkernel{"go", 4, 4, kernGo4x4, nil, false, nil}

// EnvKernel forces a slower microkernel for tests and comparisons ("go", "avx2", "avx512");
// a kernel the CPU lacks is never chosen.
const EnvKernel = "STUDIO_CPU_KERNEL"

// Kernels lists the microkernels this CPU can run, fastest first.
func Kernels() []string {
	var n []string
	for _, k := range available() {
		n = append(n, k.name)
	}
	return n
}

func selectKernel() *microkernel {
	ks := available()
	if want := os.Getenv(EnvKernel); want != "" {
		for _, k := range ks {
			if k.name == want {
				return k
			}
		}
	}
	return ks[0]
}

// WithKernel returns a backend sharing b's workers that uses the named microkernel (for tests
// and benchmarks); ok is false when this CPU cannot run it.
func (b *Backend) WithKernel(name string) (*Backend, bool) {
	for _, k := range available() {
		if k.name == name {
			return &Backend{pool: b.pool, kern: k, reason: b.reason}, true
		}
	}
	return nil, false
}

// matrix is a strided view: element (i, j) is d[i*rs + j*cs].
type matrix struct {
	d      []float32
	rs, cs int
}

var packPool = sync.Pool{New: func() any { return new([]float32) }}

func getBuf(n int) *[]float32 {
	p := packPool.Get().(*[]float32)
	if cap(*p) < n {
		*p = make([]float32, n)
	}
	*p = (*p)[:n]
	return p
}

// Gemm implements gpu.Kernels.
func (b *Backend) Gemm(dst, a, bm, bias *gpu.Tensor, p gpu.GemmParams) error {
	A, B, C := f32(a), f32(bm), f32(dst)
	var bi []float32
	if bias != nil {
		bi = f32(bias)
	}
	am := func(i int) matrix {
		off := i * p.StrideA
		if p.TransA {
			return matrix{d: A[off : off+p.M*p.K], rs: 1, cs: p.M}
		}
		return matrix{d: A[off : off+p.M*p.K], rs: p.K, cs: 1}
	}
	bmat := func(i int) matrix {
		off := i * p.StrideB
		if p.TransB {
			return matrix{d: B[off : off+p.K*p.N], rs: 1, cs: p.K}
		}
		return matrix{d: B[off : off+p.K*p.N], rs: p.N, cs: 1}
	}
	cm := func(i int) []float32 { return C[i*p.M*p.N : (i+1)*p.M*p.N] }
	var bpacked []float32
	if buf := bm.Storage().(*buffer); buf.sealed && (p.Batch == 1 || p.StrideB == 0) && p.K > 0 {
		bpacked = buf.packedB(b.kern, bmat(0), p.TransB, p.K, p.N)
	}
	flops := 2 * p.M * p.N * p.K
	if p.Batch > 1 && (p.Batch >= 4*b.pool.n || flops < 1<<22) {
		b.pool.run(p.Batch, func(i int) {
			gemmPacked(nil, b.kern, p.M, p.N, p.K, p.Alpha, am(i), bmat(i), bpacked, cm(i), p.N, bi)
		})
		return nil
	}
	for i := range p.Batch {
		workers := b.pool
		if flops < 1<<18 {
			workers = nil
		}
		gemmPacked(workers, b.kern, p.M, p.N, p.K, p.Alpha, am(i), bmat(i), bpacked, cm(i), p.N, bi)
	}
	return nil
}

// packAllB packs all of B (k×n) as gemm's k blocks would: block pc (of kc rows) starts at
// pc·npan·nr and holds npan panels of kc×nr.
func packAllB(kr *microkernel, B matrix, k, n int) []float32 {
	nr := kr.nr
	npan := (n + nr - 1) / nr
	out := make([]float32, k*npan*nr)
	for pc := 0; pc < k; pc += gemmKC {
		kc := min(gemmKC, k-pc)
		blk := out[pc*npan*nr:]
		for jp := range npan {
			packB(blk[jp*kc*nr:(jp+1)*kc*nr], B, pc, kc, jp*nr, n, nr)
		}
	}
	return out
}

// gemm computes C[m×n] = alpha·A·B (+ bias[n]); workers nil runs on the calling goroutine.
func gemm(workers *pool, kr *microkernel, m, n, k int, alpha float32, A, B matrix, C []float32, ldc int, bias []float32) {
	gemmPacked(workers, kr, m, n, k, alpha, A, B, nil, C, ldc, bias)
}

// gemmPacked is gemm with B optionally already packed by packAllB (bpacked non-nil).
func gemmPacked(workers *pool, kr *microkernel, m, n, k int, alpha float32, A, B matrix, bpacked []float32, C []float32, ldc int, bias []float32) {
	if m == 0 || n == 0 {
		return
	}
	if k == 0 {
		for i := range m {
			row := C[i*ldc : i*ldc+n]
			for j := range row {
				row[j] = 0
				if bias != nil {
					row[j] = bias[j]
				}
			}
		}
		return
	}
	run := func(tasks int, f func(int)) {
		if workers == nil {
			for i := range tasks {
				f(i)
			}
			return
		}
		workers.run(tasks, f)
	}
	mr, nr := kr.mr, kr.nr
	if bias != nil {
		run((m+63)/64, func(t int) {
			for i := t * 64; i < min(m, t*64+64); i++ {
				copy(C[i*ldc:i*ldc+n], bias[:n])
			}
		})
	}
	npan := (n + nr - 1) / nr
	mblocks := (m + gemmMC - 1) / gemmMC
	// Split the panels into column chunks when there are too few row blocks to feed the workers.
	nchunks := 1
	if workers != nil {
		for mblocks*nchunks < 2*workers.n && nchunks < npan {
			nchunks++
		}
	}
	perChunk := (npan + nchunks - 1) / nchunks
	var bp *[]float32
	if bpacked == nil {
		bp = getBuf(gemmKC * npan * nr)
		defer packPool.Put(bp)
	}
	for pc := 0; pc < k; pc += gemmKC {
		kc := min(gemmKC, k-pc)
		var Bp []float32
		if bpacked != nil {
			Bp = bpacked[pc*npan*nr : (pc+kc)*npan*nr]
		} else {
			Bp = (*bp)[:kc*npan*nr]
			run(npan, func(jp int) { packB(Bp[jp*kc*nr:(jp+1)*kc*nr], B, pc, kc, jp*nr, n, nr) })
		}
		acc := pc > 0 || bias != nil
		run(mblocks*nchunks, func(t int) {
			ib, ch := t/nchunks, t%nchunks
			i0 := ib * gemmMC
			mc := min(gemmMC, m-i0)
			mpan := (mc + mr - 1) / mr
			direct := kr.direct != nil && A.cs == 1 && alpha == 1
			ap := getBuf(kc * mpan * mr)
			Ap := *ap
			for ip := range mpan {
				rows := min(mr, m-i0-ip*mr)
				if !direct || rows < mr {
					packA(Ap[ip*kc*mr:(ip+1)*kc*mr], A, i0+ip*mr, rows, pc, kc, mr, alpha)
				}
			}
			var tile [16 * 32]float32
			for jp := ch * perChunk; jp < min(npan, (ch+1)*perChunk); jp++ {
				j0 := jp * nr
				cols := min(nr, n-j0)
				bpan := &Bp[jp*kc*nr]
				for ip := range mpan {
					r0 := i0 + ip*mr
					rows := min(mr, m-r0)
					apan := &Ap[ip*kc*mr]
					if rows == mr && cols == nr {
						if direct {
							kr.direct(kc, &A.d[r0*A.rs+pc], A.rs, bpan, &C[r0*ldc+j0], ldc, acc)
						} else {
							kr.fn(kc, apan, bpan, &C[r0*ldc+j0], ldc, acc)
						}
						continue
					}
					if direct && rows == mr {
						kr.direct(kc, &A.d[r0*A.rs+pc], A.rs, bpan, &tile[0], nr, false)
						goto edge
					}
					kr.fn(kc, apan, bpan, &tile[0], nr, false)
				edge:
					for i := range rows {
						crow := C[(r0+i)*ldc+j0 : (r0+i)*ldc+j0+cols]
						trow := tile[i*nr : i*nr+cols]
						if acc {
							for j := range crow {
								crow[j] += trow[j]
							}
						} else {
							copy(crow, trow)
						}
					}
				}
			}
			packPool.Put(ap)
		})
	}
}

// packA writes rows r0..r0+rows of A (columns pc..pc+kc), times alpha, as kc groups of mr
// values, zero padded.
func packA(dst []float32, A matrix, r0, rows, pc, kc, mr int, alpha float32) {
	if A.cs == 1 {
		for i := range rows {
			src := A.d[(r0+i)*A.rs+pc : (r0+i)*A.rs+pc+kc]
			for p, v := range src {
				dst[p*mr+i] = alpha * v
			}
		}
	} else {
		for p := range kc {
			src := A.d[(pc+p)*A.cs+r0*A.rs:]
			for i := range rows {
				dst[p*mr+i] = alpha * src[i*A.rs]
			}
		}
	}
	if rows < mr {
		for p := range kc {
			for i := rows; i < mr; i++ {
				dst[p*mr+i] = 0
			}
		}
	}
}

// packB writes columns j0..j0+nr of B (rows pc..pc+kc) as kc groups of nr values, zero padded.
func packB(dst []float32, B matrix, pc, kc, j0, n, nr int) {
	cols := min(nr, n-j0)
	if B.cs == 1 {
		for p := range kc {
			src := B.d[(pc+p)*B.rs+j0 : (pc+p)*B.rs+j0+cols]
			d := dst[p*nr : p*nr+nr]
			copy(d, src)
			for j := cols; j < nr; j++ {
				d[j] = 0
			}
		}
		return
	}
	j := 0
	for ; j+8 <= cols; j += 8 { // eight source rows at a time: 32-byte stores, eight read streams
		s := [8][]float32{}
		for q := range s {
			s[q] = B.d[(j0+j+q)*B.cs+pc : (j0+j+q)*B.cs+pc+kc]
		}
		for p := range kc {
			d := dst[p*nr+j : p*nr+j+8 : p*nr+j+8]
			d[0], d[1], d[2], d[3] = s[0][p], s[1][p], s[2][p], s[3][p]
			d[4], d[5], d[6], d[7] = s[4][p], s[5][p], s[6][p], s[7][p]
		}
	}
	for ; j < cols; j++ {
		src := B.d[(j0+j)*B.cs+pc : (j0+j)*B.cs+pc+kc]
		for p, v := range src {
			dst[p*nr+j] = v
		}
	}
	for p := range kc {
		for j := cols; j < nr; j++ {
			dst[p*nr+j] = 0
		}
	}
}
