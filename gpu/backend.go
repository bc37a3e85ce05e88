package gpu

import (
	"errors"
	"fmt"
	"log"
	"os"
	"sort"
	"strings"
	"sync"
)

// Info describes the backend that runs, for pages, the hello message and logs.
type Info struct {
	Backend     string // "cpu" or "cuda"
	Device      string // e.g. "NVIDIA H200" or "Intel Xeon (AVX-512)"
	Threads     int    // worker threads (CPU) or 1 device thread (CUDA)
	MemoryTotal int64  // bytes; 0 when unknown
	MemoryFree  int64
	Reason      string // why this backend was chosen, e.g. "cuda: libcuda.so.1 not found"
}

// Backend is one device. Model code never calls its kernels directly: it works through a
// Context, which checks shapes, allocates outputs from a replayable arena and keeps the first
// error. A backend implements Kernels with shapes already checked.
type Backend interface {
	Info() Info
	Kernels
	Close() error
}

// Factory opens a backend; it returns an error (never panics) when the device is unusable.
type Factory func() (Backend, error)

var (
	regMu    sync.Mutex
	registry = map[string]Factory{}
)

// Register makes a backend available to Open under name ("cpu", "cuda"). Backends call it from
// init, so a program enables one by importing its package (e.g. _ "latentstudio/gpu/cpu").
func Register(name string, f Factory) {
	regMu.Lock()
	defer regMu.Unlock()
	if _, dup := registry[name]; dup {
		panic("gpu: backend registered twice: " + name)
	}
	registry[name] = f
}

// Backends lists the registered backend names.
func Backends() []string {
	regMu.Lock()
	defer regMu.Unlock()
	var n []string
	for k := range registry {
		n = append(n, k)
	}
	sort.Strings(n)
	return n
}

// Logf prints Open's one line about which backend runs and why. Tests and servers may replace it.
var Logf = log.Printf

// EnvEngine names the environment variable read when Open's choice is empty.
const EnvEngine = "STUDIO_ENGINE"

// ErrNoBackend is returned (wrapped) when the chosen backend is not compiled in.
var ErrNoBackend = errors.New("backend not available")

// ErrOutOfMemory is wrapped by a backend's Alloc when the device cannot hold a buffer, so
// callers can retry a request elsewhere (errors.Is) without knowing the backend.
var ErrOutOfMemory = errors.New("out of memory")

// Open opens the backend named by choice: "cuda", "cpu" or "auto" (cuda when it opens, else
// cpu). An empty choice reads STUDIO_ENGINE and defaults to auto. It logs exactly one line
// saying which backend runs and why; the same reason is in Info().Reason.
func Open(choice string) (Backend, error) {
	src := "--engine"
	if choice == "" {
		choice, src = os.Getenv(EnvEngine), EnvEngine
		if choice == "" {
			choice, src = "auto", "default"
		}
	}
	choice = strings.ToLower(strings.TrimSpace(choice))
	switch choice {
	case "auto":
		var why string
		if f := lookup("cuda"); f == nil {
			why = "cuda backend not built in"
		} else if be, err := safeOpen(f); err != nil {
			why = "cuda unavailable: " + err.Error()
		} else {
			return announce(be, "auto: CUDA device found")
		}
		f := lookup("cpu")
		if f == nil {
			return nil, fmt.Errorf("gpu: %w: no cpu backend registered (import _ \"latentstudio/gpu/cpu\")", ErrNoBackend)
		}
		be, err := safeOpen(f)
		if err != nil {
			return nil, fmt.Errorf("gpu: cpu backend: %w", err)
		}
		return announce(be, "auto: "+why)
	case "cpu", "cuda":
		f := lookup(choice)
		if f == nil {
			return nil, fmt.Errorf("gpu: %s %w in this build (registered: %v)", choice, ErrNoBackend, Backends())
		}
		be, err := safeOpen(f)
		if err != nil {
			return nil, fmt.Errorf("gpu: %s backend (chosen by %s): %w", choice, src, err)
		}
		return announce(be, "chosen by "+src)
	}
	return nil, fmt.Errorf("gpu: unknown engine %q (from %s): use auto, cuda or cpu", choice, src)
}

// safeOpen calls a factory and turns a panic (a broken driver library, say) into an error, so
// that auto still falls back to the CPU and the server stays up.
func safeOpen(f Factory) (be Backend, err error) {
	defer func() {
		if r := recover(); r != nil {
			be, err = nil, fmt.Errorf("backend panicked while opening: %v", r)
		}
	}()
	return f()
}

func lookup(name string) Factory {
	regMu.Lock()
	defer regMu.Unlock()
	return registry[name]
}

// ReasonSetter is implemented by backends that store the reason Open chose them.
type ReasonSetter interface{ SetReason(string) }

func announce(be Backend, reason string) (Backend, error) {
	if r, ok := be.(ReasonSetter); ok {
		r.SetReason(reason)
	}
	in := be.Info()
	mem := ""
	if in.MemoryTotal > 0 {
		mem = fmt.Sprintf(", %.1f GiB", float64(in.MemoryTotal)/(1<<30))
	}
	Logf("engine: %s backend on %s (%d threads%s): %s", in.Backend, in.Device, in.Threads, mem, reason)
	return be, nil
}
