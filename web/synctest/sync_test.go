package synctest

import (
	"bytes"
	"context"
	"errors"
	"slices"
	"strings"
	"testing"
	"time"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/protocol"
	"latentstudio/studio/rolldoc"
	studiosync "latentstudio/studio/sync"
	"latentstudio/web/jobs"
)

func open(t *testing.T, server, project string, local studiosync.LocalStore, tune ...func(*studiosync.Config)) *studiosync.Session {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := studiosync.Config{
		Server: server, Project: project, Local: local, Name: "synctest",
		Debounce: 40 * time.Millisecond, MaxDelay: 300 * time.Millisecond, MaxBackoff: 200 * time.Millisecond,
	}
	for _, f := range tune {
		f(&cfg)
	}
	s, err := studiosync.Open(ctx, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// synced waits until the server holds exactly the session's song.
func synced(t *testing.T, st *studio, s *studiosync.Session, project string) {
	t.Helper()
	waitFor(t, "the server to hold the local song", func() bool {
		mine, _ := s.Doc().MIDI()
		return s.State().Kind == studiosync.Saved && bytes.Equal(st.song(project), mine)
	})
}

func note(i int) pianoroll.Note {
	return pianoroll.Note{Start: i * 4, Dur: 3, Pitch: uint8(48 + i%24), Vel: 90}
}

func TestAutosaveIsDebounced(t *testing.T) {
	st := newStudio(t, false)
	id := st.newProject("autosave")
	s := open(t, st.url(), id, studiosync.NewMemoryStore(), func(c *studiosync.Config) {
		c.Debounce, c.MaxDelay = 300*time.Millisecond, time.Second // wide, so a busy machine cannot split the burst
	})
	defer s.Close()
	if s.State().Kind != studiosync.Saved || s.Doc().Len() != 0 {
		t.Fatalf("a new project: %v, %d notes", s.State(), s.Doc().Len())
	}
	if e := s.Engine(); e.Backend == "" {
		t.Errorf("the session does not know the server's engine: %+v", e)
	}
	// 30 edits, 5 ms apart: far fewer saves than edits, the last one holding all of them
	for i := range 30 {
		if _, err := s.Doc().AddNote(note(i)); err != nil {
			t.Fatal(err)
		}
		time.Sleep(5 * time.Millisecond)
	}
	synced(t, st, s, id)
	m, _ := st.srv.Store.Get(id)
	if m.Version > 1+5 || m.Version < 2 {
		t.Fatalf("%d versions for 30 edits", m.Version)
	}
	if s.State().Version != m.Version {
		t.Fatalf("state says version %d, server %d", s.State().Version, m.Version)
	}
	// a mask or a selection is not a song change: no save
	s.Doc().MaskBox(0, 0, 10, 10, false)
	s.Doc().SelectAll()
	time.Sleep(150 * time.Millisecond)
	if m2, _ := st.srv.Store.Get(id); m2.Version != m.Version {
		t.Fatal("saved without a song change")
	}
	// undo is an edit like any other; Flush saves it now, without waiting for the debounce
	s.Doc().Undo()
	s.Doc().Undo()
	if err := s.Flush(context.Background()); err != nil {
		t.Fatal(err)
	}
	if mine, _ := s.Doc().MIDI(); !bytes.Equal(st.song(id), mine) || !s.Online() {
		t.Fatal("flush did not save")
	}
}

// The must-show: the server is stopped mid-edit, the editor keeps working, a new server comes
// up on the same data folder and port, and the session resyncs without losing an edit.
func TestServerRestartMidEditLosesNothing(t *testing.T) {
	st := newStudio(t, false)
	id := st.newProject("restart")
	local, err := studiosync.NewFileStore(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	s := open(t, st.url(), id, local)
	defer s.Close()
	for i := range 5 {
		s.Doc().AddNote(note(i))
	}
	synced(t, st, s, id)

	for i := 5; i < 8; i++ { // edits whose autosave has not happened yet
		s.Doc().AddNote(note(i))
	}
	st.stop()
	waitFor(t, "offline", func() bool { return s.State().Kind == studiosync.Offline })
	for i := 8; i < 15; i++ { // the editor keeps working
		s.Doc().AddNote(note(i))
	}
	ids := s.Doc().Selection()
	s.Doc().MoveNotes(ids, 2, 1)
	s.Doc().Transpose(nil, -12)
	if !strings.Contains(s.State().String(), "offline") {
		t.Fatalf("status bar: %q", s.State())
	}

	st.start(false) // a new server on the same folder and port
	synced(t, st, s, id)
	back, err := rolldoc.FromMIDI(st.song(id))
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(back.PlainNotes(), s.Doc().PlainNotes()) || back.Len() != 15 {
		t.Fatalf("server holds %d notes, the editor %d", back.Len(), s.Doc().Len())
	}
	if s.State().Note != "" {
		t.Fatalf("no conflict expected: %q", s.State().Note)
	}
	// and the session keeps saving
	s.Doc().AddNote(note(20))
	synced(t, st, s, id)
}

// A tab closed while the server was down: the next open finds the unsynced song on this device,
// restores it and pushes it.
func TestUnsyncedLocalSongIsRestoredOnOpen(t *testing.T) {
	st := newStudio(t, false)
	id := st.newProject("closed tab")
	local := studiosync.NewMemoryStore()
	s := open(t, st.url(), id, local)
	s.Doc().AddNote(note(1))
	synced(t, st, s, id)
	st.stop()
	waitFor(t, "offline", func() bool { return s.State().Kind == studiosync.Offline })
	s.Doc().AddNote(note(2))
	s.Doc().AddNote(note(3))
	want, _ := s.Doc().MIDI()
	if err := s.Close(); err != nil { // the tab closes; nothing reached the server
		t.Fatal(err)
	}

	st.start(false)
	s2 := open(t, st.url(), id, local)
	defer s2.Close()
	if got, _ := s2.Doc().MIDI(); !bytes.Equal(got, want) {
		t.Fatalf("reopened with %d notes, want 3", s2.Doc().Len())
	}
	synced(t, st, s2, id)
}

// While this device was cut off, another client saved a different song. This device's song
// wins, the status bar says which server version it replaced, and that version stays in the
// project's history.
func TestOfflineEditsWinAndTheServerKeepsTheOther(t *testing.T) {
	st := newStudio(t, false)
	id := st.newProject("conflict")
	px := newProxy(t, st.addr)
	s := open(t, px.url(), id, studiosync.NewMemoryStore())
	defer s.Close()
	s.Doc().AddNote(note(1))
	synced(t, st, s, id)

	px.cut()
	waitFor(t, "offline", func() bool { return s.State().Kind == studiosync.Offline })
	s.Doc().AddNote(note(2))
	other := rolldoc.New()
	other.AddNote(pianoroll.Note{Start: 0, Dur: 16, Pitch: 30, Vel: 50})
	theirs, _ := other.MIDI()
	v, err := st.srv.Projects.Save(id, "song.mid", theirs)
	if err != nil {
		t.Fatal(err)
	}
	px.heal()
	synced(t, st, s, id)
	if note := s.State().Note; !strings.Contains(note, "replaced server version") {
		t.Fatalf("note %q", note)
	}
	vs, _ := st.srv.Store.Versions(id)
	found := false
	for _, ver := range vs {
		found = found || ver.Version == v
	}
	if !found {
		t.Fatalf("version %d (the other client's) not kept: %v", v, vs)
	}
}

// With nothing unsaved here, a newer song on the server is loaded on reconnect (undoably).
func TestNewerServerSongIsLoadedWhenNothingIsUnsaved(t *testing.T) {
	st := newStudio(t, false)
	id := st.newProject("adopt")
	px := newProxy(t, st.addr)
	s := open(t, px.url(), id, studiosync.NewMemoryStore())
	defer s.Close()
	s.Doc().AddNote(note(1))
	synced(t, st, s, id)
	px.cut()
	waitFor(t, "offline", func() bool { return s.State().Kind == studiosync.Offline })
	other := rolldoc.New()
	other.AddNote(pianoroll.Note{Start: 0, Dur: 16, Pitch: 30, Vel: 50})
	theirs, _ := other.MIDI()
	theirV, _ := st.srv.Projects.Save(id, "song.mid", theirs)
	px.heal()
	waitFor(t, "the server's song", func() bool {
		ns := s.Doc().PlainNotes()
		return len(ns) == 1 && ns[0].Pitch == 30 && s.State().Kind == studiosync.Saved
	})
	time.Sleep(400 * time.Millisecond) // past the autosave's debounce
	if m, _ := st.srv.Store.Get(id); m.Version != theirV || s.State().Version != theirV {
		t.Fatalf("loading the server's song made version %d (state %d), want %d", m.Version, s.State().Version, theirV)
	}
	if !s.Doc().CanUndo() {
		t.Fatal("loading the server's song cannot be undone")
	}
	// a song emptied elsewhere is loaded too
	px.cut()
	waitFor(t, "offline", func() bool { return s.State().Kind == studiosync.Offline })
	empty, _ := rolldoc.New().MIDI()
	st.srv.Projects.Save(id, "song.mid", empty)
	px.heal()
	waitFor(t, "the emptied song", func() bool { return s.Doc().Len() == 0 && s.State().Kind == studiosync.Saved })
}

func TestJobProgressCancelAndLostConnection(t *testing.T) {
	st := newStudio(t, false)
	id := st.newProject("jobs")
	px := newProxy(t, st.addr)
	s := open(t, px.url(), id, studiosync.NewMemoryStore())
	defer s.Close()
	ctx := context.Background()

	var percents []float64
	done, err := s.RunJob(ctx, "burn", jobs.BurnParams{MS: 20, Steps: 5}, func(p float64, stage string) {
		percents = append(percents, p)
	})
	if err != nil || len(done.Data) == 0 {
		t.Fatal(err)
	}
	if len(percents) == 0 || !slices.IsSorted(percents) {
		t.Fatalf("progress %v", percents)
	}

	// cancel through the context: back at once, and the server stops the job
	cctx, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
	defer cancel()
	start := time.Now()
	if _, err := s.RunJob(cctx, "burn", jobs.BurnParams{MS: 10000}, nil); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("cancelled job: %v", err)
	}
	if time.Since(start) > 5*time.Second {
		t.Fatal("cancel took too long")
	}
	waitFor(t, "the server to cancel the job", func() bool {
		for _, j := range st.srv.Jobs.ProjectJobs(id) {
			if j.State == protocol.JobRunning || j.State == protocol.JobQueued {
				return false
			}
		}
		return true
	})

	// a lost connection mid-job: a clear error at once, the document untouched
	s.Doc().AddNote(note(1))
	synced(t, st, s, id)
	v := s.Doc().Version()
	errc := make(chan error, 1)
	go func() {
		_, err := s.RunJob(ctx, "burn", jobs.BurnParams{MS: 3000}, nil)
		errc <- err
	}()
	waitFor(t, "the job to run", func() bool {
		js := st.srv.Jobs.ProjectJobs(id)
		return len(js) > 0 && js[len(js)-1].State == protocol.JobRunning
	})
	px.cut()
	select {
	case err := <-errc:
		if !errors.Is(err, studiosync.ErrConnectionLost) || !strings.Contains(err.Error(), "unchanged") {
			t.Fatalf("lost connection: %v", err)
		}
	case <-time.After(2 * time.Second):
		t.Fatal("no error within 2 s of losing the connection")
	}
	if s.Doc().Version() != v {
		t.Fatal("the document changed")
	}
	px.heal()
	synced(t, st, s, id)
}

// Inpainting with the shipped model on the CPU: a small window, then the candidate applied as
// one undo step.
func TestInpaintWithTheModel(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the model")
	}
	st := newStudio(t, true)
	id := st.newProject("inpaint")
	s := open(t, st.url(), id, studiosync.NewMemoryStore())
	defer s.Close()
	d := s.Doc()
	for i := range 24 { // a little melody over two octaves
		d.AddNote(pianoroll.Note{Start: i * 4, Dur: 4, Pitch: uint8(60 + (i*5)%14), Vel: 90})
	}
	d.MaskBox(32, 55, 63, 80, false)
	req, err := d.InpaintRequest(16, 64, rolldoc.InpaintOptions{Repaint: 1, Candidates: 2, Percentile: 1, Seed: 3, Sampling: 6})
	if err != nil {
		t.Fatal(err)
	}
	before := d.Version()
	var last float64
	res, err := s.Inpaint(context.Background(), req, func(p float64, stage string) { last = p })
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Candidates) != 2 || res.From != 16 || res.Steps != 64 || last <= 0 {
		t.Fatalf("result: %d candidates, window %d+%d, last progress %v", len(res.Candidates), res.From, res.Steps, last)
	}
	if d.Version() != before {
		t.Fatal("inpainting changed the document before a candidate was applied")
	}
	h := len(d.History())
	if err := d.ApplyCandidate(res, res.Pick); err != nil {
		t.Fatal(err)
	}
	if len(d.History()) != h+1 {
		t.Fatal("applying a candidate is not one step")
	}
	// outside the mask the song is as it was
	for _, n := range d.Notes() {
		if d.Generated(n.ID) && (n.Start < 32 || n.Start > 63 || n.Pitch < 55 || n.Pitch > 80) {
			t.Fatalf("generated note outside the mask: %+v", n)
		}
	}
	synced(t, st, s, id)
	if err := d.Remask(); err != nil && !errors.Is(err, rolldoc.ErrNotGenerated) {
		t.Fatal(err)
	}
	// an empty mask is refused before anything is sent
	d.ClearMask()
	if _, err := d.InpaintRequest(16, 64, rolldoc.InpaintOptions{}); !errors.Is(err, rolldoc.ErrEmptyMask) {
		t.Fatal(err)
	}
}

