package loadgen

import (
	"bufio"
	"context"
	"errors"
	"math"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	var h Histogram
	r := rand.New(rand.NewPCG(1, 2))
	vals := make([]time.Duration, 100000)
	for i := range vals {
		vals[i] = time.Duration(r.ExpFloat64() * float64(200*time.Microsecond))
		h.Record(vals[i])
	}
	sort.Slice(vals, func(i, j int) bool { return vals[i] < vals[j] })
	for _, q := range []float64{0.5, 0.9, 0.99, 0.999} {
		exact := vals[int(q*float64(len(vals)))-1]
		got := h.Quantile(q)
		if d := float64(got-exact) / float64(exact); d > 0.02 || d < -0.02 {
			t.Errorf("q%.3f: got %v exact %v (%.1f%%)", q, got, exact, d*100)
		}
	}
	if h.Max() != vals[len(vals)-1] || h.Min() != vals[0] || h.Count() != 100000 {
		t.Errorf("min/max/count %v %v %d", h.Min(), h.Max(), h.Count())
	}
	var m Histogram
	m.Merge(&h)
	m.Merge(&h)
	if m.Count() != 200000 || m.Quantile(0.5) != h.Quantile(0.5) {
		t.Errorf("merge: %d %v %v", m.Count(), m.Quantile(0.5), h.Quantile(0.5))
	}
	for i := 0; i < 2000; i++ {
		v := uint64(r.Int64N(1 << 40))
		b := bucketOf(v)
		if lowerBound(b) > v || lowerBound(b+1) <= v {
			t.Fatalf("bucket %d [%d,%d) does not hold %d", b, lowerBound(b), lowerBound(b+1), v)
		}
	}
}

func TestReadResponse(t *testing.T) {
	in := "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello" +
		"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\nA\r\n0123456789\r\n0\r\nTrailer: 1\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\n\r\n" +
		"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\ncontent-length: 2\r\n\r\n{}" +
		"HTTP/1.0 500 Internal Server Error\r\nTRANSFER-ENCODING: Chunked\r\n\r\n0\r\n\r\n" +
		"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	for _, want := range []int{200, 404, 204, 201, 500, 200} {
		got, err := readResponse(br)
		if err != nil || got != want {
			t.Fatalf("got %d %v, want %d", got, err, want)
		}
	}
	if br.Buffered() != 0 {
		t.Errorf("%d bytes left unread", br.Buffered())
	}
	// Connection: close is read through, then reported.
	br = bufio.NewReader(strings.NewReader("HTTP/1.1 503 Unavailable\r\nConnection: close\r\nContent-Length: 3\r\n\r\nbye"))
	if got, err := readResponse(br); got != 503 || !errors.Is(err, errClosed) {
		t.Errorf("Connection: close: got %d %v", got, err)
	}
	for name, bad := range map[string]string{
		"no length":      "HTTP/1.1 200 OK\r\n\r\n",
		"status line":    "HTTP/2 200\r\n\r\n",
		"content-length": "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
		"chunk size":     "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\n",
		"short body":     "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc",
		"short chunk":    "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
		"eof":            "",
	} {
		if _, err := readResponse(bufio.NewReader(strings.NewReader(bad))); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
}

// countingServer counts the TCP connections its clients open.
func countingServer(t *testing.T, h http.HandlerFunc) (addr string, conns *atomic.Int64) {
	t.Helper()
	conns = new(atomic.Int64)
	srv := httptest.NewUnstartedServer(h)
	srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	srv.Start()
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), conns
}

func TestKeepAliveReuse(t *testing.T) {
	addr, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Write([]byte(`{"decision":true}`))
	})
	res, err := Run(context.Background(), Config{Addr: addr, Requests: [][]byte{NewRequest("GET", addr, "/", nil)},
		Connections: 3, Warmup: 20 * time.Millisecond, Duration: 100 * time.Millisecond, ExpectStatus: 200})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Reconnects != 0 || res.Requests < 10 {
		t.Fatalf("%v, %d reconnects (first error %v)", res, res.Reconnects, res.FirstError)
	}
	if n := conns.Load(); n != 3 {
		t.Errorf("%d requests over %d connections, want 3", res.Requests, n)
	}
}

