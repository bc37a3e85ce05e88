package screentest

import (
	"errors"
	"os"
	"os/exec"
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
