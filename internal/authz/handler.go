package authz

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
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

// RevisionHeader is the response header carrying the revision of the
// snapshot that answered (empty when the tenant has none).
const RevisionHeader = "Gatehouse-Revision"

const (
	requestIDHeader         = "X-Request-Id" // canonical form of X-Request-ID
	maxPooledBuffer         = 64 << 10       // larger buffers are not kept in the pool
	wellKnownAuthZEN        = ".well-known/authzen-configuration"
	tenantsPrefix           = "/tenants/"
	subjectAccessReviewPath = "/subjectaccessreview"
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

	// DecisionLog receives sampled decision records (nil: no decision log).
	DecisionLog *slog.Logger
	// DecisionLogSampleRate is the fraction of decisions logged, 0 to 1.
	DecisionLogSampleRate float64

	// Observer, when set, is told about every request and decision (for
	// metrics). nil observes nothing and costs nothing.
	Observer Observer

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

// Handler serves the authorization APIs over a snapshot store: AuthZEN 1.0
// evaluation, evaluations and search, discovery metadata, the native
// fields, plan and approval endpoints, and the Kubernetes
// SubjectAccessReview webhook. It is safe for concurrent use.
type Handler struct {
	store *store.Store
	opts  Options
	lim   limits
	log   *decisionLog

	pool     sync.Pool // *state
	writers  sync.Pool // *statusWriter
	seats    *fairLimiter
	bytes    *byteBudget
	failures *failureLimiter // nil: failures are not limited
	revs     atomic.Pointer[map[*snapshot.Snapshot][]string]
	revM     sync.Mutex
}

// state is the per-request scratch the pool recycles: body buffer,
// response buffer and decoded request.
type state struct {
	body []byte
	out  []byte
	req  request
	dec  decisionOut
	q    snapshot.Request
	// budget bounds the request's condition work; q.Budget points at it.
	budget snapshot.Budget
	// held bytes of the byte budget, reserved for caller.
	held   int64
	caller string
	// sw is the request's writer, flow its seat's flow and seatAt when
	// it last got its seat (see share).
	sw     *statusWriter
	flow   flowKey
	seatAt time.Time
	ctx    context.Context
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
	if opts.MaxBodyBytes <= 0 {
		opts.MaxBodyBytes = DefaultMaxBodyBytes
	}
	if opts.MaxBatch <= 0 {
		opts.MaxBatch = DefaultMaxBatch
	}
	if opts.MaxDepth <= 0 {
		opts.MaxDepth = DefaultMaxDepth
	}
	if opts.MaxCandidates <= 0 {
		opts.MaxCandidates = DefaultMaxCandidates
	}
	if opts.DefaultPageLimit <= 0 {
		opts.DefaultPageLimit = DefaultPageLimit
	}
	if opts.MaxPageLimit <= 0 {
		opts.MaxPageLimit = DefaultMaxPageLimit
	}
	if opts.DefaultPageLimit > opts.MaxPageLimit {
		opts.DefaultPageLimit = opts.MaxPageLimit
	}
	if opts.MinRevisionWait <= 0 {
		opts.MinRevisionWait = DefaultMinRevisionWait
	}
	if opts.DefaultTenant != "" && !validTenant(opts.DefaultTenant) {
		return nil, fmt.Errorf("authz: default tenant %q is not a valid namespace name", opts.DefaultTenant)
	}
	if err := opts.SAR.validate(); err != nil {
		return nil, err
	}
	defInt64(&opts.MaxBytesInFlight, DefaultMaxBytesInFlight)
	defInt64(&opts.MaxBytesPerCaller, DefaultMaxBytesPerCaller)
	defInt64(&opts.MaxRequestCost, DefaultMaxRequestCost)
	defInt(&opts.MaxInFlight, defaultMaxInFlight())
	defInt(&opts.MaxQueuePerFlow, DefaultMaxQueuePerFlow)
	defInt(&opts.MaxQueue, DefaultMaxQueue)
	defInt(&opts.FailedAuthBurst, DefaultFailedAuthBurst)
	if opts.QueueWait <= 0 {
		opts.QueueWait = DefaultQueueWait
	}
	if opts.MaxConditionTime <= 0 {
		opts.MaxConditionTime = DefaultMaxConditionTime
	}
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
	empty := map[*snapshot.Snapshot][]string{}
	h.revs.Store(&empty)
	return h, nil
}

// defaultMaxInFlight leaves one processor without a seat: while every seat
// runs costly work, the Go scheduler would otherwise look at the network
// only every 10 ms (sysmon), so a new request, however cheap, would wait
// that long before it could even queue. With a processor free, it is read
// at once and gets a seat within a quantum (seatQuantum).
func defaultMaxInFlight() int { return max(1, runtime.GOMAXPROCS(0)-1) }

func defInt(p *int, v int) {
	if *p <= 0 {
		*p = v
	}
}

func defInt64(p *int64, v int64) {
	if *p <= 0 {
		*p = v
	}
}

// Shared header values. net/http only reads header slices when writing the
// response, and cap == len makes any append by a wrapper copy, so sharing
// them saves an allocation per response.
var (
	hdrJSON      = []string{"application/json"}
	hdrNoStore   = []string{"no-store"}
	hdrNoRev     = []string{""}
	hdrRetry     = []string{"1"}
	hdrBearer    = []string{`Bearer realm="gatehouse"`}
	hdrAllowPost = []string{"POST"}
	hdrAllowGet  = []string{"GET, HEAD"}
)

// revisionHeader returns the Gatehouse-Revision header value of a snapshot,
// cached per snapshot so that serving it allocates nothing.
func (h *Handler) revisionHeader(s *snapshot.Snapshot) []string {
	if s == nil {
		return hdrNoRev
	}
	if v, ok := (*h.revs.Load())[s]; ok {
		return v
	}
	h.revM.Lock()
	defer h.revM.Unlock()
	old := *h.revs.Load()
	if v, ok := old[s]; ok {
		return v
	}
	// Snapshots are replaced, not accumulated: start over rather than
	// keep headers of snapshots nobody serves any more.
	next := make(map[*snapshot.Snapshot][]string, len(old)+1)
	if len(old) < 256 {
		for k, v := range old {
			next[k] = v
		}
	}
	v := []string{s.Revision()}
	next[s] = v
	h.revs.Store(&next)
	return v
}

// route is the result of matching a path.
type route struct {
	tenant string
	ep     endpoint
}

// match maps a path to a tenant and endpoint.
func (h *Handler) match(path string) (route, bool) {
	if path == subjectAccessReviewPath {
		return route{ep: epSAR}, true
	}
	var tenant, rest string
	switch {
	case strings.HasPrefix(path, tenantsPrefix):
		p := path[len(tenantsPrefix):]
		i := strings.IndexByte(p, '/')
		if i <= 0 {
			return route{}, false
		}
		tenant, rest = p[:i], p[i+1:]
	case strings.HasPrefix(path, "/"+wellKnownAuthZEN+tenantsPrefix):
		// RFC 8615 form: the well-known segment goes between host and
		// the PDP identifier's path (https://host/tenants/ns).
		tenant = path[len("/"+wellKnownAuthZEN+tenantsPrefix):]
		if strings.IndexByte(tenant, '/') >= 0 {
			return route{}, false
		}
		rest = wellKnownAuthZEN
	default:
		if h.opts.DefaultTenant == "" {
			return route{}, false
		}
		tenant, rest = h.opts.DefaultTenant, path[1:]
	}
	if !validTenant(tenant) {
		return route{}, false
	}
	var ep endpoint
	switch rest {
	case "access/v1/evaluation":
		ep = epEvaluation
	case "access/v1/evaluations":
		ep = epEvaluations
	case "access/v1/search/subject":
		ep = epSearchSubject
	case "access/v1/search/action":
		ep = epSearchAction
	case "access/v1/search/resource":
		ep = epSearchResource
	case "v1/fields":
		ep = epFields
	case "v1/plan":
		ep = epPlan
	case "v1/approvals/plan":
		ep = epApprovalPlan
	case "v1/approvals/check":
		ep = epApprovalCheck
	case wellKnownAuthZEN:
		ep = epDiscovery
	default:
		return route{}, false
	}
	return route{tenant: tenant, ep: ep}, true
}

// validTenant accepts Kubernetes namespace names (RFC 1123 labels).
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

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var start time.Time
	if h.opts.Observer != nil {
		start = time.Now()
	}
	sw := h.writers.Get().(*statusWriter)
	sw.ResponseWriter, sw.status, sw.seats = w, 0, nil
	ep := h.serve(sw, r)
	sw.freeSeat()
	if h.opts.Observer != nil {
		status := sw.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http answers 200
		}
		h.opts.Observer.ObserveRequest(endpointNames[ep], status, time.Since(start))
	}
	sw.ResponseWriter = nil
	h.writers.Put(sw)
}

