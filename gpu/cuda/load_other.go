//go:build !linux

package cuda

import (
	"errors"
	"runtime"
)

func load() error {
	return errors.New("the CUDA backend runs on Linux only; this is " + runtime.GOOS)
}
