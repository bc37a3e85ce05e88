package server

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"testing"
	"time"

	"latentstudio/studio/client"
	"latentstudio/studio/protocol"
	"latentstudio/web/engine"
	"latentstudio/web/jobs"
)

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startServer(t *testing.T, cfg Config) (*Server, context.CancelFunc, chan error) {
	t.Helper()
	if cfg.Listen == "" {
		cfg.Listen = "127.0.0.1:0"
	}
	cfg.Data = t.TempDir()
	cfg.Log, cfg.Out = quiet(), io.Discard
	s, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return s, cancel, done
}

func TestServeSaveAndShutdown(t *testing.T) {
	s, cancel, done := startServer(t, Config{TestJobs: true, Workers: 1})
	resp, err := http.Get("http://" + s.Addr() + "/")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Content-Security-Policy"), "script-src 'self'") {
		t.Fatalf("home: %d, CSP %q", resp.StatusCode, resp.Header.Get("Content-Security-Policy"))
	}
	ctx, cc := context.WithTimeout(context.Background(), 10*time.Second)
	defer cc()
	c, err := client.Dial(ctx, "ws://"+s.Addr()+"/ws", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	m, _ := s.Projects.Create("pianoroll", "Saved")
	song, _ := s.Store.ReadFile(m.ID, "song.mid")
	v, err := c.Save(ctx, m.ID, "song.mid", song)
	if err != nil || v != 2 {
		t.Fatal(err, v)
	}
	if _, err := c.Save(ctx, m.ID, "song.mid", []byte("not midi")); protocol.CodeOf(err) != protocol.BadInput {
		t.Fatalf("bad payload: %v", err)
	}
	if _, err := c.Save(ctx, "pnothere", "song.mid", song); protocol.CodeOf(err) != protocol.NotFound {
		t.Fatalf("missing project: %v", err)
	}
	j, err := c.Submit(ctx, "burn", jobs.BurnParams{MS: 10000}, m.ID)
	if err != nil {
		t.Fatal(err)
	}
	for s.Jobs.ProjectJobs(m.ID)[0].State != protocol.JobRunning {
		time.Sleep(5 * time.Millisecond)
	}
	cancel() // as SIGINT does
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil // for the cleanup
	if _, _, err := j.Wait(ctx); protocol.CodeOf(err) != protocol.CancelledErr || !strings.Contains(err.Error(), "shutdown") {
		t.Fatalf("job at shutdown: %v", err)
	}
	if got, _ := s.Store.Get(m.ID); got.Version != 2 {
		t.Fatalf("version after shutdown %d", got.Version)
	}
}

func TestNonLoopbackNeedsToken(t *testing.T) {
	s, err := New(Config{Listen: "0.0.0.0:0", Data: t.TempDir(), Log: quiet(), Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Token()) < 20 {
		t.Fatalf("no token generated: %q", s.Token())
	}
	s2, _ := New(Config{Listen: "127.0.0.1:0", Data: t.TempDir(), Log: quiet(), Out: io.Discard})
	if s2.Token() != "" {
		t.Fatal("loopback got a token unasked")
	}
	if _, err := New(Config{Engine: "cuda", Data: t.TempDir(), Log: quiet()}); err == nil {
		t.Fatal("cuda accepted without a CUDA engine")
	}
}

func TestTokenGuardsPagesAndSocket(t *testing.T) {
	s, _, _ := startServer(t, Config{Token: "letmein"})
	resp, _ := http.Get("http://" + s.Addr() + "/")
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("page without token: %d", resp.StatusCode)
	}
	if !strings.HasSuffix(s.URL, "?token=letmein") {
		t.Fatalf("printed URL %s", s.URL)
	}
	ctx, cc := context.WithTimeout(context.Background(), 5*time.Second)
	defer cc()
	if _, err := client.Dial(ctx, "ws://"+s.Addr()+"/ws", client.Options{Token: "wrong"}); protocol.CodeOf(err) != protocol.Unauthorized {
		t.Fatalf("bad token: %v", err)
	}
	c, err := client.Dial(ctx, "ws://"+s.Addr()+"/ws", client.Options{Token: "letmein"})
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	c, err = client.Dial(ctx, "ws://"+s.Addr()+"/ws?token=letmein", client.Options{})
	if err != nil {
		t.Fatal("token in the websocket URL:", err)
	}
	c.Close()
}

func TestAddKind(t *testing.T) {
	AddKind("double", func(eng *engine.Engine) (jobs.Kind, error) {
		return jobs.Kind{Live: true, Run: func(ctx context.Context, p json.RawMessage, _ jobs.Report) (jobs.Output, error) {
			var in struct{ X *float64 }
			if err := json.Unmarshal(p, &in); err != nil || in.X == nil {
				return jobs.Output{}, protocol.Errorf(protocol.BadInput, "want {\"x\": number}")
			}
			return jobs.Output{Data: map[string]any{"twice": 2 * *in.X, "backend": eng.Info().Backend}}, nil
		}}, nil
	})
	defer delete(kindMakers, "double")
	s, _, _ := startServer(t, Config{})
	ctx, cc := context.WithTimeout(context.Background(), 5*time.Second)
	defer cc()
	c, err := client.Dial(ctx, "ws://"+s.Addr()+"/ws", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if k := c.Welcome().Kinds; len(k) != 1 || k[0] != "double" {
		t.Fatalf("kinds %v", k)
	}
	if _, err := c.Live(ctx, "double", json.RawMessage(`{}`)); protocol.CodeOf(err) != protocol.BadInput {
		t.Fatalf("bad params: %v", err)
	}
	r, err := c.Live(ctx, "double", map[string]float64{"x": 21})
	if err != nil || string(r.Result.Data) != `{"backend":"cpu","twice":42}` {
		t.Fatalf("double: %s %v", r.Result.Data, err)
	}
}
