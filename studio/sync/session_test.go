package sync

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/protocol"
	"latentstudio/studio/rolldoc"
)

// These tests need no studio server; web/synctest runs the session against a real one.

func TestWSURL(t *testing.T) {
	for in, want := range map[string]string{
		"http://127.0.0.1:7380":   "ws://127.0.0.1:7380/ws",
		"https://studio.example/": "wss://studio.example/ws",
		"http://host:1/prefix/":   "ws://host:1/prefix/ws",
		"ftp://host":              "",
		"127.0.0.1:7380":          "",
		"http://":                 "",
	} {
		got, err := wsURL(in)
		if want == "" && err == nil || want != "" && got != want {
			t.Errorf("%q: %q %v", in, got, err)
		}
	}
}

func TestOpenRefusals(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch {
		case strings.Contains(r.URL.Path, "pmissing"):
			http.NotFound(w, r)
		case r.Header.Get("Authorization") != "Bearer right":
			http.Error(w, "no", http.StatusUnauthorized)
		}
	}))
	defer srv.Close()
	ctx := context.Background()
	if _, err := Open(ctx, Config{Server: srv.URL, Project: "pmissing"}); protocol.CodeOf(err) != protocol.NotFound {
		t.Fatalf("missing project: %v", err)
	}
	if _, err := Open(ctx, Config{Server: srv.URL, Project: "p1", Token: "wrong"}); protocol.CodeOf(err) != protocol.Unauthorized {
		t.Fatalf("wrong token: %v", err)
	}
	if _, err := Open(ctx, Config{Server: srv.URL, Project: "../etc"}); protocol.CodeOf(err) != protocol.BadInput {
		t.Fatalf("bad id: %v", err)
	}
	if _, err := Open(ctx, Config{Server: "localhost:80", Project: "p1"}); protocol.CodeOf(err) != protocol.BadInput {
		t.Fatalf("bad server: %v", err)
	}
}

// deadServer is an address nothing listens on.
func deadServer(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return "http://" + addr
}

func TestOpenOfflineFromTheLocalCopy(t *testing.T) {
	server := deadServer(t)
	local := NewMemoryStore()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if _, err := Open(ctx, Config{Server: server, Project: "p1", Local: local}); !errors.Is(err, ErrOffline) {
		t.Fatalf("no server, no copy: %v", err)
	}

	// a copy on this device, as a session that closed offline leaves it
	d := rolldoc.New()
	d.AddNote(pianoroll.Note{Start: 0, Dur: 4, Pitch: 60, Vel: 90})
	midi, _ := d.MIDI()
	rec, _ := json.Marshal(record{Project: "p1", Base: 3, Dirty: true, MIDI: midi})
	local.Put(localKey("p1"), rec)

	s, err := Open(ctx, Config{Server: server, Project: "p1", Local: local, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if st := s.State(); st.Kind != Offline || s.Online() || !strings.Contains(st.String(), "offline") {
		t.Fatalf("state %v", st)
	}
	if s.Doc().Len() != 1 {
		t.Fatal("the local copy was not loaded")
	}
	// every edit reaches the local store at once, still unsynced, still based on version 3
	s.Doc().AddNote(pianoroll.Note{Start: 8, Dur: 4, Pitch: 64, Vel: 90})
	waitFor(t, func() bool {
		r := readRecord(t, local, "p1")
		return r.Dirty && r.Base == 3 && notesIn(t, r.MIDI) == 2
	})
	if _, err := s.Inpaint(ctx, protocol.RollInpaint{}, nil); err == nil {
		t.Fatal("inpaint offline")
	}
	if _, err := s.RunJob(ctx, "burn", nil, nil); !errors.Is(err, ErrOffline) {
		t.Fatalf("job offline: %v", err)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if r := readRecord(t, local, "p1"); !r.Dirty || notesIn(t, r.MIDI) != 2 {
		t.Fatal("close lost the offline edits")
	}
}

func readRecord(t *testing.T, s LocalStore, project string) record {
	t.Helper()
	b, err := s.Get(localKey(project))
	if err != nil {
		t.Fatal(err)
	}
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		t.Fatal(err)
	}
	return r
}

func notesIn(t *testing.T, midi []byte) int {
	t.Helper()
	d, err := rolldoc.FromMIDI(midi)
	if err != nil {
		t.Fatal(err)
	}
	return d.Len()
}

func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !ok() {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestStateStrings(t *testing.T) {
	for st, want := range map[State]string{
		{Kind: Saved, Version: 7}:                         "saved (version 7)",
		{Kind: Failed, Err: errors.New("disk full")}:      "not saved: disk full",
		{Kind: Saving, Note: "server version 3 replaced"}: "saving… — server version 3 replaced",
	} {
		if got := st.String(); got != want {
			t.Errorf("%q, want %q", got, want)
		}
	}
}

// fullStore reads but refuses writes, as a browser whose storage quota is used up.
type fullStore struct{ *MemoryStore }

func (fullStore) Put(string, []byte) error { return errors.New("quota exceeded") }

func TestAFullLocalStoreDoesNotKeepTheProjectClosed(t *testing.T) {
	mem := NewMemoryStore()
	d := rolldoc.New()
	d.AddNote(pianoroll.Note{Start: 0, Dur: 4, Pitch: 60, Vel: 90})
	midi, _ := d.MIDI()
	rec, _ := json.Marshal(record{Project: "p1", Base: 2, MIDI: midi})
	mem.Put(localKey("p1"), rec)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{Server: deadServer(t), Project: "p1", Local: fullStore{mem}})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if !strings.Contains(s.State().Note, "not kept on this device") {
		t.Fatalf("state %v", s.State())
	}
	s.Doc().AddNote(pianoroll.Note{Start: 8, Dur: 4, Pitch: 62, Vel: 90})
	waitFor(t, func() bool { st := s.State(); return st.Kind == Failed && strings.Contains(st.String(), "quota") })
}

func TestAnUnreadableLocalCopyIsKeptAside(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := rolldoc.New().MIDI()
		w.Header().Set("X-Project-Version", "4")
		w.Header().Set("X-Project-Name", url.PathEscape("Nocturne / für Elise"))
		w.Write(b)
	}))
	defer srv.Close()
	local := NewMemoryStore()
	rec, _ := json.Marshal(record{Project: "p1", Base: 3, Dirty: true, MIDI: []byte("garbage")})
	local.Put(localKey("p1"), rec)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := Open(ctx, Config{Server: srv.URL, Project: "p1", Local: local, MaxBackoff: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if b, err := local.Get(localKey("p1") + ".unreadable"); err != nil || !bytes.Equal(b, rec) {
		t.Fatalf("kept aside: %q %v", b, err)
	}
	if !strings.Contains(s.State().Note, "kept aside") {
		t.Fatalf("note %q", s.State().Note)
	}
	if s.Name() != "Nocturne / für Elise" { // the server's name for the canvas's title
		t.Fatalf("name %q", s.Name())
	}
}
