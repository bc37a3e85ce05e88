//go:build js && wasm

// Command wasm is the studio canvas in the browser: the editor page's frame (/p/ID/canvas)
// loads it (web/static/canvas.js). It reads the project from the page, builds studio/app with
// the browser's parts (WebSocket transport, localStorage, downloads, the file picker) and runs
// it with Ebiten, which draws into a <canvas> it adds to the frame's body. See README.md.
package main

import (
	"errors"
	"fmt"
	"syscall/js"

	"github.com/hajimehoshi/ebiten/v2"

	"latentstudio/studio/app"
	"latentstudio/studio/client"
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
