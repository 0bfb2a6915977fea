package audit

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// hsWait bounds every wait of these tests; reaching it is a failure.
const hsWait = 10 * time.Second

// hsRequest is one request the receiver got.
type hsRequest struct {
	contentType, auth string
	raw               []map[string]json.RawMessage
	events            []CloudEvent
	status            int
}

// hsReceiver is a loopback CloudEvents batch receiver. It answers each
// request with respond (200 when nil), remembers every request and, for
// the 2xx ones, the ids it had not seen yet, in order: a receiver that
// drops duplicates by id.
type hsReceiver struct {
	t   *testing.T
	srv *httptest.Server
	// respond decides the answer to request n (0-based) carrying evs.
	respond func(n int, evs []CloudEvent, w http.ResponseWriter) int
	// gate, when not nil, holds request 0 until it is closed.
	gate chan struct{}
	// arrived receives each request's number as it arrives.
	arrived chan int

	mu       sync.Mutex
	n        int
	requests []hsRequest
	seen     map[string]bool
	order    []string
}

func hsNewReceiver(t *testing.T, ln net.Listener, respond func(n int, evs []CloudEvent, w http.ResponseWriter) int) *hsReceiver {
	t.Helper()
	rc := &hsReceiver{t: t, respond: respond, arrived: make(chan int, 1000), seen: map[string]bool{}}
	rc.srv = httptest.NewUnstartedServer(http.HandlerFunc(rc.serve))
	if ln != nil {
		_ = rc.srv.Listener.Close() // the unused default listener
		rc.srv.Listener = ln
	}
	rc.srv.Start()
	t.Cleanup(rc.srv.Close)
	return rc
}

func (rc *hsReceiver) serve(w http.ResponseWriter, r *http.Request) {
	rc.mu.Lock()
	n := rc.n
	rc.n++
	rc.mu.Unlock()
	select {
	case rc.arrived <- n:
	default:
	}
	if n == 0 && rc.gate != nil {
		select {
		case <-rc.gate:
		case <-r.Context().Done():
			return
		case <-time.After(hsWait):
			rc.t.Error("the gate of the first request was never opened")
		}
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		rc.t.Errorf("reading request %d: %v", n, err)
		return
	}
	req := hsRequest{contentType: r.Header.Get("Content-Type"), auth: r.Header.Get("Authorization")}
	if err := json.Unmarshal(body, &req.raw); err != nil {
		rc.t.Errorf("request %d is not a JSON array of objects: %v", n, err)
	}
	if err := json.Unmarshal(body, &req.events); err != nil {
		rc.t.Errorf("request %d is not a batch of CloudEvents: %v", n, err)
	}
	req.status = http.StatusOK
	if rc.respond != nil {
		req.status = rc.respond(n, req.events, w)
	}
	if req.status == 0 { // the connection was hijacked and closed
		rc.mu.Lock()
		rc.requests = append(rc.requests, req)
		rc.mu.Unlock()
		return
	}
	// Record before answering: once the sink sees the 2xx, the receiver
	// holds the records.
	rc.mu.Lock()
	rc.requests = append(rc.requests, req)
	if req.status >= 200 && req.status < 300 {
		for _, e := range req.events {
			if !rc.seen[e.ID] {
				rc.seen[e.ID] = true
				rc.order = append(rc.order, e.ID)
			}
		}
	}
	rc.mu.Unlock()
	w.WriteHeader(req.status)
}

// delivered returns the ids acknowledged, first copies only, in order.
func (rc *hsReceiver) delivered() []string {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.order)
}

func (rc *hsReceiver) got() []hsRequest {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return slices.Clone(rc.requests)
}

// waitArrived waits for request n to arrive.
func (rc *hsReceiver) waitArrived(n int) {
	rc.t.Helper()
	deadline := time.After(hsWait)
	for {
		select {
		case got := <-rc.arrived:
			if got >= n {
				return
			}
		case <-deadline:
			rc.t.Fatalf("request %d never arrived", n)
		}
	}
}

var hsEvents = []string{EventCompiled, EventLoaded, EventDropped, EventAdmission, EventDecision}

