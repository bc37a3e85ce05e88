package synctest

import (
	"context"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	stdsync "sync"
	"testing"
	"time"

	"latentstudio/gpu"
	"latentstudio/studio/protocol"
	"latentstudio/web/music"
	"latentstudio/web/server"
)

func TestMain(m *testing.M) {
	gpu.Logf = func(string, ...any) {} // the engine's one line per server start
	if spec := os.Getenv("SYNCTEST_SERVE"); spec != "" {
		serveChild(spec) // never returns
	}
	os.Exit(m.Run())
}

func quiet() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

// studio is a real studio server on a fixed data folder and address, so that a test can stop
// it and start another in its place.
type studio struct {
	t      *testing.T
	dir    string
	addr   string
	srv    *server.Server
	cancel context.CancelFunc
	done   chan error
	inp    *music.Inpainter
}

// freeAddr picks a loopback port nothing listens on.
func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func newStudio(t *testing.T, inpaint bool) *studio {
	st := &studio{t: t, dir: t.TempDir(), addr: freeAddr(t)}
	st.start(inpaint)
	t.Cleanup(st.stop)
	return st
}

// start runs a server on the studio's folder and address (again, after stop).
func (st *studio) start(inpaint bool) {
	st.t.Helper()
	s, err := server.New(server.Config{Listen: st.addr, Data: st.dir, Engine: "cpu", Workers: 1, TestJobs: true, Log: quiet(), Out: io.Discard})
	if err != nil {
		st.t.Fatal(err)
	}
	if inpaint {
		st.inp = music.NewInpainter(s.Engine.Backend, shippedWeights(st.t))
		st.inp.Log = quiet()
		s.Jobs.Register(protocol.KindRollInpaint, st.inp.Kind())
	}
	for try := 0; ; try++ { // the port of the server just stopped may take a moment
		if err = s.Start(); err == nil || try == 50 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		st.t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	st.srv, st.cancel, st.done = s, cancel, make(chan error, 1)
	go func() { st.done <- s.Serve(ctx) }()
}

// stop shuts the server down as SIGINT does (jobs cancelled, sockets closed, store flushed).
func (st *studio) stop() {
	if st.cancel == nil {
		return
	}
	st.cancel()
	if err := <-st.done; err != nil {
		st.t.Errorf("server stop: %v", err)
	}
	if st.inp != nil {
		st.inp.Close()
		st.inp = nil
	}
	st.cancel = nil
}

func (st *studio) url() string { return "http://" + st.addr }

// song is the project's current song.mid as the server serves it.
func (st *studio) song(id string) []byte {
	st.t.Helper()
	b, err := st.srv.Store.ReadFile(id, "song.mid")
	if err != nil {
		st.t.Fatal(err)
	}
	return b
}

func (st *studio) newProject(name string) string {
	st.t.Helper()
	m, err := st.srv.Projects.Create("pianoroll", name)
	if err != nil {
		st.t.Fatal(err)
	}
	return m.ID
}

func shippedWeights(t *testing.T) string {
	dir, _ := os.Getwd()
	for d := dir; ; d = filepath.Dir(d) {
		p := filepath.Join(d, "assets", "pianoroll-hdit.safetensors")
		if _, err := os.Stat(p); err == nil {
			return p
		}
		if filepath.Dir(d) == d {
			t.Fatal("assets/pianoroll-hdit.safetensors not found above " + dir)
		}
	}
}

// proxy sits between a session and the studio so a test can cut the network while the
// server keeps running.
type proxy struct {
	ln     net.Listener
	target string
	mu     stdsync.Mutex
	conns  []net.Conn
	down   bool
}

func newProxy(t *testing.T, target string) *proxy {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &proxy{ln: ln, target: target}
	go p.serve()
	t.Cleanup(func() { ln.Close(); p.cut() })
	return p
}

func (p *proxy) url() string { return "http://" + p.ln.Addr().String() }

func (p *proxy) serve() {
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		p.mu.Lock()
		down := p.down
		p.mu.Unlock()
		if down {
			c.Close() // refused, as a network that is gone
			continue
		}
		u, err := net.Dial("tcp", p.target)
		if err != nil {
			c.Close()
			continue
		}
		p.mu.Lock()
		p.conns = append(p.conns, c, u)
		p.mu.Unlock()
		go func() { io.Copy(u, c); u.Close() }()
		go func() { io.Copy(c, u); c.Close() }()
	}
}

// cut drops every connection and refuses new ones until heal.
func (p *proxy) cut() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = true
	for _, c := range p.conns {
		c.Close()
	}
	p.conns = nil
}

func (p *proxy) heal() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.down = false
}

func waitFor(t *testing.T, what string, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
