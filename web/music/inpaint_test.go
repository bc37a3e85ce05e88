package music

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"latentstudio/gpu"
	"latentstudio/gpu/cuda"
	"latentstudio/studio/client"
	"latentstudio/studio/pianoroll"
	"latentstudio/studio/protocol"
	"latentstudio/web/server"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// shippedWeights finds assets/pianoroll-hdit.safetensors above the test's folder.
func shippedWeights(t testing.TB) string {
	t.Helper()
	dir, _ := os.Getwd()
	for d := dir; filepath.Dir(d) != d; d = filepath.Dir(d) {
		p := filepath.Join(d, "assets", "pianoroll-hdit.safetensors")
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	t.Fatal("assets/pianoroll-hdit.safetensors not found above " + dir)
	return ""
}

// startStudio runs a real studio server on the CPU engine with roll.inpaint registered on
// its engine, and returns its websocket URL.
func startStudio(t *testing.T, workers int) (*server.Server, string) {
	t.Helper()
	old := gpu.Logf
	gpu.Logf = func(string, ...any) {}
	t.Cleanup(func() { gpu.Logf = old })
	s, err := server.New(server.Config{Listen: "127.0.0.1:0", Data: t.TempDir(), Engine: "cpu", Workers: workers, Log: quiet(), Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	in := NewInpainter(s.Engine.Backend, shippedWeights(t))
	in.Log = quiet()
	s.Jobs.Register(protocol.KindRollInpaint, in.Kind())
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
		in.Close()
	})
	return s, "ws://" + s.Addr() + "/ws"
}

func dial(t *testing.T, url string) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, url, client.Options{Name: "music test"})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// song is a C-major arpeggio with a bass note per bar from step 0 to 160: it starts before
// the test window (from 32) and runs past it, so notes cross both window edges.
func song() []pianoroll.Note {
	var ns []pianoroll.Note
	for t := 0; t < 160; t += 4 {
		ns = append(ns, pianoroll.Note{Start: t, Dur: 4, Pitch: []uint8{60, 64, 67, 72}[(t/4)%4], Vel: 80})
	}
	for t := 0; t < 160; t += 16 {
		ns = append(ns, pianoroll.Note{Start: t, Dur: 16, Pitch: []uint8{36, 41, 43, 36}[(t/16)%4], Vel: 70})
	}
	return pianoroll.Normalize(ns)
}

func flat(ns []pianoroll.Note) protocol.RollNotes {
	var f protocol.RollNotes
	for _, n := range ns {
		f = append(f, int32(n.Start), int32(n.Dur), int32(n.Pitch), int32(n.Vel))
	}
	return f
}

func unflat(f protocol.RollNotes) []pianoroll.Note {
	var ns []pianoroll.Note
	for i := 0; i+3 < len(f); i += 4 {
		ns = append(ns, pianoroll.Note{Start: int(f[i]), Dur: int(f[i+1]), Pitch: uint8(f[i+2]), Vel: uint8(f[i+3])})
	}
	return ns
}

// boxMask marks pitches [p0,p1) × window steps [t0,t1) of a window of w steps.
func boxMask(w, p0, p1, t0, t1 int) []bool {
	cells := make([]bool, protocol.RollPitches*w)
	for p := p0; p < p1; p++ {
		for t := t0; t < t1; t++ {
			cells[p*w+t] = true
		}
	}
	return cells
}

const (
	from  = 32
	width = 64
)

// smallRequest is a small, quick job: a box over the melody's middle of a 64-step window.
func smallRequest(k int, seed uint64) (protocol.RollInpaint, []bool) {
	cells := boxMask(width, 55, 80, 16, 48)
	return protocol.RollInpaint{Notes: flat(song()), From: from, Steps: width, Mask: protocol.EncodeMask(cells),
		Repaint: 1, Candidates: k, Percentile: 1, Seed: seed, Sampling: 6}, cells
}

// touches tells whether any cell of note n (song steps) lies in the window's mask.
func touches(n pianoroll.Note, cells []bool) bool {
	for t := max(n.Start, from); t < min(n.End(), from+width); t++ {
		if cells[int(n.Pitch)*width+t-from] {
			return true
		}
	}
	return false
}

// collect reads a job's progress events until stop is closed.
func collect(j *client.Job, stop chan struct{}) func() []protocol.Progress {
	var mu sync.Mutex
	var got []protocol.Progress
	go func() {
		for {
			select {
			case p := <-j.Progress():
				mu.Lock()
				got = append(got, p)
				mu.Unlock()
			case <-stop:
				return
			}
		}
	}()
	return func() []protocol.Progress {
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(got)
	}
}

