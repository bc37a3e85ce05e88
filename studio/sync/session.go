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
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
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

// Kind is what the status bar shows.
type Kind int

// The session's states.
const (
	Connecting   Kind = iota // opening
	Saved                    // the server holds the song as it is here
	Saving                   // a save is on its way
	Unsaved                  // edits wait for the autosave
	Offline                  // no connection; edits are kept on this device; retrying
	Reconnecting             // connection back; pushing this device's song
	Failed                   // the server refused a save, or the local store failed (Err says)
)

var kindNames = [...]string{"connecting", "saved", "saving", "unsaved", "offline", "reconnecting", "error"}

func (k Kind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return "state " + strconv.Itoa(int(k))
}

// State is the session's state for the status bar.
type State struct {
	Kind    Kind
	Version int    // the server's version of the song this device last saved or loaded
	Err     error  // for Failed (and the last error seen while Offline)
	Note    string // something the person should know, e.g. a version replaced on resync
}

func (s State) String() string {
	var msg string
	switch s.Kind {
	case Saved:
		msg = fmt.Sprintf("saved (version %d)", s.Version)
	case Saving:
		msg = "saving…"
	case Unsaved:
		msg = "edited"
	case Offline:
		msg = "offline: edits are kept on this device and saved when the studio is back"
	case Reconnecting:
		msg = "reconnected: saving this device's song…"
	case Failed:
		msg = "not saved: " + errString(s.Err)
	default:
		msg = s.Kind.String() + "…"
	}
	if s.Note != "" {
		msg += " — " + s.Note
	}
	return msg
}

