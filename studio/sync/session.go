// Package sync is the client side of a piano-roll project: it loads the song from the studio
// server, keeps the editable document, saves it back (debounced autosave), keeps every edit on
// this device at once (LocalStore), keeps working offline and pushes the newest song when the
// server is back, and runs inpainting jobs. The browser (wasm) and the desktop app share it.
//
// Resync rule: the document on this device wins. When the connection comes back (or a project
// opens with edits that never reached the server) the local song is saved as a new version.
// If the server's song changed meanwhile (another tab, another machine), that version is not
// lost: the server keeps the last 20 versions, and State().Note says which version was
// replaced so the person can restore it from the project's history. When this device has no
// unsaved edits and the server's song changed, the server's song is loaded instead, as an
// undoable import. Two tabs editing one project while both are connected each save their own
// song; the newest save is current and the others stay in the history.
//
// The mask and the loop region are kept on this device only (the MIDI file has no place for
// them): a reload on this device finds them, another device does not.
package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	stdsync "sync"
	"time"

	"latentstudio/studio/client"
	"latentstudio/studio/protocol"
	"latentstudio/studio/rolldoc"
)

// SongFile is the payload of a piano-roll project.
const SongFile = "song.mid"

// Config says which project to open on which server.
type Config struct {
	Server  string // studio base URL, http://host:port (https too)
	Project string // project id
	Token   string // sent as Authorization: Bearer (a browser sends the page's cookie instead)
	Dial    client.DialFunc
	Local   LocalStore   // nil: in memory only
	HTTP    *http.Client // nil: http.DefaultClient (fetch in a browser)
	Name    string       // client name in the hello ("studio")

	Debounce   time.Duration // autosave this long after the last edit (500 ms)
	MaxDelay   time.Duration // and at least this often while edits keep coming (2 s)
	MaxBackoff time.Duration // longest wait between reconnection attempts (5 s)
}

// Errors of a session.
var (
	ErrOffline        = errors.New("the studio server is not reachable")
	ErrConnectionLost = errors.New("the connection to the studio was lost during inpainting; your song is unchanged: inpaint again when it is back")
)

// Session is one open project.
type Session struct {
	cfg       Config
	doc       *rolldoc.Doc
	stopWatch func()

	ctx    context.Context // ends with Close
	cancel context.CancelFunc
	wg     stdsync.WaitGroup

	edits chan struct{} // the document changed
	push  chan struct{} // time to save to the server

	saveMu       stdsync.Mutex // one save at a time, so versions arrive in the order they were sent
	localMu      stdsync.Mutex // serializes writes of the local record; guards the fields below
	localVersion uint64        // doc.Version() the local record holds
	midi         []byte        // the song as MIDI at midiSong (brush strokes do not rewrite it)
	midiSong     uint64

	mu        stdsync.Mutex
	client    *client.Client // nil until the first connection
	closed    bool
	online    bool
	lost      chan struct{} // closed when the connection drops
	state     State
	base      int    // server version this device's song descends from
	savedSong uint64 // doc.SongVersion() the server holds
	note      string
	name      string // the project's name as the server last gave it
}

// record is what the local store keeps per project.
type record struct {
	Project string              `json:"project"`
	Base    int                 `json:"base"`  // server version the song descends from
	Dirty   bool                `json:"dirty"` // edits the server has not confirmed
	MIDI    []byte              `json:"midi"`
	Editor  rolldoc.EditorState `json:"editor"` // mask and loop: not in the MIDI file
	Saved   time.Time           `json:"saved"`
}

func localKey(project string) string { return "song/" + project }

