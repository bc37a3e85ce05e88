//go:build e2e

package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	cdpbrowser "github.com/chromedp/cdproto/browser"
	"github.com/chromedp/cdproto/input"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"latentstudio/studio/pianoroll"
	"latentstudio/web/music"
	"latentstudio/web/server"
)

// The canvas's state as the wasm shell publishes it (studio/app State; window.studioState
// in the editor's frame). Kept here as JSON: linking studio/app would link Ebiten's desktop
// build into this test.
type appState struct {
	Ready       bool    `json:"ready"`
	Title       string  `json:"title"`
	Frames      int     `json:"frames"`
	Notes       int     `json:"notes"`
	MaskCells   int     `json:"mask_cells"`
	Tool        string  `json:"tool"`
	Connection  string  `json:"connection"`
	Version     int     `json:"version"`
	Playing     bool    `json:"playing"`
	Playhead    float64 `json:"playhead"`
	Audio       bool    `json:"audio"`
	Inpainting  bool    `json:"inpainting"`
	Progress    float64 `json:"progress"`
	Candidates  int     `json:"candidates"`
	Applied     int     `json:"applied"`
	Generated   int     `json:"generated"`
	LastError   string  `json:"last_error"`
	Toasts      []string
	ExportBytes int `json:"export_bytes"`
	View        struct {
		GridX, GridY, GridW, GridH float64
		Left, Top, StepW, RowH     float64
	} `json:"view"`
	Controls map[string]struct{ X, Y, W, H float64 } `json:"controls"`
}

func init() {
	// The real piano-roll model, as `studio serve` registers it (web/cmd/studio/roll.go).
	music.Register(func() string { return filepath.Join("..", "..", music.ShippedWeights) })
}

// studio drives the canvas of one editor page.
type studio struct {
	t     testing.TB
	ctx   context.Context
	base  string // the server's (or proxy's) http://host:port
	query string // the editor URL's query (inpainting defaults)

	mu       sync.Mutex
	problems []string
}

func openStudio(t testing.TB, ctx context.Context, base string) *studio {
	s := &studio{t: t, ctx: ctx, base: strings.TrimSuffix(base, "/")}
	chromedp.Listen(ctx, func(ev any) {
		s.mu.Lock()
		defer s.mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			s.problems = append(s.problems, "exception: "+ev.ExceptionDetails.Text+" "+describe(ev.ExceptionDetails.Exception))
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, a.Description+string(a.Value))
				}
				s.problems = append(s.problems, "console error: "+strings.Join(parts, " "))
			}
		}
	})
	return s
}

func describe(o *runtime.RemoteObject) string {
	if o == nil {
		return ""
	}
	return o.Description
}

// noProblems fails on uncaught exceptions and console errors (CSP violations among them),
// except those matching allowed (expected failures, such as a lost connection).
func (s *studio) noProblems(allowed ...string) {
	s.t.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	var bad []string
next:
	for _, p := range s.problems {
		for _, a := range allowed {
			if strings.Contains(p, a) {
				continue next
			}
		}
		bad = append(bad, p)
	}
	if len(bad) > 0 {
		s.t.Fatalf("page problems:\n%s", strings.Join(bad, "\n"))
	}
}

func (s *studio) do(actions ...chromedp.Action[chromedp.Void]) {
	s.t.Helper()
	for i, a := range actions {
		if err := chromedp.Do(s.ctx, a); err != nil {
			s.t.Fatalf("step %d: %v", i, err)
		}
	}
}

const frameWin = `document.getElementById("studio-frame").contentWindow`

func (s *studio) eval(js string, v any) error {
	raw, err := chromedp.Run(s.ctx, chromedp.Evaluate[json.RawMessage](js))
	if err != nil {
		return fmt.Errorf("%s: %w", js, err)
	}
	if v == nil {
		return nil
	}
	return json.Unmarshal(raw, v)
}

