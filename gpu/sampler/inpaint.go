package sampler

import (
	"context"
	"errors"
	"fmt"
	"math"
	"sort"
	"sync"
)

// Net is a mask-aware denoiser D(x; σ, context, mask) over a batch of B rolls [B,C,H,W]:
// context [B,C,H,W] is the known roll with masked cells zeroed, mask [B,1,H,W] is 1 where
// the model generates.
type Net func(x []float32, sigma float64, context, mask []float32) ([]float32, error)

// Normal fills out with standard normal values from a counter-based generator: they depend
// only on (seed, stream) and the position in out, so candidate k sees the same noise whatever
// the batch size, and CPU and GPU agree.
type Normal func(seed, stream uint64, out []float32)

// ErrBadInput marks a request that cannot run as given (sizes, options).
var ErrBadInput = errors.New("bad input")

// RePaint turns a schedule into one with RePaint jumps (Lugmayr et al. 2022): every step
// σ_i → σ_{i+1} is taken u times, re-noising back up to σ_i between the tries, so the
// generated cells get u chances to agree with what is around them. u = 1 returns sigmas.
func RePaint(sigmas []float64, u int) []float64 {
	if u < 1 {
		u = 1
	}
	out := []float64{sigmas[0]}
	for i := 0; i+1 < len(sigmas); i++ {
		for k := 0; k < u; k++ {
			out = append(out, sigmas[i+1])
			if k < u-1 {
				out = append(out, sigmas[i])
			}
		}
	}
	return out
}

// Inpainting describes one inpainting request for a single roll.
type Inpainting struct {
	Sampler    Sampler
	Sigmas     []float64 // base schedule, e.g. Karras(30, 0.01, 10, 7)
	Jumps      int       // RePaint U, 1..10
	Candidates int       // K, sampled in one batch
	Percentile float64   // 0..1: which candidate, ranked by notes in the mask, is the pick
	Seed       uint64
	Channels   int // channels per roll (3); the onset channel is channel 0
	// NoteThreshold: a cell of channel 0 above it counts as a note onset (0 in [-1,1] space).
	NoteThreshold float32
}

// Result holds every candidate, sorted by the notes they put in the mask (fewest first), and
// the index of the pick.
type Result struct {
	Candidates [][]float32
	Notes      []int
	Seeds      []int // the candidate's stream index, to reproduce it alone
	Pick       int
}

// Inpaint fills the cells of roll x0 [C,H,W] where mask [H,W] is 1, K candidates at once.
// Cells where mask is 0 come back bit-for-bit equal to x0.
func Inpaint(ctx context.Context, net Net, normal Normal, x0, mask []float32, req Inpainting) (*Result, error) {
	p, err := prepare(x0, mask, req)
	if err != nil {
		return nil, err
	}
	c, k, hw, n := p.c, p.k, len(mask), len(x0)
	known := make([]float32, k*n) // the context and mask repeated for each candidate
	maskB := make([]float32, k*hw)
	for b := 0; b < k; b++ {
		copy(known[b*n:], p.known)
		copy(maskB[b*hw:], mask)
	}
	noise := func(step int, out []float32) {
		for b := 0; b < k; b++ {
			normal(req.Seed, uint64(step)<<16|uint64(b), out[b*n:(b+1)*n])
		}
	}
	// The known cells of D are replaced by x0, so they follow x0 + σ·ε down every schedule.
	model := func(x []float32, sigma float64) ([]float32, error) {
		d, err := net(x, sigma, known, maskB)
		if err != nil {
			return nil, err
		}
		for b := 0; b < k; b++ {
			for ch := 0; ch < c; ch++ {
				o := b*n + ch*hw
				for i, m := range mask {
					if m == 0 {
						d[o+i] = x0[ch*hw+i]
					}
				}
			}
		}
		return d, nil
	}
	sigmas := p.sigmas
	x := make([]float32, k*n)
	noise(len(sigmas)+1, x) // a step index no schedule step uses
	s0 := float32(sigmas[0])
	for b := 0; b < k; b++ {
		for i := 0; i < n; i++ {
			x[b*n+i] = known[b*n+i] + s0*x[b*n+i]
		}
	}
	x, err = req.Sampler(ctx, model, x, sigmas, noise)
	if err != nil {
		return nil, err
	}
	return p.finish(x0, mask, x, req), nil
}