func runJob(t *testing.T, c *client.Client, p protocol.RollInpaint) (protocol.RollInpaintResult, []protocol.Progress) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	j, err := c.Submit(ctx, protocol.KindRollInpaint, p, "")
	if err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	progress := collect(j, stop)
	done, _, err := j.Wait(ctx)
	close(stop)
	if err != nil {
		t.Fatalf("roll.inpaint: %v", err)
	}
	var res protocol.RollInpaintResult
	if err := json.Unmarshal(done.Data, &res); err != nil {
		t.Fatal(err)
	}
	return res, progress()
}

// A job over the websocket: K candidates ranked sparsest first, nothing outside the mask
// changed once a candidate is spliced into the song, progress on the way.
func TestInpaintJob(t *testing.T) {
	_, url := startStudio(t, 2)
	c := dial(t, url)
	if !slices.Contains(c.Welcome().Kinds, protocol.KindRollInpaint) {
		t.Fatalf("welcome kinds %v lack %s", c.Welcome().Kinds, protocol.KindRollInpaint)
	}
	p, cells := smallRequest(3, 5)
	res, progress := runJob(t, c, p)
	if res.From != from || res.Steps != width || res.Backend != "cpu" || res.Note != "" {
		t.Errorf("result header: from %d steps %d backend %q note %q", res.From, res.Steps, res.Backend, res.Note)
	}
	if len(res.Candidates) != 3 || res.Pick != 2 {
		t.Fatalf("%d candidates, pick %d: want 3 and the busiest (2) for percentile 1", len(res.Candidates), res.Pick)
	}
	orig := song()
	for k, cand := range res.Candidates {
		if k > 0 && cand.NotesInMask < res.Candidates[k-1].NotesInMask {
			t.Errorf("candidates not ranked sparsest first: %d then %d notes in the mask", res.Candidates[k-1].NotesInMask, cand.NotesInMask)
		}
		gen := unflat(cand.Notes)
		for _, n := range gen {
			if n.Start < from || n.Start >= from+width {
				t.Errorf("candidate %d: note %+v starts outside the window", k, n)
			}
		}
		spliced := pianoroll.SpliceWindow(orig, gen, from, width)
		// Leakage: outside the mask, the spliced song sounds exactly as before, cell by cell
		// (onsets and sustain; a note the model held on into the mask takes the mean velocity
		// of all its cells, so velocity is checked note by note below).
		before, after := pianoroll.Image(orig, from, width), pianoroll.Image(spliced, from, width)
		n := protocol.RollPitches * width
		for _, ch := range []int{pianoroll.ChanOnset, pianoroll.ChanSustain} {
			for i, masked := range cells {
				if !masked && before[ch*n+i] != after[ch*n+i] {
					t.Fatalf("candidate %d: channel %d changed outside the mask at pitch %d, step %d", k, ch, i/width, from+i%width)
				}
			}
		}
		// Every note with no cell in the mask is still there: unchanged, or held on into the
		// mask by the model.
		for _, n := range orig {
			if touches(n, cells) || slices.Contains(spliced, n) {
				continue
			}
			i := slices.IndexFunc(spliced, func(m pianoroll.Note) bool { return m.Start == n.Start && m.Pitch == n.Pitch })
			if i < 0 || spliced[i].Dur <= n.Dur || !touches(spliced[i], cells) {
				t.Errorf("candidate %d: note %+v outside the mask was changed or lost", k, n)
			}
		}
		added := 0
		for _, n := range spliced {
			if !slices.Contains(orig, n) {
				added++
				if !touches(n, cells) {
					t.Errorf("candidate %d: new note %+v lies outside the mask", k, n)
				}
			}
		}
		if cand.NotesInMask > 0 && added == 0 {
			t.Errorf("candidate %d: %d onsets in the mask but no new notes", k, cand.NotesInMask)
		}
	}
	if res.Candidates[2].NotesInMask == 0 {
		t.Errorf("the busiest candidate put no notes in a 25 × 32 box over a running arpeggio")
	}
	steps := 0
	for _, pr := range progress {
		if strings.HasPrefix(pr.Stage, "step ") {
			steps++
			if !strings.HasSuffix(pr.Stage, "/6") || pr.Percent <= 0 || pr.Percent > 100 {
				t.Errorf("progress %+v: want percent in (0, 100] and stage step i/6", pr)
			}
		}
	}
	if steps == 0 {
		t.Errorf("no step progress among %v", progress)
	}
}

