package main

import (
	"context"
	"encoding/json"
	"slices"
	"testing"
	"time"

	"latentstudio/studio/client"
	"latentstudio/studio/protocol"
)

// `studio serve` offers roll.inpaint with the shipped weights: a small job through the
// real command, on the CPU engine.
func TestServeInpaints(t *testing.T) {
	srv := startChild(t, "--data", t.TempDir(), "--engine", "cpu")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	c, err := client.Dial(ctx, "ws://"+srv.addr+"/ws", client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if !slices.Contains(c.Welcome().Kinds, protocol.KindRollInpaint) {
		t.Fatalf("welcome kinds %v lack %s", c.Welcome().Kinds, protocol.KindRollInpaint)
	}
	const w = 64
	cells := make([]bool, protocol.RollPitches*w)
	for p := 60; p < 72; p++ {
		for s := 16; s < 48; s++ {
			cells[p*w+s] = true
		}
	}
	j, err := c.Submit(ctx, protocol.KindRollInpaint, protocol.RollInpaint{
		Notes: protocol.RollNotes{0, 16, 48, 90, 48, 16, 55, 90}, Steps: w, Mask: protocol.EncodeMask(cells),
		Candidates: 2, Repaint: 1, Sampling: 4, Seed: 3,
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	done, _, err := j.Wait(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var res protocol.RollInpaintResult
	if err := json.Unmarshal(done.Data, &res); err != nil {
		t.Fatal(err)
	}
	if len(res.Candidates) != 2 || res.Backend != "cpu" || res.Steps != w {
		t.Errorf("result: %d candidates on %q over %d steps, want 2 on cpu over %d", len(res.Candidates), res.Backend, res.Steps, w)
	}
}
