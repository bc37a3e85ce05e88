// Package jobs schedules engine work for sessions: per session a latest-wins slot for live
// requests and a FIFO queue for long jobs with progress, cancel and cancel-on-disconnect;
// work of different sessions is shared round robin over a fixed set of workers. Work kinds
// are registered by name, so inpainting, in-betweening and scrubbing plug in later.
package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"sync"
	"time"

	"latentstudio/studio/protocol"
)

// Output is what a kind's Run returns: JSON data and, optionally, a binary frame (its seq is
// filled in by the scheduler).
type Output struct {
	Data  any
	Frame *protocol.Frame
}

// Report tells the scheduler how far a job has come. Calls are cheap: the scheduler throttles
// the events it sends.
type Report func(percent float64, stage string)

// RunFunc does the work of one request. It must return soon after ctx is cancelled.
type RunFunc func(ctx context.Context, params json.RawMessage, report Report) (Output, error)

// Kind is a registered kind of work.
type Kind struct {
	Live bool // may be requested as live work
	Job  bool // may be queued as a job
	Run  RunFunc
}

// Event is one message for a session's client, with an optional binary frame after it.
type Event struct {
	Seq   uint64
	Msg   protocol.Message
	Frame *protocol.Frame
}

// Sink receives a session's events. It must not block (the hub queues them to its writer).
type Sink func(Event)

// Config sizes a scheduler.
type Config struct {
	Workers    int              // concurrent runs in all (default 2)
	QueueLimit int              // queued jobs per session (default 16)
	KeepDone   int              // finished jobs remembered per session (default 8)
	ProgressHz float64          // progress events per second per job at most (default 10)
	Now        func() time.Time // for tests; default time.Now
}

// Scheduler runs live work and jobs for sessions.
type Scheduler struct {
	cfg Config

	kindsMu sync.RWMutex
	kinds   map[string]Kind

	mu       sync.Mutex
	cond     *sync.Cond
	ring     []*Session // sessions that may have runnable work, round-robin order
	sessions map[string]*Session
	nextJob  uint64
	closed   bool
	wg       sync.WaitGroup
}

// New starts a scheduler's workers.
func New(cfg Config) *Scheduler {
	if cfg.Workers <= 0 {
		cfg.Workers = 2
	}
	if cfg.QueueLimit <= 0 {
		cfg.QueueLimit = 16
	}
	if cfg.KeepDone <= 0 {
		cfg.KeepDone = 8
	}
	if cfg.ProgressHz <= 0 {
		cfg.ProgressHz = 10
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Scheduler{cfg: cfg, kinds: map[string]Kind{}, sessions: map[string]*Session{}}
	s.cond = sync.NewCond(&s.mu)
	for range cfg.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	return s
}

// Register adds a kind of work under a name; registering a name twice panics, as two rooms
// claiming one name is a programming error.
func (s *Scheduler) Register(name string, k Kind) {
	s.kindsMu.Lock()
	defer s.kindsMu.Unlock()
	if _, dup := s.kinds[name]; dup {
		panic("jobs: kind registered twice: " + name)
	}
	if k.Run == nil || (!k.Live && !k.Job) {
		panic("jobs: kind " + name + " needs Run and Live or Job")
	}
	s.kinds[name] = k
}

// Kinds lists the registered names.
func (s *Scheduler) Kinds() []string {
	s.kindsMu.RLock()
	defer s.kindsMu.RUnlock()
	out := make([]string, 0, len(s.kinds))
	for n := range s.kinds {
		out = append(out, n)
	}
	sort.Strings(out)
	return out
}

func (s *Scheduler) kind(name string) (Kind, bool) {
	s.kindsMu.RLock()
	defer s.kindsMu.RUnlock()
	k, ok := s.kinds[name]
	return k, ok
}

// Config returns the scheduler's effective configuration.
func (s *Scheduler) Config() Config { return s.cfg }

type item struct {
	sess   *Session
	seq    uint64
	kind   string
	run    RunFunc
	params json.RawMessage
	live   bool

	// jobs only
	state   protocol.JobState
	ctx     context.Context
	cancel  context.CancelFunc
	started time.Time
}

// Session is one client's share of the scheduler. It outlives a connection: the hub detaches
// the sink on disconnect and either resumes or closes the session.
type Session struct {
	ID string
	s  *Scheduler

	// guarded by s.mu
	sink        Sink
	liveRunning *item
	livePending *item
	liveSeq     uint64 // newest live seq seen
	liveCtx     context.Context
	liveCancel  context.CancelFunc
	jobRunning  *item
	queue       []*item
	finished    []protocol.JobState
	inRing      bool
	jobTurn     bool // the job lane goes next when both lanes can run
	closed      bool
}

// Open creates a session with the given id (the hub makes ids).
func (s *Scheduler) Open(id string, sink Sink) (*Session, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, protocol.Errorf(protocol.Busy, "the server is shutting down")
	}
	if _, dup := s.sessions[id]; dup {
		return nil, fmt.Errorf("session %s already open", id)
	}
	ctx, cancel := context.WithCancel(context.Background())
	sess := &Session{ID: id, s: s, sink: sink, liveCtx: ctx, liveCancel: cancel}
	s.sessions[id] = sess
	return sess, nil
}

