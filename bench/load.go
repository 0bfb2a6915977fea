package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
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
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	if err := Loopback(cfg.URL); err != nil {
		return LoadResult{}, err
	}
	if cfg.MaxRequests <= 0 {
		cfg.MaxRequests = 50_000_000
	}
	if cfg.ChecksPerRequest <= 0 {
		cfg.ChecksPerRequest = 1
	}
	client := NewClient(cfg.Conns)
	defer client.CloseIdleConnections()
	ctx, cancel := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration+30*time.Second)
	defer cancel()
	start := time.Now()
	measureFrom := start.Add(cfg.Warmup)
	end := measureFrom.Add(cfg.Duration)
	var sent, errs atomic.Int64
	var firstErr atomic.Value
	lats := make([][]time.Duration, cfg.Conns)
	var wg sync.WaitGroup
	for w := 0; w < cfg.Conns; w++ {
		wg.Add(1)
		go func(w int) {
			defer wg.Done()
			my := make([]time.Duration, 0, 1<<14)
			rd := bytes.NewReader(nil)
			buf := make([]byte, 64<<10)
			for i := w; ; i += cfg.Conns {
				t0 := time.Now()
				if t0.After(end) || ctx.Err() != nil || sent.Add(1) > cfg.MaxRequests {
					break
				}
				rd.Reset(cfg.Bodies[i%len(cfg.Bodies)])
				req, _ := http.NewRequestWithContext(ctx, http.MethodPost, cfg.URL, rd)
				req.Header.Set("Content-Type", "application/json")
				resp, err := client.Do(req)
				ok := err == nil && resp.StatusCode == http.StatusOK
				if err == nil {
					for {
						if _, e := resp.Body.Read(buf); e != nil {
							break
						}
					}
					resp.Body.Close()
				}
				t1 := time.Now()
				if !t0.Before(measureFrom) && !t1.After(end) {
					if ok {
						my = append(my, t1.Sub(t0))
					} else {
						errs.Add(1)
						if err != nil {
							firstErr.CompareAndSwap(nil, err.Error())
						} else {
							firstErr.CompareAndSwap(nil, fmt.Sprintf("HTTP %d", resp.StatusCode))
						}
					}
				}
			}
			lats[w] = my
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
