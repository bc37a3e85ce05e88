//go:build !linux

package rollview

import "time"

// threadCPU is unknown here: benchmarks report 0 for cpu-ms.
func threadCPU() time.Duration { return 0 }