// state reads the canvas's state (zero before the shell published one).
func (s *studio) state() appState {
	s.t.Helper()
	var raw string
	if err := s.eval(`JSON.stringify((document.getElementById("studio-frame")||{}).contentWindow?.studioState ?? null)`, &raw); err != nil {
		s.t.Fatal(err)
	}
	var st appState
	if raw != "null" {
		if err := json.Unmarshal([]byte(raw), &st); err != nil {
			s.t.Fatalf("studioState %s: %v", raw, err)
		}
	}
	return st
}

// wait polls the state until cond holds (conditions, never sleeps: 2 slow cores).
func (s *studio) wait(what string, timeout time.Duration, cond func(appState) bool) appState {
	s.t.Helper()
	end := time.Now().Add(timeout)
	for {
		st := s.state()
		if cond(st) {
			return st
		}
		if time.Now().After(end) {
			s.shot()
			s.t.Fatalf("waited %s for %s; state: %+v", timeout, what, st)
		}
		select {
		case <-s.ctx.Done():
			s.t.Fatalf("waiting for %s: %v", what, s.ctx.Err())
		case <-time.After(50 * time.Millisecond):
		}
	}
}

// shot saves a screenshot into $STUDIO_E2E_SHOTS (when set) for a failure's post-mortem.
func (s *studio) shot() {
	dir := os.Getenv("STUDIO_E2E_SHOTS")
	if dir == "" {
		return
	}
	if b, err := chromedp.Run(s.ctx, chromedp.CaptureScreenshot()); err == nil {
		name := filepath.Join(dir, strings.ReplaceAll(s.t.Name(), "/", "_")+".png")
		if os.WriteFile(name, b, 0o644) == nil {
			s.t.Logf("screenshot: %s", name)
		}
	}
}

