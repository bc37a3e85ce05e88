// Package pianoroll is the piano-roll inpainting model: the hourglass diffusion transformer of
// gpu/train/hdit.py (spelled out in gpu/train/ARCHITECTURE.md) on the engine's front, its
// weights bound by name from the exported safetensors file, and the one-call task masks.
package pianoroll

import (
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"sync"

	"latentstudio/gpu"
	"latentstudio/gpu/safetensors"
	"latentstudio/gpu/sampler"
)

// Config is the network's shape; the weights file carries it as JSON under "config"
// (hdit.CONFIG), so the Go side follows whatever was trained.
type Config struct {
	RollChannels int     `json:"roll_channels"`
	InChannels   int     `json:"in_channels"`
	Patch        [2]int  `json:"patch"`
	Widths       []int   `json:"widths"`
	Depths       []int   `json:"depths"`
	Window       [2]int  `json:"window"`
	GlobalFrom   int     `json:"global_from"`
	HeadDim      int     `json:"head_dim"`
	FFMult       int     `json:"ff_mult"`
	MappingWidth int     `json:"mapping_width"`
	RopeBase     float64 `json:"rope_base"`
	SigmaData    float64 `json:"sigma_data"`
}

// ErrWeights marks a weights file that does not describe this network.
var ErrWeights = errors.New("pianoroll weights")

// Width granularity: every level's grid must tile into its attention windows.
func (c *Config) stepMultiple() int {
	m := c.Patch[1] << (len(c.Widths) - 1)
	for i := 0; i < c.GlobalFrom && i < len(c.Widths); i++ {
		m = max(m, c.Patch[1]<<i*c.Window[1])
	}
	return m
}

func (c *Config) check() error {
	n := len(c.Widths)
	switch {
	case n < 2 || len(c.Depths) != n:
		return fmt.Errorf("%w: %d widths and %d depths", ErrWeights, n, len(c.Depths))
	case c.RollChannels != 3 || c.InChannels != 2*c.RollChannels+2:
		return fmt.Errorf("%w: roll channels %d, input channels %d (want 3 and 8)", ErrWeights, c.RollChannels, c.InChannels)
	case c.HeadDim%4 != 0 || c.HeadDim == 0 || c.Patch[0] < 1 || c.Patch[1] < 1 || c.FFMult < 1:
		return fmt.Errorf("%w: head_dim %d, patch %v, ff_mult %d", ErrWeights, c.HeadDim, c.Patch, c.FFMult)
	case Pitches%(c.Patch[0]<<(n-1)) != 0:
		return fmt.Errorf("%w: %d pitches do not split into patch %v over %d levels", ErrWeights, Pitches, c.Patch, n)
	}
	for _, w := range c.Widths {
		if w%c.HeadDim != 0 {
			return fmt.Errorf("%w: width %d is not a multiple of head_dim %d", ErrWeights, w, c.HeadDim)
		}
	}
	return nil
}

type layer struct {
	attnNorm, qkv, qNorm, kNorm, out *gpu.Tensor
	ffNorm, up, down                 *gpu.Tensor
	width, heads                     int
	window                           bool
	shift                            [2]int
}

// Model is the loaded network. It is safe for concurrent use: each caller evaluates through
// its own gpu.Context (see Denoiser).
type Model struct {
	Config Config
	Path   string
	be     gpu.Backend

	patchIn, fourier, mapIn, mapInB, mapOut, mapOutB *gpu.Tensor
	outNorm, patchOut                                *gpu.Tensor
	down, up                                         [][]layer // per level below the middle
	mid                                              []layer
	merges, splits, facs                             []*gpu.Tensor
	ld                                               *safetensors.Loader
	file                                             *safetensors.File
	closeOnce                                        sync.Once

	// fused is the backend's own whole-network runner with the sampler loop on the device
	// (the CUDA backend's fused HDiT), when the backend offers one for this config; Inpaint
	// uses it, Denoiser and the traced parity path use the op-by-op network.
	fused sampler.Device
}

