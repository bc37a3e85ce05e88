package ui

import (
	"encoding/binary"
	"hash/maphash"
	"image/color"
	"math"
	"slices"
	"unsafe"
)

// Painter is a display list: surfaces append rectangles, lines and text in
// logical pixels; the screen package submits it to Ebiten in as few
// DrawTriangles calls as the 16-bit index limit allows. Building the list is
// plain Go, so it is tested and measured without a window.
type Painter struct {
	Scale float64 // device pixels per logical pixel
	// Measure returns the width of s at a logical font size (negative: medium
	// weight); the screen package sets it from the real fonts.
	Measure func(s string, size float64) float64

	verts []Vertex
	idx   []uint16
	ops   []paintOp
	base  int // first vertex of the open triangle batch
	clip  Rect
	clips bool
}

// Vertex has the memory layout of ebiten.Vertex (the screen package checks
// this at compile time), so a batch is handed to DrawTriangles without a copy.
type Vertex struct {
	DstX, DstY, SrcX, SrcY             float32
	ColorR, ColorG, ColorB, ColorA     float32
	Custom0, Custom1, Custom2, Custom3 float32
}

// Op is one entry of the display list: a triangle batch or a text run.
type Op struct {
	Verts   []Vertex
	Indices []uint16 // relative to Verts
	Text    string
	X, Y    float64 // text anchor, device pixels
	Size    float64 // device pixels; negative: medium weight
	Color   color.RGBA
	Align   Align
}

type paintOp struct {
	// A triangle batch: vertices [v0, v1) and indices [i0, i1), indices
	// relative to v0. Or a text run when text != "".
	v0, v1, i0, i1 int
	text           string
	x, y, size     float64
	col            color.RGBA
	align          Align
}

// Align places text relative to its anchor point.
type Align uint8

const (
	AlignLeft Align = iota
	AlignCenter
	AlignRight
)

// maxBatchVerts keeps indices within uint16.
const maxBatchVerts = 1 << 16

// NewPainter returns an empty display list at scale 1.
func NewPainter() *Painter { return &Painter{Scale: 1} }

// Ops returns the display list in drawing order, in device pixels. The slices
// alias the painter's memory until the next Reset.
func (p *Painter) Ops(yield func(Op) bool) {
	for i := range p.ops {
		o := &p.ops[i]
		var op Op
		if o.text != "" {
			s := p.Scale
			op = Op{Text: o.text, X: o.x * s, Y: o.y * s, Size: o.size * s, Color: o.col, Align: o.align}
		} else {
			if o.i1 == o.i0 {
				continue
			}
			op = Op{Verts: p.verts[o.v0:o.v1], Indices: p.idx[o.i0:o.i1]}
		}
		if !yield(op) {
			return
		}
	}
}

// Reset empties the list, keeping its memory.
func (p *Painter) Reset() {
	p.verts, p.idx, p.ops = p.verts[:0], p.idx[:0], p.ops[:0]
	p.base = 0
	p.clips = false
}

// Rects is the number of quads in the list (for tests and benchmarks).
func (p *Painter) Rects() int { return len(p.idx) / 6 }

// Vertices is the number of vertices in the list.
func (p *Painter) Vertices() int { return len(p.verts) }

// Clip restricts following rectangles to r (rects are cut, text is dropped
// when its anchor is outside); NoClip lifts it.
func (p *Painter) Clip(r Rect) { p.clip, p.clips = r, true }

// NoClip lifts the clip rectangle.
func (p *Painter) NoClip() { p.clips = false }

func (p *Painter) openBatch(nv int) {
	n := len(p.ops)
	if n == 0 || p.ops[n-1].text != "" || len(p.verts)+nv-p.base > maxBatchVerts {
		p.base = len(p.verts)
		p.ops = append(p.ops, paintOp{v0: p.base, v1: p.base, i0: len(p.idx), i1: len(p.idx)})
	}
}

