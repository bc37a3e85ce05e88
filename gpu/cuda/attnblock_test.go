package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// attnBlockRef is a windowed layer's attention half in float64: the update
// Attention(rms(x)·scale[b]·wqkvᵀ)·woutᵀ that AttentionBlock adds to x.
func attnBlockRef(x, wqkv, wout, qn, kn, rope []float32, B, H, W, C, wh, ww, sh, sw int, scale []float32, stride int) []float64 {
	t := B * H * W
	qkv := linRef(rmsRows(x, t, C, scale, stride, H*W), wqkv, t, 3*C, C)
	q32 := make([]float32, len(qkv))
	for i, v := range qkv {
		q32[i] = float32(v)
	}
	return linRef(attnRef(q32, qn, kn, rope, B, H, W, C, wh, ww, sh, sw), wout, t, C, C)
}

func TestAttentionBlock(t *testing.T) {
	d, k := kernelsOrSkip(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 8))
	type shape struct{ c, wh, ww, sh, sw, b, h, w int }
	cases := []shape{
		{64, 8, 8, 0, 0, 2, 16, 32}, {64, 8, 8, 4, 4, 2, 16, 32}, {128, 8, 8, 0, 0, 2, 16, 32}, {128, 8, 8, 4, 4, 2, 16, 32},
		{64, 4, 16, 2, 8, 2, 16, 32}, {128, 4, 16, 2, 8, 2, 16, 32}, // non-square windows
		// the finest level at batch 16: more windows than attn_block_c64's persistent grid
		// has groups, so groups walk several and prefetch across samples
		{64, 8, 8, 4, 4, 16, 32, 128},
	}
	for _, cs := range cases {
		for _, stride := range []int{cs.c, 0} {
			c, B, H, W := cs.c, cs.b, cs.h, cs.w
			if B > 2 && stride == 0 {
				continue // the float64 reference takes seconds
			}
			name := fmt.Sprintf("attention block c=%d %d×%d×%d win %dx%d shift (%d,%d) stride %d", c, B, H, W, cs.wh, cs.ww, cs.sh, cs.sw, stride)
			err := d.Do(func() error {
				tok := B * H * W
				x := randn(r, tok*c, 1)
				wqkv := randn(r, 3*c*c, 1/math.Sqrt(float64(c)))
				wout := randn(r, c*c, 1/math.Sqrt(float64(c)))
				qn, kn := randn(r, 64, 0.2), randn(r, 64, 0.2)
				for i := range qn {
					qn[i] += 1
					kn[i] += 1
				}
				scale := randn(r, B*c, 0.3)
				for i := range scale {
					scale[i] += 1
				}
				rope := RoPETable(max(H, W), 1000)
				X, X3 := d.tbuf(t, x), d.tbuf(t, x)
				WQ, WO := d.tbufBF16(t, wqkv), d.tbufBF16(t, wout)
				QN, KN, R, S := d.tbuf(t, qn), d.tbuf(t, kn), d.tbuf(t, rope), d.tbuf(t, scale)
				QKV, O := d.poisoned(t, tok*3*c), d.poisoned(t, tok*c)
				defer func() {
					for _, b := range []buf{X, X3, WQ, WO, QN, KN, R, S, QKV, O} {
						d.Free(b.ptr, b.size)
					}
				}()
				if err := k.AttentionBlock(X.ptr, WQ.ptr, WO.ptr, QN.ptr, KN.ptr, R.ptr, B, H, W, c, cs.wh, cs.ww, cs.sh, cs.sw, S.ptr, stride, 1e-6); err != nil {
					return err
				}
				// the three kernels it replaces, on a copy of x
				if err := k.GemmNorm(X3.ptr, WQ.ptr, QKV.ptr, tok, 3*c, c, S.ptr, stride, H*W, 1e-6); err != nil {
					return err
				}
				if err := k.Attention(QKV.ptr, O.ptr, QN.ptr, KN.ptr, R.ptr, B, H, W, c, cs.wh, cs.ww, cs.sh, cs.sw, 1e-6); err != nil {
					return err
				}
				if err := k.GemmResidual(O.ptr, WO.ptr, X3.ptr, tok, c, c); err != nil {
					return err
				}
				got, three := d.get(t, X), d.get(t, X3)
				three64 := make([]float64, len(three))
				for i := range got { // compare the updates, not x itself
					got[i] -= x[i]
					three64[i] = float64(three[i]) - float64(x[i])
				}
				expect(t, name+" vs 3 kernels", got, three64, tolBF16)
				expect(t, name+" vs float64", got, attnBlockRef(x, wqkv, wout, qn, kn, rope, B, H, W, c, cs.wh, cs.ww, cs.sh, cs.sw, scale, stride), tolBF16)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = d.Do(func() error {
		if err := k.AttentionBlock(0, 0, 0, 0, 0, 0, 1, 16, 16, 256, 8, 8, 0, 0, 0, 0, 1e-6); err == nil {
			t.Error("attention block accepted width 256")
		}
		if err := k.AttentionBlock(0, 0, 0, 0, 0, 0, 1, 12, 12, 64, 8, 8, 0, 0, 0, 0, 1e-6); err == nil {
			t.Error("attention block accepted windows that do not tile the grid")
		}
		if err := k.AttentionBlock(0, 0, 0, 0, 0, 0, 1, 16, 16, 64, 4, 8, 0, 0, 0, 0, 1e-6); err == nil {
			t.Error("attention block accepted 32-token windows")
		}
		return nil
	})
}

// BenchmarkAttentionBlock times the fused attention half against the three kernels it
// replaces (GemmNorm into qkv, Attention into o, GemmResidual) at the model's windowed levels,
// batch 16, W = 512, shifted windows.
func BenchmarkAttentionBlock(b *testing.B) {
	d, k := kernelsOrSkip(b)
	r := rand.New(rand.NewPCG(7, 8))
	var WS, CN buf
	d.Do(func() error { // split K for the GEMMs, as the model runs them
		wsF, cn := k.SplitKWorkspace()
		WS, CN = d.tbuf(b, make([]float32, wsF)), d.tbuf(b, make([]float32, cn))
		k.SetSplitK(WS.ptr, wsF, CN.ptr, cn)
		return nil
	})
	defer d.Do(func() error { k.SetSplitK(0, 0, 0, 0); d.Free(WS.ptr, WS.size); d.Free(CN.ptr, CN.size); return nil })
	for _, s := range []struct{ batch, level, gh, gw, c int }{{1, 0, 32, 128, 64}, {1, 1, 16, 64, 128}, {16, 0, 32, 128, 64}, {16, 1, 16, 64, 128}} {
		batch, c, tok := s.batch, s.c, s.batch*s.gh*s.gw
		var X, WQ, WO, N, R, S, QKV, O buf
		d.Do(func() error {
			X = d.tbuf(b, randn(r, tok*c, 1))
			WQ = d.tbufBF16(b, randn(r, 3*c*c, 1/math.Sqrt(float64(c))))
			WO = d.tbufBF16(b, randn(r, c*c, 1/math.Sqrt(float64(c))))
			N = d.tbuf(b, randn(r, 64, 1))
			R = d.tbuf(b, RoPETable(max(s.gh, s.gw), 1000))
			S = d.tbuf(b, randn(r, batch*c, 1))
			QKV = d.tbuf(b, make([]float32, tok*3*c))
			O = d.tbuf(b, make([]float32, tok*c))
			return nil
		})
		flop := 2*float64(tok)*float64(4*c*c) + 4*float64(tok)*64*float64(c)
		name := fmt.Sprintf("L%d_b%d_%dx%d_c%d", s.level, batch, s.gh, s.gw, c)
		b.Run("fused/"+name, func(b *testing.B) {
			ms := timeDevice(b, d, func() error {
				return k.AttentionBlock(X.ptr, WQ.ptr, WO.ptr, N.ptr, N.ptr, R.ptr, batch, s.gh, s.gw, c, 8, 8, 4, 4, S.ptr, c, 1e-6)
			})
			b.ReportMetric(flop/ms/1e9, "TFLOP/s")
		})
		b.Run("three/"+name, func(b *testing.B) {
			ms := timeDevice(b, d, func() error {
				if err := k.GemmNorm(X.ptr, WQ.ptr, QKV.ptr, tok, 3*c, c, S.ptr, c, s.gh*s.gw, 1e-6); err != nil {
					return err
				}
				if err := k.Attention(QKV.ptr, O.ptr, N.ptr, N.ptr, R.ptr, batch, s.gh, s.gw, c, 8, 8, 4, 4, 1e-6); err != nil {
					return err
				}
				return k.GemmResidual(O.ptr, WO.ptr, X.ptr, tok, c, c)
			})
			b.ReportMetric(flop/ms/1e9, "TFLOP/s")
		})
		d.Do(func() error {
			for _, x := range []buf{X, WQ, WO, N, R, S, QKV, O} {
				d.Free(x.ptr, x.size)
			}
			return nil
		})
	}
}
