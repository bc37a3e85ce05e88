package screentest

import (
	"bufio"
	"bytes"
	"fmt"
	"image"
	"image/png"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Env switches the Xvfb tests on (task desktop:test sets it); without it they skip, because
// they build the cgo desktop binary and run a real X server.
const Env = "STUDIO_XVFB"

// The screen and window size: software GL draws every pixel on the CPU, so a smaller window
// keeps frames quick on a busy 2-core machine; the roll still shows 49 steps × 32 rows.
const screenW, screenH = 1024, 640

// BinEnv names a desktop binary already built, by absolute path (task desktop:test builds build/studio-desktop);
// without it the test builds one into its temp folder.
const BinEnv = "STUDIO_DESKTOP_BIN"

// needXvfb skips unless the tests were asked for, and fails when they were asked for on a
// machine without the tools (a silent skip would hide that CI checked nothing).
func needXvfb(t *testing.T) {
	t.Helper()
	if os.Getenv(Env) != "1" {
		t.Skipf("desktop screenshot tests: set %s=1 (task desktop:test)", Env)
	}
	for _, tool := range []string{"Xvfb", "xdotool"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s=1 but %s is missing: sudo apt-get install --no-install-recommends xvfb xauth xdotool", Env, tool)
		}
	}
}

var (
	buildOnce sync.Once
	builtBin  string
	buildErr  error
)