// serve answers one request and returns the endpoint it routed to. The
// order is the order of cost: the route and the source's failure budget
// (free), the caller and the tenant (cached reviews), the body (memory,
// from the byte budget), then a seat (CPU, shared fairly), then the work
// (bounded by the request's budget).
func (h *Handler) serve(w *statusWriter, r *http.Request) endpoint {
	hdr := w.Header()
	if id, ok := r.Header[requestIDHeader]; ok {
		hdr[requestIDHeader] = id
	}
	hdr["Content-Type"] = hdrJSON
	hdr["Cache-Control"] = hdrNoStore

	rt, ok := h.match(r.URL.Path)
	if !ok {
		h.fail(w, http.StatusNotFound, "no such endpoint")
		return epUnknown
	}
	if rt.ep == epDiscovery {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			hdr["Allow"] = hdrAllowGet
			h.fail(w, http.StatusMethodNotAllowed, "use GET")
			return rt.ep
		}
	} else if r.Method != http.MethodPost {
		hdr["Allow"] = hdrAllowPost
		h.fail(w, http.StatusMethodNotAllowed, "use POST")
		return rt.ep
	}
	src := ""
	if h.failures != nil {
		src = sourceOf(r.RemoteAddr)
		if h.failures.blocked(src) {
			h.reject(w, rejectedAuthFailures, "too many failed authentications from this address; retry later")
			return rt.ep
		}
	}
	caller, status, msg := h.authenticate(r)
	if caller == nil {
		if status == http.StatusUnauthorized {
			hdr["Www-Authenticate"] = hdrBearer
			h.failed(src)
		} else {
			hdr["Retry-After"] = hdrRetry
		}
		h.fail(w, status, msg)
		return rt.ep
	}
	if rt.ep == epSAR {
		h.serveSAR(w, r, caller)
		return rt.ep
	}
	if !h.tenantAllowed(w, r, caller, rt.tenant, src) {
		return rt.ep
	}
	if rt.ep == epDiscovery {
		h.serveDiscovery(w, r, rt.tenant)
		return rt.ep
	}
	if ct := r.Header["Content-Type"]; len(ct) > 0 && !isJSON(ct[0]) {
		h.fail(w, http.StatusUnsupportedMediaType, "Content-Type must be application/json")
		return rt.ep
	}

	st := h.pool.Get().(*state)
	defer h.put(st)
	if !h.takeBody(w, r, st, caller) || !h.takeSeat(w, r, st, caller, rt.tenant) {
		return rt.ep
	}
	st.budget.Reset(r.Context(), h.opts.MaxRequestCost, h.opts.MaxConditionTime)
	if derr := st.req.decode(st.body, rt.ep, h.lim); derr != nil {
		h.badRequest(w, rt.tenant, derr.Error())
		return rt.ep
	}
	switch rt.ep {
	case epEvaluation:
		h.serveEvaluation(w, r, st, rt.tenant, caller)
	case epEvaluations:
		h.serveEvaluations(w, r, st, rt.tenant, caller)
	default:
		h.serveNative(w, r, st, rt)
	}
	return rt.ep
}

