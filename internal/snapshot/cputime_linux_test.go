package snapshot_test

import (
	"runtime"
	"syscall"
	"testing"
	"time"
)

// threadCPU measures the CPU time of the benchmark's OS thread, so that a
// benchmark on a shared machine can report the time it actually ran
// (cpu-ns/op) next to the wall-clock ns/op, which includes time the thread
// waited for a core.
type threadCPU struct{ start time.Duration }

func threadTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(1 /* RUSAGE_THREAD */, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

func startCPU() *threadCPU {
	runtime.LockOSThread()
	return &threadCPU{start: threadTime()}
}

func (c *threadCPU) report(b *testing.B) {
	d := threadTime() - c.start
	runtime.UnlockOSThread()
	if b.N > 0 {
		b.ReportMetric(float64(d.Nanoseconds())/float64(b.N), "cpu-ns/op")
	}
}
