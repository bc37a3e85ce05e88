// Package hub serves the studio websocket: it upgrades checked connections, runs one reader
// and one writer goroutine per connection (gorilla connections allow one writer at a time),
// keeps them alive with ping/pong, bounds frame sizes and message rates, and hands requests
// to the job scheduler. Sessions outlive a connection for a short grace so a reload resumes.
package hub

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"log/slog"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"latentstudio/studio/protocol"
	"latentstudio/web/engine"
	"latentstudio/web/jobs"
	"latentstudio/web/security"
)

// SaveFunc stores one payload of a project and returns the new version.
type SaveFunc func(project, file string, data []byte) (int, error)

// Config of a hub. Zero fields get the defaults in parentheses.
type Config struct {
	Guard        security.Guard
	Engine       engine.Status
	Save         SaveFunc
	MaxText      int           // read limit for a frame (protocol.MaxTextFrame)
	Rate         float64       // messages per second per connection (200)
	Burst        int           // (400)
	PingInterval time.Duration // (20 s)
	PongWait     time.Duration // silence after which a connection is dropped (60 s)
	WriteWait    time.Duration // (10 s)
	ResumeGrace  time.Duration // (15 s)
	SendQueue    int           // outgoing messages buffered per connection (512)
	Log          *slog.Logger
}

// Hub is the websocket endpoint.
type Hub struct {
	cfg      Config
	sched    *jobs.Scheduler
	upgrader websocket.Upgrader

	mu       sync.Mutex
	conns    map[*conn]struct{}
	detached map[string]*time.Timer // sessions waiting for a resume
	attached map[string]*conn
	closed   bool
	wg       sync.WaitGroup
}

// New makes a hub over a scheduler.
func New(cfg Config, sched *jobs.Scheduler) *Hub {
	if cfg.MaxText <= 0 {
		cfg.MaxText = protocol.MaxTextFrame
	}
	if cfg.Rate <= 0 {
		cfg.Rate = 200
	}
	if cfg.Burst <= 0 {
		cfg.Burst = 400
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 20 * time.Second
	}
	if cfg.PongWait <= 0 {
		cfg.PongWait = 60 * time.Second
	}
	if cfg.WriteWait <= 0 {
		cfg.WriteWait = 10 * time.Second
	}
	if cfg.ResumeGrace <= 0 {
		cfg.ResumeGrace = 15 * time.Second
	}
	if cfg.SendQueue <= 0 {
		cfg.SendQueue = 512
	}
	if cfg.Log == nil {
		cfg.Log = slog.Default()
	}
	if cfg.Engine == nil {
		cfg.Engine = engine.Func(func() protocol.EngineInfo {
			return protocol.EngineInfo{Backend: "none", Reason: "no engine attached to this hub"}
		})
	}
	h := &Hub{cfg: cfg, sched: sched, conns: map[*conn]struct{}{}, detached: map[string]*time.Timer{}, attached: map[string]*conn{}}
	h.upgrader = websocket.Upgrader{
		ReadBufferSize:  16 << 10,
		WriteBufferSize: 64 << 10,
		CheckOrigin:     cfg.Guard.OriginOK,
	}
	return h
}

// Limits are the limits announced in welcome.
func (h *Hub) Limits() protocol.Limits {
	return protocol.Limits{MaxText: h.cfg.MaxText, MaxBinary: protocol.MaxBinaryFrame, Rate: h.cfg.Rate, Burst: h.cfg.Burst, Queue: h.sched.Config().QueueLimit}
}

// ServeHTTP upgrades a request after checking its token and Origin.
func (h *Hub) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if !h.cfg.Guard.Authorized(r) {
		http.Error(w, "unauthorized: missing or wrong token", http.StatusUnauthorized)
		return
	}
	if !h.cfg.Guard.OriginOK(r) {
		http.Error(w, "forbidden: websocket Origin "+r.Header.Get("Origin")+" is not this studio", http.StatusForbidden)
		return
	}
	h.mu.Lock()
	closed := h.closed
	h.mu.Unlock()
	if closed {
		http.Error(w, "the studio is shutting down", http.StatusServiceUnavailable)
		return
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered already
	}
	if tc, ok := ws.NetConn().(*net.TCPConn); ok {
		_ = tc.SetNoDelay(true) // small control frames must not wait for Nagle
	}
	c := &conn{h: h, ws: ws, send: make(chan out, h.cfg.SendQueue), done: make(chan struct{}),
		bucket: newBucket(h.cfg.Rate, h.cfg.Burst), remote: r.RemoteAddr}
	h.mu.Lock()
	if h.closed {
		h.mu.Unlock()
		ws.Close()
		return
	}
	h.conns[c] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	go c.writer()
	c.reader()
}

// Shutdown closes every connection (going away) and cancels sessions waiting for a resume.
func (h *Hub) Shutdown(ctx context.Context) {
	h.mu.Lock()
	h.closed = true
	for c := range h.conns {
		c.closeWith(websocket.CloseGoingAway, "server shutting down")
	}
	for id, t := range h.detached {
		t.Stop()
		delete(h.detached, id)
		if s, ok := h.sched.Session(id); ok {
			s.Close("shutdown")
		}
	}
	h.mu.Unlock()
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-ctx.Done():
	}
}

// Conns is the number of open connections.
func (h *Hub) Conns() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.conns)
}

func newID(prefix string) string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return prefix + hex.EncodeToString(b[:])
}

// attach binds a session to a connection: a resumed one if it still exists, else a new one.
// A resume may overtake the old connection's own teardown (the client saw the close first):
// the session then moves over and the old connection is closed.
func (h *Hub) attach(c *conn, resume string) (*jobs.Session, bool, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if resume != "" {
		if sess, ok := h.sched.Session(resume); ok {
			if t, waiting := h.detached[resume]; waiting {
				t.Stop()
				delete(h.detached, resume)
			} else if old := h.attached[resume]; old != nil && old != c {
				old.closeWith(websocket.CloseNormalClosure, "session resumed on another connection")
			}
			h.attached[resume] = c
			sess.Attach(c.sink)
			return sess, true, nil
		}
	}
	sess, err := h.sched.Open(newID("s"), c.sink)
	if err != nil {
		return nil, false, err
	}
	h.attached[sess.ID] = c
	return sess, false, nil
}

// detach starts the resume grace for a connection's session, unless a newer connection has
// taken the session over already.
func (h *Hub) detach(c *conn, sess *jobs.Session) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.attached[sess.ID] != c {
		return
	}
	delete(h.attached, sess.ID)
	sess.Attach(nil)
	if h.closed {
		sess.Close("shutdown")
		return
	}
	id := sess.ID
	h.detached[id] = time.AfterFunc(h.cfg.ResumeGrace, func() {
		h.mu.Lock()
		_, still := h.detached[id]
		delete(h.detached, id)
		h.mu.Unlock()
		if still {
			sess.Close("disconnect")
		}
	})
}

func (h *Hub) forget(c *conn) {
	h.mu.Lock()
	delete(h.conns, c)
	h.mu.Unlock()
	h.wg.Done()
}

// bucket is a token-bucket rate limiter for one connection (used by its reader only).
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func newBucket(rate float64, burst int) *bucket {
	return &bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: time.Now()}
}

func (b *bucket) allow(now time.Time) bool {
	b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	b.last = now
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}
