// Package engine is the server's view of the engine (latentstudio/gpu): it opens the backend
// that --engine chooses and reports its status on pages and in the hello.
package engine

import (
	"fmt"
	"strconv"
	"strings"

	"latentstudio/gpu"
	_ "latentstudio/gpu/cpu" // the CPU backend is always there

	"latentstudio/studio/protocol"
)

// Status reports the engine's state (backend, device, memory).
type Status interface {
	Info() protocol.EngineInfo
}

// Func adapts a function to Status.
type Func func() protocol.EngineInfo

// Info calls f.
func (f Func) Info() protocol.EngineInfo { return f() }

// Engine is an opened gpu backend.
type Engine struct {
	Backend gpu.Backend
}

// Open opens the backend for a --engine choice (auto, cuda or cpu; "" reads STUDIO_ENGINE).
// gpu.Open logs one line saying which backend runs and why.
func Open(choice string) (*Engine, error) {
	b, err := gpu.Open(choice)
	if err != nil {
		return nil, fmt.Errorf("engine: %w", err)
	}
	return &Engine{Backend: b}, nil
}

// Info converts the backend's info for the protocol.
func (e *Engine) Info() protocol.EngineInfo {
	i := e.Backend.Info()
	return protocol.EngineInfo{Backend: i.Backend, Device: i.Device, Threads: i.Threads, MemoryTotal: i.MemoryTotal, MemoryFree: i.MemoryFree, Reason: i.Reason}
}

// Close releases the backend.
func (e *Engine) Close() error { return e.Backend.Close() }

// Label is the one-line status a page shows, e.g. "CPU · 2 threads · 12.3 GiB free".
func Label(i protocol.EngineInfo) string {
	s := strings.ToUpper(i.Backend)
	if i.Device != "" {
		s += " · " + i.Device
	}
	if i.Threads > 0 {
		s += " · " + strconv.Itoa(i.Threads) + " threads"
	}
	if i.MemoryFree > 0 {
		s += " · " + strconv.FormatFloat(float64(i.MemoryFree)/(1<<30), 'f', 1, 64) + " GiB free"
	}
	return s
}
