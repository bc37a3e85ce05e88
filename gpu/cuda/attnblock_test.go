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

// attnLayer is a random attention half for the fused kernels' tests (x, the projections, the
// q/k norm weights, each sample's adaptive scale row, the RoPE table) on the host and, with
// the three-kernel path's scratch, on the device.
type attnLayer struct {
	B, H, W, C                   int
	x, wqkv, wout, qn, kn, scale []float32
	rope                         []float32
	WQ, WO, QN, KN, R, S, QKV, O buf
}

func newAttnLayer(t testing.TB, d *Device, r *rand.Rand, B, H, W, C int) *attnLayer {
	tok := B * H * W
	l := &attnLayer{B: B, H: H, W: W, C: C,
		x:    randn(r, tok*C, 1),
		wqkv: randn(r, 3*C*C, 1/math.Sqrt(float64(C))), wout: randn(r, C*C, 1/math.Sqrt(float64(C))),
		qn: randn(r, 64, 0.2), kn: randn(r, 64, 0.2), scale: randn(r, B*C, 0.3),
		rope: RoPETable(max(H, W), 1000)}
	for i := range l.qn {
		l.qn[i] += 1
		l.kn[i] += 1
	}
	for i := range l.scale {
		l.scale[i] += 1
	}
	l.WQ, l.WO = d.tbufBF16(t, l.wqkv), d.tbufBF16(t, l.wout)
	l.QN, l.KN, l.R, l.S = d.tbuf(t, l.qn), d.tbuf(t, l.kn), d.tbuf(t, l.rope), d.tbuf(t, l.scale)
	l.QKV, l.O = d.poisoned(t, tok*3*C), d.poisoned(t, tok*C)
	return l
}

func (l *attnLayer) free(d *Device) {
	for _, b := range []buf{l.WQ, l.WO, l.QN, l.KN, l.R, l.S, l.QKV, l.O} {
		d.Free(b.ptr, b.size)
	}
}

// threeKernels runs the path the fused kernels replace on x: GemmNorm (qkv), Attention (wh = 0:
// global), GemmResidual (out).
func (l *attnLayer) threeKernels(k *Kernels, x buf, wh, ww, sh, sw, stride int) error {
	tok, c := l.B*l.H*l.W, l.C
	if err := k.GemmNorm(x.ptr, l.WQ.ptr, l.QKV.ptr, tok, 3*c, c, l.S.ptr, stride, l.H*l.W, 1e-6); err != nil {
		return err
	}
	if err := k.Attention(l.QKV.ptr, l.O.ptr, l.QN.ptr, l.KN.ptr, l.R.ptr, l.B, l.H, l.W, c, wh, ww, sh, sw, 1e-6); err != nil {
		return err
	}
	return k.GemmResidual(l.O.ptr, l.WO.ptr, x.ptr, tok, c, c)
}

// updates returns the fused kernel's and the three kernels' updates to x, got − x and three − x.
func (l *attnLayer) updates(got, three []float32) ([]float32, []float64) {
	three64 := make([]float64, len(three))
	for i := range got {
		got[i] -= l.x[i]
		three64[i] = float64(three[i]) - float64(l.x[i])
	}
	return got, three64
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
				l := newAttnLayer(t, d, r, B, H, W, c)
				defer l.free(d)
				X, X3 := d.tbuf(t, l.x), d.tbuf(t, l.x)
				defer func() { d.Free(X.ptr, X.size); d.Free(X3.ptr, X3.size) }()
				if err := k.AttentionBlock(X.ptr, l.WQ.ptr, l.WO.ptr, l.QN.ptr, l.KN.ptr, l.R.ptr, B, H, W, c, cs.wh, cs.ww, cs.sh, cs.sw, l.S.ptr, stride, 1e-6); err != nil {
					return err
				}
				if err := l.threeKernels(k, X3, cs.wh, cs.ww, cs.sh, cs.sw, stride); err != nil { // on a copy of x
					return err
				}
				got, three := l.updates(d.get(t, X), d.get(t, X3)) // compare the updates, not x itself
				expect(t, name+" vs 3 kernels", got, three, tolBF16)
				expect(t, name+" vs float64", got, attnBlockRef(l.x, l.wqkv, l.wout, l.qn, l.kn, l.rope, B, H, W, c, cs.wh, cs.ww, cs.sh, cs.sw, l.scale, stride), tolBF16)
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
	var remove func()
	d.Do(func() error { remove = splitWorkspace(b, d, k, 0); return nil }) // split K for the GEMMs, as the model runs them
	defer d.Do(func() error { remove(); return nil })
	for _, s := range []struct{ batch, level, gh, gw, c int }{{1, 0, 32, 128, 64}, {1, 1, 16, 64, 128}, {16, 0, 32, 128, 64}, {16, 1, 16, 64, 128}} {
		batch, c, tok := s.batch, s.c, s.batch*s.gh*s.gw
		var l *attnLayer
		var X buf
		d.Do(func() error { l = newAttnLayer(b, d, r, batch, s.gh, s.gw, c); X = d.tbuf(b, l.x); return nil })
		flop := 2*float64(tok)*float64(4*c*c) + 4*float64(tok)*64*float64(c)
		name := fmt.Sprintf("L%d_b%d_%dx%d_c%d", s.level, batch, s.gh, s.gw, c)
		b.Run("fused/"+name, func(b *testing.B) {
			ms := timeDevice(b, d, func() error {
				return k.AttentionBlock(X.ptr, l.WQ.ptr, l.WO.ptr, l.QN.ptr, l.KN.ptr, l.R.ptr, batch, s.gh, s.gw, c, 8, 8, 4, 4, l.S.ptr, c, 1e-6)
			})
			b.ReportMetric(flop/ms/1e9, "TFLOP/s")
		})
		b.Run("three/"+name, func(b *testing.B) {
			ms := timeDevice(b, d, func() error { return l.threeKernels(k, X, 8, 8, 4, 4, c) })
			b.ReportMetric(flop/ms/1e9, "TFLOP/s")
		})
		d.Do(func() error { l.free(d); d.Free(X.ptr, X.size); return nil })
	}
}
