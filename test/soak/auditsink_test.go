//go:build soak

package soak

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

// ---- replica 1's audit records over HTTP, through outages, exits and kills ----
//
// Replica 1 also sends its trail to a loopback CloudEvents receiver, with a
// spool. The receiver is down (503) every other 30 s; replica 1 exits once
// (the paused leader, on resume) and is killed at the end with undelivered
// records in its spool. What its file trail holds must reach the receiver:
// after the kill, a sink opened on the spool sends what was left.

type auditReceiver struct {
	srv  *httptest.Server
	down atomic.Bool

	mu       sync.Mutex
	ids      map[string]bool
	posts    int
	refused  int
	received int // events in 2xx batches, duplicates included
}

func newAuditReceiver() (*auditReceiver, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	rx := &auditReceiver{ids: map[string]bool{}}
	rx.srv = httptest.NewUnstartedServer(http.HandlerFunc(rx.serve))
	_ = rx.srv.Listener.Close()
	rx.srv.Listener = ln
	rx.srv.Start()
	return rx, nil
}

func (rx *auditReceiver) serve(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, 64<<20))
	rx.mu.Lock()
	defer rx.mu.Unlock()
	rx.posts++
	if rx.down.Load() {
		rx.refused++
		w.WriteHeader(http.StatusServiceUnavailable)
		return
	}
	var events []audit.CloudEvent
	if err != nil || json.Unmarshal(body, &events) != nil {
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	for _, e := range events {
		rx.ids[e.ID] = true
	}
	rx.received += len(events)
	w.WriteHeader(http.StatusOK)
}

func (rx *auditReceiver) has(id string) bool {
	rx.mu.Lock()
	defer rx.mu.Unlock()
	return rx.ids[id]
}

// outages takes the receiver down every other 30 s until end.
func (rx *auditReceiver) outages(start, end time.Time) {
	for now := time.Now(); now.Before(end); now = time.Now() {
		rx.down.Store(int(now.Sub(start)/(30*time.Second))%2 == 1)
		time.Sleep(time.Until(now.Truncate(time.Second).Add(time.Second)))
	}
}

// auditDelivery kills replica 1 (with the receiver down, so its spool holds
// records), sends what its spool holds with a sink of our own, and checks
// that every record of its file trail written before the kill reached the
// receiver. It returns the report's lines and a failure, if any.
func (run *soakRun) auditDelivery(ctx context.Context) (string, error) {
	rx, r := run.h.auditRx, run.h.replicas[0]
	rx.down.Store(true)
	// Records queue behind the outage: three changes, each served (so
	// compiled and recorded) by replica 1 before the next.
	tn := run.tenants[len(run.tenants)-1]
	rnd := rand.New(rand.NewPCG(7, 7))
	for range 3 {
		next := tn.current().model.Clone()
		obj := mutate(next, rnd)
		next.Reindex()
		if err := run.h.apply(ctx, obj); err != nil {
			return "", fmt.Errorf("a change before the kill: %w", err)
		}
		st := tn.record(next, tn.current().extra, time.Now())
		if !waitFor(30*time.Second, 20*time.Millisecond, func() bool { rev, _ := r.revision(tn); return rev == st.revision }) {
			return "", fmt.Errorf("replica-1 did not serve %s's revision %s", tn.name, st.revision)
		}
	}
	killed := time.Now()
	r.kill()
	// The kill releases the spool's lock; open it as the next start would.
	var sink *audit.HTTPSink
	var err error
	waitFor(10*time.Second, 50*time.Millisecond, func() bool {
		sink, err = audit.NewHTTPSink(audit.HTTPOptions{URL: rx.srv.URL, Source: "/gatehouse/soak-flush", SpoolDir: r.spool})
		return err == nil
	})
	if err != nil {
		return "", fmt.Errorf("opening replica-1's spool after the kill: %w", err)
	}
	rx.mu.Lock()
	before := rx.received
	rx.mu.Unlock()
	rx.down.Store(false)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if err := sink.Close(ctx); err != nil {
		return "", fmt.Errorf("flushing replica-1's spool: %w", err)
	}
	rx.mu.Lock()
	flushed := rx.received - before
	posts, refused := rx.posts, rx.refused
	rx.mu.Unlock()

	records, _, err := audit.ReadPaths([]string{r.audit}, nil)
	if err != nil {
		return "", fmt.Errorf("reading replica-1's trail: %w", err)
	}
	// A record is written to the file, then to the HTTP sink: one written
	// in the last moment before the kill may be in the file only.
	cutoff := killed.Add(-time.Second)
	var checked int
	var missing []string
	for _, rec := range records {
		if !rec.Time.Before(cutoff) {
			continue
		}
		checked++
		if !rx.has(rec.ID()) {
			missing = append(missing, fmt.Sprintf("%s %s %s", rec.Time.Format("15:04:05.000"), rec.Event, rec.Tenant))
		}
	}
	line := fmt.Sprintf("replica-1's audit records over HTTP (receiver down every other 30 s; replica-1 exited %d times and was killed at the end): %d in its file trail before the kill, %d missing at the receiver; %d requests, %d refused; the spool left by the kill delivered %d records\n",
		r.restarts.Load(), checked, len(missing), posts, refused, flushed)
	switch {
	case checked == 0:
		return line, errors.New("replica-1's file trail holds no record to check")
	case len(missing) > 0:
		return line, fmt.Errorf("%d of replica-1's audit records never reached the HTTP receiver (first: %s)", len(missing), strings.Join(missing[:min(3, len(missing))], "; "))
	case flushed == 0:
		return line, errors.New("the kill left nothing in the spool: the test did not test it")
	}
	return line, nil
}

func spoolDir(dir, name string) string { return filepath.Join(dir, "spool-"+name) }
