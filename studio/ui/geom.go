package ui

import "math"

// Rect is an axis-aligned rectangle in logical pixels (device pixels divided
// by the scale factor), so that layout code never thinks about HiDPI.
type Rect struct{ X, Y, W, H float64 }

// R is a short constructor for layout code.
func R(x, y, w, h float64) Rect { return Rect{x, y, w, h} }

// Corners is the rectangle spanned by two points in any order (a rubber band).
func Corners(x0, y0, x1, y1 float64) Rect {
	return Rect{math.Min(x0, x1), math.Min(y0, y1), math.Abs(x1 - x0), math.Abs(y1 - y0)}
}

// Right is the x just past the rectangle.
func (r Rect) Right() float64 { return r.X + r.W }

// Bottom is the y just past the rectangle.
func (r Rect) Bottom() float64 { return r.Y + r.H }

// Contains reports whether the point lies inside (right and bottom edges excluded).
func (r Rect) Contains(x, y float64) bool {
	return x >= r.X && y >= r.Y && x < r.X+r.W && y < r.Y+r.H
}

// Empty reports whether the rectangle has no area.
func (r Rect) Empty() bool { return r.W <= 0 || r.H <= 0 }

// Inset shrinks the rectangle by d on every side (grows it when d < 0).
func (r Rect) Inset(d float64) Rect {
	r = Rect{r.X + d, r.Y + d, r.W - 2*d, r.H - 2*d}
	r.W, r.H = math.Max(r.W, 0), math.Max(r.H, 0)
	return r
}

// Intersect is the common part of two rectangles (empty when they do not meet).
func (r Rect) Intersect(o Rect) Rect {
	x0, y0 := math.Max(r.X, o.X), math.Max(r.Y, o.Y)
	x1, y1 := math.Min(r.Right(), o.Right()), math.Min(r.Bottom(), o.Bottom())
	if x1 <= x0 || y1 <= y0 {
		return Rect{}
	}
	return Rect{x0, y0, x1 - x0, y1 - y0}
}

// Overlaps reports whether the rectangles share any area.
func (r Rect) Overlaps(o Rect) bool { return !r.Intersect(o).Empty() }

// CutLeft splits off a column of width w on the left; it returns the column
// and the rest. Layout is a sequence of cuts, as in a room plan.
func (r Rect) CutLeft(w float64) (Rect, Rect) {
	w = clamp(w, 0, r.W)
	return Rect{r.X, r.Y, w, r.H}, Rect{r.X + w, r.Y, r.W - w, r.H}
}

// CutRight splits off a column of width w on the right.
func (r Rect) CutRight(w float64) (Rect, Rect) {
	w = clamp(w, 0, r.W)
	return Rect{r.Right() - w, r.Y, w, r.H}, Rect{r.X, r.Y, r.W - w, r.H}
}

// CutTop splits off a row of height h at the top.
func (r Rect) CutTop(h float64) (Rect, Rect) {
	h = clamp(h, 0, r.H)
	return Rect{r.X, r.Y, r.W, h}, Rect{r.X, r.Y + h, r.W, r.H - h}
}

// CutBottom splits off a row of height h at the bottom.
func (r Rect) CutBottom(h float64) (Rect, Rect) {
	h = clamp(h, 0, r.H)
	return Rect{r.X, r.Bottom() - h, r.W, h}, Rect{r.X, r.Y, r.W, r.H - h}
}

// Row lays out widgets left to right: each call to Next takes w pixels and a gap.
type Row struct {
	Rect Rect
	Gap  float64
	x    float64
}

// NewRow starts a row inside r.
func NewRow(r Rect, gap float64) *Row { return &Row{Rect: r, Gap: gap, x: r.X} }

// Next takes the next w pixels of the row.
func (l *Row) Next(w float64) Rect {
	r := Rect{l.x, l.Rect.Y, w, l.Rect.H}
	l.x += w + l.Gap
	return r
}

// Left is what remains of the row.
func (l *Row) Left() Rect { return Rect{l.x, l.Rect.Y, math.Max(0, l.Rect.Right()-l.x), l.Rect.H} }

func clamp(v, lo, hi float64) float64 {
	if v < lo {
		return lo
	}
	if v > hi {
		return hi
	}
	return v
}