// hsRecord returns a record unique to (tenant, i).
func hsRecord(tenant string, i int) *Record {
	r := &Record{
		Time:       time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).Add(time.Duration(i) * time.Second),
		Replica:    "replica-0",
		Tenant:     tenant,
		Event:      hsEvents[i%len(hsEvents)],
		ToRevision: fmt.Sprintf("rev-%04d", i),
		Objects:    []Object{{Kind: "Role", Name: fmt.Sprintf("role-%d", i), Change: ChangeUpdated, Generation: int64(i + 1), Served: true}},
	}
	if r.Event == EventDecision {
		r.Decision = &Decision{Caller: "app", Subject: "tina", Action: "view", ResourceType: "workorders", Allowed: true}
	}
	return r
}

// hsIDs returns the ids of records.
func hsIDs(rs []*Record) []string {
	var ids []string
	for _, r := range rs {
		c := *r
		if c.Type == "" {
			c.Type = RecordType
		}
		ids = append(ids, c.ID())
	}
	return ids
}

func hsNewSink(t *testing.T, url string, change func(*HTTPOptions)) *HTTPSink {
	t.Helper()
	opts := HTTPOptions{URL: url, Source: "/gatehouse/test-0", MinRetryDelay: time.Millisecond, MaxRetryDelay: 5 * time.Millisecond, Counters: hsCounts}
	if change != nil {
		change(&opts)
	}
	s, err := NewHTTPSink(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), hsWait)
		defer cancel()
		_ = s.Close(ctx)
	})
	return s
}

func hsClose(t *testing.T, s *HTTPSink) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), hsWait)
	defer cancel()
	if err := s.Close(ctx); err != nil {
		t.Fatalf("Close: %v", err)
	}
}

// hsCounts counts for every sink of the tests (hsNewSink), as the manager's
// Prometheus counters would.
var hsCounts = &hsCounters{n: map[string]float64{}}

type hsCounters struct {
	mu sync.Mutex
	n  map[string]float64
}

func (c *hsCounters) add(k string, d float64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[k] += d
}

func (c *hsCounters) get(k string) float64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

func (c *hsCounters) WriteFailed(event string)         { c.add("failed:"+event, 1) }
func (c *hsCounters) HTTPQueued(d int)                 { c.add("queued", float64(d)) }
func (c *hsCounters) HTTPDelivered(n int)              { c.add("delivered", float64(n)) }
func (c *hsCounters) HTTPDropped(reason string, n int) { c.add("dropped:"+reason, float64(n)) }
func (c *hsCounters) HTTPRetried()                     { c.add("retried", 1) }

func TestHTTPSinkBatchFormat(t *testing.T) {
	rc := hsNewReceiver(t, nil, nil)
	s := hsNewSink(t, rc.srv.URL, nil)
	var recs []*Record
	for i := range 5 {
		recs = append(recs, hsRecord("tenant-format", i))
	}
	want := map[string]*Record{}
	for i, r := range recs {
		c := *r
		want[hsIDs([]*Record{&c})[0]] = &c
		if err := s.Write(context.Background(), r, i == len(recs)-1); err != nil {
			t.Fatal(err)
		}
	}
	got := 0
	for _, req := range rc.got() {
		if req.contentType != CloudEventsBatchContentType {
			t.Errorf("Content-Type %q, want %q", req.contentType, CloudEventsBatchContentType)
		}
		if req.auth != "" {
			t.Errorf("Authorization %q sent without a token file", req.auth)
		}
		for i, raw := range req.raw {
			for _, attr := range []string{"specversion", "id", "source", "type", "subject", "time", "datacontenttype", "data"} {
				if _, ok := raw[attr]; !ok {
					t.Errorf("event without %q: %v", attr, raw)
				}
			}
			var tm string
			if err := json.Unmarshal(raw["time"], &tm); err != nil {
				t.Errorf("time is not a string: %v", err)
			} else if _, err := time.Parse(time.RFC3339, tm); err != nil {
				t.Errorf("time %q is not RFC 3339: %v", tm, err)
			}
			e := req.events[i]
			orig := want[e.ID]
			if orig == nil {
				t.Errorf("event id %s is no record's ID", e.ID)
				continue
			}
			got++
			if e.SpecVersion != "1.0" || e.Source != "/gatehouse/test-0" || e.Type != "dev.gatehouse.audit."+orig.Event ||
				e.Subject != orig.Tenant || !e.Time.Equal(orig.Time) || e.DataContentType != "application/json" {
				t.Errorf("event attributes %+v do not match record %+v", e, orig)
			}
			rec, err := e.Record()
			if err != nil {
				t.Fatal(err)
			}
			a, _ := Encode(rec)
			b, _ := Encode(orig)
			if string(a) != string(b) {
				t.Errorf("data\n%s\nwant\n%s", a, b)
			}
		}
	}
	if got != len(recs) {
		t.Errorf("receiver got %d events, want %d", got, len(recs))
	}
	if d := rc.delivered(); !slices.Equal(d, hsIDs(recs)) {
		t.Errorf("delivered %v, want %v", d, hsIDs(recs))
	}
}

