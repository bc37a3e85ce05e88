package components

import (
	"strings"
	"testing"
)

// The canvas frame says what the person waits for, and carries what the loader and the
// wasm shell read.
func TestCanvasPageStates(t *testing.T) {
	for _, c := range []struct {
		cv   Canvas
		text string
	}{
		{Canvas{ID: "p1", State: "building"}, "Building the canvas"},
		{Canvas{ID: "p1", State: "ready", Wasm: "/wasm/ab/studio.wasm", Exec: "/wasm/ab/wasm_exec.js"}, "Loading the canvas"},
		{Canvas{ID: "p1", State: "failed", Message: "building the browser canvas failed: <oops>"}, "building the browser canvas failed: <oops>"},
		{Canvas{ID: "p1", State: "missing", Message: "start the studio with --wasm DIR"}, "--wasm DIR"},
	} {
		doc := render(t, CanvasPage(c.cv))
		body := doc.Find("body#canvas")
		if got := doc.Find("#canvas-status").Text(); !strings.Contains(got, c.text) {
			t.Errorf("%s: status %q, want %q", c.cv.State, got, c.text)
		}
		if body.AttrOr("data-project", "") != "p1" || body.AttrOr("data-state", "") != c.cv.State ||
			body.AttrOr("data-wasm", "") != c.cv.Wasm || body.AttrOr("data-exec", "") != c.cv.Exec {
			t.Errorf("%s: body %v", c.cv.State, body.Nodes[0].Attr)
		}
		if doc.Find(`script[src="/static/canvas.js"]`).Length() != 1 || doc.Find("script:not([src])").Length() != 0 {
			t.Errorf("%s: scripts (CSP allows only our own files)", c.cv.State)
		}
	}
}
