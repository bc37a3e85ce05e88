package gpu

import (
	"strings"
	"testing"
)

type fakeBackend struct {
	Kernels
	name string
}

func (f *fakeBackend) Info() Info   { return Info{Backend: f.name, Device: "fake", Threads: 1} }
func (f *fakeBackend) Close() error { return nil }

// A driver that panics while opening must not take the server down: auto falls back to the
// CPU and says why; an explicit choice gets an error.
func TestOpenSurvivesAPanickingBackend(t *testing.T) {
	regMu.Lock()
	saved := registry
	registry = map[string]Factory{
		"cuda": func() (Backend, error) { panic("driver exploded") },
		"cpu":  func() (Backend, error) { return &fakeBackend{name: "cpu"}, nil },
	}
	regMu.Unlock()
	defer func() { regMu.Lock(); registry = saved; regMu.Unlock() }()
	var lines []string
	old := Logf
	Logf = func(f string, a ...any) { lines = append(lines, f) }
	defer func() { Logf = old }()

	be, err := Open("auto")
	if err != nil || be.Info().Backend != "cpu" {
		t.Fatalf("auto: %v", err)
	}
	if len(lines) != 1 {
		t.Fatalf("want one log line, got %q", lines)
	}
	if _, err := Open("cuda"); err == nil || !strings.Contains(err.Error(), "driver exploded") {
		t.Fatalf("cuda: %v", err)
	}
}