// frames lets n game ticks pass (window.studioTicks), so the app's per-tick input sees
// each mouse and key event.
func (s *studio) frames(n int) {
	s.t.Helper()
	ticks := func() int {
		var k int
		if err := s.eval(`(document.getElementById("studio-frame")||{}).contentWindow?.studioTicks ?? 0`, &k); err != nil {
			s.t.Fatal(err)
		}
		return k
	}
	from := ticks()
	for end := time.Now().Add(30 * time.Second); ticks() < from+n; {
		if time.Now().After(end) {
			s.t.Fatalf("the canvas stopped ticking (%d ticks)", from)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// origin is the frame's top-left corner in the page.
func (s *studio) origin() (float64, float64) {
	s.t.Helper()
	var r []float64
	if err := s.eval(`(() => { const r = document.getElementById("studio-frame").getBoundingClientRect(); return [r.x, r.y] })()`, &r); err != nil {
		s.t.Fatal(err)
	}
	return r[0], r[1]
}

// cell is the page position of the centre of the roll cell (step, pitch).
func (s *studio) cell(st appState, step, pitch int) (float64, float64) {
	ox, oy := s.origin()
	v := st.View
	return ox + v.GridX + (float64(step)-v.Left+0.5)*v.StepW, oy + v.GridY + (v.Top-float64(pitch)-1+0.5)*v.RowH
}

// control is the page position of the centre of a named control.
func (s *studio) control(st appState, name string) (float64, float64) {
	s.t.Helper()
	r, ok := st.Controls[name]
	if !ok || r.W == 0 {
		s.t.Fatalf("no control %q in %v", name, st.Controls)
	}
	ox, oy := s.origin()
	return ox + r.X + r.W/2, oy + r.Y + r.H/2
}

func (s *studio) mouse(typ input.DispatchMouseEventType, x, y float64) {
	s.t.Helper()
	opts := []chromedp.MouseOption{chromedp.ButtonLeft, chromedp.ClickCount(1)}
	if typ == input.DispatchMouseEventTypeMouseMoved {
		opts = []chromedp.MouseOption{func(p *input.DispatchMouseEventParams) { p.Buttons = 1; p.Button = input.MouseButtonLeft }}
	}
	s.do(chromedp.MouseEvent(typ, x, y, opts...))
}

// drag presses at the first point, moves through the others and releases at the last,
// a frame apart each, as a hand would.
func (s *studio) drag(pts ...[2]float64) {
	s.t.Helper()
	s.do(chromedp.MouseEvent(input.DispatchMouseEventTypeMouseMoved, pts[0][0], pts[0][1]))
	s.frames(1)
	s.mouse(input.DispatchMouseEventTypeMousePressed, pts[0][0], pts[0][1])
	s.frames(2)
	for _, p := range pts[1:] {
		s.mouse(input.DispatchMouseEventTypeMouseMoved, p[0], p[1])
		s.frames(1)
	}
	last := pts[len(pts)-1]
	s.mouse(input.DispatchMouseEventTypeMouseReleased, last[0], last[1])
	s.frames(2)
}

func (s *studio) click(x, y float64) { s.t.Helper(); s.drag([2]float64{x, y}) }

// tool picks a tool by its toolbar button.
func (s *studio) tool(name string) {
	s.t.Helper()
	st := s.state()
	s.click(s.control(st, "tool."+name))
	s.wait("tool "+name, 10*time.Second, func(st appState) bool { return strings.EqualFold(st.Tool, name) })
}

// key sends a key press to the focused canvas.
func (s *studio) key(k string, mods ...chromedp.Modifier) {
	s.t.Helper()
	var opts []chromedp.KeyOption
	if len(mods) > 0 {
		opts = append(opts, chromedp.KeyModifiers(mods...))
	}
	s.do(chromedp.KeyEvent(k, opts...))
	s.frames(2)
}

// ctrlKey presses Ctrl+letter as a hand does: Control down, the letter down and up, Control
// up, a few frames apart (the canvas reads key states each frame).
func (s *studio) ctrlKey(letter byte) {
	s.t.Helper()
	up := string(rune(letter - 'a' + 'A'))
	send := func(p input.DispatchKeyEventParams) {
		s.t.Helper()
		if err := chromedp.Do(s.ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, input.DispatchKeyEvent, p)
			return err
		})); err != nil {
			s.t.Fatal(err)
		}
		s.frames(2)
	}
	const ctrl = 2
	send(input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeRawKeyDown, Key: "Control", Code: "ControlLeft", WindowsVirtualKeyCode: 17, Modifiers: ctrl, Location: 1})
	send(input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeRawKeyDown, Key: string(letter), Code: "Key" + up, WindowsVirtualKeyCode: int64(up[0]), Modifiers: ctrl})
	send(input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: string(letter), Code: "Key" + up, WindowsVirtualKeyCode: int64(up[0]), Modifiers: ctrl})
	send(input.DispatchKeyEventParams{Type: input.DispatchKeyEventTypeKeyUp, Key: "Control", Code: "ControlLeft", WindowsVirtualKeyCode: 17, Location: 1})
}

// open navigates to a project's editor and waits for the canvas to be up; it returns the
// load time (navigation start of the editor page to the first frame with the project up).
func (s *studio) open(id string) (appState, time.Duration) {
	s.t.Helper()
	s.do(chromedp.Navigate(s.base + "/p/" + id + s.query))
	st := s.wait("the canvas to open the project", 2*time.Minute, func(st appState) bool { return st.Ready && st.Frames > 0 })
	var ms float64
	if err := s.eval(frameWin+`.studioReady.at - performance.timeOrigin`, &ms); err != nil {
		s.t.Fatal(err)
	}
	var marks map[string]float64
	if err := s.eval(`(() => { const w = `+frameWin+`, m = {frame: w.performance.timeOrigin - performance.timeOrigin};
		for (const e of w.performance.getEntriesByType("mark")) m[e.name] = m.frame + e.startTime;
		for (const e of w.performance.getEntriesByType("resource")) if (e.name.endsWith(".wasm")) { m["wasm-bytes"] = e.transferSize; m["wasm-downloaded"] = m.frame + e.responseEnd }
		return m })()`, &marks); err == nil {
		s.t.Logf("load timeline (ms from navigation): %v; ready %.0f", marks, ms)
	}
	return st, time.Duration(ms * float64(time.Millisecond))
}

