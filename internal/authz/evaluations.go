package authz

import (
	"net/http"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func (h *Handler) serveEvaluations(w http.ResponseWriter, r *http.Request, st *state, tenant string, caller *Caller) {
	req := &st.req
	top := &req.top
	minRev := top.minRevision
	for i := range req.items {
		if mr := req.items[i].minRevision; mr != "" {
			if minRev != "" && mr != minRev {
				h.badRequest(w, tenant, "evaluations["+itoa(i)+"].context.minRevision: conflicts with another minRevision of the request")
				return
			}
			minRev = mr
		}
	}
	if len(req.items) == 0 {
		// No evaluations array: behaves as a single evaluation (AuthZEN
		// 1.0, backwards compatibility), answered in the evaluation shape.
		if msg := checkTuple(top); msg != "" {
			h.badRequest(w, tenant, msg)
			return
		}
	}
	// Fill every item from the defaults before deciding anything, so that
	// an incomplete item is a 400 for the whole request, not a silent
	// deny.
	for i := range req.items {
		it := &req.items[i]
		it.inherit(top)
		if msg := checkTuple(it); msg != "" {
			h.badRequest(w, tenant, "evaluations["+itoa(i)+"]."+msg)
			return
		}
	}
	start := time.Now()
	snap, ok := h.entry(w, r, tenant, minRev)
	if !ok {
		return
	}
	rev := ""
	if snap != nil {
		rev = snap.Revision()
	}
	explain := wantExplain(r)
	o := &st.dec
	out := st.out[:0]
	var n tally
	if len(req.items) == 0 {
		st.q = snapshot.Request{Subject: top.sub, Action: top.action, Resource: top.res, Context: top.ctx, Budget: &st.budget}
		q := &st.q
		*o = decisionOut{d: snap.Check(q), revision: rev, explain: explain}
		if h.overBudget(w, st) {
			return
		}
		if o.d.Allowed {
			o.fields = snap.Fields(q)
		}
		out = appendDecision(out, o)
		h.log.decision(r, epEvaluations, tenant, caller, q, &o.d, rev, start)
		n.count(o.d.Allowed)
	} else {
		out = append(out, `{"evaluations":[`...)
		for i := range req.items {
			// Items without conditions never look at the budget: look
			// at the context now and then.
			if i&15 == 15 {
				h.pause(st)
				if !st.budget.Alive() {
					break
				}
			}
			it := &req.items[i]
			st.q = snapshot.Request{Subject: it.sub, Action: it.action, Resource: it.res, Context: it.ctx, Budget: &st.budget}
			q := &st.q
			*o = decisionOut{d: snap.Check(q), explain: explain}
			if st.budget.Err() != nil {
				break
			}
			if o.d.Allowed {
				o.fields = snap.Fields(q)
			}
			if i > 0 {
				out = append(out, ',')
			}
			out = appendDecision(out, o)
			h.log.decision(r, epEvaluations, tenant, caller, q, &o.d, rev, start)
			n.count(o.d.Allowed)
			if (req.semantic == semDenyOnFirstDeny && !o.d.Allowed) ||
				(req.semantic == semPermitOnFirstPermit && o.d.Allowed) {
				break
			}
		}
		out = append(out, `]}`...)
		if h.overBudget(w, st) {
			st.out = out
			return
		}
	}
	st.out = out
	w.Header()[RevisionHeader] = h.revisionHeader(snap)
	w.Write(out)
	h.observeDecisions(n.allowed, n.denied)
}

// inherit fills the parts t lacks from the defaults d (AuthZEN 1.0 default
// values).
func (t *tuple) inherit(d *tuple) {
	missing := d.has &^ t.has
	if missing&hasSubject != 0 {
		t.sub = d.sub
	}
	if missing&hasAction != 0 {
		t.action = d.action
	}
	if missing&hasResource != 0 {
		t.res = d.res
	}
	if missing&hasContext != 0 {
		t.ctx = d.ctx
	}
	t.has |= missing
}
