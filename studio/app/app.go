// Package app is the studio shell that both builds run: the browser's wasm
// entry point and the desktop app construct an App and hand it to
// ebiten.RunGame. It opens the project through studio/sync, hosts the piano
// roll (studio/rollview), plays it through ebiten/audio and studio/sound, and
// draws the toolbar, inpainting panel, candidate strip and status bar.
package app

import (
	"context"
	"errors"
	"fmt"
	"hash/maphash"
	"image"
	"net/http"
	"path"
	gosync "sync"

	"github.com/hajimehoshi/ebiten/v2"

	"latentstudio/studio/client"
	"latentstudio/studio/protocol"
	"latentstudio/studio/rolldoc"
	"latentstudio/studio/rollview"
	"latentstudio/studio/sync"
	"latentstudio/studio/ui"
	"latentstudio/studio/ui/screen"
)

// Config says what to open and how the shell connects it to its platform.
type Config struct {
	Server  string // studio base URL (http://127.0.0.1:7380); "" edits a local song only
	Project string // project id
	Token   string
	Dial    client.DialFunc // nil: the client package's default for the platform
	Local   sync.LocalStore // where edits are kept on this device (nil: memory)
	HTTP    *http.Client    // nil: http.DefaultClient

	SoundFont string // .sf2 path; "" searches the usual places (none in a browser: built-in piano)
	NoAudio   bool   // no audio device (tests)

	// Export hands a finished file to the platform: a download in the
	// browser, a file on the desktop. nil: exports are only kept for State.
	Export func(name string, data []byte) error
	// OpenFile asks the platform for a MIDI file (a file picker); it calls
	// App.Import with what the person picked. nil hides "Open MIDI…".
	OpenFile func()

	// Projects shows the platform's project list (File ▸ Projects…); nil hides it.
	Projects func()

	// Inpaint sets the inpainting controls' starting values; zero fields
	// keep the app's defaults (U 4, K 4, busy-ness 50%, server's sampler).
	Inpaint rolldoc.InpaintOptions

	Theme string  // "dark" (default) or "light"
	Scale float64 // device pixels per logical pixel; 0: the monitor's
	Log   func(format string, args ...any)
}

// App is the studio; it implements ebiten.Game.
type App struct {
	cfg   Config
	ctx   context.Context
	stop  context.CancelFunc
	theme *ui.Theme
	ui    *ui.Context
	input screen.Input
	fonts *screen.Fonts
	roll  *ui.Painter // the roll's geometry

	rollImg  *ebiten.Image      // the roll's static layer
	rollKey  rollview.StaticKey // what rollImg shows
	rebuilds int                // times the static layer was redrawn
	overlay  *ui.Painter        // playhead and gesture, each frame

	lastSum    uint64 // fingerprint of the frame on screen
	lastBounds image.Rectangle
	lastTheme  *ui.Theme
	skipped    int // frames skipped as unchanged
	scale      float64
	w, h       float64 // logical size

	mu      gosync.Mutex // guards what background goroutines hand over
	session *sync.Session
	openErr error
	pending []func() // work handed to the game loop

	doc   *rolldoc.Doc
	view  *rollview.View
	audio *player

	inp         inpaintState
	opts        rolldoc.InpaintOptions
	help        bool
	modal       *modal
	lastExport  []byte
	lastError   string
	frames      int
	rects       map[string]ui.Rect // named controls, for test hooks
	fitted      bool
	sideScroll  float64 // side panel scroll offset
	sideH       float64 // side panel content height
	songVersion uint64
}

type modal struct {
	title string
	lines []string
}

