package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"
)

// CloudEvents constants of the HTTP sink's wire format.
const (
	// CloudEventTypePrefix prefixes a record's Event in its CloudEvent type:
	// "dev.gatehouse.audit.compiled", "dev.gatehouse.audit.admission"…
	CloudEventTypePrefix = "dev.gatehouse.audit."
	// CloudEventsSpecVersion is the specversion of every event.
	CloudEventsSpecVersion = "1.0"
	// CloudEventsBatchContentType is the Content-Type of a batch request:
	// a JSON array of structured CloudEvents (JSON batch mode).
	CloudEventsBatchContentType = "application/cloudevents-batch+json"
	// CloudEventDataContentType is the datacontenttype of every event.
	CloudEventDataContentType = "application/json"
)

// Defaults of HTTPOptions.
const (
	DefaultHTTPBatchSize      = 100
	DefaultHTTPBufferSize     = 10000
	DefaultHTTPRequestTimeout = 10 * time.Second
	DefaultHTTPMinRetryDelay  = 200 * time.Millisecond
	DefaultHTTPMaxRetryDelay  = 30 * time.Second
)

var (
	// ErrBufferFull is returned by HTTPSink.Write when the sink already
	// holds HTTPOptions.BufferSize records; the record is dropped.
	ErrBufferFull = errors.New("audit: HTTP sink buffer is full, record dropped")
	// ErrSinkClosed is returned by HTTPSink.Write after Close.
	ErrSinkClosed = errors.New("audit: HTTP sink is closed")
)

// CloudEvent is one audit record as a structured CloudEvent 1.0, the
// element of the JSON array the HTTP sink posts. Files of them (a JSON
// array, or one event per line) decode into it.
type CloudEvent struct {
	// SpecVersion is CloudEventsSpecVersion.
	SpecVersion string `json:"specversion"`
	// ID is the record's ID: a retried batch carries the same ids, so a
	// receiver drops duplicates by id.
	ID string `json:"id"`
	// Source names the replica that sent the event (HTTPOptions.Source).
	Source string `json:"source"`
	// Type is CloudEventTypePrefix followed by the record's Event.
	Type string `json:"type"`
	// Subject is the record's tenant.
	Subject string `json:"subject,omitempty"`
	// Time is the record's Time (RFC 3339).
	Time time.Time `json:"time"`
	// DataContentType is CloudEventDataContentType.
	DataContentType string `json:"datacontenttype"`
	// Data is the Record as JSON (Encode).
	Data json.RawMessage `json:"data"`
}

// NewCloudEvent returns r as a CloudEvent from source. It sets an empty
// r.Type to RecordType.
func NewCloudEvent(source string, r *Record) (CloudEvent, error) {
	data, err := Encode(r)
	if err != nil {
		return CloudEvent{}, err
	}
	return CloudEvent{
		SpecVersion:     CloudEventsSpecVersion,
		ID:              idOf(data), // r.ID(), without encoding r twice
		Source:          source,
		Type:            CloudEventTypePrefix + r.Event,
		Subject:         r.Tenant,
		Time:            r.Time,
		DataContentType: CloudEventDataContentType,
		Data:            data,
	}, nil
}

// Record decodes the event's data.
func (e *CloudEvent) Record() (*Record, error) {
	if !strings.HasPrefix(e.Type, CloudEventTypePrefix) {
		return nil, fmt.Errorf("audit: event %s has type %q, not a Gatehouse audit record", e.ID, e.Type)
	}
	var r Record
	if err := json.Unmarshal(e.Data, &r); err != nil {
		return nil, fmt.Errorf("audit: decoding the data of event %s: %w", e.ID, err)
	}
	return &r, nil
}

