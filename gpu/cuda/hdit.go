package cuda

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
)

// HDiTConfig is the piano-roll hourglass transformer's shape (gpu/train/ARCHITECTURE.md; the
// same numbers as hdit.CONFIG and the weights' metadata).
type HDiTConfig struct {
	Widths       []int   // per level; head_dim 64 so widths[i]/64 heads
	Depths       []int   // layers per side; the last level is the middle
	Window       [2]int  // pitch × time tokens per window at windowed levels
	GlobalFrom   int     // levels ≥ this attend globally
	MappingWidth int     // 256
	RopeBase     float64 // 1000
	SigmaData    float64 // 0.5
}

// DefaultHDiT is the configuration the studio ships.
var DefaultHDiT = HDiTConfig{
	Widths: []int{64, 128, 256, 384}, Depths: []int{1, 1, 1, 2}, Window: [2]int{8, 8},
	GlobalFrom: 2, MappingWidth: 256, RopeBase: 1000, SigmaData: 0.5,
}

const (
	hditPitches = 128
	hditEps     = 1e-6
	headDim     = 64
)

// WeightFunc returns a weight by its name in the exported safetensors file, as float32 with
// its shape; HDiT checks the shape and names the tensor in its errors.
type WeightFunc func(name string) (data []float32, shape []int, err error)

type hditLayer struct {
	level, c       int
	shift          [2]int
	qkv, out, up   uint64 // bf16 weights; up has its GEGLU rows interleaved
	down           uint64
	qn, kn         uint64 // f32 [64]
	adaAttn, adaFF int    // column offsets into the ada buffer
}

// HDiT is the piano-roll denoiser D(x; σ, ctx, mask) on one device, two to four kernels per
// transformer layer (see gpu/kernels: attention half and feed-forward half one kernel each,
// plus an ordered sum where the heads or the hidden units are spread over blocks), replayed as
// a CUDA graph per input shape. Methods run on the device thread (inside Device.Do).
type HDiT struct {
	d   *Device
	k   *Kernels
	cfg HDiTConfig

	patchIn, patchOut, adaW uint64
	outNorm, adaOnes        uint64
	fourier, w1, b1, w2     uint64
	b2                      uint64
	adaCols                 int
	merges, splits, facs    []uint64
	layers                  []hditLayer // down levels, mid, up levels in execution order
	owned                   []allocation
	plans                   map[[2]int]*hditPlan
	profile                 *[]kernelTime // set by Profile: time every kernel
	fusedMLP                bool          // feed-forward halves as one kernel (EnvFusedMLP)
	fusedAttn               bool          // attention halves as one kernel (EnvFusedAttention)
}

// EnvFusedMLP=0 runs each feed-forward half as two GEMMs through a hidden buffer instead of
// the fused kernel; EnvFusedAttention=0 runs each attention half as three kernels (norm+qkv,
// attention, out+residual) instead of one (windowed) or one per head and a sum (global, up to
// 256 tokens a sample). For comparisons: results agree to bf16 rounding.
const (
	EnvFusedMLP       = "LATENT_FUSED_MLP"
	EnvFusedAttention = "LATENT_FUSED_ATTN"
)

type kernelTime struct {
	name  string
	timer *Timer
}

// op queues one kernel; under Profile it is bracketed by events.
func (h *HDiT) op(name string, f func() error) error {
	if h.profile == nil {
		return f()
	}
	t, err := h.d.NewTimer()
	if err != nil {
		return err
	}
	*h.profile = append(*h.profile, kernelTime{name, t})
	if err := h.d.Start(t); err != nil {
		return err
	}
	if err := f(); err != nil {
		return err
	}
	return h.d.Stop(t)
}

// Profile runs one evaluation of a planned shape kernel by kernel (no graph) and returns each
// kernel's device time in milliseconds, in launch order (names repeat per layer).
func (h *HDiT) Profile(batch, width int) (names []string, ms []float32, err error) {
	p, err := h.plan(batch, width)
	if err != nil {
		return nil, nil, err
	}
	var times []kernelTime
	h.profile = &times
	err = h.queue(p, false)
	h.profile = nil
	for _, kt := range times {
		if err == nil {
			var v float32
			if v, err = kt.timer.Milliseconds(); err == nil {
				names, ms = append(names, kt.name), append(ms, v)
			}
		}
		kt.timer.Destroy()
	}
	return names, ms, err
}