// New builds the studio and starts opening the project in the background
// (network work never blocks a frame, which matters in the browser).
func New(cfg Config) (*App, error) {
	if cfg.Log == nil {
		cfg.Log = func(string, ...any) {}
	}
	fonts, err := screen.NewFonts()
	if err != nil {
		return nil, err
	}
	th := ui.Dark()
	if cfg.Theme == "light" {
		th = ui.Light()
	}
	ctx, stop := context.WithCancel(context.Background())
	a := &App{cfg: cfg, ctx: ctx, stop: stop, theme: th, fonts: fonts, rects: map[string]ui.Rect{}}
	paint := ui.NewPainter()
	paint.Measure = fonts.Width
	a.ui = ui.NewContext(th, paint)
	a.roll = ui.NewPainter()
	a.roll.Measure = fonts.Width
	a.overlay = ui.NewPainter()
	a.overlay.Measure = fonts.Width
	// Frames that change nothing are skipped in Draw; the screen keeps the
	// last one.
	ebiten.SetScreenClearedEveryFrame(false)
	a.opts = rolldoc.InpaintOptions{Repaint: 4, Candidates: 4, Percentile: 0.5}
	if o := cfg.Inpaint; o != (rolldoc.InpaintOptions{}) {
		if o.Repaint > 0 {
			a.opts.Repaint = o.Repaint
		}
		if o.Candidates > 0 {
			a.opts.Candidates = o.Candidates
		}
		if o.Percentile > 0 {
			a.opts.Percentile = o.Percentile
		}
		a.opts.Seed, a.opts.Sampler, a.opts.Sampling = o.Seed, o.Sampler, o.Sampling
	}
	a.inp.applied, a.inp.preview = -1, -1
	a.registerShortcuts()

	if !cfg.NoAudio {
		p, err := newPlayer(cfg.SoundFont, cfg.Log)
		if err != nil {
			cfg.Log("studio: no sound: %v", err)
		} else {
			a.audio = p
		}
	}
	if cfg.Server == "" {
		a.setDoc(rolldoc.New())
		return a, nil
	}
	go a.open()
	return a, nil
}

func (a *App) open() {
	a.cfg.Log("studio: opening project %s on %s", a.cfg.Project, a.cfg.Server)
	s, err := sync.Open(a.ctx, sync.Config{
		Server: a.cfg.Server, Project: a.cfg.Project, Token: a.cfg.Token,
		Dial: a.cfg.Dial, Local: a.cfg.Local, HTTP: a.cfg.HTTP, Name: "studio",
	})
	a.mu.Lock()
	defer a.mu.Unlock()
	if err != nil {
		a.openErr = err
		a.cfg.Log("studio: open project %s: %v", a.cfg.Project, err)
		return
	}
	a.session = s
	a.cfg.Log("studio: project %s open (%s)", a.cfg.Project, s.State())
	a.pending = append(a.pending, func() { a.setDoc(s.Doc()) })
}

func (a *App) setDoc(d *rolldoc.Doc) {
	a.doc = d
	a.view = rollview.New(d)
	a.view.OnError = func(err error) { a.fail("", err) }
	if a.audio != nil {
		a.view.Sound = a.audio.seq
	}
	a.fitted = false
	a.songVersion = 0
}

// fail shows an error as a toast and keeps it for State.
func (a *App) fail(what string, err error) {
	if err == nil {
		return
	}
	msg := err.Error()
	if what != "" {
		msg = what + ": " + msg
	}
	a.lastError = msg
	a.ui.Toast(ui.Error, msg)
	a.cfg.Log("studio: %s", msg)
}

// Notify shows a message from the shell (a toast; errors are also kept for
// State.LastError). Call it on the game loop's goroutine.
func (a *App) Notify(level ui.Level, msg string) {
	if level == ui.Error {
		a.lastError = msg
		a.cfg.Log("studio: %s", msg)
	}
	a.ui.Toast(level, msg)
}

// Fail shows an error (a toast and State.LastError). Call it on the game
// loop's goroutine.
func (a *App) Fail(err error) { a.fail("", err) }

// Close commits a gesture still in progress (a note held under the pencil),
// saves what is unsaved and stops the session.
func (a *App) Close() error {
	if a.view != nil {
		a.view.Finish()
	}
	a.inp.cancelJob()
	var err error
	a.mu.Lock()
	s := a.session
	a.mu.Unlock()
	if s != nil {
		err = s.Close()
	}
	a.stop()
	return err
}

// LayoutF implements ebiten.LayoutFer: the screen is in device pixels, so
// lines and text stay sharp on HiDPI screens.
func (a *App) LayoutF(w, h float64) (float64, float64) {
	s := a.cfg.Scale
	if s <= 0 {
		s = ebiten.Monitor().DeviceScaleFactor()
	}
	if s <= 0 {
		s = 1
	}
	a.scale, a.w, a.h = s, w, h
	return w * s, h * s
}