// tenantAllowed authorizes the caller for the tenant, answering the
// refusal itself; a denial counts as a failure of the source.
func (h *Handler) tenantAllowed(w http.ResponseWriter, r *http.Request, caller *Caller, tenant, src string) bool {
	status, msg := h.authorizeTenant(r.Context(), caller, tenant)
	switch status {
	case 0:
		return true
	case http.StatusServiceUnavailable:
		w.Header()["Retry-After"] = hdrRetry
	case http.StatusForbidden:
		h.failed(src)
	}
	h.fail(w, status, msg)
	return false
}

// failed spends one of the source's failures.
func (h *Handler) failed(src string) {
	if h.failures != nil {
		h.failures.fail(src)
	}
}

// takeBody reads the body into st, answering a refusal itself.
func (h *Handler) takeBody(w http.ResponseWriter, r *http.Request, st *state, caller *Caller) bool {
	body, held, why := h.readBody(r, st.body, caller.Key)
	st.body, st.held, st.caller = body, held, caller.Key
	switch why {
	case bodyRead:
		return true
	case bodyTooLarge:
		h.fail(w, http.StatusRequestEntityTooLarge, "request body larger than "+itoa(int(h.opts.MaxBodyBytes))+" bytes")
	case bodyNoBudget:
		h.reject(w, rejectedBytes, "too many request bytes in flight; retry later")
	default:
		h.fail(w, http.StatusBadRequest, "cannot read request body")
	}
	return false
}

