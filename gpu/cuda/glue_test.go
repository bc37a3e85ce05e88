package cuda

import (
	"fmt"
	"math/rand/v2"
	"testing"
)

// The model's glue between levels at a 128 × 512 roll: 4×4 patchify in, merges 0-2 (2×2 token
// merge into the next level's width), splits 0-2 (back onto the finer grid, lerp with the skip)
// and the unpatchify + EDM mix out. Level i is a (32 >> i) × (128 >> i) grid of widths[i].

const glueP, glueS = 128, 512

// mergeRows gathers the 2×2 token merge of x [B,h,w,c] into rows [B·h/2·w/2][4c].
func mergeRows(x []float32, batch, h, w, c int) []float64 {
	m := batch * (h / 2) * (w / 2)
	o := make([]float64, m*4*c)
	for b := 0; b < batch; b++ {
		for r := 0; r < h/2; r++ {
			for t := 0; t < w/2; t++ {
				row := (b*(h/2)+r)*(w/2) + t
				for ij := 0; ij < 4; ij++ {
					src := ((b*h+2*r+ij/2)*w + 2*t + ij%2) * c
					for ch := 0; ch < c; ch++ {
						o[row*4*c+ij*c+ch] = float64(x[src+ch])
					}
				}
			}
		}
	}
	return o
}

// splitLerp is skip + fac·(y − skip) with y [B·h/2·w/2][4c] split 2×2 onto [B,h,w,c].
func splitLerp(y []float64, skip []float32, fac float64, batch, h, w, c int) []float64 {
	o := make([]float64, len(skip))
	for b := 0; b < batch; b++ {
		for r := 0; r < h/2; r++ {
			for t := 0; t < w/2; t++ {
				row := (b*(h/2)+r)*(w/2) + t
				for ij := 0; ij < 4; ij++ {
					dst := ((b*h+2*r+ij/2)*w + 2*t + ij%2) * c
					for ch := 0; ch < c; ch++ {
						s := float64(skip[dst+ch])
						o[dst+ch] = s + fac*(y[row*4*c+ij*c+ch]-s)
					}
				}
			}
		}
	}
	return o
}

// patchRows is the 4×4 patchify of concat(c_in·x, ctx, mask, pitch) [B,8,p,s]: rows [B·p/4·s/4][128].
func patchRows(x, ctx, mask, scal []float32, batch, p, s int) []float64 {
	m := batch * (p / 4) * (s / 4)
	o := make([]float64, m*128)
	for b := 0; b < batch; b++ {
		for r := 0; r < p/4; r++ {
			for t := 0; t < s/4; t++ {
				row := (b*(p/4)+r)*(s/4) + t
				for i := 0; i < 4; i++ {
					for j := 0; j < 4; j++ {
						py, px := 4*r+i, 4*t+j
						f := o[row*128+(i*4+j)*8:]
						for c := 0; c < 3; c++ {
							f[c] = float64(scal[b*4]) * float64(x[((b*3+c)*p+py)*s+px])
							f[3+c] = float64(ctx[((b*3+c)*p+py)*s+px])
						}
						f[6] = float64(mask[(b*p+py)*s+px])
						f[7] = -1 + 2*float64(py)/float64(p-1)
					}
				}
			}
		}
	}
	return o
}

// patchMix is c_skip·x + c_out·unpatchify(f), f [B·p/4·s/4][48].
func patchMix(f []float64, x, scal []float32, batch, p, s int) []float64 {
	o := make([]float64, len(x))
	for b := 0; b < batch; b++ {
		for r := 0; r < p/4; r++ {
			for t := 0; t < s/4; t++ {
				row := (b*(p/4)+r)*(s/4) + t
				for n := 0; n < 48; n++ {
					ij, c := n/3, n%3
					di := ((b*3+c)*p+4*r+ij/4)*s + 4*t + ij%4
					o[di] = float64(scal[b*4+1])*float64(x[di]) + float64(scal[b*4+2])*f[row*48+n]
				}
			}
		}
	}
	return o
}