func newProject(t testing.TB, base, name string) string {
	t.Helper()
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(strings.TrimSuffix(base, "/")+"/projects", url.Values{"kind": {"pianoroll"}, "name": {name}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/p/") {
		t.Fatalf("create project: %d %s", resp.StatusCode, loc)
	}
	return strings.TrimPrefix(loc, "/p/")
}

// song fetches the project's saved song and its version.
func song(t testing.TB, base, id string) ([]pianoroll.Note, int) {
	t.Helper()
	resp, err := http.Get(strings.TrimSuffix(base, "/") + "/projects/" + id + "/files/song.mid")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	v, _ := strconv.Atoi(resp.Header.Get("X-Project-Version"))
	s, err := pianoroll.Parse(b)
	if err != nil {
		return nil, v
	}
	return s.Notes, v
}

func hasNote(notes []pianoroll.Note, start int, pitch uint8) bool {
	for _, n := range notes {
		if n.Start == start && n.Pitch == pitch {
			return true
		}
	}
	return false
}

// pickFile hands a file to the shell's file picker, the hidden <input type=file> that
// "Open MIDI…" clicks.
func (s *studio) pickFile(path string) {
	s.t.Helper()
	frame, err := chromedp.Run(s.ctx, chromedp.Nodes(chromedp.CSS("iframe#studio-frame")))
	if err != nil || len(frame) != 1 {
		s.t.Fatalf("frame: %v", err)
	}
	abs, err := filepath.Abs(path) // the browser resolves a relative path against its own directory
	if err != nil {
		s.t.Fatal(err)
	}
	s.do(chromedp.SetUploadFiles(chromedp.CSS("#midi-file"), []string{abs}, chromedp.FromNode(frame[0])))
}

// dropFile drags a file from the desktop onto the page at (x, y) and drops it.
func (s *studio) dropFile(x, y float64, path string) {
	s.t.Helper()
	abs, err := filepath.Abs(path)
	if err != nil {
		s.t.Fatal(err)
	}
	data := &input.DragData{Items: []*input.DragDataItem{}, Files: []string{abs}, DragOperationsMask: 1}
	for _, typ := range []input.DispatchDragEventType{input.DispatchDragEventTypeDragEnter, input.DispatchDragEventTypeDragOver, input.DispatchDragEventTypeDrop} {
		p := input.DispatchDragEventParams{Type: typ, X: x, Y: y, Data: data}
		if err := chromedp.Do(s.ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
			_, err := chromedp.Call(ctx, input.DispatchDragEvent, p)
			return err
		})); err != nil {
			s.t.Fatalf("drag %s: %v", typ, err)
		}
	}
	s.frames(2)
}

// window is the part of the roll on screen: steps [from, to), pitches [lo, hi].
type window struct{ from, to, lo, hi int }

func (st appState) window() window {
	v := st.View
	return window{int(v.Left) + 1, int(v.Left+v.GridW/v.StepW) - 1, int(v.Top-v.GridH/v.RowH) + 1, int(v.Top) - 2}
}

// freeCells finds n cells in steps [from, to) with no note sounding there or in the 8
// steps after (where the pencil's note goes), highest pitches first, 8 steps apart.
func freeCells(notes []pianoroll.Note, w window, from, to, n int) [][2]int {
	busy := func(step, pitch int) bool {
		for _, x := range notes {
			if int(x.Pitch) == pitch && x.Start < step+8 && x.Start+x.Dur > step {
				return true
			}
		}
		return false
	}
	var cells [][2]int
	for p := w.hi; p >= w.lo && len(cells) < n; p-- {
		for st := from; st+8 <= to && len(cells) < n; st += 8 {
			if !busy(st, p) && (len(cells) == 0 || cells[len(cells)-1][1] != p || st >= cells[len(cells)-1][0]+8) {
				cells = append(cells, [2]int{st, p})
			}
		}
	}
	return cells
}