// HTTPOptions configure an HTTPSink.
type HTTPOptions struct {
	// URL receives the batches (http or https, without credentials: use
	// BearerTokenFile). Required.
	URL string
	// Source is the CloudEvents source of every event, e.g.
	// "/gatehouse/<replica>". Required.
	Source string
	// BatchSize is the most records one request carries; 0 means
	// DefaultHTTPBatchSize.
	BatchSize int
	// BufferSize is the most records the sink holds (queued or in flight);
	// a Write beyond it fails with ErrBufferFull. 0 means
	// DefaultHTTPBufferSize.
	BufferSize int
	// RequestTimeout bounds one request; 0 means DefaultHTTPRequestTimeout.
	RequestTimeout time.Duration
	// MinRetryDelay and MaxRetryDelay bound the delay before a request is
	// retried (exponential backoff with jitter, or the receiver's
	// Retry-After, never beyond MaxRetryDelay). 0 means the defaults.
	MinRetryDelay, MaxRetryDelay time.Duration
	// BearerTokenFile, when set, holds the token sent as
	// "Authorization: Bearer <token>". It is read again for every request,
	// so a rotated (projected service account) token is picked up. The
	// token is never logged.
	BearerTokenFile string
	// Client sends the requests (custom TLS, tests); nil means a new
	// http.Client with the default transport.
	Client *http.Client
	// Logger logs retries and rejected batches; nil logs nothing.
	Logger *slog.Logger
	// Counters count queued, delivered, dropped and retried (nil: nothing).
	Counters Counters
	// SpoolDir, when set, is a directory only this sink uses (it is
	// locked) where every accepted record is journaled before it is
	// queued: records still undelivered when the process stops, crashes or
	// is killed are sent by the next sink opened on it (see HTTPSink).
	SpoolDir string
}

// maxEchoed is the most characters of an option value or a response body
// that errors and logs repeat.
const maxEchoed = 128

// prefix returns at most n bytes of s (cut on a rune boundary), quoted.
func prefix(s string, n int) string {
	if len(s) > n {
		for n > 0 && !utf8.RuneStart(s[n]) {
			n--
		}
		return strconv.Quote(s[:n]) + "…"
	}
	return strconv.Quote(s)
}

// validateURL checks the URL option. Its errors repeat at most a short
// prefix of the value: url.Parse's own errors quote it whole, and a URL
// may hold a secret.
func validateURL(raw string) (*url.URL, error) {
	const opt = "audit: HTTPOptions.URL"
	if raw == "" {
		return nil, fmt.Errorf("%s is required", opt)
	}
	u, err := url.Parse(raw)
	if err != nil {
		return nil, fmt.Errorf("%s is not a valid URL (value starts %s)", opt, prefix(raw, 8))
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("%s must be an http or https URL (value starts %s)", opt, prefix(raw, 8))
	}
	if u.User != nil {
		return nil, fmt.Errorf("%s must not hold credentials; use HTTPOptions.BearerTokenFile", opt)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("%s has no host (value starts %s)", opt, prefix(raw, 8))
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%s must not have a fragment", opt)
	}
	return u, nil
}

// pending is one record the sink holds.
type pending struct {
	event  json.RawMessage
	id     string
	tenant string
	// pos is where the spool holds the record; zero when it does not.
	pos spoolPos
	// done, when not nil, receives the record's fate: nil once delivered,
	// an error once dropped. It has room for that one value.
	done chan error
}

