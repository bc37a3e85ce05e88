package cpu

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"latentstudio/gpu"
)

// An HDiT-shaped network built only from front ops, following gpu/train/ARCHITECTURE.md
// (widths 64/128/256/384, head dim 64, 8×8 windows with shifts on levels 0–1, global attention
// on 2–3, GEGLU feed-forward, token merge/split), with random weights. It measures what one
// model evaluation costs on this backend; the real model lives in gpu/models.

type hLayer struct {
	norm1, qkv, qn, kn, out, norm2, up, down *gpu.Tensor
	c                                        int
	window                                   bool
	shift                                    int
}

type hNet struct {
	patchIn, mapIn, mapInB, mapOut, mapOutB, fourier, outNorm, patchOut *gpu.Tensor
	down, up                                                            [3]hLayer
	mid                                                                 [2]hLayer
	merges, splits                                                      [3]*gpu.Tensor
	widths                                                              [4]int
}

func randWeight(be *Backend, r *rand.Rand, scale float32, shape ...int) *gpu.Tensor {
	v := randn(r, gpu.Shape(shape).Elems())
	for i := range v {
		v[i] *= scale
	}
	w, err := gpu.NewWeightF32(be, v, shape...)
	if err != nil {
		panic(err)
	}
	return w
}

func newHNet(be *Backend) *hNet {
	r := rand.New(rand.NewPCG(3, 3))
	n := &hNet{widths: [4]int{64, 128, 256, 384}}
	mk := func(c int, window bool, shift int) hLayer {
		s := 1 / float32(c)
		return hLayer{
			norm1: randWeight(be, r, 0.01, c, 256), qkv: randWeight(be, r, s, 3*c, c),
			qn: randWeight(be, r, 1, 64), kn: randWeight(be, r, 1, 64), out: randWeight(be, r, s, c, c),
			norm2: randWeight(be, r, 0.01, c, 256), up: randWeight(be, r, s, 4*c, c), down: randWeight(be, r, s, c, 2*c),
			c: c, window: window, shift: shift,
		}
	}
	n.patchIn = randWeight(be, r, 0.1, 64, 128)
	n.fourier = randWeight(be, r, 1, 128, 1)
	n.mapIn, n.mapInB = randWeight(be, r, 0.06, 256, 256), randWeight(be, r, 0.1, 256)
	n.mapOut, n.mapOutB = randWeight(be, r, 0.06, 256, 256), randWeight(be, r, 0.1, 256)
	for i := range 3 {
		n.down[i] = mk(n.widths[i], i < 2, 0)
		n.up[i] = mk(n.widths[i], i < 2, 4)
		n.merges[i] = randWeight(be, r, 0.05, n.widths[i+1], 4*n.widths[i])
		n.splits[i] = randWeight(be, r, 0.05, 4*n.widths[i], n.widths[i+1])
	}
	n.mid = [2]hLayer{mk(384, false, 0), mk(384, false, 0)}
	n.outNorm = randWeight(be, r, 1, 64)
	n.patchOut = randWeight(be, r, 0.1, 48, 64)
	return n
}

func (l *hLayer) forward(c *gpu.Context, x, cond *gpu.Tensor) *gpu.Tensor {
	b, h, w := x.Dim(0), x.Dim(1), x.Dim(2)
	nh := l.c / 64
	hn := c.Modulate(c.RMSNorm(x, nil, 1e-6), c.Linear(cond, l.norm1, nil), nil)
	qkv := c.Permute(c.Reshape(c.Linear(hn, l.qkv, nil), b, h, w, 3, nh, 64), 3, 0, 4, 1, 2, 5)
	part := func(i int) *gpu.Tensor { return c.Reshape(c.Slice(qkv, 0, i, i+1), b, nh, h, w, 64) }
	q := c.RoPE2D(c.RMSNorm(part(0), l.qn, 1e-6), 1000)
	k := c.RoPE2D(c.RMSNorm(part(1), l.kn, 1e-6), 1000)
	v := part(2)
	var o *gpu.Tensor
	if l.window {
		s := l.shift
		o = c.Attention(c.WindowPartition(q, 8, 8, s, s), c.WindowPartition(k, 8, 8, s, s), c.WindowPartition(v, 8, 8, s, s), 0)
		o = c.WindowReverse(o, b, h, w, 8, 8, s, s)
	} else {
		flat := func(t *gpu.Tensor) *gpu.Tensor { return c.Reshape(t, b, nh, h*w, 64) }
		o = c.Reshape(c.Attention(flat(q), flat(k), flat(v), 0), b, nh, h, w, 64)
	}
	o = c.Reshape(c.Permute(o, 0, 2, 3, 1, 4), b, h, w, l.c)
	x = c.Add(x, c.Linear(o, l.out, nil))
	hn = c.Modulate(c.RMSNorm(x, nil, 1e-6), c.Linear(cond, l.norm2, nil), nil)
	return c.Add(x, c.Linear(c.GEGLU(c.Linear(hn, l.up, nil), true), l.down, nil))
}