// takeSeat waits for a seat for the flow (caller, tenant), answering a
// refusal itself. The seat is freed when the answer starts (statusWriter),
// so a slow reader does not hold it.
func (h *Handler) takeSeat(w *statusWriter, r *http.Request, st *state, caller *Caller, tenant string) bool {
	st.sw, st.flow, st.ctx = w, flowKey{caller.Key, tenant}, r.Context()
	a, waited := h.seats.acquire(r.Context(), st.flow)
	if waited > 0 && h.opts.Observer != nil {
		h.opts.Observer.ObserveQueued(waited)
	}
	switch a {
	case admitted:
		w.seats = h.seats
		st.seatAt = time.Now()
		return true
	case rejectFull:
		h.reject(w, rejectedQueueFull, "too many requests in flight; retry later")
	case rejectWaited:
		h.reject(w, rejectedQueueWait, "too many requests in flight; retry later")
	default:
		h.reject(w, rejectedGone, "request cancelled while queued")
	}
	return false
}

// seatQuantum is how long a request works on its seat before it lets
// queued flows have it (share): short enough that a cheap request queued
// behind costly ones waits a fraction of a millisecond, long enough that
// handing over (a lock and a goroutine switch, about a microsecond) costs
// under 1%.
const seatQuantum = 100 * time.Microsecond

// share is called between the items of a long request (batches, resource
// search): once it has held its seat for seatQuantum and other requests
// are queued, it hands the seat on and queues for it again, so that a
// costly request costs other flows one quantum of waiting, not its whole
// run. When the request's context ends meanwhile, it holds no seat and
// its budget stops it.
func (h *Handler) share(st *state) {
	if st.sw == nil || st.sw.seats == nil {
		return
	}
	now := time.Now()
	if now.Sub(st.seatAt) < seatQuantum {
		return
	}
	if !h.seats.yield(st.ctx, st.flow) {
		st.sw.seats = nil
		st.budget.Alive() // records the context's end
		return
	}
	st.seatAt = time.Now()
}

// pause is where long work lets others run: between batch items and
// candidates, every 256 comprehension steps and every 1,024 who-can
// members (snapshot.Budget). It yields the processor, so that a request
// that just got its seat runs now rather than after the scheduler's
// 10 ms preemption slice, and shares the seat (share).
func (h *Handler) pause(st *state) {
	runtime.Gosched()
	h.share(st)
}