// drawNotes draws notes with the pencil at cells and waits for each.
func (s *studio) drawNotes(cells [][2]int) appState {
	s.t.Helper()
	st := s.state()
	s.tool("Pencil")
	for i, c := range cells {
		s.click(s.cell(st, c[0], c[1]))
		want := st.Notes + i + 1
		s.wait(fmt.Sprintf("note %d drawn", i+1), 20*time.Second, func(st appState) bool { return st.Notes == want })
	}
	return s.state()
}

// boxMask masks steps [from, to) × pitches [lo, hi] with the box tool.
func (s *studio) boxMask(from, to, lo, hi int) appState {
	s.t.Helper()
	st := s.state()
	s.tool("Box")
	x0, y0 := s.cell(st, from, hi)
	x1, y1 := s.cell(st, to-1, lo)
	s.drag([2]float64{x0, y0}, [2]float64{(x0 + x1) / 2, (y0 + y1) / 2}, [2]float64{x1, y1})
	return s.wait("a mask", 20*time.Second, func(st appState) bool { return st.MaskCells > 0 })
}

// The must-show browser test: open a piano-roll project, draw notes, draw a mask, inpaint
// with the real model, play, export MIDI, reload and find the project as it was.
func TestCanvasPianoRoll(t *testing.T) {
	canvasReady(t)
	ctx := browserFor(t, 5*time.Minute)
	srv := serve(t, server.Config{Canvas: theCanvas})
	base := strings.TrimSuffix(srv.URL, "/")
	id := newProject(t, base, "Canvas song")
	s := openStudio(t, ctx, base)
	s.query = "?candidates=1&repaint=1&sampling=12"
	downloads := t.TempDir()
	if err := chromedp.Do(ctx, chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		yes := true
		_, err := chromedp.Call(ctx, cdpbrowser.SetDownloadBehavior, cdpbrowser.SetDownloadBehaviorParams{
			Behavior: cdpbrowser.SetDownloadBehaviorBehaviorAllow, DownloadPath: downloads, EventsEnabled: &yes})
		return err
	})); err != nil {
		t.Fatal(err)
	}

	st, load := s.open(id)
	t.Logf("canvas up %s after navigation (first frame with the project open)", load.Round(time.Millisecond))
	if st.Notes != 0 || st.Connection == "" || st.Title != "Canvas song" {
		t.Fatalf("a new project: %+v", st)
	}

	// Open an example song through the file picker, so the model has music around the mask.
	example := filepath.Join("..", "..", "assets", "examples", "pop-ballad-G-100bpm.mid")
	b, err := os.ReadFile(example)
	if err != nil {
		t.Fatal(err)
	}
	orig, err := pianoroll.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	s.pickFile(example)
	st = s.wait("the example song", 30*time.Second, func(st appState) bool { return st.Notes > 0 || st.LastError != "" })
	if st.LastError != "" {
		t.Fatalf("open the example: %s", st.LastError)
	}
	s.frames(3) // the view fits the song
	st = s.state()
	imported := st.Notes
	t.Logf("opened %s: %d notes (%d in the file)", filepath.Base(example), imported, len(orig.Notes))

	// Draw notes left of the mask, then a box mask over two bars in the middle of the view.
	w := st.window()
	maskFrom := (w.from + 24 + 15) / 16 * 16 // two bars, on a bar line
	if maskFrom+32 > w.to {
		t.Fatalf("the view %+v is too narrow for the test", w)
	}
	drawn := freeCells(orig.Notes, w, w.from, maskFrom-4, 4)
	if len(drawn) < 4 {
		t.Fatalf("no free cells to draw in %+v", w)
	}
	st = s.drawNotes(drawn)
	maskLo, maskHi := w.lo+3, w.hi-3 // inside the view: a drag to its edge would scroll it
	st = s.boxMask(maskFrom, maskFrom+32, maskLo, maskHi)
	t.Logf("drew notes at %v; masked %d cells (steps %d..%d, pitches %d..%d)", drawn, st.MaskCells, maskFrom, maskFrom+31, maskLo, maskHi)

	// Inpaint with the real model (CPU in CI): one candidate, one pass, 12 sampler steps
	// (the editor URL's defaults, see open).
	s.click(s.control(st, "inpaint"))
	s.wait("the inpaint job to start", 20*time.Second, func(st appState) bool { return st.Inpainting || st.Candidates > 0 || st.LastError != "" })
	st = s.wait("candidates", 4*time.Minute, func(st appState) bool { return (st.Candidates > 0 && st.Applied >= 0) || st.LastError != "" })
	if st.LastError != "" || st.Generated == 0 || st.Candidates != 1 {
		t.Fatalf("inpaint: %+v", st)
	}
	t.Logf("inpaint: %d candidates, candidate %d applied, %d generated notes, %d notes in all", st.Candidates, st.Applied, st.Generated, st.Notes)
	total := st.Notes

	// Play: the playhead moves and the audio context runs.
	s.click(s.control(st, "play"))
	s.wait("playback", 20*time.Second, func(st appState) bool { return st.Playing && st.Playhead > 0.5 })
	var states []string
	if err := s.eval(frameWin+`.studioAudioContexts.map(c => c.state)`, &states); err != nil {
		t.Fatal(err)
	}
	if len(states) == 0 || states[0] != "running" || !s.state().Audio {
		t.Fatalf("audio contexts %v", states)
	}
	s.key(" ")
	s.wait("playback to stop", 10*time.Second, func(st appState) bool { return !st.Playing })

	// Export MIDI: a download holding the drawn and the generated notes.
	s.ctrlKey('e')
	st = s.wait("the export", 20*time.Second, func(st appState) bool { return st.ExportBytes > 0 })
	var file string
	for end := time.Now().Add(20 * time.Second); file == "" && time.Now().Before(end); time.Sleep(100 * time.Millisecond) {
		m, _ := filepath.Glob(filepath.Join(downloads, "*.mid"))
		if len(m) == 1 {
			if b, err := os.ReadFile(m[0]); err == nil && len(b) == st.ExportBytes {
				file = m[0]
			}
		}
	}
	if file == "" {
		t.Fatal("no MIDI download")
	}
	b, _ = os.ReadFile(file)
	exported, err := pianoroll.Parse(b)
	if err != nil {
		t.Fatalf("exported MIDI: %v", err)
	}
	for _, n := range drawn {
		if !hasNote(exported.Notes, n[0], uint8(n[1])) {
			t.Fatalf("export lacks drawn note %v: %v", n, exported.Notes)
		}
	}
	inMask := 0
	for _, n := range exported.Notes {
		if n.Start >= maskFrom && n.Start < maskFrom+32 && int(n.Pitch) >= maskLo && int(n.Pitch) <= maskHi {
			inMask++
		}
	}
	if len(exported.Notes) != total || inMask == 0 {
		t.Fatalf("export has %d notes (%d in the masked bars), the canvas %d", len(exported.Notes), inMask, total)
	}

	// Autosave reached the server; a reload finds the project as it was.
	s.wait("autosave", 30*time.Second, func(st appState) bool { return st.Connection == "saved" && st.Version > 1 })
	saved, version := song(t, base, id)
	if len(saved) != total {
		t.Fatalf("server song v%d has %d notes, want %d", version, len(saved), total)
	}
	st, load = s.open(id)
	t.Logf("reloaded in %s", load.Round(time.Millisecond))
	if st.Notes != total || st.Version != version {
		t.Fatalf("after reload %d notes v%d, want %d v%d", st.Notes, st.Version, total, version)
	}
	s.noProblems()
}

