package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"sync"
	"syscall"
	"testing"
	"time"

	"latentstudio/studio/client"
	"latentstudio/studio/pianoroll"
	"latentstudio/web/store"
)

// song makes a distinct valid MIDI file for save number n of project p.
func song(t *testing.T, p, n int) []byte {
	var b bytes.Buffer
	notes := []pianoroll.Note{{Start: n % 64, Dur: 1 + p%8, Pitch: uint8(20 + p), Vel: uint8(1 + n%127)}, {Start: 64 + n/64, Dur: 2, Pitch: 90, Vel: 64}}
	if err := pianoroll.Write(&b, &pianoroll.Song{Notes: notes, Steps: 256}); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestKillDuringAutosaveStorm: kill -9 the server while clients autosave as fast as they
// can; afterwards every project opens with its last completed save (or the one in flight,
// if the server finished it but died before answering), never with a torn or older one.
func TestKillDuringAutosaveStorm(t *testing.T) {
	data := t.TempDir()
	srv := startChild(t, "--data", data, "--keep", "5")
	const projects = 6
	ids := make([]string, projects)
	for i := range ids {
		resp, err := http.PostForm("http://"+srv.addr+"/projects", map[string][]string{"kind": {"pianoroll"}, "name": {fmt.Sprint("storm ", i)}})
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		ids[i] = resp.Request.URL.Path[len("/p/"):]
	}
	type progress struct {
		mu       sync.Mutex
		acked    []byte // last save the server confirmed
		ackedV   int
		inFlight []byte // a save sent but not answered
		saves    int
	}
	prog := make([]*progress, projects)
	ctx, stop := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for p := range projects {
		prog[p] = &progress{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			c, err := client.Dial(ctx, "ws://"+srv.addr+"/ws", client.Options{})
			if err != nil {
				t.Error(err)
				return
			}
			defer c.Close()
			for n := 1; ctx.Err() == nil; n++ {
				b := song(t, p, n)
				pr := prog[p]
				pr.mu.Lock()
				pr.inFlight = b
				pr.mu.Unlock()
				v, err := c.Save(ctx, ids[p], "song.mid", b)
				if err != nil {
					return // the server died
				}
				pr.mu.Lock()
				pr.acked, pr.ackedV, pr.inFlight = b, v, nil
				pr.saves++
				pr.mu.Unlock()
			}
		}()
	}
	time.Sleep(1500 * time.Millisecond)
	if err := srv.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	srv.cmd.Wait()
	stop()
	wg.Wait()

	st, err := store.Open(data, 5) // as the next start does
	if err != nil {
		t.Fatal(err)
	}
	total := 0
	for p, id := range ids {
		pr := prog[p]
		total += pr.saves
		m, err := st.Get(id)
		if err != nil {
			t.Fatalf("project %d does not open after the kill: %v", p, err)
		}
		got, err := st.ReadFile(id, "song.mid")
		if err != nil {
			t.Fatalf("project %d: %v", p, err)
		}
		switch {
		case pr.acked != nil && bytes.Equal(got, pr.acked) && m.Version == pr.ackedV:
		case pr.inFlight != nil && bytes.Equal(got, pr.inFlight) && m.Version == pr.ackedV+1:
		default:
			t.Fatalf("project %d: version %d is neither the last acknowledged save (v%d) nor the one in flight", p, m.Version, pr.ackedV)
		}
		if _, err := st.ReadFile(id, "thumb.png"); err != nil {
			t.Fatalf("project %d thumbnail: %v", p, err)
		}
	}
	if total < projects {
		t.Fatalf("only %d saves before the kill: the storm never happened", total)
	}
	t.Logf("%d autosaves acknowledged before kill -9; all %d projects open at their last save", total, projects)
	// And the restarted server serves them.
	srv2 := startChild(t, "--data", data)
	for _, id := range ids {
		resp, err := http.Get("http://" + srv2.addr + "/projects/" + id + "/files/song.mid")
		if err != nil || resp.StatusCode != 200 {
			t.Fatalf("after restart: %v %v", err, resp.Status)
		}
		resp.Body.Close()
	}
}
