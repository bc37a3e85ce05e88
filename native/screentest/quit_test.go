package screentest

import (
	"errors"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestSilentAndQuitSaves runs the app where ALSA has no device at all: it says it runs
// silent and works on. A note drawn right before SIGTERM is on disk after the app exits with
// code 0. (Whether the autosave or the save on the way out wrote it depends on how fast
// frames come; either way a quit loses nothing.)
func TestSilentAndQuitSaves(t *testing.T) {
	needXvfb(t)
	x := startXvfb(t, screenW, screenH)
	a := startApp(t, x, false)

	open := a.waitFor("the project to open", 60*time.Second, func(s state) bool { return s.Ready && s.View.StepW > 0 })
	if open.st.Audio {
		t.Fatal("an audio player runs without an audio device")
	}
	if out := a.out.String(); !strings.Contains(out, "no sound: ALSA default playback device") || !strings.Contains(out, "running silent") {
		t.Fatalf("no message about the missing audio device:\n%s", out)
	}
	a.measure(open)

	top, left := int(open.st.View.Top), int(open.st.View.Left)
	open.st.click(a, "tool.Pencil")
	px, py := open.st.cell(left+4, top-8)
	a.x.xdotool(t, "mousemove", "--window", a.window, strconv.Itoa(px), strconv.Itoa(py))
	a.sync()
	a.x.xdotool(t, "mousedown", "1")
	a.sync()
	a.x.xdotool(t, "mouseup", "1")
	a.waitFor("the note", 10*time.Second, func(s state) bool { return s.Notes == 1 })
	if err := a.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case err := <-a.exited:
		a.exited <- err
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("exit code %d after SIGTERM:\n%s", ee.ExitCode(), a.out.String())
		} else if err != nil {
			t.Fatal(err)
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30 s after SIGTERM:\n%s", a.out.String())
	}
	song := savedSong(t, a.data, a.project)
	if len(song.Notes) != 1 || song.Notes[0].Start != left+4 || int(song.Notes[0].Pitch) != top-8 {
		t.Fatalf("saved song after quitting: %+v, want one note at step %d pitch %d", song.Notes, left+4, top-8)
	}
}
