package kubeauth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"golang.org/x/sync/singleflight"
)

// ErrBackoff is wrapped by the errors returned without asking the API
// server because reviews failed recently: for the same key (the same token,
// or the same caller and tenant) within its backoff interval, or for any
// key while the circuit is open. It never wraps authz.ErrUnauthenticated:
// the request is refused as unavailable (503), not as unauthenticated.
var ErrBackoff = errors.New("kubeauth: backing off after failed reviews")

// reviewer is what the Authenticator and the TenantAuthorizer share: the
// answers of one kind of review (TokenReview or SubjectAccessReview) keyed
// by K, with
//
//   - accepted answers (V) in one bounded cache for PositiveTTL and
//     rejected ones in another for NegativeTTL, so that a flood of
//     rejected keys (random tokens, random tenants) only evicts other
//     rejected keys;
//   - failures (API server errors, timeouts) in a third bounded cache,
//     each key backing off for ErrorBackoff doubling to MaxErrorBackoff
//     while it keeps failing, forgotten on success;
//   - concurrent reviews of the same key coalesced into one call
//     (singleflight), which runs detached from the callers' contexts and
//     bounded by Timeout, while every caller stops waiting when its own
//     context ends;
//   - a circuit over all keys: after CircuitThreshold consecutive failed
//     reviews, uncached keys fail fast with ErrBackoff, and one probe
//     review per backoff interval (growing like a key's) decides when to
//     close it again.
type reviewer[K comparable, V any] struct {
	what      string // "TokenReview", for errors
	opts      Options
	flightKey func(K) string
	now       func() time.Time // tests replace it before use
	waiting   func()           // test hook: a caller waits for a flight

	accepted *ttlCache[K, V]
	rejected *ttlCache[K, struct{}]
	failed   *ttlCache[K, failure]
	flights  singleflight.Group
	circuit  circuit
}

// failure is a key's last failed review.
type failure struct {
	err     error
	backoff time.Duration // the interval it started
	until   time.Time     // no new review before
}

// answer is what a review or cache lookup found.
type answer[V any] struct {
	v  V
	ok bool // accepted
}

func newReviewer[K comparable, V any](what string, opts Options, flightKey func(K) string) *reviewer[K, V] {
	r := &reviewer[K, V]{what: what, opts: opts, flightKey: flightKey, now: time.Now}
	now := func() time.Time { return r.now() }
	r.accepted = newTTLCache[K, V](opts.MaxEntries, now)
	r.rejected = newTTLCache[K, struct{}](opts.MaxEntries, now)
	r.failed = newTTLCache[K, failure](opts.MaxEntries, now)
	r.circuit = circuit{threshold: opts.CircuitThreshold, min: opts.ErrorBackoff, max: opts.MaxErrorBackoff, probeTimeout: opts.Timeout}
	return r
}

// lookup answers from the caches: hit is false when k must be reviewed.
func (r *reviewer[K, V]) lookup(k K) (a answer[V], err error, hit bool) {
	if v, ok := r.accepted.get(k); ok {
		return answer[V]{v, true}, nil, true
	}
	if _, ok := r.rejected.get(k); ok {
		return answer[V]{}, nil, true
	}
	if f, ok := r.failed.get(k); ok {
		if now := r.now(); now.Before(f.until) {
			return answer[V]{}, fmt.Errorf("%w: %s failed (%w); retrying in %s", ErrBackoff, r.what, f.err, f.until.Sub(now).Round(time.Millisecond)), true
		}
	}
	return answer[V]{}, nil, false
}

