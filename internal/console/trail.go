package console

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// trailCache holds the audit trail read and joined once per state of its
// files (names, sizes, modification times) rather than once per page view:
// a trail grows to many megabytes, and every view of the Changes page
// would read and index all of it again.
type trailCache struct {
	mu    sync.Mutex
	stamp string
	ix    *audit.Index
	stats audit.ReadStats
}

// index returns the joined trail at paths, reading it again only when a
// file was added, removed, grown or touched since the last read.
func (c *trailCache) index(paths []string) (*audit.Index, audit.ReadStats, error) {
	stamp := trailStamp(paths)
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ix != nil && stamp == c.stamp {
		return c.ix, c.stats, nil
	}
	records, stats, err := audit.ReadPaths(paths, nil)
	if err != nil {
		return nil, stats, err
	}
	c.stamp, c.ix, c.stats = stamp, audit.NewIndex(records), stats
	return c.ix, c.stats, nil
}

// trailStamp describes the state of the trail's files. A path that cannot
// be read stamps as such, so the read reports it (and is tried again once
// it can be read).
func trailStamp(paths []string) string {
	var b strings.Builder
	stamp := func(path string, fi os.FileInfo) {
		fmt.Fprintf(&b, "%q %d %d %v\n", path, fi.Size(), fi.ModTime().UnixNano(), fi.Mode())
	}
	for _, p := range paths {
		if p == "-" {
			b.WriteString("stdin\n") // read once: it cannot be read again
			continue
		}
		fi, err := os.Stat(p)
		if err != nil {
			fmt.Fprintf(&b, "%q unreadable\n", p)
			continue
		}
		stamp(p, fi)
		if !fi.IsDir() {
			continue
		}
		entries, err := os.ReadDir(p)
		if err != nil {
			fmt.Fprintf(&b, "%q unlistable\n", p)
			continue
		}
		for _, e := range entries {
			if info, err := e.Info(); err == nil {
				stamp(filepath.Join(p, e.Name()), info)
			}
		}
	}
	return b.String()
}
