package handlers

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"latentstudio/studio/protocol"
	"latentstudio/web/canvas"
	"latentstudio/web/engine"
	"latentstudio/web/jobs"
	"latentstudio/web/security"
)

// The editor's frame carries the project and where to load the canvas from; the canvas
// files are served beside it; without a canvas the frame says why.
func TestCanvasFrame(t *testing.T) {
	e := setup(t)
	resp := e.post(t, "/projects", url.Values{"kind": {"pianoroll"}, "name": {"Frame"}})
	id := strings.TrimPrefix(resp.Header.Get("Location"), "/p/")

	resp, doc := e.get(t, "/p/"+id+"/canvas")
	body := doc.Find("body#canvas")
	if resp.StatusCode != 200 || body.AttrOr("data-project", "") != id || body.AttrOr("data-state", "") != canvas.Missing ||
		!strings.Contains(doc.Find("#canvas-status").Text(), "no browser canvas") || doc.Find(`script[src="/static/canvas.js"]`).Length() != 1 {
		t.Fatalf("frame without a canvas: %d %v %q", resp.StatusCode, body.Nodes, doc.Find("#canvas-status").Text())
	}
	if resp, _ := e.get(t, "/p/nope/canvas"); resp.StatusCode != http.StatusNotFound {
		t.Fatalf("frame of a missing project: %d", resp.StatusCode)
	}

	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, canvas.WasmFile), []byte("\x00asm\x01\x00\x00\x00"), 0o644)
	os.WriteFile(filepath.Join(dir, canvas.ExecFile), []byte("// glue"), 0o644)
	cv := canvas.Open(canvas.Config{Dir: dir, Log: slog.New(slog.NewTextHandler(io.Discard, nil))})
	st := cv.Wait(context.Background())
	eng, _ := engine.Open("cpu")
	defer eng.Close()
	h := &Handlers{Projects: e.svc, Jobs: e.sched, Engine: eng, Canvas: cv}
	srv := httptest.NewServer(h.Routes())
	defer srv.Close()
	e.srv = srv
	resp, doc = e.get(t, "/p/"+id+"/canvas")
	if resp.Header.Get("Content-Security-Policy") != security.CanvasCSP {
		t.Fatalf("frame CSP %q", resp.Header.Get("Content-Security-Policy"))
	}
	body = doc.Find("body#canvas")
	if body.AttrOr("data-state", "") != canvas.Ready || body.AttrOr("data-wasm", "") != st.Wasm || body.AttrOr("data-exec", "") != st.Exec ||
		body.AttrOr("data-main", "") != "song.mid" {
		t.Fatalf("frame with a canvas: %v", body.Nodes[0].Attr)
	}
	if resp, _ := e.get(t, st.Wasm); resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/wasm" {
		t.Fatalf("wasm: %d %s", resp.StatusCode, resp.Header.Get("Content-Type"))
	}
}

// The canvas shows its own inpainting jobs: the page's job bar leaves them out (a reload
// ends the canvas's session, so the page could only show a frozen bar).
func TestEditorLeavesCanvasJobsToTheCanvas(t *testing.T) {
	e := setup(t)
	e.sched.Register(protocol.KindRollInpaint, jobs.Kind{Job: true, Run: jobs.Burn})
	m, _ := e.svc.Create("pianoroll", "Inpainting")
	sess, _ := e.sched.Open("s1", func(jobs.Event) {})
	defer sess.Close("test")
	p, _ := json.Marshal(jobs.BurnParams{MS: 100, Steps: 50})
	if _, _, err := sess.Submit(1, protocol.KindRollInpaint, p, m.ID); err != nil {
		t.Fatal(err)
	}
	for end := time.Now().Add(5 * time.Second); len(e.sched.ProjectJobs(m.ID)) == 0; time.Sleep(20 * time.Millisecond) {
		if time.Now().After(end) {
			t.Fatal("the job never showed up")
		}
	}
	_, doc := e.get(t, "/p/"+m.ID)
	if _, hidden := doc.Find("#job").Attr("hidden"); !hidden || doc.Find("#job").AttrOr("data-job", "x") != "" {
		t.Fatalf("page job bar shows the canvas's job: %q", doc.Find("#job-label").Text())
	}
}
