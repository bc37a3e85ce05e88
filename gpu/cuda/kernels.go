package cuda

import (
	"fmt"
	"sort"

	"latentstudio/gpu/kernels"
)

// Kernels are the engine's kernels (gpu/kernels) loaded on one device. Like every Device
// method, they must be called inside Device.Do. Pointers are device addresses from Alloc;
// the wrappers check what the kernels assume (K a multiple of 32, window sizes) and queue one
// launch each on the device's stream.
type Kernels struct {
	d     *Device
	fn    map[string]*Function
	sk    splitK
	mlpOK map[int]bool // widths whose fused feed-forward kernel fits this device's shared memory

	// gemmBM forces the row tile of the pipelined GEMMs (64 or 128; 0: the heuristic): 64 where
	// the 128-row tiles' shared memory does not fit the device; tests force 128.
	gemmBM int
	// gemmBN = 128 forces the 128×128 tiles on the kernels that have them (gemmWideKernels);
	// tests set it. n128OK: those tiles' shared memory fits this device.
	gemmBN int
	n128OK bool
}

// splitK is the workspace that lets a tensor-core GEMM with few output tiles and a long K
// spread K over several blocks (latency-bound small-batch layers); see SetSplitK.
type splitK struct {
	ws, cnt        uint64
	wsFloats, cntN int
}

// SplitKWorkspace returns the sizes SetSplitK needs to split any GEMM the heuristic splits:
// floats for the partial tiles and uint32 counters (zeroed) for the tiles. The heuristic splits
// only grids of fewer than SMs tiles into at most 2·SMs blocks (see splits) of 64-column tiles
// (it picks 128×128 tiles only for grids of SMs or more, which it never splits); a forced
// 128×128 split gets fewer splits where its larger partial tiles would not fit (splitsBM).
func (k *Kernels) SplitKWorkspace() (floats, counters int) {
	return max(2*k.d.SMs, maxSplits) * gemmWsTile, k.d.SMs
}

// gemmWsFloats is the split-K workspace of one bm×bn tile and split in floats: per thread
// (2·bm threads) bn/2 accumulators and a sum of squares (gemm.cu, gemm_finish).
func gemmWsFloats(bm, bn int) int { return (bn/2 + 1) * 2 * bm }

// gemmWsTile is the largest gemmWsFloats of a 64-column tile (128×64: 33 floats per thread of
// a 256-thread block).
const gemmWsTile = 33 * 256

const maxSplits = 8

// SetSplitK hands the GEMMs and MLP a workspace (ws: floats, cnt: zeroed uint32 counters, sized
// by SplitKWorkspace and MLPWorkspace); ws = 0 turns splitting off. Buffers must outlive every graph that captured
// a split GEMM.
func (k *Kernels) SetSplitK(ws uint64, wsFloats int, cnt uint64, cntN int) {
	k.sk = splitK{ws, cnt, wsFloats, cntN}
}

// splits picks how many blocks share K (for the tile gemmTiles chooses for gemm_bf16): only
// when the output has fewer tiles than the GPU has SMs and K has at least 8 tiles of 32, so
// that each split keeps 4 or more; at most 2·SMs blocks in all, and no more than the
// workspace holds.
func (k *Kernels) splits(m, n, kk int) int {
	bm, bn := k.gemmTiles("gemm_bf16", m, n)
	return k.splitsBM(bm, bn, m, n, kk)
}

func (k *Kernels) splitsBM(bm, bn, m, n, kk int) int {
	if k.sk.ws == 0 {
		return 1
	}
	tiles := ((m + bm - 1) / bm) * ((n + bn - 1) / bn)
	nk := kk / 32
	if tiles >= k.d.SMs || nk < 8 {
		return 1
	}
	s := min(nk/4, 2*k.d.SMs/tiles, maxSplits, k.sk.wsFloats/(tiles*gemmWsFloats(bm, bn)))
	if s < 2 || tiles > k.sk.cntN {
		return 1
	}
	return s
}

// gemmTiles is the tile (rows, columns) of pipelined GEMM kernel name: 128×128 for the
// kernels that have it (gemmWideKernels) when N ≥ 256 and those tiles alone fill the GPU
// (A is then read from L2 half as often as with 64 columns), else gemmRows × 64.
func (k *Kernels) gemmTiles(name string, m, n int) (bm, bn int) {
	if k.n128OK && gemmWideKernels[name] {
		if k.gemmBN == 128 {
			return 128, 128
		}
		if k.gemmBN == 0 && k.gemmBM == 0 && n >= 256 && ((m+127)/128)*((n+127)/128) >= k.d.SMs {
			return 128, 128
		}
	}
	return k.gemmRows(m, n), gemmTile
}

// gemmRows is the row tile of the pipelined GEMMs with 64 columns: 128 (8 warps) when those
// tiles alone fill the GPU, else 64 (4 warps) for twice the blocks.
func (k *Kernels) gemmRows(m, n int) int {
	if k.gemmBM != 0 {
		return k.gemmBM
	}
	if ((m+127)/128)*((n+gemmTile-1)/gemmTile) >= k.d.SMs {
		return 128
	}
	return 64
}

