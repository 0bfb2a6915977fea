// Package loadgen is Gatehouse's in-tree HTTP/1.1 load generator, used by
// the authorization endpoint's benchmarks (internal/authz) and by the
// comparison benchmarks of the bench module.
//
// It exists because the usual tools are either unavailable here or too
// heavy: on a 2-core machine the load generator shares the CPU with the
// server it measures, and net/http's client spends more CPU per request
// than a fast server does. loadgen therefore speaks just enough HTTP/1.1
// over raw keep-alive connections: each connection sends a prebuilt
// request, reads the status line, headers and body (Content-Length or
// chunked), and records the latency into a per-connection histogram. By
// default it is closed-loop (one request in flight per connection), so
// throughput is what the server sustains at that concurrency. With a Rate
// it is paced instead: requests go out on a fixed schedule, and a request
// that leaves late because the previous one was slow is timed from its
// scheduled start, so queueing behind a stall is counted (no coordinated
// omission). Pacing answers "what is p99 at N requests/s", which at
// saturation on a shared machine says more about scheduling than about
// the server. A failed request (I/O
// error, malformed response, or the server closing the connection) counts
// as an error if it started in the measured window, and its connection is
// replaced by a new one.
//
// Safety: targets must be loopback addresses, and every run is bounded by
// a duration and optionally a request count.
package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"math"
	"net"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// Limits that keep a run bounded whatever the configuration says.
const (
	MaxDuration    = 10 * time.Minute
	MaxConnections = 1024
)

// Config describes one run.
type Config struct {
	// Addr is host:port of the target; the host must be a loopback address
	// (127.0.0.0/8, ::1 or localhost).
	Addr string
	// Requests are raw HTTP/1.1 requests (see NewRequest). Connection i
	// sends Requests[(i+k) % len] as its k-th request, so different
	// requests interleave.
	Requests [][]byte
	// Connections is the number of keep-alive connections (default 1).
	Connections int
	// Warmup is run before measuring; its requests are not recorded.
	Warmup time.Duration
	// Duration is the measured phase (default 1 s, at most MaxDuration).
	Duration time.Duration
	// MaxRequests, when > 0, ends the measured phase after that many
	// requests in total.
	MaxRequests int64
	// Timeout bounds each request's I/O (default 5 s).
	Timeout time.Duration
	// ExpectStatus, when non-zero, counts other statuses as errors.
	ExpectStatus int
	// Rate, when > 0, paces the run at that many requests per second in
	// total, spread evenly over the connections; 0 runs closed-loop.
	Rate float64
}

// Result is what a run measured (measured phase only).
type Result struct {
	// Requests completed in the measured phase.
	Requests int64
	// Errors are failed requests (I/O errors or unexpected statuses).
	Errors int64
	// Elapsed is the measured phase's wall time.
	Elapsed time.Duration
	// Throughput is Requests per second of Elapsed.
	Throughput float64
	// Latency holds every measured request's latency.
	Latency Histogram
	// Reconnects counts connections dialled after a failed request
	// (all phases); a healthy run has none.
	Reconnects int64
	// FirstError is the first error seen, if any.
	FirstError error
}

// P50 is the median latency.
func (r *Result) P50() time.Duration { return r.Latency.Quantile(0.50) }

// P99 is the 99th percentile latency.
func (r *Result) P99() time.Duration { return r.Latency.Quantile(0.99) }

// String summarizes the result on one line.
func (r *Result) String() string {
	return fmt.Sprintf("%d requests in %v: %.0f req/s, p50 %v, p99 %v, max %v, %d errors",
		r.Requests, r.Elapsed.Round(time.Millisecond), r.Throughput, r.P50(), r.P99(), r.Latency.Max(), r.Errors)
}

// NewRequest builds a raw HTTP/1.1 request. header holds name, value pairs.
func NewRequest(method, host, path string, body []byte, header ...string) []byte {
	var b bytes.Buffer
	fmt.Fprintf(&b, "%s %s HTTP/1.1\r\nHost: %s\r\n", method, path, host)
	for i := 0; i+1 < len(header); i += 2 {
		fmt.Fprintf(&b, "%s: %s\r\n", header[i], header[i+1])
	}
	if body != nil || method == "POST" || method == "PUT" {
		fmt.Fprintf(&b, "Content-Length: %d\r\n", len(body))
	}
	b.WriteString("\r\n")
	b.Write(body)
	return b.Bytes()
}

// CheckLoopback returns an error unless addr's host is a loopback address.
func CheckLoopback(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("loadgen: %w", err)
	}
	if host == "localhost" {
		return nil
	}
	ip := net.ParseIP(host)
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("loadgen: refusing non-loopback target %q", addr)
	}
	return nil
}