// reject answers 429 with Retry-After and counts the refusal.
func (h *Handler) reject(w http.ResponseWriter, why rejection, msg string) {
	if h.opts.Observer != nil {
		h.opts.Observer.ObserveRejected(rejectionNames[why])
	}
	w.Header()["Retry-After"] = hdrRetry
	h.fail(w, http.StatusTooManyRequests, msg)
}

// overBudget answers a request whose budget ran out (422) or whose caller
// left; it reports whether it did.
func (h *Handler) overBudget(w http.ResponseWriter, st *state) bool {
	err := st.budget.Err()
	if err == nil {
		return false
	}
	if errors.Is(err, snapshot.ErrBudgetExceeded) {
		if h.opts.Observer != nil {
			h.opts.Observer.ObserveRejected(rejectionNames[rejectedBudget])
		}
		h.fail(w, http.StatusUnprocessableEntity, "request exceeds its condition budget ("+itoa(int(st.budget.Limit()))+" cost units or "+st.budget.TimeLimit().String()+" of evaluation); send fewer evaluations, candidates or list items")
		return true
	}
	// The caller left (or the server is shutting down): nobody reads
	// this answer.
	h.fail(w, http.StatusServiceUnavailable, "request cancelled")
	return true
}

func (h *Handler) put(st *state) {
	h.bytes.free(st.caller, st.held)
	st.held, st.caller = 0, ""
	st.sw, st.flow, st.seatAt, st.ctx = nil, flowKey{}, time.Time{}, nil
	st.budget.Reset(context.Background(), 0, 0)
	if cap(st.body) > maxPooledBuffer {
		st.body = nil
	}
	if cap(st.out) > maxPooledBuffer {
		st.out = nil
	}
	if cap(st.req.items) > 1024 {
		st.req.items = nil
	}
	if cap(st.req.candidates) > 128 {
		st.req.candidates = nil
	}
	st.req.reset(0)
	st.dec = decisionOut{}
	st.q = snapshot.Request{}
	h.pool.Put(st)
}

func isJSON(ct string) bool {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	ct = strings.TrimSpace(ct)
	return strings.EqualFold(ct, "application/json") || (strings.HasPrefix(strings.ToLower(ct), "application/") && strings.HasSuffix(strings.ToLower(ct), "+json"))
}

// authenticate returns the caller, or nil with the status and message of
// the refusal.
func (h *Handler) authenticate(r *http.Request) (*Caller, int, string) {
	token := ""
	if v := r.Header["Authorization"]; len(v) > 0 {
		a := v[0]
		if len(a) > 7 && strings.EqualFold(a[:7], "bearer ") {
			token = strings.TrimSpace(a[7:])
		}
	}
	c, err := h.opts.Authenticator.Authenticate(r.Context(), token)
	switch {
	case err == nil && c != nil:
		return c, 0, ""
	case err == nil || errors.Is(err, ErrUnauthenticated):
		return nil, http.StatusUnauthorized, "missing or invalid bearer token"
	default:
		// Not the caller's fault (e.g. the API server is unreachable):
		// deny, but tell the caller to retry.
		return nil, http.StatusServiceUnavailable, "authentication unavailable"
	}
}

func (h *Handler) authorizeTenant(ctx context.Context, c *Caller, tenant string) (int, string) {
	ok, err := h.opts.TenantAuthorizer.AuthorizeTenant(ctx, c, tenant)
	switch {
	case err != nil:
		return http.StatusServiceUnavailable, "tenant authorization unavailable"
	case !ok:
		return http.StatusForbidden, "caller may not query tenant " + tenant
	}
	return 0, ""
}

// fail writes an error response.
func (h *Handler) fail(w http.ResponseWriter, status int, msg string) {
	hdr := w.Header()
	if _, ok := hdr[RevisionHeader]; !ok {
		hdr[RevisionHeader] = hdrNoRev
	}
	w.WriteHeader(status)
	var buf [256]byte
	w.Write(appendError(buf[:0], msg))
}

