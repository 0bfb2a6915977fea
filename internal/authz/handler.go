package authz

import (
	"context"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
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
	failures *failureLimiter                     // nil: failures are not limited
	revs     atomic.Pointer[map[string][]string] // revision -> the header value
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
	// Keyed by revision, not by snapshot: a snapshot pointer would keep
	// every replaced snapshot of a churning tenant alive (each can be
	// megabytes) until the cache is reset.
	rev := s.Revision()
	if v, ok := (*h.revs.Load())[rev]; ok {
		return v
	}
	h.revM.Lock()
	defer h.revM.Unlock()
	old := *h.revs.Load()
	if v, ok := old[rev]; ok {
		return v
	}
	next := make(map[string][]string, len(old)+1)
	if len(old) < 4096 {
		for k, v := range old {
			next[k] = v
		}
	}
	v := []string{rev}
	next[rev] = v
	h.revs.Store(&next)
	return v
}

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var tr *reqTrace // nil: not traced (tracing.go)
	if h.opts.Tracer != nil {
		tr, r = h.startTrace(r)
	}
	var start time.Time
	if h.opts.Observer != nil {
		start = time.Now()
	}
	sw := h.writers.Get().(*statusWriter)
	sw.ResponseWriter, sw.status, sw.seats = w, 0, nil
	ep := h.serve(sw, r, tr)
	sw.freeSeat()
	if tr != nil {
		tr.end(sw.status)
	}
	if h.opts.Observer != nil {
		status := sw.status
		if status == 0 {
			status = http.StatusOK // nothing written: net/http answers 200
		}
		h.opts.Observer.ObserveRequest(endpoints[ep].metric, status, time.Since(start))
	}
	sw.ResponseWriter = nil
	h.writers.Put(sw)
}

// serve answers one request and returns the endpoint it routed to. The
// order is the order of cost: the route and the source's failure budget
// (free), the caller and the tenant (cached reviews), the body (memory,
// from the byte budget), then a seat (CPU, shared fairly), then the work
// (bounded by the request's budget).
func (h *Handler) serve(w *statusWriter, r *http.Request, tr *reqTrace) endpoint {
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
	spec := &endpoints[rt.ep]
	if spec.get {
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
	if rt.ep == epOpenAPI {
		h.serveOpenAPI(w)
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
	if msg := missingPart(&st.req.top, spec.needs); msg != "" {
		h.badRequest(w, rt.tenant, msg)
		return rt.ep
	}
	spec.serve(h, w, r, st, rt.tenant, caller)
	if tr != nil {
		tr.record(rt.ep, st)
	}
	return rt.ep
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
