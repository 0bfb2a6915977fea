package authz

import (
	"testing"
	"time"
)

func TestFailureLimiter(t *testing.T) {
	now := time.Unix(0, 0)
	l := newFailureLimiter(2, 3, 4)
	l.now = func() time.Time { return now }
	tests := []struct {
		name        string
		advance     time.Duration
		failures    int
		src         string
		wantBlocked bool
	}{
		{"a source that never failed", 0, 0, "a", false},
		{"within its burst", 0, 2, "a", false},
		{"burst spent", 0, 1, "a", true},
		{"another source is not affected", 0, 0, "b", false},
		{"refilled at the rate", 500 * time.Millisecond, 0, "a", false},
		{"one refill spent", 0, 1, "a", true},
		{"full again after the burst's time", 2 * time.Second, 2, "a", false},
	}
	for _, tc := range tests {
		now = now.Add(tc.advance)
		for range tc.failures {
			l.fail(tc.src)
		}
		if got := l.blocked(tc.src); got != tc.wantBlocked {
			t.Fatalf("%s: blocked = %v, want %v", tc.name, got, tc.wantBlocked)
		}
	}
	// The map is bounded: new sources past max make room, full buckets
	// (no debt) first.
	for i := range 20 {
		l.fail(string(rune('c' + i)))
	}
	l.mu.Lock()
	n := len(l.sources)
	l.mu.Unlock()
	if n > 4 || l.tracked.Load() != int64(n) {
		t.Fatalf("%d sources remembered (tracked %d), max 4", n, l.tracked.Load())
	}
}