type allocation struct{ ptr, size uint64 }

func (h *HDiT) alloc(bytes int) (uint64, error) {
	p, s, err := h.d.Alloc(uint64(bytes))
	if err != nil {
		if IsOutOfMemory(err) {
			return 0, fmt.Errorf("%w: hdit needs %d MiB more: %w", ErrOutOfMemory, bytes>>20, err)
		}
		return 0, err
	}
	h.owned = append(h.owned, allocation{p, s})
	return p, nil
}

func (h *HDiT) upload(b []byte) (uint64, error) {
	p, err := h.alloc(len(b))
	if err != nil {
		return 0, err
	}
	return p, h.d.Upload(p, b)
}

// NewHDiT uploads the weights: Linear weights as bf16 (ff.up's rows interleaved for the fused
// GEGLU, all adaptive-norm weights stacked into one matrix), the mapping network in f32. Call
// inside Do.
func NewHDiT(d *Device, k *Kernels, cfg HDiTConfig, get WeightFunc) (*HDiT, error) {
	h := &HDiT{d: d, k: k, cfg: cfg, plans: map[[2]int]*hditPlan{},
		fusedMLP: os.Getenv(EnvFusedMLP) != "0", fusedAttn: os.Getenv(EnvFusedAttention) != "0"}
	if err := h.load(get); err != nil {
		h.Free()
		return nil, err
	}
	return h, nil
}