// Two sessions inpainting at once on two workers both finish, with the same candidates as
// each would get alone (the model is shared; each run has its own denoiser).
func TestConcurrentJobs(t *testing.T) {
	_, url := startStudio(t, 2)
	a, b := dial(t, url), dial(t, url)
	p, _ := smallRequest(2, 9)
	var ra, rb protocol.RollInpaintResult
	var pa, pb []protocol.Progress
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); ra, pa = runJob(t, a, p) }()
	go func() { defer wg.Done(); rb, pb = runJob(t, b, p) }()
	wg.Wait()
	if t.Failed() {
		return
	}
	stepped := func(ps []protocol.Progress) bool {
		return slices.ContainsFunc(ps, func(p protocol.Progress) bool { return strings.HasPrefix(p.Stage, "step ") })
	}
	if !stepped(pa) || !stepped(pb) {
		t.Errorf("step progress of two jobs side by side: %v and %v", pa, pb)
	}
	ja, _ := json.Marshal(ra)
	jb, _ := json.Marshal(rb)
	if string(ja) != string(jb) {
		t.Errorf("same request, same seed, different results when run side by side:\n%s\n%s", ja, jb)
	}
}

// Cancelling a running 32-bar job stops it mid-run, and the server goes on serving.
func TestCancelMidRun(t *testing.T) {
	_, url := startStudio(t, 1)
	c := dial(t, url)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cells := boxMask(512, 0, 128, 128, 256)
	long := protocol.RollInpaint{Notes: flat(song()), From: 0, Steps: 512, Mask: protocol.EncodeMask(cells), Repaint: 2, Sampling: 30, Seed: 1}
	j, err := c.Submit(ctx, protocol.KindRollInpaint, long, "")
	if err != nil {
		t.Fatal(err)
	}
	var last protocol.Progress
	for !strings.HasPrefix(last.Stage, "step ") {
		select {
		case last = <-j.Progress():
		case <-ctx.Done():
			t.Fatal("no step progress from a 60-evaluation job")
		}
	}
	if err := j.Cancel(ctx); err != nil {
		t.Fatal(err)
	}
	_, _, err = j.Wait(ctx)
	if protocol.CodeOf(err) != protocol.CancelledErr {
		t.Fatalf("cancelled job ended with %v, want a cancelled error", err)
	}
	st, err := c.Status(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, js := range st.Jobs {
		if js.ID == j.ID && (js.State != protocol.JobCancelled || js.Percent >= 100) {
			t.Errorf("job state after cancel: %+v, want cancelled before the end", js)
		}
	}
	p, _ := smallRequest(1, 2)
	if res, _ := runJob(t, c, p); len(res.Candidates) != 1 {
		t.Errorf("after a cancel: %d candidates", len(res.Candidates))
	}
}

// Bad requests get typed errors with a message saying what to change, and the server keeps
// serving the same connection.
func TestBadRequests(t *testing.T) {
	_, url := startStudio(t, 1)
	c := dial(t, url)
	good, _ := smallRequest(1, 1)
	with := func(f func(*protocol.RollInpaint)) protocol.RollInpaint { p := good; f(&p); return p }
	many := make(protocol.RollNotes, 0, 4*(protocol.RollMaxNotes+1))
	for i := range protocol.RollMaxNotes + 1 {
		many = append(many, int32(i%500), 1, 60, 1)
	}
	cases := []struct {
		name   string
		params any
		code   protocol.Code
		says   string
	}{
		{"no params", nil, protocol.BadInput, "missing"},
		{"wrong mask size", with(func(p *protocol.RollInpaint) { p.Mask = protocol.EncodeMask(boxMask(32, 60, 70, 0, 8)) }), protocol.BadInput, "128×64 mask"},
		{"width the model refuses", with(func(p *protocol.RollInpaint) { p.Steps = 48; p.Mask = protocol.EncodeMask(boxMask(48, 60, 70, 0, 8)) }), protocol.BadInput, "multiple of 64 steps"},
		{"empty mask", with(func(p *protocol.RollInpaint) { p.Mask = protocol.EncodeMask(make([]bool, 128*width)) }), protocol.BadInput, "draw where the model should play"},
		{"too many notes", with(func(p *protocol.RollInpaint) { p.Notes = many }), protocol.TooLarge, "notes, at most"},
		{"too much work", with(func(p *protocol.RollInpaint) {
			p.Steps, p.Candidates, p.Mask = 1024, 64, protocol.EncodeMask(boxMask(1024, 60, 70, 0, 8))
		}), protocol.TooLarge, "fewer candidates"},
		{"note out of range", with(func(p *protocol.RollInpaint) { p.Notes = protocol.RollNotes{0, 1, 130, 64} }), protocol.BadInput, "out of range"},
		{"unknown sampler", with(func(p *protocol.RollInpaint) { p.Sampler = "heun" }), protocol.BadInput, "heun"},
		{"not an object", json.RawMessage(`[1,2]`), protocol.BadInput, "params"},
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	for _, tc := range cases {
		j, err := c.Submit(ctx, protocol.KindRollInpaint, tc.params, "")
		if err == nil {
			_, _, err = j.Wait(ctx)
		}
		if protocol.CodeOf(err) != tc.code || !strings.Contains(err.Error(), tc.says) {
			t.Errorf("%s: got %v, want %s saying %q", tc.name, err, tc.code, tc.says)
		}
		if _, err := c.Status(ctx); err != nil {
			t.Fatalf("after %s the server stopped answering: %v", tc.name, err)
		}
	}
	if res, _ := runJob(t, c, good); len(res.Candidates) != 1 {
		t.Errorf("after the bad requests: %d candidates", len(res.Candidates))
	}
}

// fullGPU is the CPU backend posing as a GPU whose memory runs out once full is set, the
// way the CUDA backend reports it (an allocation error wrapping cuda.ErrOutOfMemory). It is
// test-only: it exercises the real model and the real fallback path without a GPU.
type fullGPU struct {
	gpu.Backend
	full  atomic.Bool
	isCPU bool // pose as a CPU instead
}

func (b *fullGPU) Info() gpu.Info {
	i := b.Backend.Info()
	if !b.isCPU {
		i.Backend, i.Device = "cuda", "test GPU that runs out of memory"
	}
	return i
}

func (b *fullGPU) Alloc(dt gpu.DType, elems int) (gpu.Storage, error) {
	if b.full.Load() {
		return nil, fmt.Errorf("%w: %d MiB wanted, 0 of 80 GiB free", cuda.ErrOutOfMemory, elems*dt.Size()>>20)
	}
	return b.Backend.Alloc(dt, elems)
}

// A GPU out of memory reruns that request on the CPU: same candidates as a CPU run, a note
// in the result, progress saying so.
func TestOutOfMemoryFallsBackToCPU(t *testing.T) {
	old := gpu.Logf
	gpu.Logf = func(string, ...any) {}
	defer func() { gpu.Logf = old }()
	cpu, err := gpu.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer cpu.Close()
	w := shippedWeights(t)
	ref := NewInpainter(cpu, w)
	defer ref.Close()
	full := &fullGPU{Backend: cpu}
	in := NewInpainter(full, w)
	in.Log = quiet()
	defer in.Close()

	p, _ := smallRequest(2, 4)
	raw, _ := json.Marshal(p)
	var stages []string
	report := func(_ float64, stage string) { stages = append(stages, stage) }
	if _, err := in.load(); err != nil { // the weights fit; the request will not
		t.Fatal(err)
	}
	full.full.Store(true)
	out, err := in.Run(context.Background(), raw, report)
	if err != nil {
		t.Fatalf("out of GPU memory: %v, want a CPU run", err)
	}
	got := out.Data.(protocol.RollInpaintResult)
	if got.Backend != "cpu" || !strings.Contains(got.Note, "GPU ran out of memory") {
		t.Errorf("backend %q, note %q: want cpu and a note about the GPU's memory", got.Backend, got.Note)
	}
	if !slices.ContainsFunc(stages, func(s string) bool { return strings.HasPrefix(s, "on the CPU (GPU out of memory): step ") }) {
		t.Errorf("progress stages %v do not say the CPU took over", stages)
	}
	want, err := ref.Run(context.Background(), raw, func(float64, string) {})
	if err != nil {
		t.Fatal(err)
	}
	wr := want.Data.(protocol.RollInpaintResult)
	wr.Note = got.Note
	if fmt.Sprint(wr) != fmt.Sprint(got) {
		t.Errorf("fallback result differs from a CPU run of the same request:\n%v\n%v", got, wr)
	}

	// A CPU that runs out of memory has nowhere to go: an engine error that says what to ask.
	fullCPU := &fullGPU{Backend: cpu, isCPU: true}
	onCPU := NewInpainter(fullCPU, w)
	defer onCPU.Close()
	if _, err := onCPU.load(); err != nil {
		t.Fatal(err)
	}
	fullCPU.full.Store(true)
	if _, err := onCPU.Run(context.Background(), raw, report); protocol.CodeOf(err) != protocol.Engine || !strings.Contains(err.Error(), "ask for fewer candidates") {
		t.Errorf("out of CPU memory: %v, want an engine error asking for fewer candidates", err)
	}

	// Weights that are not there: an engine error naming the file.
	if _, err := NewInpainter(cpu, filepath.Join(t.TempDir(), "missing.safetensors")).Run(context.Background(), raw, report); protocol.CodeOf(err) != protocol.Engine || !strings.Contains(err.Error(), "missing.safetensors") {
		t.Errorf("missing weights: %v, want an engine error naming the file", err)
	}
}
