// Package client is the Go side of the studio protocol: the desktop app, the tests and the
// tools use it to talk to a studio server. It matches replies to requests by seq, delivers
// job progress, and (optionally) reconnects with backoff, resuming its session so that
// queued and running jobs survive a dropped connection.
package client

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"time"

	"latentstudio/studio/protocol"
)

// Options configure a Client. The zero value is a client without token and without
// reconnects, using the platform's default transport.
type Options struct {
	Token  string // sent as Authorization: Bearer
	Origin string // sent as Origin (native only)
	Name   string // hello.client

	Reconnect  bool          // redial after a lost connection, resuming the session
	MinBackoff time.Duration // first wait before a redial (default 100 ms)
	MaxBackoff time.Duration // longest wait (default 5 s)

	Dial DialFunc // transport; nil: the platform default

	// OnDisconnect is called (from the read goroutine) when a connection is lost.
	OnDisconnect func(error)
}

// ErrClosed is returned by calls on a client that was closed.
var ErrClosed = errors.New("studio client closed")

// ErrDisconnected fails calls that were waiting when the connection dropped.
var ErrDisconnected = errors.New("connection to the studio server lost")

// Client is a connection to a studio server. Its methods may be called from any goroutine.
type Client struct {
	url  string
	opts Options

	seq     atomic.Uint64
	writeMu sync.Mutex

	mu      sync.Mutex
	conn    Conn
	welcome protocol.Welcome
	pending map[uint64]*call
	jobs    map[string]*Job
	closed  bool
	done    chan struct{}
	ready   chan struct{} // closed while connected; replaced on disconnect
}

type reply struct {
	msg   protocol.Message
	frame *protocol.Frame
	job   *Job // for a queued reply: registered before any progress can be routed
}

type call struct {
	ch        chan reply
	wantFrame bool
	got       *reply // a reply waiting for its frame
}

// Dial connects, says hello and waits for the welcome.
func Dial(ctx context.Context, url string, opts Options) (*Client, error) {
	if opts.Dial == nil {
		opts.Dial = defaultDial
	}
	if opts.Dial == nil {
		return nil, errors.New("no websocket transport for this platform")
	}
	if opts.MinBackoff <= 0 {
		opts.MinBackoff = 100 * time.Millisecond
	}
	if opts.MaxBackoff <= 0 {
		opts.MaxBackoff = 5 * time.Second
	}
	c := &Client{url: url, opts: opts, pending: map[uint64]*call{}, jobs: map[string]*Job{}, done: make(chan struct{}), ready: make(chan struct{})}
	conn, w, err := c.connect(ctx, "")
	if err != nil {
		return nil, err
	}
	c.conn, c.welcome = conn, w
	close(c.ready)
	go c.readLoop(conn)
	return c, nil
}

func (c *Client) header() http.Header {
	h := http.Header{}
	if c.opts.Token != "" {
		h.Set("Authorization", "Bearer "+c.opts.Token)
	}
	if c.opts.Origin != "" {
		h.Set("Origin", c.opts.Origin)
	}
	return h
}

// connect dials and performs the hello/welcome exchange on the new connection.
func (c *Client) connect(ctx context.Context, resume string) (Conn, protocol.Welcome, error) {
	conn, err := c.opts.Dial(ctx, c.url, c.header())
	if err != nil {
		return nil, protocol.Welcome{}, err
	}
	seq := c.seq.Add(1)
	b, _ := protocol.Encode(seq, protocol.Hello{Version: protocol.Version, Client: c.opts.Name, Resume: resume})
	if err := conn.Write(ctx, false, b); err != nil {
		conn.Close()
		return nil, protocol.Welcome{}, fmt.Errorf("send hello: %w", err)
	}
	for {
		bin, data, err := conn.Read(ctx)
		if err != nil {
			conn.Close()
			return nil, protocol.Welcome{}, fmt.Errorf("wait for welcome: %w", err)
		}
		if bin {
			continue
		}
		_, m, err := protocol.DecodeReply(data)
		if err != nil {
			conn.Close()
			return nil, protocol.Welcome{}, fmt.Errorf("wait for welcome: %w", err)
		}
		switch m := m.(type) {
		case protocol.Welcome:
			return conn, m, nil
		case *protocol.Error:
			conn.Close()
			return nil, protocol.Welcome{}, m
		}
	}
}

// Welcome returns the server's latest welcome (engine, limits, kinds, session).
func (c *Client) Welcome() protocol.Welcome {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.welcome
}

// Close ends the connection and fails every waiting call with ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	conn := c.conn
	close(c.done)
	c.failPending(ErrClosed, true)
	c.mu.Unlock()
	if conn != nil {
		return conn.Close()
	}
	return nil
}

// failPending fails waiting calls; jobs too when all is set. c.mu must be held.
func (c *Client) failPending(err error, all bool) {
	for seq, cl := range c.pending {
		delete(c.pending, seq)
		cl.ch <- reply{msg: &protocol.Error{Code: protocol.Internal, Message: err.Error(), Seq: seq}}
	}
	if all {
		for id, j := range c.jobs {
			delete(c.jobs, id)
			j.finish(jobEnd{err: err})
		}
	}
}

