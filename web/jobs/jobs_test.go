package jobs

import (
	"context"
	"encoding/json"
	"errors"
	"sync"
	"testing"
	"time"

	"latentstudio/studio/protocol"
)

type recorder struct {
	mu  sync.Mutex
	evs []Event
	ch  chan Event
}

func newRecorder() *recorder { return &recorder{ch: make(chan Event, 1024)} }

func (r *recorder) sink(ev Event) {
	r.mu.Lock()
	r.evs = append(r.evs, ev)
	r.mu.Unlock()
	r.ch <- ev
}

// next returns the next event other than queued (tests check queued through r.evs).
func (r *recorder) next(t *testing.T) Event {
	t.Helper()
	for {
		select {
		case ev := <-r.ch:
			if _, q := ev.Msg.(protocol.Queued); q {
				continue
			}
			return ev
		case <-time.After(5 * time.Second):
			t.Fatal("no event within 5 s")
		}
	}
}

// gate is a kind whose runs block until released, so tests control the order of events.
type gate struct {
	started chan string
	release chan struct{}
}

func newGate() *gate { return &gate{started: make(chan string, 64), release: make(chan struct{})} }

func (g *gate) run(ctx context.Context, p json.RawMessage, report Report) (Output, error) {
	g.started <- string(p)
	report(50, "half")
	select {
	case <-g.release:
	case <-ctx.Done():
		return Output{}, ctx.Err()
	}
	return Output{Data: json.RawMessage(p)}, nil
}

func newSched(t *testing.T, workers int) *Scheduler {
	s := New(Config{Workers: workers, QueueLimit: 3, ProgressHz: 1000})
	t.Cleanup(func() { _ = s.Shutdown(context.Background()) })
	return s
}

func TestLiveLatestWins(t *testing.T) {
	s := newSched(t, 1)
	g := newGate()
	s.Register("g", Kind{Live: true, Run: g.run})
	rec := newRecorder()
	sess, _ := s.Open("s1", rec.sink)
	if err := sess.Live(1, "g", json.RawMessage(`{"n":1}`)); err != nil {
		t.Fatal(err)
	}
	<-g.started // 1 runs
	for seq := uint64(2); seq <= 4; seq++ {
		if err := sess.Live(seq, "g", json.RawMessage(`{"n":2}`)); err != nil {
			t.Fatal(err)
		}
	}
	if err := sess.Live(4, "g", nil); err != nil { // duplicate: skipped, no answer
		t.Fatal(err)
	}
	if err := sess.Live(3, "g", nil); protocol.CodeOf(err) != protocol.Superseded {
		t.Fatalf("older seq: %v", err)
	}
	// 2 and 3 were replaced while 1 ran.
	for _, want := range []uint64{2, 3} {
		ev := rec.next(t)
		if e, ok := ev.Msg.(*protocol.Error); !ok || e.Code != protocol.Superseded || ev.Seq != want {
			t.Fatalf("want superseded %d, got %d %#v", want, ev.Seq, ev.Msg)
		}
	}
	close(g.release)
	for _, want := range []uint64{1, 4} {
		ev := rec.next(t)
		if _, ok := ev.Msg.(protocol.Result); !ok || ev.Seq != want {
			t.Fatalf("want result %d, got %d %#v", want, ev.Seq, ev.Msg)
		}
	}
}

func TestJobsFIFOProgressCancel(t *testing.T) {
	s := newSched(t, 2)
	g := newGate()
	s.Register("g", Kind{Job: true, Run: g.run})
	rec := newRecorder()
	sess, _ := s.Open("s1", rec.sink)
	j1, pos1, err := sess.Submit(10, "g", json.RawMessage(`{"j":1}`), "p1")
	if err != nil || pos1 != 0 {
		t.Fatal(err, pos1)
	}
	<-g.started
	j2, pos2, _ := sess.Submit(11, "g", json.RawMessage(`{"j":2}`), "p1")
	j3, _, _ := sess.Submit(12, "g", json.RawMessage(`{"j":3}`), "")
	if pos2 != 1 {
		t.Fatalf("second job position %d", pos2)
	}
	select { // one job per session at a time, even with a free worker
	case p := <-g.started:
		t.Fatalf("job %s started while another of its session ran", p)
	case <-time.After(50 * time.Millisecond):
	}
	ev := rec.next(t)
	if p, ok := ev.Msg.(protocol.Progress); !ok || p.Job != j1.ID || p.Percent != 50 || p.Stage != "half" || ev.Seq != 10 {
		t.Fatalf("progress: %#v", ev)
	}
	rec.mu.Lock()
	if q, ok := rec.evs[0].Msg.(protocol.Queued); !ok || q.Job != j1.ID || rec.evs[0].Seq != 10 {
		t.Fatalf("first event %#v, want queued", rec.evs[0])
	}
	rec.mu.Unlock()
	if js := s.ProjectJobs("p1"); len(js) != 2 || js[0].State != protocol.JobRunning || js[1].State != protocol.JobQueued {
		t.Fatalf("project jobs: %#v", js)
	}
	if err := sess.Cancel(j2.ID, "request"); err != nil {
		t.Fatal(err)
	}
	if ev := rec.next(t); ev.Seq != 11 || ev.Msg.(protocol.Cancelled).Job != j2.ID {
		t.Fatalf("cancel of queued job: %#v", ev)
	}
	if err := sess.Cancel("j999", "request"); protocol.CodeOf(err) != protocol.NotFound {
		t.Fatalf("cancel unknown: %v", err)
	}
	g.release <- struct{}{}
	if ev := rec.next(t); ev.Seq != 10 {
		t.Fatalf("want done of job 1, got %#v", ev)
	} else if d := ev.Msg.(protocol.Done); d.Job != j1.ID || string(d.Data) != `{"j":1}` {
		t.Fatalf("done: %#v", d)
	}
	if p := <-g.started; p != `{"j":3}` {
		t.Fatalf("FIFO broken: %s ran", p)
	}
	rec.next(t) // its progress
	if err := sess.Cancel(j3.ID, "request"); err != nil {
		t.Fatal(err)
	}
	if ev := rec.next(t); ev.Msg.(protocol.Cancelled).Job != j3.ID {
		t.Fatalf("cancel of running job: %#v", ev)
	}
	states := map[string]string{}
	for _, j := range sess.Jobs() {
		states[j.ID] = j.State
	}
	if states[j1.ID] != protocol.JobDone || states[j2.ID] != protocol.JobCancelled || states[j3.ID] != protocol.JobCancelled {
		t.Fatalf("states: %v", states)
	}
}

