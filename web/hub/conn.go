package hub

import (
	"errors"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"latentstudio/studio/protocol"
	"latentstudio/web/jobs"
)

type out struct {
	text  []byte
	frame []byte
}

type conn struct {
	h      *Hub
	ws     *websocket.Conn
	send   chan out
	done   chan struct{}
	once   sync.Once
	bucket *bucket
	remote string

	closeMu   sync.Mutex
	closeCode int
	closeText string

	sess *jobs.Session
}

// closeWith ends the connection; the writer sends the close frame.
func (c *conn) closeWith(code int, text string) {
	c.once.Do(func() {
		c.closeMu.Lock()
		c.closeCode, c.closeText = code, text
		c.closeMu.Unlock()
		close(c.done)
	})
}

// enqueue hands a message to the writer without blocking. A full queue means the client
// does not read: progress events are dropped (the next one says more), anything else
// closes the connection, and the client resumes its session.
func (c *conn) enqueue(o out, droppable bool) {
	select {
	case <-c.done:
		return
	default:
	}
	select {
	case c.send <- o:
	default:
		if !droppable {
			c.closeWith(websocket.ClosePolicyViolation, "client does not read its messages")
		}
	}
}

func (c *conn) reply(seq uint64, m protocol.Message) {
	b, err := protocol.Encode(seq, m)
	if err != nil {
		b, _ = protocol.Encode(seq, protocol.AsError(err))
	}
	c.enqueue(out{text: b}, false)
}

func (c *conn) fail(seq uint64, err error) {
	pe := protocol.AsError(err)
	c.reply(seq, &protocol.Error{Code: pe.Code, Message: pe.Message})
}

// sink receives the scheduler's events for this connection's session.
func (c *conn) sink(ev jobs.Event) {
	b, err := protocol.Encode(ev.Seq, ev.Msg)
	if err != nil {
		b, _ = protocol.Encode(ev.Seq, protocol.AsError(err))
	}
	o := out{text: b}
	if ev.Frame != nil {
		fb, err := protocol.EncodeFrame(*ev.Frame)
		if err != nil {
			b, _ = protocol.Encode(ev.Seq, protocol.AsError(err))
			o = out{text: b}
		} else {
			o.frame = fb
		}
	}
	_, progress := ev.Msg.(protocol.Progress)
	c.enqueue(o, progress)
}

func (c *conn) writer() {
	t := time.NewTicker(c.h.cfg.PingInterval)
	defer func() {
		t.Stop()
		c.ws.Close()
	}()
	write := func(typ int, b []byte) bool {
		_ = c.ws.SetWriteDeadline(time.Now().Add(c.h.cfg.WriteWait))
		if err := c.ws.WriteMessage(typ, b); err != nil {
			c.closeWith(0, "")
			return false
		}
		return true
	}
	for {
		select {
		case o := <-c.send:
			if !write(websocket.TextMessage, o.text) {
				return
			}
			if o.frame != nil && !write(websocket.BinaryMessage, o.frame) {
				return
			}
		case <-t.C:
			if err := c.ws.WriteControl(websocket.PingMessage, nil, time.Now().Add(c.h.cfg.WriteWait)); err != nil {
				c.closeWith(0, "")
				return
			}
		case <-c.done:
			// Flush what is queued (errors explaining the close), then say goodbye.
			for {
				select {
				case o := <-c.send:
					if !write(websocket.TextMessage, o.text) {
						return
					}
					continue
				default:
				}
				break
			}
			c.closeMu.Lock()
			code, text := c.closeCode, c.closeText
			c.closeMu.Unlock()
			if code != 0 {
				_ = c.ws.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, text), time.Now().Add(time.Second))
			}
			return
		}
	}
}

