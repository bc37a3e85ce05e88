package gpu

import (
	"math"
	"runtime"
	"sync"
)

// Philox4x32-10 (Salmon et al., "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the
// generator of cuRAND and PyTorch's CUDA RNG) turns a 128-bit counter and a 64-bit key into
// four 32-bit words. The engine's normal noise is defined from it so every backend gives the
// same values for the same (seed, offset):
//
//   - element n (n = offset + index in the tensor) uses counter (lo32(n/4), hi32(n/4), 0, 0)
//     and key (lo32(seed), hi32(seed)), giving words x0..x3;
//   - u_i = (x_i + 0.5) / 2^32 (in float64, never 0 or 1);
//   - Box–Muller in float64: r = sqrt(−2 ln u0), θ = 2π u1 → z0 = r cos θ, z1 = r sin θ;
//     likewise z2, z3 from u2, u3;
//   - the element is float32(z_{n mod 4}).
//
// The words are bit-exact on every backend; the normals are exact up to the last bit of the
// platform's float64 log/sin/cos before rounding to float32 (CUDA: use log, sincospi-free
// sin/cos in double).

const (
	philoxM0 = 0xD2511F53
	philoxM1 = 0xCD9E8D57
	philoxW0 = 0x9E3779B9
	philoxW1 = 0xBB67AE85
)

// Philox4x32 runs the 10-round Philox bijection on counter c with key k.
func Philox4x32(c [4]uint32, k [2]uint32) [4]uint32 {
	for r := 0; r < 10; r++ {
		if r > 0 {
			k[0] += philoxW0
			k[1] += philoxW1
		}
		p0 := uint64(philoxM0) * uint64(c[0])
		p1 := uint64(philoxM1) * uint64(c[2])
		c = [4]uint32{
			uint32(p1>>32) ^ c[1] ^ k[0],
			uint32(p1),
			uint32(p0>>32) ^ c[3] ^ k[1],
			uint32(p0),
		}
	}
	return c
}

// PhiloxNormal4 returns the four normals of counter block blk (elements 4·blk .. 4·blk+3).
func PhiloxNormal4(seed, blk uint64) [4]float32 {
	x := Philox4x32([4]uint32{uint32(blk), uint32(blk >> 32), 0, 0}, [2]uint32{uint32(seed), uint32(seed >> 32)})
	var z [4]float32
	for i := 0; i < 4; i += 2 {
		u0 := (float64(x[i]) + 0.5) / (1 << 32)
		u1 := (float64(x[i+1]) + 0.5) / (1 << 32)
		r := math.Sqrt(-2 * math.Log(u0))
		s, c := math.Sincos(2 * math.Pi * u1)
		z[i], z[i+1] = float32(r*c), float32(r*s)
	}
	return z
}

// FillNormal writes Normal(seed, offset+i) into out[i], the reference every backend matches.
// Large fills run on all cores (each value depends only on its index, so the result is the
// same).
func FillNormal(out []float32, seed, offset uint64) {
	const chunk = 1 << 14
	if n := runtime.GOMAXPROCS(0); n > 1 && len(out) >= 2*chunk {
		var wg sync.WaitGroup
		parts := min(n, len(out)/chunk)
		size := (len(out)/parts + 3) &^ 3
		for lo := 0; lo < len(out); lo += size {
			hi := min(lo+size, len(out))
			wg.Go(func() { fillNormal(out[lo:hi], seed, offset+uint64(lo)) })
		}
		wg.Wait()
		return
	}
	fillNormal(out, seed, offset)
}

func fillNormal(out []float32, seed, offset uint64) {
	i := 0
	for i < len(out) {
		n := offset + uint64(i)
		z := PhiloxNormal4(seed, n/4)
		for j := int(n % 4); j < 4 && i < len(out); j++ {
			out[i] = z[j]
			i++
		}
	}
}
