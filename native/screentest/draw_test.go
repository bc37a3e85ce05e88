package screentest

import (
	"encoding/json"
	"fmt"
	"image"
	"image/color"
	"image/draw"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/ui"
	"latentstudio/web/store"
)

// state is the part of the app's test snapshot (studio/app State, written beside each
// screenshot) these tests read. studio/app links Ebiten, so it is decoded here, not imported.
type state struct {
	Ready      bool   `json:"ready"`
	Frames     int    `json:"frames"`
	Notes      int    `json:"notes"`
	MaskCells  int    `json:"mask_cells"`
	Tool       string `json:"tool"`
	Audio      bool   `json:"audio"`
	Inpainting bool   `json:"inpainting"`
	Candidates int    `json:"candidates"`
	Generated  int    `json:"generated"`
	Connection string `json:"connection"`
	Version    int    `json:"version"`
	LastError  string `json:"last_error"`
	Toasts     []string
	View       struct {
		GridX, GridY, GridW, GridH float64
		Left, Top, StepW, RowH     float64
	} `json:"view"`
	Controls map[string]ui.Rect `json:"controls"`

	// the desktop window's own part
	Project string             `json:"project"`
	Picker  bool               `json:"picker"`
	Picks   map[string]ui.Rect `json:"picker_controls"`
}

// snap is one frame: its pixels and the app's state when it was drawn.
type snap struct {
	img *image.RGBA
	st  state
}

func (a *app) snap(name string) snap {
	a.t.Helper()
	img := a.shot(name)
	b, err := os.ReadFile(filepath.Join(a.shots, name+".json"))
	if err != nil {
		a.t.Fatal(err)
	}
	var st state
	if err := json.Unmarshal(b, &st); err != nil {
		a.t.Fatalf("state of %s: %v", name, err)
	}
	return snap{img, st}
}

