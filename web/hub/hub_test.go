package hub

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"latentstudio/studio/client"
	"latentstudio/studio/protocol"
	"latentstudio/web/engine"
	"latentstudio/web/jobs"
	"latentstudio/web/security"
)

type fixture struct {
	srv   *httptest.Server
	url   string
	hub   *Hub
	sched *jobs.Scheduler
}

func start(t testing.TB, cfg Config) *fixture {
	t.Helper()
	sched := jobs.New(jobs.Config{Workers: 2, QueueLimit: 4, ProgressHz: 100})
	sched.Register("burn", jobs.Kind{Live: true, Job: true, Run: jobs.Burn})
	sched.Register("echo", jobs.Kind{Live: true, Run: func(ctx context.Context, p json.RawMessage, _ jobs.Report) (jobs.Output, error) {
		return jobs.Output{Data: p, Frame: &protocol.Frame{Kind: protocol.KindTensor, Format: protocol.FormatU8, Shape: []int{len(p)}, Data: p}}, nil
	}})
	eng, err := engine.Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { eng.Close() })
	cfg.Engine = eng
	h := New(cfg, sched)
	srv := httptest.NewServer(h)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		h.Shutdown(ctx)
		sched.Shutdown(ctx)
		srv.Close()
	})
	return &fixture{srv: srv, url: "ws" + strings.TrimPrefix(srv.URL, "http"), hub: h, sched: sched}
}

func dial(t *testing.T, f *fixture, opts client.Options) *client.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, f.url, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

func ctx5(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return ctx
}

func TestHelloLiveJob(t *testing.T) {
	f := start(t, Config{})
	c := dial(t, f, client.Options{Name: "test"})
	w := c.Welcome()
	if w.Version != protocol.Version || w.Session == "" || w.Engine.Backend != "cpu" || len(w.Kinds) != 2 || w.Limits.Queue != 4 {
		t.Fatalf("welcome %+v", w)
	}
	r, err := c.Live(ctx5(t), "echo", map[string]int{"x": 7})
	if err != nil {
		t.Fatal(err)
	}
	if string(r.Result.Data) != `{"x":7}` || r.Frame == nil || r.Frame.Seq != r.Seq || string(r.Frame.Data) != `{"x":7}` {
		t.Fatalf("live result %+v frame %v", r.Result, r.Frame)
	}
	j, err := c.Submit(ctx5(t), "burn", jobs.BurnParams{MS: 5, Steps: 4}, "p1")
	if err != nil {
		t.Fatal(err)
	}
	done, _, err := j.Wait(ctx5(t))
	if err != nil || done.Job != j.ID {
		t.Fatal(err, done)
	}
	var last protocol.Progress
	for len(j.Progress()) > 0 {
		last = <-j.Progress()
	}
	if last.Percent != 100 || last.Stage != "step 4/4" {
		t.Fatalf("last progress %+v", last)
	}
	if _, err := c.Live(ctx5(t), "nope", nil); protocol.CodeOf(err) != protocol.NotFound {
		t.Fatalf("unknown kind: %v", err)
	}
}

