package client

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// RevisionHeader is the response header carrying the revision of the
// snapshot that answered.
const RevisionHeader = "Gatehouse-Revision"

// DefaultMaxBatch is the server's default batch limit, used when neither
// WithMaxBatch nor the discovery document says otherwise.
const DefaultMaxBatch = 1000

// maxResponseBytes bounds the answers read (search pages and plans are
// the largest).
const maxResponseBytes = 32 << 20

// RetryPolicy bounds the retries of 429 and 503 answers.
type RetryPolicy struct {
	// MaxAttempts is the number of requests sent at most, the first
	// included (default 4; 1 disables retries).
	MaxAttempts int
	// MaxElapsed bounds the time from the first request to the start of
	// the last (default 10 s): a retry that would start later is not
	// made.
	MaxElapsed time.Duration
	// BaseDelay is the first backoff (default 100 ms), doubled per
	// attempt up to MaxDelay (default 2 s); each wait is drawn uniformly
	// up to the backoff (full jitter) and is at least the server's
	// Retry-After.
	BaseDelay, MaxDelay time.Duration
}

func (p *RetryPolicy) fill() {
	if p.MaxAttempts <= 0 {
		p.MaxAttempts = 4
	}
	if p.MaxElapsed <= 0 {
		p.MaxElapsed = 10 * time.Second
	}
	if p.BaseDelay <= 0 {
		p.BaseDelay = 100 * time.Millisecond
	}
	if p.MaxDelay <= 0 {
		p.MaxDelay = 2 * time.Second
	}
}

// Client calls one Gatehouse tenant (or the server's default tenant). It
// is safe for concurrent use.
type Client struct {
	base      *url.URL
	tenant    string
	hc        *http.Client
	token     tokenSource
	retry     RetryPolicy
	maxBatch  int
	chunking  bool
	userAgent string
	track     bool
	shared    *shared
}

// shared is the state of a client and the clients ForTenant derives.
type shared struct {
	mu        sync.Mutex
	revisions map[string]string // tenant -> last revision seen (tracking)
	maxBatch  atomic.Int64      // learned from discovery
}

// Option configures New.
type Option func(*Client) error

// WithTenant sends requests to /tenants/{tenant}/...; without it the
// client calls the server's default tenant at the root paths.
func WithTenant(tenant string) Option {
	return func(c *Client) error {
		if !validTenant(tenant) {
			return &ValidationError{Field: "tenant", Reason: "not a namespace name", Value: shortPrefix(tenant, 16)}
		}
		c.tenant = tenant
		return nil
	}
}

// WithHTTPClient sets the HTTP client (TLS configuration, timeouts,
// transport). The default is a client with a 30 s timeout.
func WithHTTPClient(hc *http.Client) Option {
	return func(c *Client) error {
		if hc == nil {
			return errors.New("gatehouse: WithHTTPClient: nil client")
		}
		c.hc = hc
		return nil
	}
}

// WithToken sends a fixed bearer token.
func WithToken(token string) Option {
	return func(c *Client) error {
		c.token = staticToken(token)
		return nil
	}
}

// WithTokenFile reads the bearer token from path, and again whenever the
// file changes (a projected ServiceAccount token rotates). The file must
// be readable when New is called.
func WithTokenFile(path string) Option {
	return func(c *Client) error {
		f := &fileToken{path: path}
		if _, err := f.get(true); err != nil {
			return err
		}
		c.token = f
		return nil
	}
}

// WithRetry sets the retry policy of 429 and 503 answers; zero fields
// keep their defaults.
func WithRetry(p RetryPolicy) Option {
	return func(c *Client) error {
		p.fill()
		c.retry = p
		return nil
	}
}

// WithMaxBatch sets the number of evaluations Evaluations sends per
// request (the server's MaxBatch, default 1,000).
func WithMaxBatch(n int) Option {
	return func(c *Client) error {
		if n <= 0 {
			return &ValidationError{Field: "maxBatch", Reason: "must be positive"}
		}
		c.maxBatch = n
		return nil
	}
}

// WithChunking sets whether Evaluations splits batches over the batch
// limit (the default); WithChunking(false) makes it refuse them with a
// ValidationError instead.
func WithChunking(on bool) Option {
	return func(c *Client) error {
		c.chunking = on
		return nil
	}
}

// WithRevisionTracking makes the client remember the revision of the
// latest answer and send it as context.minRevision (see the package
// documentation, Read your writes).
func WithRevisionTracking() Option {
	return func(c *Client) error {
		c.track = true
		return nil
	}
}

