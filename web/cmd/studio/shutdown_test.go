package main

import (
	"context"
	"strings"
	"syscall"
	"testing"
	"time"

	"latentstudio/studio/client"
	"latentstudio/studio/protocol"
	"latentstudio/web/jobs"
)

// SIGTERM (as SIGINT) stops the studio gracefully: the running job is cancelled and its
// client told so, and the process exits 0.
func TestSIGTERMCancelsJobsAndExits(t *testing.T) {
	srv := startChild(t, "--data", t.TempDir(), "--test-jobs")
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws://"+srv.addr+"/ws", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	j, err := c.Submit(ctx, "burn", jobs.BurnParams{MS: 100, Steps: 100}, "")
	if err != nil {
		t.Fatal(err)
	}
	<-j.Progress() // it runs
	if err := srv.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if _, _, err := j.Wait(ctx); protocol.CodeOf(err) != protocol.CancelledErr || !strings.Contains(err.Error(), "shutdown") {
		t.Fatalf("job at SIGTERM: %v", err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.cmd.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("exit: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("the studio did not exit after SIGTERM")
	}
}
