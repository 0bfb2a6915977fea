// Package store holds the permission snapshot each tenant is served. The
// controllers swap a tenant's snapshot in whole; the webhook, the
// authorization endpoint and the CLI read it. Readers never block and never
// see half a snapshot: the tenant table is immutable maps behind atomic
// pointers, one per shard of the tenant names, and a write replaces one
// shard's map. Sharding keeps writes cheap with 10,000 tenants (copying
// the whole table on each write made loading n tenants cost n² copies)
// while a read stays a hash, a load and a map lookup.
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
	shards [nShards]atomic.Pointer[map[string]*Entry]
	n      atomic.Int64

	mu      sync.Mutex    // serialises writers
	changed chan struct{} // closed and replaced on every write, to wake waiters
}

// New returns an empty Store.
func New() *Store {
	return &Store{changed: make(chan struct{})}
}

// nShards bounds a write's copy to about 1/256 of the tenants.
const nShards = 256

// shard picks a tenant's shard from its length and first and last 4 bytes:
// cheaper than a full hash on the read path, and tenant names (namespaces)
// differ at one end or the other. Names that collide only make writes
// slower, never reads.
func (s *Store) shard(tenant string) *atomic.Pointer[map[string]*Entry] {
	h := uint32(len(tenant))
	for i := 0; i < len(tenant) && i < 4; i++ {
		h = h*31 + uint32(tenant[i])
	}
	for i := max(4, len(tenant)-4); i < len(tenant); i++ {
		h = h*31 + uint32(tenant[i])
	}
	return &s.shards[h%nShards]
}

// Get returns the tenant's entry, or nil when the tenant is unknown.
func (s *Store) Get(tenant string) *Entry {
	if m := s.shard(tenant).Load(); m != nil {
		return (*m)[tenant]
	}
	return nil
}

// Len is the number of tenants served.
func (s *Store) Len() int { return int(s.n.Load()) }

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
	out := make([]string, 0, s.Len())
	for i := range s.shards {
		if m := s.shards[i].Load(); m != nil {
			for t := range *m {
				out = append(out, t)
			}
		}
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
	sh := s.shard(tenant)
	var old map[string]*Entry
	if m := sh.Load(); m != nil {
		old = *m
	}
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
	sh.Store(&next)
	s.n.Add(int64(len(next) - len(old)))
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