// WithUserAgent sets the User-Agent header.
func WithUserAgent(ua string) Option {
	return func(c *Client) error {
		c.userAgent = ua
		return nil
	}
}

// New returns a client of the Gatehouse server at baseURL
// (scheme://host[:port], optionally with a path prefix).
func New(baseURL string, opts ...Option) (*Client, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("gatehouse: base URL: %w", err)
	}
	if (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("gatehouse: base URL %q: want http(s)://host[:port]", shortPrefix(baseURL, 64))
	}
	if u.RawQuery != "" || u.Fragment != "" {
		return nil, fmt.Errorf("gatehouse: base URL %q: no query or fragment", shortPrefix(baseURL, 64))
	}
	u.Path = strings.TrimSuffix(u.Path, "/")
	u.RawPath = ""
	c := &Client{base: u, hc: &http.Client{Timeout: 30 * time.Second}, chunking: true,
		userAgent: "gatehouse-go-client", shared: &shared{revisions: map[string]string{}}}
	c.retry.fill()
	for _, o := range opts {
		if err := o(c); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// ForTenant returns a client of another tenant with the same
// configuration, connections and revision memory.
func (c *Client) ForTenant(tenant string) (*Client, error) {
	d := *c
	if err := WithTenant(tenant)(&d); err != nil {
		return nil, err
	}
	return &d, nil
}

// Tenant returns the tenant ("" for the server's default tenant).
func (c *Client) Tenant() string { return c.tenant }

// Revision returns the revision the client remembers (revision
// tracking), "" if none.
func (c *Client) Revision() string {
	c.shared.mu.Lock()
	defer c.shared.mu.Unlock()
	return c.shared.revisions[c.tenant]
}

// RememberRevision sets the revision sent with later calls under revision
// tracking, e.g. the revision a PermissionSnapshot reported after a
// policy write. It has no effect without WithRevisionTracking.
func (c *Client) RememberRevision(rev string) {
	if !c.track || rev == "" {
		return
	}
	c.shared.mu.Lock()
	c.shared.revisions[c.tenant] = rev
	c.shared.mu.Unlock()
}

func validTenant(s string) bool {
	if len(s) == 0 || len(s) > 63 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', '0' <= c && c <= '9':
		case c == '-' && i > 0 && i < len(s)-1:
		default:
			return false
		}
	}
	return true
}

// CallOption configures one call.
type CallOption func(*callOpts)

type callOpts struct {
	minRevision string
	explain     bool
	semantic    string
}

// WithMinRevision asks for an answer from exactly this snapshot revision
// (read your writes): the server waits a bounded time for it, else 503,
// which is retried. It takes precedence over revision tracking.
func WithMinRevision(rev string) CallOption { return func(o *callOpts) { o.minRevision = rev } }

// WithExplain asks Evaluate and Evaluations for the grant that decided
// (?explain=true).
func WithExplain() CallOption { return func(o *callOpts) { o.explain = true } }

// WithSemantic sets options.evaluations_semantic of Evaluations
// (ExecuteAll, DenyOnFirstDeny, PermitOnFirstPermit).
func WithSemantic(s string) CallOption { return func(o *callOpts) { o.semantic = s } }

func collect(opts []CallOption) callOpts {
	var o callOpts
	for _, f := range opts {
		f(&o)
	}
	return o
}

// path returns the URL of an endpoint below the tenant's base.
func (c *Client) url(endpoint, query string) string {
	u := *c.base
	if c.tenant != "" {
		u.Path += "/tenants/" + c.tenant
	}
	u.Path += "/" + endpoint
	u.RawQuery = query
	return u.String()
}

// minRevision returns the revision to send and whether it was tracked
// (not explicit).
func (c *Client) minRevision(o *callOpts) (string, bool) {
	if o.minRevision != "" {
		return o.minRevision, false
	}
	if !c.track {
		return "", false
	}
	return c.Revision(), true
}

// body is a request body whose context.minRevision the retry loop may
// change: build renders it.
type body func(minRevision string) ([]byte, error)

// withRevision returns ctx with minRevision set (a copy; nil when both
// are empty).
func withRevision(ctx map[string]any, rev string) map[string]any {
	if rev == "" {
		return ctx
	}
	out := make(map[string]any, len(ctx)+1)
	for k, v := range ctx {
		out[k] = v
	}
	out["minRevision"] = rev
	return out
}

// answer is a 200 answer.
type answer struct {
	body     []byte
	revision string
}