// Bad files through the file picker: a corrupt MIDI file and one over 50 MB are refused
// with a message, and the song is unchanged.
func TestCanvasBadFiles(t *testing.T) {
	canvasReady(t)
	ctx := browser(t)
	srv := serve(t, server.Config{Canvas: theCanvas})
	base := strings.TrimSuffix(srv.URL, "/")
	id := newProject(t, base, "Bad files")
	s := openStudio(t, ctx, base)
	s.open(id)
	st := s.drawNotes([][2]int{{0, 60}})

	dir := t.TempDir()
	corrupt := filepath.Join(dir, "corrupt.mid")
	os.WriteFile(corrupt, append([]byte("MThd\x00\x00\x00\x06\x00\x01\x00\x02\x01\xe0MTrk\xff\xff\xff\xff"), bytes.Repeat([]byte{0x90}, 100)...), 0o644)
	corrupt2 := filepath.Join(dir, "dropped.mid")
	os.WriteFile(corrupt2, []byte("RIFF....not a MIDI file at all"), 0o644)
	huge := filepath.Join(dir, "huge.mid")
	f, _ := os.Create(huge)
	f.Truncate(51 << 20) // sparse: 51 MB without writing them
	f.Close()

	// The picker is the shell's hidden <input type=file> (what "Open MIDI…" clicks).
	s.pickFile(corrupt)
	st = s.wait("the corrupt file's message", 20*time.Second, func(st appState) bool { return st.LastError != "" })
	if !strings.Contains(st.LastError, "corrupt.mid") || st.Notes != 1 {
		t.Fatalf("corrupt MIDI: %q, %d notes", st.LastError, st.Notes)
	}
	t.Logf("corrupt MIDI: %q", st.LastError)
	rx, ry := s.control(st, "roll")
	s.dropFile(rx, ry, corrupt2)
	st = s.wait("the dropped file's message", 20*time.Second, func(st appState) bool { return strings.Contains(st.LastError, "dropped.mid") })
	if !strings.Contains(st.LastError, "could not open") || st.Notes != 1 {
		t.Fatalf("dropped corrupt MIDI: %q, %d notes", st.LastError, st.Notes)
	}
	t.Logf("dropped corrupt MIDI: %q", st.LastError)
	s.pickFile(huge)
	st = s.wait("the huge file's message", 20*time.Second, func(st appState) bool { return strings.Contains(st.LastError, "huge.mid") })
	if !strings.Contains(st.LastError, "refused") || st.Notes != 1 {
		t.Fatalf("51 MB file: %q, %d notes", st.LastError, st.Notes)
	}
	t.Logf("51 MB file: %q", st.LastError)
	s.noProblems()
}