// Attach replaces the session's sink (nil detaches it: events are then dropped, the job
// states stay readable). Detaching also cancels live work, which nobody can see any more.
func (sess *Session) Attach(sink Sink) {
	s := sess.s
	s.mu.Lock()
	defer s.mu.Unlock()
	sess.sink = sink
	if sink == nil {
		sess.liveCancel()
		sess.liveCtx, sess.liveCancel = context.WithCancel(context.Background())
		if sess.livePending != nil {
			sess.livePending = nil
		}
	}
}

// emit sends an event to the session's sink. s.mu must be held; sinks never block.
func (sess *Session) emit(ev Event) {
	if sess.sink != nil {
		sess.sink(ev)
	}
}

// Live puts a live request in the session's latest-wins slot.
func (sess *Session) Live(seq uint64, kindName string, params json.RawMessage) error {
	s := sess.s
	k, ok := s.kind(kindName)
	if !ok || !k.Live {
		return protocol.Errorf(protocol.NotFound, "no live kind %q (registered: %v)", kindName, s.Kinds())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.closed {
		return protocol.Errorf(protocol.Busy, "session closed")
	}
	if seq == sess.liveSeq {
		return nil // a duplicate: the first one answers
	}
	if seq < sess.liveSeq {
		return protocol.Errorf(protocol.Superseded, "live request %d is older than %d", seq, sess.liveSeq)
	}
	sess.liveSeq = seq
	if old := sess.livePending; old != nil {
		sess.emit(Event{Seq: old.seq, Msg: protocol.Errorf(protocol.Superseded, "replaced by live request %d", seq)})
	}
	sess.livePending = &item{sess: sess, seq: seq, kind: kindName, run: k.Run, params: params, live: true}
	s.ready(sess)
	return nil
}

// Submit queues a job, sends the session its queued event and returns the job's state and
// position (the number of the session's jobs ahead of it).
func (sess *Session) Submit(seq uint64, kindName string, params json.RawMessage, project string) (protocol.JobState, int, error) {
	s := sess.s
	k, ok := s.kind(kindName)
	if !ok || !k.Job {
		return protocol.JobState{}, 0, protocol.Errorf(protocol.NotFound, "no job kind %q (registered: %v)", kindName, s.Kinds())
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if sess.closed || s.closed {
		return protocol.JobState{}, 0, protocol.Errorf(protocol.Busy, "session closed")
	}
	if len(sess.queue) >= s.cfg.QueueLimit {
		return protocol.JobState{}, 0, protocol.Errorf(protocol.Busy, "%d jobs already queued in this session; wait for one to finish", len(sess.queue))
	}
	s.nextJob++
	ctx, cancel := context.WithCancel(context.Background())
	it := &item{sess: sess, seq: seq, kind: kindName, run: k.Run, params: params, ctx: ctx, cancel: cancel,
		state: protocol.JobState{ID: "j" + strconv.FormatUint(s.nextJob, 10), Seq: seq, Kind: kindName, Project: project, State: protocol.JobQueued}}
	pos := len(sess.queue)
	if sess.jobRunning != nil {
		pos++
	}
	sess.queue = append(sess.queue, it)
	// Queued goes out before the job can run, so no progress overtakes it.
	sess.emit(Event{Seq: seq, Msg: protocol.Queued{Job: it.state.ID, Position: pos}})
	s.ready(sess)
	return it.state, pos, nil
}

// Cancel cancels a queued or running job of this session.
func (sess *Session) Cancel(jobID, reason string) error {
	s := sess.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if r := sess.jobRunning; r != nil && r.state.ID == jobID {
		r.cancel() // the worker reports the cancellation when Run returns
		r.state.Error = reason
		return nil
	}
	for i, it := range sess.queue {
		if it.state.ID == jobID {
			sess.queue = append(sess.queue[:i], sess.queue[i+1:]...)
			it.cancel()
			sess.finish(it, protocol.JobCancelled, reason)
			sess.emit(Event{Seq: it.seq, Msg: protocol.Cancelled{Job: jobID, Reason: reason}})
			return nil
		}
	}
	return protocol.Errorf(protocol.NotFound, "no queued or running job %q in this session", jobID)
}

// finish records a job's final state. s.mu must be held.
func (sess *Session) finish(it *item, state, msg string) {
	it.state.State = state
	if state == protocol.JobDone {
		it.state.Percent = 100
	}
	it.state.ETAms = 0
	if msg != "" && state != protocol.JobDone {
		it.state.Error = msg
	}
	sess.finished = append(sess.finished, it.state)
	if n := len(sess.finished) - sess.s.cfg.KeepDone; n > 0 {
		sess.finished = append([]protocol.JobState(nil), sess.finished[n:]...)
	}
}

// Jobs lists the session's jobs: finished (most recent last), running, queued.
func (sess *Session) Jobs() []protocol.JobState {
	s := sess.s
	s.mu.Lock()
	defer s.mu.Unlock()
	return sess.jobsLocked()
}

func (sess *Session) jobsLocked() []protocol.JobState {
	out := append([]protocol.JobState(nil), sess.finished...)
	if r := sess.jobRunning; r != nil {
		out = append(out, r.state)
	}
	for _, it := range sess.queue {
		out = append(out, it.state)
	}
	return out
}

// Close cancels all of the session's work and forgets it.
func (sess *Session) Close(reason string) {
	s := sess.s
	s.mu.Lock()
	defer s.mu.Unlock()
	sess.closeLocked(reason)
}

func (sess *Session) closeLocked(reason string) {
	if sess.closed {
		return
	}
	sess.closed = true
	sess.liveCancel()
	sess.livePending = nil
	if r := sess.jobRunning; r != nil {
		r.state.Error = reason
		r.cancel()
	}
	for _, it := range sess.queue {
		it.cancel()
		sess.finish(it, protocol.JobCancelled, reason)
		sess.emit(Event{Seq: it.seq, Msg: protocol.Cancelled{Job: it.state.ID, Reason: reason}})
	}
	sess.queue = nil
	delete(sess.s.sessions, sess.ID)
}

// Session returns an open session by id.
func (s *Scheduler) Session(id string) (*Session, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	sess, ok := s.sessions[id]
	return sess, ok
}

// ProjectJobs lists the jobs of all sessions that belong to a project, so a reloaded editor
// page shows them at once.
func (s *Scheduler) ProjectJobs(project string) []protocol.JobState {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []protocol.JobState
	for _, sess := range s.sessions {
		for _, j := range sess.jobsLocked() {
			if j.Project == project {
				out = append(out, j)
			}
		}
	}
	sort.Slice(out, func(i, k int) bool { return jobNum(out[i].ID) < jobNum(out[k].ID) })
	return out
}

func jobNum(id string) uint64 {
	n, _ := strconv.ParseUint(id[1:], 10, 64)
	return n
}

// ready puts a session on the ring if it has runnable work. s.mu must be held.
func (s *Scheduler) ready(sess *Session) {
	if !sess.inRing && sess.runnable() {
		sess.inRing = true
		s.ring = append(s.ring, sess)
		s.cond.Signal()
	}
}

func (sess *Session) runnable() bool {
	return (sess.liveRunning == nil && sess.livePending != nil) || (sess.jobRunning == nil && len(sess.queue) > 0)
}

// next takes the next runnable item round robin. s.mu must be held.
func (s *Scheduler) next() *item {
	for len(s.ring) > 0 {
		sess := s.ring[0]
		s.ring = s.ring[1:]
		sess.inRing = false
		if !sess.runnable() {
			continue
		}
		var it *item
		liveOK := sess.liveRunning == nil && sess.livePending != nil
		jobOK := sess.jobRunning == nil && len(sess.queue) > 0
		// Alternate lanes when both can run, so live flooding never starves the queue.
		if liveOK && (!jobOK || !sess.jobTurn) {
			it = sess.livePending
			sess.livePending = nil
			sess.liveRunning = it
			it.ctx = sess.liveCtx
		} else {
			it = sess.queue[0]
			sess.queue = sess.queue[1:]
			sess.jobRunning = it
			it.state.State = protocol.JobRunning
		}
		sess.jobTurn = it.live
		s.ready(sess) // its other lane may still run on another worker
		return it
	}
	return nil
}

func (s *Scheduler) worker() {
	defer s.wg.Done()
	s.mu.Lock()
	for {
		it := s.next()
		if it == nil {
			if s.closed {
				s.mu.Unlock()
				return
			}
			s.cond.Wait()
			continue
		}
		s.mu.Unlock()
		s.run(it)
		s.mu.Lock()
		sess := it.sess
		if it.live {
			sess.liveRunning = nil
		} else {
			sess.jobRunning = nil
		}
		s.ready(sess)
	}
}

// run executes one item outside the lock and reports its end.
func (s *Scheduler) run(it *item) {
	start := s.cfg.Now()
	it.started = start
	var report Report = func(float64, string) {}
	if !it.live {
		report = s.reporter(it)
	}
	out, err := safeRun(it, report)
	ms := float64(s.cfg.Now().Sub(start).Microseconds()) / 1000
	sess := it.sess
	s.mu.Lock()
	defer s.mu.Unlock()
	if it.live {
		switch {
		case err != nil && it.ctx.Err() != nil:
			// Cancelled by a disconnect: nobody listens.
		case err != nil:
			sess.emit(Event{Seq: it.seq, Msg: engineError(err)})
		default:
			data, merr := json.Marshal(out.Data)
			if merr != nil {
				sess.emit(Event{Seq: it.seq, Msg: protocol.Errorf(protocol.Internal, "result of %s: %v", it.kind, merr)})
				return
			}
			ev := Event{Seq: it.seq, Msg: protocol.Result{Kind: it.kind, Data: data, Frame: out.Frame != nil, MS: ms}, Frame: withSeq(out.Frame, it.seq)}
			sess.emit(ev)
		}
		return
	}
	defer it.cancel()
	switch {
	case err != nil && it.ctx.Err() != nil:
		reason := it.state.Error
		if reason == "" {
			reason = "request"
		}
		sess.finish(it, protocol.JobCancelled, reason)
		sess.emit(Event{Seq: it.seq, Msg: protocol.Cancelled{Job: it.state.ID, Reason: reason}})
	case err != nil:
		pe := engineError(err)
		sess.finish(it, protocol.JobFailed, pe.Message)
		sess.emit(Event{Seq: it.seq, Msg: pe})
	default:
		data, merr := json.Marshal(out.Data)
		if merr != nil {
			sess.finish(it, protocol.JobFailed, merr.Error())
			sess.emit(Event{Seq: it.seq, Msg: protocol.Errorf(protocol.Internal, "result of %s: %v", it.kind, merr)})
			return
		}
		sess.finish(it, protocol.JobDone, "")
		sess.emit(Event{Seq: it.seq, Msg: protocol.Done{Job: it.state.ID, Data: data, Frame: out.Frame != nil, MS: ms}, Frame: withSeq(out.Frame, it.seq)})
	}
}

// safeRun turns a panicking kind into an engine error instead of a dead server.
func safeRun(it *item, report Report) (out Output, err error) {
	defer func() {
		if r := recover(); r != nil {
			err = protocol.Errorf(protocol.Engine, "%s panicked: %v", it.kind, r)
		}
	}()
	return it.run(it.ctx, it.params, report)
}

func engineError(err error) *protocol.Error {
	var pe *protocol.Error
	if errors.As(err, &pe) {
		return &protocol.Error{Code: pe.Code, Message: pe.Message}
	}
	return protocol.Errorf(protocol.Engine, "%v", err)
}

func withSeq(f *protocol.Frame, seq uint64) *protocol.Frame {
	if f == nil {
		return nil
	}
	g := *f
	g.Seq = seq
	return &g
}

// reporter returns a throttled progress reporter for a job.
func (s *Scheduler) reporter(it *item) Report {
	minGap := time.Duration(float64(time.Second) / s.cfg.ProgressHz)
	var last time.Time
	var lastStage string
	return func(percent float64, stage string) {
		percent = max(0, min(100, percent))
		now := s.cfg.Now()
		s.mu.Lock()
		defer s.mu.Unlock()
		it.state.Percent = percent
		it.state.Stage = stage
		if percent > 0 {
			el := now.Sub(it.started)
			it.state.ETAms = int64(float64(el.Milliseconds()) * (100 - percent) / percent)
		}
		if stage == lastStage && now.Sub(last) < minGap && percent < 100 {
			return
		}
		last, lastStage = now, stage
		it.sess.emit(Event{Seq: it.seq, Msg: protocol.Progress{Job: it.state.ID, Percent: percent, Stage: stage, ETAms: it.state.ETAms}})
	}
}

// Shutdown cancels every session's work and waits for the workers (or ctx).
func (s *Scheduler) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	for _, sess := range s.sessions {
		sess.closeLocked("shutdown")
	}
	s.cond.Broadcast()
	s.mu.Unlock()
	done := make(chan struct{})
	go func() { s.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("jobs still running at shutdown: %w", ctx.Err())
	}
}
