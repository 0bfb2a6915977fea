package authz

import (
	"net/http"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// serveSearchResource answers which of the caller's candidate records the
// subject may act on (AuthZEN resource search), paged by position.
func (h *Handler) serveSearchResource(w http.ResponseWriter, r *http.Request, st *state, tenant string, _ *Caller) {
	req := &st.req
	t := &req.top
	if !req.hasCandidates {
		h.badRequest(w, tenant, "context.candidates: required; Gatehouse filters candidate records the caller sends. To list records without candidates, ask for a filter with POST "+tenantsPrefix+tenant+"/v1/plan")
		return
	}
	if len(req.candidates) > h.opts.MaxCandidates {
		h.badRequest(w, tenant, "context.candidates: more than "+itoa(h.opts.MaxCandidates)+" candidates")
		return
	}
	snap, ok := h.entry(w, r, tenant, t.minRevision)
	if !ok {
		return
	}
	start := 0
	if req.pageToken != "" {
		v, ok := decodeToken(req.pageToken)
		n, err := strconv.Atoi(strings.TrimPrefix(v, "o:"))
		if !ok || !strings.HasPrefix(v, "o:") || err != nil || n < 0 || n > len(req.candidates) {
			h.badRequest(w, tenant, "page.token: invalid")
			return
		}
		start = n
	}
	var allowed []int
	for i := range req.candidates {
		c := &req.candidates[i]
		if c.Type == "" {
			c.Type = t.res.Type
		} else if c.Type != t.res.Type {
			h.badRequest(w, tenant, "context.candidates["+itoa(i)+"].type: must equal resource.type")
			return
		}
		q := snapshot.Request{Subject: t.sub, Action: t.action, Resource: *c, Context: t.ctx, Budget: &st.budget}
		if snap.Check(&q).Allowed {
			allowed = append(allowed, i)
		}
		if i&15 == 15 {
			h.pause(st)
		}
		if !st.budget.Alive() {
			break
		}
	}
	if h.overBudget(w, st) {
		return
	}
	// Paging is by position among the allowed candidates.
	if start > len(allowed) {
		start = len(allowed)
	}
	end := min(start+h.pageLimit(req), len(allowed))
	res := make([]resourceResult, 0, end-start)
	for _, i := range allowed[start:end] {
		res = append(res, resourceResult{Type: req.candidates[i].Type, ID: req.candidates[i].ID})
	}
	po := pageOut{Count: len(res), Total: len(allowed)}
	if end < len(allowed) {
		po.NextToken = encodeToken("o:" + itoa(end))
	}
	h.writeJSON(w, snap, searchOut[resourceResult]{Results: res, Page: po, Context: map[string]any{"revision": revisionOf(snap)}})
}