func TestHTTPSinkBatchesRecordsQueuedWhileInFlight(t *testing.T) {
	rc := hsNewReceiver(t, nil, nil)
	rc.gate = make(chan struct{})
	s := hsNewSink(t, rc.srv.URL, nil)
	var recs []*Record
	for i := range 6 {
		recs = append(recs, hsRecord("tenant-batch", i))
	}
	if err := s.Write(context.Background(), recs[0], false); err != nil {
		t.Fatal(err)
	}
	rc.waitArrived(0)
	for _, r := range recs[1:] {
		if err := s.Write(context.Background(), r, false); err != nil {
			t.Fatal(err)
		}
	}
	close(rc.gate)
	hsClose(t, s)

	reqs := rc.got()
	if len(reqs) != 2 {
		t.Fatalf("%d requests, want 2 (the first record, then the five queued meanwhile)", len(reqs))
	}
	ids := hsIDs(recs)
	for i, want := range [][]string{ids[:1], ids[1:]} {
		var got []string
		for _, e := range reqs[i].events {
			got = append(got, e.ID)
		}
		if !slices.Equal(got, want) {
			t.Errorf("request %d carried %v, want %v", i, got, want)
		}
	}
}

func TestHTTPSinkRetriesUntilDelivered(t *testing.T) {
	const failures = 3
	for name, tc := range map[string]struct {
		fail func(w http.ResponseWriter) int
	}{
		"503 with Retry-After seconds": {func(w http.ResponseWriter) int {
			w.Header().Set("Retry-After", "1") // capped at MaxRetryDelay
			return http.StatusServiceUnavailable
		}},
		"503 with Retry-After date": {func(w http.ResponseWriter) int {
			w.Header().Set("Retry-After", time.Now().Add(time.Hour).UTC().Format(http.TimeFormat))
			return http.StatusServiceUnavailable
		}},
		"429": {func(w http.ResponseWriter) int {
			w.Header().Set("Retry-After", "0")
			return http.StatusTooManyRequests
		}},
		"408": {func(http.ResponseWriter) int { return http.StatusRequestTimeout }},
		"500": {func(http.ResponseWriter) int { return http.StatusInternalServerError }},
		"connection cut": {func(w http.ResponseWriter) int {
			conn, _, err := http.NewResponseController(w).Hijack()
			if err != nil {
				panic(err)
			}
			conn.Close()
			return 0
		}},
	} {
		t.Run(name, func(t *testing.T) {
			rc := hsNewReceiver(t, nil, func(n int, _ []CloudEvent, w http.ResponseWriter) int {
				if n < failures {
					return tc.fail(w)
				}
				return http.StatusOK
			})
			s := hsNewSink(t, rc.srv.URL, func(o *HTTPOptions) { o.BatchSize = 4 })
			retries := hsCounts.get("retried")
			var recs []*Record
			for i := range 20 {
				r := hsRecord("tenant-retry", i)
				recs = append(recs, r)
				if err := s.Write(context.Background(), r, false); err != nil {
					t.Fatal(err)
				}
			}
			hsClose(t, s)
			if got, want := rc.delivered(), hsIDs(recs); !slices.Equal(got, want) {
				t.Errorf("delivered (deduplicated) %v,\nwant %v", got, want)
			}
			if d := hsCounts.get("retried") - retries; d < failures {
				t.Errorf("%v retries counted, want at least %d", d, failures)
			}
		})
	}
}