// Rect fills r with c.
func (p *Painter) Rect(r Rect, c color.RGBA) { p.FillRect(r.X, r.Y, r.W, r.H, c) }

// FillRect fills an axis-aligned rectangle: the hot path of every surface.
func (p *Painter) FillRect(x, y, w, h float64, c color.RGBA) {
	x1, y1 := x+w, y+h
	if p.clips {
		x, y = max(x, p.clip.X), max(y, p.clip.Y)
		x1, y1 = min(x1, p.clip.X+p.clip.W), min(y1, p.clip.Y+p.clip.H)
	}
	if x1 <= x || y1 <= y {
		return
	}
	s := p.Scale
	// Snap to device pixels so that thin grid lines stay crisp; a rectangle
	// never vanishes below one pixel.
	ax, ay := snap(x*s), snap(y*s)
	bx, by := snap(x1*s), snap(y1*s)
	if bx == ax {
		bx = ax + 1
	}
	if by == ay {
		by = ay + 1
	}
	p.quad(ax, ay, bx, ay, bx, by, ax, by, c)
}

// snap rounds to the nearest integer (half away from zero), cheaper than
// math.Round on this path.
func snap(v float64) float32 {
	if v < 0 {
		return float32(-int64(-v + 0.5))
	}
	return float32(int64(v + 0.5))
}

func (p *Painter) quad(ax, ay, bx, by, cx, cy, dx, dy float32, c color.RGBA) {
	p.openBatch(4)
	r, g, b, a := float32(c.R)*(1.0/255), float32(c.G)*(1.0/255), float32(c.B)*(1.0/255), float32(c.A)*(1.0/255)
	n := len(p.verts)
	i := uint16(n - p.base)
	p.verts = slices.Grow(p.verts, 4)[:n+4]
	v := p.verts[n : n+4 : n+4]
	v[0] = Vertex{DstX: ax, DstY: ay, SrcX: 1.5, SrcY: 1.5, ColorR: r, ColorG: g, ColorB: b, ColorA: a}
	v[1] = Vertex{DstX: bx, DstY: by, SrcX: 1.5, SrcY: 1.5, ColorR: r, ColorG: g, ColorB: b, ColorA: a}
	v[2] = Vertex{DstX: cx, DstY: cy, SrcX: 1.5, SrcY: 1.5, ColorR: r, ColorG: g, ColorB: b, ColorA: a}
	v[3] = Vertex{DstX: dx, DstY: dy, SrcX: 1.5, SrcY: 1.5, ColorR: r, ColorG: g, ColorB: b, ColorA: a}
	p.idx = append(p.idx, i, i+1, i+2, i, i+2, i+3)
	o := &p.ops[len(p.ops)-1]
	o.v1, o.i1 = len(p.verts), len(p.idx)
}

// Stroke draws the outline of r, w pixels wide, inside r.
func (p *Painter) Stroke(r Rect, w float64, c color.RGBA) {
	p.FillRect(r.X, r.Y, r.W, w, c)
	p.FillRect(r.X, r.Bottom()-w, r.W, w, c)
	p.FillRect(r.X, r.Y+w, w, r.H-2*w, c)
	p.FillRect(r.Right()-w, r.Y+w, w, r.H-2*w, c)
}

// Line draws a segment of width w (any angle; not clipped).
func (p *Painter) Line(x0, y0, x1, y1, w float64, c color.RGBA) {
	dx, dy := x1-x0, y1-y0
	l := math.Hypot(dx, dy)
	if l == 0 {
		return
	}
	nx, ny := -dy/l*w/2, dx/l*w/2
	s := p.Scale
	f := func(v float64) float32 { return float32(v * s) }
	p.quad(f(x0+nx), f(y0+ny), f(x1+nx), f(y1+ny), f(x1-nx), f(y1-ny), f(x0-nx), f(y0-ny), c)
}

