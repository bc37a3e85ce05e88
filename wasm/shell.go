//go:build js && wasm

package main

import (
	"encoding/json"
	"errors"
	"fmt"
	gosync "sync"
	"syscall/js"

	"github.com/hajimehoshi/ebiten/v2"

	"latentstudio/studio/app"
	"latentstudio/studio/rolldoc"
)

// shell wraps the app as the game Ebiten runs: it hands work from browser callbacks to the
// game loop, and publishes the app's state for the page and its tests.
type shell struct {
	app    *app.App
	page   page
	picker js.Value

	mu      gosync.Mutex
	pending []func()

	ticks     int    // Updates run
	last      string // last published state (JSON)
	drawn     bool   // a frame was drawn
	announced bool   // studioReady was set
}

var _ ebiten.LayoutFer = (*shell)(nil)

// run hands f to the game loop (from a browser callback's goroutine).
func (s *shell) run(f func()) {
	s.mu.Lock()
	s.pending = append(s.pending, f)
	s.mu.Unlock()
}

func (s *shell) Update() error {
	s.mu.Lock()
	work := s.pending
	s.pending = nil
	s.mu.Unlock()
	for _, f := range work {
		f()
	}
	if err := s.app.Update(); err != nil {
		return err
	}
	s.ticks++
	js.Global().Set("studioTicks", s.ticks) // game ticks (the app may skip drawing unchanged frames)
	s.publish()
	return nil
}

func (s *shell) Draw(dst *ebiten.Image) {
	s.app.Draw(dst)
	s.drawn = true
}

func (s *shell) Layout(w, h int) (int, int)              { return s.app.Layout(w, h) }
func (s *shell) LayoutF(w, h float64) (float64, float64) { return s.app.LayoutF(w, h) }

// publish sets window.studioState to the app's state when it changed, and once the project
// is up and a frame was drawn, window.studioReady = {at: epoch ms} (load time measurements
// compare it with the page's performance.timeOrigin).
func (s *shell) publish() {
	st := s.app.State()
	b, err := json.Marshal(st)
	if err != nil {
		return
	}
	if j := string(b); j != s.last {
		s.last = j
		win := js.Global()
		win.Set("studioState", win.Get("JSON").Call("parse", j))
	}
	if st.Ready && s.drawn && !s.announced {
		s.announced = true
		perf := js.Global().Get("performance")
		at := perf.Get("timeOrigin").Float() + perf.Call("now").Float()
		ready := js.Global().Get("Object").New()
		ready.Set("at", at)
		js.Global().Set("studioReady", ready)
		s.page.body.Get("dataset").Set("state", "ready")
	}
}

// pick opens the browser's file picker (the app's "Open MIDI…").
func (s *shell) pick() {
	if s.picker.Truthy() {
		s.picker.Set("value", "")
		s.picker.Call("click")
	}
}

// imported receives a picked file (or why there is none) and hands it to the app on the
// game loop; the app refuses what it cannot open with a message and keeps the song.
func (s *shell) imported(name string, size int, data []byte, err error) {
	s.run(func() {
		switch {
		case errors.Is(err, errTooLarge):
			s.app.Fail(fmt.Errorf("%s is %d MB; MIDI files over %d MB are refused (your song is unchanged)", name, size>>20, rolldoc.MaxImportBytes>>20))
		case err != nil:
			s.app.Fail(fmt.Errorf("could not read %s: %v (your song is unchanged)", name, err))
		default:
			_ = s.app.Import(name, data)
		}
	})
}

// newPicker adds a hidden <input type=file> to the page. A chosen file is read and handed to
// got; one over the import limit is refused before it is read (got gets errTooLarge).
func newPicker(got func(name string, size int, data []byte, err error)) js.Value {
	doc := js.Global().Get("document")
	in := doc.Call("createElement", "input")
	in.Set("type", "file")
	in.Set("id", "midi-file")
	in.Set("accept", ".mid,.midi,.kar,.smf,audio/midi,audio/x-midi")
	in.Set("hidden", true)
	in.Call("setAttribute", "aria-label", "Open a MIDI file")
	in.Call("addEventListener", "change", js.FuncOf(func(this js.Value, args []js.Value) any {
		files := in.Get("files")
		if !files.Truthy() || files.Length() == 0 {
			return nil
		}
		f := files.Index(0)
		name, size := f.Get("name").String(), f.Get("size").Int()
		if size > rolldoc.MaxImportBytes {
			got(name, size, nil, errTooLarge)
			return nil
		}
		var then, fail js.Func
		then = js.FuncOf(func(this js.Value, args []js.Value) any {
			buf := js.Global().Get("Uint8Array").New(args[0])
			data := make([]byte, buf.Length())
			js.CopyBytesToGo(data, buf)
			got(name, size, data, nil)
			then.Release()
			fail.Release()
			return nil
		})
		fail = js.FuncOf(func(this js.Value, args []js.Value) any {
			msg := "unreadable"
			if len(args) > 0 && args[0].Type() == js.TypeObject && args[0].Get("message").Type() == js.TypeString {
				msg = args[0].Get("message").String()
			}
			consoleLog("studio: reading %s failed: %s", name, msg)
			got(name, size, nil, errors.New(msg))
			then.Release()
			fail.Release()
			return nil
		})
		f.Call("arrayBuffer").Call("then", then, fail)
		return nil
	}))
	doc.Get("body").Call("appendChild", in)
	return in
}

var errTooLarge = fmt.Errorf("the file is over %d MB", rolldoc.MaxImportBytes>>20)

// download offers data as a file download (the app's export).
func download(name string, data []byte) error {
	win := js.Global()
	arr := win.Get("Uint8Array").New(len(data))
	js.CopyBytesToJS(arr, data)
	opts := win.Get("Object").New()
	opts.Set("type", "audio/midi")
	blob := win.Get("Blob").New([]any{arr}, opts)
	url := win.Get("URL").Call("createObjectURL", blob)
	doc := win.Get("document")
	a := doc.Call("createElement", "a")
	a.Set("href", url)
	a.Set("download", name)
	a.Set("hidden", true)
	doc.Get("body").Call("appendChild", a)
	a.Call("click")
	a.Call("remove")
	var revoke js.Func
	revoke = js.FuncOf(func(this js.Value, args []js.Value) any {
		win.Get("URL").Call("revokeObjectURL", url)
		revoke.Release()
		return nil
	})
	win.Call("setTimeout", revoke, 10000)
	return nil
}
