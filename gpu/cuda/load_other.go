//go:build !linux

package cuda

import (
	"fmt"
	"runtime"
)

func load() error {
	return fmt.Errorf("%w: the CUDA backend runs on Linux only; this is %s", ErrNoGPU, runtime.GOOS)
}