func (h *HDiT) load(get WeightFunc) error {
	fetch := func(name string, shape ...int) ([]float32, error) {
		data, s, err := get(name)
		if err != nil {
			return nil, fmt.Errorf("hdit weight %s: %w", name, err)
		}
		n := 1
		for _, v := range shape {
			n *= v
		}
		ok := len(data) == n && len(s) == len(shape)
		for i := range s {
			ok = ok && i < len(shape) && s[i] == shape[i]
		}
		if !ok {
			return nil, fmt.Errorf("hdit weight %s has shape %v, want %v", name, s, shape)
		}
		return data, nil
	}
	bf := func(name string, shape ...int) (uint64, error) {
		v, err := fetch(name, shape...)
		if err != nil {
			return 0, err
		}
		return h.upload(BF16Bytes(v))
	}
	f32 := func(v []float32) (uint64, error) { return h.upload(F32Bytes(v)) }
	var err error
	w := h.cfg.Widths
	mw := h.cfg.MappingWidth
	if h.patchIn, err = bf("patch_in.proj.weight", w[0], 128); err != nil {
		return err
	}
	four, err := fetch("mapping.fourier", mw/2, 1)
	if err != nil {
		return err
	}
	if h.fourier, err = f32(four); err != nil {
		return err
	}
	for i, nm := range []string{"mapping.in_proj", "mapping.out_proj"} {
		wt, err := fetch(nm+".weight", mw, mw)
		if err != nil {
			return err
		}
		b, err := fetch(nm+".bias", mw)
		if err != nil {
			return err
		}
		pw, err := f32(wt)
		if err != nil {
			return err
		}
		pb, err := f32(b)
		if err != nil {
			return err
		}
		if i == 0 {
			h.w1, h.b1 = pw, pb
		} else {
			h.w2, h.b2 = pw, pb
		}
	}
	// layers in execution order
	type spec struct {
		prefix string
		level  int
		j      int // index within the level (down first, then up) for the shift
	}
	var specs []spec
	nl := len(w)
	for i := 0; i < nl-1; i++ {
		for j := 0; j < h.cfg.Depths[i]; j++ {
			specs = append(specs, spec{fmt.Sprintf("down.%d.layers.%d", i, j), i, j})
		}
	}
	for j := 0; j < h.cfg.Depths[nl-1]; j++ {
		specs = append(specs, spec{fmt.Sprintf("mid.layers.%d", j), nl - 1, j})
	}
	for i := nl - 2; i >= 0; i-- {
		for j := 0; j < h.cfg.Depths[i]; j++ {
			specs = append(specs, spec{fmt.Sprintf("up.%d.layers.%d", i, j), i, h.cfg.Depths[i] + j})
		}
	}
	var ada []float32
	for _, s := range specs {
		c := w[s.level]
		L := hditLayer{level: s.level, c: c}
		if s.level < h.cfg.GlobalFrom && s.j%2 == 1 {
			L.shift = [2]int{h.cfg.Window[0] / 2, h.cfg.Window[1] / 2}
		}
		for _, part := range []string{".attn.norm.linear.weight", ".ff.norm.linear.weight"} {
			v, err := fetch(s.prefix+part, c, mw)
			if err != nil {
				return err
			}
			if part[1] == 'a' {
				L.adaAttn = len(ada) / mw
			} else {
				L.adaFF = len(ada) / mw
			}
			ada = append(ada, v...)
		}
		if L.qkv, err = bf(s.prefix+".attn.qkv.weight", 3*c, c); err != nil {
			return err
		}
		if L.out, err = bf(s.prefix+".attn.out.weight", c, c); err != nil {
			return err
		}
		up, err := fetch(s.prefix+".ff.up.weight", 4*c, c)
		if err != nil {
			return err
		}
		if L.up, err = h.upload(BF16Bytes(InterleaveGEGLU(up, 4*c, c))); err != nil {
			return err
		}
		if L.down, err = bf(s.prefix+".ff.down.weight", c, 2*c); err != nil {
			return err
		}
		for i, nm := range []string{".attn.q_norm.weight", ".attn.k_norm.weight"} {
			v, err := fetch(s.prefix+nm, headDim)
			if err != nil {
				return err
			}
			p, err := f32(v)
			if err != nil {
				return err
			}
			if i == 0 {
				L.qn = p
			} else {
				L.kn = p
			}
		}
		h.layers = append(h.layers, L)
	}
	h.adaCols = len(ada) / mw
	if h.adaCols < mw { // conditioning uses the ada rows as the σ network's hidden scratch
		return fmt.Errorf("hdit: %d adaptive-norm columns, fewer than the mapping width %d", h.adaCols, mw)
	}
	if h.adaW, err = h.upload(BF16Bytes(ada)); err != nil {
		return err
	}
	ones := make([]float32, h.adaCols)
	for i := range ones {
		ones[i] = 1 // the projection's bias turns s into the norm's scale 1 + s
	}
	if h.adaOnes, err = f32(ones); err != nil {
		return err
	}
	for i := 0; i < nl-1; i++ {
		p, err := bf(fmt.Sprintf("merges.%d.proj.weight", i), w[i+1], 4*w[i])
		if err != nil {
			return err
		}
		h.merges = append(h.merges, p)
		if p, err = bf(fmt.Sprintf("splits.%d.proj.weight", i), 4*w[i], w[i+1]); err != nil {
			return err
		}
		h.splits = append(h.splits, p)
		fac, err := fetch(fmt.Sprintf("splits.%d.fac", i), 1)
		if err != nil {
			return err
		}
		if p, err = f32(fac); err != nil {
			return err
		}
		h.facs = append(h.facs, p)
	}
	on, err := fetch("out_norm.weight", w[0])
	if err != nil {
		return err
	}
	if h.outNorm, err = f32(on); err != nil {
		return err
	}
	h.patchOut, err = bf("patch_out.weight", 48, w[0])
	return err
}

// hditPlan holds one input shape's buffers and its captured graph.
type hditPlan struct {
	batch, width          int
	x, ctx, mask, sigma   uint64 // inputs
	out                   uint64 // [B,3,128,W]
	scal, cond, ada, rope uint64
	acts                  []uint64 // per level [B, h_i, w_i, C_i]
	qkv, o, hid           uint64   // scratch of the unfused halves (0 when every half is fused)
	ws, cnt               uint64   // split-K workspace and tile counters
	wsFloats, cntN        int
	graph                 *Graph
	graphPre              *Graph // the pass without the σ network (see RunPreconditioned)
}

