package store

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func compiled(t *testing.T, tenant string) *snapshot.Snapshot {
	t.Helper()
	snap, problems := snapshot.Compile(tenant, snapshot.Objects{})
	if len(problems) != 0 {
		t.Fatalf("problems: %v", problems)
	}
	return snap
}

func TestSetGetDelete(t *testing.T) {
	s := New()
	if s.Get("acme") != nil || s.Snapshot("acme") != nil {
		t.Fatal("unknown tenant must have no entry")
	}
	first := &Entry{Snapshot: compiled(t, "acme")}
	if prev := s.Set("acme", first); prev != nil {
		t.Fatalf("first Set returned %v", prev)
	}
	second := &Entry{Snapshot: compiled(t, "acme")}
	if prev := s.Set("acme", second); prev != first {
		t.Fatal("Set must return the replaced entry")
	}
	s.Set("beta", &Entry{Snapshot: compiled(t, "beta")})
	if got := s.Tenants(); len(got) != 2 || got[0] != "acme" || got[1] != "beta" {
		t.Fatalf("Tenants() = %v", got)
	}
	if s.Get("acme") != second {
		t.Fatal("Get must return the latest entry")
	}
	if prev := s.Delete("acme"); prev != second {
		t.Fatal("Delete must return the removed entry")
	}
	if s.Get("acme") != nil {
		t.Fatal("deleted tenant still served")
	}
}

func TestWaitForWakesOnSet(t *testing.T) {
	s := New()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	want := &Entry{Snapshot: compiled(t, "acme")}
	done := make(chan *Entry)
	go func() {
		e, err := s.WaitFor(ctx, "acme", func(e *Entry) bool { return e == want })
		if err != nil {
			t.Errorf("WaitFor: %v", err)
		}
		done <- e
	}()
	s.Set("other", &Entry{Snapshot: compiled(t, "other")})
	s.Set("acme", want)
	if got := <-done; got != want {
		t.Fatalf("WaitFor returned %v", got)
	}
}

func TestWaitForHonoursContext(t *testing.T) {
	s := New()
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := s.WaitFor(ctx, "acme", func(e *Entry) bool { return e != nil }); err == nil {
		t.Fatal("WaitFor must fail when the context ends first")
	}
}

// TestConcurrentReadersSeeWholeEntries runs readers against a writer under
// -race: every read sees nil or a complete entry.
func TestConcurrentReadersSeeWholeEntries(t *testing.T) {
	s := New()
	entries := []*Entry{{Snapshot: compiled(t, "acme")}, {Snapshot: compiled(t, "acme")}}
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if e := s.Get("acme"); e != nil && e.Snapshot == nil {
					t.Error("reader saw an entry without a snapshot")
					return
				}
			}
		}()
	}
	for i := range 1000 {
		s.Set("acme", entries[i%2])
		if i%100 == 0 {
			s.Delete("acme")
		}
	}
	close(stop)
	wg.Wait()
}

func BenchmarkGet(b *testing.B) {
	s := New()
	for _, t := range []string{"a", "b", "acme", "c"} {
		snap, _ := snapshot.Compile(t, snapshot.Objects{})
		s.Set(t, &Entry{Snapshot: snap})
	}
	b.ReportAllocs()
	for b.Loop() {
		if s.Get("acme") == nil {
			b.Fatal("missing")
		}
	}
}

// BenchmarkGetMany reads one of 10,000 tenants, the many-tenants target.
func BenchmarkGetMany(b *testing.B) {
	s := New()
	snap, _ := snapshot.Compile("t", snapshot.Objects{})
	names := make([]string, 10_000)
	for i := range names {
		names[i] = fmt.Sprintf("tenant-%05d", i)
		s.Set(names[i], &Entry{Snapshot: snap})
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		if s.Get(names[i%len(names)]) == nil {
			b.Fatal("missing")
		}
		i++
	}
}

// BenchmarkSetMany loads 10,000 tenants into an empty store, as a server
// starting does.
func BenchmarkSetMany(b *testing.B) {
	snap, _ := snapshot.Compile("t", snapshot.Objects{})
	names := make([]string, 10_000)
	for i := range names {
		names[i] = fmt.Sprintf("tenant-%05d", i)
	}
	b.ReportAllocs()
	for b.Loop() {
		s := New()
		for _, t := range names {
			s.Set(t, &Entry{Snapshot: snap})
		}
	}
}
