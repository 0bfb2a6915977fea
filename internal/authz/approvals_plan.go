package authz

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// serveApprovalPlan answers the record's approval steps and their eligible
// approvers (/v1/approvals/plan).
func (h *Handler) serveApprovalPlan(w http.ResponseWriter, r *http.Request, st *state, tenant string, _ *Caller) {
	t := &st.req.top
	snap, ok := h.entry(w, r, tenant, t.minRevision)
	if !ok {
		return
	}
	ap := snap.Within(&st.budget).ApprovalPlan(t.res)
	if h.overBudget(w, st) {
		return
	}
	h.writeJSON(w, snap, struct {
		Revision string `json:"revision"`
		snapshot.ApprovalPlanResult
	}{revisionOf(snap), ap})
}
