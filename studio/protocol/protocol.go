// Package protocol is the wire format between studio clients (browser wasm, desktop, tools)
// and the studio server: a versioned hello, JSON text frames for control, and binary frames
// with a small header for tensors and images. It has no transport of its own, so every
// client build (native and js/wasm) can use it. PROTOCOL.md documents it message by message.
package protocol

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
)

// Version is the protocol version a hello announces. A server answers a hello with another
// version with a typed `version` error and closes the connection.
const Version = 1

// Limits every side enforces. The server may announce smaller ones in its welcome.
const (
	MaxTextFrame   = 256 << 10 // a JSON control frame, including any inline payload
	MaxBinaryFrame = 16 << 20  // a binary frame, header included
	MaxParams      = 64 << 10  // the params object of a live request or a job
	MaxKindLen     = 64
)

// Message types. Requests go client → server; the rest go server → client.
const (
	TypeHello  = "hello"
	TypeLive   = "live"
	TypeJob    = "job"
	TypeCancel = "cancel"
	TypeStatus = "status"
	TypeSave   = "save"

	TypeWelcome   = "welcome"
	TypeResult    = "result"
	TypeQueued    = "queued"
	TypeProgress  = "progress"
	TypeDone      = "done"
	TypeCancelled = "cancelled"
	TypeSaved     = "saved"
	TypeError     = "error"
)

// Message is the body of one text frame. Validate reports a typed *Error (code bad_input)
// when a decoded body breaks a rule that JSON alone cannot express.
type Message interface {
	Type() string
	Validate() error
}

// Envelope is the outer JSON object of every text frame:
// {"type": "...", "seq": N, "body": {...}}.
type Envelope struct {
	Type string          `json:"type"`
	Seq  uint64          `json:"seq"`
	Body json.RawMessage `json:"body,omitempty"`
}

// Hello opens a session. Resume names a session from a previous connection (a page reload,
// a reconnect) whose jobs should be reattached instead of cancelled.
type Hello struct {
	Version int    `json:"version"`
	Client  string `json:"client,omitempty"`
	Resume  string `json:"resume,omitempty"`
}

// Live asks for interactive work on the session's latest-wins slot: a newer live request
// replaces a pending older one, which is answered with a `superseded` error.
type Live struct {
	Kind   string          `json:"kind"`
	Params json.RawMessage `json:"params,omitempty"`
}

// Job queues long work (FIFO per session). Project ties the job to a project, so that the
// project's editor page can show the job's state after a reload.
type Job struct {
	Kind    string          `json:"kind"`
	Params  json.RawMessage `json:"params,omitempty"`
	Project string          `json:"project,omitempty"`
}

// Cancel stops a queued or running job of this session.
type Cancel struct {
	Job string `json:"job"`
}

// Status asks for the engine status and this session's jobs.
type Status struct{}

// Save stores a new version of one payload file of a project (an autosave).
type Save struct {
	Project string `json:"project"`
	File    string `json:"file"`
	Data    []byte `json:"data"` // base64 in JSON
}

// EngineInfo describes the engine that runs the work (mirrors gpu.Info).
type EngineInfo struct {
	Backend     string `json:"backend"`
	Device      string `json:"device,omitempty"`
	Threads     int    `json:"threads,omitempty"`
	MemoryTotal int64  `json:"memory_total,omitempty"`
	MemoryFree  int64  `json:"memory_free,omitempty"`
	Reason      string `json:"reason,omitempty"`
}

// Limits the server enforces on this connection.
type Limits struct {
	MaxText   int     `json:"max_text"`
	MaxBinary int     `json:"max_binary"`
	Rate      float64 `json:"rate"`  // sustained messages per second
	Burst     int     `json:"burst"` // messages allowed at once above the rate
	Queue     int     `json:"queue"` // queued jobs per session
}

// JobState is a job as the server sees it now.
type JobState struct {
	ID      string  `json:"id"`
	Seq     uint64  `json:"seq"`
	Kind    string  `json:"kind"`
	Project string  `json:"project,omitempty"`
	State   string  `json:"state"` // queued | running | done | failed | cancelled
	Percent float64 `json:"percent"`
	Stage   string  `json:"stage,omitempty"`
	ETAms   int64   `json:"eta_ms,omitempty"`
	Error   string  `json:"error,omitempty"`
}

// Job states.
const (
	JobQueued    = "queued"
	JobRunning   = "running"
	JobDone      = "done"
	JobFailed    = "failed"
	JobCancelled = "cancelled"
)

// Welcome answers a hello.
type Welcome struct {
	Version int        `json:"version"`
	Session string     `json:"session"`
	Engine  EngineInfo `json:"engine"`
	Limits  Limits     `json:"limits"`
	Kinds   []string   `json:"kinds,omitempty"` // registered live/job kinds
	Jobs    []JobState `json:"jobs,omitempty"`  // this session's jobs (after a resume)
}

