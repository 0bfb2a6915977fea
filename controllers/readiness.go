package controllers

import (
	"context"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"sync"

	"sigs.k8s.io/controller-runtime/pkg/manager"
)

// ReadinessTracker tells when a replica serves every tenant that existed when
// it started, after Gatekeeper's readiness tracker: until then the replica
// would answer "no snapshot, deny" for tenants it simply has not compiled
// yet, so /readyz keeps it out of its Service.
//
// The expected tenants are listed once the cache has synced (Expect); the
// reconciler reports each tenant it compiles or drops (Observe). Observations
// may arrive before the list: they are remembered. Once every expected tenant
// has been observed the tracker is satisfied for good; tenants created later
// do not make a serving replica unready.
type ReadinessTracker struct {
	mu        sync.Mutex
	listed    bool
	expected  map[string]bool
	observed  map[string]bool
	satisfied bool
	done      chan struct{} // closed once satisfied
}

// NewReadinessTracker returns a tracker that is not ready until Expect has
// been called and every expected tenant observed.
func NewReadinessTracker() *ReadinessTracker {
	return &ReadinessTracker{expected: map[string]bool{}, observed: map[string]bool{}, done: make(chan struct{})}
}

// Expect adds tenants that must be observed before the tracker is ready, and
// records that the tenants present at start have been listed.
func (t *ReadinessTracker) Expect(tenants ...string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.satisfied {
		return
	}
	t.listed = true
	for _, tenant := range tenants {
		if !t.observed[tenant] {
			t.expected[tenant] = true
		}
	}
	t.check()
}

// Observe records that tenant has been compiled (or dropped) at least once.
func (t *ReadinessTracker) Observe(tenant string) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.satisfied {
		return
	}
	t.observed[tenant] = true
	delete(t.expected, tenant)
	t.check()
}

// check marks the tracker satisfied, and frees its sets, once the tenants
// are listed and none is pending. The caller holds mu.
func (t *ReadinessTracker) check() {
	if t.listed && len(t.expected) == 0 {
		t.satisfied = true
		t.expected, t.observed = nil, nil
		close(t.done)
	}
}

// Done returns a channel closed once the tracker is ready.
func (t *ReadinessTracker) Done() <-chan struct{} { return t.done }

// Ready reports whether every tenant present at start has been observed.
func (t *ReadinessTracker) Ready() bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.satisfied
}

// Pending returns the expected tenants not observed yet, sorted.
func (t *ReadinessTracker) Pending() []string {
	t.mu.Lock()
	defer t.mu.Unlock()
	out := make([]string, 0, len(t.expected))
	for tenant := range t.expected {
		out = append(out, tenant)
	}
	sort.Strings(out)
	return out
}

// Check is a healthz.Checker for /readyz: nil once Ready, else an error
// saying what is pending.
func (t *ReadinessTracker) Check(_ *http.Request) error {
	t.mu.Lock()
	defer t.mu.Unlock()
	switch {
	case t.satisfied:
		return nil
	case !t.listed:
		return fmt.Errorf("tenants not listed yet: waiting for the cache to sync")
	default:
		pending := make([]string, 0, len(t.expected))
		for tenant := range t.expected {
			pending = append(pending, tenant)
		}
		sort.Strings(pending)
		const show = 5
		more := ""
		if len(pending) > show {
			more = fmt.Sprintf(" and %d more", len(pending)-show)
			pending = pending[:show]
		}
		return fmt.Errorf("%d tenants not compiled yet: %s%s", len(t.expected), strings.Join(pending, ", "), more)
	}
}

// readinessLister lists the tenants present at start into a tracker once
// the cache has synced. It runs on every replica: each replica serves
// requests, so each must know when it is ready.
type readinessLister struct {
	tracker *ReadinessTracker
	list    func(ctx context.Context) (map[string]bool, error)
	waitFor func(ctx context.Context) bool
}

var _ manager.LeaderElectionRunnable = (*readinessLister)(nil)

// NeedLeaderElection is false: every replica tracks its own readiness.
func (l *readinessLister) NeedLeaderElection() bool { return false }

// Start waits for the cache, lists the tenants and hands them to the tracker.
func (l *readinessLister) Start(ctx context.Context) error {
	if !l.waitFor(ctx) {
		return nil // stopping before the cache synced
	}
	tenants, err := l.list(ctx)
	if err != nil {
		return fmt.Errorf("listing the tenants present at start: %w", err)
	}
	names := make([]string, 0, len(tenants))
	for tenant := range tenants {
		names = append(names, tenant)
	}
	l.tracker.Expect(names...)
	return nil
}