// Layout implements ebiten.Game (LayoutF takes precedence).
func (a *App) Layout(w, h int) (int, int) {
	fw, fh := a.LayoutF(float64(w), float64(h))
	return int(fw), int(fh)
}

// Update implements ebiten.Game: one tick of input and logic.
func (a *App) Update() error {
	if a.scale == 0 {
		return nil // before the first Layout
	}
	a.mu.Lock()
	work := a.pending
	a.pending = nil
	a.mu.Unlock()
	for _, f := range work {
		f()
	}
	a.ui.Paint.Scale = a.scale
	a.ui.Paint.Reset()
	a.ui.Screen = ui.R(0, 0, a.w, a.h)
	a.ui.Begin(a.input.Read(a.scale))
	a.frame()
	a.ui.End()
	a.setCursor()
	return nil
}

// Draw implements ebiten.Game. The roll's static layer (grid, keys, notes,
// mask, lane) is rendered to an offscreen image only when it changed; each
// frame composites it and draws the overlay (playhead, gesture) and the UI.
// A frame that would draw exactly what the screen shows is skipped (the
// screen is not cleared between frames), so an idle studio costs next to
// nothing, which matters on a laptop and under a software rasterizer.
func (a *App) Draw(dst *ebiten.Image) {
	b := dst.Bounds()
	var r ui.Rect
	staticChanged := false
	a.overlay.Scale = a.scale
	a.overlay.Reset()
	if a.view != nil {
		r = a.rects["roll"]
		a.view.DrawOverlay(a.overlay, a.theme, r)
		staticChanged = a.view.Key(r, a.theme, a.scale) != a.rollKey
	}
	var h maphash.Hash
	h.SetSeed(hashSeed)
	a.ui.Paint.Hash(&h)
	a.overlay.Hash(&h)
	sum := h.Sum64()
	if a.frames > 0 && !staticChanged && sum == a.lastSum && b == a.lastBounds && a.theme == a.lastTheme {
		a.skipped++
		return
	}
	a.lastSum, a.lastBounds, a.lastTheme = sum, b, a.theme
	a.frames++
	dst.Fill(a.theme.Bg)
	if a.view != nil {
		if a.rollImg == nil || a.rollImg.Bounds() != b {
			if a.rollImg != nil {
				a.rollImg.Deallocate()
			}
			a.rollImg = ebiten.NewImage(b.Dx(), b.Dy())
			a.rollKey = rollview.StaticKey{}
		}
		if k := a.view.Key(r, a.theme, a.scale); k != a.rollKey {
			a.rollKey = k
			a.roll.Scale = a.scale
			a.roll.Reset()
			a.view.DrawStatic(a.roll, a.theme, r)
			a.rollImg.Clear()
			screen.Draw(a.rollImg, a.roll, a.fonts)
			a.rebuilds++
		}
		dst.DrawImage(a.rollImg, nil)
		screen.Draw(dst, a.overlay, a.fonts)
	}
	screen.Draw(dst, a.ui.Paint, a.fonts)
}

var hashSeed = maphash.MakeSeed()

func (a *App) setCursor() {
	shape := ebiten.CursorShapeDefault
	if a.view != nil && !a.ui.Blocked() {
		switch a.view.Cursor() {
		case rollview.CursorCrosshair:
			shape = ebiten.CursorShapeCrosshair
		case rollview.CursorMove:
			shape = ebiten.CursorShapeMove
		case rollview.CursorResize:
			shape = ebiten.CursorShapeEWResize
		case rollview.CursorPointer:
			shape = ebiten.CursorShapePointer
		}
	}
	ebiten.SetCursorShape(shape)
}