// Result answers a live request. When the result is an image or tensor, a binary frame with
// the same seq follows it and Frame is true.
type Result struct {
	Kind  string          `json:"kind"`
	Data  json.RawMessage `json:"data,omitempty"`
	Frame bool            `json:"frame,omitempty"`
	MS    float64         `json:"ms"` // engine time
}

// Queued answers a job request.
type Queued struct {
	Job      string `json:"job"`
	Position int    `json:"position"` // 0: runs now
}

// Progress reports a running job. Its seq is the job request's seq.
type Progress struct {
	Job     string  `json:"job"`
	Percent float64 `json:"percent"`
	Stage   string  `json:"stage,omitempty"`
	ETAms   int64   `json:"eta_ms,omitempty"`
}

// Done ends a job that succeeded; a binary frame with the same seq follows when Frame is set.
type Done struct {
	Job   string          `json:"job"`
	Data  json.RawMessage `json:"data,omitempty"`
	Frame bool            `json:"frame,omitempty"`
	MS    float64         `json:"ms"`
}

// Cancelled ends a job that was cancelled (by request, disconnect or shutdown).
type Cancelled struct {
	Job    string `json:"job"`
	Reason string `json:"reason,omitempty"`
}

// Saved answers a save.
type Saved struct {
	Project string `json:"project"`
	Version int    `json:"version"`
}

// StatusReply answers a status request (type "status" from the server).
type StatusReply struct {
	Engine EngineInfo `json:"engine"`
	Jobs   []JobState `json:"jobs,omitempty"`
}

func (Hello) Type() string       { return TypeHello }
func (Live) Type() string        { return TypeLive }
func (Job) Type() string         { return TypeJob }
func (Cancel) Type() string      { return TypeCancel }
func (Status) Type() string      { return TypeStatus }
func (Save) Type() string        { return TypeSave }
func (Welcome) Type() string     { return TypeWelcome }
func (Result) Type() string      { return TypeResult }
func (Queued) Type() string      { return TypeQueued }
func (Progress) Type() string    { return TypeProgress }
func (Done) Type() string        { return TypeDone }
func (Cancelled) Type() string   { return TypeCancelled }
func (Saved) Type() string       { return TypeSaved }
func (StatusReply) Type() string { return TypeStatus }
func (*Error) Type() string      { return TypeError }

var (
	kindRE = regexp.MustCompile(`^[a-z][a-z0-9_.-]{0,63}$`)
	// IDRE matches project, session and job ids: never a path, never hidden.
	IDRE   = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,63}$`)
	fileRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_-]{0,63}(\.[A-Za-z0-9]{1,8})?$`)
)

// ValidID reports whether s is a well-formed project, session or job id.
func ValidID(s string) bool { return IDRE.MatchString(s) }

// ValidFile reports whether s is a well-formed payload file name (no directories, no dots
// except one extension).
func ValidFile(s string) bool { return fileRE.MatchString(s) }

func checkParams(p json.RawMessage) error {
	if len(p) > MaxParams {
		return Errorf(TooLarge, "params are %d bytes, the limit is %d", len(p), MaxParams)
	}
	if len(p) > 0 {
		t := bytes.TrimLeft(p, " \t\r\n")
		if len(t) == 0 || (t[0] != '{' && !bytes.Equal(t, []byte("null"))) {
			return Errorf(BadInput, "params must be a JSON object")
		}
	}
	return nil
}

func checkKind(k string) error {
	if !kindRE.MatchString(k) {
		return Errorf(BadInput, "kind %q is not a valid name (lower-case letters, digits, . _ -)", truncate(k, 40))
	}
	return nil
}

func (h Hello) Validate() error {
	if h.Version <= 0 {
		return Errorf(BadInput, "hello needs a protocol version (this side speaks %d)", Version)
	}
	if h.Resume != "" && !ValidID(h.Resume) {
		return Errorf(BadInput, "resume is not a valid session id")
	}
	if len(h.Client) > 128 {
		return Errorf(BadInput, "client name longer than 128 bytes")
	}
	return nil
}

func (l Live) Validate() error {
	if err := checkKind(l.Kind); err != nil {
		return err
	}
	return checkParams(l.Params)
}

func (j Job) Validate() error {
	if err := checkKind(j.Kind); err != nil {
		return err
	}
	if j.Project != "" && !ValidID(j.Project) {
		return Errorf(BadInput, "project is not a valid project id")
	}
	return checkParams(j.Params)
}

func (c Cancel) Validate() error {
	if !ValidID(c.Job) {
		return Errorf(BadInput, "cancel needs a valid job id")
	}
	return nil
}

func (Status) Validate() error { return nil }

func (s Save) Validate() error {
	if !ValidID(s.Project) {
		return Errorf(BadInput, "save needs a valid project id")
	}
	if !ValidFile(s.File) {
		return Errorf(BadInput, "file %q is not a valid payload name", truncate(s.File, 40))
	}
	return nil
}