// TestGemmGlue checks the glue GEMMs at the model's shapes (batch 2, split K on as the model
// runs them): row tiles that are whole image rows, split-K merge/split epilogues.
func TestGemmGlue(t *testing.T) {
	d, k := kernelsOrSkip(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 7))
	widths := DefaultHDiT.Widths
	const batch = 2
	err := d.Do(func() error {
		defer splitWorkspace(t, d, k, 0)()

		img := batch * glueP * glueS
		x, ctx, mask := randn(r, 3*img, 1), randn(r, 3*img, 1), randn(r, img, 1)
		scal := []float32{0.7, 0.2, 0.4, 0.1, 1.3, 0.5, 0.6, -0.2}
		X, CT, MK, SC := d.tbuf(t, x), d.tbuf(t, ctx), d.tbuf(t, mask), d.tbuf(t, scal)
		m0 := batch * (glueP / 4) * (glueS / 4)
		wp := randn(r, widths[0]*128, 0.1)
		WP := d.tbufBF16(t, wp)
		tok := d.poisoned(t, m0*widths[0])
		if err := k.GemmPatchIn(WP.ptr, tok.ptr, batch, glueP, glueS, widths[0], X.ptr, CT.ptr, MK.ptr, SC.ptr); err != nil {
			return err
		}
		expect(t, "patch_in 128x512", d.get(t, tok), linRef(patchRows(x, ctx, mask, scal, batch, glueP, glueS), wp, m0, widths[0], 128), tolBF16)

		a := randn(r, m0*widths[0], 1)
		A := d.tbuf(t, a)
		onw := randn(r, widths[0], 0.2)
		for i := range onw {
			onw[i] += 1
		}
		ON := d.tbuf(t, onw)
		wo := randn(r, 48*widths[0], 0.125)
		WO := d.tbufBF16(t, wo)
		out := d.poisoned(t, 3*img)
		if err := k.GemmPatchOut(A.ptr, WO.ptr, out.ptr, batch, glueP, glueS, 48, widths[0], ON.ptr, 1e-6, X.ptr, SC.ptr); err != nil {
			return err
		}
		f := linRef(rmsRows(a, m0, widths[0], onw, 0, m0), wo, m0, 48, widths[0])
		expect(t, "patch_out 128x512", d.get(t, out), patchMix(f, x, scal, batch, glueP, glueS), tolBF16)

		for l := 0; l < 3; l++ {
			h, w, c, cn := (glueP/4)>>l, (glueS/4)>>l, widths[l], widths[l+1]
			fine := randn(r, batch*h*w*c, 1)
			F := d.tbuf(t, fine)
			m := batch * (h / 2) * (w / 2)
			wm := randn(r, cn*4*c, 0.05)
			WM := d.tbufBF16(t, wm)
			C := d.poisoned(t, m*cn)
			if err := k.GemmMerge(F.ptr, WM.ptr, C.ptr, batch, h, w, cn, 4*c); err != nil {
				return err
			}
			expect(t, fmt.Sprintf("merge %d (%dx%dx%d)", l, m, cn, 4*c), d.get(t, C), linRef(mergeRows(fine, batch, h, w, c), wm, m, cn, 4*c), tolBF16)

			coarse := randn(r, m*cn, 1)
			CO := d.tbuf(t, coarse)
			wsp := randn(r, 4*c*cn, 0.08)
			WSP := d.tbufBF16(t, wsp)
			const fac = 0.3
			FA := d.tbuf(t, []float32{fac})
			// in place (c = skip), as the model runs it
			if err := k.GemmSplit(CO.ptr, WSP.ptr, F.ptr, batch, h, w, 4*c, cn, F.ptr, FA.ptr); err != nil {
				return err
			}
			y := linRef(f64(coarse), wsp, m, 4*c, cn)
			expect(t, fmt.Sprintf("split %d (%dx%dx%d)", l, m, 4*c, cn), d.get(t, F), splitLerp(y, fine, fac, batch, h, w, c), tolBF16)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// BenchmarkGlue times the glue GEMMs at batch 16 and 1 with split K installed as the model
// runs them: patch_in, patch_out, split 0-2 and merge 0-2.
func BenchmarkGlue(b *testing.B) {
	d, k := kernelsOrSkip(b)
	r := rand.New(rand.NewPCG(5, 7))
	widths := DefaultHDiT.Widths
	var remove func()
	d.Do(func() error { remove = splitWorkspace(b, d, k, 0); return nil })
	defer d.Do(func() error { remove(); return nil })
	for _, batch := range []int{16, 1} {
		var bufs []buf
		alloc := func(v []float32) buf { x := d.tbuf(b, v); bufs = append(bufs, x); return x }
		allocBF16 := func(v []float32) buf { x := d.tbufBF16(b, v); bufs = append(bufs, x); return x }
		img := batch * glueP * glueS
		m0 := batch * (glueP / 4) * (glueS / 4)
		var X, CT, MK, SC, WP, TOK, A, ON, WO, OUT buf
		d.Do(func() error {
			X, CT, MK = alloc(randn(r, 3*img, 1)), alloc(randn(r, 3*img, 1)), alloc(randn(r, img, 1))
			scal := make([]float32, 4*batch)
			for i := 0; i < batch; i++ {
				copy(scal[4*i:], []float32{0.7, 0.2, 0.4, 0.1})
			}
			SC = alloc(scal)
			WP, TOK = allocBF16(randn(r, widths[0]*128, 0.1)), alloc(make([]float32, m0*widths[0]))
			A, ON = alloc(randn(r, m0*widths[0], 1)), alloc(randn(r, widths[0], 0.2))
			WO, OUT = allocBF16(randn(r, 48*widths[0], 0.1)), alloc(make([]float32, 3*img))
			return nil
		})
		pre := fmt.Sprintf("b%d/", batch)
		b.Run(pre+"patch_in", func(b *testing.B) {
			timeDevice(b, d, func() error {
				return k.GemmPatchIn(WP.ptr, TOK.ptr, batch, glueP, glueS, widths[0], X.ptr, CT.ptr, MK.ptr, SC.ptr)
			})
		})
		b.Run(pre+"patch_out", func(b *testing.B) {
			timeDevice(b, d, func() error {
				return k.GemmPatchOut(A.ptr, WO.ptr, OUT.ptr, batch, glueP, glueS, 48, widths[0], ON.ptr, 1e-6, X.ptr, SC.ptr)
			})
		})
		for l := 0; l < 3; l++ {
			h, w, c, cn := (glueP/4)>>l, (glueS/4)>>l, widths[l], widths[l+1]
			m := batch * (h / 2) * (w / 2)
			var F, CO, WM, WSP, FA, C buf
			d.Do(func() error {
				F, CO = alloc(randn(r, batch*h*w*c, 1)), alloc(randn(r, m*cn, 1))
				WM, WSP = allocBF16(randn(r, cn*4*c, 0.05)), allocBF16(randn(r, 4*c*cn, 0.05))
				FA, C = alloc([]float32{0.3}), alloc(make([]float32, m*cn))
				return nil
			})
			b.Run(fmt.Sprintf("%ssplit%d_%dx%dx%d", pre, l, m, 4*c, cn), func(b *testing.B) {
				timeDevice(b, d, func() error {
					return k.GemmSplit(CO.ptr, WSP.ptr, F.ptr, batch, h, w, 4*c, cn, F.ptr, FA.ptr)
				})
			})
			b.Run(fmt.Sprintf("%smerge%d_%dx%dx%d", pre, l, m, cn, 4*c), func(b *testing.B) {
				timeDevice(b, d, func() error { return k.GemmMerge(F.ptr, WM.ptr, C.ptr, batch, h, w, cn, 4*c) })
			})
		}
		d.Do(func() error {
			for _, x := range bufs {
				d.Free(x.ptr, x.size)
			}
			return nil
		})
	}
}