// A studio that shuts down while a job runs cancels it; the session says so in words.
func TestJobCancelledByShutdown(t *testing.T) {
	st := newStudio(t, false)
	id := st.newProject("shutdown")
	s := open(t, st.url(), id, studiosync.NewMemoryStore())
	defer s.Close()
	errc := make(chan error, 1)
	go func() {
		_, err := s.RunJob(context.Background(), "burn", jobs.BurnParams{MS: 5000}, nil)
		errc <- err
	}()
	waitFor(t, "the job to run", func() bool {
		js := st.srv.Jobs.ProjectJobs(id)
		return len(js) > 0 && js[0].State == protocol.JobRunning
	})
	st.stop()
	select {
	case err := <-errc:
		if err == nil || !strings.Contains(err.Error(), "unchanged") {
			t.Fatalf("job at shutdown: %v", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no answer after the shutdown")
	}
}

// A reload finds the mask and the loop region as they were (they live on this device: the
// MIDI file has no place for them), on a new project as on an edited one.
func TestReloadKeepsTheMask(t *testing.T) {
	st := newStudio(t, false)
	id := st.newProject("mask")
	local := studiosync.NewMemoryStore()
	s := open(t, st.url(), id, local)
	s.Doc().MaskBrush(rolldoc.Point{X: 4, Y: 60}, rolldoc.Point{X: 40, Y: 72}, 2, false)
	s.Doc().SetLoop(16, 64)
	cells := s.Doc().MaskCount()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	s2 := open(t, st.url(), id, local)
	if s2.Doc().MaskCount() != cells || s2.Doc().Loop() != (rolldoc.Loop{From: 16, To: 64}) {
		t.Fatalf("reopened with %d masked cells (want %d), loop %v", s2.Doc().MaskCount(), cells, s2.Doc().Loop())
	}
	s2.Doc().AddNote(note(3))
	synced(t, st, s2, id)
	s2.Doc().MaskBox(0, 0, 3, 3, false)
	cells = s2.Doc().MaskCount()
	s2.Close()
	s3 := open(t, st.url(), id, local)
	defer s3.Close()
	if s3.Doc().MaskCount() != cells || s3.Doc().Len() != 1 {
		t.Fatalf("second reopen: %d cells, %d notes", s3.Doc().MaskCount(), s3.Doc().Len())
	}
}

// Opened while the studio is down (from this device's copy), edited, then the studio comes
// up: the session connects by itself and saves.
func TestOpenedOfflineConnectsWhenTheStudioComesUp(t *testing.T) {
	st := newStudio(t, false)
	id := st.newProject("late server")
	local := studiosync.NewMemoryStore()
	s := open(t, st.url(), id, local)
	s.Doc().AddNote(note(1))
	synced(t, st, s, id)
	s.Close()
	st.stop()

	s2 := open(t, st.url(), id, local)
	defer s2.Close()
	if s2.State().Kind != studiosync.Offline || s2.Doc().Len() != 1 {
		t.Fatalf("opened offline: %v, %d notes", s2.State(), s2.Doc().Len())
	}
	s2.Doc().AddNote(note(2))
	st.start(false)
	synced(t, st, s2, id)
	if s2.Doc().Len() != 2 {
		t.Fatal(s2.Doc().Len())
	}
}

// A song too big for one save frame is refused in words, and kept on this device.
func TestTooBigToSaveIsSaidAndKeptLocally(t *testing.T) {
	st := newStudio(t, false)
	id := st.newProject("big")
	local := studiosync.NewMemoryStore()
	s := open(t, st.url(), id, local)
	defer s.Close()
	var ns []pianoroll.Note
	for i := range 30000 {
		ns = append(ns, pianoroll.Note{Start: i / 3, Dur: 1, Pitch: uint8(30 + i%60), Vel: 90}) // 10,000 steps: 21 minutes
	}
	if _, err := s.Doc().AddNotes(ns); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the refusal", func() bool { return s.State().Kind == studiosync.Failed })
	if msg := s.State().String(); !strings.Contains(msg, "too big") || !strings.Contains(msg, "kept on this device") {
		t.Fatalf("status %q", msg)
	}
	if err := s.Close(); err == nil {
		t.Fatal("close reported no failure")
	}
	s2 := open(t, st.url(), id, local)
	defer s2.Close()
	if s2.Doc().Len() != 30000 {
		t.Fatalf("reopened with %d notes", s2.Doc().Len())
	}
}

// The connection drops while an inpainting waits for the engine: Inpaint says so at once in
// words, the song is untouched, and the session saves again once the network is back.
func TestInpaintLostConnection(t *testing.T) {
	st := newStudio(t, true)
	id := st.newProject("inpaint lost")
	px := newProxy(t, st.addr)
	s := open(t, px.url(), id, studiosync.NewMemoryStore())
	defer s.Close()
	d := s.Doc()
	d.AddNote(pianoroll.Note{Start: 0, Dur: 8, Pitch: 60, Vel: 90})
	d.MaskBars(1, 1)
	req, err := d.InpaintRequest(0, 64, rolldoc.InpaintOptions{Repaint: 1, Sampling: 6})
	if err != nil {
		t.Fatal(err)
	}
	synced(t, st, s, id)
	v := d.Version()
	go s.RunJob(context.Background(), "burn", jobs.BurnParams{MS: 3000}, nil) // holds the one worker
	waitFor(t, "the burn job to run", func() bool {
		js := st.srv.Jobs.ProjectJobs(id)
		return len(js) > 0 && js[0].State == protocol.JobRunning
	})
	errc := make(chan error, 1)
	go func() {
		_, err := s.Inpaint(context.Background(), req, nil)
		errc <- err
	}()
	waitFor(t, "the inpainting to queue", func() bool { return len(st.srv.Jobs.ProjectJobs(id)) == 2 })
	px.cut()
	select {
	case err := <-errc:
		if !errors.Is(err, studiosync.ErrConnectionLost) {
			t.Fatalf("inpaint: %v", err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("no answer within 3 s of losing the connection")
	}
	if d.Version() != v {
		t.Fatal("the song changed")
	}
	px.heal()
	d.AddNote(note(9))
	synced(t, st, s, id)
}
