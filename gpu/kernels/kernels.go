// Package kernels holds the engine's CUDA C kernels (*.cu) and the PTX that `task gpu:ptx`
// compiles from them on a machine with nvcc. The PTX is committed and embedded, so a user needs
// only the NVIDIA driver, which JIT-compiles it for the card at load time.
package kernels

import (
	"embed"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

//go:embed *.ptx
var ptx embed.FS

// EnvDir names a folder whose *.ptx replace the embedded ones (kernel development: compile on
// the GPU machine and run a test binary built before the PTX changed).
const EnvDir = "LATENT_PTX_DIR"

// Modules returns the PTX modules by name (the .cu file's base name).
func Modules() (map[string][]byte, error) {
	out := map[string][]byte{}
	if dir := os.Getenv(EnvDir); dir != "" {
		names, err := filepath.Glob(filepath.Join(dir, "*.ptx"))
		if err != nil || len(names) == 0 {
			return nil, fmt.Errorf("kernels: %s=%s holds no .ptx files", EnvDir, dir)
		}
		for _, n := range names {
			b, err := os.ReadFile(n)
			if err != nil {
				return nil, fmt.Errorf("kernels: %w", err)
			}
			out[strings.TrimSuffix(filepath.Base(n), ".ptx")] = b
		}
		return out, nil
	}
	ents, err := ptx.ReadDir(".")
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		b, err := ptx.ReadFile(e.Name())
		if err != nil {
			return nil, err
		}
		out[strings.TrimSuffix(e.Name(), ".ptx")] = b
	}
	return out, nil
}

// Names lists the embedded modules in order.
func Names() []string {
	ents, _ := ptx.ReadDir(".")
	var n []string
	for _, e := range ents {
		n = append(n, strings.TrimSuffix(e.Name(), ".ptx"))
	}
	sort.Strings(n)
	return n
}