func (h *HDiT) plan(batch, width int) (*hditPlan, error) {
	if p := h.plans[[2]int{batch, width}]; p != nil {
		return p, nil
	}
	nl := len(h.cfg.Widths)
	unit := 4 << (nl - 1) // patch 4, then halved nl-1 times
	if h.cfg.GlobalFrom > 0 {
		unit = max(unit, 4*h.cfg.Window[1]<<(h.cfg.GlobalFrom-1)) // windows tile every windowed level
	}
	if batch <= 0 || width <= 0 || width%unit != 0 {
		return nil, fmt.Errorf("hdit: batch %d, width %d: width must be a positive multiple of %d", batch, width, unit)
	}
	p := &hditPlan{batch: batch, width: width}
	img := batch * hditPitches * width
	var err error
	f := func(elems int) uint64 {
		if err != nil {
			return 0
		}
		var ptr uint64
		ptr, err = h.alloc(4 * elems)
		return ptr
	}
	p.x, p.ctx, p.mask, p.out = f(3*img), f(3*img), f(img), f(3*img)
	p.sigma, p.scal = f(batch), f(4*batch)
	p.cond, p.ada = f(batch*h.cfg.MappingWidth), f(batch*h.adaCols)
	hh, ww := hditPitches/4, width/4
	p.rope = f(2 * 16 * max(hh, ww))
	for i, c := range h.cfg.Widths {
		p.acts = append(p.acts, f(batch*(hh>>i)*(ww>>i)*c))
	}
	// Scratch only for the halves that run unfused (qkv, o, the hidden units); the fused ones
	// sum their partials in the split workspace.
	maxQKV, maxO, maxHid := 0, 0, 0
	p.wsFloats, p.cntN = h.k.SplitKWorkspace()
	for _, L := range h.layers {
		gh, gw := hh>>L.level, ww>>L.level
		t, c := batch*gh*gw, L.c
		attn, mlp := h.fused(L, gh, gw)
		if !attn {
			maxQKV, maxO = max(maxQKV, 3*t*c), max(maxO, t*c)
		} else if L.level >= h.cfg.GlobalFrom {
			p.wsFloats = max(p.wsFloats, h.k.GlobalAttentionWorkspace(batch, gh*gw, c))
		}
		if !mlp {
			maxHid = max(maxHid, 2*t*c)
		} else {
			p.wsFloats = max(p.wsFloats, h.k.MLPWorkspace(t, c))
		}
	}
	scratch := func(elems int) uint64 {
		if elems == 0 {
			return 0
		}
		return f(elems)
	}
	p.qkv, p.o, p.hid = scratch(maxQKV), scratch(maxO), scratch(maxHid)
	p.ws, p.cnt = f(p.wsFloats), f(p.cntN)
	if err != nil {
		return nil, err
	}
	if err := h.d.Fill32(p.cnt, 0, uint64(p.cntN)); err != nil {
		return nil, err
	}
	if err := h.d.Upload(p.rope, F32Bytes(RoPETable(max(hh, ww), h.cfg.RopeBase))); err != nil {
		return nil, err
	}
	h.plans[[2]int{batch, width}] = p
	return p, nil
}

// queue enqueues one denoiser evaluation of plan p (what the graph captures). With pre, the
// σ network (mapping + adaptive-norm GEMM) is left out: p.scal holds every sample's EDM
// scalings and row 0 of p.ada the adaptive-norm scales, shared by the batch (one σ).
func (h *HDiT) queue(p *hditPlan, pre bool) error {
	k, cfg := h.k, h.cfg
	b := p.batch
	k.SetSplitK(p.ws, p.wsFloats, p.cnt, p.cntN)
	defer k.SetSplitK(0, 0, 0, 0)
	if !pre {
		if err := h.conditioning(p.sigma, p.cond, p.scal, p.ada, b); err != nil {
			return err
		}
	}
	adaStride := h.adaCols
	if pre {
		adaStride = 0
	}
	if err := h.op("patch_in", func() error {
		return k.GemmPatchIn(h.patchIn, p.acts[0], b, hditPitches, p.width, cfg.Widths[0], p.x, p.ctx, p.mask, p.scal)
	}); err != nil {
		return err
	}
	hh, ww := hditPitches/4, p.width/4
	li := 0
	runLevel := func(level int, n int) error {
		for ; n > 0; n-- {
			if err := h.layer(p, h.layers[li], hh>>level, ww>>level, adaStride); err != nil {
				return err
			}
			li++
		}
		return nil
	}
	nl := len(cfg.Widths)
	for i := 0; i < nl-1; i++ {
		if err := runLevel(i, cfg.Depths[i]); err != nil {
			return err
		}
		if err := h.op(fmt.Sprintf("merge %d", i), func() error {
			return k.GemmMerge(p.acts[i], h.merges[i], p.acts[i+1], b, hh>>i, ww>>i, cfg.Widths[i+1], 4*cfg.Widths[i])
		}); err != nil {
			return err
		}
	}
	if err := runLevel(nl-1, cfg.Depths[nl-1]); err != nil {
		return err
	}
	for i := nl - 2; i >= 0; i-- {
		if err := h.op(fmt.Sprintf("split %d", i), func() error {
			return k.GemmSplit(p.acts[i+1], h.splits[i], p.acts[i], b, hh>>i, ww>>i, 4*cfg.Widths[i], cfg.Widths[i+1], p.acts[i], h.facs[i])
		}); err != nil {
			return err
		}
		if err := runLevel(i, cfg.Depths[i]); err != nil {
			return err
		}
	}
	return h.op("patch_out", func() error {
		return k.GemmPatchOut(p.acts[0], h.patchOut, p.out, b, hditPitches, p.width, 48, cfg.Widths[0], h.outNorm, hditEps, p.x, p.scal)
	})
}