// Open loads the project's song and connects. When the server cannot be reached but this
// device holds the project, it opens offline and connects when the server is back. When this
// device holds edits the server never got (a tab closed while offline), they are restored and
// pushed.
func Open(ctx context.Context, cfg Config) (*Session, error) {
	if !protocol.ValidID(cfg.Project) {
		return nil, protocol.Errorf(protocol.BadInput, "open: %q is not a project id", cfg.Project)
	}
	if _, err := wsURL(cfg.Server); err != nil {
		return nil, err
	}
	if cfg.Local == nil {
		cfg.Local = NewMemoryStore()
	}
	if cfg.HTTP == nil {
		cfg.HTTP = http.DefaultClient
	}
	if cfg.Name == "" {
		cfg.Name = "studio"
	}
	if cfg.Debounce <= 0 {
		cfg.Debounce = 500 * time.Millisecond
	}
	if cfg.MaxDelay <= 0 {
		cfg.MaxDelay = 2 * time.Second
	}
	if cfg.MaxBackoff <= 0 {
		cfg.MaxBackoff = 5 * time.Second
	}
	s := &Session{cfg: cfg, edits: make(chan struct{}, 1), push: make(chan struct{}, 1), lost: make(chan struct{})}
	close(s.lost) // not connected yet

	var local *record
	raw, err := cfg.Local.Get(localKey(cfg.Project))
	if err == nil {
		var r record
		if json.Unmarshal(raw, &r) == nil && r.Project == cfg.Project {
			local = &r
		}
	}
	midi, version, ferr := s.fetchSong(ctx)
	reachable := ferr == nil
	switch {
	case ferr != nil && !errors.Is(ferr, ErrOffline):
		return nil, ferr // not found, unauthorized: opening offline would hide it
	case ferr != nil && local == nil:
		return nil, fmt.Errorf("open %s: %w, and this device holds no copy of the project", cfg.Project, ferr)
	}

	var doc *rolldoc.Doc
	dirty := false
	if local != nil && (local.Dirty || !reachable) {
		d, err := rolldoc.FromMIDI(local.MIDI)
		if err == nil {
			d.RestoreEditorState(local.Editor) // a mask that does not fit is dropped, the song kept
			doc, dirty, s.base = d, local.Dirty, local.Base
			if reachable && local.Dirty && version != local.Base {
				s.note = fmt.Sprintf("this device's unsaved song replaced server version %d (restore it from the project's history)", version)
			}
		} else if !reachable {
			return nil, fmt.Errorf("open %s offline: the copy on this device is unreadable: %w", cfg.Project, err)
		} else if local.Dirty {
			// never overwrite what may be someone's work: keep it aside and say so
			cfg.Local.Put(localKey(cfg.Project)+".unreadable", raw)
			s.note = "this device's unsaved copy could not be read; it was kept aside and the server's song opened"
		}
	}
	if doc == nil {
		d, err := rolldoc.FromMIDI(midi)
		if err != nil {
			return nil, fmt.Errorf("open %s: the server's song: %w", cfg.Project, err)
		}
		doc, s.base = d, version
		if local != nil && !local.Dirty && local.Base == version {
			doc.RestoreEditorState(local.Editor) // this device's mask was painted on this very song
		}
	}
	s.doc = doc
	if !dirty {
		s.savedSong = doc.SongVersion()
	}
	s.state = State{Kind: Connecting, Version: s.base, Note: s.note}
	if !reachable {
		s.state = State{Kind: Offline, Version: s.base, Err: ferr}
	}
	s.ctx, s.cancel = context.WithCancel(context.Background())
	if err := s.writeLocal(); err != nil {
		// a full or blocked store must not keep a project closed; the status bar says it
		s.note = "edits are not kept on this device: " + err.Error()
		s.state.Note = s.note
	}
	s.stopWatch = doc.Watch(func() {
		select {
		case s.edits <- struct{}{}:
		default:
		}
	})

	if reachable {
		cctx, cancel := context.WithTimeout(ctx, 10*time.Second)
		err := s.connect(cctx)
		cancel()
		if err != nil && protocol.CodeOf(err) == protocol.Unauthorized {
			s.Close()
			return nil, err
		}
	}
	s.mu.Lock()
	connected := s.client != nil
	s.mu.Unlock()
	if !connected {
		s.setState(func(st *State) { st.Kind = Offline })
		s.wg.Add(1)
		go s.dialLoop()
	}
	s.wg.Add(1)
	go s.run()
	if dirty {
		s.requestPush()
	}
	return s, nil
}

// Doc is the project's document. It stays the same object for the whole session.
func (s *Session) Doc() *rolldoc.Doc { return s.doc }

// Engine is the server's engine as its last welcome described it (zero before the first
// connection).
func (s *Session) Engine() protocol.EngineInfo {
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c == nil {
		return protocol.EngineInfo{}
	}
	return c.Welcome().Engine
}

// State is the session's state for the status bar.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// Name is the project's name as the server last gave it with the song; empty until the server
// answered (a project opened offline from this device's copy).
func (s *Session) Name() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.name
}

// Online reports whether the session is connected.
func (s *Session) Online() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.online
}

// settle shows Saved or Unsaved (at the version this device's song descends from) once nothing
// is in flight.
func (s *Session) settle() {
	v := s.doc.SongVersion()
	s.mu.Lock()
	defer s.mu.Unlock()
	s.state.Version, s.state.Err = s.base, nil
	if v != s.savedSong {
		s.state.Kind = Unsaved
	} else {
		s.state.Kind = Saved
	}
}

// setState changes the state under the session's lock; f must not call locking methods.
func (s *Session) setState(f func(*State)) {
	s.mu.Lock()
	f(&s.state)
	s.mu.Unlock()
}

// Close saves what is unsaved (briefly, when connected), keeps it on this device and closes
// the connection.
func (s *Session) Close() error {
	if s.stopWatch != nil {
		s.stopWatch()
	}
	var err error
	if s.dirty() && s.Online() {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		err = s.save(ctx)
		cancel()
	}
	if lerr := s.writeLocal(); err == nil {
		err = lerr
	}
	s.cancel()
	s.mu.Lock()
	s.closed = true // a dial finishing now closes its own client
	c := s.client
	s.mu.Unlock()
	if c != nil {
		c.Close()
	}
	s.wg.Wait()
	return err
}

// Flush saves now when there is something to save and waits for the answer.
func (s *Session) Flush(ctx context.Context) error {
	if !s.dirty() {
		return nil
	}
	return s.save(ctx)
}