// HTTPSink is a Sink that posts records to an HTTP receiver as batches of
// CloudEvents (JSON batch mode), from one goroutine, in the order they were
// written. It sends as soon as records are queued; the records written
// while a request is in flight go together in the next one.
//
// Delivery guarantee: at least once while the process lives, in order.
// A batch is sent again after a network error, 408, 429 or 5xx (with
// exponential backoff and jitter, honouring Retry-After) until the receiver
// answers 2xx or the sink is closed, so a receiver may get a record more
// than once; every copy carries the same CloudEvent id (Record.ID), by
// which the receiver drops duplicates. Records are lost, and counted in
// Counters.HTTPDropped (gatehouse_audit_http_dropped_records_total in the
// manager), when the buffer is full at
// Write (reason "full": Write returns ErrBufferFull at once, it never
// blocks), when the receiver refuses a batch with another 4xx or a single
// record is too large even alone after 413 splitting (reason "rejected"),
// and when Close's context ends before everything is delivered (reason
// "closed"). Without a spool the queue is in memory only: records queued
// or in flight when the process crashes or is killed are lost, uncounted.
// With HTTPOptions.SpoolDir every accepted record is first appended to a
// journal there (written to the kernel, not synced: it survives the
// process, not a machine crash), and the sink marks what is settled after
// each batch; the next sink opened on the directory sends what was not
// settled first, so records survive stops, crashes and kills, and Close
// keeps (rather than drops) what it could not deliver. A record the
// journal cannot take (disk full) is queued in memory only, and logged.
// Write with wait,
// which Trail makes for every record with Options.Required, returns nil
// only once the receiver acknowledged that record with a 2xx, so a compile
// whose record is required is served only after its record was delivered;
// when the record is not delivered within the delivery timeout the Write
// fails and the change is not served, but the record stays queued and is
// still delivered later: the trail can hold a record of a change that was
// not served, never miss one of a change that was.
type HTTPSink struct {
	url      string
	opts     HTTPOptions
	client   *http.Client
	log      *slog.Logger
	counters Counters

	mu       sync.Mutex
	queue    []*pending // written, not yet taken by the sender
	inFlight int        // taken by the sender, not yet delivered or dropped
	closed   bool

	wake     chan struct{} // capacity 1: something was queued, or Close
	sendCtx  context.Context
	abort    context.CancelFunc
	stopped  chan struct{} // closed when the sender returns
	dropped  int           // records the sender dropped at Close (read after stopped)
	kept     int           // records left in the spool at Close (read after stopped)
	spool    *spool        // nil without SpoolDir; guarded by mu
	closeErr error
	once     sync.Once
}

var _ Sink = (*HTTPSink)(nil)

// NewHTTPSink validates opts and starts the sender. Close stops it.
func NewHTTPSink(opts HTTPOptions) (*HTTPSink, error) {
	u, err := validateURL(opts.URL)
	if err != nil {
		return nil, err
	}
	if strings.TrimSpace(opts.Source) == "" {
		return nil, errors.New("audit: HTTPOptions.Source is required (the CloudEvents source, e.g. /gatehouse/<replica>)")
	}
	if strings.ContainsFunc(opts.Source, func(r rune) bool { return r < 0x20 || r == 0x7f }) {
		return nil, fmt.Errorf("audit: HTTPOptions.Source has control characters (value starts %s)", prefix(opts.Source, 16))
	}
	if opts.BatchSize < 0 || opts.BufferSize < 0 || opts.RequestTimeout < 0 || opts.MinRetryDelay < 0 || opts.MaxRetryDelay < 0 {
		return nil, errors.New("audit: HTTPOptions.BatchSize, BufferSize, RequestTimeout, MinRetryDelay and MaxRetryDelay must not be negative")
	}
	if opts.BatchSize == 0 {
		opts.BatchSize = DefaultHTTPBatchSize
	}
	if opts.BufferSize == 0 {
		opts.BufferSize = DefaultHTTPBufferSize
	}
	if opts.RequestTimeout == 0 {
		opts.RequestTimeout = DefaultHTTPRequestTimeout
	}
	if opts.MinRetryDelay == 0 {
		opts.MinRetryDelay = DefaultHTTPMinRetryDelay
	}
	if opts.MaxRetryDelay == 0 {
		opts.MaxRetryDelay = DefaultHTTPMaxRetryDelay
	}
	if opts.MinRetryDelay > opts.MaxRetryDelay {
		return nil, fmt.Errorf("audit: HTTPOptions.MinRetryDelay (%s) is above MaxRetryDelay (%s)", opts.MinRetryDelay, opts.MaxRetryDelay)
	}
	s := &HTTPSink{
		url:     u.String(),
		opts:    opts,
		client:  opts.Client,
		log:     opts.Logger,
		wake:    make(chan struct{}, 1),
		stopped: make(chan struct{}),
	}
	if s.client == nil {
		s.client = &http.Client{}
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	if s.counters = opts.Counters; s.counters == nil {
		s.counters = noCounters{}
	}
	if opts.SpoolDir != "" {
		sp, replay, err := openSpool(opts.SpoolDir)
		if err != nil {
			return nil, err
		}
		s.spool = sp
		for _, r := range replay {
			s.queue = append(s.queue, &pending{event: r.event, id: r.id, tenant: r.tenant, pos: r.pos})
		}
		if len(replay) > 0 {
			s.counters.HTTPQueued(len(replay))
			s.log.Info("audit: sending the records an earlier sink left in the spool", "records", len(replay))
		}
	}
	s.sendCtx, s.abort = context.WithCancel(context.Background())
	go s.run()
	return s, nil
}

// Write queues r. Without wait it returns at once: nil once r is queued,
// ErrBufferFull when the buffer is full (r is dropped and counted). With
// wait it then returns nil once r is delivered, an error once r is dropped,
// or an error when ctx ends first; r then stays queued and is delivered
// later. Write after Close returns ErrSinkClosed.
func (s *HTTPSink) Write(ctx context.Context, r *Record, wait bool) error {
	ev, err := NewCloudEvent(s.opts.Source, r)
	if err != nil {
		return err
	}
	raw, err := json.Marshal(ev)
	if err != nil {
		return fmt.Errorf("audit: encoding the event of tenant %s: %w", r.Tenant, err)
	}
	p := &pending{event: raw, id: ev.ID, tenant: r.Tenant}
	if wait {
		p.done = make(chan error, 1)
	}
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return ErrSinkClosed
	}
	if len(s.queue)+s.inFlight >= s.opts.BufferSize {
		s.mu.Unlock()
		s.counters.HTTPDropped(DropFull, 1)
		return fmt.Errorf("%w (%d records held; record of tenant %s, event %s)", ErrBufferFull, s.opts.BufferSize, r.Tenant, r.Event)
	}
	if s.spool != nil {
		pos, err := s.spool.append(raw)
		if err != nil {
			s.log.Error("audit: the spool did not take a record; it is queued in memory only", "error", err.Error(), "id", p.id)
		}
		p.pos = pos
	}
	s.queue = append(s.queue, p)
	s.mu.Unlock()
	s.counters.HTTPQueued(1)
	select {
	case s.wake <- struct{}{}:
	default:
	}
	if !wait {
		return nil
	}
	select {
	case err := <-p.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("audit: record %s of tenant %s not delivered in time, still queued: %w", p.id, p.tenant, ctx.Err())
	}
}