func TestCancelAndQueueFull(t *testing.T) {
	f := start(t, Config{})
	c := dial(t, f, client.Options{})
	long, err := c.Submit(ctx5(t), "burn", jobs.BurnParams{MS: 10000}, "")
	if err != nil {
		t.Fatal(err)
	}
	var queued []*client.Job
	for range 4 {
		j, err := c.Submit(ctx5(t), "burn", jobs.BurnParams{MS: 1}, "")
		if err != nil {
			t.Fatal(err)
		}
		queued = append(queued, j)
	}
	if _, err := c.Submit(ctx5(t), "burn", nil, ""); protocol.CodeOf(err) != protocol.Busy {
		t.Fatalf("queue full: %v", err)
	}
	if err := long.Cancel(ctx5(t)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := long.Wait(ctx5(t)); protocol.CodeOf(err) != protocol.CancelledErr {
		t.Fatalf("cancelled job: %v", err)
	}
	for _, j := range queued {
		if _, _, err := j.Wait(ctx5(t)); err != nil {
			t.Fatal(err)
		}
	}
}

// rawDial opens a websocket without the client, for sending bad input.
func rawDial(t *testing.T, f *fixture, hdr http.Header) (*websocket.Conn, *http.Response, error) {
	t.Helper()
	ws, resp, err := websocket.DefaultDialer.Dial(f.url, hdr)
	if err == nil {
		t.Cleanup(func() { ws.Close() })
	}
	return ws, resp, err
}

func readErr(t *testing.T, ws *websocket.Conn) (uint64, *protocol.Error) {
	t.Helper()
	ws.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, b, err := ws.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	seq, m, err := protocol.DecodeReply(b)
	if err != nil {
		t.Fatal(err)
	}
	e, ok := m.(*protocol.Error)
	if !ok {
		t.Fatalf("want an error, got %s", b)
	}
	return seq, e
}

func TestBadInputKeepsServing(t *testing.T) {
	f := start(t, Config{MaxText: 4096})
	good := dial(t, f, client.Options{})
	ws, _, err := rawDial(t, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	send := func(s string) { ws.WriteMessage(websocket.TextMessage, []byte(s)) }
	send(`{"type":"live","seq":1,"body":{"kind":"echo"}}`)
	if _, e := readErr(t, ws); e.Code != protocol.BadInput || !strings.Contains(e.Message, "hello") {
		t.Fatalf("before hello: %v", e)
	}
	send(`{"type":"hello","seq":1,"body":{"version":1}}`)
	ws.ReadMessage() // welcome
	for _, c := range []struct {
		in   string
		code protocol.Code
		seq  uint64
	}{
		{`{"type":"live","seq":2,`, protocol.BadInput, 0},
		{`{"type":"teleport","seq":3}`, protocol.UnknownType, 3},
		{`{"type":"cancel","seq":4,"body":{"job":"j404"}}`, protocol.NotFound, 4},
		{`{"type":"save","seq":5,"body":{"project":"../../etc","file":"passwd"}}`, protocol.BadInput, 5},
		{`{"type":"hello","seq":6,"body":{"version":1}}`, protocol.BadInput, 6},
	} {
		send(c.in)
		if seq, e := readErr(t, ws); e.Code != c.code || seq != c.seq {
			t.Errorf("%s: got %v seq %d", c.in, e, seq)
		}
	}
	ws.WriteMessage(websocket.BinaryMessage, []byte("LS"))
	if _, e := readErr(t, ws); e.Code != protocol.BadInput {
		t.Errorf("binary: %v", e)
	}
	// An oversized frame closes the connection with 1009 (message too big).
	send(`{"type":"live","seq":9,"body":{"kind":"echo","params":{"x":"` + strings.Repeat("a", 5000) + `"}}}`)
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("after oversized frame: %v", err)
	}
	// Everyone else is still served.
	if _, err := good.Live(ctx5(t), "echo", map[string]int{"ok": 1}); err != nil {
		t.Fatal(err)
	}
}

func TestVersionMismatchCloses(t *testing.T) {
	f := start(t, Config{})
	ws, _, _ := rawDial(t, f, nil)
	ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","seq":1,"body":{"version":99}}`))
	if _, e := readErr(t, ws); e.Code != protocol.VersionCode {
		t.Fatalf("version: %v", e)
	}
	if _, _, err := ws.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseProtocolError) {
		t.Fatalf("after version error: %v", err)
	}
}

func TestOriginAndToken(t *testing.T) {
	f := start(t, Config{Guard: security.Guard{Token: "tok"}})
	_, resp, err := rawDial(t, f, http.Header{"Authorization": {"Bearer tok"}, "Origin": {"http://evil.example"}})
	if err == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong origin: %v %v", err, resp)
	}
	_, resp, err = rawDial(t, f, http.Header{"Authorization": {"Bearer nope"}})
	if err == nil || resp.StatusCode != http.StatusUnauthorized {
		t.Fatalf("bad token: %v", err)
	}
	if _, err := client.Dial(ctx5(t), f.url, client.Options{Token: "nope"}); protocol.CodeOf(err) != protocol.Unauthorized {
		t.Fatalf("client with bad token: %v", err)
	}
	origin := strings.Replace(f.srv.URL, "127.0.0.1", "127.0.0.1", 1)
	c := dial(t, f, client.Options{Token: "tok", Origin: origin})
	if _, err := c.Live(ctx5(t), "echo", nil); err != nil {
		t.Fatal(err)
	}
}

func TestRateLimit(t *testing.T) {
	f := start(t, Config{Rate: 5, Burst: 5})
	ws, _, _ := rawDial(t, f, nil)
	ws.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","seq":1,"body":{"version":1}}`))
	ws.ReadMessage()
	for i := range 10 {
		b, _ := protocol.Encode(uint64(i+2), protocol.Status{})
		ws.WriteMessage(websocket.TextMessage, b)
	}
	limited := 0
	for range 10 {
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if _, m, _ := protocol.DecodeReply(b); m.Type() == protocol.TypeError {
			if m.(*protocol.Error).Code != protocol.RateLimited {
				t.Fatalf("%s", b)
			}
			limited++
		}
	}
	if limited < 5 {
		t.Fatalf("only %d of 10 rate limited with burst 4", limited)
	}
}