func (w Welcome) Validate() error {
	if w.Version <= 0 || !ValidID(w.Session) {
		return Errorf(BadInput, "welcome needs a version and a valid session id")
	}
	return nil
}
func (Result) Validate() error { return nil }
func (q Queued) Validate() error {
	if !ValidID(q.Job) {
		return Errorf(BadInput, "queued needs a valid job id")
	}
	return nil
}
func (p Progress) Validate() error {
	if !ValidID(p.Job) || p.Percent < 0 || p.Percent > 100 {
		return Errorf(BadInput, "progress needs a valid job id and a percent in [0, 100]")
	}
	return nil
}
func (d Done) Validate() error {
	if !ValidID(d.Job) {
		return Errorf(BadInput, "done needs a valid job id")
	}
	return nil
}
func (c Cancelled) Validate() error {
	if !ValidID(c.Job) {
		return Errorf(BadInput, "cancelled needs a valid job id")
	}
	return nil
}
func (s Saved) Validate() error {
	if !ValidID(s.Project) {
		return Errorf(BadInput, "saved needs a valid project id")
	}
	return nil
}
func (StatusReply) Validate() error { return nil }

// Requests are the types a server accepts; Replies the ones a client accepts.
var (
	requests = map[string]func() Message{
		TypeHello:  func() Message { return new(Hello) },
		TypeLive:   func() Message { return new(Live) },
		TypeJob:    func() Message { return new(Job) },
		TypeCancel: func() Message { return new(Cancel) },
		TypeStatus: func() Message { return new(Status) },
		TypeSave:   func() Message { return new(Save) },
	}
	replies = map[string]func() Message{
		TypeWelcome:   func() Message { return new(Welcome) },
		TypeResult:    func() Message { return new(Result) },
		TypeQueued:    func() Message { return new(Queued) },
		TypeProgress:  func() Message { return new(Progress) },
		TypeDone:      func() Message { return new(Done) },
		TypeCancelled: func() Message { return new(Cancelled) },
		TypeSaved:     func() Message { return new(Saved) },
		TypeStatus:    func() Message { return new(StatusReply) },
		TypeError:     func() Message { return new(Error) },
	}
)

// DecodeRequest decodes one text frame sent by a client. The returned seq is valid (non-zero)
// whenever the envelope itself parsed, even if the body did not, so that the error can echo it.
func DecodeRequest(data []byte) (uint64, Message, error) {
	return decode(data, requests, true)
}

// DecodeReply decodes one text frame sent by a server.
func DecodeReply(data []byte) (uint64, Message, error) {
	return decode(data, replies, false)
}

func decode(data []byte, table map[string]func() Message, needSeq bool) (uint64, Message, error) {
	if len(data) > MaxTextFrame {
		return 0, nil, Errorf(TooLarge, "text frame is %d bytes, the limit is %d", len(data), MaxTextFrame)
	}
	var env Envelope
	if err := json.Unmarshal(data, &env); err != nil {
		return 0, nil, Errorf(BadInput, "malformed JSON: %v", err)
	}
	if env.Type == "" {
		return env.Seq, nil, Errorf(BadInput, "frame has no type")
	}
	mk, ok := table[env.Type]
	if !ok {
		return env.Seq, nil, Errorf(UnknownType, "unknown message type %q", truncate(env.Type, 40))
	}
	if needSeq && env.Seq == 0 {
		return 0, nil, Errorf(BadInput, "%s needs a seq > 0", env.Type)
	}
	m := mk()
	body := bytes.TrimSpace(env.Body)
	if len(body) > 0 && !bytes.Equal(body, []byte("null")) {
		if body[0] != '{' {
			return env.Seq, nil, Errorf(BadInput, "%s body must be a JSON object", env.Type)
		}
		if err := json.Unmarshal(body, m); err != nil {
			return env.Seq, nil, Errorf(BadInput, "%s body: %v", env.Type, err)
		}
	}
	if err := m.Validate(); err != nil {
		var pe *Error
		if errors.As(err, &pe) {
			pe.Seq = env.Seq
		}
		return env.Seq, nil, err
	}
	// Return values, not pointers, so callers switch on value types.
	return env.Seq, deref(m), nil
}

func deref(m Message) Message {
	switch v := m.(type) {
	case *Hello:
		return *v
	case *Live:
		return *v
	case *Job:
		return *v
	case *Cancel:
		return *v
	case *Status:
		return *v
	case *Save:
		return *v
	case *Welcome:
		return *v
	case *Result:
		return *v
	case *Queued:
		return *v
	case *Progress:
		return *v
	case *Done:
		return *v
	case *Cancelled:
		return *v
	case *Saved:
		return *v
	case *StatusReply:
		return *v
	}
	return m // *Error stays a pointer: it is an error value
}

// Encode writes one text frame.
func Encode(seq uint64, m Message) ([]byte, error) {
	body, err := json.Marshal(m)
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	b, err := json.Marshal(Envelope{Type: m.Type(), Seq: seq, Body: body})
	if err != nil {
		return nil, fmt.Errorf("encode %s: %w", m.Type(), err)
	}
	if len(b) > MaxTextFrame {
		return nil, Errorf(TooLarge, "%s frame would be %d bytes, the limit is %d", m.Type(), len(b), MaxTextFrame)
	}
	return b, nil
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n] + "…"
}