// hsDialWatcher is a transport whose dial errors are reported on a channel.
func hsDialWatcher(errs chan<- error) *http.Client {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	var d net.Dialer
	tr.DialContext = func(ctx context.Context, network, addr string) (net.Conn, error) {
		c, err := d.DialContext(ctx, network, addr)
		if err != nil {
			select {
			case errs <- err:
			default:
			}
		}
		return c, err
	}
	return &http.Client{Transport: tr}
}

func TestHTTPSinkDeliversAfterReceiverComesBack(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	if err := ln.Close(); err != nil {
		t.Fatal(err)
	}

	dialErrs := make(chan error, 100)
	s := hsNewSink(t, "http://"+addr+"/events", func(o *HTTPOptions) {
		o.BatchSize = 3
		o.Client = hsDialWatcher(dialErrs)
	})
	var recs []*Record
	for i := range 10 {
		r := hsRecord("tenant-down", i)
		recs = append(recs, r)
		if err := s.Write(context.Background(), r, false); err != nil {
			t.Fatal(err)
		}
	}
	// The receiver is down: wait for two refused connections.
	for range 2 {
		select {
		case err := <-dialErrs:
			t.Logf("receiver down: %v", err)
		case <-time.After(hsWait):
			t.Fatal("the sink never tried to connect")
		}
	}
	ln, err = net.Listen("tcp", addr)
	if err != nil {
		t.Skipf("cannot listen on %s again: %v", addr, err)
	}
	rc := hsNewReceiver(t, ln, nil)
	last := hsRecord("tenant-down", 10)
	recs = append(recs, last)
	ctx, cancel := context.WithTimeout(context.Background(), hsWait)
	defer cancel()
	if err := s.Write(ctx, last, true); err != nil {
		t.Fatalf("waiting for delivery: %v", err)
	}
	if got, want := rc.delivered(), hsIDs(recs); !slices.Equal(got, want) {
		t.Errorf("delivered %v,\nwant %v", got, want)
	}
}

