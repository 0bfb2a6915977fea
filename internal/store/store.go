// Package store holds the permission snapshot each tenant is served. The
// controllers swap a tenant's snapshot in whole; the webhook, the
// authorization endpoint and the CLI read it. Readers never block and never
// see half a snapshot: the tenant table is an immutable map behind an atomic
// pointer, replaced on every write (writes are rare, reads are hot).
package store

import (
	"context"
	"sort"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Entry is what a tenant is served: its snapshot, when it was compiled, and
// the problems of the objects left out of it.
type Entry struct {
	// Snapshot is the compiled, immutable permission snapshot.
	Snapshot *snapshot.Snapshot
	// CompiledAt is when Snapshot was compiled.
	CompiledAt time.Time
	// Problems are the objects left out of Snapshot and why.
	Problems []snapshot.Problem
}

// Store maps tenant names to their served Entry. The zero value is not
// usable; call New.
type Store struct {
	tenants atomic.Pointer[map[string]*Entry]

	mu      sync.Mutex    // serialises writers
	changed chan struct{} // closed and replaced on every write, to wake waiters
}

// New returns an empty Store.
func New() *Store {
	s := &Store{changed: make(chan struct{})}
	empty := map[string]*Entry{}
	s.tenants.Store(&empty)
	return s
}

// Get returns the tenant's entry, or nil when the tenant is unknown.
func (s *Store) Get(tenant string) *Entry {
	return (*s.tenants.Load())[tenant]
}

// Snapshot returns the tenant's snapshot, or nil when the tenant is unknown
// (a nil snapshot denies everything).
func (s *Store) Snapshot(tenant string) *snapshot.Snapshot {
	if e := s.Get(tenant); e != nil {
		return e.Snapshot
	}
	return nil
}

// Tenants returns the served tenants, sorted.
func (s *Store) Tenants() []string {
	m := *s.tenants.Load()
	out := make([]string, 0, len(m))
	for t := range m {
		out = append(out, t)
	}
	sort.Strings(out)
	return out
}

// Set serves entry for tenant, replacing what was served, and returns the
// previous entry (nil for a new tenant).
func (s *Store) Set(tenant string, entry *Entry) *Entry {
	return s.update(tenant, entry)
}

// Delete stops serving tenant and returns what it was served.
func (s *Store) Delete(tenant string) *Entry {
	return s.update(tenant, nil)
}

func (s *Store) update(tenant string, entry *Entry) *Entry {
	s.mu.Lock()
	defer s.mu.Unlock()
	old := *s.tenants.Load()
	next := make(map[string]*Entry, len(old)+1)
	for t, e := range old {
		next[t] = e
	}
	prev := old[tenant]
	if entry == nil {
		delete(next, tenant)
	} else {
		next[tenant] = entry
	}
	s.tenants.Store(&next)
	close(s.changed)
	s.changed = make(chan struct{})
	return prev
}

// watch returns a channel closed on the next write.
func (s *Store) watch() <-chan struct{} {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.changed
}

// WaitFor blocks until accept returns true for the tenant's entry (which may
// be nil), or ctx ends. It lets a request ask for a minimum revision.
func (s *Store) WaitFor(ctx context.Context, tenant string, accept func(*Entry) bool) (*Entry, error) {
	for {
		changed := s.watch()
		if e := s.Get(tenant); accept(e) {
			return e, nil
		}
		select {
		case <-ctx.Done():
			return s.Get(tenant), ctx.Err()
		case <-changed:
		}
	}
}