// badRequest writes a 400 that still carries the tenant's revision.
func (h *Handler) badRequest(w http.ResponseWriter, tenant, msg string) {
	w.Header()[RevisionHeader] = h.revisionHeader(h.store.Snapshot(tenant))
	h.fail(w, http.StatusBadRequest, msg)
}

// entry returns the tenant's snapshot, waiting for minRevision when asked.
// It returns ok=false after writing a 503 when the revision did not show up
// in time.
//
// Revisions are content hashes, not counters, so "at least" cannot be
// computed: a request waits until the served revision equals minRevision.
// A caller that wrote policy and then asks with the revision the
// PermissionSnapshot status reported gets a decision from that policy or
// a 503, never a stale decision.
func (h *Handler) entry(w http.ResponseWriter, r *http.Request, tenant, minRevision string) (*snapshot.Snapshot, bool) {
	e := h.store.Get(tenant)
	if minRevision == "" || (e != nil && e.Snapshot != nil && e.Snapshot.Revision() == minRevision) {
		if e == nil {
			return nil, true
		}
		return e.Snapshot, true
	}
	ctx, cancel := context.WithTimeout(r.Context(), h.opts.MinRevisionWait)
	defer cancel()
	e, err := h.store.WaitFor(ctx, tenant, func(e *store.Entry) bool {
		return e != nil && e.Snapshot != nil && e.Snapshot.Revision() == minRevision
	})
	if err != nil {
		var cur *snapshot.Snapshot
		if e != nil {
			cur = e.Snapshot
		}
		w.Header()[RevisionHeader] = h.revisionHeader(cur)
		w.Header()["Retry-After"] = hdrRetry
		h.fail(w, http.StatusServiceUnavailable, "context.minRevision: revision "+shortValue(minRevision)+" is not served yet")
		return nil, false
	}
	return e.Snapshot, true
}

// wantExplain reports whether the query asks for ?explain=true.
func wantExplain(r *http.Request) bool {
	q := r.URL.RawQuery
	if q == "" {
		return false
	}
	for q != "" {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		if kv == "explain=true" || kv == "explain=1" || kv == "explain" {
			return true
		}
	}
	return false
}

// checkTuple validates a complete evaluation tuple; the message names the
// missing field.
func checkTuple(t *tuple) string {
	switch {
	case t.has&hasSubject == 0:
		return "subject: required"
	case t.sub.ID == "":
		return "subject.id: required"
	case t.has&hasAction == 0:
		return "action: required"
	case t.action == "":
		return "action.name: required"
	case t.has&hasResource == 0:
		return "resource: required"
	case t.res.Type == "":
		return "resource.type: required"
	}
	return ""
}

func (h *Handler) serveEvaluation(w http.ResponseWriter, r *http.Request, st *state, tenant string, caller *Caller) {
	t := &st.req.top
	if msg := checkTuple(t); msg != "" {
		h.badRequest(w, tenant, msg)
		return
	}
	start := time.Now()
	snap, ok := h.entry(w, r, tenant, t.minRevision)
	if !ok {
		return
	}
	st.q = snapshot.Request{Subject: t.sub, Action: t.action, Resource: t.res, Context: t.ctx, Budget: &st.budget}
	q := &st.q
	o := &st.dec
	o.d = snap.Check(q)
	if h.overBudget(w, st) {
		return
	}
	o.explain = wantExplain(r)
	o.fields = snapshot.FieldAccessResult{}
	if o.d.Allowed {
		o.fields = snap.Fields(q)
	}
	if snap == nil {
		o.revision = ""
	} else {
		o.revision = snap.Revision()
	}
	st.out = appendDecision(st.out[:0], o)
	w.Header()[RevisionHeader] = h.revisionHeader(snap)
	w.Write(st.out)
	h.log.decision(r, tenant, caller, q, &o.d, o.revision, start)
	if o.d.Allowed {
		h.observeDecisions(1, 0)
	} else {
		h.observeDecisions(0, 1)
	}
}

