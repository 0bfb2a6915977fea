package authz

import "net/http"

// serveSearchAction answers what the subject may do on the resource
// (AuthZEN action search), paged by action name.
func (h *Handler) serveSearchAction(w http.ResponseWriter, r *http.Request, st *state, tenant string, _ *Caller) {
	req := &st.req
	t := &req.top
	snap, ok := h.entry(w, r, tenant, t.minRevision)
	if !ok {
		return
	}
	acts := snap.Within(&st.budget).Actions(t.sub, t.res)
	if h.overBudget(w, st) {
		return
	}
	page, po, ok := h.pageByKey(w, tenant, req, acts)
	if !ok {
		return
	}
	res := make([]actionResult, len(page))
	for i, a := range page {
		res[i] = actionResult{Name: a}
	}
	h.writeJSON(w, snap, searchOut[actionResult]{Results: res, Page: po, Context: map[string]any{"revision": revisionOf(snap)}})
}
