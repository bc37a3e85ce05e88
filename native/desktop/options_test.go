package desktop

import (
	"errors"
	"io"
	"strings"
	"testing"
)

func TestFlags(t *testing.T) {
	t.Setenv("STUDIO_SERVER", "")
	o, err := ParseFlags([]string{"--project", "abc", "--silent"}, io.Discard)
	if err != nil || o.Project != "abc" || !o.Silent || o.Server != "" || o.Width != 1280 || o.Height != 800 {
		t.Fatalf("%+v %v", o, err)
	}
	if o, err := ParseFlags([]string{"--size", "1024x640"}, io.Discard); err != nil || o.Width != 1024 || o.Height != 640 {
		t.Fatalf("--size: %+v %v", o, err)
	}
	for _, bad := range [][]string{
		{"--server", "http://x:1", "--data", "/tmp/d"},
		{"--new", "--project", "x"},
		{"stray"},
		{"--nope"},
		{"--size", "big"},
		{"--size", "100x100"},
	} {
		if _, err := ParseFlags(bad, io.Discard); err == nil {
			t.Errorf("%v accepted", bad)
		}
	}
}

func TestCheckDisplay(t *testing.T) {
	env := func(m map[string]string) func(string) string { return func(k string) string { return m[k] } }
	if err := CheckDisplay(env(map[string]string{"DISPLAY": ":0"})); err != nil {
		t.Fatal(err)
	}
	err := CheckDisplay(env(nil))
	if !errors.Is(err, ErrNoDisplay) || !strings.Contains(err.Error(), "xvfb-run") {
		t.Fatalf("no display: %v", err)
	}
	err = CheckDisplay(env(map[string]string{"WAYLAND_DISPLAY": "wayland-0"}))
	if !errors.Is(err, ErrNoDisplay) || !strings.Contains(err.Error(), "XWayland") {
		t.Fatalf("wayland only: %v", err)
	}
}

func TestWindowHint(t *testing.T) {
	err := WindowHint(errors.New("glfw: GLX: No GLXFBConfigs returned"))
	if !strings.Contains(err.Error(), "apt-get install libgl1") {
		t.Fatalf("GL failure without a hint: %v", err)
	}
	if err := WindowHint(errors.New("autosave failed")); strings.Contains(err.Error(), "apt-get") {
		t.Fatalf("hint on an unrelated error: %v", err)
	}
}

// TestPrepareAndRecent runs the command's start-up twice on one data directory: the second
// start opens the project of the first and --recent lists it.
func TestPrepareAndRecent(t *testing.T) {
	t.Setenv("XDG_CONFIG_HOME", t.TempDir())
	t.Setenv("HOME", t.TempDir())
	data := t.TempDir()
	o := Options{Data: data, Engine: "cpu"}
	var out strings.Builder
	s, err := Prepare(t.Context(), o, &out)
	if err != nil {
		t.Fatal(err)
	}
	s.Backend.Close()
	if !strings.Contains(out.String(), "Latent Studio: http://127.0.0.1:") || !strings.HasSuffix(s.ExportDir, "Music/Latent Studio") {
		t.Fatalf("output %q, export dir %q", out.String(), s.ExportDir)
	}
	s2, err := Prepare(t.Context(), o, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	s2.Backend.Close()
	if s2.Project != s.Project || len(s2.Recent) != 1 {
		t.Fatalf("second start opened %s (recent %+v), want %s", s2.Project, s2.Recent, s.Project)
	}
	var list strings.Builder
	if err := ListRecent(&list); err != nil || !strings.Contains(list.String(), s.Project) || !strings.Contains(list.String(), "local:"+data) {
		t.Fatalf("--recent: %q %v", list.String(), err)
	}
	rl, err := Remember(s.Backend.Place, "other", "Other song")
	if err != nil || len(rl) != 2 || rl[0].ID != "other" || rl[1].ID != s.Project {
		t.Fatalf("Remember: %+v %v", rl, err)
	}
	if _, err := Prepare(t.Context(), Options{Server: "http://127.0.0.1:1"}, io.Discard); !errors.Is(err, ErrNoServer) {
		t.Fatalf("dead --server: %v", err)
	}
}
