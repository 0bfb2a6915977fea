package authz

import (
	"net"
	"sync"
	"sync/atomic"
	"time"
)

// failureLimiter rate-limits failed authentications and tenant
// authorizations per source address: each failure spends a token of the
// source's bucket (refilled at rate per second up to burst), and a source
// with an empty bucket is refused with 429 before its token or tenant is
// looked at. A caller guessing tokens or tenant names therefore costs the
// API server at most rate TokenReviews or SubjectAccessReviews per second
// after its burst, while sources that authenticate never spend anything.
type failureLimiter struct {
	rate  float64
	burst float64
	max   int
	now   func() time.Time

	mu      sync.Mutex
	sources map[string]*bucket
	// tracked mirrors len(sources), so that while no source has failed
	// a request takes no lock.
	tracked atomic.Int64
}

type bucket struct {
	tokens float64
	last   time.Time
}

func newFailureLimiter(rate float64, burst, max int) *failureLimiter {
	return &failureLimiter{rate: rate, burst: float64(burst), max: max, now: time.Now, sources: map[string]*bucket{}}
}

// sourceOf is the client address of a request without its port.
func sourceOf(remoteAddr string) string {
	if host, _, err := net.SplitHostPort(remoteAddr); err == nil {
		return host
	}
	return remoteAddr
}

// blocked reports whether the source has no failures left to spend. It
// does not allocate for sources that never failed.
func (l *failureLimiter) blocked(src string) bool {
	if l.tracked.Load() == 0 {
		return false
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.sources[src]
	if b == nil {
		return false
	}
	l.refill(b)
	return b.tokens < 1
}

// fail spends one token of the source's bucket.
func (l *failureLimiter) fail(src string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	b := l.sources[src]
	if b == nil {
		if len(l.sources) >= l.max {
			l.sweep()
		}
		b = &bucket{tokens: l.burst, last: l.now()}
		l.sources[src] = b
		l.tracked.Store(int64(len(l.sources)))
	}
	l.refill(b)
	if b.tokens >= 1 {
		b.tokens--
	}
}

func (l *failureLimiter) refill(b *bucket) {
	now := l.now()
	b.tokens = min(l.burst, b.tokens+now.Sub(b.last).Seconds()*l.rate)
	b.last = now
}

// sweep makes room: full buckets are forgotten first (they hold no debt);
// if every source is in debt, the map is bounded by dropping a tenth of it
// (those sources get a fresh burst, which the bound on the map caps).
func (l *failureLimiter) sweep() {
	for k, b := range l.sources {
		l.refill(b)
		if b.tokens >= l.burst {
			delete(l.sources, k)
		}
	}
	if len(l.sources) >= l.max {
		drop := max(1, l.max/10)
		for k := range l.sources {
			delete(l.sources, k)
			if drop--; drop == 0 {
				break
			}
		}
	}
	l.tracked.Store(int64(len(l.sources)))
}