// conditioning runs the σ network for n samples: sigma [n] → scal [n,4] (EDM scalings),
// cond [n, mapping width], ada [n, adaCols] (the adaptive norms' 1 + s).
func (h *HDiT) conditioning(sigma, cond, scal, ada uint64, n int) error {
	k, cfg := h.k, h.cfg
	if err := h.op("mapping", func() error {
		// ada is scratch for the hidden layer until the adaptive-norm projection fills it
		return k.Mapping(sigma, h.fourier, h.w1, h.b1, h.w2, h.b2, ada, cond, scal, n, cfg.MappingWidth, float32(cfg.SigmaData))
	}); err != nil {
		return err
	}
	return h.op("ada", func() error {
		return k.DenseRows(cond, h.adaW, h.adaOnes, ada, n, cfg.MappingWidth, h.adaCols, false, true)
	})
}

func (h *HDiT) layer(p *hditPlan, L hditLayer, gh, gw, adaStride int) error {
	x, t := p.acts[L.level], p.batch*gh*gw
	lv := fmt.Sprintf("L%d ", L.level)
	attn, mlp := h.fused(L, gh, gw)
	if err := h.attention(p, L, x, gh, gw, adaStride, lv, attn); err != nil {
		return err
	}
	return h.feedForward(p, L, x, t, L.c, adaStride, lv, mlp)
}

// fused says which halves of layer L run as one kernel on a gh × gw grid: the attention half
// (windowed widths 64 and 128, or global where the device holds a sample's tokens) and the
// feed-forward half (where the device has the width's kernel).
func (h *HDiT) fused(L hditLayer, gh, gw int) (attn, mlp bool) {
	if h.fusedAttn {
		if L.level < h.cfg.GlobalFrom {
			attn = L.c == 64 || L.c == 128
		} else {
			attn = h.k.HasGlobalAttentionBlock(L.c, gh*gw)
		}
	}
	return attn, h.fusedMLP && h.k.HasMLP(L.c)
}

// attention queues the layer's attention half on x [B, gh, gw, c]: one kernel when fused, else
// norm+qkv into p.qkv, attention into p.o and out+residual.
func (h *HDiT) attention(p *hditPlan, L hditLayer, x uint64, gh, gw, adaStride int, lv string, fused bool) error {
	k, c, t := h.k, L.c, p.batch*gh*gw
	wh, ww := 0, 0 // global attention
	if L.level < h.cfg.GlobalFrom {
		wh, ww = h.cfg.Window[0], h.cfg.Window[1]
	}
	ada := p.ada + uint64(4*L.adaAttn)
	switch {
	case fused && wh > 0:
		return h.op(lv+"attention block", func() error {
			return k.AttentionBlock(x, L.qkv, L.out, L.qn, L.kn, p.rope, p.batch, gh, gw, c, wh, ww, L.shift[0], L.shift[1], ada, adaStride, hditEps)
		})
	case fused:
		return h.op(lv+"global attention block", func() error {
			return k.GlobalAttentionBlock(x, L.qkv, L.out, L.qn, L.kn, p.rope, p.batch, gh, gw, c, ada, adaStride, hditEps)
		})
	}
	if err := h.op(lv+"norm+qkv", func() error {
		return k.GemmNorm(x, L.qkv, p.qkv, t, 3*c, c, ada, adaStride, gh*gw, hditEps)
	}); err != nil {
		return err
	}
	if err := h.op(lv+"attention", func() error {
		return k.Attention(p.qkv, p.o, L.qn, L.kn, p.rope, p.batch, gh, gw, c, wh, ww, L.shift[0], L.shift[1], hditEps)
	}); err != nil {
		return err
	}
	return h.op(lv+"out+residual", func() error { return k.GemmResidual(p.o, L.out, x, t, c, c) })
}