// A connection lost in the middle of an inpaint: the canvas says so, keeps every edit, keeps
// working offline, and saves everything when the network is back.
func TestCanvasLostConnection(t *testing.T) {
	canvasReady(t)
	ctx := browserFor(t, 4*time.Minute)
	srv := serve(t, server.Config{Canvas: theCanvas})
	direct := strings.TrimSuffix(srv.URL, "/")
	p := newProxy(t, srv.Addr())
	base := strings.TrimSuffix(p.URL(), "/")
	id := newProject(t, base, "Lost connection")
	s := openStudio(t, ctx, base)
	s.open(id)
	example := filepath.Join("..", "..", "assets", "examples", "bossa-nova-Cm-127bpm.mid")
	b, _ := os.ReadFile(example)
	orig, err := pianoroll.Parse(b)
	if err != nil {
		t.Fatal(err)
	}
	s.pickFile(example)
	if st := s.wait("the example song", 30*time.Second, func(st appState) bool { return st.Notes > 0 || st.LastError != "" }); st.LastError != "" {
		t.Fatalf("open the example: %s", st.LastError)
	}
	s.frames(3)
	st := s.state()
	w := st.window()
	maskFrom := (w.from + 24 + 15) / 16 * 16
	cells := freeCells(orig.Notes, w, w.from, maskFrom-4, 2)
	if len(cells) < 2 {
		t.Fatalf("no free cells in %+v", w)
	}
	s.drawNotes(cells[:1])
	st = s.boxMask(maskFrom, maskFrom+32, w.lo+3, w.hi-3)
	before := st.Notes

	s.click(s.control(st, "inpaint"))
	s.wait("the inpaint job to run", 30*time.Second, func(st appState) bool { return st.Inpainting })
	p.cut()
	st = s.wait("the canvas to notice", 60*time.Second, func(st appState) bool { return !st.Inpainting && st.Connection == "offline" })
	st = s.wait("a message", 10*time.Second, func(st appState) bool { return st.LastError != "" })
	t.Logf("connection lost mid-inpaint: %q (connection %s)", st.LastError, st.Connection)
	if st.Notes != before || st.MaskCells == 0 {
		t.Fatalf("after the lost connection: %d notes (before %d), mask %d", st.Notes, before, st.MaskCells)
	}

	// Editing goes on offline; the edit is saved when the network is back.
	st = s.drawNotes(cells[1:2])
	p.restore()
	last := ""
	st = s.wait("the resync", 60*time.Second, func(st appState) bool {
		if st.Connection != last {
			last = st.Connection
			_, v := song(t, direct, id)
			t.Logf("connection %s, version %d (server %d), notes %d, toasts %v", st.Connection, st.Version, v, st.Notes, st.Toasts)
		}
		return st.Connection == "saved"
	})
	saved, version := song(t, direct, id)
	if len(saved) != st.Notes || !hasNote(saved, cells[0][0], uint8(cells[0][1])) || !hasNote(saved, cells[1][0], uint8(cells[1][1])) {
		t.Fatalf("server song v%d: %d notes, the canvas %d; drawn %v", version, len(saved), st.Notes, cells[:2])
	}
	t.Logf("resynced: server version %d holds all %d notes", version, len(saved))
	s.noProblems("WebSocket", "Failed to fetch", "ERR_")
}

