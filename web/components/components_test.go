package components

import (
	"bytes"
	"context"
	"testing"

	"github.com/PuerkitoBio/goquery"
	"github.com/a-h/templ"
)

func render(t *testing.T, c templ.Component) *goquery.Document {
	t.Helper()
	var buf bytes.Buffer
	if err := c.Render(context.Background(), &buf); err != nil {
		t.Fatal(err)
	}
	doc, err := goquery.NewDocumentFromReader(&buf)
	if err != nil {
		t.Fatal(err)
	}
	return doc
}

func TestJobBarPicksTheJobToShow(t *testing.T) {
	cases := []struct {
		jobs    []Job
		id      string
		label   string
		percent string
		cancel  bool
	}{
		{nil, "", "No job running", "0", false},
		{[]Job{{ID: "j1", Kind: "burn", State: "done", Percent: 100}}, "j1", "burn: done", "100", false},
		{[]Job{{ID: "j1", Kind: "a", State: "done"}, {ID: "j2", Kind: "b", State: "queued"}, {ID: "j3", Kind: "c", State: "running", Percent: 40, Stage: "step 2/5", ETA: "3 s"}},
			"j3", "c: running 40% · step 2/5 · 3 s left", "40", true},
		{[]Job{{ID: "j2", Kind: "b", State: "queued"}}, "j2", "b: queued", "0", true},
	}
	for _, c := range cases {
		doc := render(t, EditorPage(Editor{ID: "p1", Name: "x", Jobs: c.jobs}))
		job := doc.Find("#job")
		if job.AttrOr("data-job", "") != c.id || doc.Find("#job-label").Text() != c.label ||
			doc.Find("#job-progress").AttrOr("value", "") != c.percent {
			t.Errorf("jobs %v: bar %q %q %q", c.jobs, job.AttrOr("data-job", ""), doc.Find("#job-label").Text(), doc.Find("#job-progress").AttrOr("value", ""))
		}
		_, hidden := job.Attr("hidden")
		_, disabled := doc.Find("#job-cancel").Attr("disabled")
		if hidden != (c.id == "") || disabled == c.cancel {
			t.Errorf("jobs %v: hidden %v, cancel disabled %v", c.jobs, hidden, disabled)
		}
	}
}

func TestPagesEscapeNames(t *testing.T) {
	doc := render(t, HomePage(Home{Cards: []Card{{ID: "p1", Name: `<script>alert(1)</script>`, Kind: "Piano roll"}}}))
	if doc.Find("script[src]").Length() != 1 || doc.Find(".card .name").Text() != `<script>alert(1)</script>` {
		t.Fatal("a project name became markup")
	}
	if doc.Find(".placeholder").Text() != "<" {
		t.Fatalf("placeholder initial %q", doc.Find(".placeholder").Text())
	}
	doc = render(t, EditorPage(Editor{ID: "p1", Name: "Song", Label: "Piano roll", Engine: Engine{Backend: "cpu", Label: "CPU · 2 threads", Reason: "auto"}}))
	if doc.Find("iframe#studio-frame").Length() != 1 || doc.Find("#engine-label").Text() != "CPU · 2 threads" ||
		doc.Find("#engine-status").AttrOr("data-backend", "") != "cpu" || doc.Find("#shortcuts tr").Length() != len(Shortcuts) {
		t.Fatal("editor page lacks the canvas, the engine status or the shortcut sheet")
	}
	if doc.Find(".test-job").Length() != 0 {
		t.Fatal("test job buttons without --test-jobs")
	}
}