// feedForward queues the layer's feed-forward half on x [t, c]: one kernel when fused, else
// norm+up+GEGLU into p.hid and down+residual.
func (h *HDiT) feedForward(p *hditPlan, L hditLayer, x uint64, t, c, adaStride int, lv string, fused bool) error {
	k := h.k
	rows := t / p.batch // per sample: each sample has its own adaptive-norm row
	if fused {
		return h.op(lv+"mlp", func() error {
			return k.MLP(x, L.up, L.down, t, c, p.ada+uint64(4*L.adaFF), adaStride, rows, hditEps)
		})
	}
	if err := h.op(lv+"norm+up+geglu", func() error {
		return k.GemmNormGEGLU(x, L.up, p.hid, t, 4*c, c, p.ada+uint64(4*L.adaFF), adaStride, rows, hditEps)
	}); err != nil {
		return err
	}
	return h.op(lv+"down+residual", func() error { return k.GemmResidual(p.hid, L.down, x, t, c, 2*c) })
}

// Launches is the number of kernels one evaluation of this shape queues.
func (h *HDiT) Launches(batch, width int) int {
	n := 4 + 2*(len(h.cfg.Widths)-1) + 1 // σ network (3), patch in, merges and splits, patch out
	for _, L := range h.layers {
		gh, gw := hditPitches/4>>L.level, width/4>>L.level
		attn, mlp := h.fused(L, gh, gw)
		switch {
		case !attn:
			n += 3
		case L.level < h.cfg.GlobalFrom:
			n++
		default:
			n += 2 // the block and its sum over heads
		}
		switch {
		case !mlp:
			n += 2
		case h.k.mlpSplits(batch*gh*gw, L.c) > 1:
			n += 2 // the kernel and its sum over blocks
		default:
			n++
		}
	}
	return n
}

// Denoise computes D(x; σ, ctx, mask) for a batch: x, ctx [B,3,128,W], mask [B,1,128,W],
// sigma [B]. The first call of a shape plans its buffers and captures the pass into a graph;
// later calls upload the inputs, replay the graph and download the result.
func (h *HDiT) Denoise(batch, width int, x, sigma, ctx, mask []float32) ([]float32, error) {
	img := batch * hditPitches * width
	if len(x) != 3*img || len(ctx) != 3*img || len(mask) != img || len(sigma) != batch {
		return nil, fmt.Errorf("hdit: inputs for batch %d width %d: x %d ctx %d mask %d sigma %d values, want %d %d %d %d",
			batch, width, len(x), len(ctx), len(mask), len(sigma), 3*img, 3*img, img, batch)
	}
	for i, s := range sigma {
		if !(s > 0) || math.IsInf(float64(s), 0) {
			return nil, fmt.Errorf("hdit: sigma[%d] = %g must be positive and finite", i, s)
		}
	}
	p, err := h.plan(batch, width)
	if err != nil {
		return nil, err
	}
	for _, u := range []struct {
		dst uint64
		v   []float32
	}{{p.x, x}, {p.ctx, ctx}, {p.mask, mask}, {p.sigma, sigma}} {
		if err := h.d.Upload(u.dst, F32Bytes(u.v)); err != nil {
			return nil, err
		}
	}
	if err := h.Run(batch, width, true); err != nil {
		return nil, err
	}
	out := make([]byte, 4*3*img)
	if err := h.d.Download(out, p.out); err != nil {
		return nil, err
	}
	return Float32s(out), nil
}

// Run queues one evaluation on the inputs already on the device: as a graph replay when graph
// is true (capturing it on first use), else as plain launches.
func (h *HDiT) Run(batch, width int, graph bool) error {
	p, err := h.plan(batch, width)
	if err != nil {
		return err
	}
	if !graph {
		return h.queue(p, false)
	}
	if p.graph == nil {
		g, err := h.d.Capture(func() error { return h.queue(p, false) })
		if err != nil {
			return fmt.Errorf("hdit: capturing the pass: %w", err)
		}
		p.graph = g
	}
	return p.graph.Launch()
}