// Close stops accepting records and delivers those queued until ctx ends;
// then it drops the rest and returns an error saying how many it dropped.
// It returns once the sender goroutine stopped. Later calls return the
// first one's result.
func (s *HTTPSink) Close(ctx context.Context) error {
	s.once.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		select {
		case s.wake <- struct{}{}:
		default:
		}
		select {
		case <-s.stopped:
		case <-ctx.Done():
			s.abort()
			<-s.stopped
		}
		s.abort()
		if s.spool != nil {
			s.mu.Lock()
			err := s.spool.close()
			s.mu.Unlock()
			if err != nil {
				s.log.Error("audit: closing the spool", "error", err.Error())
			}
		}
		if s.kept > 0 {
			s.log.Info("audit: HTTP sink closed; undelivered records stay in the spool for the next start", "records", s.kept)
		}
		if s.dropped > 0 {
			s.closeErr = fmt.Errorf("audit: HTTP sink closed before delivering %d records, dropped: %w", s.dropped, context.Cause(ctx))
		}
	})
	// A concurrent Close waits for the first one.
	<-s.stopped
	return s.closeErr
}

// run is the sender goroutine.
func (s *HTTPSink) run() {
	defer close(s.stopped)
	var left []*pending
	for {
		batch := s.next()
		if batch == nil {
			break
		}
		if left = s.deliver(batch); left != nil {
			break
		}
	}
	// Closed and empty, or aborted by Close: drop whatever is still held.
	s.mu.Lock()
	rest := s.queue
	s.queue = nil
	s.inFlight += len(rest)
	s.mu.Unlock()
	s.dropClosed(append(left, rest...))
}

// next waits for queued records and takes up to BatchSize of them, in
// order; nil when the sink is closed and empty, or aborted.
func (s *HTTPSink) next() []*pending {
	for {
		s.mu.Lock()
		if s.sendCtx.Err() != nil {
			s.mu.Unlock()
			return nil
		}
		if n := min(len(s.queue), s.opts.BatchSize); n > 0 {
			batch := s.queue[:n:n]
			s.queue = s.queue[n:]
			if len(s.queue) == 0 {
				s.queue = nil // let the backing array go
			}
			s.inFlight += n
			s.mu.Unlock()
			return batch
		}
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return nil
		}
		select {
		case <-s.wake:
		case <-s.sendCtx.Done():
		}
	}
}