// desktopBinary is the studio-desktop program under test.
func desktopBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv(BinEnv); p != "" {
		abs, err := filepath.Abs(p)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(abs); err != nil {
			t.Fatalf("%s: %v (task desktop builds it)", BinEnv, err)
		}
		return abs
	}
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "studio-desktop-test")
		if err != nil {
			buildErr = err
			return
		}
		builtBin = filepath.Join(dir, "studio-desktop")
		cmd := exec.Command("go", "build", "-o", builtBin, "latentstudio/native")
		if out, err := cmd.CombinedOutput(); err != nil {
			buildErr = fmt.Errorf("go build ./native: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return builtBin
}

// xserver is an Xvfb of our own, on the first free display number.
type xserver struct {
	display string
	cmd     *exec.Cmd
}

func startXvfb(t *testing.T, w, h int) *xserver {
	t.Helper()
	r, wr, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("Xvfb", "-displayfd", "3", "-screen", "0", fmt.Sprintf("%dx%dx24", w, h), "-nolisten", "tcp", "-noreset")
	cmd.ExtraFiles = []*os.File{wr}
	var log bytes.Buffer
	cmd.Stderr = &log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	wr.Close()
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	line := make(chan string, 1)
	go func() {
		s, _ := bufio.NewReader(r).ReadString('\n')
		line <- strings.TrimSpace(s)
		r.Close()
	}()
	select {
	case n := <-line:
		if _, err := strconv.Atoi(n); err != nil {
			t.Fatalf("Xvfb did not say its display (%q): %s", n, log.String())
		}
		return &xserver{display: ":" + n, cmd: cmd}
	case <-time.After(20 * time.Second):
		t.Fatalf("Xvfb did not start: %s", log.String())
	}
	return nil
}

// xdotool runs one xdotool command line on the display.
func (x *xserver) xdotool(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command("xdotool", args...)
	cmd.Env = append(os.Environ(), "DISPLAY="+x.display)
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("xdotool %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return strings.TrimSpace(string(out))
}

// app is a running studio-desktop.
type app struct {
	t       *testing.T
	x       *xserver
	cmd     *exec.Cmd
	shots   string // STUDIO_SCREENSHOT_DIR
	home    string // its HOME (XDG folders beneath)
	data    string // the in-process server's data directory
	project string
	window  string // X window id
	out     *lockedBuffer
	exited  chan error
	pace    time.Duration // about three frames: how long an input step waits (measure sets it)
	syncs   int
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

var projectLine = regexp.MustCompile(`(?m)^project (\S+) `)

// startApp runs the desktop app on x with its own home, config, data and export folders. With
// nullALSA its ~/.asoundrc makes ALSA's default device a null sink, so sound plays into
// nothing on a machine without a sound card; without it such a machine has no audio device.
// env adds variables to the app's environment.
func startApp(t *testing.T, x *xserver, nullALSA bool, env ...string) *app {
	t.Helper()
	return startAppArgs(t, x, nullALSA, nil, env...)
}

// startAppArgs is startApp with the app's flags (nil: its own server on a temp data folder).
func startAppArgs(t *testing.T, x *xserver, nullALSA bool, args []string, env ...string) *app {
	t.Helper()
	bin := desktopBinary(t)
	home := t.TempDir()
	a := &app{t: t, x: x, home: home, pace: 150 * time.Millisecond, shots: filepath.Join(home, "shots"), data: filepath.Join(home, "data"), out: &lockedBuffer{}, exited: make(chan error, 1)}
	os.MkdirAll(a.shots, 0o755)
	if nullALSA {
		if err := os.WriteFile(filepath.Join(home, ".asoundrc"), []byte("pcm.!default { type null }\nctl.!default { type null }\n"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if args == nil {
		args = []string{"--data", a.data, "--engine", "cpu"}
	}
	args = append(args, "--export-dir", filepath.Join(home, "export"), "--size", fmt.Sprintf("%dx%d", screenW, screenH))
	a.cmd = exec.Command(bin, args...)
	a.cmd.Env = append(os.Environ(),
		"DISPLAY="+x.display, "HOME="+home,
		"XDG_CONFIG_HOME="+filepath.Join(home, "config"), "XDG_DATA_HOME="+filepath.Join(home, "share"),
		"XDG_CACHE_HOME="+filepath.Join(home, "cache"), "STUDIO_SCREENSHOT_DIR="+a.shots)
	a.cmd.Env = append(a.cmd.Env, env...)
	a.cmd.Stdout, a.cmd.Stderr = a.out, a.out
	if err := a.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { a.exited <- a.cmd.Wait() }()
	t.Cleanup(func() {
		a.cmd.Process.Kill()
		<-a.exited
		if t.Failed() {
			t.Logf("studio-desktop output:\n%s", a.out.String())
		}
	})
	deadline := time.Now().Add(60 * time.Second)
	for a.project == "" {
		if m := projectLine.FindStringSubmatch(a.out.String()); m != nil {
			a.project = m[1]
			break
		}
		a.checkRunning(deadline, "to open a project")
		time.Sleep(50 * time.Millisecond)
	}
	a.window = x.xdotool(t, "search", "--sync", "--onlyvisible", "--pid", strconv.Itoa(a.cmd.Process.Pid))
	if i := strings.IndexByte(a.window, '\n'); i >= 0 {
		a.window = a.window[:i]
	}
	return a
}

func (a *app) checkRunning(deadline time.Time, what string) {
	a.t.Helper()
	select {
	case err := <-a.exited:
		a.exited <- err
		a.t.Fatalf("studio-desktop exited (%v) while waiting %s:\n%s", err, what, a.out.String())
	default:
	}
	if time.Now().After(deadline) {
		a.t.Fatalf("timed out waiting %s:\n%s", what, a.out.String())
	}
}

// shot asks the app for a screenshot of its next frame and decodes it.
func (a *app) shot(name string) *image.RGBA {
	a.t.Helper()
	png := filepath.Join(a.shots, name+".png")
	os.Remove(png)
	if err := os.WriteFile(filepath.Join(a.shots, name+".req"), nil, 0o644); err != nil {
		a.t.Fatal(err)
	}
	deadline := time.Now().Add(20 * time.Second)
	for {
		if img, err := readPNG(png); err == nil {
			return img
		}
		a.checkRunning(deadline, "for screenshot "+name)
		time.Sleep(50 * time.Millisecond)
	}
}

func readPNG(path string) (*image.RGBA, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	img, err := png.Decode(f)
	if err != nil {
		return nil, err
	}
	if rgba, ok := img.(*image.RGBA); ok {
		return rgba, nil
	}
	b := img.Bounds()
	out := image.NewRGBA(b)
	for y := b.Min.Y; y < b.Max.Y; y++ {
		for x := b.Min.X; x < b.Max.X; x++ {
			out.Set(x, y, img.At(x, y))
		}
	}
	return out, nil
}

// drag presses the left button at from, moves to to in small steps and releases it: a real X
// pointer drag. The app samples the pointer once a frame, and a software-rendered frame on a
// busy machine can take a quarter of a second: a press and the next move, or a release and
// the next move, seen in one frame would land in the wrong place. So the press and the
// release are each followed by a screenshot round trip (a frame drawn after the event
// reached the app), and the moves between wait a little (a.pace).
func (a *app) drag(fromX, fromY, toX, toY int) {
	a.t.Helper()
	w := a.window
	a.x.xdotool(a.t, "mousemove", "--window", w, strconv.Itoa(fromX), strconv.Itoa(fromY))
	a.sync()
	a.x.xdotool(a.t, "mousedown", "1")
	a.sync()
	const steps = 12
	for i := 1; i <= steps; i++ {
		x := fromX + (toX-fromX)*i/steps
		y := fromY + (toY-fromY)*i/steps
		a.x.xdotool(a.t, "mousemove", "--window", w, strconv.Itoa(x), strconv.Itoa(y))
		time.Sleep(a.pace / 3)
	}
	a.sync()
	a.x.xdotool(a.t, "mouseup", "1")
	a.sync()
}

// key presses a key combination (xdotool syntax, e.g. "ctrl+z") and releases it a frame
// later: `xdotool key` sends both at once, and a loaded machine can deliver them between two
// of the game's ticks, where the press is never seen.
func (a *app) key(combo string) {
	a.t.Helper()
	a.x.xdotool(a.t, "keydown", "--window", a.window, combo)
	a.sync()
	a.x.xdotool(a.t, "keyup", "--window", a.window, combo)
	a.sync()
}

// sync returns once the app has drawn a frame after everything sent to X so far.
func (a *app) sync() {
	a.t.Helper()
	a.syncs++
	a.shot(fmt.Sprint("sync-", a.syncs))
}

// saveTo writes an image under docs/ (when STUDIO_XVFB_DOCS names the folder) for people to see.
func saveTo(t *testing.T, name string, img image.Image) {
	dir := os.Getenv("STUDIO_XVFB_DOCS")
	if dir == "" {
		return
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
