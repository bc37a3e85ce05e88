//go:build unix

package safetensors

import (
	"math"
	"os"
	"syscall"
)

// mapFile maps path read-only; an empty file is read normally (mmap of 0 bytes fails).
func mapFile(path string) ([]byte, func() error, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, nil, err
	}
	if st.Size() == 0 || st.Size() > math.MaxInt {
		return readAll(path)
	}
	b, err := syscall.Mmap(int(f.Fd()), 0, int(st.Size()), syscall.PROT_READ, syscall.MAP_SHARED)
	if err != nil {
		return readAll(path) // e.g. a filesystem without mmap
	}
	return b, func() error { return syscall.Munmap(b) }, nil
}
