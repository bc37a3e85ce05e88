package cuda

import (
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

func TestGlobalAttentionBlock(t *testing.T) {
	d, k := kernelsOrSkip(t)
	r := rand.New(rand.NewPCG(rand.Uint64(), 9))
	const B = 2
	var WS buf
	_ = d.Do(func() error {
		saved := k.sk
		k.sk = splitK{}
		if err := k.GlobalAttentionBlock(0, 0, 0, 0, 0, 0, 1, 4, 16, 384, 0, 0, 1e-6); err == nil {
			t.Error("global attention block ran without a workspace")
		}
		WS = d.tbuf(t, make([]float32, max(k.GlobalAttentionWorkspace(B, 64, 384), k.GlobalAttentionWorkspace(B, 256, 256))))
		k.SetSplitK(WS.ptr, WS.n, 0, 0) // no counters: the GEMMs don't split
		t.Cleanup(func() { _ = d.Do(func() error { k.sk = saved; d.Free(WS.ptr, WS.size); return nil }) })
		return nil
	})
	cases := []struct{ c, h, w int }{{384, 4, 16}, {384, 4, 8}, {256, 4, 16}, {256, 4, 8}, {384, 8, 8}, {384, 3, 7},
		// past 64 tokens (global_attn_long): level 2 at roll width 512, partial key tiles, a
		// sample just past one tile
		{256, 8, 32}, {256, 8, 20}, {256, 8, 24}, {256, 5, 13}}
	for _, cs := range cases {
		c, H, W := cs.c, cs.h, cs.w
		if !k.HasGlobalAttentionBlock(c, H*W) {
			t.Logf("width %d: no fused global attention block on this device (%d bytes of shared memory)", c, d.SharedOptIn)
			continue
		}
		for _, stride := range []int{c, 0} {
			name := fmt.Sprintf("global attention block c=%d grid %dx%d stride %d", c, H, W, stride)
			err := d.Do(func() error {
				l := newAttnLayer(t, d, r, B, H, W, c)
				defer l.free(d)
				x := l.x
				X, X2, X3 := d.tbuf(t, x), d.tbuf(t, x), d.tbuf(t, x)
				defer func() {
					for _, b := range []buf{X, X2, X3} {
						d.Free(b.ptr, b.size)
					}
				}()
				for _, xb := range []buf{X, X2} { // twice: the result must not depend on timing
					if err := k.GlobalAttentionBlock(xb.ptr, l.WQ.ptr, l.WO.ptr, l.QN.ptr, l.KN.ptr, l.R.ptr, B, H, W, c, l.S.ptr, stride, 1e-6); err != nil {
						return err
					}
				}
				// past 64 tokens every query split gives the same bits: splits 1 (each block walks
				// every query tile) and 2, by pretending the device has 1 or 2 SMs per (head, sample)
				var split []buf
				if H*W > 64 {
					sms := d.SMs
					for _, n := range []int{1, 2} {
						xb := d.tbuf(t, x)
						split = append(split, xb)
						d.SMs = n * c / 64 * B
						err := k.GlobalAttentionBlock(xb.ptr, l.WQ.ptr, l.WO.ptr, l.QN.ptr, l.KN.ptr, l.R.ptr, B, H, W, c, l.S.ptr, stride, 1e-6)
						d.SMs = sms
						if err != nil {
							return err
						}
					}
				}
				defer func() {
					for _, b := range split {
						d.Free(b.ptr, b.size)
					}
				}()
				if err := l.threeKernels(k, X3, 0, 0, 0, 0, stride); err != nil { // on a copy of x
					return err
				}
				got, again, three := d.get(t, X), d.get(t, X2), d.get(t, X3)
				for i := range got {
					if math.Float32bits(got[i]) != math.Float32bits(again[i]) {
						t.Errorf("%s: run 2 differs at %d: %g vs %g", name, i, again[i], got[i])
						break
					}
				}
				for i, b := range split {
					other := d.get(t, b)
					for j := range got {
						if math.Float32bits(got[j]) != math.Float32bits(other[j]) {
							t.Errorf("%s: query split %d differs at %d: %g vs %g", name, i+1, j, other[j], got[j])
							break
						}
					}
				}
				got, three64 := l.updates(got, three) // compare the updates, not x itself
				expect(t, name+" vs 3 kernels", got, three64, tolBF16)
				expect(t, name+" vs float64", got, attnBlockRef(x, l.wqkv, l.wout, l.qn, l.kn, l.rope, B, H, W, c, 0, 0, 0, 0, l.scale, stride), tolBF16)
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
	}
	_ = d.Do(func() error {
		if err := k.GlobalAttentionBlock(0, 0, 0, 0, 0, 0, 1, 8, 16, 384, 0, 0, 1e-6); err == nil {
			t.Error("global attention block accepted 128 tokens per sample")
		}
		if err := k.GlobalAttentionBlock(0, 0, 0, 0, 0, 0, 1, 8, 33, 256, 0, 0, 1e-6); err == nil {
			t.Error("global attention block accepted 264 tokens per sample")
		}
		if err := k.GlobalAttentionBlock(0, 0, 0, 0, 0, 0, 1, 4, 16, 128, 0, 0, 1e-6); err == nil {
			t.Error("global attention block accepted width 128")
		}
		if err := k.GlobalAttentionBlock(0, 0, 0, 0, 0, 0, 4, 4, 16, 384, 0, 0, 1e-6); err == nil {
			t.Error("global attention block accepted a workspace too small for batch 4")
		}
		return nil
	})
}

// BenchmarkGlobalAttentionBlock times the fused global attention half against the three kernels
// it replaces (GemmNorm into qkv, Attention with wh = 0 into o, GemmResidual) at the model's
// global levels at roll width 512: level 3 (width 384, a 4×16 grid) and level 2 (width 256,
// 8×32: global_attn_long), batch 1 and 16.
func BenchmarkGlobalAttentionBlock(b *testing.B) {
	d, k := kernelsOrSkip(b)
	r := rand.New(rand.NewPCG(7, 9))
	levels := []struct {
		name      string
		c, gh, gw int
	}{{"L3", 384, 4, 16}, {"L2", 256, 8, 32}}
	var remove func()
	d.Do(func() error { // split K for the GEMMs, as the model runs them; the same floats hold the heads' partials
		floats := 0
		for _, lv := range levels {
			floats = max(floats, k.GlobalAttentionWorkspace(16, lv.gh*lv.gw, lv.c))
		}
		remove = splitWorkspace(b, d, k, floats)
		return nil
	})
	defer d.Do(func() error { remove(); return nil })
	for _, lv := range levels {
		c, gh, gw := lv.c, lv.gh, lv.gw
		if !k.HasGlobalAttentionBlock(c, gh*gw) {
			b.Logf("no fused global attention block for width %d, %d tokens on this device", c, gh*gw)
			continue
		}
		for _, batch := range []int{1, 16} {
			tok := batch * gh * gw
			var l *attnLayer
			var X buf
			d.Do(func() error { l = newAttnLayer(b, d, r, batch, gh, gw, c); X = d.tbuf(b, l.x); return nil })
			flop := 2*float64(tok)*float64(4*c*c) + 4*float64(tok)*float64(gh*gw)*float64(c)
			name := fmt.Sprintf("%s_b%d_%dx%d_c%d", lv.name, batch, gh, gw, c)
			b.Run("fused/"+name, func(b *testing.B) {
				ms := timeDevice(b, d, func() error {
					return k.GlobalAttentionBlock(X.ptr, l.WQ.ptr, l.WO.ptr, l.QN.ptr, l.KN.ptr, l.R.ptr, batch, gh, gw, c, l.S.ptr, c, 1e-6)
				})
				b.ReportMetric(flop/ms/1e9, "TFLOP/s")
			})
			b.Run("three/"+name, func(b *testing.B) {
				ms := timeDevice(b, d, func() error { return l.threeKernels(k, X, 0, 0, 0, 0, c) })
				b.ReportMetric(flop/ms/1e9, "TFLOP/s")
			})
			d.Do(func() error { l.free(d); d.Free(X.ptr, X.size); return nil })
		}
	}
}