// BenchmarkCanvasLoad measures the editor's load on localhost in headless chromium: from
// the editor page's navigation start to the first frame drawn with the project open
// (window.studioReady), with an empty browser cache (first-ms) and on a reload (reload-ms,
// the wasm and its compiled code cached). Run: task bench:canvas.
func BenchmarkCanvasLoad(b *testing.B) {
	canvasReady(b)
	srv := serve(b, server.Config{Canvas: theCanvas})
	base := strings.TrimSuffix(srv.URL, "/")
	id := newProject(b, base, "Load time")
	var first, reload time.Duration
	for i := 0; i < b.N; i++ {
		ctx := browserFor(b, 2*time.Minute) // a fresh profile: nothing cached
		s := openStudio(b, ctx, base)
		_, d := s.open(id)
		first += d
		_, d = s.open(id)
		reload += d
	}
	b.ReportMetric(float64(first.Milliseconds())/float64(b.N), "first-ms")
	b.ReportMetric(float64(reload.Milliseconds())/float64(b.N), "reload-ms")
	b.ReportMetric(float64(theCanvas.Status().Gzip)/1e6, "gzip-MB")
}

// With a token, the canvas gets through with the page's cookie alone: the song's fetch and
// the websocket of the wasm carry it as the page's own requests do.
func TestCanvasWithToken(t *testing.T) {
	canvasReady(t)
	ctx := browserFor(t, 2*time.Minute)
	srv := serve(t, server.Config{Canvas: theCanvas, Token: "e2e-canvas-secret"})
	base := strings.TrimSuffix(srv.URL, "/?token=e2e-canvas-secret")
	req, _ := http.NewRequest("POST", base+"/projects", strings.NewReader(url.Values{"kind": {"pianoroll"}, "name": {"Secret"}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Authorization", "Bearer e2e-canvas-secret")
	resp, err := (&http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/p/")
	if resp.StatusCode != http.StatusSeeOther || id == "" {
		t.Fatalf("create: %d", resp.StatusCode)
	}
	s := openStudio(t, ctx, base)
	s.do(chromedp.Navigate(srv.URL)) // the printed URL: the token becomes a cookie
	s.open(id)
	st := s.drawNotes([][2]int{{0, 60}})
	st = s.wait("the save", 30*time.Second, func(st appState) bool { return st.Connection == "saved" && st.Version > 1 })
	if st.LastError != "" {
		t.Fatalf("canvas with a token: %q", st.LastError)
	}
	s.noProblems()
}
