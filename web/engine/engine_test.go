package engine

import (
	"strings"
	"testing"

	"latentstudio/studio/protocol"
)

func TestHostCPU(t *testing.T) {
	i := HostCPU("no GPU engine yet").Info()
	if i.Backend != "cpu" || i.Threads < 1 || i.Reason == "" {
		t.Fatalf("%+v", i)
	}
	if l := Label(i); !strings.HasPrefix(l, "CPU") {
		t.Fatalf("label %q", l)
	}
	if l := Label(protocol.EngineInfo{Backend: "cuda", Device: "H200", MemoryFree: 3 << 30}); l != "CUDA · H200 · 3.0 GiB free" {
		t.Fatalf("label %q", l)
	}
}