// finish settles records taken by the sender: delivered when err is nil,
// dropped for reason otherwise.
func (s *HTTPSink) finish(ps []*pending, reason string, err error) {
	if len(ps) == 0 {
		return
	}
	s.mu.Lock()
	s.inFlight -= len(ps)
	if s.spool != nil && reason != DropClosed {
		s.settle(ps)
	}
	s.mu.Unlock()
	s.counters.HTTPQueued(-len(ps))
	if err == nil {
		s.counters.HTTPDelivered(len(ps))
	} else {
		s.counters.HTTPDropped(reason, len(ps))
	}
	for _, p := range ps {
		if p.done != nil {
			p.done <- err
		}
	}
}

// settle marks the spool settled up to the last spooled record of ps
// (records settle in order). Called with mu held.
func (s *HTTPSink) settle(ps []*pending) {
	for i := len(ps) - 1; i >= 0; i-- {
		if ps[i].pos != (spoolPos{}) {
			if err := s.spool.settle(ps[i].pos); err != nil {
				// Not fatal: the records are sent again by the next sink.
				s.log.Error("audit: marking delivered records in the spool", "error", err.Error())
			}
			return
		}
	}
}

func (s *HTTPSink) dropClosed(ps []*pending) {
	if len(ps) == 0 {
		return
	}
	if s.spool != nil {
		// Spooled records are not lost: the next sink sends them.
		kept := slices.DeleteFunc(slices.Clone(ps), func(p *pending) bool { return p.pos == (spoolPos{}) })
		if len(kept) > 0 {
			s.kept += len(kept)
			s.mu.Lock()
			s.inFlight -= len(kept)
			s.mu.Unlock()
			s.counters.HTTPQueued(-len(kept))
			for _, p := range kept {
				if p.done != nil {
					p.done <- errors.New("audit: HTTP sink closed before the record was delivered; it stays in the spool for the next start")
				}
			}
		}
		ps = slices.DeleteFunc(ps, func(p *pending) bool { return p.pos != (spoolPos{}) })
		if len(ps) == 0 {
			return
		}
	}
	s.dropped += len(ps)
	s.log.Error("audit: HTTP sink closed before delivering records, dropping them", "records", len(ps))
	s.finish(ps, DropClosed, errors.New("audit: HTTP sink closed before the record was delivered, dropped"))
}

// outcome of sending one batch until it is settled.
type outcome int

const (
	delivered outcome = iota
	rejected
	tooLarge
	aborted
)

// deliver sends batch, splitting it on 413, and settles its records. It
// returns the records left unsettled when the sink is aborted, nil
// otherwise.
func (s *HTTPSink) deliver(batch []*pending) []*pending {
	work := [][]*pending{batch}
	for len(work) > 0 {
		b := work[0]
		work = work[1:]
		res, err := s.send(b)
		switch {
		case res == delivered:
			s.finish(b, "", nil)
		case res == tooLarge && len(b) > 1:
			h := len(b) / 2
			work = append([][]*pending{b[:h], b[h:]}, work...)
		case res == tooLarge || res == rejected:
			s.finish(b, DropRejected, err)
		default: // aborted
			var left []*pending
			left = append(left, b...)
			for _, w := range work {
				left = append(left, w...)
			}
			return left
		}
	}
	return nil
}

