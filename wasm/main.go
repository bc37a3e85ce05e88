//go:build js && wasm

// Command wasm is the studio canvas in the browser: the editor page's frame (/p/ID/canvas)
// loads it (web/static/canvas.js). It reads the project from the page, builds studio/app with
// the browser's parts (WebSocket transport, localStorage, downloads, the file picker) and runs
// it with Ebiten, which draws into a <canvas> it adds to the frame's body. See README.md.
package main

import (
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"syscall/js"

	"github.com/hajimehoshi/ebiten/v2"

	"latentstudio/studio/app"
	"latentstudio/studio/client"
	"latentstudio/studio/protocol"
	"latentstudio/studio/rolldoc"
	"latentstudio/studio/sync"
)

func main() {
	pg := readPage()
	if pg.project == "" {
		pg.say("The canvas needs a project: open it from the studio's project list.", "failed")
		return
	}
	sh := &shell{page: pg}
	a, err := app.New(app.Config{
		Server:   pg.server,
		Project:  pg.project,
		Dial:     client.DialBrowser,
		Local:    sync.BrowserStore{},
		Export:   download,
		OpenFile: sh.pick,
		Inpaint:  pg.inpaint,
		Theme:    pg.theme(),
		Log:      consoleLog,
	})
	if err != nil {
		pg.say("The canvas could not start: "+err.Error(), "failed")
		return
	}
	sh.app = a
	js.Global().Get("performance").Call("mark", "studio:app")
	sh.picker = newPicker(sh.imported)
	ebiten.SetWindowTitle(pg.name + " · Latent Studio")
	ebiten.SetRunnableOnUnfocused(true) // keep playing and saving while the page's dialogs have focus
	ebiten.SetTPS(60)
	err = ebiten.RunGameWithOptions(sh, &ebiten.RunGameOptions{})
	a.Close()
	if err != nil && !errors.Is(err, ebiten.Termination) {
		consoleLog("studio: %v", err)
		pg.say("The canvas stopped: "+err.Error()+". Your edits are kept on this device; reload the page.", "stopped")
	}
}

// page is what the frame's document says (web/components CanvasPage).
type page struct {
	doc, body         js.Value
	project, kind     string
	name, server      string
	prefersLightTheme bool
	inpaint           rolldoc.InpaintOptions // from the editor URL: ?sampling=&candidates=&repaint=&sampler=
}

func readPage() page {
	doc := js.Global().Get("document")
	body := doc.Get("body")
	data := body.Get("dataset")
	str := func(v js.Value) string {
		if v.Type() != js.TypeString {
			return ""
		}
		return v.String()
	}
	p := page{
		doc: doc, body: body,
		project: str(data.Get("project")),
		kind:    str(data.Get("kind")),
		name:    str(doc.Get("title")),
		server:  js.Global().Get("location").Get("origin").String(),
	}
	p.inpaint = inpaintParams(query())
	if mm := js.Global().Get("matchMedia"); mm.Type() == js.TypeFunction {
		p.prefersLightTheme = js.Global().Call("matchMedia", "(prefers-color-scheme: light)").Get("matches").Truthy()
	}
	return p
}

func (p page) theme() string {
	if p.prefersLightTheme {
		return "light"
	}
	return "dark"
}

// say shows a message over the canvas (in the loader's status line) and sets the frame's
// state, which tests and the loader read.
func (p page) say(msg, state string) {
	st := p.doc.Call("getElementById", "canvas-status")
	if st.Truthy() {
		st.Set("textContent", msg)
		st.Set("hidden", false)
	}
	p.body.Get("dataset").Set("state", state)
}

func consoleLog(format string, args ...any) {
	js.Global().Get("console").Call("log", fmt.Sprintf(format, args...))
}

// query is the frame's URL query, or else the editor page's around it (same origin): the
// inpainting defaults can be set on the editor's URL, e.g. /p/ID?sampling=8&candidates=2
// for a slow machine (and the browser tests).
func query() url.Values {
	q, _ := url.ParseQuery(strings.TrimPrefix(js.Global().Get("location").Get("search").String(), "?"))
	if len(q) > 0 {
		return q
	}
	func() {
		defer func() { _ = recover() }() // a parent of another origin throws
		parent := js.Global().Get("parent")
		if parent.Truthy() && !parent.Equal(js.Global()) {
			q, _ = url.ParseQuery(strings.TrimPrefix(parent.Get("location").Get("search").String(), "?"))
		}
	}()
	return q
}

// inpaintParams reads the inpainting defaults from a URL query; values out of the
// protocol's range are ignored (the app's own defaults stay).
func inpaintParams(q url.Values) rolldoc.InpaintOptions {
	num := func(name string, hi int) int {
		n, err := strconv.Atoi(q.Get(name))
		if err != nil || n < 1 || n > hi {
			return 0
		}
		return n
	}
	o := rolldoc.InpaintOptions{
		Sampling:   num("sampling", protocol.RollMaxSampling),
		Candidates: num("candidates", protocol.RollMaxCands),
		Repaint:    num("repaint", protocol.RollMaxRepaint),
	}
	switch s := q.Get("sampler"); s {
	case "euler", "dpm++2m", "dpm++2m-sde":
		o.Sampler = s
	}
	return o
}
