package authz

import (
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

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
	h.log.decision(r, epEvaluation, tenant, caller, q, &o.d, o.revision, start)
	if o.d.Allowed {
		h.observeDecisions(1, 0)
	} else {
		h.observeDecisions(0, 1)
	}
}