// get returns k's answer: (v, true, nil) if accepted, (zero, false, nil) if
// rejected, or an error if it could not be decided. review makes the API
// call for k; it gets a context detached from ctx (keeping its values)
// and bounded by Timeout, since its answer is shared by every caller
// asking about k meanwhile. review is called only by the first of them,
// so it must not depend on anything but k.
func (r *reviewer[K, V]) get(ctx context.Context, k K, review func(context.Context) (V, bool, error)) (V, bool, error) {
	var zero V
	if a, err, hit := r.lookup(k); hit {
		return a.v, a.ok, err
	}
	if err := context.Cause(ctx); err != nil {
		// Gone already: start no review that nobody waits for.
		return zero, false, fmt.Errorf("kubeauth: %s: %w", r.what, err)
	}
	ch := r.flights.DoChan(r.flightKey(k), func() (any, error) {
		// A flight for k may have ended between the lookup above and
		// this one starting.
		if a, err, hit := r.lookup(k); hit {
			return a, err
		}
		probe, ok := r.circuit.allow(r.now())
		if !ok {
			return answer[V]{}, fmt.Errorf("%w: the last %d %ss failed", ErrBackoff, r.circuit.failures(), r.what)
		}
		rctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), r.opts.Timeout)
		defer cancel()
		v, ok, err := review(rctx)
		if err != nil {
			now := r.now()
			r.circuit.failure(now, probe)
			b := r.opts.ErrorBackoff
			if f, ok := r.failed.get(k); ok {
				b = min(2*f.backoff, r.opts.MaxErrorBackoff)
			}
			// Remembered beyond the backoff, so that failing again
			// soon after it doubles the interval.
			r.failed.put(k, failure{err: err, backoff: b, until: now.Add(b)}, b+r.opts.MaxErrorBackoff)
			// The error text comes from the API server or the client
			// and never contains the token.
			return answer[V]{}, fmt.Errorf("kubeauth: %s: %w", r.what, err)
		}
		r.circuit.success()
		r.failed.delete(k)
		if ok {
			r.accepted.put(k, v, r.opts.PositiveTTL)
		} else {
			r.rejected.put(k, struct{}{}, r.opts.NegativeTTL)
		}
		return answer[V]{v, ok}, nil
	})
	if r.waiting != nil {
		r.waiting()
	}
	select {
	case res := <-ch:
		if res.Err != nil {
			return zero, false, res.Err
		}
		a := res.Val.(answer[V])
		return a.v, a.ok, nil
	case <-ctx.Done():
		// The review goes on for the others waiting and for the cache.
		return zero, false, fmt.Errorf("kubeauth: waiting for %s: %w", r.what, context.Cause(ctx))
	}
}

// circuit stops reviews of uncached keys while the API server keeps
// failing, whatever the keys: per-key backoff alone would let a stream of
// new keys (random tokens) cost one failing call each.
//
// Closed, every review goes ahead. After threshold consecutive failures
// (no success in between) it opens for min; when that has passed, the
// next review is a probe and the others still fail fast until the probe
// ends (or probeTimeout passes): a failed probe reopens it for twice the
// interval (up to max), any successful review closes it.
type circuit struct {
	threshold    int // < 1: never opens
	min, max     time.Duration
	probeTimeout time.Duration

	mu      sync.Mutex
	fails   int           // consecutive failed reviews
	backoff time.Duration // 0: closed
	until   time.Time     // open until
}

// allow reports whether a review may go ahead now, and whether it is the
// probe of an open circuit.
func (c *circuit) allow(now time.Time) (probe, ok bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	switch {
	case c.backoff == 0:
		return false, true
	case now.Before(c.until):
		return false, false
	}
	c.until = now.Add(c.probeTimeout)
	return true, true
}

func (c *circuit) failure(now time.Time, probe bool) {
	if c.threshold < 1 {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	c.fails++
	switch {
	case probe:
		c.backoff = min(2*c.backoff, c.max)
		c.until = now.Add(c.backoff)
	case c.backoff == 0 && c.fails >= c.threshold:
		c.backoff = c.min
		c.until = now.Add(c.backoff)
	}
	// Other failures while open are of reviews that began before it
	// opened: they neither extend nor grow the interval.
}

func (c *circuit) success() {
	c.mu.Lock()
	c.fails, c.backoff = 0, 0
	c.mu.Unlock()
}

func (c *circuit) failures() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.fails
}
