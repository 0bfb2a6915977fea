package authz

import (
	"context"
	"sync"
	"time"
)

// fairLimiter bounds the requests that do work at once (seats) and, when
// they are all taken, queues requests per flow and hands freed seats to the
// flows in turn, as kube-apiserver's API Priority and Fairness does with
// its fair queuing: a flow that sends a thousand requests gets the same
// share of freed seats as a flow that sends one, so a flooding caller
// delays itself, not the others. Beyond a flow's queue length, the total
// queue length or the queue wait, a request is refused (429 and
// Retry-After).
//
// A flow is a (caller, tenant) pair: each tenant's application has its own
// identity, and a caller serving many tenants (an API gateway, the
// Kubernetes API server) gets a share per tenant.
type fairLimiter struct {
	seats      int
	flowQueue  int
	totalQueue int
	wait       time.Duration

	mu       sync.Mutex
	inFlight int
	queued   int
	flows    map[flowKey]*flow
	ring     []*flow // flows with waiters, served in turn
	next     int
	waiters  sync.Pool
}

// flowKey identifies a flow without building a string per request.
type flowKey struct{ caller, tenant string }

type flow struct {
	key     flowKey
	waiters []*waiter
	inRing  bool
}

type waiter struct {
	ready   chan struct{}
	granted bool
	// timer bounds the wait; pooled with the waiter (since Go 1.23 a
	// stopped timer's channel holds no stale tick, so Reset is safe).
	timer *time.Timer
}

// admission is the outcome of acquire.
type admission uint8

const (
	admitted     admission = iota // a seat is held: call release
	rejectFull                    // the flow's or the total queue is full
	rejectWaited                  // no seat within the queue wait
	rejectGone                    // the caller left while queued
)

func newFairLimiter(seats, flowQueue, totalQueue int, wait time.Duration) *fairLimiter {
	l := &fairLimiter{seats: seats, flowQueue: flowQueue, totalQueue: totalQueue, wait: wait, flows: map[flowKey]*flow{}}
	l.waiters.New = func() any { return &waiter{ready: make(chan struct{}, 1)} }
	return l
}

// acquire takes a seat for the flow, queuing up to the wait when none is
// free. queued reports whether it waited (for metrics).
func (l *fairLimiter) acquire(ctx context.Context, key flowKey) (a admission, queued time.Duration) {
	l.mu.Lock()
	if l.inFlight < l.seats && len(l.ring) == 0 {
		l.inFlight++
		l.mu.Unlock()
		return admitted, 0
	}
	if f := l.flows[key]; (f != nil && len(f.waiters) >= l.flowQueue) || l.queued >= l.totalQueue {
		l.mu.Unlock()
		return rejectFull, 0
	}
	f, w := l.enqueue(key)
	l.mu.Unlock()

	start := time.Now()
	if w.timer == nil {
		w.timer = time.NewTimer(l.wait)
	} else {
		w.timer.Reset(l.wait)
	}
	var why admission
	select {
	case <-w.ready:
		w.timer.Stop()
		l.waiters.Put(w)
		return admitted, time.Since(start)
	case <-w.timer.C:
		why = rejectWaited
	case <-ctx.Done():
		w.timer.Stop()
		why = rejectGone
	}
	if l.abandon(f, w) {
		return admitted, time.Since(start)
	}
	return why, time.Since(start)
}

// enqueue queues a waiter in the flow (created if new, put in the ring if
// out of it); mu is held.
func (l *fairLimiter) enqueue(key flowKey) (*flow, *waiter) {
	f := l.flows[key]
	if f == nil {
		f = &flow{key: key}
		l.flows[key] = f
	}
	w := l.waiters.Get().(*waiter)
	w.granted = false
	f.waiters = append(f.waiters, w)
	l.queued++
	if !f.inRing {
		f.inRing = true
		l.ring = append(l.ring, f)
	}
	return f, w
}

// abandon takes back a waiter that stopped waiting. It reports true when
// the seat was handed to it meanwhile: the caller then holds it.
func (l *fairLimiter) abandon(f *flow, w *waiter) bool {
	l.mu.Lock()
	if w.granted {
		l.mu.Unlock()
		<-w.ready // release signals after unlocking
		l.waiters.Put(w)
		return true
	}
	l.dequeue(f, w)
	l.mu.Unlock()
	l.waiters.Put(w)
	return false
}

// dequeue removes a waiter that gave up; mu is held.
func (l *fairLimiter) dequeue(f *flow, w *waiter) {
	for i, x := range f.waiters {
		if x == w {
			f.waiters = append(f.waiters[:i], f.waiters[i+1:]...)
			l.queued--
			break
		}
	}
	if len(f.waiters) == 0 {
		l.dropFlow(f)
	}
}

// dropFlow takes a flow without waiters out of the ring; mu is held.
func (l *fairLimiter) dropFlow(f *flow) {
	for i, x := range l.ring {
		if x == f {
			l.ring = append(l.ring[:i], l.ring[i+1:]...)
			if l.next > i {
				l.next--
			}
			break
		}
	}
	f.inRing = false
	delete(l.flows, f.key)
}

// release frees a seat, handing it to the next flow's oldest waiter when
// any is queued.
func (l *fairLimiter) release() {
	l.mu.Lock()
	if len(l.ring) == 0 {
		l.inFlight--
		l.mu.Unlock()
		return
	}
	w := l.handOff()
	l.mu.Unlock()
	w.ready <- struct{}{}
}

// handOff takes the next flow's oldest waiter off the queue and marks it
// granted; mu is held and the ring is not empty. The caller signals it
// after unlocking.
func (l *fairLimiter) handOff() *waiter {
	if l.next >= len(l.ring) {
		l.next = 0
	}
	f := l.ring[l.next]
	w := f.waiters[0]
	f.waiters[0] = nil
	f.waiters = f.waiters[1:]
	l.queued--
	w.granted = true
	if len(f.waiters) == 0 {
		l.dropFlow(f) // the next flow slides into this slot
	} else {
		l.next++
	}
	return w
}

// yield lets queued flows have the seat a long request holds: when any
// request is queued, the seat goes to the next flow's and the request
// queues behind it in its own flow, past the queue limits (it already
// had its turn and has work under way). It reports false when ctx ended
// before the seat came back; the caller then holds none.
func (l *fairLimiter) yield(ctx context.Context, key flowKey) bool {
	l.mu.Lock()
	if len(l.ring) == 0 {
		l.mu.Unlock()
		return true
	}
	next := l.handOff()
	f, w := l.enqueue(key)
	l.mu.Unlock()
	next.ready <- struct{}{}
	select {
	case <-w.ready:
		l.waiters.Put(w)
		return true
	case <-ctx.Done():
		return l.abandon(f, w)
	}
}

// load reports the seats in use and the requests queued.
func (l *fairLimiter) load() (inFlight, queued int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.inFlight, l.queued
}