func (h *Handler) serveEvaluations(w http.ResponseWriter, r *http.Request, st *state, tenant string, caller *Caller) {
	req := &st.req
	top := &req.top
	minRev := top.minRevision
	for i := range req.items {
		if mr := req.items[i].minRevision; mr != "" {
			if minRev != "" && mr != minRev {
				h.badRequest(w, tenant, "evaluations["+itoa(i)+"].context.minRevision: conflicts with another minRevision of the request")
				return
			}
			minRev = mr
		}
	}
	if len(req.items) == 0 {
		// No evaluations array: behaves as a single evaluation (AuthZEN
		// 1.0, backwards compatibility), answered in the evaluation shape.
		if msg := checkTuple(top); msg != "" {
			h.badRequest(w, tenant, msg)
			return
		}
	}
	// Fill every item from the defaults before deciding anything, so that
	// an incomplete item is a 400 for the whole request, not a silent
	// deny.
	for i := range req.items {
		it := &req.items[i]
		if it.has&hasSubject == 0 && top.has&hasSubject != 0 {
			it.sub = top.sub
			it.has |= hasSubject
		}
		if it.has&hasAction == 0 && top.has&hasAction != 0 {
			it.action = top.action
			it.has |= hasAction
		}
		if it.has&hasResource == 0 && top.has&hasResource != 0 {
			it.res = top.res
			it.has |= hasResource
		}
		if it.has&hasContext == 0 && top.has&hasContext != 0 {
			it.ctx = top.ctx
			it.has |= hasContext
		}
		if msg := checkTuple(it); msg != "" {
			h.badRequest(w, tenant, "evaluations["+itoa(i)+"]."+msg)
			return
		}
	}
	start := time.Now()
	snap, ok := h.entry(w, r, tenant, minRev)
	if !ok {
		return
	}
	rev := ""
	if snap != nil {
		rev = snap.Revision()
	}
	explain := wantExplain(r)
	o := &st.dec
	out := st.out[:0]
	allowed, denied := 0, 0
	if len(req.items) == 0 {
		st.q = snapshot.Request{Subject: top.sub, Action: top.action, Resource: top.res, Context: top.ctx, Budget: &st.budget}
		q := &st.q
		*o = decisionOut{d: snap.Check(q), revision: rev, explain: explain}
		if h.overBudget(w, st) {
			return
		}
		if o.d.Allowed {
			o.fields = snap.Fields(q)
		}
		out = appendDecision(out, o)
		h.log.decision(r, tenant, caller, q, &o.d, rev, start)
		if o.d.Allowed {
			allowed++
		} else {
			denied++
		}
	} else {
		out = append(out, `{"evaluations":[`...)
		for i := range req.items {
			// Items without conditions never look at the budget: look
			// at the context now and then.
			if i&15 == 15 {
				h.pause(st)
				if !st.budget.Alive() {
					break
				}
			}
			it := &req.items[i]
			st.q = snapshot.Request{Subject: it.sub, Action: it.action, Resource: it.res, Context: it.ctx, Budget: &st.budget}
			q := &st.q
			*o = decisionOut{d: snap.Check(q), explain: explain}
			if st.budget.Err() != nil {
				break
			}
			if o.d.Allowed {
				o.fields = snap.Fields(q)
			}
			if i > 0 {
				out = append(out, ',')
			}
			out = appendDecision(out, o)
			h.log.decision(r, tenant, caller, q, &o.d, rev, start)
			if o.d.Allowed {
				allowed++
			} else {
				denied++
			}
			if (req.semantic == semDenyOnFirstDeny && !o.d.Allowed) ||
				(req.semantic == semPermitOnFirstPermit && o.d.Allowed) {
				break
			}
		}
		out = append(out, `]}`...)
		if h.overBudget(w, st) {
			st.out = out
			return
		}
	}
	st.out = out
	w.Header()[RevisionHeader] = h.revisionHeader(snap)
	w.Write(out)
	h.observeDecisions(allowed, denied)
}
