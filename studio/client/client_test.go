package client

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"latentstudio/studio/protocol"
)

// pipe is an in-memory Conn; the test plays the server on the other end.
type pipe struct {
	toClient chan frame
	toServer chan frame
	closed   chan struct{}
}

type frame struct {
	bin  bool
	data []byte
}

func newPipe() *pipe {
	return &pipe{toClient: make(chan frame, 64), toServer: make(chan frame, 64), closed: make(chan struct{})}
}

func (p *pipe) Read(ctx context.Context) (bool, []byte, error) {
	select {
	case f := <-p.toClient:
		return f.bin, f.data, nil
	case <-p.closed:
		return false, nil, errors.New("closed")
	case <-ctx.Done():
		return false, nil, ctx.Err()
	}
}

func (p *pipe) Write(ctx context.Context, bin bool, data []byte) error {
	select {
	case p.toServer <- frame{bin, data}:
		return nil
	case <-p.closed:
		return errors.New("closed")
	}
}

func (p *pipe) Close() error {
	select {
	case <-p.closed:
	default:
		close(p.closed)
	}
	return nil
}

// server is the test's side of the pipes the client dials.
type server struct {
	t     *testing.T
	pipes chan *pipe
	cur   *pipe
}

func (s *server) dial(ctx context.Context, url string, h http.Header) (Conn, error) {
	p := newPipe()
	s.pipes <- p
	return p, nil
}

func (s *server) recv() (uint64, protocol.Message) {
	s.t.Helper()
	select {
	case f := <-s.cur.toServer:
		seq, m, err := protocol.DecodeRequest(f.data)
		if err != nil {
			s.t.Fatal(err)
		}
		return seq, m
	case <-time.After(5 * time.Second):
		s.t.Fatal("client sent nothing")
	}
	return 0, nil
}

func (s *server) send(seq uint64, m protocol.Message) {
	b, err := protocol.Encode(seq, m)
	if err != nil {
		s.t.Fatal(err)
	}
	s.cur.toClient <- frame{data: b}
}

func (s *server) sendFrame(f protocol.Frame) {
	b, _ := protocol.EncodeFrame(f)
	s.cur.toClient <- frame{bin: true, data: b}
}

// accept takes the next connection and answers its hello.
func (s *server) accept(session string, jobs ...protocol.JobState) protocol.Hello {
	s.cur = <-s.pipes
	seq, m := s.recv()
	s.send(seq, protocol.Welcome{Version: 1, Session: session, Engine: protocol.EngineInfo{Backend: "cpu"}, Jobs: jobs})
	return m.(protocol.Hello)
}

func connect(t *testing.T, opts Options) (*Client, *server) {
	s := &server{t: t, pipes: make(chan *pipe, 4)}
	opts.Dial = s.dial
	done := make(chan *Client)
	go func() {
		c, err := Dial(context.Background(), "ws://test/ws", opts)
		if err != nil {
			t.Error(err)
		}
		done <- c
	}()
	if h := s.accept("s1"); h.Version != protocol.Version {
		t.Fatalf("hello %+v", h)
	}
	c := <-done
	t.Cleanup(func() { c.Close() })
	return c, s
}

func ctx(t *testing.T) context.Context {
	c, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	return c
}

func TestLiveWithFrameAndSuperseded(t *testing.T) {
	c, s := connect(t, Options{})
	type res struct {
		r   LiveResult
		err error
	}
	out := make(chan res, 2)
	go func() { r, err := c.Live(ctx(t), "k", map[string]int{"a": 1}); out <- res{r, err} }()
	seq1, _ := s.recv()
	go func() { r, err := c.Live(ctx(t), "k", nil); out <- res{r, err} }()
	seq2, _ := s.recv()
	s.send(seq1, protocol.Errorf(protocol.Superseded, "replaced"))
	if r := <-out; protocol.CodeOf(r.err) != protocol.Superseded {
		t.Fatalf("first live: %v", r.err)
	}
	s.send(seq2, protocol.Result{Kind: "k", Frame: true})
	s.sendFrame(protocol.Frame{Kind: protocol.KindImage, Format: protocol.FormatU8, Seq: seq2, Shape: []int{1}, Data: []byte{7}})
	r := <-out
	if r.err != nil || r.r.Frame == nil || r.r.Frame.Data[0] != 7 || r.r.Seq != seq2 {
		t.Fatalf("second live: %+v %v", r.r, r.err)
	}
}

