package engine

import (
	"strings"
	"testing"

	"latentstudio/studio/protocol"
)

func TestOpen(t *testing.T) {
	e, err := Open("cpu")
	if err != nil {
		t.Fatal(err)
	}
	defer e.Close()
	i := e.Info()
	if i.Backend != "cpu" || i.Threads < 1 || i.Device == "" || i.Reason == "" {
		t.Fatalf("%+v", i)
	}
	if l := Label(i); !strings.HasPrefix(l, "CPU · ") {
		t.Fatalf("label %q", l)
	}
	if _, err := Open("warp"); err == nil || !strings.Contains(err.Error(), "auto, cuda or cpu") {
		t.Fatalf("bad choice: %v", err)
	}
	if l := Label(protocol.EngineInfo{Backend: "cuda", Device: "H200", MemoryFree: 3 << 30}); l != "CUDA · H200 · 3.0 GiB free" {
		t.Fatalf("label %q", l)
	}
}