func errString(err error) string {
	if err == nil {
		return "unknown error"
	}
	return err.Error()
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

// State is the session's state for the status bar.
func (s *Session) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
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

// Dirty reports whether the server lacks edits made here.
func (s *Session) dirty() bool {
	v := s.doc.SongVersion()
	s.mu.Lock()
	defer s.mu.Unlock()
	return v != s.savedSong
}

// writeLocal keeps the document's song on this device with its sync status.
func (s *Session) writeLocal() error {
	s.localMu.Lock()
	defer s.localMu.Unlock()
	ver, song := s.doc.Version(), s.doc.SongVersion()
	if s.midi == nil || s.midiSong != song {
		midi, err := s.doc.MIDI()
		if err != nil {
			return err
		}
		s.midi, s.midiSong = midi, song
	}
	editor := s.doc.EditorState()
	s.mu.Lock()
	r := record{Project: s.cfg.Project, Base: s.base, Dirty: song != s.savedSong, MIDI: s.midi, Editor: editor, Saved: time.Now().UTC()}
	s.mu.Unlock()
	b, _ := json.Marshal(r)
	if err := s.cfg.Local.Put(localKey(s.cfg.Project), b); err != nil {
		s.setState(func(st *State) { st.Kind, st.Err = Failed, err })
		return err
	}
	s.localVersion = ver
	return nil
}

// localIsCurrent reports whether the local record holds the document as it is.
func (s *Session) localIsCurrent() bool {
	s.localMu.Lock()
	defer s.localMu.Unlock()
	return s.localVersion == s.doc.Version()
}

func (s *Session) requestPush() {
	select {
	case s.push <- struct{}{}:
	default:
	}
}

// run keeps the local copy current on every edit and times the autosave: Debounce after the
// last edit, but no later than MaxDelay after the first unsaved one.
func (s *Session) run() {
	defer s.wg.Done()
	timer := time.NewTimer(time.Hour)
	timer.Stop()
	var first time.Time // first edit not yet saved; zero when none waits
	for {
		select {
		case <-s.ctx.Done():
			return
		case <-s.edits:
			var lerr error
			if !s.localIsCurrent() {
				lerr = s.writeLocal() // the mask too: a reload finds it as it was painted
			}
			if !s.dirty() {
				continue // selection, mask: not part of the song file
			}
			now := time.Now()
			if first.IsZero() {
				first = now
			}
			due := min(s.cfg.Debounce, first.Add(s.cfg.MaxDelay).Sub(now))
			timer.Reset(max(due, 0))
			s.setState(func(st *State) {
				switch {
				case lerr != nil: // shown until a write succeeds: a crash now would lose edits
					st.Kind, st.Err = Failed, lerr
				case st.Kind == Saved || st.Kind == Failed:
					st.Kind, st.Err = Unsaved, nil
				}
			})
		case <-timer.C:
			first = time.Time{}
			s.pushNow()
		case <-s.push:
			first = time.Time{}
			timer.Stop()
			s.pushNow()
		}
	}
}

// pushNow saves when connected; offline, the reconnection pushes later.
func (s *Session) pushNow() {
	if !s.Online() || !s.dirty() {
		return
	}
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	s.save(ctx)
}

// save sends the document's song as a new version.
func (s *Session) save(ctx context.Context) error {
	s.saveMu.Lock()
	defer s.saveMu.Unlock()
	if !s.dirty() {
		return nil // a save that just finished took this song along
	}
	s.mu.Lock()
	c := s.client
	s.mu.Unlock()
	if c == nil {
		return ErrOffline
	}
	v := s.doc.SongVersion()
	midi, err := s.doc.MIDI()
	if err != nil {
		return err
	}
	s.setState(func(st *State) { st.Kind = Saving })
	ver, err := c.Save(ctx, s.cfg.Project, SongFile, midi)
	if err != nil {
		if errors.Is(err, client.ErrDisconnected) || errors.Is(err, client.ErrClosed) || errors.Is(err, context.Canceled) {
			s.setState(func(st *State) { st.Kind, st.Err = Offline, err })
			return fmt.Errorf("%w: %v", ErrOffline, err)
		}
		if protocol.CodeOf(err) == protocol.TooLarge {
			err = fmt.Errorf("the song (%d notes, %d kB as MIDI) is too big for one save to the studio; it is kept on this device: %w", s.doc.Len(), len(midi)>>10, err)
		}
		s.setState(func(st *State) { st.Kind, st.Err = Failed, err })
		return err
	}
	s.mu.Lock()
	s.base, s.savedSong = ver, v
	s.mu.Unlock()
	s.writeLocal()
	s.settle()
	return nil
}

// connect dials the websocket (the client redials by itself from then on).
func (s *Session) connect(ctx context.Context) error {
	u, _ := wsURL(s.cfg.Server)
	c, err := client.Dial(ctx, u, client.Options{
		Token: s.cfg.Token, Name: s.cfg.Name, Dial: s.cfg.Dial,
		Reconnect: true, MaxBackoff: s.cfg.MaxBackoff,
		OnDisconnect: s.onDisconnect,
	})
	if err != nil {
		return err
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		c.Close()
		return client.ErrClosed
	}
	s.client = c
	s.online = true
	s.lost = make(chan struct{})
	s.mu.Unlock()
	s.settle()
	return nil
}

// dialLoop connects a session that opened offline, then resyncs.
func (s *Session) dialLoop() {
	defer s.wg.Done()
	wait := 100 * time.Millisecond
	for {
		ctx, cancel := context.WithTimeout(s.ctx, 10*time.Second)
		err := s.connect(ctx)
		cancel()
		if err == nil {
			s.resync()
			return
		}
		if protocol.CodeOf(err) == protocol.Unauthorized {
			s.setState(func(st *State) { st.Kind, st.Err = Failed, err })
			return
		}
		select {
		case <-s.ctx.Done():
			return
		case <-time.After(wait):
		}
		wait = min(wait*2, s.cfg.MaxBackoff)
	}
}

// onDisconnect runs on the client's read goroutine when the connection drops.
func (s *Session) onDisconnect(err error) {
	s.mu.Lock()
	if !s.online {
		s.mu.Unlock()
		return
	}
	s.online = false
	close(s.lost)
	c := s.client
	s.mu.Unlock()
	s.setState(func(st *State) { st.Kind, st.Err = Offline, err })
	if s.ctx.Err() != nil {
		return // closing
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		// a request waits for the client's redial; its answer means we are back
		if _, err := c.Status(s.ctx); err != nil {
			if errors.Is(err, client.ErrClosed) && s.ctx.Err() == nil {
				s.setState(func(st *State) { st.Kind, st.Err = Failed, fmt.Errorf("the studio refused to reconnect: %w", err) })
			}
			return
		}
		s.mu.Lock()
		s.online = true
		s.lost = make(chan struct{})
		s.mu.Unlock()
		s.resync()
	}()
}

// resync brings the server and this device together after a connection (re)opened: this
// device's song wins when it holds unsaved edits; otherwise a newer song on the server is
// loaded.
func (s *Session) resync() {
	s.setState(func(st *State) { st.Kind, st.Err = Reconnecting, nil })
	ctx, cancel := context.WithTimeout(s.ctx, 30*time.Second)
	defer cancel()
	midi, version, err := s.fetchSong(ctx)
	s.mu.Lock()
	base := s.base
	s.mu.Unlock()
	if err == nil && version != base {
		v := s.doc.SongVersion()
		mine, _ := s.doc.MIDI()
		switch {
		case bytes.Equal(mine, midi):
			// the server holds this very song (a save whose answer was lost with the connection)
			s.mu.Lock()
			s.base, s.savedSong = version, v
			s.mu.Unlock()
			s.writeLocal()
			s.setState(func(st *State) { st.Version = version })
		case s.dirty():
			s.mu.Lock()
			s.note = fmt.Sprintf("this device's song replaced server version %d, saved elsewhere while offline (restore it from the project's history)", version)
			s.mu.Unlock()
			s.setState(func(st *State) { st.Note = s.note })
		default:
			if ierr := s.adopt(midi, version); ierr != nil {
				s.setState(func(st *State) { st.Note = "could not load the server's newer song: " + ierr.Error() })
			}
		}
	}
	if s.dirty() {
		s.save(ctx)
		return
	}
	s.settle()
}

// adopt loads the server's song into the document as an undoable import.
func (s *Session) adopt(midi []byte, version int) error {
	if err := s.doc.Import(midi); err != nil && !errors.Is(err, rolldoc.ErrNoNotes) {
		return err
	}
	v := s.doc.SongVersion()
	s.mu.Lock()
	s.base, s.savedSong = version, v
	s.mu.Unlock()
	s.setState(func(st *State) {
		st.Version, st.Note = version, fmt.Sprintf("loaded version %d saved elsewhere (undo returns to this device's song)", version)
	})
	return s.writeLocal()
}

// fetchSong GETs the song and its version. A server that cannot be reached is ErrOffline;
// one that answers with an error gives a typed protocol error.
func (s *Session) fetchSong(ctx context.Context) ([]byte, int, error) {
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second) // a server that hangs is one that is down
	defer cancel()
	u := strings.TrimSuffix(s.cfg.Server, "/") + "/projects/" + url.PathEscape(s.cfg.Project) + "/files/" + SongFile
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, 0, protocol.Errorf(protocol.BadInput, "server URL %q: %v", s.cfg.Server, err)
	}
	if s.cfg.Token != "" {
		req.Header.Set("Authorization", "Bearer "+s.cfg.Token)
	}
	resp, err := s.cfg.HTTP.Do(req)
	if err != nil {
		return nil, 0, fmt.Errorf("%w (%s): %v", ErrOffline, s.cfg.Server, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, rolldoc.MaxImportBytes+1))
	if err != nil {
		return nil, 0, fmt.Errorf("%w: reading the song: %v", ErrOffline, err)
	}
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotFound:
		return nil, 0, protocol.Errorf(protocol.NotFound, "project %s not found on %s", s.cfg.Project, s.cfg.Server)
	case http.StatusUnauthorized, http.StatusForbidden:
		return nil, 0, protocol.Errorf(protocol.Unauthorized, "the studio at %s refused this client (%s): pass the token it printed", s.cfg.Server, resp.Status)
	default:
		if resp.StatusCode >= 500 {
			return nil, 0, fmt.Errorf("%w: %s answered %s", ErrOffline, s.cfg.Server, resp.Status)
		}
		return nil, 0, protocol.Errorf(protocol.Internal, "load song: %s: %s", resp.Status, strings.TrimSpace(string(body)))
	}
	version, err := strconv.Atoi(resp.Header.Get("X-Project-Version"))
	if err != nil {
		return nil, 0, protocol.Errorf(protocol.Internal, "load song: the server sent no X-Project-Version")
	}
	return body, version, nil
}

// wsURL turns the server's base URL into its websocket URL.
func wsURL(server string) (string, error) {
	u, err := url.Parse(server)
	if err != nil || u.Host == "" {
		return "", protocol.Errorf(protocol.BadInput, "server %q: want http://host:port", server)
	}
	switch u.Scheme {
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return "", protocol.Errorf(protocol.BadInput, "server %q: the scheme must be http or https", server)
	}
	u.Path = strings.TrimSuffix(u.Path, "/") + "/ws"
	return u.String(), nil
}