func (n *hNet) forward(c *gpu.Context, img, cnoise *gpu.Tensor) *gpu.Tensor {
	x := c.Linear(c.Patchify(img, 4), n.patchIn, nil) // [B, 32, W/4, 64]
	emb := c.FourierFeatures(cnoise, n.fourier)
	cond := c.Linear(c.SiLU(c.Linear(emb, n.mapIn, n.mapInB)), n.mapOut, n.mapOutB)
	var skips [3]*gpu.Tensor
	for i := range 3 {
		x = n.down[i].forward(c, x, cond)
		skips[i] = x
		x = c.Linear(c.TokenMerge(x, 2, 2), n.merges[i], nil)
	}
	x = n.mid[1].forward(c, n.mid[0].forward(c, x, cond), cond)
	for i := 2; i >= 0; i-- {
		y := c.TokenSplit(c.Linear(x, n.splits[i], nil), 2, 2)
		x = c.Lerp(skips[i], y, c.Upload([]float32{0.5}, 1))
		x = n.up[i].forward(c, x, cond)
	}
	return c.Unpatchify(c.Linear(c.RMSNorm(x, n.outNorm, 1e-6), n.patchOut, nil), 4)
}

// BenchmarkHDiTForward is one evaluation of the HDiT-shaped network on a 128×W roll
// (W = 512 is the shipped 32-bar window), with the arena reused between passes.
func BenchmarkHDiTForward(b *testing.B) {
	be := New(0)
	defer be.Close()
	net := newHNet(be)
	r := rand.New(rand.NewPCG(4, 4))
	for _, bw := range [][2]int{{1, 512}, {1, 128}, {4, 512}} {
		batch, w := bw[0], bw[1]
		b.Run(fmt.Sprintf("B%d_W%d", batch, w), func(b *testing.B) {
			c := gpu.NewContext(b.Context(), be)
			defer c.Close()
			img := randn(r, batch*8*128*w)
			sigma := make([]float32, batch)
			for i := range sigma {
				sigma[i] = 0.1 * float32(i+1)
			}
			for b.Loop() {
				c.Reset()
				y := net.forward(c, c.Upload(img, batch, 8, 128, w), c.Upload(sigma, batch))
				if _, err := c.Download(y); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// TestHDiTShapedNetworkRuns keeps the benchmark's network honest: every op composes, the
// output has the input's spatial shape, and a second pass reuses every arena buffer.
func TestHDiTShapedNetworkRuns(t *testing.T) {
	be := New(2)
	defer be.Close()
	net := newHNet(be)
	c := gpu.NewContext(t.Context(), be)
	img := randn(rand.New(rand.NewPCG(5, 5)), 8*128*64)
	var first []float32
	misses := 0
	for pass := range 2 {
		c.Reset()
		y := net.forward(c, c.Upload(img, 1, 8, 128, 64), c.Upload([]float32{0.1}, 1))
		out, err := c.Download(y)
		if err != nil {
			t.Fatal(err)
		}
		if !y.Shape().Equal(gpu.Shape{1, 3, 128, 64}) {
			t.Fatalf("output %v", y.Shape())
		}
		if pass == 0 {
			first = out
			_, _, misses = c.ArenaStats()
			continue
		}
		for i := range out {
			if out[i] != first[i] {
				t.Fatalf("pass 2 differs at %d: %v vs %v", i, out[i], first[i])
			}
		}
	}
	if _, _, m := c.ArenaStats(); misses == 0 || m != misses {
		t.Fatalf("arena misses %d after pass 1, %d after pass 2: the second pass must allocate nothing", misses, m)
	}
}

// TestHDiTOpProfile prints where an HDiT-shaped pass spends its time, op by op (go test -v
// -run OpProfile ./gpu/cpu); it checks only that the profile covers the pass.
func TestHDiTOpProfile(t *testing.T) {
	if testing.Short() {
		t.Skip("timing table")
	}
	be := New(0)
	defer be.Close()
	net := newHNet(be)
	c := gpu.NewContext(t.Context(), be)
	defer c.Close()
	img := randn(rand.New(rand.NewPCG(7, 7)), 8*128*512)
	for pass := range 3 {
		if pass == 2 {
			c.SetProfile(true)
		}
		c.Reset()
		if _, err := c.Download(net.forward(c, c.Upload(img, 1, 8, 128, 512), c.Upload([]float32{0.1}, 1))); err != nil {
			t.Fatal(err)
		}
	}
	var total float64
	prof := c.Profile()
	for _, s := range prof {
		total += s.Time.Seconds()
	}
	for _, s := range prof {
		t.Logf("%-18s %4d calls %8.2f ms %5.1f%%", s.Op, s.Calls, s.Time.Seconds()*1e3, 100*s.Time.Seconds()/total)
	}
	t.Logf("total %.2f ms", total*1e3)
	if len(prof) < 10 {
		t.Fatalf("profile has %d ops", len(prof))
	}
}
