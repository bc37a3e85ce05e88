//go:build display && linux

// These benchmarks open a real window, so they build only with -tags display
// and need an X server (xvfb-run works):
//
//	xvfb-run -a -s "-screen 0 1920x1080x24" go test -tags display -run XXX -bench Frame ./studio/app
package app

import (
	"math/rand/v2"
	"os"
	"runtime"
	"syscall"
	"testing"
	"time"

	"github.com/hajimehoshi/ebiten/v2"

	"latentstudio/studio/pianoroll"
)

// harness runs the tests inside Ebiten's game loop (Ebiten owns the main
// thread); a benchmark hands it frames to draw and reads the times back.
type harness struct {
	a       *App
	frames  chan int // frames to draw
	done    chan struct{}
	want    int
	inDraw  time.Duration
	cpuDraw time.Duration // CPU time of the drawing thread: the machine may be shared
	running bool
	exit    chan int
}

var h *harness

func TestMain(m *testing.M) {
	if os.Getenv("DISPLAY") == "" {
		os.Exit(0) // nothing to draw on
	}
	h = &harness{frames: make(chan int), done: make(chan struct{}), exit: make(chan int, 1)}
	go func() { h.exit <- m.Run() }()
	ebiten.SetWindowSize(1600, 900)
	ebiten.SetVsyncEnabled(false)
	ebiten.SetTPS(ebiten.SyncWithFPS)
	if err := ebiten.RunGame(h); err != nil && err != ebiten.Termination {
		panic(err)
	}
	os.Exit(<-h.exit)
}

func (h *harness) Update() error {
	select {
	case code := <-h.exit:
		h.exit <- code
		return ebiten.Termination
	default:
	}
	if h.a != nil {
		return h.a.Update()
	}
	return nil
}

func (h *harness) Draw(dst *ebiten.Image) {
	if !h.running {
		select {
		case n := <-h.frames:
			h.want, h.running, h.inDraw, h.cpuDraw = n, true, 0, 0
		default:
			return
		}
	}
	// Keep this goroutine on one thread while measuring (nests with any lock
	// Ebiten holds).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	t, c := time.Now(), threadCPU()
	h.a.Draw(dst)
	h.inDraw += time.Since(t)
	h.cpuDraw += threadCPU() - c
	h.want--
	if h.want == 0 {
		h.running = false
		h.done <- struct{}{}
	}
}

// threadCPU is the CPU time of the calling OS thread (Ebiten draws on one
// locked thread), so the number holds on a machine shared with other work.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func (h *harness) Layout(w, ht int) (int, int) {
	if h.a == nil {
		return w, ht
	}
	return h.a.Layout(w, ht)
}

// BenchmarkFrame10kNotes draws the whole studio with 10,000 notes on screen
// in a real window and reports draw-ms, the wall time spent in App.Draw per
// frame, and draw-cpu-ms, the drawing thread's CPU time in it (building geometry and submitting it and the UI through
// DrawTriangles and text; Ebiten's GL flush happens after Draw and is not
// in it). "rebuild" redraws the roll's static layer every frame (a scroll or
// an edit each frame: the worst case); "playing" moves the playhead only (the
// cached layer is composited under a new overlay); "steady" is a frame without a change
// (App.Draw fingerprints the display lists, finds the frame unchanged and
// skips it: the screen keeps the last frame).
func BenchmarkFrame10kNotes(b *testing.B) {
	a, err := New(Config{NoAudio: true, Scale: 1})
	if err != nil {
		b.Fatal(err)
	}
	r := rand.New(rand.NewPCG(1, 2))
	var ns []pianoroll.Note
	seen := map[[2]int]bool{}
	for len(ns) < 10000 {
		n := pianoroll.Note{Start: r.IntN(660), Dur: 1 + r.IntN(3), Pitch: uint8(36 + r.IntN(64)), Vel: uint8(30 + r.IntN(97))}
		if k := [2]int{n.Start, int(n.Pitch)}; !seen[k] {
			seen[k] = true
			ns = append(ns, n)
		}
	}
	if _, err := a.doc.AddNotes(ns); err != nil {
		b.Fatal(err)
	}
	a.view.StepW, a.view.RowH, a.view.Top, a.view.Left = 1.5, 9, 100, 0
	a.fitted = true
	h.a = a
	h.frames <- 10 // warm up: glyph caches, first layout
	<-h.done
	g := a.view.Layout(a.rects["roll"]).Grid
	from, to := a.view.Visible(g)
	bottom := a.view.Top - g.H/a.view.RowH
	visible := 0
	for _, n := range a.doc.NotesIn(int(from), int(to)+1) {
		if float64(n.Pitch) >= bottom && float64(n.Pitch) < a.view.Top {
			visible++
		}
	}
	for _, name := range []string{"rebuild", "playing", "steady"} {
		b.Run(name, func(b *testing.B) {
			var inDraw, cpuDraw time.Duration
			frames, before, skipped := 0, a.rebuilds, a.skipped
			for b.Loop() {
				switch name {
				case "rebuild":
					a.view.Top = 100 + float64(frames%2)*0.01 // a new key: the static layer is redrawn
				case "playing":
					a.view.Playhead = float64(frames%600) * 0.5 // the overlay moves; the static layer is kept
				}
				h.frames <- 1
				<-h.done
				inDraw += h.inDraw
				cpuDraw += h.cpuDraw
				frames++
			}
			b.ReportMetric(float64(visible), "notes")
			b.ReportMetric(float64(a.rebuilds-before)/float64(frames), "rebuilds/frame")
			b.ReportMetric(float64(a.skipped-skipped)/float64(frames), "skipped/frame")
			b.ReportMetric(inDraw.Seconds()*1000/float64(frames), "draw-ms")
			b.ReportMetric(cpuDraw.Seconds()*1000/float64(frames), "draw-cpu-ms")
		})
	}
}
