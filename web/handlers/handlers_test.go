package handlers

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/PuerkitoBio/goquery"

	"latentstudio/web/engine"
	"latentstudio/web/jobs"
	"latentstudio/web/projects"
	"latentstudio/web/store"
)

type env struct {
	srv   *httptest.Server
	svc   *projects.Service
	sched *jobs.Scheduler
	http  *http.Client
}

func setup(t *testing.T) *env {
	t.Helper()
	st, err := store.Open(t.TempDir(), 5)
	if err != nil {
		t.Fatal(err)
	}
	svc := projects.New(st)
	sched := jobs.New(jobs.Config{Workers: 1})
	sched.Register("burn", jobs.Kind{Job: true, Run: jobs.Burn})
	t.Cleanup(func() { sched.Shutdown(context.Background()) })
	eng, err := engine.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	h := &Handlers{Projects: svc, Jobs: sched, Engine: eng, TestJobs: []string{"burn"}}
	srv := httptest.NewServer(h.Routes())
	t.Cleanup(srv.Close)
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	return &env{srv: srv, svc: svc, sched: sched, http: c}
}

func (e *env) get(t *testing.T, path string) (*http.Response, *goquery.Document) {
	t.Helper()
	resp, err := e.http.Get(e.srv.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	doc, _ := goquery.NewDocumentFromReader(resp.Body)
	return resp, doc
}

func (e *env) post(t *testing.T, path string, form url.Values) *http.Response {
	t.Helper()
	resp, err := e.http.PostForm(e.srv.URL+path, form)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp
}

func TestGalleryCreateOpenRenameDelete(t *testing.T) {
	e := setup(t)
	_, doc := e.get(t, "/")
	if doc.Find("#no-projects").Length() != 1 || doc.Find("#new-kind option").Length() != 1 ||
		doc.Find("#new-kind option").Text() != "Piano roll" {
		t.Fatal("empty gallery page is wrong")
	}
	if !strings.HasPrefix(doc.Find("#engine-label").Text(), "CPU") {
		t.Fatalf("engine status %q", doc.Find("#engine-label").Text())
	}
	resp := e.post(t, "/projects", url.Values{"kind": {"pianoroll"}, "name": {"Night <b>tune</b>"}})
	loc := resp.Header.Get("Location")
	if resp.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/p/") {
		t.Fatalf("create: %d %s", resp.StatusCode, loc)
	}
	id := strings.TrimPrefix(loc, "/p/")
	resp, doc = e.get(t, loc)
	if resp.StatusCode != 200 || doc.Find("iframe#studio-frame").Length() != 1 || doc.Find("#project-name").Text() != "Night <b>tune</b>" {
		t.Fatalf("editor: %d %q", resp.StatusCode, doc.Find("#project-name").Text())
	}
	if doc.Find("#shortcuts kbd").Length() < 4 || doc.Find("#settings #versions li").Length() != 1 || doc.Find("#test-job-burn").Length() != 1 {
		t.Fatal("editor lacks shortcuts, history or test job button")
	}
	if doc.Find("#job").AttrOr("hidden", "none") == "none" {
		t.Fatal("job bar shown without a job")
	}
	if tr, _ := e.http.Get(e.srv.URL + "/projects/" + id + "/thumb.png"); tr.StatusCode != 200 || tr.Header.Get("Content-Type") != "image/png" {
		t.Fatalf("thumbnail: %d", tr.StatusCode)
	}
	// The payload is a MIDI file the canvas can fetch.
	fr, _ := e.http.Get(e.srv.URL + "/projects/" + id + "/files/song.mid")
	b, _ := io.ReadAll(fr.Body)
	fr.Body.Close()
	if fr.Header.Get("Content-Type") != "audio/midi" || !bytes.HasPrefix(b, []byte("MThd")) {
		t.Fatalf("song.mid: %s %q", fr.Header.Get("Content-Type"), b[:4])
	}
	if n, err := url.PathUnescape(fr.Header.Get("X-Project-Name")); err != nil || n != "Night <b>tune</b>" { // the canvas's title
		t.Fatalf("song.mid's X-Project-Name %q: %q %v", fr.Header.Get("X-Project-Name"), n, err)
	}
	e.post(t, "/projects/"+id+"/rename", url.Values{"name": {"Day tune"}})
	_, doc = e.get(t, "/")
	if doc.Find(".card .name").Text() != "Day tune" || doc.Find(".card img.thumb").AttrOr("src", "") != "/projects/"+id+"/thumb.png" {
		t.Fatalf("gallery after rename: %q", doc.Find(".card .name").Text())
	}
	e.post(t, "/projects/"+id+"/duplicate", nil)
	_, doc = e.get(t, "/")
	if doc.Find(".card").Length() != 2 {
		t.Fatal("duplicate missing")
	}
	e.post(t, "/projects/"+id+"/delete", nil)
	_, doc = e.get(t, "/")
	if doc.Find(".card").Length() != 1 || doc.Find(".foot a").Text() != "Trash (1)" {
		t.Fatal("delete did not move to the trash")
	}
	_, doc = e.get(t, "/trash")
	action, _ := doc.Find(".trash form").Attr("action")
	e.post(t, action, nil)
	if _, doc = e.get(t, "/"); doc.Find(".card").Length() != 2 {
		t.Fatal("restore from trash")
	}
}