// A client that reconnects within the grace gets its running job back.
func TestResumeAfterDisconnect(t *testing.T) {
	f := start(t, Config{ResumeGrace: 5 * time.Second})
	c := dial(t, f, client.Options{})
	j, err := c.Submit(ctx5(t), "burn", jobs.BurnParams{MS: 40, Steps: 5}, "p9")
	if err != nil {
		t.Fatal(err)
	}
	session := c.Welcome().Session
	c.Close()
	ws, _, _ := rawDial(t, f, nil)
	b, _ := protocol.Encode(1, protocol.Hello{Version: 1, Resume: session})
	ws.WriteMessage(websocket.TextMessage, b)
	_, b, _ = ws.ReadMessage()
	_, m, _ := protocol.DecodeReply(b)
	w := m.(protocol.Welcome)
	if w.Session != session || len(w.Jobs) != 1 || w.Jobs[0].ID != j.ID || w.Jobs[0].Project != "p9" {
		t.Fatalf("resumed welcome %+v", w)
	}
	for { // and its events keep coming to the new connection
		ws.SetReadDeadline(time.Now().Add(5 * time.Second))
		_, b, err := ws.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if _, m, _ := protocol.DecodeReply(b); m.Type() == protocol.TypeDone {
			break
		}
	}
	// Without a resume, the grace ends the session's jobs.
	f2 := start(t, Config{ResumeGrace: 50 * time.Millisecond})
	c2 := dial(t, f2, client.Options{})
	j2, _ := c2.Submit(ctx5(t), "burn", jobs.BurnParams{MS: 10000}, "p7")
	c2.Close()
	deadline := time.Now().Add(5 * time.Second)
	for {
		js := f2.sched.ProjectJobs("p7")
		if len(js) == 0 || (js[0].ID == j2.ID && js[0].State == protocol.JobCancelled) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("job not cancelled after the grace: %+v", js)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestClientReconnects(t *testing.T) {
	f := start(t, Config{})
	drops := make(chan error, 4)
	c := dial(t, f, client.Options{Reconnect: true, MinBackoff: 10 * time.Millisecond, OnDisconnect: func(err error) { drops <- err }})
	first := c.Welcome().Session
	// Drop every connection from the server side.
	f.hub.mu.Lock()
	for cn := range f.hub.conns {
		cn.closeWith(websocket.CloseGoingAway, "test")
	}
	f.hub.mu.Unlock()
	<-drops
	var err error
	for range 100 {
		if _, err = c.Live(ctx5(t), "echo", nil); err == nil {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		t.Fatal(err)
	}
	if c.Welcome().Session != first {
		t.Fatalf("session not resumed: %s → %s", first, c.Welcome().Session)
	}
}

// A peer that stops answering pings is dropped; one that answers stays.
func TestKeepalive(t *testing.T) {
	f := start(t, Config{PingInterval: 50 * time.Millisecond, PongWait: time.Second})
	alive := dial(t, f, client.Options{OnDisconnect: func(err error) { t.Log("alive dropped:", err) }}) // the client reads, so gorilla answers pings
	silent, _, err := rawDial(t, f, nil)
	if err != nil {
		t.Fatal(err)
	}
	silent.SetPingHandler(func(string) error { return nil }) // never pong
	silent.WriteMessage(websocket.TextMessage, []byte(`{"type":"hello","seq":1,"body":{"version":1}}`))
	go func() { // read (so pings arrive) but never answer them
		for {
			if _, _, err := silent.ReadMessage(); err != nil {
				return
			}
		}
	}()
	deadline := time.Now().Add(5 * time.Second)
	for f.hub.Conns() != 1 {
		if time.Now().After(deadline) {
			t.Fatalf("%d connections; the silent one was not dropped", f.hub.Conns())
		}
		time.Sleep(20 * time.Millisecond)
	}
	time.Sleep(1200 * time.Millisecond) // more than a pong wait
	if _, err := alive.Status(ctx5(t)); err != nil {
		t.Fatalf("the answering client was dropped: %v", err)
	}
}

// BenchmarkLiveRoundTrip: one client, one live request at a time, through the real hub on
// loopback (JSON result and a binary frame back).
func BenchmarkLiveRoundTrip(b *testing.B) {
	f := start(b, Config{Rate: 1e9, Burst: 1 << 30})
	c, err := client.Dial(context.Background(), f.url, client.Options{})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	ctx := context.Background()
	for b.Loop() {
		if _, err := c.Live(ctx, "echo", map[string]int{"x": 1}); err != nil {
			b.Fatal(err)
		}
	}
}
