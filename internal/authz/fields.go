package authz

import (
	"net/http"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// serveFields answers which fields of the resource the subject may read
// and write (/v1/fields).
func (h *Handler) serveFields(w http.ResponseWriter, r *http.Request, st *state, tenant string, _ *Caller) {
	t := &st.req.top
	snap, ok := h.entry(w, r, tenant, t.minRevision)
	if !ok {
		return
	}
	q := snapshot.Request{Subject: t.sub, Resource: t.res, Context: t.ctx}
	fa := snap.Fields(&q)
	h.writeJSON(w, snap, struct {
		Revision string `json:"revision"`
		snapshot.FieldAccessResult
	}{revisionOf(snap), fa})
}
