package rolldoc

import (
	"fmt"
	"strings"
	"testing"

	"latentstudio/studio/protocol"
)

// picture draws steps [0, w) × pitches [p0, p0+h) of the mask, top row = highest pitch.
func picture(d *Doc, w, p0, h int) string {
	var b strings.Builder
	for p := p0 + h - 1; p >= p0; p-- {
		for s := range w {
			if d.Masked(s, p) {
				b.WriteByte('#')
			} else {
				b.WriteByte('.')
			}
		}
		b.WriteByte('\n')
	}
	return b.String()
}

func TestBrushIsARoundStrokeAndOneStep(t *testing.T) {
	d := New()
	d.MaskBrush(Point{5.5, 5.5}, Point{5.5, 5.5}, 2, false) // a dot of radius 2 around cell (5, 5)
	got := picture(d, 11, 0, 11)
	// cells whose centre is within 2.5 of (5.5, 5.5): |dx|,|dy| ≤ 2 except the far corners
	for s := range 11 {
		for p := range 11 {
			dx, dy := float64(s-5), float64(p-5)
			in := dx*dx+dy*dy <= 2.5*2.5
			if d.Masked(s, p) != in {
				t.Fatalf("cell (%d,%d) masked %v, want %v:\n%s", s, p, d.Masked(s, p), in, got)
			}
		}
	}
	d.EndGesture()
	// a drag: two segments, one undo step; the eraser then cuts through it
	d.MaskBrush(Point{10.5, 20.5}, Point{30.5, 20.5}, 0, false)
	d.MaskBrush(Point{30.5, 20.5}, Point{30.5, 30.5}, 0, false)
	d.EndGesture()
	if d.MaskCount() != 21+21+10 || len(d.History()) != 2 {
		t.Fatalf("stroke: %d cells, history %v", d.MaskCount(), d.History())
	}
	d.MaskBrush(Point{20.5, 10.5}, Point{20.5, 40.5}, 0, true)
	if d.Masked(20, 20) || !d.Masked(19, 20) || d.UndoLabel() != "Mask eraser" {
		t.Fatal("eraser")
	}
	d.Undo()
	d.Undo()
	if d.MaskCount() != 21 {
		t.Fatalf("undo stroke: %d", d.MaskCount())
	}
	// out of the roll and nonsense coordinates are harmless
	d.MaskBrush(Point{-50, -50}, Point{-40, 300}, 3, false)
	d.MaskBrush(Point{0, 0}, Point{1e300, 0}, 1e9, false)
}

func TestBoxLassoBarsPitchRanges(t *testing.T) {
	d := New()
	before := snapshot(d)
	d.MaskBox(10, 70, 2, 60, false) // corners in any order, inclusive
	if d.MaskCount() != 9*11 || !d.Masked(2, 60) || !d.Masked(10, 70) || d.Masked(11, 70) {
		t.Fatalf("box: %d", d.MaskCount())
	}
	roundTrip(t, d, before)
	d.MaskBox(4, 62, 5, 63, true)
	if d.MaskCount() != 9*11-4 {
		t.Fatalf("unmask box: %d", d.MaskCount())
	}
	d.ClearMask()
	if d.MaskCount() != 0 {
		t.Fatal("clear")
	}

	// an L-shaped (concave) lasso
	d.MaskLasso([]Point{{0, 0}, {6, 0}, {6, 2}, {2, 2}, {2, 6}, {0, 6}}, false)
	want := "" +
		"........\n" +
		"##......\n" +
		"##......\n" +
		"##......\n" +
		"##......\n" +
		"######..\n" +
		"######..\n"
	if got := picture(d, 8, 0, 7); got != want {
		t.Fatalf("lasso:\n%s", got)
	}
	d.ClearMask()

	d.SetTimeSignature(3, 4)
	d.MaskBars(1, 2) // bars 2 and 3 of 3/4: steps 12..35, every pitch
	if d.MaskCount() != 24*128 || !d.Masked(12, 0) || !d.Masked(35, 127) || d.Masked(11, 5) || d.Masked(36, 5) {
		t.Fatalf("bars: %d", d.MaskCount())
	}
	if d.UndoLabel() != "Mask bars 2–3" {
		t.Fatal(d.UndoLabel())
	}
	d.ClearMask()
	d.MaskAbove(100, 0, 4)
	d.MaskBelow(20, 0, 4)
	if d.MaskCount() != 4*28+4*21 || !d.Masked(0, 100) || d.Masked(0, 99) || !d.Masked(3, 20) || d.Masked(3, 21) {
		t.Fatalf("above/below: %d", d.MaskCount())
	}
}

func TestInvertAndGrowth(t *testing.T) {
	d := New()
	d.MaskBox(0, 0, 15, 127, false)
	d.InvertMask()
	if d.Masked(0, 0) || !d.Masked(16, 0) || d.MaskCount() != (512-16)*128 {
		t.Fatalf("invert: %d", d.MaskCount())
	}
	d.Undo()
	// painting past the end grows the song (ask the model to continue it)
	d.MaskBox(600, 60, 603, 64, false)
	if d.Length() != 608 {
		t.Fatalf("length %d", d.Length())
	}
	from, to, ok := d.MaskBounds()
	if !ok || from != 0 || to != 604 {
		t.Fatalf("bounds %d %d", from, to)
	}
}

func TestMaskWindowIsTheProtocolLayout(t *testing.T) {
	d := New()
	d.MaskBox(40, 3, 41, 3, false)
	d.MaskBox(47, 127, 47, 127, false)
	cells := d.MaskWindow(40, 8)
	back, err := protocol.DecodeMask(protocol.EncodeMask(cells), 8)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for i, c := range back {
		if c {
			got = append(got, fmt.Sprintf("p%d s%d", i/8, i%8))
		}
	}
	if strings.Join(got, ",") != "p3 s0,p3 s1,p127 s7" {
		t.Fatalf("window cells %v", got)
	}
}

func BenchmarkBrushStroke(b *testing.B) {
	d := New()
	for i := range b.N {
		x := float64(i % 4000)
		d.MaskBrush(Point{x, 60}, Point{x + 3, 64}, 4, i%2 == 0)
	}
}

func TestEditorStateRoundTrip(t *testing.T) {
	d := New()
	d.MaskBrush(Point{3, 70}, Point{40, 20}, 3, false)
	d.MaskBox(100, 0, 101, 127, false)
	d.SetLoop(16, 48)
	e := d.EditorState()
	if len(e.Mask) != 16*102 {
		t.Fatalf("%d bytes", len(e.Mask))
	}
	other := New()
	if err := other.RestoreEditorState(e); err != nil {
		t.Fatal(err)
	}
	if other.CanUndo() || other.Loop() != d.Loop() || other.MaskCount() != d.MaskCount() {
		t.Fatal("restore")
	}
	for s := range 110 {
		for p := range 128 {
			if other.Masked(s, p) != d.Masked(s, p) {
				t.Fatalf("cell %d %d", s, p)
			}
		}
	}
	if err := other.RestoreEditorState(EditorState{Mask: make([]byte, 15)}); err == nil {
		t.Fatal("a torn mask was accepted")
	}
	if err := other.RestoreEditorState(EditorState{Loop: Loop{10, 5}}); err == nil {
		t.Fatal("a backwards loop was accepted")
	}
}

func TestEditorStateOnlyIntoAFreshDocument(t *testing.T) {
	d := New()
	d.MaskBox(0, 0, 1, 1, false)
	if err := d.RestoreEditorState(EditorState{}); err == nil {
		t.Fatal("restored under undo history")
	}
}