func TestHTTPSinkDropsRejectedBatch(t *testing.T) {
	rc := hsNewReceiver(t, nil, func(_ int, evs []CloudEvent, w http.ResponseWriter) int {
		for _, e := range evs {
			if e.Subject == "tenant-bad" {
				w.WriteHeader(http.StatusBadRequest)
				_, _ = w.Write([]byte(strings.Repeat("invalid event ", 100)))
				return http.StatusBadRequest
			}
		}
		return http.StatusOK
	})
	s := hsNewSink(t, rc.srv.URL, nil)
	dropped := hsCounts.get("dropped:" + DropRejected)
	ctx, cancel := context.WithTimeout(context.Background(), hsWait)
	defer cancel()
	err := s.Write(ctx, hsRecord("tenant-bad", 0), true)
	if err == nil || !strings.Contains(err.Error(), "400") {
		t.Fatalf("Write of a rejected record: %v, want an error naming status 400", err)
	}
	if d := hsCounts.get("dropped:"+DropRejected) - dropped; d != 1 {
		t.Errorf("%v rejected drops counted, want 1", d)
	}
	good := hsRecord("tenant-good", 1)
	if err := s.Write(ctx, good, true); err != nil {
		t.Fatalf("the batch after a rejected one: %v", err)
	}
	if got, want := rc.delivered(), hsIDs([]*Record{good}); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

func TestHTTPSinkSplitsOn413(t *testing.T) {
	rc := hsNewReceiver(t, nil, func(_ int, evs []CloudEvent, w http.ResponseWriter) int {
		if len(evs) > 2 {
			return http.StatusRequestEntityTooLarge
		}
		for _, e := range evs {
			if e.Subject == "tenant-huge" {
				return http.StatusRequestEntityTooLarge
			}
		}
		return http.StatusOK
	})
	rc.gate = make(chan struct{})
	s := hsNewSink(t, rc.srv.URL, nil)
	dropped := hsCounts.get("dropped:" + DropRejected)
	var recs []*Record
	for i := range 7 {
		tenant := "tenant-split"
		if i == 4 {
			tenant = "tenant-huge"
		}
		recs = append(recs, hsRecord(tenant, i))
	}
	if err := s.Write(context.Background(), recs[0], false); err != nil {
		t.Fatal(err)
	}
	rc.waitArrived(0)
	for _, r := range recs[1:] {
		if err := s.Write(context.Background(), r, false); err != nil {
			t.Fatal(err)
		}
	}
	close(rc.gate)
	hsClose(t, s)
	ids := hsIDs(recs)
	want := append(slices.Clone(ids[:4]), ids[5:]...)
	if got := rc.delivered(); !slices.Equal(got, want) {
		t.Errorf("delivered %v,\nwant %v (all but the huge one, in order)", got, want)
	}
	if d := hsCounts.get("dropped:"+DropRejected) - dropped; d != 1 {
		t.Errorf("%v rejected drops counted, want 1 (the huge record)", d)
	}
}

func TestHTTPSinkBufferFullFailsAtOnce(t *testing.T) {
	rc := hsNewReceiver(t, nil, nil)
	rc.gate = make(chan struct{})
	s := hsNewSink(t, rc.srv.URL, func(o *HTTPOptions) { o.BufferSize = 2 })
	full := hsCounts.get("dropped:" + DropFull)
	recs := []*Record{hsRecord("tenant-full", 0), hsRecord("tenant-full", 1)}
	for _, r := range recs {
		if err := s.Write(context.Background(), r, false); err != nil {
			t.Fatal(err)
		}
	}
	done := make(chan error, 1)
	go func() { done <- s.Write(context.Background(), hsRecord("tenant-full", 2), false) }()
	select {
	case err := <-done:
		if !errors.Is(err, ErrBufferFull) {
			t.Errorf("Write to a full buffer: %v, want ErrBufferFull", err)
		}
	case <-time.After(hsWait):
		t.Fatal("Write to a full buffer blocked")
	}
	if d := hsCounts.get("dropped:"+DropFull) - full; d != 1 {
		t.Errorf("%v full drops counted, want 1", d)
	}
	close(rc.gate)
	hsClose(t, s)
	if got, want := rc.delivered(), hsIDs(recs); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

func TestHTTPSinkWaitsForDelivery(t *testing.T) {
	var mu sync.Mutex
	down := true
	rc := hsNewReceiver(t, nil, func(int, []CloudEvent, http.ResponseWriter) int {
		mu.Lock()
		defer mu.Unlock()
		if down {
			return http.StatusServiceUnavailable
		}
		return http.StatusOK
	})
	s := hsNewSink(t, rc.srv.URL, nil)

	late := hsRecord("tenant-wait", 0)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if err := s.Write(ctx, late, true); !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), "not delivered") {
		t.Fatalf("Write while the receiver is down: %v, want a not-delivered error wrapping the deadline", err)
	}
	mu.Lock()
	down = false
	mu.Unlock()

	onTime := hsRecord("tenant-wait", 1)
	ctx, cancel = context.WithTimeout(context.Background(), hsWait)
	defer cancel()
	if err := s.Write(ctx, onTime, true); err != nil {
		t.Fatalf("Write with the receiver up: %v", err)
	}
	// Both are delivered, the late one still first.
	if got, want := rc.delivered(), hsIDs([]*Record{late, onTime}); !slices.Equal(got, want) {
		t.Errorf("delivered %v, want %v", got, want)
	}
}