// gemmPipeShared is the dynamic shared memory of a pipelined GEMM with bm×bn tiles: stages
// (4; 3 for 128×128, two blocks per SM) of an f32 A tile [bm][40] and a bf16 W tile [bn][40]
// (gemm.cu, PSTAGE_BYTES). 128×128: 92160 bytes, which the staged 128×136 f32 epilogue tile
// (69632) fits.
func gemmPipeShared(bm, bn int) int {
	stages := 4
	if bn == 128 {
		stages = 3
	}
	return stages * (bm*40*4 + bn*40*2)
}

// gemmPipeKernels are the GEMM kernels with the pipelined mainloop; each has a _m64 twin.
var gemmPipeKernels = []string{"gemm_bf16", "gemm_bf16_norm", "gemm_bf16_norm_geglu", "gemm_bf16_residual",
	"gemm_bf16_merge", "gemm_bf16_split", "gemm_bf16_patch_out"}

// gemmWideKernels also have a 128×128 twin, name_n128 (256 threads).
var gemmWideKernels = map[string]bool{"gemm_bf16": true, "gemm_bf16_norm": true, "gemm_bf16_norm_geglu": true,
	"gemm_bf16_residual": true}

// launchGemm launches a tensor-core GEMM kernel with split K when it pays; the last two
// kernel arguments are the split workspace and counters. gemm_bf16_patch_in is a 64×64
// kernel holding all of K = 128 in static shared memory (128 threads, never split); the others
// run name (128×64 tiles, 256 threads), name_m64 (64×64, 128 threads) or name_n128 (128×128,
// 256 threads), as gemmTiles picks.
func (k *Kernels) launchGemm(name string, m, n, kk int, args ...any) error {
	bm, bn, block, shared := 64, gemmTile, block128, 0
	if name != "gemm_bf16_patch_in" {
		bm, bn = k.gemmTiles(name, m, n)
		shared = gemmPipeShared(bm, bn)
		switch {
		case bn == 128:
			name += "_n128"
			block = Dim{X: 256}
		case bm == 64:
			name += "_m64"
		default:
			block = Dim{X: 256}
		}
	}
	grid := Dim{X: uint32((n + bn - 1) / bn), Y: uint32((m + bm - 1) / bm)}
	s := k.splitsBM(bm, bn, m, n, kk)
	grid.Z = uint32(s)
	ws, cnt := uint64(0), uint64(0)
	if s > 1 {
		ws, cnt = k.sk.ws, k.sk.cnt
	}
	return k.d.Launch(k.fn[name], grid, block, uint32(shared), append(args, ws, cnt)...)
}

