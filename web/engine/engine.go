// Package engine is the server's view of the engine: what it reports on pages and in the
// hello. The engine itself (latentstudio/gpu) plugs in through Status; until it does, the
// server reports the host CPU it will run on.
package engine

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"

	"latentstudio/studio/protocol"
)

// Status reports the engine's state (backend, device, memory). gpu.Backend satisfies it
// through a one-line adapter when the engine lands.
type Status interface {
	Info() protocol.EngineInfo
}

// Func adapts a function to Status.
type Func func() protocol.EngineInfo

// Info calls f.
func (f Func) Info() protocol.EngineInfo { return f() }

// HostCPU reports this machine's CPU: the engine runs there until a GPU backend is found.
func HostCPU(reason string) Status {
	model := cpuModel()
	return Func(func() protocol.EngineInfo {
		total, free := memInfo()
		return protocol.EngineInfo{Backend: "cpu", Device: model, Threads: runtime.GOMAXPROCS(0), MemoryTotal: total, MemoryFree: free, Reason: reason}
	})
}

func cpuModel() string {
	f, err := os.Open("/proc/cpuinfo")
	if err != nil {
		return runtime.GOARCH
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if k, v, ok := strings.Cut(sc.Text(), ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return runtime.GOARCH
}

// memInfo reads total and available memory from /proc/meminfo (0, 0 where it is missing).
func memInfo() (total, free int64) {
	f, err := os.Open("/proc/meminfo")
	if err != nil {
		return 0, 0
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) < 2 {
			continue
		}
		kb, _ := strconv.ParseInt(fields[1], 10, 64)
		switch fields[0] {
		case "MemTotal:":
			total = kb << 10
		case "MemAvailable:":
			free = kb << 10
		}
	}
	return total, free
}

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

// Open picks the engine for a --engine choice (auto, cuda or cpu). Until the GPU engine
// (latentstudio/gpu) is wired in, auto and cpu run on the host CPU and cuda is refused.
func Open(choice string) (Status, error) {
	switch choice {
	case "", "auto":
		return HostCPU("auto: the GPU engine is not part of this build yet, so work runs on the CPU"), nil
	case "cpu":
		return HostCPU("cpu: chosen with --engine cpu"), nil
	case "cuda":
		return nil, errors.New("--engine cuda: this build has no CUDA engine yet; use --engine auto or cpu")
	}
	return nil, fmt.Errorf("--engine %q: choose auto, cuda or cpu", choice)
}
