//go:build e2e

package e2e

import (
	"context"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"latentstudio/web/server"
)

// chromium finds the browser, or skips (fails when STUDIO_E2E_REQUIRED=1, as in CI).
func chromium(t testing.TB) string {
	t.Helper()
	for _, c := range []string{os.Getenv("STUDIO_CHROMIUM"), "/usr/bin/chromium", "chromium", "chromium-browser"} {
		if c == "" {
			continue
		}
		if p, err := exec.LookPath(c); err == nil {
			return p
		}
	}
	if os.Getenv("STUDIO_E2E_REQUIRED") == "1" {
		t.Fatal("chromium not found and STUDIO_E2E_REQUIRED=1: apt-get install chromium")
	}
	t.Skip("chromium not found: apt-get install -y --no-install-recommends chromium (or set STUDIO_CHROMIUM)")
	return ""
}

func browser(t testing.TB) context.Context {
	t.Helper()
	return browserFor(t, 90*time.Second)
}

// browserFor is a headless chromium whose session ends after d.
func browserFor(t testing.TB, d time.Duration) context.Context {
	t.Helper()
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(chromium(t)),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.NoDefaultBrowserCheck,
		chromedp.UserDataDir(t.TempDir()),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.WindowSize(1280, 800),
	}
	actx, acancel := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(actx)
	tctx, tcancel := context.WithTimeout(ctx, d)
	t.Cleanup(func() { tcancel(); cancel(); acancel() })
	return tctx
}

func serve(t testing.TB, cfg server.Config) *server.Server {
	t.Helper()
	cfg.Listen, cfg.Data = "127.0.0.1:0", t.TempDir()
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	cfg.Out = io.Discard
	srv, err := server.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	sctx, stop := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(sctx) }()
	t.Cleanup(func() { stop(); <-done })
	return srv
}

// With a token, the printed URL logs the browser in (a cookie) and the page's websocket
// gets through; a page without the token is refused.
func TestTokenURL(t *testing.T) {
	ctx := browser(t)
	srv := serve(t, server.Config{Token: "e2e-secret"})
	base := strings.TrimSuffix(srv.URL, "/?token=e2e-secret")
	resp, err := chromedp.RunResponse(ctx, chromedp.Navigate(base+"/p/nothing"))
	if err != nil {
		t.Fatal(err)
	}
	if resp.Status != 401 {
		t.Fatalf("page without token: %d", resp.Status)
	}
	if err := chromedp.Do(ctx,
		chromedp.Navigate(srv.URL),
		chromedp.WaitVisible(chromedp.CSS("#create-form")),
		chromedp.SendKeys(chromedp.CSS("#new-name"), "Secret song"),
		chromedp.Click(chromedp.CSS("#create")),
		chromedp.WaitVisible(chromedp.CSS(`#engine-status[data-state="online"]`)),
	); err != nil {
		t.Fatal(err)
	}
	loc, _ := chromedp.Run(ctx, chromedp.Location())
	if strings.Contains(loc, "token") {
		t.Fatalf("the token stayed in the URL: %s", loc)
	}
}

func TestCreateOpenEditorSeeEngine(t *testing.T) {
	ctx := browser(t)
	srv := serve(t, server.Config{TestJobs: true})

	var mu sync.Mutex
	var problems []string
	if err := chromedp.Listen(ctx, func(ev any) {
		mu.Lock()
		defer mu.Unlock()
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			problems = append(problems, "exception: "+ev.ExceptionDetails.Text)
		case *runtime.EventConsoleAPICalled:
			if ev.Type == runtime.ConsoleAPICalledTypeError {
				var parts []string
				for _, a := range ev.Args {
					parts = append(parts, a.Description)
				}
				problems = append(problems, "console error: "+strings.Join(parts, " "))
			}
		}
	}); err != nil {
		t.Fatal(err)
	}
	type css = chromedp.CSS
	text := func(sel string) string {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Text(css(sel)))
		if err != nil {
			t.Fatalf("text of %s: %v", sel, err)
		}
		return v
	}
	value := func(id string) float64 {
		t.Helper()
		v, err := chromedp.Run(ctx, chromedp.Evaluate[float64]("document.getElementById("+strconv.Quote(id)+").value"))
		if err != nil {
			t.Fatalf("value of %s: %v", id, err)
		}
		return v
	}
	do := func(steps ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		for i, st := range steps {
			if err := chromedp.Do(ctx, st); err != nil {
				t.Fatalf("step %d: %v", i, err)
			}
		}
	}

	// Home page → create a piano-roll project → its editor opens.
	do(
		chromedp.Navigate(srv.URL),
		chromedp.WaitVisible(css("#create-form")),
		chromedp.SendKeys(css("#new-name"), "E2E song"),
		chromedp.Click(css("#create")),
		chromedp.WaitReady(css("iframe#studio-frame")),
	)
	url, err := chromedp.Run(ctx, chromedp.Location())
	if err != nil {
		t.Fatal(err)
	}
	if title := text("#project-name"); !strings.Contains(url, "/p/") || title != "E2E song" {
		t.Fatalf("after create: %s %q", url, title)
	}
	// The engine status comes alive over the websocket.
	do(chromedp.WaitVisible(css(`#engine-status[data-state="online"]`)))
	backend, err := chromedp.Run(ctx, chromedp.AttributeValue(css("#engine-status"), "data-backend"))
	if err != nil {
		t.Fatal(err)
	}
	if engine := text("#engine-label"); !strings.HasPrefix(engine, "CPU") || backend.Value != "cpu" {
		t.Fatalf("engine status %q backend %q", engine, backend.Value)
	}

	// A job's progress shows, survives a reload, and can be cancelled.
	do(
		chromedp.Click(css("#open-settings")),
		chromedp.WaitVisible(css("#test-job-burn")),
		chromedp.Click(css("#test-job-burn")),
		chromedp.WaitVisible(css(`#job[data-state="running"]`)),
		chromedp.Reload(),
		chromedp.WaitVisible(css(`#job[data-state="running"]`)), // rendered by the server
		chromedp.WaitVisible(css(`#engine-status[data-state="online"]`)),
	)
	p1 := value("job-progress")
	do(chromedp.Sleep(700 * time.Millisecond))
	p2 := value("job-progress") // updated over the resumed session
	do(
		chromedp.Click(css("#job-cancel")),
		chromedp.WaitVisible(css(`#job[data-state="cancelled"]`)),
	)
	if label := text("#job-label"); p2 <= p1 || !strings.Contains(label, "cancelled") {
		t.Fatalf("progress after reload %.0f → %.0f, label %q", p1, p2, label)
	}

	// The gallery lists the project.
	do(chromedp.Navigate(srv.URL), chromedp.WaitVisible(css("#gallery .card")))
	if names := text("#gallery .card .name"); names != "E2E song" {
		t.Fatalf("gallery %q", names)
	}
	mu.Lock()
	defer mu.Unlock()
	if len(problems) > 0 {
		t.Fatalf("page problems (CSP violations show up here too):\n%s", strings.Join(problems, "\n"))
	}
}
