package cpu

import "latentstudio/gpu"

// Conv2D implements gpu.Kernels: depthwise convolutions run directly, 1×1 stride-1 ones are a
// plain GEMM, everything else is im2col + GEMM per image and group.
func (b *Backend) Conv2D(dst, x, w, bias *gpu.Tensor, p gpu.ConvParams) error {
	X, W, Y := f32(x), f32(w), f32(dst)
	var B []float32
	if bias != nil {
		B = f32(bias)
	}
	nb, c, h, wd := x.Dim(0), x.Dim(1), x.Dim(2), x.Dim(3)
	o, cg, kh, kw := w.Dim(0), w.Dim(1), w.Dim(2), w.Dim(3)
	oh, ow := dst.Dim(2), dst.Dim(3)
	g := p.Groups
	og := o / g
	if cg == 1 && og == 1 { // depthwise
		b.pool.rows(nb*c, 1, func(lo, hi int) {
			for t := lo; t < hi; t++ {
				ch := t % c
				in := X[t*h*wd : (t+1)*h*wd]
				out := Y[t*oh*ow : (t+1)*oh*ow]
				k := W[ch*kh*kw : (ch+1)*kh*kw]
				var bv float32
				if B != nil {
					bv = B[ch]
				}
				for i := range oh {
					row := out[i*ow : (i+1)*ow]
					for j := range row {
						row[j] = bv
					}
					for u := range kh {
						r := i*p.StrideH - p.PadH + u
						if r < 0 || r >= h {
							continue
						}
						src := in[r*wd : (r+1)*wd]
						for v := range kw {
							kv := k[u*kw+v]
							jlo, jhi := tapRange(ow, wd, p.PadW, p.StrideW, v)
							col := jlo*p.StrideW - p.PadW + v
							for j := jlo; j < jhi; j++ {
								row[j] += kv * src[col]
								col += p.StrideW
							}
						}
					}
				}
			}
		})
		return nil
	}
	kdim := cg * kh * kw
	npix := oh * ow
	direct := kh == 1 && kw == 1 && p.StrideH == 1 && p.StrideW == 1 && p.PadH == 0 && p.PadW == 0
	var cols []float32
	if !direct {
		cb := getBuf(kdim * npix)
		defer packPool.Put(cb)
		cols = *cb
	}
	for n := range nb {
		for gi := range g {
			in := X[(n*c+gi*cg)*h*wd : (n*c+(gi+1)*cg)*h*wd]
			bm := matrix{in, npix, 1}
			if !direct {
				im2col(b, cols, in, cg, h, wd, kh, kw, oh, ow, p)
				bm = matrix{cols, npix, 1}
			}
			out := Y[(n*o+gi*og)*npix : (n*o+(gi+1)*og)*npix]
			wm := matrix{W[gi*og*kdim : (gi+1)*og*kdim], kdim, 1}
			gemm(b.pool, b.kern, og, npix, kdim, 1, wm, bm, out, npix, nil)
			if B != nil {
				for oi := range og {
					bv := B[gi*og+oi]
					row := out[oi*npix : (oi+1)*npix]
					for j := range row {
						row[j] += bv
					}
				}
			}
		}
	}
	return nil
}

// im2col writes cols[(ci·KH + u)·KW + v][i·OW + j] = in[ci][i·s − pad + u][j·s − pad + v] (0 outside).
func im2col(b *Backend, cols, in []float32, c, h, w, kh, kw, oh, ow int, p gpu.ConvParams) {
	b.pool.rows(c*kh*kw, 1, func(lo, hi int) {
		for rIdx := lo; rIdx < hi; rIdx++ {
			ci, u, v := rIdx/(kh*kw), (rIdx/kw)%kh, rIdx%kw
			dst := cols[rIdx*oh*ow : (rIdx+1)*oh*ow]
			src := in[ci*h*w : (ci+1)*h*w]
			for i := range oh {
				r := i*p.StrideH - p.PadH + u
				row := dst[i*ow : (i+1)*ow]
				if r < 0 || r >= h {
					for j := range row {
						row[j] = 0
					}
					continue
				}
				jlo, jhi := tapRange(ow, w, p.PadW, p.StrideW, v)
				for j := range jlo {
					row[j] = 0
				}
				for j := jhi; j < ow; j++ {
					row[j] = 0
				}
				col := jlo*p.StrideW - p.PadW + v
				line := src[r*w : (r+1)*w]
				if p.StrideW == 1 {
					copy(row[jlo:jhi], line[col:col+jhi-jlo])
					continue
				}
				for j := jlo; j < jhi; j++ {
					row[j] = line[col]
					col += p.StrideW
				}
			}
		}
	})
}

// tapRange returns the output columns [jlo, jhi) whose tap v reads inside a row of width w:
// 0 ≤ j·stride − pad + v < w.
func tapRange(ow, w, pad, stride, v int) (int, int) {
	jlo := 0
	if d := pad - v; d > 0 {
		jlo = min(ow, (d+stride-1)/stride)
	}
	n := w - 1 + pad - v // the last j satisfies j·stride ≤ n
	if n < 0 {
		return jlo, jlo
	}
	return jlo, max(jlo, min(ow, n/stride+1))
}
