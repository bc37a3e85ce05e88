package screentest

import (
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// TestNoDisplay starts the desktop app with no window system: one clear line saying what to
// do, exit code 3, and no Go panic from the window library.
func TestNoDisplay(t *testing.T) {
	needXvfb(t)
	bin := desktopBinary(t)
	cmd := exec.Command(bin, "--data", t.TempDir())
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "DISPLAY=") && !strings.HasPrefix(kv, "WAYLAND_DISPLAY=") {
			env = append(env, kv)
		}
	}
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.ExitCode() != 3 {
		t.Fatalf("exit %v, want code 3; output:\n%s", err, out)
	}
	if !strings.Contains(string(out), "no display") || !strings.Contains(string(out), "xvfb-run") || strings.Contains(string(out), "panic") {
		t.Fatalf("message:\n%s", out)
	}
}

// TestExitCodes: a --server that does not answer and a --project that is not there end with
// code 4 and say what to do; bad flags end with code 2. (Ebiten needs a display even for
// these, so they run on an Xvfb.)
func TestExitCodes(t *testing.T) {
	needXvfb(t)
	bin := desktopBinary(t)
	x := startXvfb(t, screenW, screenH)
	home := t.TempDir()
	for _, c := range []struct {
		args []string
		code int
		says string
	}{
		{[]string{"--server", "http://127.0.0.1:1"}, 4, "does not answer"},
		{[]string{"--data", filepath.Join(home, "data"), "--engine", "cpu", "--project", "nosuchproject"}, 4, `no such project "nosuchproject"`},
		{[]string{"--size", "tiny"}, 2, "--size"},
	} {
		cmd := exec.Command(bin, c.args...)
		cmd.Env = append(os.Environ(), "DISPLAY="+x.display, "HOME="+home, "XDG_CONFIG_HOME="+filepath.Join(home, "config"))
		out, err := cmd.CombinedOutput()
		var ee *exec.ExitError
		if !errors.As(err, &ee) || ee.ExitCode() != c.code || !strings.Contains(string(out), c.says) {
			t.Errorf("%v: %v, want exit code %d saying %q:\n%s", c.args, err, c.code, c.says, out)
		}
	}
}
