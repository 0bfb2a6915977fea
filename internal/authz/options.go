package authz

import (
	"errors"
	"fmt"
	"runtime"
	"strings"
	"time"

	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Defaults of Options.
const (
	DefaultMaxBodyBytes    = 1 << 20
	DefaultMaxBatch        = 1000
	DefaultMinRevisionWait = 2 * time.Second
	DefaultMaxDepth        = 32
	DefaultPageLimit       = 100
	DefaultMaxPageLimit    = 1000
	DefaultMaxCandidates   = 1000

	// DefaultMaxBytesInFlight bounds the request bytes all requests in
	// flight buffer together, DefaultMaxBytesPerCaller one caller's share.
	DefaultMaxBytesInFlight  = 64 << 20
	DefaultMaxBytesPerCaller = 16 << 20
	// DefaultMaxRequestCost is the cost units (condition evaluations and
	// comprehension steps, see snapshot.Budget) one request's conditions
	// may spend together, DefaultMaxConditionTime the time.
	DefaultMaxRequestCost   = 1_000_000
	DefaultMaxConditionTime = 20 * time.Millisecond
	// By default one request fewer than GOMAXPROCS works at once (at
	// least one, see defaultMaxInFlight); the others queue fairly
	// (DefaultMaxQueuePerFlow per caller and tenant, DefaultMaxQueue in
	// all) for at most DefaultQueueWait.
	DefaultMaxQueuePerFlow = 256
	DefaultMaxQueue        = 1024
	DefaultQueueWait       = 500 * time.Millisecond
	// DefaultFailedAuthRate and DefaultFailedAuthBurst limit failed
	// authentications and tenant authorizations per source address (per
	// second, and in a burst).
	DefaultFailedAuthRate  = 5
	DefaultFailedAuthBurst = 20
	// maxFailureSources bounds the source addresses remembered.
	maxFailureSources = 10_000
)

// Options configure a Handler. The zero value of each field means its
// default, except Authenticator and TenantAuthorizer, which must be set
// explicitly (use None{} for development) so that nobody serves decisions
// unauthenticated by accident.
type Options struct {
	// Authenticator turns the caller's bearer token into an identity.
	Authenticator Authenticator
	// TenantAuthorizer decides whether a caller may query a tenant.
	TenantAuthorizer TenantAuthorizer

	// DefaultTenant, when set, is also served at the root (/access/v1/...,
	// /v1/..., /.well-known/authzen-configuration), for single-tenant
	// applications and plain AuthZEN clients.
	DefaultTenant string

	// MaxBodyBytes bounds request bodies (default 1 MiB); larger bodies get
	// 413.
	MaxBodyBytes int64
	// MaxBatch bounds the evaluations of one batch request (default 1,000);
	// larger batches get 400.
	MaxBatch int
	// MaxDepth bounds JSON nesting (default 32).
	MaxDepth int
	// MaxCandidates bounds context.candidates of a resource search (default
	// 1,000).
	MaxCandidates int
	// DefaultPageLimit and MaxPageLimit size search result pages (defaults
	// 100 and 1,000).
	DefaultPageLimit, MaxPageLimit int

	// MinRevisionWait bounds how long a request carrying
	// context.minRevision waits for that snapshot revision (default 2 s);
	// after it the answer is 503 with Retry-After.
	MinRevisionWait time.Duration

	// BaseURL is the externally visible scheme://host[:port] of the server,
	// used for the endpoint URLs of discovery metadata. When empty they are
	// derived from the request (Host header, TLS or not).
	BaseURL string

	// DecisionLog receives sampled decision records, as audit records of
	// event "decision" (nil: no decision log). Give it the audit trail.
	DecisionLog DecisionSink
	// DecisionLogSampleRate is the fraction of decisions logged, 0 to 1.
	DecisionLogSampleRate float64

	// Observer, when set, is told about every request and decision (for
	// metrics). nil observes nothing and costs nothing.
	Observer Observer

	// Tracer, when set, traces every request: one span named after the
	// endpoint (EndpointNames), continuing the caller's W3C trace context
	// (traceparent, tracestate), with the TraceAttr* attributes. nil
	// traces nothing and costs nothing: the request path never calls
	// OpenTelemetry.
	Tracer trace.Tracer

	// MaxBytesInFlight bounds the request body bytes all requests being
	// read hold together (default 64 MiB), MaxBytesPerCaller one caller's
	// share (default 16 MiB); beyond them a request gets 429.
	MaxBytesInFlight, MaxBytesPerCaller int64
	// MaxRequestCost bounds the cost all conditions of one request spend
	// together (default 1,000,000 units: one per condition evaluation and
	// per comprehension step, see snapshot.Budget), MaxConditionTime the
	// time they run (default 20 ms). A request that needs more gets 422
	// and no partial answer.
	MaxRequestCost   int64
	MaxConditionTime time.Duration
	// MaxInFlight is how many requests are decoded and evaluated at once
	// (default GOMAXPROCS-1, at least 1). Beyond it requests queue per flow
	// (caller and tenant), at most MaxQueuePerFlow per flow (default 256)
	// and MaxQueue in all (default 1,024), for at most QueueWait (default
	// 500 ms); freed seats go to the queued flows in turn, and a long
	// request hands its seat on every 100 µs of work while others wait.
	// A request that finds its queue full or waits too long
	// gets 429 with Retry-After.
	MaxInFlight, MaxQueuePerFlow, MaxQueue int
	QueueWait                              time.Duration
	// FailedAuthRate and FailedAuthBurst limit the failed authentications
	// and tenant authorizations (401, 403) per source address: per second
	// (default 5) after a burst (default 20). A source beyond them gets 429
	// before its credentials are looked at. A negative rate disables it.
	FailedAuthRate  float64
	FailedAuthBurst int

	// SAR says which Kubernetes requests POST /subjectaccessreview
	// answers from tenant policy (default: the resources of
	// DefaultSARGroup as modules); everything else gets no opinion.
	SAR SAROptions
}

// New returns a Handler serving st. It fails when Options lack an
// Authenticator or TenantAuthorizer.
func New(st *store.Store, opts Options) (*Handler, error) {
	if st == nil {
		return nil, errors.New("authz: nil store")
	}
	if opts.Authenticator == nil || opts.TenantAuthorizer == nil {
		return nil, errors.New("authz: Options.Authenticator and Options.TenantAuthorizer are required (use authz.None{} only for development)")
	}
	orDefault(&opts.MaxBodyBytes, DefaultMaxBodyBytes)
	orDefault(&opts.MaxBatch, DefaultMaxBatch)
	orDefault(&opts.MaxDepth, DefaultMaxDepth)
	orDefault(&opts.MaxCandidates, DefaultMaxCandidates)
	orDefault(&opts.DefaultPageLimit, DefaultPageLimit)
	orDefault(&opts.MaxPageLimit, DefaultMaxPageLimit)
	if opts.DefaultPageLimit > opts.MaxPageLimit {
		opts.DefaultPageLimit = opts.MaxPageLimit
	}
	orDefault(&opts.MinRevisionWait, DefaultMinRevisionWait)
	if opts.DefaultTenant != "" && !validTenant(opts.DefaultTenant) {
		return nil, fmt.Errorf("authz: default tenant %q is not a valid namespace name", opts.DefaultTenant)
	}
	if err := opts.SAR.validate(); err != nil {
		return nil, err
	}
	orDefault(&opts.MaxBytesInFlight, DefaultMaxBytesInFlight)
	orDefault(&opts.MaxBytesPerCaller, DefaultMaxBytesPerCaller)
	orDefault(&opts.MaxRequestCost, DefaultMaxRequestCost)
	orDefault(&opts.MaxInFlight, defaultMaxInFlight())
	orDefault(&opts.MaxQueuePerFlow, DefaultMaxQueuePerFlow)
	orDefault(&opts.MaxQueue, DefaultMaxQueue)
	orDefault(&opts.FailedAuthBurst, DefaultFailedAuthBurst)
	orDefault(&opts.QueueWait, DefaultQueueWait)
	orDefault(&opts.MaxConditionTime, DefaultMaxConditionTime)
	if opts.FailedAuthRate == 0 {
		opts.FailedAuthRate = DefaultFailedAuthRate
	}
	if opts.MaxBytesPerCaller > opts.MaxBytesInFlight {
		opts.MaxBytesPerCaller = opts.MaxBytesInFlight
	}
	if opts.MaxBytesPerCaller < opts.MaxBodyBytes+1 {
		return nil, fmt.Errorf("authz: MaxBytesPerCaller (%d) must hold at least one body of MaxBodyBytes (%d)", opts.MaxBytesPerCaller, opts.MaxBodyBytes)
	}
	opts.BaseURL = strings.TrimRight(opts.BaseURL, "/")
	h := &Handler{
		store: st,
		opts:  opts,
		lim:   limits{maxDepth: opts.MaxDepth, maxBatch: opts.MaxBatch},
		log:   newDecisionLog(opts.DecisionLog, opts.DecisionLogSampleRate),
	}
	h.seats = newFairLimiter(opts.MaxInFlight, opts.MaxQueuePerFlow, opts.MaxQueue, opts.QueueWait)
	h.bytes = newByteBudget(opts.MaxBytesInFlight, opts.MaxBytesPerCaller)
	if opts.FailedAuthRate > 0 {
		h.failures = newFailureLimiter(opts.FailedAuthRate, opts.FailedAuthBurst, maxFailureSources)
	}
	h.pool.New = func() any {
		st := &state{}
		// One closure per pooled state, none per request.
		st.budget.SetPause(func() { h.pause(st) })
		return st
	}
	h.writers.New = func() any { return &statusWriter{} }
	empty := map[string][]string{}
	h.revs.Store(&empty)
	return h, nil
}

// defaultMaxInFlight leaves one processor without a seat: while every seat
// runs costly work, the Go scheduler would otherwise look at the network
// only every 10 ms (sysmon), so a new request, however cheap, would wait
// that long before it could even queue. With a processor free, it is read
// at once and gets a seat within a quantum (seatQuantum).
func defaultMaxInFlight() int { return max(1, runtime.GOMAXPROCS(0)-1) }

// orDefault sets *p to v when it is zero or negative (the options' "unset").
func orDefault[T ~int | ~int64](p *T, v T) {
	if *p <= 0 {
		*p = v
	}
}
