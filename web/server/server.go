// Package server assembles the studio server from its rooms (store, projects, jobs, hub,
// handlers, engine) and runs it with a graceful shutdown.
package server

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"runtime"
	"time"

	"latentstudio/web/canvas"
	"latentstudio/web/engine"
	"latentstudio/web/handlers"
	"latentstudio/web/hub"
	"latentstudio/web/jobs"
	"latentstudio/web/projects"
	"latentstudio/web/security"
	"latentstudio/web/store"
)

// KindMaker builds a job kind on the opened engine (inpainting, in-betweening, scrubbing).
type KindMaker func(eng *engine.Engine) (jobs.Kind, error)

var kindMakers = map[string]KindMaker{}

// AddKind makes every server built afterwards register a kind of work under name. A feature
// calls it from an init in its own file of the studio command, e.g. web/cmd/studio/inpaint.go.
func AddKind(name string, make KindMaker) {
	if _, dup := kindMakers[name]; dup {
		panic("server: kind added twice: " + name)
	}
	kindMakers[name] = make
}

// DefaultListen is where the studio listens unless told otherwise.
const DefaultListen = "127.0.0.1:7380"

// Config of a studio server.
type Config struct {
	Listen   string         // host:port (DefaultListen)
	Data     string         // data directory ("" = XDG default)
	Token    string         // required from clients; generated for a non-loopback listen
	Engine   string         // auto | cuda | cpu
	Origins  []string       // extra allowed browser origins
	Keep     int            // versions kept per project
	Workers  int            // concurrent engine runs (GOMAXPROCS)
	TestJobs bool           // register the burn test kind (load, fault and browser tests)
	Wasm     string         // prebuilt browser canvas directory (task wasm); "" = build it from the source checkout
	Canvas   *canvas.Canvas // the browser canvas to serve (tests share one); nil = opened from Wasm
	Hub      hub.Config
	Log      *slog.Logger
	Out      io.Writer // where the URL is printed (stdout)
}

// Server is a configured studio.
type Server struct {
	cfg      Config
	Store    *store.Store
	Projects *projects.Service
	Jobs     *jobs.Scheduler
	Hub      *hub.Hub
	Engine   *engine.Engine
	Canvas   *canvas.Canvas // the browser canvas; the studio command starts its build at start
	http     *http.Server
	ln       net.Listener
	URL      string // what to open in a browser (with the token when there is one)
}

// New builds a server; nothing listens until Start.
func New(cfg Config) (*Server, error) {
	if cfg.Listen == "" {
		cfg.Listen = DefaultListen
	}
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.NewTextHandler(os.Stderr, nil))
	}
	if cfg.Out == nil {
		cfg.Out = os.Stdout
	}
	if cfg.Workers <= 0 {
		cfg.Workers = runtime.GOMAXPROCS(0)
	}
	if cfg.Data == "" {
		d, err := store.DefaultDir()
		if err != nil {
			return nil, err
		}
		cfg.Data = d
	}
	if !security.IsLoopback(cfg.Listen) && cfg.Token == "" {
		cfg.Token = security.NewToken()
		cfg.Log.Warn("listening beyond this machine: clients need the token printed with the URL", "listen", cfg.Listen)
	}
	st, err := store.Open(cfg.Data, cfg.Keep)
	if err != nil {
		return nil, err
	}
	eng, err := engine.Open(cfg.Engine) // logs which backend runs and why
	if err != nil {
		return nil, err
	}
	s := &Server{cfg: cfg, Store: st, Projects: projects.New(st), Engine: eng}
	s.Jobs = jobs.New(jobs.Config{Workers: cfg.Workers})
	for name, mk := range kindMakers {
		k, err := mk(eng)
		if err != nil {
			eng.Close()
			return nil, fmt.Errorf("job kind %s: %w", name, err)
		}
		s.Jobs.Register(name, k)
	}
	var testKinds []string
	if cfg.TestJobs {
		s.Jobs.Register("burn", jobs.Kind{Live: true, Job: true, Run: jobs.Burn})
		testKinds = append(testKinds, "burn")
	}
	guard := security.Guard{Token: cfg.Token, Origins: cfg.Origins}
	hc := cfg.Hub
	hc.Guard, hc.Engine, hc.Save, hc.Log = guard, eng, s.Projects.Save, cfg.Log
	s.Hub = hub.New(hc, s.Jobs)
	if cfg.Canvas == nil {
		cfg.Canvas = canvas.Open(canvas.Config{Dir: cfg.Wasm, Log: cfg.Log})
	}
	s.Canvas = cfg.Canvas
	h := &handlers.Handlers{Projects: s.Projects, Jobs: s.Jobs, Engine: eng, Socket: s.Hub, TestJobs: testKinds, Canvas: cfg.Canvas, Log: cfg.Log}
	s.http = &http.Server{
		Handler:           guard.Pages(h.Routes()),
		ReadHeaderTimeout: 10 * time.Second,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(cfg.Log.Handler(), slog.LevelWarn),
	}
	return s, nil
}

// Start listens and prints the URL; Serve answers requests.
func (s *Server) Start() error {
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("listen on %s: %w (is another studio running? pass --listen 127.0.0.1:PORT)", s.cfg.Listen, err)
	}
	s.ln = ln
	host := ln.Addr().String()
	if tcp, ok := ln.Addr().(*net.TCPAddr); ok && tcp.IP.IsUnspecified() {
		host = net.JoinHostPort("127.0.0.1", fmt.Sprint(tcp.Port))
	}
	s.URL = "http://" + host + "/"
	if s.cfg.Token != "" {
		s.URL += "?token=" + s.cfg.Token
	}
	fmt.Fprintf(s.cfg.Out, "Latent Studio: %s\n", s.URL)
	fmt.Fprintf(s.cfg.Out, "projects in %s; engine %s; Ctrl+C stops\n", s.Store.Dir(), engine.Label(s.Engine.Info()))
	return nil
}

// Addr is the address the server listens on (after Start).
func (s *Server) Addr() string { return s.ln.Addr().String() }

// Token is the token clients need ("" on loopback without --token).
func (s *Server) Token() string { return s.cfg.Token }

// Serve answers requests until ctx ends, then shuts down gracefully.
func (s *Server) Serve(ctx context.Context) error {
	errc := make(chan error, 1)
	go func() { errc <- s.http.Serve(s.ln) }()
	select {
	case err := <-errc:
		if !errors.Is(err, http.ErrServerClosed) {
			return err
		}
		return nil
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.Shutdown(sctx)
}

// Shutdown stops accepting, cancels running jobs, closes websockets and flushes projects.
func (s *Server) Shutdown(ctx context.Context) error {
	s.cfg.Log.Info("shutting down: cancelling jobs, flushing projects")
	herr := s.http.Shutdown(ctx) // stop new connections; hijacked websockets are ours to close
	jerr := s.Jobs.Shutdown(ctx) // clients hear "cancelled: shutdown" before their socket closes
	s.Hub.Shutdown(ctx)
	s.Store.Close() // waits for saves in progress; later ones are refused
	eerr := s.Engine.Close()
	return errors.Join(herr, jerr, eerr)
}