func TestErrorCounting(t *testing.T) {
	addr, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/fail" {
			http.Error(w, "no", http.StatusInternalServerError)
			return
		}
		w.Write([]byte("ok"))
	})
	reqs := [][]byte{NewRequest("GET", addr, "/ok", nil), NewRequest("GET", addr, "/fail", nil)}
	res, err := Run(context.Background(), Config{Addr: addr, Requests: reqs, Connections: 2,
		Duration: 100 * time.Millisecond, ExpectStatus: 200})
	if err != nil {
		t.Fatal(err)
	}
	// Requests alternate on every connection, so about half fail.
	if res.Requests == 0 || res.Errors == 0 || res.Errors > res.Requests+2 || res.Errors < res.Requests-2 {
		t.Fatalf("%v", res)
	}
	if res.FirstError == nil || !strings.Contains(res.FirstError.Error(), "status 500") {
		t.Errorf("first error %v", res.FirstError)
	}
	// Without ExpectStatus any complete response counts.
	res, err = Run(context.Background(), Config{Addr: addr, Requests: reqs, Duration: 50 * time.Millisecond})
	if err != nil || res.Errors != 0 || res.Requests == 0 {
		t.Fatalf("%v %v", res, err)
	}
}

func TestServerClosingConnections(t *testing.T) {
	// Every response closes its connection: each request is an error, and
	// the worker redials instead of giving up.
	addr, conns := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Connection", "close")
		w.Write([]byte("bye"))
	})
	res, err := Run(context.Background(), Config{Addr: addr, Requests: [][]byte{NewRequest("GET", addr, "/", nil)},
		Connections: 2, Duration: 100 * time.Millisecond, ExpectStatus: 200})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests != 0 || res.Errors < 4 || res.Reconnects < 4 || !errors.Is(res.FirstError, errClosed) {
		t.Fatalf("%v, %d reconnects, first error %v", res, res.Reconnects, res.FirstError)
	}
	if conns.Load() < res.Reconnects {
		t.Errorf("%d connections seen, %d reconnects", conns.Load(), res.Reconnects)
	}
}

func TestWarmupErrorsExcluded(t *testing.T) {
	// The server fails its first 50 ms; the warm-up lasts 300 ms, so the
	// measured window sees no error.
	start := time.Now()
	addr, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if time.Since(start) < 50*time.Millisecond {
			http.Error(w, "cold", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("warm"))
	})
	res, err := Run(context.Background(), Config{Addr: addr, Requests: [][]byte{NewRequest("GET", addr, "/", nil)},
		Warmup: 300 * time.Millisecond, Duration: 100 * time.Millisecond, ExpectStatus: 200})
	if err != nil {
		t.Fatal(err)
	}
	if res.Errors != 0 || res.Requests == 0 {
		t.Fatalf("%v (first error %v)", res, res.FirstError)
	}
}

func TestDialFailure(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	_ = ln.Close() // only its free port is wanted
	if _, err := Run(context.Background(), Config{Addr: addr, Requests: [][]byte{NewRequest("GET", addr, "/", nil)}}); err == nil {
		t.Error("run against a closed port succeeded")
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:80", "127.1.2.3:1", "[::1]:8443", "localhost:9"} {
		if err := CheckLoopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"10.0.0.1:80", "192.168.1.1:80", "8.8.8.8:53", "example.com:80", "nohost", "[::ffff:10.0.0.1]:80", "0.0.0.0:80"} {
		if err := CheckLoopback(bad); err == nil {
			t.Errorf("%s accepted", bad)
		}
	}
}