// Run executes a load run and returns its measurements. It returns early
// when ctx ends.
func Run(ctx context.Context, cfg Config) (*Result, error) {
	if err := CheckLoopback(cfg.Addr); err != nil {
		return nil, err
	}
	if len(cfg.Requests) == 0 {
		return nil, errors.New("loadgen: no requests")
	}
	if cfg.Connections <= 0 {
		cfg.Connections = 1
	}
	if cfg.Connections > MaxConnections {
		return nil, fmt.Errorf("loadgen: at most %d connections", MaxConnections)
	}
	if cfg.Duration <= 0 {
		cfg.Duration = time.Second
	}
	if cfg.Duration+cfg.Warmup > MaxDuration {
		return nil, fmt.Errorf("loadgen: warm-up plus duration exceed %v", MaxDuration)
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 5 * time.Second
	}
	if cfg.Rate < 0 || math.IsNaN(cfg.Rate) || math.IsInf(cfg.Rate, 0) {
		return nil, fmt.Errorf("loadgen: Rate must be a finite number of requests per second, 0 or more (got %v)", cfg.Rate)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration+cfg.Timeout)
	defer cancel()

	// Dial every connection up front, so that an absent server fails the
	// run at once instead of being reported as a run full of errors.
	conns := make([]net.Conn, cfg.Connections)
	for i := range conns {
		c, err := dial(ctx, cfg.Addr, cfg.Timeout)
		if err != nil {
			for _, c := range conns[:i] {
				c.Close()
			}
			return nil, fmt.Errorf("loadgen: dial: %w", err)
		}
		conns[i] = c
	}

	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	measureTo := measureFrom.Add(cfg.Duration)
	var total atomic.Int64 // measured requests, for MaxRequests
	workers := make([]worker, cfg.Connections)
	var wg sync.WaitGroup
	for i := range workers {
		w := &workers[i]
		w.addr, w.reqs, w.idx = cfg.Addr, cfg.Requests, i
		wg.Add(1)
		go func() {
			defer wg.Done()
			w.run(ctx, conns[i], cfg, measureFrom, measureTo, &total)
		}()
	}
	wg.Wait()
	end := time.Now()
	if end.After(measureTo) {
		end = measureTo
	}

	res := &Result{}
	for i := range workers {
		w := &workers[i]
		res.Latency.Merge(&w.hist)
		res.Errors += w.errors
		res.Reconnects += w.reconnects
		if res.FirstError == nil && w.err != nil {
			res.FirstError = w.err
		}
	}
	res.Requests = int64(res.Latency.Count())
	res.Elapsed = end.Sub(measureFrom)
	if res.Elapsed > 0 {
		res.Throughput = float64(res.Requests) / res.Elapsed.Seconds()
	}
	if err := ctx.Err(); err != nil && res.Requests == 0 {
		return res, err
	}
	return res, nil
}

func dial(ctx context.Context, addr string, timeout time.Duration) (net.Conn, error) {
	d := net.Dialer{Timeout: timeout}
	c, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	if tc, ok := c.(*net.TCPConn); ok {
		tc.SetNoDelay(true)
	}
	return c, nil
}

// errClosed reports a response that ended its keep-alive connection.
var errClosed = errors.New("loadgen: server closed the keep-alive connection")

type worker struct {
	addr       string
	reqs       [][]byte
	idx        int
	hist       Histogram
	errors     int64
	reconnects int64
	err        error
}

func (w *worker) fail(err error) {
	w.errors++
	if w.err == nil {
		w.err = err
	}
}

// run is one connection's closed loop. After a failed request (I/O error,
// malformed response, or the server closing the connection) it dials a new
// connection and goes on until the measured window ends; a failure counts
// as an error only if its request started inside the measured window.
func (w *worker) run(ctx context.Context, conn net.Conn, cfg Config, measureFrom, measureTo time.Time, total *atomic.Int64) {
	var br *bufio.Reader
	var stopClose func() bool
	attach := func(c net.Conn) {
		conn = c
		br = bufio.NewReaderSize(c, 16<<10)
		// Cancelling ctx closes the connection, which unblocks I/O.
		stopClose = context.AfterFunc(ctx, func() { c.Close() })
	}
	detach := func() {
		stopClose()
		conn.Close()
		conn = nil
	}
	attach(conn)
	defer func() {
		if conn != nil {
			detach()
		}
	}()
	pace := newPacer(cfg, w.idx, measureFrom.Add(-cfg.Warmup))
	for k := w.idx; ; k++ {
		t0 := pace.next()
		if !t0.Before(measureTo) || ctx.Err() != nil {
			return
		}
		measured := !t0.Before(measureFrom)
		if conn == nil {
			c, err := dial(ctx, w.addr, cfg.Timeout)
			if err != nil {
				if measured && ctx.Err() == nil {
					w.fail(fmt.Errorf("loadgen: redial: %w", err))
				}
				time.Sleep(10 * time.Millisecond) // do not spin on a dead server
				continue
			}
			w.reconnects++
			attach(c)
			t0 = time.Now()
		}
		req := w.reqs[k%len(w.reqs)]
		conn.SetDeadline(t0.Add(cfg.Timeout))
		status := 0
		_, err := conn.Write(req)
		if err == nil {
			status, err = readResponse(br)
		}
		t1 := time.Now()
		if err != nil {
			detach()
			if measured && t1.Before(measureTo) && ctx.Err() == nil {
				w.fail(err)
			}
			continue
		}
		if !measured || t1.After(measureTo) {
			continue // warm-up, or finished after the window closed
		}
		if cfg.ExpectStatus != 0 && status != cfg.ExpectStatus {
			w.fail(fmt.Errorf("loadgen: status %d", status))
			continue
		}
		w.hist.Record(t1.Sub(t0))
		if cfg.MaxRequests > 0 && total.Add(1) >= cfg.MaxRequests {
			return
		}
	}
}

