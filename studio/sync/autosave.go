package sync

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"latentstudio/studio/client"
	"latentstudio/studio/protocol"
)

// Autosave: every change goes to the local store at once; the song goes to the server
// Debounce after the last edit, and at least every MaxDelay while edits keep coming.

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