// call sends a request with retries and returns a 200 answer or an error.
// get sends GET without a body.
func (c *Client) call(ctx context.Context, endpoint, query string, o *callOpts, get bool, build body) (*answer, error) {
	rev, tracked := c.minRevision(o)
	start := time.Now()
	deadline := start.Add(c.retry.MaxElapsed)
	backoff := c.retry.BaseDelay
	tokenRetried := false
	for attempt := 1; ; attempt++ {
		var payload []byte
		if !get {
			var err error
			if payload, err = build(rev); err != nil {
				return nil, fmt.Errorf("gatehouse: %s: encoding the request: %w", endpoint, err)
			}
		}
		status, hdr, data, err := c.send(ctx, endpoint, query, get, payload)
		if err != nil {
			return nil, err
		}
		revHdr := hdr.Get(RevisionHeader)
		if status == http.StatusOK {
			if revHdr != "" && c.track {
				c.RememberRevision(revHdr)
			}
			return &answer{body: data, revision: revHdr}, nil
		}
		e := newError(endpoint, status, data)
		e.Revision, e.Attempts = revHdr, attempt
		e.RetryAfter = parseRetryAfter(hdr.Get("Retry-After"), time.Now())
		if status == http.StatusUnauthorized && !tokenRetried {
			// A rotated token file: read it again and retry once.
			if f, ok := c.token.(*fileToken); ok && f.changed() {
				tokenRetried = true
				continue
			}
		}
		if !retryable(status) || attempt >= c.retry.MaxAttempts {
			return nil, e
		}
		if status == http.StatusServiceUnavailable && tracked && revHdr != "" && revHdr != rev &&
			strings.HasPrefix(e.Field, "context.minRevision") {
			// The remembered revision is not served (superseded, or
			// this replica is behind): follow the server.
			rev = revHdr
			c.RememberRevision(revHdr)
		}
		wait := time.Duration(rand.Int64N(int64(backoff) + 1))
		wait = max(wait, e.RetryAfter)
		backoff = min(backoff*2, c.retry.MaxDelay)
		if time.Now().Add(wait).After(deadline) {
			return nil, e
		}
		if dl, ok := ctx.Deadline(); ok && time.Now().Add(wait).After(dl) {
			return nil, e
		}
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("gatehouse: %s: %w (last answer: %v)", endpoint, ctx.Err(), e)
		case <-t.C:
		}
	}
}

// send sends one request and reads the answer.
func (c *Client) send(ctx context.Context, endpoint, query string, get bool, payload []byte) (int, http.Header, []byte, error) {
	method := http.MethodPost
	var rd io.Reader
	if get {
		method = http.MethodGet
	} else {
		rd = bytes.NewReader(payload)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.url(endpoint, query), rd)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("gatehouse: %s: %w", endpoint, err)
	}
	if !get {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	if c.userAgent != "" {
		req.Header.Set("User-Agent", c.userAgent)
	}
	if c.token != nil {
		tok, err := c.token.get(false)
		if err != nil {
			return 0, nil, nil, fmt.Errorf("gatehouse: %s: token: %w", endpoint, err)
		}
		if tok != "" {
			req.Header.Set("Authorization", "Bearer "+tok)
		}
	}
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, nil, fmt.Errorf("gatehouse: %s: %w", endpoint, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxResponseBytes+1))
	if err != nil {
		return 0, nil, nil, fmt.Errorf("gatehouse: %s: reading the answer: %w", endpoint, err)
	}
	if len(data) > maxResponseBytes {
		return 0, nil, nil, fmt.Errorf("gatehouse: %s: %w: answer over %d bytes", endpoint, ErrMalformedResponse, maxResponseBytes)
	}
	return resp.StatusCode, resp.Header, data, nil
}

// parseRetryAfter reads Retry-After: delay seconds or an HTTP date.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n < 0 {
			return 0
		}
		return time.Duration(min(n, 24*3600)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := t.Sub(now); d > 0 {
			return d
		}
	}
	return 0
}

// decode reads a 200 answer into v, strictly enough that a body of
// another shape is an error.
func decode(endpoint string, a *answer, v any) error {
	if err := json.Unmarshal(a.body, v); err != nil {
		return fmt.Errorf("gatehouse: %s: %w: %v", endpoint, ErrMalformedResponse, err)
	}
	return nil
}

// jsonBody renders v after setting its context's minRevision.
func jsonBody(v any) ([]byte, error) { return json.Marshal(v) }