// Progress and done that follow queued at once are not lost.
func TestJobEventsRightAfterQueued(t *testing.T) {
	c, s := connect(t, Options{})
	jobs := make(chan *Job)
	go func() {
		j, err := c.Submit(ctx(t), "burn", nil, "p1")
		if err != nil {
			t.Error(err)
		}
		jobs <- j
	}()
	seq, m := s.recv()
	if m.(protocol.Job).Project != "p1" {
		t.Fatalf("job request %+v", m)
	}
	s.send(seq, protocol.Queued{Job: "j1"})
	s.send(seq, protocol.Progress{Job: "j1", Percent: 50, Stage: "half"})
	s.send(seq, protocol.Done{Job: "j1", Frame: true})
	s.sendFrame(protocol.Frame{Kind: protocol.KindBlob, Format: protocol.FormatU8, Seq: seq, Shape: []int{2}, Data: []byte{1, 2}})
	j := <-jobs
	d, f, err := j.Wait(ctx(t))
	if err != nil || d.Job != "j1" || f == nil || len(f.Data) != 2 {
		t.Fatalf("wait: %+v %v %v", d, f, err)
	}
	if p := <-j.Progress(); p.Percent != 50 {
		t.Fatalf("progress %+v", p)
	}
}

func TestCancelAck(t *testing.T) {
	c, s := connect(t, Options{})
	jobs := make(chan *Job)
	go func() { j, _ := c.Submit(ctx(t), "burn", nil, ""); jobs <- j }()
	jseq, _ := s.recv()
	s.send(jseq, protocol.Queued{Job: "j1"})
	j := <-jobs
	errc := make(chan error)
	go func() { errc <- j.Cancel(ctx(t)) }()
	cseq, m := s.recv()
	if m.(protocol.Cancel).Job != "j1" {
		t.Fatalf("cancel %+v", m)
	}
	s.send(cseq, protocol.Cancelled{Job: "j1", Reason: "request"}) // ack
	if err := <-errc; err != nil {
		t.Fatal(err)
	}
	s.send(jseq, protocol.Cancelled{Job: "j1", Reason: "request"}) // the job's end
	if _, _, err := j.Wait(ctx(t)); protocol.CodeOf(err) != protocol.CancelledErr {
		t.Fatalf("job end: %v", err)
	}
}

func TestReconnectResumesSession(t *testing.T) {
	c, s := connect(t, Options{Reconnect: true, MinBackoff: time.Millisecond})
	jobs := make(chan *Job)
	go func() { j, _ := c.Submit(ctx(t), "burn", nil, ""); jobs <- j }()
	jseq, _ := s.recv()
	s.send(jseq, protocol.Queued{Job: "j1"})
	j := <-jobs
	// A pending status call fails when the connection drops; the job waits.
	errc := make(chan error)
	go func() { _, err := c.Status(ctx(t)); errc <- err }()
	s.recv()
	s.cur.Close()
	if err := <-errc; !errors.Is(err, ErrDisconnected) {
		t.Fatalf("pending call: %v", err)
	}
	if h := s.accept("s1", protocol.JobState{ID: "j1", Seq: jseq, State: protocol.JobRunning}); h.Resume != "s1" {
		t.Fatalf("reconnect hello %+v", h)
	}
	s.send(jseq, protocol.Done{Job: "j1"})
	if _, _, err := j.Wait(ctx(t)); err != nil {
		t.Fatal(err)
	}
	// A job the resumed session no longer knows ends with an error instead of hanging.
	go func() { j, _ := c.Submit(ctx(t), "burn", nil, ""); jobs <- j }()
	j2seq, _ := s.recv()
	s.send(j2seq, protocol.Queued{Job: "j2"})
	j2 := <-jobs
	s.cur.Close()
	s.accept("s1")
	if _, _, err := j2.Wait(ctx(t)); err == nil {
		t.Fatal("lost job reported success")
	}
	c.Close()
	if _, err := c.Status(ctx(t)); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}