// waitFor takes screenshots until cond holds for the app's state.
func (a *app) waitFor(what string, timeout time.Duration, cond func(state) bool) snap {
	a.t.Helper()
	deadline := time.Now().Add(timeout)
	for i := 0; ; i++ {
		s := a.snap(fmt.Sprintf("wait-%d", i))
		if cond(s.st) {
			return s
		}
		if time.Now().After(deadline) {
			a.t.Fatalf("timed out waiting for %s; last state %+v\noutput:\n%s", what, s.st, a.out.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// measure sets a.pace from the frame rate the app reaches on this machine.
func (a *app) measure(first snap) {
	a.t.Helper()
	t0 := time.Now()
	time.Sleep(time.Second)
	s := a.snap("pace")
	frames := s.st.Frames - first.st.Frames
	if frames < 1 {
		frames = 1
	}
	frame := time.Since(t0) / time.Duration(frames)
	a.pace = max(3*frame, 60*time.Millisecond)
	a.t.Logf("%d frames in %v: input steps wait %v", frames, time.Since(t0).Round(time.Millisecond), a.pace)
}

// park moves the pointer over the side panel, so no hover highlight or brush outline is in
// the next screenshot.
func (a *app) park(s state) {
	a.t.Helper()
	r := s.Controls["roll"]
	a.x.xdotool(a.t, "mousemove", "--window", a.window, strconv.Itoa(int(r.X+r.W+130)), strconv.Itoa(int(r.Y+r.H-30)))
	a.sync()
}

// cell is the centre of roll cell (step, pitch) in window pixels (the app's logical pixels;
// Xvfb's scale factor is 1).
func (s state) cell(step, pitch int) (int, int) {
	v := s.View
	x := v.GridX + (float64(step)-v.Left+0.5)*v.StepW
	y := v.GridY + (v.Top-float64(pitch)-1+0.5)*v.RowH
	return int(math.Round(x)), int(math.Round(y))
}

func (s state) click(a *app, control string) {
	a.t.Helper()
	r, ok := s.Controls[control]
	if !ok {
		r, ok = s.Picks[control]
	}
	if !ok {
		a.t.Fatalf("no control %q in %v %v", control, keys(s.Controls), keys(s.Picks))
	}
	x, y := int(r.X+r.W/2), int(r.Y+r.H/2)
	a.drag(x, y, x, y) // a click, with the same care for slow frames
}

func keys(m map[string]ui.Rect) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// onMix reports whether c is ui.Mix(from, to, f) for some f from 0.4 to 1 (within rounding).
func onMix(c, from, to color.RGBA) bool {
	// f from the channel that changes most, then every channel must agree.
	ch := func(x color.RGBA) [3]float64 { return [3]float64{float64(x.R), float64(x.G), float64(x.B)} }
	cc, a, b := ch(c), ch(from), ch(to)
	k := 0
	for i := range 3 {
		if math.Abs(b[i]-a[i]) > math.Abs(b[k]-a[k]) {
			k = i
		}
	}
	f := (cc[k] - a[k]) / (b[k] - a[k])
	if f < 0.4 || f > 1.02 {
		return false
	}
	for i := range 3 {
		if math.Abs(a[i]+(b[i]-a[i])*f-cc[i]) > 4 {
			return false
		}
	}
	return true
}

func near(c, want color.RGBA, tol int) bool {
	d := func(a, b uint8) int { return int(a) - int(b) }
	return abs(d(c.R, want.R)) <= tol && abs(d(c.G, want.G)) <= tol && abs(d(c.B, want.B)) <= tol
}

func abs(x int) int {
	if x < 0 {
		return -x
	}
	return x
}

// over is colour c (straight alpha, as the theme gives it) drawn over an opaque background.
func over(c, bg color.RGBA) color.RGBA {
	a := float64(c.A) / 255
	mix := func(f, b uint8) uint8 { return uint8(math.Round(float64(f)*a + float64(b)*(1-a))) }
	return color.RGBA{mix(c.R, bg.R), mix(c.G, bg.G), mix(c.B, bg.B), 255}
}

// TestDrawNotesAndMask is the must-show: real pointer drags under Xvfb draw notes
// with the pencil and a mask with the brush; the screenshots show them in the theme's note
// and mask colours where the pointer went, and the project's saved song.mid holds the notes.
func TestDrawNotesAndMask(t *testing.T) {
	needXvfb(t)
	x := startXvfb(t, screenW, screenH)
	a := startApp(t, x, true)
	th := ui.Dark()

	open := a.waitFor("the project to open", 60*time.Second, func(s state) bool { return s.Ready && s.View.StepW > 0 })
	if !open.st.Audio {
		t.Fatalf("no audio player on the null ALSA device:\n%s", a.out.String())
	}
	if got := open.img.Bounds().Size(); got.X != screenW || got.Y != screenH {
		t.Fatalf("window %v, want --size %dx%d", got, screenW, screenH)
	}
	a.measure(open)
	if open.st.Notes != 0 || open.st.MaskCells != 0 {
		t.Fatalf("a new project has notes or a mask: %+v", open.st)
	}

	// Pick rows and steps inside the visible grid, clear of its edges.
	v := open.st.View
	top := int(math.Floor(v.Top))
	left := int(math.Ceil(v.Left))
	p1, p2, pm := top-6, top-10, top-16 // two note rows, one mask row
	if v.GridH < 26*v.RowH || v.GridW < 32*v.StepW {
		t.Fatalf("grid too small to draw in: %+v", v)
	}

	// The pencil: a drag along row p1 from step left+2 to left+9 is one note 8 steps long;
	// a click at left+12 on row p2 is a note of the length just drawn.
	open.st.click(a, "tool.Pencil")
	x0, y0 := open.st.cell(left+2, p1)
	x1, _ := open.st.cell(left+9, p1)
	a.drag(x0, y0, x1, y0)
	a.park(open.st)
	a.waitFor("the dragged note", 10*time.Second, func(s state) bool { return s.Notes == 1 })
	x2, y2 := open.st.cell(left+12, p2)
	a.drag(x2, y2, x2, y2)
	a.park(open.st)
	notes := a.waitFor("two notes", 10*time.Second, func(s state) bool { return s.Notes == 2 })
	if notes.st.Tool != "Pencil" {
		t.Fatalf("tool %q after clicking the pencil", notes.st.Tool)
	}
	saveTo(t, "desktop-notes", notes.img)
	// A note is filled with its colour (plain or selected) mixed into the row colour, brighter
	// for louder notes: a point on the line from the row colour to the theme's note colour.
	isNote := func(c color.RGBA) bool {
		return onMix(c, th.RowBlack, th.Note) || onMix(c, th.RowBlack, th.NoteSelected)
	}
	for step := left + 2; step <= left+9; step++ {
		if c := notes.img.RGBAAt(notes.st.cell(step, p1)); !isNote(c) {
			t.Errorf("dragged note: cell (%d, %d) is %v, not the note colour %v at any velocity", step, p1, c, th.Note)
		}
	}
	if c := notes.img.RGBAAt(notes.st.cell(left+12, p2)); !isNote(c) {
		t.Errorf("clicked note: cell (%d, %d) is %v", left+12, p2, c)
	}
	for _, off := range [][2]int{{left + 11, p1}, {left + 2, p1 + 2}, {left + 5, p2}, {left + 21, p2}} {
		if c := notes.img.RGBAAt(notes.st.cell(off[0], off[1])); isNote(c) {
			t.Errorf("cell %v away from the drags has a note colour %v", off, c)
		}
	}

	// The mask brush: a drag along row pm over steps left+4 .. left+20.
	notes.st.click(a, "tool.Brush")
	x3, y3 := notes.st.cell(left+4, pm)
	x4, _ := notes.st.cell(left+20, pm)
	a.drag(x3, y3, x4, y3)
	a.park(open.st)
	masked := a.waitFor("a mask", 10*time.Second, func(s state) bool { return s.MaskCells > 0 })
	if masked.st.Tool != "Brush" {
		t.Fatalf("tool %q after clicking the brush", masked.st.Tool)
	}
	saveTo(t, "desktop-mask", masked.img)
	// Each brushed cell is the theme's mask colour over what was there before the drag.
	for step := left + 5; step <= left+19; step++ {
		px, py := masked.st.cell(step, pm)
		before := notes.img.RGBAAt(px, py)
		want := over(th.Mask, before)
		if got := masked.img.RGBAAt(px, py); !near(got, want, 16) {
			t.Errorf("brushed cell (%d, %d): %v, want mask over %v = %v", step, pm, got, before, want)
		}
	}
	for _, off := range [][2]int{{left + 12, pm - 8}, {left + 30, pm}, {left + 14, p2}} {
		px, py := masked.st.cell(off[0], off[1])
		if got, was := masked.img.RGBAAt(px, py), notes.img.RGBAAt(px, py); got != was {
			t.Errorf("cell %v far from the brush changed: %v -> %v", off, was, got)
		}
	}
	if c := masked.img.RGBAAt(masked.st.cell(left+5, p1)); !isNote(c) {
		t.Errorf("the notes are gone after masking: %v", c)
	}

	// The project on disk: autosave wrote song.mid with the two notes.
	saved := a.waitFor("the song saved", 20*time.Second, func(s state) bool { return s.Connection == "saved" && s.Version > 1 })
	song := savedSong(t, a.data, a.project)
	want := []pianoroll.Note{
		{Start: left + 2, Dur: 8, Pitch: uint8(p1)},
		{Start: left + 12, Dur: 8, Pitch: uint8(p2)},
	}
	if len(song.Notes) != len(want) {
		t.Fatalf("saved song (version %d) has %d notes, want 2: %+v", saved.st.Version, len(song.Notes), song.Notes)
	}
	for i, n := range song.Notes {
		if n.Start != want[i].Start || n.Dur != want[i].Dur || n.Pitch != want[i].Pitch {
			t.Errorf("saved note %d: %+v, want start %d dur %d pitch %d", i, n, want[i].Start, want[i].Dur, want[i].Pitch)
		}
	}
	saveTo(t, "desktop-crop", crop(masked.img, masked.st, left, p1, pm))
}

// savedSong reads the project's current song.mid from the data directory, as the server keeps it.
func savedSong(t *testing.T, data, project string) *pianoroll.Song {
	t.Helper()
	st, err := store.Open(data, store.DefaultKeep)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	b, err := st.ReadFile(project, "song.mid")
	if err != nil {
		t.Fatal(err)
	}
	song, err := pianoroll.Parse(b)
	if err != nil {
		t.Fatalf("saved song.mid: %v", err)
	}
	return song
}

// crop cuts the part of the roll that was drawn on, for a small picture in docs/.
func crop(img *image.RGBA, s state, left, hi, lo int) image.Image {
	_, y0 := s.cell(left, hi+4)
	x1, y1 := s.cell(left+26, lo-4)
	x0 := int(s.View.GridX) - 64 // from the keyboard on
	r := image.Rect(x0, y0, x1, y1).Intersect(img.Bounds())
	out := image.NewRGBA(image.Rect(0, 0, r.Dx(), r.Dy()))
	draw.Draw(out, out.Bounds(), img, r.Min, draw.Src)
	return out
}