// send writes one request and registers a call for its replies.
func (c *Client) send(ctx context.Context, m protocol.Message, wantFrame bool) (uint64, *call, error) {
	seq := c.seq.Add(1)
	b, err := protocol.Encode(seq, m)
	if err != nil {
		return 0, nil, err
	}
	cl := &call{ch: make(chan reply, 1), wantFrame: wantFrame}
	for {
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return 0, nil, ErrClosed
		}
		conn, ready := c.conn, c.ready
		if conn == nil {
			c.mu.Unlock()
			select { // reconnecting: wait for it
			case <-ready:
				continue
			case <-c.done:
				return 0, nil, ErrClosed
			case <-ctx.Done():
				return 0, nil, ctx.Err()
			}
		}
		c.pending[seq] = cl
		c.mu.Unlock()
		c.writeMu.Lock()
		err = conn.Write(ctx, false, b)
		c.writeMu.Unlock()
		if err != nil {
			c.forget(seq)
			return 0, nil, fmt.Errorf("send %s: %w", m.Type(), err)
		}
		return seq, cl, nil
	}
}

func (c *Client) forget(seq uint64) {
	c.mu.Lock()
	delete(c.pending, seq)
	c.mu.Unlock()
}

func (c *Client) wait(ctx context.Context, seq uint64, cl *call) (reply, error) {
	select {
	case r := <-cl.ch:
		if e, ok := r.msg.(*protocol.Error); ok {
			if e.Code == protocol.Internal && e.Message == ErrDisconnected.Error() {
				return r, ErrDisconnected
			}
			if e.Code == protocol.Internal && e.Message == ErrClosed.Error() {
				return r, ErrClosed
			}
			return r, e
		}
		return r, nil
	case <-ctx.Done():
		c.forget(seq)
		return reply{}, ctx.Err()
	}
}

// LiveResult is the answer to a live request.
type LiveResult struct {
	Seq    uint64
	Result protocol.Result
	Frame  *protocol.Frame // set when the result came with a binary frame
}

// Live sends a live request and waits for its result. A newer Live call on the same session
// may supersede it: the error is then a *protocol.Error with code superseded.
func (c *Client) Live(ctx context.Context, kind string, params any) (LiveResult, error) {
	raw, err := marshalParams(params)
	if err != nil {
		return LiveResult{}, err
	}
	seq, cl, err := c.send(ctx, protocol.Live{Kind: kind, Params: raw}, true)
	if err != nil {
		return LiveResult{}, err
	}
	r, err := c.wait(ctx, seq, cl)
	if err != nil {
		return LiveResult{Seq: seq}, err
	}
	res, ok := r.msg.(protocol.Result)
	if !ok {
		return LiveResult{Seq: seq}, fmt.Errorf("live %d: unexpected reply %s", seq, r.msg.Type())
	}
	return LiveResult{Seq: seq, Result: res, Frame: r.frame}, nil
}

// Status asks for the engine status and this session's jobs.
func (c *Client) Status(ctx context.Context) (protocol.StatusReply, error) {
	seq, cl, err := c.send(ctx, protocol.Status{}, false)
	if err != nil {
		return protocol.StatusReply{}, err
	}
	r, err := c.wait(ctx, seq, cl)
	if err != nil {
		return protocol.StatusReply{}, err
	}
	s, _ := r.msg.(protocol.StatusReply)
	return s, nil
}

// Save stores a new version of one payload of a project and returns the version number.
func (c *Client) Save(ctx context.Context, project, file string, data []byte) (int, error) {
	seq, cl, err := c.send(ctx, protocol.Save{Project: project, File: file, Data: data}, false)
	if err != nil {
		return 0, err
	}
	r, err := c.wait(ctx, seq, cl)
	if err != nil {
		return 0, err
	}
	s, ok := r.msg.(protocol.Saved)
	if !ok {
		return 0, fmt.Errorf("save %d: unexpected reply %s", seq, r.msg.Type())
	}
	return s.Version, nil
}

func marshalParams(p any) (json.RawMessage, error) {
	switch p := p.(type) {
	case nil:
		return nil, nil
	case json.RawMessage:
		return p, nil
	case []byte:
		return json.RawMessage(p), nil
	}
	b, err := json.Marshal(p)
	if err != nil {
		return nil, fmt.Errorf("params: %w", err)
	}
	return b, nil
}

// readLoop routes every frame of one connection; on a lost connection it reconnects when
// asked to.
func (c *Client) readLoop(conn Conn) {
	for {
		err := c.readConn(conn)
		c.mu.Lock()
		if c.closed {
			c.mu.Unlock()
			return
		}
		c.conn = nil
		c.ready = make(chan struct{})
		c.failPending(ErrDisconnected, !c.opts.Reconnect)
		session := c.welcome.Session
		c.mu.Unlock()
		conn.Close()
		if c.opts.OnDisconnect != nil {
			c.opts.OnDisconnect(err)
		}
		if !c.opts.Reconnect {
			c.Close()
			return
		}
		conn = c.redial(session)
		if conn == nil {
			return
		}
	}
}

