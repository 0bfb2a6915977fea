package authz

import (
	"context"
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/authz/jsonscan"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

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
		h.fail(w, http.StatusServiceUnavailable, "context.minRevision: revision "+jsonscan.ShortValue(minRevision)+" is not served yet")
		return nil, false
	}
	return e.Snapshot, true
}