func (c *conn) reader() {
	defer func() {
		c.closeWith(websocket.CloseNormalClosure, "")
		if c.sess != nil {
			c.h.detach(c, c.sess)
		}
		c.h.forget(c)
	}()
	c.ws.SetReadLimit(int64(c.h.cfg.MaxText))
	alive := func() { _ = c.ws.SetReadDeadline(time.Now().Add(c.h.cfg.PongWait)) }
	alive()
	c.ws.SetPongHandler(func(string) error { alive(); return nil })
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			if errors.Is(err, websocket.ErrReadLimit) {
				// gorilla has sent close 1009 (message too big) already: nothing may follow it.
				c.closeWith(0, "")
			}
			return
		}
		alive()
		select {
		case <-c.done:
			return
		default:
		}
		if !c.bucket.allow(time.Now()) {
			seq, _, _ := protocol.DecodeRequest(data)
			c.fail(seq, protocol.Errorf(protocol.RateLimited, "more than %.0f messages per second (burst %d); slow down", c.h.cfg.Rate, c.h.cfg.Burst))
			continue
		}
		if typ == websocket.BinaryMessage {
			c.fail(0, protocol.Errorf(protocol.BadInput, "binary frames from clients are not used in protocol version %d", protocol.Version))
			continue
		}
		seq, msg, err := protocol.DecodeRequest(data)
		if err != nil {
			c.fail(seq, err)
			continue
		}
		if !c.handle(seq, msg) {
			return
		}
	}
}

// handle runs one request; false ends the connection.
func (c *conn) handle(seq uint64, msg protocol.Message) bool {
	if c.sess == nil {
		hello, ok := msg.(protocol.Hello)
		if !ok {
			c.fail(seq, protocol.Errorf(protocol.BadInput, "send hello first"))
			return true
		}
		if hello.Version != protocol.Version {
			c.fail(seq, protocol.Errorf(protocol.VersionCode, "this server speaks protocol version %d, the client %d: update the client", protocol.Version, hello.Version))
			c.closeWith(websocket.CloseProtocolError, "protocol version")
			return false
		}
		sess, resumed, err := c.h.attach(c, hello.Resume)
		if err != nil {
			c.fail(seq, err)
			c.closeWith(websocket.CloseTryAgainLater, "unavailable")
			return false
		}
		c.sess = sess
		w := protocol.Welcome{Version: protocol.Version, Session: sess.ID, Engine: c.h.cfg.Engine.Info(), Limits: c.h.Limits(), Kinds: c.h.sched.Kinds()}
		if resumed {
			w.Jobs = sess.Jobs()
		}
		c.reply(seq, w)
		return true
	}
	switch m := msg.(type) {
	case protocol.Hello:
		c.fail(seq, protocol.Errorf(protocol.BadInput, "hello was already sent on this connection"))
	case protocol.Live:
		if err := c.sess.Live(seq, m.Kind, m.Params); err != nil {
			c.fail(seq, err)
		}
	case protocol.Job:
		if _, _, err := c.sess.Submit(seq, m.Kind, m.Params, m.Project); err != nil {
			c.fail(seq, err) // on success the scheduler sent queued
		}
	case protocol.Cancel:
		if err := c.sess.Cancel(m.Job, "request"); err != nil {
			c.fail(seq, err)
			return true
		}
		c.reply(seq, protocol.Cancelled{Job: m.Job, Reason: "request"}) // the ack; the job's seq gets its own when it stops
	case protocol.Status:
		c.reply(seq, protocol.StatusReply{Engine: c.h.cfg.Engine.Info(), Jobs: c.sess.Jobs()})
	case protocol.Save:
		if c.h.cfg.Save == nil {
			c.fail(seq, protocol.Errorf(protocol.NotFound, "this server stores no projects"))
			return true
		}
		v, err := c.h.cfg.Save(m.Project, m.File, m.Data)
		if err != nil {
			c.fail(seq, err)
			return true
		}
		c.reply(seq, protocol.Saved{Project: m.Project, Version: v})
	default:
		c.fail(seq, protocol.Errorf(protocol.UnknownType, "%s is not a request", msg.Type()))
	}
	return true
}