// fuser is implemented by backends that run this network fused with its sampling loop on
// the device (gpu/cuda's Backend.FuseHDiT); config is the weights file's "config" JSON.
type fuser interface {
	FuseHDiT(config []byte, weights func(name string) ([]float32, []int, error)) (sampler.Device, error)
}

// Load opens a weights file exported by gpu/train/train.py and uploads it to be. Every tensor
// is checked by name and shape; a tensor the network does not use is an error too (it means
// the file and this code disagree).
func Load(be gpu.Backend, path string) (*Model, error) {
	f, err := safetensors.Open(path)
	if err != nil {
		return nil, fmt.Errorf("pianoroll: %w", err)
	}
	m, err := bind(be, f)
	if err != nil {
		f.Close()
		return nil, err
	}
	m.Path = path
	if fz, ok := be.(fuser); ok {
		dev, err := fz.FuseHDiT([]byte(f.Metadata["config"]), func(name string) ([]float32, []int, error) {
			info, err := f.Tensor(name)
			if err != nil {
				return nil, nil, err
			}
			v, err := info.Float32()
			return v, []int(info.Shape), err
		})
		if err != nil {
			gpu.Logf("pianoroll: %s runs op by op (no fused network: %v)", be.Info().Backend, err)
		} else {
			m.fused = dev
		}
	}
	return m, nil
}

func bind(be gpu.Backend, f *safetensors.File) (*Model, error) {
	raw, ok := f.Metadata["config"]
	if !ok {
		return nil, fmt.Errorf("%w: %s has no \"config\" metadata: export it with gpu/train/train.py", ErrWeights, f.Path)
	}
	m := &Model{be: be, file: f}
	if err := json.Unmarshal([]byte(raw), &m.Config); err != nil {
		return nil, fmt.Errorf("%w: %s: config metadata: %v", ErrWeights, f.Path, err)
	}
	cfg := &m.Config
	if err := cfg.check(); err != nil {
		return nil, fmt.Errorf("%s: %w", f.Path, err)
	}
	ld := safetensors.NewLoader(be, f)
	m.ld = ld
	mw, w0 := cfg.MappingWidth, cfg.Widths[0]
	ph, pw := cfg.Patch[0], cfg.Patch[1]
	m.patchIn = ld.Weight("patch_in.proj.weight", w0, ph*pw*cfg.InChannels)
	m.fourier = ld.Weight("mapping.fourier", mw/2, 1)
	m.mapIn = ld.Weight("mapping.in_proj.weight", mw, mw)
	m.mapInB = ld.Weight("mapping.in_proj.bias", mw)
	m.mapOut = ld.Weight("mapping.out_proj.weight", mw, mw)
	m.mapOutB = ld.Weight("mapping.out_proj.bias", mw)
	m.outNorm = ld.Weight("out_norm.weight", w0)
	m.patchOut = ld.Weight("patch_out.weight", ph*pw*cfg.RollChannels, w0)
	level := func(prefix string, li, first, n int) []layer {
		c := cfg.Widths[li]
		win := li < cfg.GlobalFrom
		var ls []layer
		for j := first; j < first+n; j++ {
			p := fmt.Sprintf("%s.layers.%d.", prefix, j-first)
			l := layer{width: c, heads: c / cfg.HeadDim, window: win}
			if win && j%2 == 1 {
				l.shift = [2]int{cfg.Window[0] / 2, cfg.Window[1] / 2}
			}
			h := cfg.FFMult * c
			l.attnNorm = ld.Weight(p+"attn.norm.linear.weight", c, mw)
			l.qkv = ld.Weight(p+"attn.qkv.weight", 3*c, c)
			l.qNorm = ld.Weight(p+"attn.q_norm.weight", cfg.HeadDim)
			l.kNorm = ld.Weight(p+"attn.k_norm.weight", cfg.HeadDim)
			l.out = ld.Weight(p+"attn.out.weight", c, c)
			l.ffNorm = ld.Weight(p+"ff.norm.linear.weight", c, mw)
			l.up = ld.Weight(p+"ff.up.weight", 2*h, c)
			l.down = ld.Weight(p+"ff.down.weight", c, h)
			ls = append(ls, l)
		}
		return ls
	}
	nl := len(cfg.Widths)
	for i := 0; i < nl-1; i++ {
		m.down = append(m.down, level(fmt.Sprintf("down.%d", i), i, 0, cfg.Depths[i]))
		m.up = append(m.up, level(fmt.Sprintf("up.%d", i), i, cfg.Depths[i], cfg.Depths[i]))
		m.merges = append(m.merges, ld.Weight(fmt.Sprintf("merges.%d.proj.weight", i), cfg.Widths[i+1], 4*cfg.Widths[i]))
		m.splits = append(m.splits, ld.Weight(fmt.Sprintf("splits.%d.proj.weight", i), 4*cfg.Widths[i], cfg.Widths[i+1]))
		m.facs = append(m.facs, ld.Weight(fmt.Sprintf("splits.%d.fac", i), 1))
	}
	m.mid = level("mid", nl-1, 0, cfg.Depths[nl-1])
	if err := ld.Err(); err != nil {
		ld.Free()
		return nil, fmt.Errorf("pianoroll: %w", err)
	}
	if extra := ld.Unused(); len(extra) > 0 {
		ld.Free()
		return nil, fmt.Errorf("%w: %s holds tensors this network does not use: %v", ErrWeights, f.Path, extra)
	}
	return m, nil
}

