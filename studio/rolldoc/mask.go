package rolldoc

import (
	"fmt"
	"math"
	"slices"

	"latentstudio/studio/undo"
)

// mask is 128 cells per step, true = the model may regenerate the cell. Two words per step
// (column-major), so growing the song appends words and no cell ever moves: an undo step can
// name the words it changed.
type mask struct {
	words []uint64
}

func (m *mask) get(step, pitch int) bool {
	i := step*2 + pitch/64
	return i >= 0 && i < len(m.words) && m.words[i]&(1<<(pitch%64)) != 0
}

func (m *mask) steps() int { return len(m.words) / 2 }

// end is the first step after the last masked cell.
func (m *mask) end() int {
	for i := len(m.words) - 1; i >= 0; i-- {
		if m.words[i] != 0 {
			return i/2 + 1
		}
	}
	return 0
}

func (m *mask) xor(ws []wordXor) {
	for _, w := range ws {
		for int(w.i) >= len(m.words) {
			m.words = append(m.words, 0, 0)
		}
		m.words[w.i] ^= w.x
	}
}

type wordXor struct {
	i int32
	x uint64
}

// maskEdit flips bits; flipping them again undoes it.
type maskEdit struct {
	d     *Doc
	label string
	merge string
	flips []wordXor
}

func (e *maskEdit) Do()           { e.d.mask.xor(e.flips); e.d.changed(false) }
func (e *maskEdit) Undo()         { e.d.mask.xor(e.flips); e.d.changed(false) }
func (e *maskEdit) Label() string { return e.label }

// Cost is about the bytes the step holds.
func (e *maskEdit) Cost() int { return 16 * len(e.flips) }

// Merge makes one brush stroke one step.
func (e *maskEdit) Merge(next undo.Command) bool {
	n, ok := next.(*maskEdit)
	if !ok || e.merge == "" || n.merge != e.merge {
		return false
	}
	acc := map[int32]uint64{}
	for _, w := range e.flips {
		acc[w.i] ^= w.x
	}
	for _, w := range n.flips {
		acc[w.i] ^= w.x
	}
	e.flips = flipList(acc)
	return true
}

func flipList(acc map[int32]uint64) []wordXor {
	out := make([]wordXor, 0, len(acc))
	for i, x := range acc {
		if x != 0 {
			out = append(out, wordXor{i, x})
		}
	}
	slices.SortFunc(out, func(a, b wordXor) int { return int(a.i - b.i) })
	return out
}

// painter collects the words a mask tool changes before they become one command.
type painter struct {
	m     *mask
	value bool
	acc   map[int32]uint64 // word -> bits to flip
}

func (d *Doc) painter(erase bool) *painter {
	return &painter{m: &d.mask, value: !erase, acc: map[int32]uint64{}}
}

// span paints pitches lo..hi of one step (clipped to the roll).
func (p *painter) span(step, lo, hi int) {
	lo, hi = max(lo, 0), min(hi, 127)
	if step < 0 || step >= MaxSteps || lo > hi {
		return
	}
	for w := lo / 64; w <= hi/64; w++ {
		a, b := max(lo, w*64)-w*64, min(hi, w*64+63)-w*64
		bits := (^uint64(0) >> (63 - (b - a))) << a
		i := int32(step*2 + w)
		cur := uint64(0)
		if int(i) < len(p.m.words) {
			cur = p.m.words[i]
		}
		cur ^= p.acc[i] // what earlier spans of this tool already made of it
		var want uint64
		if p.value {
			want = cur | bits
		} else {
			want = cur &^ bits
		}
		p.acc[i] ^= cur ^ want
	}
}

// commit records the painted cells as one step (nothing when nothing changed).
func (d *Doc) commit(p *painter, label, merge string) {
	flips := flipList(p.acc)
	if len(flips) == 0 {
		return
	}
	d.do(&maskEdit{d: d, label: label, merge: merge, flips: flips})
}

// Masked reports whether the cell (step, pitch) is masked.
func (d *Doc) Masked(step, pitch int) bool {
	d.lock()
	defer d.unlock()
	return d.mask.get(step, pitch)
}

// MaskCount is the number of masked cells.
func (d *Doc) MaskCount() int {
	d.lock()
	defer d.unlock()
	n := 0
	for _, w := range d.mask.words {
		for ; w != 0; w &= w - 1 {
			n++
		}
	}
	return n
}

