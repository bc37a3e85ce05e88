package rollview

import (
	"syscall"
	"time"
)

// threadCPU is the calling thread's CPU time, so a benchmark on a machine
// shared with other work can report the work it did, not the time it waited.
func threadCPU() time.Duration {
	var ru syscall.Rusage
	const rusageThread = 1 // RUSAGE_THREAD
	if err := syscall.Getrusage(rusageThread, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
