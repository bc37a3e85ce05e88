package rollview

import (
	"math/rand/v2"
	"runtime"
	"testing"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/rolldoc"
	"latentstudio/studio/ui"
)

// tenThousand returns a document with 10,000 notes over 1024 steps and
// pitches 36..99, with 8 bars masked, and a view that shows all of it.
func tenThousand(b *testing.B) (*View, ui.Rect) {
	r := rand.New(rand.NewPCG(1, 2))
	d := rolldoc.New()
	var ns []pianoroll.Note
	seen := map[[2]int]bool{}
	for len(ns) < 10000 {
		n := pianoroll.Note{Start: r.IntN(1020), Dur: 1 + r.IntN(4), Pitch: uint8(36 + r.IntN(64)), Vel: uint8(30 + r.IntN(97))}
		// One note per (start, pitch): AddNotes would cut overlapping notes short, not drop them.
		if k := [2]int{n.Start, int(n.Pitch)}; !seen[k] {
			seen[k] = true
			ns = append(ns, n)
		}
	}
	if _, err := d.AddNotes(ns); err != nil {
		b.Fatal(err)
	}
	if err := d.MaskBars(8, 15); err != nil {
		b.Fatal(err)
	}
	d.SelectRect(0, 128, 0, 127, false)
	v := New(d)
	rect := ui.R(0, 0, 1664, 64*10+RulerH+LaneH)
	v.StepW, v.RowH, v.Top, v.Left = 1.5, 10, 100, 0
	return v, rect
}

// BenchmarkDraw10kNotes measures the CPU cost of building one frame of the
// roll with 10,000 notes on screen: the visible-note search, the mask runs
// and the vertex/index buffers (two quads a note, the velocity lane, grid,
// keyboard and ruler) that Ebiten's DrawTriangles then takes as they are.
// It reports ms/frame (wall) and cpu-ms/frame (this thread's CPU time, which
// holds on a shared machine). The GPU submission is measured by
// studio/app's BenchmarkFrame10kNotes under a display (-tags display).
func BenchmarkDraw10kNotes(b *testing.B) {
	v, rect := tenThousand(b)
	p := ui.NewPainter()
	th := ui.Dark()
	p.Reset()
	v.Draw(p, th, rect)
	visible := len(v.cache.visibleNotes(v.Visible(v.Layout(rect).Grid)))
	if visible < 9990 {
		b.Fatalf("only %d notes on screen", visible)
	}
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu := threadCPU()
	for b.Loop() {
		p.Reset()
		v.Draw(p, th, rect)
	}
	cpu = threadCPU() - cpu
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/frame")
	b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-ms/frame")
	b.ReportMetric(float64(p.Rects()), "quads")
	b.ReportMetric(float64(visible), "notes")
}

// BenchmarkEditFrame10kNotes is a frame right after an edit: the document's
// version changed, so the view rebuilds its caches (selection and generated
// sets, longest note) before drawing.
func BenchmarkEditFrame10kNotes(b *testing.B) {
	v, rect := tenThousand(b)
	p := ui.NewPainter()
	th := ui.Dark()
	b.ReportAllocs()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	cpu := threadCPU()
	for b.Loop() {
		v.cache.valid = false
		p.Reset()
		v.Draw(p, th, rect)
	}
	cpu = threadCPU() - cpu
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N)/1e6, "ms/frame")
	b.ReportMetric(cpu.Seconds()*1000/float64(b.N), "cpu-ms/frame")
}