// MaskBounds is the smallest step range [from, to) holding every masked cell.
func (d *Doc) MaskBounds() (from, to int, ok bool) {
	d.lock()
	defer d.unlock()
	return d.maskBounds()
}

func (d *Doc) maskBounds() (from, to int, ok bool) {
	to = d.mask.end()
	if to == 0 {
		return 0, 0, false
	}
	for i, w := range d.mask.words {
		if w != 0 {
			return i / 2, to, true
		}
	}
	return 0, 0, false
}

// MaskWindow returns the mask of steps [from, from+steps) in the protocol's layout: 128×steps
// cells, row = pitch, column = step - from.
func (d *Doc) MaskWindow(from, steps int) []bool {
	d.lock()
	defer d.unlock()
	return d.maskWindow(from, steps)
}

func (d *Doc) maskWindow(from, steps int) []bool {
	cells := make([]bool, 128*max(steps, 0))
	for c := 0; c < steps; c++ {
		s := from + c
		if s < 0 || s >= d.mask.steps() {
			continue
		}
		for _, w := range [2]int{0, 1} {
			bits := d.mask.words[s*2+w]
			for ; bits != 0; bits &= bits - 1 {
				p := w*64 + trailingZeros(bits)
				cells[p*steps+c] = true
			}
		}
	}
	return cells
}

func trailingZeros(x uint64) int {
	n := 0
	for x&1 == 0 {
		x >>= 1
		n++
	}
	return n
}

// Point is a position on the roll in cells: X in steps, Y in pitches, fractional (the pointer
// between cell edges). Cell (s, p) spans [s, s+1) × [p, p+1); its centre is (s+.5, p+.5).
type Point struct{ X, Y float64 }

// MaskBrush paints (or, with erase, clears) a round brush of radius r cells dragged from a to
// b: every cell whose centre lies within r+½ of the segment. Strokes of one drag are one undo
// step until EndGesture.
func (d *Doc) MaskBrush(a, b Point, r float64, erase bool) {
	if !finite(a.X, a.Y, b.X, b.Y, r) || r < 0 || r > 256 {
		return
	}
	d.lock()
	defer d.unlock()
	p := d.painter(erase)
	R := r + 0.5
	x0 := int(math.Floor(min(a.X, b.X) - R))
	x1 := int(math.Ceil(max(a.X, b.X) + R))
	y0 := int(math.Floor(min(a.Y, b.Y) - R))
	y1 := int(math.Ceil(max(a.Y, b.Y) + R))
	x0, x1 = max(x0, 0), min(x1, MaxSteps-1)
	y0, y1 = max(y0, 0), min(y1, 127)
	for x := x0; x <= x1; x++ {
		lo, hi := -1, -2
		for y := y0; y <= y1; y++ {
			if segDist(Point{float64(x) + .5, float64(y) + .5}, a, b) <= R {
				if lo < 0 {
					lo = y
				}
				hi = y
			}
		}
		if lo >= 0 {
			p.span(x, lo, hi) // a capsule meets a column in one run of cells
		}
	}
	label, merge := "Mask brush", "brush"
	if erase {
		label, merge = "Mask eraser", "erase"
	}
	d.commit(p, label, merge)
}

func finite(xs ...float64) bool {
	for _, x := range xs {
		if math.IsNaN(x) || math.IsInf(x, 0) {
			return false
		}
	}
	return true
}

// segDist is the distance from q to the segment ab.
func segDist(q, a, b Point) float64 {
	dx, dy := b.X-a.X, b.Y-a.Y
	t := 0.0
	if l := dx*dx + dy*dy; l > 0 {
		t = max(0, min(1, ((q.X-a.X)*dx+(q.Y-a.Y)*dy)/l))
	}
	return math.Hypot(q.X-(a.X+t*dx), q.Y-(a.Y+t*dy))
}

// MaskBox masks (or clears) the cells of steps s0..s1 and pitches p0..p1, inclusive.
func (d *Doc) MaskBox(s0, p0, s1, p1 int, erase bool) {
	d.lock()
	defer d.unlock()
	if s0 > s1 {
		s0, s1 = s1, s0
	}
	if p0 > p1 {
		p0, p1 = p1, p0
	}
	p := d.painter(erase)
	for s := max(s0, 0); s <= min(s1, MaxSteps-1); s++ {
		p.span(s, p0, p1)
	}
	d.commit(p, boxLabel(erase), "")
}