// RunPreconditioned replays (capturing on first use) the pass without the σ network: the
// caller has stored every sample's EDM scalings in the plan's scal and the adaptive-norm row
// for the batch's σ in row 0 of its ada (see Conditioning), as the sampler kernel does before
// each evaluation. It saves the mapping kernel and the ada GEMM on the step's critical path.
func (h *HDiT) RunPreconditioned(batch, width int) error {
	p, err := h.plan(batch, width)
	if err != nil {
		return err
	}
	if p.graphPre == nil {
		g, err := h.d.Capture(func() error { return h.queue(p, true) })
		if err != nil {
			return fmt.Errorf("hdit: capturing the pass: %w", err)
		}
		p.graphPre = g
	}
	return p.graphPre.Launch()
}

// Conditioning queues the σ network for n noise levels at once: sigma [n] → scal [n,4],
// ada [n, AdaCols()] (cond [n, mapping width] is scratch).
func (h *HDiT) Conditioning(sigma, cond, scal, ada uint64, n int) error {
	return h.conditioning(sigma, cond, scal, ada, n)
}

// AdaCols is the width of one adaptive-norm row (every layer's attention and feed-forward
// scales side by side).
func (h *HDiT) AdaCols() int { return h.adaCols }

// Inputs returns the device buffers of a shape's inputs and output (x, sigma, ctx, mask, out),
// for callers that keep data on the device.
func (h *HDiT) Inputs(batch, width int) (x, sigma, ctx, mask, out uint64, err error) {
	p, err := h.plan(batch, width)
	if err != nil {
		return
	}
	return p.x, p.sigma, p.ctx, p.mask, p.out, nil
}

// Free releases the weights, buffers and graphs.
func (h *HDiT) Free() {
	for _, p := range h.plans {
		if p.graphPre != nil {
			p.graphPre.Destroy()
		}
		if p.graph != nil {
			p.graph.Destroy()
		}
	}
	h.plans = nil
	for _, a := range h.owned {
		h.d.Free(a.ptr, a.size)
	}
	h.owned = nil
}

// RoPETable returns (cos, sin) pairs [n][16] for positions 0..n-1: angle pos·base^(−j/16),
// computed in float64 like the reference.
func RoPETable(n int, base float64) []float32 {
	t := make([]float32, 0, 2*16*n)
	for pos := 0; pos < n; pos++ {
		for j := 0; j < 16; j++ {
			a := float64(pos) * math.Pow(base, -float64(j)/16)
			t = append(t, float32(math.Cos(a)), float32(math.Sin(a)))
		}
	}
	return t
}

// InterleaveGEGLU reorders the rows of ff.up [2H, K] (value rows, then gate rows) to (a_0, g_0,
// a_1, g_1, …), so that one GEMM thread holds a value and its gate side by side.
func InterleaveGEGLU(w []float32, rows, k int) []float32 {
	out := make([]float32, len(w))
	half := rows / 2
	for j := 0; j < half; j++ {
		copy(out[(2*j)*k:], w[j*k:(j+1)*k])
		copy(out[(2*j+1)*k:], w[(half+j)*k:(half+j+1)*k])
	}
	return out
}

// BF16 rounds f to bfloat16 (nearest even), the GPU's weight format.
func BF16(f float32) uint16 {
	u := math.Float32bits(f)
	if u&0x7fffffff > 0x7f800000 { // NaN stays NaN
		return uint16(u>>16) | 0x40
	}
	return uint16((u + 0x7fff + (u>>16)&1) >> 16)
}

// BF16Bytes converts to little-endian bfloat16 bytes.
func BF16Bytes(v []float32) []byte {
	b := make([]byte, 2*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint16(b[2*i:], BF16(f))
	}
	return b
}

// F32Bytes views float32s as little-endian bytes (a copy).
func F32Bytes(v []float32) []byte {
	b := make([]byte, 4*len(v))
	for i, f := range v {
		binary.LittleEndian.PutUint32(b[4*i:], math.Float32bits(f))
	}
	return b
}

// Float32s decodes little-endian float32 bytes.
func Float32s(b []byte) []float32 {
	out := make([]float32, len(b)/4)
	for i := range out {
		out[i] = math.Float32frombits(binary.LittleEndian.Uint32(b[4*i:]))
	}
	return out
}
