package main

import (
	"os"
	"runtime/debug"
	"strconv"
	"strings"
)

// memoryLimitPercent of the container's memory limit becomes the Go
// runtime's soft memory limit. The rest is headroom for what the runtime
// does not count (kernel buffers, the binary's text).
const memoryLimitPercent = 90

// cgroupMemoryLimitFiles publish the container's memory limit: cgroup v2,
// then v1.
var cgroupMemoryLimitFiles = []string{"/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"}

// parseCgroupMemoryLimit returns the limit a cgroup memory file holds, in
// bytes, or 0 when there is none ("max" in v2, a huge number in v1).
func parseCgroupMemoryLimit(s string) int64 {
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n <= 0 || n >= 1<<60 {
		return 0
	}
	return n
}

// containerMemoryLimit returns the soft memory limit to set: 90% of the
// container's limit, or 0 to leave the runtime alone (GOMEMLIMIT set by the
// user, or no limit found).
func containerMemoryLimit(getenv func(string) string, readFile func(string) ([]byte, error)) int64 {
	if getenv("GOMEMLIMIT") != "" {
		return 0
	}
	for _, f := range cgroupMemoryLimitFiles {
		if b, err := readFile(f); err == nil {
			if n := parseCgroupMemoryLimit(string(b)); n > 0 {
				return n / 100 * memoryLimitPercent
			}
		}
	}
	return 0
}

// setMemoryLimit gives the Go runtime a soft memory limit below the
// container's. With it the manager can run with a high GOGC (fewer
// collections, so fewer latency spikes on the authorization endpoint;
// config/manager sets GOGC=400) and still collect hard before the kernel's
// OOM killer would act. It returns the limit set, 0 for none.
func setMemoryLimit() int64 {
	limit := containerMemoryLimit(os.Getenv, os.ReadFile)
	if limit > 0 {
		debug.SetMemoryLimit(limit)
	}
	return limit
}