// frame lays out the studio and runs every part for this tick.
func (a *App) frame() {
	c := a.ui
	all := ui.R(0, 0, a.w, a.h)
	status, rest := all.CutBottom(28)
	bar, rest := rest.CutTop(48)
	// The status bar is drawn last so that it covers a panel's overflow.
	defer a.drawStatus(status)

	if a.view == nil {
		a.toolbar(bar, false)
		a.opening(rest)
		return
	}
	a.files()
	a.syncAudio()
	side, rest := rest.CutRight(272)
	if len(a.inp.result.Candidates) > 0 {
		var strip ui.Rect
		strip, rest = rest.CutBottom(112)
		a.candidateStrip(strip)
	}
	a.rects["roll"] = rest
	a.toolbar(bar, true)
	a.sidePanel(side)
	a.view.Update(c, rest)
	if !a.fitted && rest.H > 0 {
		a.view.ShowNotes(a.view.Layout(rest).Grid)
		a.fitted = true
	}
	a.handleKeys()
	a.view.FollowPlayhead()
	a.inp.poll(a)
	if a.help && c.ShortcutSheet() {
		a.help = false
	}
	if a.modal != nil {
		if c.Modal("msg", a.modal.title, a.modal.lines, []string{"OK"}) >= 0 {
			a.modal = nil
		}
	}
}

func (a *App) opening(r ui.Rect) {
	c := a.ui
	c.Paint.Rect(r, a.theme.Bg)
	a.mu.Lock()
	err := a.openErr
	a.mu.Unlock()
	mid := ui.R(r.X, r.Y+r.H/2-40, r.W, 24)
	if err == nil {
		dots := ".  .. ..."[(c.Tick()/20%3)*3:][:3]
		c.Label(mid, "Opening "+a.cfg.Project+dots, a.theme.TextDim, ui.AlignCenter)
		return
	}
	c.Label(mid, "Could not open the project", a.theme.Text, ui.AlignCenter)
	mid.Y += 24
	c.Label(mid, err.Error(), a.theme.Danger, ui.AlignCenter)
	mid.Y += 40
	if c.Button("retry", ui.R(r.X+r.W/2-130, mid.Y, 120, 30), "Retry") {
		a.mu.Lock()
		a.openErr = nil
		a.mu.Unlock()
		go a.open()
	}
	if c.Button("local", ui.R(r.X+r.W/2+10, mid.Y, 120, 30), "New local song") {
		a.setDoc(rolldoc.New())
	}
}

// Import replaces the song with a MIDI file (drag-and-drop, the file picker).
// A bad file changes nothing and says why.
func (a *App) Import(name string, data []byte) error {
	if a.doc == nil {
		return errors.New("the project is still opening")
	}
	if len(data) > rolldoc.MaxImportBytes {
		name = path.Base(name)
		err := fmt.Errorf("%s is %d MB; MIDI files over %d MB are refused", name, len(data)>>20, rolldoc.MaxImportBytes>>20)
		a.fail("", err)
		return err
	}
	if err := a.doc.Import(data); err != nil {
		name = path.Base(name)
		err = fmt.Errorf("could not open %s: %w (your song is unchanged)", name, err)
		a.fail("", err)
		return err
	}
	a.fitted = false
	a.ui.Toast(ui.Success, fmt.Sprintf("Opened %s: %d notes", path.Base(name), a.doc.Len()))
	return nil
}

// ExportMIDI writes the song as a MIDI file and hands it to the platform.
func (a *App) ExportMIDI() ([]byte, error) {
	if a.doc == nil {
		return nil, errors.New("the project is still opening")
	}
	data, err := a.doc.MIDI()
	if err != nil {
		a.fail("export", err)
		return nil, err
	}
	a.lastExport = data
	name := a.cfg.Project
	if name == "" {
		name = "song"
	}
	name += ".mid"
	if a.cfg.Export != nil {
		if err := a.cfg.Export(name, data); err != nil {
			a.fail("export", err)
			return data, err
		}
	}
	a.ui.Toast(ui.Success, "Exported "+name)
	return data, nil
}

// title names the song in the toolbar: the project's name once the server gave it, else its id.
func (a *App) title() string {
	if s := a.sess(); s != nil && s.Name() != "" {
		return s.Name()
	}
	if a.cfg.Project == "" {
		return "local song"
	}
	return a.cfg.Project
}

// session returns the open session (nil before it opened or without a server).
func (a *App) sess() *sync.Session {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.session
}

var errNoServer = errors.New("inpainting needs the studio server: start the app with a server")

// engine is a one-line description of the engine, when known.
func engineLine(e protocol.EngineInfo) string {
	if e.Backend == "" {
		return ""
	}
	s := e.Backend
	if e.Device != "" {
		s += " · " + e.Device
	}
	return s
}