func (c *Client) redial(session string) Conn {
	backoff := c.opts.MinBackoff
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, w, err := c.connect(ctx, session)
		cancel()
		if err == nil {
			c.mu.Lock()
			if c.closed {
				c.mu.Unlock()
				conn.Close()
				return nil
			}
			c.conn, c.welcome = conn, w
			c.resumeJobs(w)
			close(c.ready)
			c.mu.Unlock()
			return conn
		}
		if protocol.CodeOf(err) == protocol.Unauthorized {
			c.Close()
			return nil
		}
		// Full jitter keeps many clients from redialling in step.
		d := time.Duration(rand.Int64N(int64(backoff))) + backoff/2
		select {
		case <-time.After(d):
		case <-c.done:
			return nil
		}
		backoff = min(backoff*2, c.opts.MaxBackoff)
	}
}

// resumeJobs settles jobs that ended while the connection was down. c.mu is held.
func (c *Client) resumeJobs(w protocol.Welcome) {
	known := map[string]protocol.JobState{}
	for _, s := range w.Jobs {
		known[s.ID] = s
	}
	for id, j := range c.jobs {
		s, ok := known[id]
		switch {
		case !ok:
			delete(c.jobs, id)
			j.finish(jobEnd{err: fmt.Errorf("job %s was lost with the connection", id)})
		case s.State == protocol.JobDone:
			delete(c.jobs, id)
			j.finish(jobEnd{done: protocol.Done{Job: id}})
		case s.State == protocol.JobFailed:
			delete(c.jobs, id)
			j.finish(jobEnd{err: protocol.Errorf(protocol.Engine, "%s", s.Error)})
		case s.State == protocol.JobCancelled:
			delete(c.jobs, id)
			j.finish(jobEnd{err: protocol.Errorf(protocol.CancelledErr, "job %s cancelled", id)})
		}
	}
}

func (c *Client) readConn(conn Conn) error {
	for {
		bin, data, err := conn.Read(context.Background())
		if err != nil {
			return err
		}
		if bin {
			f, err := protocol.DecodeFrame(data)
			if err != nil {
				continue // a broken frame from the server: nothing waits for it by seq
			}
			c.routeFrame(f)
			continue
		}
		seq, m, err := protocol.DecodeReply(data)
		if err != nil {
			continue
		}
		c.route(seq, m)
	}
}

func (c *Client) routeFrame(f protocol.Frame) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if cl, ok := c.pending[f.Seq]; ok && cl.got != nil {
		delete(c.pending, f.Seq)
		r := *cl.got
		fr := f
		r.frame = &fr
		cl.ch <- r
		return
	}
	for _, j := range c.jobs {
		if j.Seq == f.Seq && j.pendingDone != nil {
			fr := f
			end := *j.pendingDone
			end.frame = &fr
			delete(c.jobs, j.ID)
			j.finish(end)
			return
		}
	}
}

func (c *Client) route(seq uint64, m protocol.Message) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch m := m.(type) {
	case protocol.Progress:
		if j := c.jobs[m.Job]; j != nil {
			select {
			case j.progress <- m:
			default: // a slow reader misses intermediate progress, never the end
			}
		}
		return
	case protocol.Done:
		if j := c.jobs[m.Job]; j != nil {
			if m.Frame {
				j.pendingDone = &jobEnd{done: m}
				return
			}
			delete(c.jobs, m.Job)
			j.finish(jobEnd{done: m})
		}
		return
	case protocol.Cancelled:
		if j := c.jobs[m.Job]; j != nil && j.Seq == seq {
			delete(c.jobs, m.Job)
			j.finish(jobEnd{err: protocol.Errorf(protocol.CancelledErr, "job %s cancelled (%s)", m.Job, m.Reason)})
		}
		if cl, ok := c.pending[seq]; ok { // the answer to a cancel request
			delete(c.pending, seq)
			cl.ch <- reply{msg: m}
		}
		return
	case *protocol.Error:
		for id, j := range c.jobs { // a job that failed while running
			if j.Seq == seq && seq != 0 {
				delete(c.jobs, id)
				j.finish(jobEnd{err: m})
				return
			}
		}
	case protocol.Welcome:
		c.welcome = m
		return
	case protocol.Queued:
		if cl, ok := c.pending[seq]; ok {
			delete(c.pending, seq)
			j := &Job{ID: m.Job, Seq: seq, Position: m.Position, c: c, progress: make(chan protocol.Progress, 64), end: make(chan jobEnd, 1)}
			c.jobs[m.Job] = j
			cl.ch <- reply{msg: m, job: j}
		}
		return
	}
	cl, ok := c.pending[seq]
	if !ok {
		return
	}
	if r, isResult := m.(protocol.Result); isResult && r.Frame && cl.wantFrame {
		cl.got = &reply{msg: m}
		return
	}
	delete(c.pending, seq)
	cl.ch <- reply{msg: m}
}