// Close frees the weights and the file.
func (m *Model) Close() error {
	var err error
	m.closeOnce.Do(func() {
		if c, ok := m.fused.(interface{ Close() error }); ok {
			c.Close()
		}
		m.ld.Free()
		err = m.file.Close()
	})
	return err
}

// Backend is the device the weights live on.
func (m *Model) Backend() gpu.Backend { return m.be }

// CheckWidth reports whether rolls of `steps` steps fit the network's grids.
func (m *Model) CheckWidth(steps int) error {
	if k := m.Config.stepMultiple(); steps <= 0 || steps%k != 0 {
		return fmt.Errorf("%w: a roll of %d steps: the model needs a multiple of %d steps", ErrBadTask, steps, k)
	}
	return nil
}

// Trace, when set on a forward pass, sees the output of each named block (the names of
// gpu/train/goldens.py: "patch_in", "mapping", "down.0.layers.0.attn", "merges.0", ...).
type Trace func(name string, t *gpu.Tensor)

func (l *layer) forward(c *gpu.Context, x, cond *gpu.Tensor, cfg *Config, name string, tr Trace) *gpu.Tensor {
	b, h, w := x.Dim(0), x.Dim(1), x.Dim(2)
	d := cfg.HeadDim
	base := float32(cfg.RopeBase)
	hn := c.Modulate(c.RMSNorm(x, nil, 1e-6), c.Linear(cond, l.attnNorm, nil), nil)
	qkv := c.Permute(c.Reshape(c.Linear(hn, l.qkv, nil), b, h, w, 3, l.heads, d), 3, 0, 4, 1, 2, 5)
	part := func(i int) *gpu.Tensor { return c.Reshape(c.Slice(qkv, 0, i, i+1), b, l.heads, h, w, d) }
	q := c.RoPE2D(c.RMSNorm(part(0), l.qNorm, 1e-6), base)
	k := c.RoPE2D(c.RMSNorm(part(1), l.kNorm, 1e-6), base)
	v := part(2)
	scale := float32(1 / math.Sqrt(float64(d)))
	var o *gpu.Tensor
	if l.window {
		wh, ww, sh, sw := cfg.Window[0], cfg.Window[1], l.shift[0], l.shift[1]
		o = c.Attention(c.WindowPartition(q, wh, ww, sh, sw), c.WindowPartition(k, wh, ww, sh, sw), c.WindowPartition(v, wh, ww, sh, sw), scale)
		o = c.WindowReverse(o, b, h, w, wh, ww, sh, sw)
	} else {
		flat := func(t *gpu.Tensor) *gpu.Tensor { return c.Reshape(t, b, l.heads, h*w, d) }
		o = c.Reshape(c.Attention(flat(q), flat(k), flat(v), scale), b, l.heads, h, w, d)
	}
	o = c.Reshape(c.Permute(o, 0, 2, 3, 1, 4), b, h, w, l.width)
	x = c.Add(x, c.Linear(o, l.out, nil))
	if tr != nil {
		tr(name+".attn", x)
	}
	hn = c.Modulate(c.RMSNorm(x, nil, 1e-6), c.Linear(cond, l.ffNorm, nil), nil)
	x = c.Add(x, c.Linear(c.GEGLU(c.Linear(hn, l.up, nil), true), l.down, nil))
	if tr != nil {
		tr(name, x)
	}
	return x
}