func TestRun(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/big" {
			w.Write([]byte(strings.Repeat("x", 10000))) // chunked
			return
		}
		w.Write([]byte(`{"ok":true}`))
	}))
	defer srv.Close()
	addr := strings.TrimPrefix(srv.URL, "http://")
	reqs := [][]byte{
		NewRequest("POST", addr, "/small", []byte(`{}`), "Content-Type", "application/json"),
		NewRequest("GET", addr, "/big", nil),
	}
	res, err := Run(context.Background(), Config{Addr: addr, Requests: reqs, Connections: 4,
		Warmup: 20 * time.Millisecond, Duration: 150 * time.Millisecond, ExpectStatus: 200})
	if err != nil {
		t.Fatal(err)
	}
	if res.Requests == 0 || res.Errors != 0 || res.Throughput <= 0 || res.P50() <= 0 || res.P99() < res.P50() {
		t.Fatalf("%v (first error %v)", res, res.FirstError)
	}
	t.Log(res)
	res, err = Run(context.Background(), Config{Addr: addr, Requests: reqs, Connections: 2, Duration: time.Second, MaxRequests: 50})
	if err != nil || res.Requests < 50 || res.Requests > 52 {
		t.Fatalf("MaxRequests: %v %v", res, err)
	}
	if _, err := Run(context.Background(), Config{Addr: "10.1.2.3:80", Requests: reqs}); err == nil {
		t.Error("non-loopback target accepted")
	}
}

func TestPacedRateIsHeld(t *testing.T) {
	addr, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		_, _ = w.Write([]byte(`{"decision":true}`))
	})
	res, err := Run(context.Background(), Config{Addr: addr, Requests: [][]byte{NewRequest("GET", addr, "/", nil)},
		Connections: 4, Duration: 500 * time.Millisecond, Rate: 1000, ExpectStatus: 200})
	if err != nil {
		t.Fatal(err)
	}
	// The schedule allows 500 requests in the window (one per connection
	// may start on the boundary); a closed loop would send thousands. (No
	// lower bound beyond "some": a busy machine may fall behind.)
	if res.Errors != 0 || res.Requests > 504 || res.Requests == 0 {
		t.Fatalf("paced at 1000/s for 500 ms: %v", res)
	}
}

func TestPacedRateMustBeValid(t *testing.T) {
	for _, rate := range []float64{-1, math.NaN(), math.Inf(1)} {
		_, err := Run(context.Background(), Config{Addr: "127.0.0.1:1", Requests: [][]byte{NewRequest("GET", "x", "/", nil)}, Rate: rate})
		if err == nil || !strings.Contains(err.Error(), "Rate must be") {
			t.Errorf("rate %v: %v", rate, err)
		}
	}
}

// A server that stalls once: closed-loop, one request sees the stall; paced,
// every request scheduled during the stall queues behind it and is timed
// from its scheduled start.
func TestPacedCountsQueueingBehindAStall(t *testing.T) {
	var n atomic.Int64
	addr, _ := countingServer(t, func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 5 {
			time.Sleep(300 * time.Millisecond)
		}
		_, _ = w.Write([]byte(`{"decision":true}`))
	})
	run := func(rate float64) *Result {
		n.Store(0)
		res, err := Run(context.Background(), Config{Addr: addr, Requests: [][]byte{NewRequest("GET", addr, "/", nil)},
			Connections: 1, Duration: time.Second, Rate: rate, ExpectStatus: 200})
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	slow := func(r *Result) int {
		c := 0
		for q := 0.5; q < 1; q += 0.01 {
			if r.Latency.Quantile(q) >= 100*time.Millisecond {
				c++
			}
		}
		return c
	}
	closed, paced := run(0), run(100)
	if s := slow(closed); s > 1 {
		t.Errorf("closed loop: %d of the top-50 percentiles at ≥100 ms, want at most 1: %v", s, closed)
	}
	// Paced at 100/s, the ~30 requests due during the 300 ms stall wait
	// 300, 290, 280, ... ms: the top 20% or so of ~100 samples.
	if s := slow(paced); s < 10 {
		t.Errorf("paced: only %d of the top-50 percentiles at ≥100 ms: %v", s, paced)
	}
}