// LoadKernels JIT-compiles the embedded PTX for this device.
func (d *Device) LoadKernels() (*Kernels, error) {
	mods, err := kernels.Modules()
	if err != nil {
		return nil, err
	}
	k := &Kernels{d: d, fn: map[string]*Function{}}
	names := make([]string, 0, len(mods))
	for n := range mods {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		m, err := d.LoadModule(mods[n])
		if err != nil {
			return nil, fmt.Errorf("kernels %s: %w", n, err)
		}
		for _, f := range append(kernelNames[n], optionalKernels[n]...) {
			fn, err := m.Function(f)
			if err != nil {
				return nil, fmt.Errorf("kernels %s: %w", n, err)
			}
			k.fn[f] = fn
		}
	}
	for _, fs := range kernelNames {
		for _, f := range fs {
			if k.fn[f] == nil {
				return nil, fmt.Errorf("kernels: %s missing from the PTX (rebuild with task gpu:ptx)", f)
			}
		}
	}
	k.mlpOK = map[int]bool{}
	for _, c := range mlpWidths {
		if f := k.fn[fmt.Sprintf("mlp_c%d", c)]; f != nil && mlpShared(c)+64 <= d.SharedOptIn { // + its static bytes
			if err := f.SetMaxSharedMemory(mlpShared(c)); err != nil {
				return nil, err
			}
			k.mlpOK[c] = true
		}
	}
	bms := []int{128, 64}
	if gemmPipeShared(128, 64)+1024 > d.SharedOptIn { // + static bytes: 128-row tiles don't fit (sm_86, sm_89)
		bms, k.gemmBM = bms[1:], 64
	}
	for _, f := range gemmPipeKernels {
		for _, bm := range bms {
			name := f
			if bm == 64 {
				name += "_m64"
			}
			if err := k.fn[name].SetMaxSharedMemory(gemmPipeShared(bm, 64)); err != nil {
				return nil, err
			}
		}
	}
	if gemmPipeShared(128, 128)+1024 <= d.SharedOptIn { // + static bytes
		for f := range gemmWideKernels {
			if err := k.fn[f+"_n128"].SetMaxSharedMemory(gemmPipeShared(128, 128)); err != nil {
				return nil, err
			}
		}
		k.n128OK = true
	}
	for _, c := range attnBlockWidths {
		if n := attnBlockShared(c); n > 48<<10 {
			if err := k.fn[fmt.Sprintf("attn_block_c%d", c)].SetMaxSharedMemory(n); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range globalAttnWidths {
		if f := k.fn[fmt.Sprintf("global_attn_c%d", c)]; f != nil && globalAttnShared(c)+256 <= d.SharedOptIn { // + its static bytes
			if err := f.SetMaxSharedMemory(globalAttnShared(c)); err != nil {
				return nil, err
			}
		}
	}
	for _, c := range globalAttnLongWidths {
		if f := k.fn[fmt.Sprintf("global_attn_long_c%d", c)]; f != nil && globalAttnLongShared(c)+256 <= d.SharedOptIn { // + its static bytes
			if err := f.SetMaxSharedMemory(globalAttnLongShared(c)); err != nil {
				return nil, err
			}
		}
	}
	return k, nil
}

var kernelNames = map[string][]string{
	"gemm": {"gemm_bf16", "gemm_bf16_norm", "gemm_bf16_norm_geglu", "gemm_bf16_residual", "gemm_bf16_merge",
		"gemm_bf16_split", "gemm_bf16_patch_in", "gemm_bf16_patch_out", "gemm_f32", "gemm_f32_wbf16",
		"gemm_bf16_m64", "gemm_bf16_norm_m64", "gemm_bf16_norm_geglu_m64", "gemm_bf16_residual_m64",
		"gemm_bf16_merge_m64", "gemm_bf16_split_m64", "gemm_bf16_patch_out_m64",
		"gemm_bf16_n128", "gemm_bf16_norm_n128", "gemm_bf16_norm_geglu_n128", "gemm_bf16_residual_n128"},
	"generic": {"copy_strided", "binary_bcast", "unary", "affine", "geglu", "modulate", "norm_rows", "softmax_rows",
		"group_norm", "reduce_axis", "conv2d", "upsample_nearest", "window", "rope2d", "fourier", "cast", "attention_rows"},
	"attention":  {"attention"},
	"misc":       {"mapping_in", "dense_rows_f32", "dense_rows_bf16", "randn_philox", "axpby", "sum_partials"},
	"mlp":        {"mlp_c64", "mlp_c128", "mlp_c256", "mlp_c384"},
	"attnblock":  {"attn_block_c64", "attn_block_c128"},
	"globalattn": {"global_attn_c256", "global_attn_c384", "global_attn_long_c256"},
}

// optionalKernels are modules a feature checks for when it starts (Has), so that a test
// binary built before their PTX existed still loads the rest.
var optionalKernels = map[string][]string{
	"sampler": {"sampler_step"},
}

// Has reports whether kernel name is loaded.
func (k *Kernels) Has(name string) bool { return k.fn[name] != nil }

const gemmTile = 64

var block128 = Dim{X: 128}

func checkGemm(op string, m, n, k int) error {
	if m <= 0 || n <= 0 || k <= 0 || k%32 != 0 {
		return fmt.Errorf("%s: M=%d N=%d K=%d: K must be a positive multiple of 32", op, m, n, k)
	}
	return nil
}

// Gemm: c[M,N] = a[M,K]·w[N,K]ᵀ (+ bias[N]; SiLU when silu). a, c f32, w bf16.
func (k *Kernels) Gemm(a, w, c uint64, m, n, kk int, bias uint64, silu bool) error {
	return k.GemmAlpha(a, w, c, m, n, kk, bias, silu, 1)
}

// GemmAlpha is Gemm with c = alpha·a·wᵀ (+ bias).
func (k *Kernels) GemmAlpha(a, w, c uint64, m, n, kk int, bias uint64, silu bool, alpha float32) error {
	if err := checkGemm("gemm", m, n, kk); err != nil {
		return err
	}
	act := int32(0)
	if silu {
		act = 1
	}
	return k.launchGemm("gemm_bf16", m, n, kk, a, w, c, m, n, kk, bias, act, alpha)
}

// GemmNorm: c = (rms(a)·scale[b])·wᵀ, scale[b] = scale + (row / rowsPerBatch)·scaleStride
// (the adaptive RMS norm's 1 + s, or a plain RMSNorm weight with scaleStride 0).
func (k *Kernels) GemmNorm(a, w, c uint64, m, n, kk int, scale uint64, scaleStride, rowsPerBatch int, eps float32) error {
	if err := checkGemm("gemm norm", m, n, kk); err != nil {
		return err
	}
	return k.launchGemm("gemm_bf16_norm", m, n, kk, a, w, c, m, n, kk, scale, scaleStride, rowsPerBatch, eps)
}

// GemmNormGEGLU: c [M, N/2] = GEGLU((rms(a)·scale[b])·wᵀ) with w's rows interleaved
// (see InterleaveGEGLU).
func (k *Kernels) GemmNormGEGLU(a, w, c uint64, m, n, kk int, scale uint64, scaleStride, rowsPerBatch int, eps float32) error {
	if err := checkGemm("gemm norm geglu", m, n, kk); err != nil {
		return err
	}
	if n%2 != 0 {
		return fmt.Errorf("gemm norm geglu: N=%d is odd", n)
	}
	return k.launchGemm("gemm_bf16_norm_geglu", m, n, kk, a, w, c, m, n, kk, scale, scaleStride, rowsPerBatch, eps)
}

// GemmResidual: c += a·wᵀ.
func (k *Kernels) GemmResidual(a, w, c uint64, m, n, kk int) error {
	if err := checkGemm("gemm residual", m, n, kk); err != nil {
		return err
	}
	return k.launchGemm("gemm_bf16_residual", m, n, kk, a, w, c, m, n, kk)
}

// mlpWidths are the widths gpu/kernels/mlp.cu is compiled for.
var mlpWidths = []int{64, 128, 256, 384}

// mlpShared is mlp.cu's MlpSmem in bytes for width c: the block's 64 normalised rows, two
// chunks of 64 up rows and of c down columns × 32, and the chunk's 64 × 32 hidden units.
// Width 64 has its own kernel: mlp64Shared for its largest block.
func mlpShared(c int) int {
	if c == 64 {
		return mlp64Shared(mlp64MaxWarps)
	}
	return 2 * (64*(c+8) + 2*64*(c+8) + 2*c*40 + 64*40)
}

// mlp_c64 (mlp.cu) keeps the layer's weights in shared memory and runs a persistent grid of at
// most mlp64BlocksPerSM blocks an SM (its __launch_bounds__) whose warps each walk 16-row
// tiles; a block has up to mlp64MaxWarps warps.
const (
	mlp64BlocksPerSM = 2
	mlp64MaxWarps    = 8
)

// mlp64Shared is mlp.cu's MLP64_SMEM in bytes: the up rows [256][72] and down rows [64][136]
// bf16, and each warp's 16 staged x rows [16][68] f32.
func mlp64Shared(warps int) int { return 2*(256*72+64*136) + warps*16*68*4 }

// mlp64Launch is mlp_c64's grid and warps a block for m rows: at least two warps a block,
// more once the tiles outnumber the SMs, blocks up to the persistent wave.
func (k *Kernels) mlp64Launch(m int) (blocks, warps int) {
	tiles := (m + 15) / 16
	warps = min(mlp64MaxWarps, max(2, (tiles+k.d.SMs-1)/k.d.SMs))
	return min((tiles+warps-1)/warps, mlp64BlocksPerSM*k.d.SMs), warps
}

// HasMLP reports whether MLP runs width c here (compiled for it, and its shared memory fits:
// width 384 needs 212 KiB, more than an A100 block may have).
func (k *Kernels) HasMLP(c int) bool { return k.mlpOK[c] }

// MLP runs a transformer layer's feed-forward half in one kernel, in place on x [M, c]:
// x += GEGLU((rms(x)·scale[b])·wuᵀ)·wdᵀ with wu [4c][c] (GEGLU rows interleaved, see
// InterleaveGEGLU) and wd [c][2c]; scale rows as in GemmNorm. It equals GemmNormGEGLU into a
// [M, 2c] buffer then GemmResidual, without the buffer.
func (k *Kernels) MLP(x, wu, wd uint64, m, c int, scale uint64, scaleStride, rowsPerBatch int, eps float32) error {
	if !k.HasMLP(c) {
		return fmt.Errorf("mlp: no fused kernel for width %d on this device (widths %v, %d bytes of shared memory per block)", c, mlpWidths, k.d.SharedOptIn)
	}
	if m <= 0 || rowsPerBatch <= 0 {
		return fmt.Errorf("mlp: bad sizes M=%d rowsPerBatch=%d", m, rowsPerBatch)
	}
	if c == 64 {
		blocks, warps := k.mlp64Launch(m)
		return k.d.Launch(k.fn["mlp_c64"], Dim{X: uint32(blocks)}, Dim{X: uint32(32 * warps)}, uint32(mlp64Shared(warps)),
			x, wu, wd, m, scale, scaleStride, rowsPerBatch, eps, uint64(0))
	}
	s := k.mlpSplits(m, c)
	if s > 1 && s*m*c > k.sk.wsFloats {
		s = 1 // no workspace for the partial sums: each block walks all hidden units of its rows
	}
	f := k.fn[fmt.Sprintf("mlp_c%d", c)]
	grid := Dim{X: uint32((m + 63) / 64), Y: uint32(s)}
	if err := k.d.Launch(f, grid, Dim{X: 256}, uint32(mlpShared(c)), x, wu, wd, m, scale, scaleStride, rowsPerBatch, eps, k.sk.ws); err != nil || s == 1 {
		return err
	}
	n4 := int64(m * c / 4)
	return k.d.Launch(k.fn["sum_partials"], Dim{X: uint32((n4 + 255) / 256)}, Dim{X: 256}, 0, x, k.sk.ws, n4, int32(s))
}

// mlpSplits is how many blocks share the hidden units of a 64-row tile. Every block walks its
// chunks of 32 hidden units in sequence, so with few tiles (batch 1, the coarse levels) the
// chunks are spread over blocks up to one wave (one block per SM: the large widths' shared
// memory) and sum_partials adds their partial sums; width 64 has too few chunks to pay for it.
func (k *Kernels) mlpSplits(m, c int) int {
	tiles := (m + 63) / 64
	if c < 128 || 2*tiles > k.d.SMs {
		return 1
	}
	return min(k.d.SMs/tiles, 2*c/32)
}

// MLPWorkspace is the split workspace (SetSplitK's ws, in floats) MLP needs for m rows of width c.
func (k *Kernels) MLPWorkspace(m, c int) int {
	if s := k.mlpSplits(m, c); s > 1 {
		return s * m * c
	}
	return 0
}

// GemmMerge: 2×2 token merge of a [B,h,w,K/4] then c [B·h/2·w/2, N] = merged·wᵀ.
func (k *Kernels) GemmMerge(a, w, c uint64, batch, h, wd, n, kk int) error {
	m := batch * (h / 2) * (wd / 2)
	if err := checkGemm("gemm merge", m, n, kk); err != nil {
		return err
	}
	if h%2 != 0 || wd%2 != 0 || (kk/4)%16 != 0 {
		return fmt.Errorf("gemm merge: grid %d×%d with %d channels: needs even sides and channels a multiple of 16", h, wd, kk/4)
	}
	return k.launchGemm("gemm_bf16_merge", m, n, kk, a, w, c, m, n, kk, h, wd)
}

// GemmSplit: y = a·wᵀ [B·h/2·w/2, N] split 2×2 onto the grid [B,h,w,N/4];
// c = skip + fac·(y − skip), fac a device float. c may equal skip.
func (k *Kernels) GemmSplit(a, w, c uint64, batch, h, wd, n, kk int, skip, fac uint64) error {
	m := batch * (h / 2) * (wd / 2)
	if err := checkGemm("gemm split", m, n, kk); err != nil {
		return err
	}
	if h%2 != 0 || wd%2 != 0 || n%8 != 0 {
		return fmt.Errorf("gemm split: grid %d×%d, N=%d: needs even sides and N a multiple of 8", h, wd, n)
	}
	return k.launchGemm("gemm_bf16_split", m, n, kk, a, w, c, m, n, kk, h, wd, skip, fac)
}

// GemmPatchIn: the 4×4 patchify of concat(c_in·x, ctx, mask, pitch) [B,8,h,w] projected by
// w [N,128]: c [B·h/4·w/4, N]. scal holds (c_in, c_skip, c_out, c_noise) per sample.
func (k *Kernels) GemmPatchIn(w, c uint64, batch, h, wd, n int, x, ctx, mask, scal uint64) error {
	m := batch * (h / 4) * (wd / 4)
	if h%4 != 0 || wd%4 != 0 || m == 0 {
		return fmt.Errorf("gemm patch in: image %d×%d is not a positive multiple of 4", h, wd)
	}
	return k.launchGemm("gemm_bf16_patch_in", m, n, 128, w, c, m, n, h, wd, x, ctx, mask, scal)
}

// GemmPatchOut: out [B,3,h,w] = c_skip·x + c_out·unpatchify((rms(a)·scale)·wᵀ), w [N=48, K].
func (k *Kernels) GemmPatchOut(a, w, out uint64, batch, h, wd, n, kk int, scale uint64, eps float32, x, scal uint64) error {
	m := batch * (h / 4) * (wd / 4)
	if err := checkGemm("gemm patch out", m, n, kk); err != nil {
		return err
	}
	if n != 48 {
		return fmt.Errorf("gemm patch out: N=%d, want 48 (4×4 patches of 3 channels)", n)
	}
	return k.launchGemm("gemm_bf16_patch_out", m, n, kk, a, w, out, m, n, kk, scale, eps, h, wd, x, scal)
}

// GemmF32 is the plain f32 GEMM: c[b][m][n] = alpha·Σ_k a[b·sa + m·sam + k·sak]·
// bm[b·sb + k·sbk + n·sbn] + bias[n].
// With bBF16, bm holds bfloat16.
func (k *Kernels) GemmF32(a, bm, c, bias uint64, batch, m, n, kk int, sa int64, sam, sak int, sb int64, sbk, sbn int, alpha float32, bBF16 bool) error {
	if m <= 0 || n <= 0 || kk <= 0 || batch <= 0 {
		return fmt.Errorf("gemm f32: bad sizes batch=%d M=%d N=%d K=%d", batch, m, n, kk)
	}
	grid := Dim{X: uint32((n + 15) / 16), Y: uint32((m + 15) / 16), Z: uint32(batch)}
	f := k.fn["gemm_f32"]
	if bBF16 {
		f = k.fn["gemm_f32_wbf16"]
	}
	return k.d.Launch(f, grid, Dim{X: 256}, 0, a, bm, c, bias, m, n, kk, sa, sam, sak, sb, sbk, sbn, alpha)
}

// Attention runs one HDiT attention layer: qkv [B,h,w,3C] → o [B,h,w,C] with per-head RMS norm
// (qn, kn [64]), axial RoPE (rope: RoPETable) and windows wh×ww shifted by (sh, sw), or global
// attention when wh is 0. head_dim is 64.
func (k *Kernels) Attention(qkv, o, qn, kn, rope uint64, batch, h, wd, c, wh, ww, sh, sw int, eps float32) error {
	if c%64 != 0 || c == 0 {
		return fmt.Errorf("attention: width %d is not a multiple of head_dim 64", c)
	}
	var tiles int
	if wh > 0 {
		if wh*ww != 64 || h%wh != 0 || wd%ww != 0 {
			return fmt.Errorf("attention: windows %d×%d on a %d×%d grid: need 64-token windows that tile the grid", wh, ww, h, wd)
		}
		tiles = (h / wh) * (wd / ww)
	} else {
		tiles = (h*wd + 63) / 64
	}
	grid := Dim{X: uint32(tiles), Y: uint32(c / 64), Z: uint32(batch)}
	return k.d.Launch(k.fn["attention"], grid, block128, 0, qkv, o, qn, kn, rope, h, wd, c, wh, ww, sh, sw, eps)
}

// attnBlockWidths are the widths gpu/kernels/attnblock.cu is compiled for (1 or 2 heads).
var attnBlockWidths = []int{64, 128}

// attnBlockShared is attnblock.cu's ATTN_BLOCK_SMEM in bytes for width c: the window's 64
// normalised rows and one head's 192 Wqkv rows (pitch c+8), plus k and vᵀ [64][72] of their own
// when there are two heads.
func attnBlockShared(c int) int {
	n := 2 * 256 * (c + 8)
	if c > 64 {
		n += 2 * 2 * 64 * 72
	}
	return n
}

// AttentionBlock runs a windowed layer's attention half in one kernel, in place on x
// [B,h,w,c]: x += Attention(GemmNorm(x))·woutᵀ, the composition of GemmNorm(x, wqkv, qkv, …,
// scale, scaleStride, h·w, eps), Attention(qkv, o, qn, kn, rope, batch, h, w, c, wh, ww, sh,
// sw, eps) and GemmResidual(o, wout, x, …) without the qkv and o buffers. c is 64 or 128
// (head_dim 64); windows wh×ww of 64 tokens tile the grid, shifted by (sh, sw). wqkv [3c][c]
// and wout [c][c] are bf16; scale rows are scale + b·scaleStride (stride 0: one row for all).
func (k *Kernels) AttentionBlock(x, wqkv, wout, qn, kn, rope uint64, batch, h, wd, c, wh, ww, sh, sw int, scale uint64, scaleStride int, eps float32) error {
	if c != 64 && c != 128 {
		return fmt.Errorf("attention block: width %d: the fused kernel takes 64 or 128 (1 or 2 heads of 64)", c)
	}
	if wh <= 0 || ww <= 0 || wh*ww != 64 || h%wh != 0 || wd%ww != 0 {
		return fmt.Errorf("attention block: windows %d×%d on a %d×%d grid: need 64-token windows that tile the grid", wh, ww, h, wd)
	}
	if sh < 0 || sh >= h || sw < 0 || sw >= wd {
		return fmt.Errorf("attention block: shift (%d, %d) outside the %d×%d grid", sh, sw, h, wd)
	}
	if batch <= 0 || scaleStride < 0 || scaleStride%4 != 0 {
		return fmt.Errorf("attention block: batch %d, scale stride %d: need a positive batch and a stride that is a multiple of 4", batch, scaleStride)
	}
	grid := Dim{X: uint32((h / wh) * (wd / ww)), Z: uint32(batch)}
	f := k.fn[fmt.Sprintf("attn_block_c%d", c)]
	return k.d.Launch(f, grid, block128, uint32(attnBlockShared(c)), x, wqkv, wout, qn, kn, rope, h, wd, wh, ww, sh, sw, scale, scaleStride, eps)
}

// Mapping runs the noise-level network for B samples: sigma [B] → scal [B,4] = (c_in, c_skip,
// c_out, c_noise) and cond [B,width]; hidden [B,width] is scratch. w1, w2 are the Linear
// weights ([out][in], f32).
func (k *Kernels) Mapping(sigma, fourier, w1, b1, w2, b2, hidden, cond, scal uint64, batch, width int, sigmaData float32) error {
	if width > denseMaxK || width%16 != 0 {
		return fmt.Errorf("mapping: width %d must be a multiple of 16 and at most %d", width, denseMaxK)
	}
	if err := k.d.Launch(k.fn["mapping_in"], denseGrid(batch, width), Dim{X: 256}, 0, sigma, fourier, w1, b1, hidden, scal, batch, width, sigmaData); err != nil {
		return err
	}
	return k.DenseRows(hidden, w2, b2, cond, batch, width, width, false, false)
}

// denseMaxK is the widest input row DenseRows takes (misc.cu's DK).
const denseMaxK = 512

func denseGrid(rows, n int) Dim {
	return Dim{X: uint32((n + 7) / 8), Y: uint32((rows + 15) / 16)} // 8 columns (warps) × 16 rows a block
}

// DenseRows: out [B,N] = in [B,K]·wᵀ + bias (SiLU when silu), w [N][K] in bf16 when wBF16 else
// f32, bias may be 0. For a few rows against large weights (the σ network, the adaptive-norm
// projection): each weight row is read once per 16 input rows.
func (k *Kernels) DenseRows(in, w, bias, out uint64, rows, kk, n int, silu, wBF16 bool) error {
	if rows <= 0 || n <= 0 || kk <= 0 || kk > denseMaxK || kk%8 != 0 {
		return fmt.Errorf("dense rows: B=%d K=%d N=%d: K must be a multiple of 8 and at most %d", rows, kk, n, denseMaxK)
	}
	f := k.fn["dense_rows_f32"]
	if wBF16 {
		f = k.fn["dense_rows_bf16"]
	}
	act := int32(0)
	if silu {
		act = 1
	}
	return k.d.Launch(f, denseGrid(rows, n), Dim{X: 256}, 0, in, w, bias, out, rows, kk, n, act)
}

// RandN fills n floats with the engine's Philox normals for (seed, offset) (gpu/philox.go).
func (k *Kernels) RandN(out uint64, n int, seed, offset uint64) error {
	if n <= 0 {
		return nil
	}
	blocks := (int(offset%4)+n+3)/4 + 1
	return k.d.Launch(k.fn["randn_philox"], Dim{X: uint32((blocks + 255) / 256)}, Dim{X: 256}, 0,
		out, int64(n), uint32(seed), uint32(seed>>32), int64(offset))
}

// Axpby: dst = a·x + b·y over n floats.
func (k *Kernels) Axpby(dst, x, y uint64, a, b float32, n int) error {
	return k.d.Launch(k.fn["axpby"], Dim{X: uint32((n + 255) / 256)}, Dim{X: 256}, 0, dst, x, y, a, b, int64(n))
}

// SamplerStep queues one step of a sampler program over K candidates of n values each (see
// gpu/kernels/sampler.cu): mode 0 starts x at known + g·ε, 1 re-noises x, 2 applies
// x = a·x + b·dv + c·(dv − old) + g·ε with dv = d where mask is set and known elsewhere
// (and old = dv when keep). Noise is the engine's Philox stream (noiseStep<<16 | candidate)
// of the 64-bit seed stored at the device address seed (low word first). When sigmaNext > 0
// the next evaluation is prepared too (see Prep).
func (k *Kernels) SamplerStep(x, old, d, known, mask uint64, n, hw, cands, mode int, a, b, c, g float32,
	seed uint64, noiseStep int, keep bool, sigmaNext float32, prep Prep) error {
	f := k.fn["sampler_step"]
	if f == nil {
		return fmt.Errorf("sampler step: kernel missing from the PTX (rebuild with task gpu:ptx)")
	}
	if n <= 0 || hw <= 0 || hw%4 != 0 || n%hw != 0 || cands <= 0 || mode < 0 || mode > 2 || noiseStep < 0 {
		return fmt.Errorf("sampler step: n=%d hw=%d K=%d mode=%d noise step %d: need hw a positive multiple of 4 dividing n", n, hw, cands, mode, noiseStep)
	}
	threads := max(cands*n/4, prep.AdaCols)
	kp := int32(0)
	if keep {
		kp = 1
	}
	return k.d.Launch(f, Dim{X: uint32((threads + 255) / 256)}, Dim{X: 256}, 0, x, old, d, known, mask,
		int64(n), hw, cands, mode, a, b, c, g, seed, int64(noiseStep), kp,
		prep.Sigma, sigmaNext, prep.Scal, prep.SigmaData, prep.AdaSrc, prep.AdaDst, prep.AdaCols)
}

// Prep says where SamplerStep stores what the next evaluation reads: σ into Sigma[0..K), and,
// when Scal is set, the EDM scalings for σ_data SigmaData into Scal [K,4]; when AdaSrc is set,
// AdaCols floats from AdaSrc (the precomputed adaptive-norm row for that σ) into AdaDst.
type Prep struct {
	Sigma, Scal    uint64
	SigmaData      float32
	AdaSrc, AdaDst uint64
	AdaCols        int
}

// globalAttnWidths are the widths gpu/kernels/globalattn.cu is compiled for (4 or 6 heads).
var globalAttnWidths = []int{256, 384}

// globalAttnShared is globalattn.cu's GLOBAL_ATTN_SMEM in bytes for width c: a sample's 64
// normalised rows and one head's 192 Wqkv rows (pitch c+8); 196 KiB at width 384.
func globalAttnShared(c int) int { return 2 * 256 * (c + 8) }

// globalAttnLongWidths are the widths global_attn_long (samples of 65..globalAttnLongMax
// tokens) is compiled for; width 384 would need 265 KiB of shared memory.
var globalAttnLongWidths = []int{256}

// globalAttnLongMax is globalattn.cu's NMAX: the most tokens a sample may have.
const globalAttnLongMax = 256

// globalAttnLongShared is globalattn.cu's GLOBAL_ATTN_LONG_SMEM in bytes for width c: a 64-row
// chunk of normalised x and the head's 192 Wqkv rows (pitch c+8), k [256][72] and vᵀ
// [64][264] of every token; 201 KiB at width 256.
func globalAttnLongShared(c int) int {
	return 2 * (256*(c+8) + globalAttnLongMax*72 + 64*(globalAttnLongMax+8))
}

// globalAttnLong reports whether samples of tokens tokens take global_attn_long.
func globalAttnLong(tokens int) bool { return tokens > 64 }

// HasGlobalAttentionBlock reports whether GlobalAttentionBlock runs width c with tokens tokens
// per sample here: compiled for c (widths 256 and 384 up to 64 tokens, one attention tile;
// width 256 up to 256 tokens), and its shared memory fits the device (width 384 needs 196 KiB,
// more than an A100 block may have; width 256 past 64 tokens 201 KiB).
func (k *Kernels) HasGlobalAttentionBlock(c, tokens int) bool {
	if tokens <= 0 || tokens > globalAttnLongMax || k.fn["sum_partials"] == nil {
		return false
	}
	if globalAttnLong(tokens) {
		return k.fn[fmt.Sprintf("global_attn_long_c%d", c)] != nil && globalAttnLongShared(c)+256 <= k.d.SharedOptIn
	}
	return k.fn[fmt.Sprintf("global_attn_c%d", c)] != nil && globalAttnShared(c)+256 <= k.d.SharedOptIn
}

// globalAttnSplit is the query split of global_attn_long (grid y): each of a (head, sample)'s
// blocks recomputes the sample's k and v and attends for every split-th 64-query tile, so
// split more only while the blocks still fit one wave (batch 16 at width 256: 2, batch 1: 4).
func (k *Kernels) globalAttnSplit(heads, batch, tokens int) int {
	return min((tokens+63)/64, max(1, k.d.SMs/(heads*batch)))
}

// GlobalAttentionWorkspace is the floats GlobalAttentionBlock needs in the split workspace
// (SetSplitK): each head's partial update, [c/64][batch·tokens][c].
func (k *Kernels) GlobalAttentionWorkspace(batch, tokens, c int) int {
	return c / 64 * batch * tokens * c
}

// GlobalAttentionBlock runs a global-attention layer's attention half in place on x [B,h,w,c]
// when a sample has at most 64 tokens (at most 256 at width 256, see HasGlobalAttentionBlock):
// x += Attention(GemmNorm(x))·woutᵀ, the composition of GemmNorm(x, wqkv, qkv, …, scale,
// scaleStride, h·w, eps), Attention(qkv, o, qn, kn, rope, batch, h, w, c, 0, 0, 0, 0, eps) and
// GemmResidual(o, wout, x, …). One block per (head, sample) — past 64 tokens per (head, sample,
// query split), each recomputing the sample's k and v — writes its head's share of the update
// to the split workspace (GlobalAttentionWorkspace floats, see SetSplitK) and a second kernel
// adds the shares to x in head order (deterministic, whatever the split).
// wqkv [3c][c] and wout [c][c] are bf16; scale rows are scale + b·scaleStride.
func (k *Kernels) GlobalAttentionBlock(x, wqkv, wout, qn, kn, rope uint64, batch, h, wd, c int, scale uint64, scaleStride int, eps float32) error {
	tokens := h * wd
	if h <= 0 || wd <= 0 || !k.HasGlobalAttentionBlock(c, tokens) {
		return fmt.Errorf("global attention block: width %d, %d×%d grid: no fused kernel here (widths %v up to 64 tokens, %v up to %d, %d bytes of shared memory per block)", c, h, wd, globalAttnWidths, globalAttnLongWidths, globalAttnLongMax, k.d.SharedOptIn)
	}
	if batch <= 0 || scaleStride < 0 || scaleStride%4 != 0 {
		return fmt.Errorf("global attention block: batch %d, scale stride %d: need a positive batch and a stride that is a multiple of 4", batch, scaleStride)
	}
	need := k.GlobalAttentionWorkspace(batch, tokens, c)
	if k.sk.ws == 0 || k.sk.wsFloats < need {
		return fmt.Errorf("global attention block: needs a workspace of %d floats (SetSplitK), have %d", need, k.sk.wsFloats)
	}
	grid := Dim{X: uint32(c / 64), Z: uint32(batch)}
	f, shared := k.fn[fmt.Sprintf("global_attn_c%d", c)], globalAttnShared(c)
	if globalAttnLong(tokens) {
		grid.Y = uint32(k.globalAttnSplit(c/64, batch, tokens))
		f, shared = k.fn[fmt.Sprintf("global_attn_long_c%d", c)], globalAttnLongShared(c)
	}
	if err := k.d.Launch(f, grid, block128, uint32(shared), x, wqkv, wout, qn, kn, rope, h, wd, scale, scaleStride, eps, k.sk.ws); err != nil {
		return err
	}
	n4 := int64(batch * tokens * c / 4)
	return k.d.Launch(k.fn["sum_partials"], Dim{X: uint32((n4 + 255) / 256)}, Dim{X: 256}, 0, x, k.sk.ws, n4, int32(c/64))
}