func TestHTTPSinkCloseFlushes(t *testing.T) {
	rc := hsNewReceiver(t, nil, nil)
	queued := hsCounts.get("queued")
	delivered := hsCounts.get("delivered")
	s := hsNewSink(t, rc.srv.URL, func(o *HTTPOptions) { o.BatchSize = 7 })
	var recs []*Record
	for i := range 50 {
		r := hsRecord("tenant-close", i)
		recs = append(recs, r)
		if err := s.Write(context.Background(), r, false); err != nil {
			t.Fatal(err)
		}
	}
	hsClose(t, s)
	if got, want := rc.delivered(), hsIDs(recs); !slices.Equal(got, want) {
		t.Errorf("delivered %v,\nwant %v", got, want)
	}
	if err := s.Write(context.Background(), hsRecord("tenant-close", 50), false); !errors.Is(err, ErrSinkClosed) {
		t.Errorf("Write after Close: %v, want ErrSinkClosed", err)
	}
	if d := hsCounts.get("queued") - queued; d != 0 {
		t.Errorf("queued gauge moved by %v after Close, want 0", d)
	}
	if d := hsCounts.get("delivered") - delivered; d != 50 {
		t.Errorf("%v deliveries counted, want 50", d)
	}
}

func TestHTTPSinkCloseWithExpiredContextReportsDrops(t *testing.T) {
	rc := hsNewReceiver(t, nil, func(int, []CloudEvent, http.ResponseWriter) int { return http.StatusServiceUnavailable })
	queued := hsCounts.get("queued")
	closed := hsCounts.get("dropped:" + DropClosed)
	s := hsNewSink(t, rc.srv.URL, func(o *HTTPOptions) { o.BatchSize = 2 })
	for i := range 5 {
		if err := s.Write(context.Background(), hsRecord("tenant-expired", i), false); err != nil {
			t.Fatal(err)
		}
	}
	waiter := make(chan error, 1)
	go func() { waiter <- s.Write(context.Background(), hsRecord("tenant-expired", 5), true) }()
	rc.waitArrived(0)

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.Close(ctx)
	// The waiter's record may or may not have been queued before Close.
	var werr error
	select {
	case werr = <-waiter:
	case <-time.After(hsWait):
		t.Fatal("a waiting Write did not return after Close")
	}
	want := 5
	if !errors.Is(werr, ErrSinkClosed) {
		want = 6
		if werr == nil {
			t.Error("a waiting Write returned nil for a record that was never delivered")
		}
	}
	if err == nil || !strings.Contains(err.Error(), fmt.Sprintf("delivering %d records", want)) {
		t.Errorf("Close with an expired context: %v, want an error counting %d dropped records", err, want)
	}
	if d := hsCounts.get("dropped:"+DropClosed) - closed; d != float64(want) {
		t.Errorf("%v closed drops counted, want %d", d, want)
	}
	if d := hsCounts.get("queued") - queued; d != 0 {
		t.Errorf("queued gauge moved by %v after Close, want 0", d)
	}
	if d := rc.delivered(); len(d) != 0 {
		t.Errorf("delivered %v through a receiver that always answers 503", d)
	}
}

