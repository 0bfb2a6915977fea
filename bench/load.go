package bench

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/loadgen"
)

// LoadConfig is one closed-loop HTTP load: Conns workers, each with its
// own keep-alive connection, POST bodies (as JSON) round-robin for Warmup
// (not recorded) then Duration, never more than MaxRequests measured
// requests in all (0: bounded by Duration only).
type LoadConfig struct {
	URL         string
	Bodies      [][]byte
	Conns       int
	Warmup      time.Duration
	Duration    time.Duration
	MaxRequests int64
	// ChecksPerRequest scales throughput to checks/s (batch requests).
	ChecksPerRequest int
	// Rate, when > 0, paces the load at that many requests/s in total
	// (loadgen.Config.Rate); 0 is closed loop.
	Rate float64
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
	_, err := loopbackAddr(u)
	return err
}

// loopbackAddr returns u's host:port after checking it is loopback.
func loopbackAddr(u string) (string, error) {
	p, err := url.Parse(u)
	if err != nil {
		return "", err
	}
	port := p.Port()
	if port == "" {
		port = "80"
	}
	addr := net.JoinHostPort(p.Hostname(), port)
	if err := loadgen.CheckLoopback(addr); err != nil {
		return "", fmt.Errorf("load target %s: %w", u, err)
	}
	return addr, nil
}

// NewClient returns the client the servers' answers are verified with:
// keep-alive, one idle connection per worker, no compression. Load is not
// generated with it (see Load).
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

// Load runs cfg with Gatehouse's load generator (internal/loadgen) and
// reports throughput and latency percentiles of the measured window. Every
// server is loaded the same way: each connection is a raw keep-alive
// HTTP/1.1 connection sending pre-rendered requests, which costs far less
// CPU than net/http's client and so leaves more of the shared cores to the
// server under test. Any status other than 200 counts as an error.
func Load(ctx context.Context, cfg LoadConfig) (LoadResult, error) {
	addr, err := loopbackAddr(cfg.URL)
	if err != nil {
		return LoadResult{}, err
	}
	u, _ := url.Parse(cfg.URL) // parsed by loopbackAddr
	if cfg.ChecksPerRequest <= 0 {
		cfg.ChecksPerRequest = 1
	}
	reqs := make([][]byte, len(cfg.Bodies))
	for i, b := range cfg.Bodies {
		reqs[i] = loadgen.NewRequest("POST", u.Host, u.RequestURI(), b, "Content-Type", "application/json")
	}
	res, err := loadgen.Run(ctx, loadgen.Config{
		Addr:         addr,
		Requests:     reqs,
		Connections:  cfg.Conns,
		Warmup:       cfg.Warmup,
		Duration:     cfg.Duration,
		MaxRequests:  cfg.MaxRequests,
		Timeout:      10 * time.Second,
		ExpectStatus: http.StatusOK,
		Rate:         cfg.Rate,
	})
	if err != nil {
		return LoadResult{}, err
	}
	r := LoadResult{
		Requests: res.Requests, Errors: res.Errors, Elapsed: res.Elapsed,
		RPS: res.Throughput, ChecksPerS: res.Throughput * float64(cfg.ChecksPerRequest),
		P50: res.P50(), P99: res.P99(), Max: res.Latency.Max(),
	}
	if res.FirstError != nil {
		r.FirstError = res.FirstError.Error()
	}
	return r, nil
}
