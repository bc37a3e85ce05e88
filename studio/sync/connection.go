package sync

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"

	"latentstudio/studio/client"
	"latentstudio/studio/protocol"
	"latentstudio/studio/rolldoc"
)

// The connection: the first dial, redials, and the resync after each (re)connection.

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
	if err := s.doc.ReplaceSong(midi); err != nil {
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
	if name, err := url.PathUnescape(resp.Header.Get("X-Project-Name")); err == nil && name != "" {
		s.mu.Lock()
		s.name = name
		s.mu.Unlock()
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