// send posts b until the receiver answers 2xx (delivered), 413 (tooLarge)
// or another status retrying cannot fix (rejected, with the error), or the
// sink is aborted.
func (s *HTTPSink) send(b []*pending) (outcome, error) {
	body := make([]byte, 0, 2+len(b)*512)
	body = append(body, '[')
	for i, p := range b {
		if i > 0 {
			body = append(body, ',')
		}
		body = append(body, p.event...)
	}
	body = append(body, ']')

	for attempt := 0; ; attempt++ {
		status, retryAfter, snippet, err := s.post(body)
		if s.sendCtx.Err() != nil {
			return aborted, nil
		}
		switch {
		case err == nil && status >= 200 && status < 300:
			return delivered, nil
		case err == nil && status == http.StatusRequestEntityTooLarge:
			if len(b) == 1 {
				s.log.Error("audit: HTTP receiver refused a record as too large, dropping it",
					"status", status, "id", b[0].id, "tenant", b[0].tenant, "body", snippet)
				return tooLarge, fmt.Errorf("audit: record %s too large for the HTTP receiver (413), dropped", b[0].id)
			}
			s.log.Info("audit: HTTP receiver refused a batch as too large, splitting it", "records", len(b))
			return tooLarge, nil
		case err == nil && !retryable(status):
			s.log.Error("audit: HTTP receiver refused a batch, dropping it",
				"status", status, "records", len(b), "firstId", b[0].id, "body", snippet)
			return rejected, fmt.Errorf("audit: HTTP receiver refused the record's batch with status %d, dropped", status)
		}
		delay := retryDelay(s.opts.MinRetryDelay, s.opts.MaxRetryDelay, attempt, retryAfter, time.Now())
		// Log the first failure of a batch and then every tenth, not every
		// retry of an outage.
		if attempt%10 == 0 {
			if err != nil {
				s.log.Warn("audit: HTTP delivery failed, retrying", "error", err.Error(), "attempt", attempt+1, "records", len(b), "delay", delay)
			} else {
				s.log.Warn("audit: HTTP delivery failed, retrying", "status", status, "attempt", attempt+1, "records", len(b), "delay", delay)
			}
		}
		t := time.NewTimer(delay)
		select {
		case <-t.C:
		case <-s.sendCtx.Done():
			t.Stop()
			return aborted, nil
		}
		s.counters.HTTPRetried()
	}
}

// retryable tells whether a request answered with status may succeed when
// sent again.
func retryable(status int) bool {
	return status == http.StatusRequestTimeout || status == http.StatusTooManyRequests || status >= 500
}

// post sends body once. It returns the status, the Retry-After header, a
// short prefix of the response body (for logs) or the error. Errors never
// include the URL (it may hold a secret in its query) nor the token.
func (s *HTTPSink) post(body []byte) (status int, retryAfter, snippet string, err error) {
	ctx, cancel := context.WithTimeout(s.sendCtx, s.opts.RequestTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, "", "", errors.New("audit: building the request failed")
	}
	req.Header.Set("Content-Type", CloudEventsBatchContentType)
	if s.opts.BearerTokenFile != "" {
		tok, err := os.ReadFile(s.opts.BearerTokenFile)
		if err != nil {
			return 0, "", "", fmt.Errorf("audit: reading HTTPOptions.BearerTokenFile: %w", err)
		}
		req.Header.Set("Authorization", "Bearer "+strings.TrimSpace(string(tok)))
	}
	resp, err := s.client.Do(req)
	if err != nil {
		var uerr *url.Error
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return 0, "", "", err
	}
	defer resp.Body.Close()
	if resp.StatusCode < 200 || resp.StatusCode >= 300 {
		head, _ := io.ReadAll(io.LimitReader(resp.Body, maxEchoed+1))
		snippet = prefix(string(head), maxEchoed)
	}
	// Drain a little so the connection can be reused.
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	return resp.StatusCode, resp.Header.Get("Retry-After"), snippet, nil
}

// retryDelay returns how long to wait before the retry after attempt
// (0-based) failures: exponential from minDelay with jitter (between half
// and all of minDelay·2^attempt), or the Retry-After value (seconds or an
// HTTP date) when longer, never below minDelay nor above maxDelay.
func retryDelay(minDelay, maxDelay time.Duration, attempt int, retryAfter string, now time.Time) time.Duration {
	d := maxDelay
	if attempt < 62 {
		if b := minDelay << attempt; b > 0 && b>>attempt == minDelay && b < maxDelay {
			d = b
		}
	}
	d = d/2 + rand.N(d/2+1)
	if ra := parseRetryAfter(retryAfter, now); ra > d {
		d = ra
	}
	return min(max(d, minDelay), maxDelay)
}

// parseRetryAfter returns the delay a Retry-After header asks for, 0 when
// it is absent, invalid or in the past.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64((1<<62)/time.Second) {
			return time.Duration(1 << 62)
		}
		return time.Duration(secs) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}
