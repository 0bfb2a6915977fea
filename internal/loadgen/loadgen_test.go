package loadgen

import (
	"bufio"
	"context"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"sort"
	"strings"
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
		"HTTP/1.1 404 Not Found\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nTrailer: 1\r\n\r\n" +
		"HTTP/1.1 204 No Content\r\n\r\n"
	br := bufio.NewReader(strings.NewReader(in))
	for _, want := range []int{200, 404, 204} {
		got, err := readResponse(br)
		if err != nil || got != want {
			t.Fatalf("got %d %v, want %d", got, err, want)
		}
	}
	if _, err := readResponse(bufio.NewReader(strings.NewReader("HTTP/1.1 200 OK\r\n\r\n"))); err == nil {
		t.Error("response without length accepted")
	}
}

func TestCheckLoopback(t *testing.T) {
	for _, ok := range []string{"127.0.0.1:80", "127.1.2.3:1", "[::1]:8443", "localhost:9"} {
		if err := CheckLoopback(ok); err != nil {
			t.Errorf("%s: %v", ok, err)
		}
	}
	for _, bad := range []string{"10.0.0.1:80", "192.168.1.1:80", "8.8.8.8:53", "example.com:80", "nohost"} {
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