func runLevel(c *gpu.Context, ls []layer, x, cond *gpu.Tensor, cfg *Config, prefix string, tr Trace) *gpu.Tensor {
	for j := range ls {
		x = ls[j].forward(c, x, cond, cfg, fmt.Sprintf("%s.layers.%d", prefix, j), tr)
	}
	if tr != nil {
		tr(prefix, x)
	}
	return x
}

// Net is F: the raw network on its preconditioned input in [B,8,128,W] (c_in·x, context,
// mask, pitch) and c_noise [B] = ln(σ)/4; it returns [B,3,128,W].
func (m *Model) Net(c *gpu.Context, in, cnoise *gpu.Tensor, tr Trace) *gpu.Tensor {
	cfg := &m.Config
	ph, pw := cfg.Patch[0], cfg.Patch[1]
	x := c.Linear(c.TokenMerge(c.Permute(in, 0, 2, 3, 1), ph, pw), m.patchIn, nil)
	cond := c.Linear(c.SiLU(c.Linear(c.FourierFeatures(cnoise, m.fourier), m.mapIn, m.mapInB)), m.mapOut, m.mapOutB)
	if tr != nil {
		tr("patch_in", x)
		tr("mapping", cond)
	}
	skips := make([]*gpu.Tensor, len(m.down))
	for i := range m.down {
		x = runLevel(c, m.down[i], x, cond, cfg, fmt.Sprintf("down.%d", i), tr)
		skips[i] = x
		x = c.Linear(c.TokenMerge(x, 2, 2), m.merges[i], nil)
		if tr != nil {
			tr(fmt.Sprintf("merges.%d", i), x)
		}
	}
	x = runLevel(c, m.mid, x, cond, cfg, "mid", tr)
	for i := len(m.up) - 1; i >= 0; i-- {
		x = c.Lerp(skips[i], c.TokenSplit(c.Linear(x, m.splits[i], nil), 2, 2), m.facs[i])
		if tr != nil {
			tr(fmt.Sprintf("splits.%d", i), x)
		}
		x = runLevel(c, m.up[i], x, cond, cfg, fmt.Sprintf("up.%d", i), tr)
	}
	x = c.Linear(c.RMSNorm(x, m.outNorm, 1e-6), m.patchOut, nil)
	if tr != nil {
		tr("patch_out", x)
	}
	return c.Permute(c.TokenSplit(x, ph, pw), 0, 3, 1, 2)
}

// Inputs are the device tensors of one denoiser call; Denoise fills them from the host.
type inputs struct {
	x, ctx, mask, pitch, cin, cskip, cout, cnoise *gpu.Tensor
}

// forward is D(x; σ) = c_skip·x + c_out·F(c_in·x, ctx, mask, pitch, c_noise) with the
// σ-dependent scalars as tensors ([B,1,1,1] and [B]) so a captured graph stays valid.
func (m *Model) forward(c *gpu.Context, in *inputs, tr Trace) *gpu.Tensor {
	xin := c.Concat(1, c.Mul(in.x, in.cin), in.ctx, in.mask, in.pitch)
	f := m.Net(c, xin, in.cnoise, tr)
	if tr != nil {
		tr("output.net", f)
	}
	return c.Add(c.Mul(in.x, in.cskip), c.Mul(f, in.cout))
}

// Scalings are EDM's c_skip, c_out, c_in for σ.
func (m *Model) Scalings(sigma float64) (cskip, cout, cin float64) {
	sd := m.Config.SigmaData
	cskip = sd * sd / (sigma*sigma + sd*sd)
	cout = sigma * sd / math.Sqrt(sigma*sigma+sd*sd)
	cin = 1 / math.Sqrt(sigma*sigma+sd*sd)
	return
}