func TestBadRequests(t *testing.T) {
	e := setup(t)
	for path, want := range map[string]int{
		"/p/..%2f..%2fetc":                   400,
		"/p/nosuch":                          404,
		"/p/UPPER":                           400,
		"/projects/nosuch/files/song.mid":    404,
		"/projects/nosuch/thumb.png":         404,
		"/projects/x/files/..%2fmanifest.js": 404,
	} {
		if resp, _ := e.get(t, path); resp.StatusCode != want {
			t.Errorf("%s: %d, want %d", path, resp.StatusCode, want)
		}
	}
	resp, err := e.http.PostForm(e.srv.URL+"/projects", url.Values{"kind": {"pianoroll"}, "name": {"  "}})
	if err != nil {
		t.Fatal(err)
	}
	doc, _ := goquery.NewDocumentFromReader(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 400 || !strings.Contains(doc.Find("#form-error").Text(), "name") {
		t.Fatalf("empty name: %d %q", resp.StatusCode, doc.Find("#form-error").Text())
	}
	if r := e.post(t, "/projects", url.Values{"kind": {"toon"}, "name": {"x"}}); r.StatusCode != 400 {
		t.Fatalf("unknown kind: %d", r.StatusCode)
	}
}

func TestExportImportAndVersions(t *testing.T) {
	e := setup(t)
	m, _ := e.svc.Create("pianoroll", "Zip me")
	song, _ := e.svc.Store.ReadFile(m.ID, "song.mid")
	e.svc.Save(m.ID, "song.mid", song)
	resp, err := e.http.Get(e.srv.URL + "/projects/" + m.ID + "/export.zip")
	if err != nil {
		t.Fatal(err)
	}
	zipBytes, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, _ := mw.CreateFormFile("zip", "p.zip")
	fw.Write(zipBytes)
	mw.Close()
	resp, err = e.http.Post(e.srv.URL+"/projects/import", mw.FormDataContentType(), &body)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("import: %d", resp.StatusCode)
	}
	list, _, _ := e.svc.Store.List()
	if len(list) != 2 {
		t.Fatalf("after import %d projects", len(list))
	}
	_, doc := e.get(t, "/p/"+m.ID)
	if doc.Find("#versions li").Length() != 2 || doc.Find("#versions em").Length() != 1 {
		t.Fatal("history lists two versions, one current")
	}
	if r := e.post(t, "/projects/"+m.ID+"/restore/1", nil); r.StatusCode != http.StatusSeeOther {
		t.Fatalf("restore: %d", r.StatusCode)
	}
	if got, _ := e.svc.Store.Get(m.ID); got.Version != 3 {
		t.Fatalf("restore made version %d", got.Version)
	}
}

// A page reloaded while a job of its project runs shows the job again.
func TestEditorShowsRunningJob(t *testing.T) {
	e := setup(t)
	m, _ := e.svc.Create("pianoroll", "Busy")
	sess, _ := e.sched.Open("s1", func(jobs.Event) {})
	p, _ := json.Marshal(jobs.BurnParams{MS: 100, Steps: 50})
	st, _, err := sess.Submit(1, "burn", p, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, doc := e.get(t, "/p/"+m.ID)
		job := doc.Find("#job")
		if job.AttrOr("data-state", "") == "running" && doc.Find("#job-progress").AttrOr("value", "0") != "0" {
			if job.AttrOr("data-job", "") != st.ID || !strings.Contains(doc.Find("#job-label").Text(), "burn: running") {
				t.Fatalf("job bar %q", doc.Find("#job-label").Text())
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("running job never shown")
		}
		time.Sleep(50 * time.Millisecond)
	}
	sess.Close("test")
}