func TestQueueLimitAndUnknownKind(t *testing.T) {
	s := newSched(t, 1)
	g := newGate()
	s.Register("g", Kind{Job: true, Run: g.run})
	sess, _ := s.Open("s1", func(Event) {})
	for i := range 4 { // 1 running + 3 queued
		if _, _, err := sess.Submit(uint64(i+1), "g", nil, ""); err != nil {
			t.Fatal(i, err)
		}
		if i == 0 {
			<-g.started
		}
	}
	if _, _, err := sess.Submit(9, "g", nil, ""); protocol.CodeOf(err) != protocol.Busy {
		t.Fatalf("full queue: %v", err)
	}
	if _, _, err := sess.Submit(9, "nope", nil, ""); protocol.CodeOf(err) != protocol.NotFound {
		t.Fatalf("unknown kind: %v", err)
	}
	if err := sess.Live(9, "g", nil); protocol.CodeOf(err) != protocol.NotFound {
		t.Fatalf("job-only kind as live: %v", err)
	}
	sess.Close("disconnect")
	for deadline := time.Now().Add(5 * time.Second); ; {
		all := true
		for _, j := range sess.Jobs() {
			all = all && j.State == protocol.JobCancelled && j.Error == "disconnect"
		}
		if all {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after close: %#v", sess.Jobs())
		}
		time.Sleep(time.Millisecond)
	}
}

// Two sessions flooding live work get about the same number of runs.
func TestFairness(t *testing.T) {
	s := newSched(t, 1)
	var mu sync.Mutex
	runs := map[string]int{}
	s.Register("count", Kind{Live: true, Job: true, Run: func(ctx context.Context, p json.RawMessage, _ Report) (Output, error) {
		mu.Lock()
		var k string
		_ = json.Unmarshal(p, &k)
		runs[k]++
		mu.Unlock()
		time.Sleep(time.Millisecond)
		return Output{}, nil
	}})
	a, _ := s.Open("a", func(Event) {})
	b, _ := s.Open("b", func(Event) {})
	// a floods its queue, b only sends live work: both must progress.
	for i := range 3 {
		a.Submit(uint64(i+1), "count", json.RawMessage(`"a-job"`), "")
	}
	deadline := time.Now().Add(300 * time.Millisecond)
	for seq := uint64(1); time.Now().Before(deadline); seq++ {
		a.Live(seq, "count", json.RawMessage(`"a"`))
		b.Live(seq, "count", json.RawMessage(`"b"`))
		time.Sleep(200 * time.Microsecond)
	}
	mu.Lock()
	defer mu.Unlock()
	if runs["a"] == 0 || runs["b"] == 0 || runs["a-job"] != 3 {
		t.Fatalf("runs %v", runs)
	}
	if r := float64(runs["a"]) / float64(runs["b"]); r < 0.5 || r > 2 {
		t.Fatalf("unfair share: %v", runs)
	}
}

func TestPanicAndErrorBecomeTypedErrors(t *testing.T) {
	s := newSched(t, 1)
	s.Register("boom", Kind{Live: true, Run: func(context.Context, json.RawMessage, Report) (Output, error) { panic("kaboom") }})
	s.Register("fail", Kind{Job: true, Run: func(context.Context, json.RawMessage, Report) (Output, error) {
		return Output{}, errors.New("out of memory")
	}})
	rec := newRecorder()
	sess, _ := s.Open("s", rec.sink)
	sess.Live(1, "boom", nil)
	if e := rec.next(t).Msg.(*protocol.Error); e.Code != protocol.Engine {
		t.Fatalf("panic: %v", e)
	}
	sess.Submit(2, "fail", nil, "")
	if e := rec.next(t).Msg.(*protocol.Error); e.Code != protocol.Engine {
		t.Fatalf("failure: %v", e)
	}
	if j := sess.Jobs(); j[0].State != protocol.JobFailed || j[0].Error == "" {
		t.Fatalf("failed job state %#v", j)
	}
}

func TestShutdownCancelsRunningJobs(t *testing.T) {
	s := New(Config{Workers: 1})
	s.Register("burn", Kind{Job: true, Run: Burn})
	rec := newRecorder()
	sess, _ := s.Open("s", rec.sink)
	sess.Submit(1, "burn", json.RawMessage(`{"ms":10000}`), "")
	sess.Submit(2, "burn", json.RawMessage(`{"ms":10000}`), "")
	time.Sleep(20 * time.Millisecond)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	got := map[uint64]string{}
	for range 2 {
		ev := rec.next(t)
		got[ev.Seq] = ev.Msg.(protocol.Cancelled).Reason
	}
	if got[1] != "shutdown" || got[2] != "shutdown" {
		t.Fatalf("cancel reasons %v", got)
	}
	if _, err := s.Open("late", nil); protocol.CodeOf(err) != protocol.Busy {
		t.Fatalf("open after shutdown: %v", err)
	}
}