func TestHTTPSinkRereadsBearerToken(t *testing.T) {
	rc := hsNewReceiver(t, nil, nil)
	file := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(file, []byte("token-one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s := hsNewSink(t, rc.srv.URL, func(o *HTTPOptions) { o.BearerTokenFile = file })
	ctx, cancel := context.WithTimeout(context.Background(), hsWait)
	defer cancel()
	if err := s.Write(ctx, hsRecord("tenant-token", 0), true); err != nil {
		t.Fatal(err)
	}
	// Rotate the way kubelet does: write aside, rename over.
	next := file + ".new"
	if err := os.WriteFile(next, []byte("token-two"), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(next, file); err != nil {
		t.Fatal(err)
	}
	if err := s.Write(ctx, hsRecord("tenant-token", 1), true); err != nil {
		t.Fatal(err)
	}
	var auths []string
	for _, r := range rc.got() {
		auths = append(auths, r.auth)
	}
	if want := []string{"Bearer token-one", "Bearer token-two"}; !slices.Equal(auths, want) {
		t.Errorf("Authorization headers %q, want %q", auths, want)
	}
}

func TestNewHTTPSinkRejectsBadOptions(t *testing.T) {
	const secret = "s3cr3t-value-that-must-not-leak"
	for name, tc := range map[string]struct {
		opts   HTTPOptions
		naming string
	}{
		"no URL":           {HTTPOptions{Source: "/g"}, "HTTPOptions.URL"},
		"ftp":              {HTTPOptions{URL: "ftp://host/" + secret, Source: "/g"}, "HTTPOptions.URL"},
		"javascript":       {HTTPOptions{URL: "javascript:alert('" + secret + "')", Source: "/g"}, "HTTPOptions.URL"},
		"relative":         {HTTPOptions{URL: "/events?" + secret, Source: "/g"}, "HTTPOptions.URL"},
		"no host":          {HTTPOptions{URL: "http:///events?" + secret, Source: "/g"}, "HTTPOptions.URL"},
		"credentials":      {HTTPOptions{URL: "https://user:" + secret + "@host/", Source: "/g"}, "HTTPOptions.URL"},
		"unparsable":       {HTTPOptions{URL: "http://host\x7f/" + secret, Source: "/g"}, "HTTPOptions.URL"},
		"control":          {HTTPOptions{URL: "http://ho st/\n" + secret, Source: "/g"}, "HTTPOptions.URL"},
		"no source":        {HTTPOptions{URL: "https://receiver.example/events"}, "HTTPOptions.Source"},
		"min above max":    {HTTPOptions{URL: "https://receiver.example/", Source: "/g", MinRetryDelay: time.Minute, MaxRetryDelay: time.Second}, "MinRetryDelay"},
		"negative buffer":  {HTTPOptions{URL: "https://receiver.example/", Source: "/g", BufferSize: -1}, "BufferSize"},
		"source with a CR": {HTTPOptions{URL: "https://receiver.example/", Source: "/g\r\nX: y"}, "HTTPOptions.Source"},
	} {
		t.Run(name, func(t *testing.T) {
			s, err := NewHTTPSink(tc.opts)
			if err == nil {
				_ = s.Close(context.Background())
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), tc.naming) {
				t.Errorf("error %q does not name %s", err, tc.naming)
			}
			if strings.Contains(err.Error(), secret[:6]) {
				t.Errorf("error %q echoes the value", err)
			}
		})
	}
}

func TestRetryDelay(t *testing.T) {
	now := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	const lo, hi = 200 * time.Millisecond, 30 * time.Second
	for name, tc := range map[string]struct {
		attempt          int
		retryAfter       string
		min, max         time.Duration
		wantMin, wantMax time.Duration
	}{
		"first retry":               {0, "", lo, hi, lo, lo},
		"third retry":               {2, "", lo, hi, 400 * time.Millisecond, 800 * time.Millisecond},
		"many retries are capped":   {40, "", lo, hi, hi / 2, hi},
		"huge attempt":              {1000, "", lo, hi, hi / 2, hi},
		"Retry-After seconds":       {0, "7", lo, hi, 7 * time.Second, 7 * time.Second},
		"Retry-After capped":        {0, "3600", lo, hi, hi, hi},
		"Retry-After date":          {0, now.Add(5 * time.Second).Format(http.TimeFormat), lo, hi, 5 * time.Second, 5 * time.Second},
		"Retry-After date past":     {0, now.Add(-time.Hour).Format(http.TimeFormat), lo, hi, lo, lo},
		"Retry-After zero":          {0, "0", lo, hi, lo, lo},
		"Retry-After garbage":       {0, "soon", lo, hi, lo, lo},
		"Retry-After below backoff": {4, "1", lo, hi, 1600 * time.Millisecond, 3200 * time.Millisecond},
		"Retry-After huge seconds":  {0, "99999999999999999", lo, hi, hi, hi},
		"tiny max caps Retry-After": {0, "1", time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond, 5 * time.Millisecond},
	} {
		t.Run(name, func(t *testing.T) {
			for range 50 { // jitter: every draw stays in bounds
				d := retryDelay(tc.min, tc.max, tc.attempt, tc.retryAfter, now)
				if d < tc.wantMin || d > tc.wantMax {
					t.Fatalf("retryDelay = %s, want within [%s, %s]", d, tc.wantMin, tc.wantMax)
				}
			}
		})
	}
}
