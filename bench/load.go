package bench

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"time"
)

// LoadConfig is one closed-loop HTTP load: Conns workers, each with its
// own keep-alive connection, send bodies round-robin for Warmup (not
// recorded) then Duration, never more than MaxRequests in all.
type LoadConfig struct {
	URL         string
	Bodies      [][]byte
	Conns       int
	Warmup      time.Duration
	Duration    time.Duration
	MaxRequests int64
	// ChecksPerRequest scales throughput to checks/s (batch requests).
	ChecksPerRequest int
}

// LoadResult is what the measured window saw.
type LoadResult struct {
	Requests, Errors int64
	Elapsed          time.Duration
	RPS, ChecksPerS  float64
	P50, P99, Max    time.Duration
	FirstError       string
}

// Loopback refuses any target that is not on the loopback interface.
func Loopback(u string) error {
	p, err := url.Parse(u)
	if err != nil {
		return err
	}
	ip := net.ParseIP(p.Hostname())
	if ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("load target %s is not a loopback address", u)
	}
	return nil
}

// NewClient returns the client every server is measured with: keep-alive,
// one idle connection per worker, no compression.
func NewClient(conns int) *http.Client {
	return &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{
		Proxy:               nil,
		MaxIdleConns:        conns,
		MaxIdleConnsPerHost: conns,
		MaxConnsPerHost:     conns,
		DisableCompression:  true,
		IdleConnTimeout:     time.Minute,
	}}
}

// Post sends one JSON body and returns the answer.
func Post(c *http.Client, u string, body []byte) ([]byte, error) {
	resp, err := c.Post(u, "application/json", bytes.NewReader(body))
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return b, fmt.Errorf("%s: HTTP %d: %s", u, resp.StatusCode, truncate(b))
	}
	return b, nil
}

// Load runs cfg and reports throughput and latency percentiles of the
// measured window. It is bounded by time and by MaxRequests.
//
// Each worker owns one keep-alive TCP connection and speaks minimal
// HTTP/1.1 itself: the request bytes (headers and body) are rendered once,
// and the answer is read by Content-Length or chunked encoding. Go's
// net/http client costs about as much CPU per request as a small server,
// and the client shares the 2 cores with the server under test: a lighter
// client leaves more of the machine to the server, the same for every
// server.
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	if err := Loopback(cfg.URL); err != nil {
		return LoadResult{}, err
	}
	u, _ := url.Parse(cfg.URL)
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 50_000_000
	}
	if cfg.ChecksPerRequest <= 0 {
		cfg.ChecksPerRequest = 1
	}
	raw := make([][]byte, len(cfg.Bodies))
	for i, b := range cfg.Bodies {
		raw[i] = append([]byte(fmt.Sprintf("POST %s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n",
			u.RequestURI(), u.Host, len(b))), b...)
	}
	ctx, cancel := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration+30*time.Second)
	defer cancel()
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	var sent, errs atomic.Int64
	var firstErr atomic.Value
	noteErr := func(err error) {
		errs.Add(1)
		firstErr.CompareAndSwap(nil, err.Error())
	}
	lats := make([][]time.Duration, cfg.Conns)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			my := make([]time.Duration, 0, 1<<14)
			var conn net.Conn
			var br *bufio.Reader
			defer func() {
				if conn != nil {
					conn.Close()
				}
				lats[w] = my
			}()
			for i := w; ; i += cfg.Conns {
				t0 := time.Now()
				if t0.After(end) || ctx.Err() != nil || sent.Add(1) > cfg.MaxRequests {
					return
				}
				if conn == nil {
					c, err := net.DialTimeout("tcp", u.Host, 5*time.Second)
					if err != nil {
						noteErr(err)
						time.Sleep(10 * time.Millisecond)
						continue
					}
					conn, br = c, bufio.NewReaderSize(c, 64<<10)
				}
				conn.SetDeadline(t0.Add(10 * time.Second))
				_, err := conn.Write(raw[i%len(raw)])
				status := 0
				if err == nil {
					status, err = readResponse(br)
				}
				t1 := time.Now()
				if err != nil {
					conn.Close()
					conn = nil
				}
				if t0.Before(measureFrom) || t1.After(end) {
					continue
				}
				switch {
				case err != nil:
					noteErr(err)
				case status != 200:
					noteErr(fmt.Errorf("HTTP %d", status))
				default:
					my = append(my, t1.Sub(t0))
				}
			}
		}(w)
	}
	wg.Wait()
	var all []time.Duration
	for _, l := range lats {
		all = append(all, l...)
	}
	slices.Sort(all)
	r := LoadResult{Requests: int64(len(all)), Errors: errs.Load(), Elapsed: cfg.Duration}
	if s, ok := firstErr.Load().(string); ok {
		r.FirstError = s
	}
	if len(all) > 0 {
		r.RPS = float64(len(all)) / cfg.Duration.Seconds()
		r.ChecksPerS = r.RPS * float64(cfg.ChecksPerRequest)
		r.P50 = all[len(all)/2]
		r.P99 = all[len(all)*99/100]
		r.Max = all[len(all)-1]
	}
	return r, nil
}

// readResponse reads one HTTP/1.1 response, discarding the body, and
// returns its status code.
func readResponse(br *bufio.Reader) (int, error) {
	line, err := br.ReadSlice('\n')
	if err != nil {
		return 0, err
	}
	if len(line) < 12 || !bytes.HasPrefix(line, []byte("HTTP/1.")) {
		return 0, fmt.Errorf("bad status line %q", line)
	}
	status, err := strconv.Atoi(string(line[9:12]))
	if err != nil {
		return 0, fmt.Errorf("bad status line %q", line)
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
		k, v, ok := bytes.Cut(h, []byte(":"))
		if !ok {
			continue
		}
		v = bytes.TrimSpace(v)
		switch {
		case bytes.EqualFold(k, []byte("Content-Length")):
			length, err = strconv.Atoi(string(v))
			if err != nil {
				return 0, fmt.Errorf("bad Content-Length %q", v)
			}
		case bytes.EqualFold(k, []byte("Transfer-Encoding")):
			chunked = bytes.EqualFold(v, []byte("chunked"))
		case bytes.EqualFold(k, []byte("Connection")):
			closing = bytes.EqualFold(v, []byte("close"))
		}
	}
	switch {
	case chunked:
		for {
			sz, err := br.ReadSlice('\n')
			if err != nil {
				return 0, err
			}
			sz = bytes.TrimRight(sz, "\r\n")
			if i := bytes.IndexByte(sz, ';'); i >= 0 {
				sz = sz[:i]
			}
			n, err := strconv.ParseInt(string(sz), 16, 64)
			if err != nil {
				return 0, fmt.Errorf("bad chunk size %q", sz)
			}
			if _, err := br.Discard(int(n) + 2); err != nil {
				return 0, err
			}
			if n == 0 {
				break
			}
		}
	case length >= 0:
		if _, err := br.Discard(length); err != nil {
			return 0, err
		}
	default:
		return 0, errors.New("response without length")
	}
	if closing {
		return status, errors.New("server closed the connection")
	}
	return status, nil
}