// pacer schedules one connection's requests. Closed-loop runs send at once.
type pacer struct {
	interval time.Duration // 0: closed loop
	due      time.Time     // scheduled start of the next request
}

func newPacer(cfg Config, idx int, start time.Time) pacer {
	if cfg.Rate <= 0 {
		return pacer{}
	}
	interval := time.Duration(float64(cfg.Connections) / cfg.Rate * float64(time.Second))
	// Connections start staggered over one interval so the load is even.
	return pacer{interval: interval, due: start.Add(interval * time.Duration(idx) / time.Duration(cfg.Connections))}
}

// next waits for the next request's turn and returns the time its latency
// counts from: the actual start when it is on time (sleeping past the
// deadline is the client's lateness, not the server's), the scheduled start
// when it is late because an earlier response was slow.
func (p *pacer) next() time.Time {
	if p.interval == 0 {
		return time.Now()
	}
	due := p.due
	p.due = p.due.Add(p.interval)
	if wait := time.Until(due); wait > 0 {
		time.Sleep(wait)
		return time.Now()
	}
	return due
}

// readResponse reads one HTTP/1.1 response and discards its body. Interim
// 1xx responses are skipped. A response that closes the connection
// (Connection: close) is read completely and reported with errClosed, since
// the connection cannot carry another request.
func readResponse(br *bufio.Reader) (int, error) {
	for {
		status, err := readOne(br)
		if err == nil && status >= 100 && status < 200 && status != 101 {
			continue
		}
		return status, err
	}
}

func readOne(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("loadgen: bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("loadgen: bad status line %q", line)
	}
	length, chunked, closing := -1, false, false
	for {
		h, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		h = bytes.TrimRight(h, "\r\n")
		if len(h) == 0 {
			break
		}
		i := bytes.IndexByte(h, ':')
		if i < 0 {
			continue
		}
		name, val := h[:i], bytes.TrimSpace(h[i+1:])
		switch {
		case asciiEqualFold(name, "content-length"):
			n, err := strconv.Atoi(string(val))
			if err != nil || n < 0 {
				return 0, fmt.Errorf("loadgen: bad Content-Length %q", val)
			}
			length = n
		case asciiEqualFold(name, "transfer-encoding"):
			chunked = bytes.Contains(bytes.ToLower(val), []byte("chunked"))
		case asciiEqualFold(name, "connection"):
			closing = bytes.Contains(bytes.ToLower(val), []byte("close"))
		}
	}
	switch {
	case chunked:
		err = skipChunked(br)
	case length >= 0:
		_, err = br.Discard(length)
	case status == 204 || status == 304 || status/100 == 1:
	default:
		return 0, errors.New("loadgen: response without length on a keep-alive connection")
	}
	if err != nil {
		return 0, err
	}
	if closing {
		return status, errClosed
	}
	return status, nil
}

func skipChunked(br *bufio.Reader) error {
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return err
		}
		line = bytes.TrimRight(line, "\r\n")
		if i := bytes.IndexByte(line, ';'); i >= 0 {
			line = line[:i]
		}
		n, err := strconv.ParseInt(string(line), 16, 64)
		if err != nil || n < 0 {
			return fmt.Errorf("loadgen: bad chunk size %q", line)
		}
		if n == 0 {
			// Trailers, then the final CRLF.
			for {
				t, err := br.ReadSlice('\n')
				if err != nil {
					return err
				}
				if len(bytes.TrimRight(t, "\r\n")) == 0 {
					return nil
				}
			}
		}
		if _, err := br.Discard(int(n)); err != nil {
			return err
		}
		if _, err := br.Discard(2); err != nil { // CRLF after the data
			return err
		}
	}
}

func asciiEqualFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := range b {
		c := b[i]
		if 'A' <= c && c <= 'Z' {
			c += 'a' - 'A'
		}
		if c != s[i] {
			return false
		}
	}
	return true
}
