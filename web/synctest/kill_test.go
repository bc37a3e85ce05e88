package synctest

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	"latentstudio/studio/rolldoc"
	studiosync "latentstudio/studio/sync"
	"latentstudio/web/server"
)

// serveChild runs this test binary as a studio server (TestMain calls it when asked), so a
// test can kill it with SIGKILL: no shutdown, no flush, as a crash or a pulled plug.
func serveChild(spec string) {
	dir, addr, _ := strings.Cut(spec, "|")
	s, err := server.New(server.Config{Listen: addr, Data: dir, Engine: "cpu", Workers: 1, Log: quiet(), Out: os.Stdout})
	if err == nil {
		err = s.Start()
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "studio:", err)
		os.Exit(2)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := s.Serve(ctx); err != nil {
		os.Exit(2)
	}
	os.Exit(0)
}

// child is a studio server in a child process.
type child struct {
	t         *testing.T
	dir, addr string
	cmd       *exec.Cmd
}

func startChild(t *testing.T, dir, addr string) *child {
	t.Helper()
	c := &child{t: t, dir: dir, addr: addr}
	for try := 0; ; try++ { // the port of a killed server may take a moment
		cmd := exec.Command(os.Args[0], "-test.run=^$")
		cmd.Env = append(os.Environ(), "SYNCTEST_SERVE="+dir+"|"+addr)
		out, err := cmd.StdoutPipe()
		if err != nil {
			t.Fatal(err)
		}
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		up := make(chan bool, 1)
		go func() {
			sc := bufio.NewScanner(out)
			for sc.Scan() {
				if strings.HasPrefix(sc.Text(), "Latent Studio: http://") {
					up <- true
				}
			}
			up <- false
		}()
		select {
		case ok := <-up:
			if ok {
				c.cmd = cmd
				t.Cleanup(c.kill)
				return c
			}
		case <-time.After(20 * time.Second):
		}
		cmd.Process.Kill()
		cmd.Wait()
		if try == 20 {
			t.Fatal("the studio child did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// kill sends SIGKILL and waits for the process to be gone.
func (c *child) kill() {
	if c.cmd == nil {
		return
	}
	c.cmd.Process.Signal(syscall.SIGKILL)
	c.cmd.Wait()
	c.cmd = nil
}

func (c *child) get(path string) []byte {
	c.t.Helper()
	resp, err := http.Get("http://" + c.addr + path)
	if err != nil {
		c.t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 {
		c.t.Fatalf("GET %s: %s", path, resp.Status)
	}
	return b
}

// The must-show with a real kill: kill -9 the server mid-edit, keep editing, start a new
// server on the same folder and port; the session resyncs and the server's song.mid equals
// the editor's song.
func TestServerKilledMidEditLosesNothing(t *testing.T) {
	dir, addr := t.TempDir(), freeAddr(t)
	srv := startChild(t, dir, addr)
	resp, err := http.PostForm("http://"+addr+"/projects", map[string][]string{"kind": {"pianoroll"}, "name": {"killed"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	id := strings.TrimPrefix(resp.Request.URL.Path, "/p/")

	local, _ := studiosync.NewFileStore(t.TempDir())
	s := open(t, "http://"+addr, id, local)
	defer s.Close()
	serverHas := func() bool {
		mine, _ := s.Doc().MIDI()
		return s.State().Kind == studiosync.Saved && bytes.Equal(srv.get("/projects/"+id+"/files/song.mid"), mine)
	}
	for i := range 6 {
		s.Doc().AddNote(note(i))
	}
	waitFor(t, "the first saves", serverHas)

	// mid-edit: a drag in progress and notes not yet autosaved
	s.Doc().AddNote(note(6))
	s.Doc().MoveNotes(s.Doc().Selection(), 1, 0)
	srv.kill()
	s.Doc().MoveNotes(s.Doc().Selection(), 1, 2)
	s.Doc().EndGesture()
	waitFor(t, "offline", func() bool { return s.State().Kind == studiosync.Offline })
	for i := 7; i < 12; i++ {
		s.Doc().AddNote(note(i))
	}
	s.Doc().SelectAll()
	s.Doc().SetVelocity(nil, 64)
	s.Doc().Quantize(nil, 4, true)

	srv = startChild(t, dir, addr)
	waitFor(t, "the resync", serverHas)
	back, err := rolldoc.FromMIDI(srv.get("/projects/" + id + "/files/song.mid"))
	if err != nil {
		t.Fatal(err)
	}
	if back.Len() != 12 || !slices.Equal(back.PlainNotes(), s.Doc().PlainNotes()) {
		t.Fatalf("server %d notes, editor %d", back.Len(), s.Doc().Len())
	}
}
