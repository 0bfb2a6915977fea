package authz

import (
	"context"
	"errors"
	"net/http"
	"runtime"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

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
