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

// Inpaint runs a roll.inpaint job and returns its result; it never touches the document (the
// caller applies a candidate with Doc().ApplyCandidate). progress, when set, is called with
// the job's percent (0..100) and stage as they arrive. Cancelling ctx cancels the job on the
// server. A connection lost while it runs returns ErrConnectionLost at once.
func (s *Session) Inpaint(ctx context.Context, req protocol.RollInpaint, progress func(percent float64, stage string)) (protocol.RollInpaintResult, error) {
	if err := req.Validate(); err != nil {
		return protocol.RollInpaintResult{}, err
	}
	done, err := s.RunJob(ctx, protocol.KindRollInpaint, req, progress)
	if err != nil {
		return protocol.RollInpaintResult{}, err
	}
	var res protocol.RollInpaintResult
	if err := json.Unmarshal(done.Data, &res); err != nil {
		return protocol.RollInpaintResult{}, protocol.Errorf(protocol.Internal, "inpaint: unreadable result: %v", err)
	}
	if len(res.Candidates) == 0 {
		return protocol.RollInpaintResult{}, protocol.Errorf(protocol.Engine, "inpaint: the server returned no candidate")
	}
	return res, nil
}

// RunJob submits a job of any kind for this project and waits for it, reporting progress
// (Inpaint is RunJob for roll.inpaint; the toon board and latent session will use it too).
// Cancelling ctx cancels the job; a lost connection returns ErrConnectionLost at once; a job
// the server cancelled (it is shutting down) or failed returns its typed error.
func (s *Session) RunJob(ctx context.Context, kind string, params any, progress func(float64, string)) (protocol.Done, error) {
	s.mu.Lock()
	c, online, lost := s.client, s.online, s.lost
	s.mu.Unlock()
	if c == nil || !online {
		return protocol.Done{}, fmt.Errorf("%s: %w; your song is kept on this device", kind, ErrOffline)
	}
	job, err := c.Submit(ctx, kind, params, s.cfg.Project)
	if err != nil {
		if ctx.Err() != nil {
			return protocol.Done{}, ctx.Err()
		}
		if isDisconnect(err) {
			return protocol.Done{}, ErrConnectionLost
		}
		return protocol.Done{}, err
	}
	type end struct {
		done protocol.Done
		err  error
	}
	ends := make(chan end, 1)
	waitCtx, stopWait := context.WithCancel(context.Background())
	defer stopWait()
	go func() {
		d, _, err := job.Wait(waitCtx)
		ends <- end{d, err}
	}()
	for {
		select {
		case p := <-job.Progress():
			if progress != nil {
				progress(p.Percent, p.Stage)
			}
		case e := <-ends:
			switch {
			case e.err == nil:
				return e.done, nil
			case isDisconnect(e.err):
				return protocol.Done{}, ErrConnectionLost
			case protocol.CodeOf(e.err) == protocol.CancelledErr:
				return protocol.Done{}, fmt.Errorf("%s was cancelled by the studio (%w); your song is unchanged", kind, e.err)
			}
			return protocol.Done{}, fmt.Errorf("%s: %w", kind, e.err)
		case <-ctx.Done():
			cctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			job.Cancel(cctx) // best effort: the result is dropped either way
			cancel()
			return protocol.Done{}, ctx.Err()
		case <-lost:
			// The client may resume the job after a redial, but the person is told now and
			// the document was never touched; cancel it once the connection is back.
			go func() {
				cctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
				defer cancel()
				job.Cancel(cctx)
			}()
			return protocol.Done{}, ErrConnectionLost
		}
	}
}

func isDisconnect(err error) bool {
	return errors.Is(err, client.ErrDisconnected) || errors.Is(err, client.ErrClosed)
}
