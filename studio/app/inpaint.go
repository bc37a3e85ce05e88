package app

import (
	"context"
	"errors"
	"fmt"
	gosync "sync"

	"latentstudio/studio/pianoroll"
	"latentstudio/studio/protocol"
	"latentstudio/studio/rolldoc"
)

// inpaintState follows one inpainting job and its candidates.
type inpaintState struct {
	mu       gosync.Mutex
	running  bool
	percent  float64
	stage    string
	cancel   context.CancelFunc
	done     *inpaintDone
	result   protocol.RollInpaintResult
	applied  int    // candidate applied to the song (-1: none)
	appliedV uint64 // document version right after applying it
	preview  int    // candidate being auditioned without applying (-1: none)
}

type inpaintDone struct {
	res protocol.RollInpaintResult
	err error
}

func (s *inpaintState) cancelJob() {
	s.mu.Lock()
	if s.cancel != nil {
		s.cancel()
	}
	s.mu.Unlock()
}

func (s *inpaintState) progress() (bool, float64, string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.running, s.percent, s.stage
}

// startInpaint sends the mask's window to the server.
func (a *App) startInpaint() {
	se := a.sess()
	if se == nil {
		a.fail("inpaint", errNoServer)
		return
	}
	if running, _, _ := a.inp.progress(); running {
		return
	}
	from, err := a.doc.InpaintWindow(0)
	if err != nil {
		a.fail("inpaint", err)
		return
	}
	req, err := a.doc.InpaintRequest(from, rolldoc.ModelWindow, a.opts)
	if err != nil {
		a.fail("inpaint", err)
		return
	}
	ctx, cancel := context.WithCancel(a.ctx)
	s := &a.inp
	s.mu.Lock()
	s.running, s.percent, s.stage, s.cancel, s.done = true, 0, "queued", cancel, nil
	s.mu.Unlock()
	go func() {
		res, err := se.Inpaint(ctx, req, func(pct float64, stage string) {
			s.mu.Lock()
			s.percent, s.stage = pct, stage
			s.mu.Unlock()
		})
		s.mu.Lock()
		s.running, s.cancel = false, nil
		s.done = &inpaintDone{res, err}
		s.mu.Unlock()
		cancel()
	}()
}

// poll picks up a finished job on the game loop: the server's pick is
// applied at once (one undo step), the rest wait in the candidate strip.
func (s *inpaintState) poll(a *App) {
	s.mu.Lock()
	d := s.done
	s.done = nil
	s.mu.Unlock()
	if d == nil {
		return
	}
	if d.err != nil {
		if errors.Is(d.err, context.Canceled) {
			a.ui.Toast(0, "Inpainting cancelled")
			return
		}
		a.fail("inpaint", d.err)
		return
	}
	s.result, s.applied, s.preview = d.res, -1, -1
	pick := d.res.Pick
	if pick < 0 || pick >= len(d.res.Candidates) {
		pick = 0
	}
	a.applyCandidate(pick)
	msg := fmt.Sprintf("%d candidates", len(d.res.Candidates))
	if d.res.Backend != "" {
		msg += " · " + d.res.Backend
	}
	a.ui.Toast(1, msg)
}

// applyCandidate puts candidate i into the song. If the previous candidate
// of this result was the last change, it is undone first, so flipping through
// candidates leaves one step in the history.
func (a *App) applyCandidate(i int) {
	s := &a.inp
	a.stopPreview()
	if s.applied >= 0 && a.doc.Version() == s.appliedV {
		a.doc.Undo()
	}
	if err := a.doc.ApplyCandidate(s.result, i); err != nil {
		a.fail("apply candidate", err)
		s.applied = -1
		return
	}
	s.applied, s.appliedV = i, a.doc.Version()
}

// audition plays candidate i's window without changing the song.
func (a *App) audition(i int) {
	s := &a.inp
	notes, err := a.doc.PreviewCandidate(s.result, i)
	if err != nil {
		a.fail("preview", err)
		return
	}
	s.preview = i
	a.view.Preview = pianoroll.Normalize(notes)
	a.view.PreviewFrom, a.view.PreviewTo = s.result.From, s.result.From+s.result.Steps
	if a.audio != nil {
		a.audio.setNotes(notes, a.doc.Tempos())
		a.audio.seek(float64(s.result.From))
		a.audio.seq.Play(true)
	}
}

func (a *App) stopPreview() {
	s := &a.inp
	if s.preview < 0 {
		return
	}
	s.preview = -1
	a.view.Preview = nil
	a.songVersion = 0 // reschedule the song itself
}
