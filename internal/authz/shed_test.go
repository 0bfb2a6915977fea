package authz

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// queued waits until the limiter holds n queued requests.
func waitQueued(t *testing.T, l *fairLimiter, n int) {
	t.Helper()
	if !eventually(5*time.Second, func() bool { _, q := l.load(); return q == n }) {
		_, q := l.load()
		t.Fatalf("%d queued, want %d", q, n)
	}
}

func assertIdle(t *testing.T, l *fairLimiter) {
	t.Helper()
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.inFlight != 0 || l.queued != 0 || len(l.flows) != 0 || len(l.ring) != 0 {
		t.Fatalf("not idle: %d in flight, %d queued, %d flows, %d in ring", l.inFlight, l.queued, len(l.flows), len(l.ring))
	}
}

func TestFairLimiterRefusals(t *testing.T) {
	a, b := flowKey{"a", "t"}, flowKey{"b", "t"}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := map[string]struct {
		seats, flowQueue, totalQueue int
		wait                         time.Duration
		// hold are the flows that take seats first and hold them; queue
		// the flows that then wait in the background.
		hold, queue []flowKey
		ctx         context.Context
		try         flowKey
		want        admission
	}{
		"a free seat":           {seats: 2, flowQueue: 1, totalQueue: 4, wait: time.Minute, hold: []flowKey{a}, try: b, want: admitted},
		"its flow's queue full": {seats: 1, flowQueue: 1, totalQueue: 4, wait: time.Minute, hold: []flowKey{a}, queue: []flowKey{a}, try: a, want: rejectFull},
		"another flow's room":   {seats: 1, flowQueue: 1, totalQueue: 4, wait: 20 * time.Millisecond, hold: []flowKey{a}, queue: []flowKey{a}, try: b, want: rejectWaited},
		"total queue full":      {seats: 1, flowQueue: 4, totalQueue: 1, wait: time.Minute, hold: []flowKey{a}, queue: []flowKey{a}, try: b, want: rejectFull},
		"waited too long":       {seats: 1, flowQueue: 4, totalQueue: 4, wait: 20 * time.Millisecond, hold: []flowKey{a}, try: b, want: rejectWaited},
		"caller left":           {seats: 1, flowQueue: 4, totalQueue: 4, wait: time.Minute, hold: []flowKey{a}, ctx: cancelled, try: b, want: rejectGone},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			l := newFairLimiter(tc.seats, tc.flowQueue, tc.totalQueue, tc.wait)
			for _, k := range tc.hold {
				if got, _ := l.acquire(context.Background(), k); got != admitted {
					t.Fatalf("holding %v: %v", k, got)
				}
			}
			qctx, stopQueue := context.WithCancel(context.Background())
			var wg sync.WaitGroup
			for i, k := range tc.queue {
				wg.Go(func() {
					if got, _ := l.acquire(qctx, k); got == admitted {
						l.release()
					}
				})
				waitQueued(t, l, i+1)
			}
			ctx := tc.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			got, _ := l.acquire(ctx, tc.try)
			if got != tc.want {
				t.Fatalf("acquire = %v, want %v", got, tc.want)
			}
			if got == admitted {
				l.release()
			}
			stopQueue()
			wg.Wait()
			for range tc.hold {
				l.release()
			}
			assertIdle(t, l)
		})
	}
}

// TestFairLimiterTurns: freed seats go to the queued flows in turn, so one
// queued request of a quiet flow is served before the flood's backlog.
func TestFairLimiterTurns(t *testing.T) {
	l := newFairLimiter(1, 100, 100, time.Minute)
	flood, quiet := flowKey{"flood", "t"}, flowKey{"quiet", "t"}
	if got, _ := l.acquire(context.Background(), flood); got != admitted {
		t.Fatal(got)
	}
	var order []string
	var mu sync.Mutex
	var wg sync.WaitGroup
	enqueue := func(k flowKey, n int) {
		wg.Go(func() {
			if got, _ := l.acquire(context.Background(), k); got != admitted {
				t.Errorf("%v: %v", k, got)
				return
			}
			mu.Lock()
			order = append(order, k.caller)
			mu.Unlock()
			l.release()
		})
		waitQueued(t, l, n)
	}
	for i := range 10 {
		enqueue(flood, i+1)
	}
	enqueue(quiet, 11)
	l.release() // the first flood request ends
	wg.Wait()
	pos := -1
	for i, c := range order {
		if c == "quiet" {
			pos = i
		}
	}
	if pos < 0 || pos > 1 {
		t.Fatalf("the quiet flow was served at position %d of %v; its turn is at most second", pos, order)
	}
	assertIdle(t, l)
}

// TestFairLimiterYield: a long request hands its seat to a queued flow and
// gets it back after; without anyone queued it keeps it.
func TestFairLimiterYield(t *testing.T) {
	l := newFairLimiter(1, 4, 4, time.Minute)
	long, short := flowKey{"long", "t"}, flowKey{"short", "t"}
	if got, _ := l.acquire(context.Background(), long); got != admitted {
		t.Fatal(got)
	}
	if !l.yield(context.Background(), long) {
		t.Fatal("yield with nobody queued gave the seat away")
	}
	served := make(chan struct{})
	go func() {
		if got, _ := l.acquire(context.Background(), short); got == admitted {
			close(served)
			l.release()
		}
	}()
	waitQueued(t, l, 1)
	if !l.yield(context.Background(), long) {
		t.Fatal("yield did not come back")
	}
	select {
	case <-served:
	default:
		t.Fatal("the long request got its seat back before the queued one was served")
	}
	l.release()
	assertIdle(t, l)

	// A yield whose caller leaves while queued holds no seat.
	if got, _ := l.acquire(context.Background(), long); got != admitted {
		t.Fatal(got)
	}
	hold := make(chan struct{})
	go func() {
		if got, _ := l.acquire(context.Background(), short); got == admitted {
			<-hold
			l.release()
		}
	}()
	waitQueued(t, l, 1)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan bool)
	go func() { done <- l.yield(ctx, long) }()
	waitQueued(t, l, 1) // the long request queued behind the short one
	cancel()
	if <-done {
		t.Fatal("yield reported a seat after its context ended")
	}
	close(hold)
	if !eventually(5*time.Second, func() bool { n, _ := l.load(); return n == 0 }) {
		t.Fatal("seats leaked")
	}
	assertIdle(t, l)
}

// TestFairLimiterConcurrent: under random concurrent use the seats are
// never exceeded and nothing leaks.
func TestFairLimiterConcurrent(t *testing.T) {
	const seats = 3
	l := newFairLimiter(seats, 8, 32, 50*time.Millisecond)
	var busy, peak atomic.Int64
	var wg sync.WaitGroup
	for g := range 16 {
		wg.Go(func() {
			k := flowKey{fmt.Sprint("c", g%4), "t"}
			for i := range 200 {
				ctx, cancel := context.WithTimeout(context.Background(), time.Duration(i%5)*time.Millisecond)
				a, _ := l.acquire(ctx, k)
				cancel()
				if a != admitted {
					continue
				}
				hold := func() {
					n := busy.Add(1)
					for p := peak.Load(); n > p && !peak.CompareAndSwap(p, n); p = peak.Load() {
					}
				}
				hold()
				if i%3 == 0 {
					busy.Add(-1) // the seat may go to another while queued
					l.yield(context.Background(), k)
					hold()
				}
				busy.Add(-1)
				l.release()
			}
		})
	}
	wg.Wait()
	if p := peak.Load(); p > seats {
		t.Fatalf("%d requests held seats at once, %d seats", p, seats)
	}
	assertIdle(t, l)
}