// Hash writes the display list into h, so a shell can tell whether a frame
// would draw exactly what the screen already shows (and skip it).
func (p *Painter) Hash(h *maphash.Hash) {
	var b [8]byte
	num := func(v float64) {
		binary.LittleEndian.PutUint64(b[:], math.Float64bits(v))
		h.Write(b[:])
	}
	num(p.Scale)
	for i := range p.ops {
		o := &p.ops[i]
		if o.text != "" {
			h.WriteString(o.text)
			num(o.x)
			num(o.y)
			num(o.size)
			h.Write([]byte{o.col.R, o.col.G, o.col.B, o.col.A, byte(o.align)})
			continue
		}
		vs := p.verts[o.v0:o.v1]
		if len(vs) > 0 {
			h.Write(unsafe.Slice((*byte)(unsafe.Pointer(&vs[0])), len(vs)*int(unsafe.Sizeof(vs[0]))))
		}
		is := p.idx[o.i0:o.i1]
		if len(is) > 0 {
			h.Write(unsafe.Slice((*byte)(unsafe.Pointer(&is[0])), len(is)*2))
		}
	}
}

// Triangle fills a triangle.
func (p *Painter) Triangle(x0, y0, x1, y1, x2, y2 float64, c color.RGBA) {
	s := p.Scale
	f := func(v float64) float32 { return float32(v * s) }
	p.quad(f(x0), f(y0), f(x1), f(y1), f(x2), f(y2), f(x2), f(y2), c)
}

// Icon draws a small symbol centred in r (the UI font has no such glyphs).
func (p *Painter) Icon(r Rect, icon Icon, c color.RGBA) {
	cx, cy := r.X+r.W/2, r.Y+r.H/2
	switch icon {
	case IconPlay:
		p.Triangle(cx-4, cy-6, cx+6, cy, cx-4, cy+6, c)
	case IconStop:
		p.FillRect(cx-5, cy-5, 10, 10, c)
	case IconDown:
		p.Triangle(cx-4, cy-2, cx+4, cy-2, cx, cy+3, c)
	}
}

// Icon names a symbol Painter.Icon draws.
type Icon uint8

const (
	IconPlay Icon = iota + 1
	IconStop
	IconDown
)

// Circle draws a ring (w > 0) or a disc (w == 0) of radius rad.
func (p *Painter) Circle(cx, cy, rad, w float64, c color.RGBA) { p.Ellipse(cx, cy, rad, rad, w, c) }

// Ellipse draws an axis-aligned ring (w > 0) or disc (w == 0).
func (p *Painter) Ellipse(cx, cy, rx, ry, w float64, c color.RGBA) {
	const n = 32
	for i := 0; i < n; i++ {
		a0, a1 := 2*math.Pi*float64(i)/n, 2*math.Pi*float64(i+1)/n
		x0, y0 := cx+rx*math.Cos(a0), cy+ry*math.Sin(a0)
		x1, y1 := cx+rx*math.Cos(a1), cy+ry*math.Sin(a1)
		if w > 0 {
			p.Line(x0, y0, x1, y1, w, c)
			continue
		}
		s := float32(p.Scale)
		p.quad(float32(cx)*s, float32(cy)*s, float32(x0)*s, float32(y0)*s, float32(x1)*s, float32(y1)*s, float32(cx)*s, float32(cy)*s, c)
	}
}

// Text draws s with its baseline-independent top at y (the line box's top),
// anchored at x by align. size is in logical pixels (0: the theme's size).
func (p *Painter) Text(x, y float64, s string, size float64, c color.RGBA, align Align) {
	if size == 0 {
		size = 13
	}
	if s == "" || (p.clips && !p.clip.Contains(x, y)) {
		return
	}
	p.ops = append(p.ops, paintOp{text: s, x: x, y: y, size: size, col: c, align: align})
}

// TextWidth measures s in logical pixels.
func (p *Painter) TextWidth(s string, size float64) float64 {
	if p.Measure == nil {
		// Close to the Go font's average advance; used only without fonts (tests).
		return float64(len([]rune(s))) * math.Abs(size) * 0.55
	}
	return p.Measure(s, size)
}
