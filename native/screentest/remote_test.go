package screentest

import (
	"context"
	"io"
	"log/slog"
	"net/url"
	"testing"
	"time"

	"latentstudio/web/server"
)

// studio runs a studio server in the test process (the one a --server URL names).
func studio(t *testing.T, data, listen, token string) (*server.Server, context.CancelFunc) {
	t.Helper()
	s, err := server.New(server.Config{Listen: listen, Data: data, Token: token, Engine: "cpu",
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)), Out: io.Discard})
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Serve(ctx); close(done) }()
	stop := func() { cancel(); <-done }
	t.Cleanup(stop)
	return s, stop
}

// TestRemoteServerOffline opens a project of a studio server elsewhere (--server with the URL
// and token it printed), draws while that server is down and finds every note on the server
// after it is back on the same address: the desktop app keeps working offline and resyncs.
func TestRemoteServerOffline(t *testing.T) {
	needXvfb(t)
	data := t.TempDir()
	const token = "test-token-0123456789"
	srv, stop := studio(t, data, "127.0.0.1:0", token)
	addr := srv.Addr()
	m, err := srv.Projects.Create("pianoroll", "On the GPU box")
	if err != nil {
		t.Fatal(err)
	}

	x := startXvfb(t, screenW, screenH)
	u := "http://" + addr + "/?token=" + url.QueryEscape(token)
	a := startAppArgs(t, x, true, []string{"--server", u, "--project", m.ID})
	if a.project != m.ID {
		t.Fatalf("opened %q, want %q", a.project, m.ID)
	}
	a.data = data
	open := a.waitFor("the remote project", 60*time.Second, func(s state) bool { return s.Ready && s.View.StepW > 0 && s.Connection == "saved" })
	a.measure(open)
	top, left := int(open.st.View.Top), int(open.st.View.Left)
	open.st.click(a, "tool.Pencil")

	px, py := open.st.cell(left+2, top-6)
	a.drag(px, py, px, py)
	a.waitFor("the first note saved", 20*time.Second, func(s state) bool { return s.Notes == 1 && s.Connection == "saved" && s.Version > 1 })

	stop() // the server goes away
	a.waitFor("the app to notice", 30*time.Second, func(s state) bool { return s.Connection == "offline" || s.Connection == "reconnecting" })
	px, py = open.st.cell(left+6, top-9)
	a.drag(px, py, px, py)
	a.park(open.st)
	off := a.waitFor("the second note, offline", 10*time.Second, func(s state) bool { return s.Notes == 2 })
	if off.st.Connection == "saved" {
		t.Fatalf("saved with the server down: %+v", off.st)
	}
	saveTo(t, "desktop-offline", off.img)

	studio(t, data, addr, token) // back, same folder and address
	a.waitFor("the resync", 60*time.Second, func(s state) bool { return s.Connection == "saved" && s.Notes == 2 })
	song := savedSong(t, data, m.ID)
	if len(song.Notes) != 2 || song.Notes[0].Start != left+2 || int(song.Notes[0].Pitch) != top-6 || song.Notes[1].Start != left+6 || int(song.Notes[1].Pitch) != top-9 {
		t.Fatalf("server's song after the resync: %+v", song.Notes)
	}
}
