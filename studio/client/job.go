package client

import (
	"context"
	"fmt"

	"latentstudio/studio/protocol"
)

// Job is a queued job. Progress delivers its progress events (intermediate ones may be
// skipped when nobody reads); Wait returns when it ends.
type Job struct {
	ID       string
	Seq      uint64
	Position int // place in the queue when it was accepted (0: ran at once)

	c           *Client
	progress    chan protocol.Progress
	end         chan jobEnd
	pendingDone *jobEnd
}

type jobEnd struct {
	done  protocol.Done
	frame *protocol.Frame
	err   error
}

func (j *Job) finish(e jobEnd) {
	select {
	case j.end <- e:
	default:
	}
}

// Progress is the job's progress stream; it is never closed, so select on it with Wait's
// context or a done signal.
func (j *Job) Progress() <-chan protocol.Progress { return j.progress }

// Wait blocks until the job is done, failed or cancelled.
func (j *Job) Wait(ctx context.Context) (protocol.Done, *protocol.Frame, error) {
	select {
	case e := <-j.end:
		j.end <- e // later Waits see the same end
		return e.done, e.frame, e.err
	case <-ctx.Done():
		return protocol.Done{}, nil, ctx.Err()
	}
}

// Cancel asks the server to cancel the job and waits for the acknowledgement.
func (j *Job) Cancel(ctx context.Context) error {
	seq, cl, err := j.c.send(ctx, protocol.Cancel{Job: j.ID}, false)
	if err != nil {
		return err
	}
	_, err = j.c.wait(ctx, seq, cl)
	return err
}

// Submit queues a job and returns once the server accepted it.
func (c *Client) Submit(ctx context.Context, kind string, params any, project string) (*Job, error) {
	raw, err := marshalParams(params)
	if err != nil {
		return nil, err
	}
	seq, cl, err := c.send(ctx, protocol.Job{Kind: kind, Params: raw, Project: project}, false)
	if err != nil {
		return nil, err
	}
	r, err := c.wait(ctx, seq, cl)
	if err != nil {
		return nil, err
	}
	if r.job == nil {
		return nil, fmt.Errorf("job %d: unexpected reply %s", seq, r.msg.Type())
	}
	return r.job, nil
}
