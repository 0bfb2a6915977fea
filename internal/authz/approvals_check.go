package authz

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// serveApprovalCheck answers whether the subject may approve the record
// now (/v1/approvals/check).
func (h *Handler) serveApprovalCheck(w http.ResponseWriter, r *http.Request, st *state, tenant string, _ *Caller) {
	t := &st.req.top
	snap, ok := h.entry(w, r, tenant, t.minRevision)
	if !ok {
		return
	}
	ad := snap.Within(&st.budget).CanApprove(t.sub, t.res)
	if h.overBudget(w, st) {
		return
	}
	h.writeJSON(w, snap, struct {
		Revision string `json:"revision"`
		snapshot.ApprovalDecision
	}{revisionOf(snap), ad})
}
