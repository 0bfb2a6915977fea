package kubeauth

import (
	"sync"
	"time"
)

// ttlCache is a bounded map with per-entry expiry. When full, expired
// entries are swept first; if none expired, a tenth of the entries are
// dropped at random (map iteration order), which keeps the cost O(1)
// amortized without the bookkeeping of an LRU. Because eviction is blind,
// answers that must survive a flood of others (accepted callers versus
// random tokens) are kept in caches of their own.
type ttlCache[K comparable, V any] struct {
	mu  sync.Mutex
	m   map[K]ttlEntry[V]
	max int
	now func() time.Time
}

type ttlEntry[V any] struct {
	v   V
	exp time.Time
}

func newTTLCache[K comparable, V any](max int, now func() time.Time) *ttlCache[K, V] {
	if now == nil {
		now = time.Now
	}
	return &ttlCache[K, V]{m: make(map[K]ttlEntry[V]), max: max, now: now}
}

func (c *ttlCache[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || !c.now().Before(e.exp) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[K, V]) put(k K, v V, ttl time.Duration) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for key, e := range c.m {
			if !now.Before(e.exp) {
				delete(c.m, key)
			}
		}
		if len(c.m) >= c.max {
			drop := max(1, c.max/10)
			for key := range c.m {
				delete(c.m, key)
				if drop--; drop == 0 {
					break
				}
			}
		}
	}
	c.m[k] = ttlEntry[V]{v: v, exp: now.Add(ttl)}
}

func (c *ttlCache[K, V]) delete(k K) {
	c.mu.Lock()
	delete(c.m, k)
	c.mu.Unlock()
}

func (c *ttlCache[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
