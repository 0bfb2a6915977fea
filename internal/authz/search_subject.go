package authz

import (
	"net/http"
)

// serveSearchSubject answers who can perform the action on the resource
// (AuthZEN subject search), paged by subject id.
func (h *Handler) serveSearchSubject(w http.ResponseWriter, r *http.Request, st *state, tenant string, _ *Caller) {
	req := &st.req
	t := &req.top
	snap, ok := h.entry(w, r, tenant, t.minRevision)
	if !ok {
		return
	}
	typ := t.sub.Type
	if typ == "" {
		typ = "user"
	}
	grantees := snap.Within(&st.budget).WhoCan(t.action, t.res)
	if h.overBudget(w, st) {
		return
	}
	keys := make([]string, len(grantees))
	for i, g := range grantees {
		keys[i] = g.Subject
	}
	page, po, ok := h.pageByKey(w, tenant, req, keys)
	if !ok {
		return
	}
	res := make([]subjectResult, len(page))
	for i, id := range page {
		res[i] = subjectResult{Type: typ, ID: id}
	}
	h.writeJSON(w, snap, searchOut[subjectResult]{Results: res, Page: po, Context: map[string]any{"revision": revisionOf(snap)}})
}