func boxLabel(erase bool) string {
	if erase {
		return "Unmask box"
	}
	return "Mask box"
}

// MaskLasso masks (or clears) the cells whose centres lie inside a polygon of any shape
// (even-odd rule; the polygon closes itself).
func (d *Doc) MaskLasso(poly []Point, erase bool) {
	if len(poly) < 3 {
		return
	}
	for _, q := range poly {
		if !finite(q.X, q.Y) {
			return
		}
	}
	d.lock()
	defer d.unlock()
	minX, maxX := poly[0].X, poly[0].X
	for _, q := range poly {
		minX, maxX = min(minX, q.X), max(maxX, q.X)
	}
	p := d.painter(erase)
	var ys []float64
	for x := max(int(math.Floor(minX)), 0); x <= min(int(math.Ceil(maxX)), MaxSteps-1); x++ {
		cx := float64(x) + .5
		ys = ys[:0]
		for i := range poly {
			a, b := poly[i], poly[(i+1)%len(poly)]
			if (a.X <= cx) != (b.X <= cx) { // the edge crosses this column's centre line
				ys = append(ys, a.Y+(cx-a.X)*(b.Y-a.Y)/(b.X-a.X))
			}
		}
		slices.Sort(ys)
		for i := 0; i+1 < len(ys); i += 2 {
			// cells whose centre y+.5 lies in [ys[i], ys[i+1])
			lo := int(math.Ceil(ys[i] - .5))
			hi := int(math.Ceil(ys[i+1]-.5)) - 1
			if lo <= hi && hi >= 0 && lo <= 127 {
				p.span(x, lo, hi)
			}
		}
	}
	label := "Mask lasso"
	if erase {
		label = "Unmask lasso"
	}
	d.commit(p, label, "")
}

// MaskBars masks every pitch of bars first..last (0-based, inclusive, through the time
// signatures).
func (d *Doc) MaskBars(first, last int) error {
	if first > last {
		first, last = last, first
	}
	if first < 0 {
		return fmt.Errorf("%w: bar %d", ErrBadValue, first)
	}
	d.lock()
	defer d.unlock()
	from, to := d.barStart(first), min(d.barStart(last+1), MaxSteps)
	p := d.painter(false)
	for s := from; s < to; s++ {
		p.span(s, 0, 127)
	}
	if first == last {
		d.commit(p, fmt.Sprintf("Mask bar %d", first+1), "")
	} else {
		d.commit(p, fmt.Sprintf("Mask bars %d–%d", first+1, last+1), "")
	}
	return nil
}

// MaskAbove masks the pitches from pitch up (pitch included) over steps [from, to): "let the
// model write a melody over my chords".
func (d *Doc) MaskAbove(pitch, from, to int) { d.maskPitches(pitch, 127, from, to, "Mask above") }

// MaskBelow masks the pitches from pitch down (pitch included) over steps [from, to): "write
// a bass line under my melody".
func (d *Doc) MaskBelow(pitch, from, to int) { d.maskPitches(0, pitch, from, to, "Mask below") }

func (d *Doc) maskPitches(lo, hi, from, to int, label string) {
	d.lock()
	defer d.unlock()
	p := d.painter(false)
	for s := max(from, 0); s < min(to, MaxSteps); s++ {
		p.span(s, lo, hi)
	}
	d.commit(p, label, "")
}

// ClearMask unmasks every cell.
func (d *Doc) ClearMask() {
	d.lock()
	defer d.unlock()
	acc := map[int32]uint64{}
	for i, w := range d.mask.words {
		if w != 0 {
			acc[int32(i)] = w
		}
	}
	d.commit(&painter{acc: acc}, "Clear mask", "")
}

// InvertMask flips every cell of the song (steps [0, Length)).
func (d *Doc) InvertMask() {
	d.lock()
	defer d.unlock()
	n := d.lengthLocked()
	acc := map[int32]uint64{}
	for i := int32(0); i < int32(2*n); i++ {
		acc[i] = ^uint64(0)
	}
	d.commit(&painter{acc: acc}, "Invert mask", "")
}