// prepared is a validated request: channels, candidates, the RePaint schedule, and the
// context (x0 with masked cells zeroed).
type prepared struct {
	c, k   int
	sigmas []float64
	known  []float32
}

func prepare(x0, mask []float32, req Inpainting) (*prepared, error) {
	c := req.Channels
	if c <= 0 {
		c = 3
	}
	hw := len(mask)
	if hw == 0 || len(x0) != c*hw {
		return nil, fmt.Errorf("%w: roll has %d values, mask %d cells: want %d channels × mask cells", ErrBadInput, len(x0), hw, c)
	}
	for i, m := range mask {
		if m != 0 && m != 1 {
			return nil, fmt.Errorf("%w: mask cell %d is %v, want 0 or 1", ErrBadInput, i, m)
		}
	}
	if req.Jumps < 1 || req.Jumps > 10 {
		return nil, fmt.Errorf("%w: repaint jumps %d out of 1..10", ErrBadInput, req.Jumps)
	}
	k := req.Candidates
	if k < 1 || k > 64 {
		return nil, fmt.Errorf("%w: candidates %d out of 1..64", ErrBadInput, k)
	}
	if req.Percentile < 0 || req.Percentile > 1 || math.IsNaN(req.Percentile) {
		return nil, fmt.Errorf("%w: percentile %v out of 0..1", ErrBadInput, req.Percentile)
	}
	if len(req.Sigmas) < 2 || req.Sampler == nil {
		return nil, fmt.Errorf("%w: need a sampler and a schedule of at least 2 sigmas", ErrBadInput)
	}
	known := make([]float32, len(x0)) // x0 with masked cells zeroed
	for ch := 0; ch < c; ch++ {
		for i := 0; i < hw; i++ {
			known[ch*hw+i] = x0[ch*hw+i] * (1 - mask[i])
		}
	}
	return &prepared{c: c, k: k, sigmas: RePaint(req.Sigmas, req.Jumps), known: known}, nil
}

// finish clips the generated cells to [-1, 1], copies x0 everywhere else, counts the notes in
// the mask and ranks the candidates.
func (p *prepared) finish(x0, mask, x []float32, req Inpainting) *Result {
	c, k, n := p.c, p.k, len(x0)
	hw := len(mask)
	res := &Result{Candidates: make([][]float32, k), Notes: make([]int, k), Seeds: make([]int, k)}
	// the masked cells as runs of one mask row, so a candidate is a copy of x0 and a clipped
	// copy of x over each run (masks are mostly a few boxes)
	type run struct{ from, to int }
	var runs []run
	for i := 0; i < hw; {
		if mask[i] == 0 {
			i++
			continue
		}
		j := i
		for j < hw && mask[j] != 0 {
			j++
		}
		runs = append(runs, run{i, j})
		i = j
	}
	one := func(b int) {
		out := make([]float32, n)
		copy(out, x0)
		notes := 0
		for ch := 0; ch < c; ch++ {
			src, dst := x[b*n+ch*hw:b*n+(ch+1)*hw], out[ch*hw:(ch+1)*hw]
			for _, r := range runs {
				for i := r.from; i < r.to; i++ {
					v := min(max(src[i], -1), 1)
					dst[i] = v
					if ch == 0 && v > req.NoteThreshold {
						notes++
					}
				}
			}
		}
		res.Candidates[b], res.Notes[b], res.Seeds[b] = out, notes, b
	}
	var wg sync.WaitGroup // candidates are independent: one goroutine each
	for b := 0; b < k; b++ {
		wg.Go(func() { one(b) })
	}
	wg.Wait()
	idx := make([]int, k)
	for i := range idx {
		idx[i] = i
	}
	sort.SliceStable(idx, func(a, b int) bool { return res.Notes[idx[a]] < res.Notes[idx[b]] })
	sorted := &Result{}
	for _, i := range idx {
		sorted.Candidates = append(sorted.Candidates, res.Candidates[i])
		sorted.Notes = append(sorted.Notes, res.Notes[i])
		sorted.Seeds = append(sorted.Seeds, res.Seeds[i])
	}
	sorted.Pick = int(math.Round(req.Percentile * float64(k-1)))
	return sorted
}
