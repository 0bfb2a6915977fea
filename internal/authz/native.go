package authz

import (
	"encoding/base64"
	"encoding/json"
	"errors"
	"net/http"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// writeJSON writes v with encoding/json: the search, discovery, plan and
// approval answers are not on the hot path, and their shapes (filters,
// generic properties) are better served by the standard encoder.
func (h *Handler) writeJSON(w http.ResponseWriter, snap *snapshot.Snapshot, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		h.fail(w, http.StatusInternalServerError, "cannot encode response")
		return
	}
	w.Header()[RevisionHeader] = h.revisionHeader(snap)
	w.Write(b)
}

func revisionOf(s *snapshot.Snapshot) string {
	if s == nil {
		return ""
	}
	return s.Revision()
}

// discovery is the AuthZEN PDP metadata document (AuthZEN 1.0, PDP
// metadata), plus Gatehouse's native endpoints as additional parameters
// (clients ignore parameters they do not understand).
type discovery struct {
	PolicyDecisionPoint       string `json:"policy_decision_point"`
	AccessEvaluationEndpoint  string `json:"access_evaluation_endpoint"`
	AccessEvaluationsEndpoint string `json:"access_evaluations_endpoint"`
	SearchSubjectEndpoint     string `json:"search_subject_endpoint"`
	SearchActionEndpoint      string `json:"search_action_endpoint"`
	SearchResourceEndpoint    string `json:"search_resource_endpoint"`
	FieldsEndpoint            string `json:"gatehouse_fields_endpoint"`
	PlanEndpoint              string `json:"gatehouse_plan_endpoint"`
	ApprovalsPlanEndpoint     string `json:"gatehouse_approvals_plan_endpoint"`
	ApprovalsCheckEndpoint    string `json:"gatehouse_approvals_check_endpoint"`
}

func (h *Handler) serveDiscovery(w http.ResponseWriter, r *http.Request, tenant string) {
	e := h.store.Get(tenant)
	if e == nil || e.Snapshot == nil {
		h.fail(w, http.StatusNotFound, "unknown tenant "+tenant)
		return
	}
	base := h.opts.BaseURL
	if base == "" {
		scheme := "http"
		if r.TLS != nil {
			scheme = "https"
		}
		base = scheme + "://" + r.Host
	}
	// The PDP identifier is the URL the well-known segment was inserted
	// into: the tenant's base path, or the root for the default tenant
	// served there.
	pdp := base + tenantsPrefix + tenant
	if !strings.HasPrefix(r.URL.Path, tenantsPrefix) && !strings.HasPrefix(r.URL.Path, "/"+wellKnownAuthZEN+tenantsPrefix) {
		pdp = base
	}
	h.writeJSON(w, e.Snapshot, discovery{
		PolicyDecisionPoint:       pdp,
		AccessEvaluationEndpoint:  pdp + "/access/v1/evaluation",
		AccessEvaluationsEndpoint: pdp + "/access/v1/evaluations",
		SearchSubjectEndpoint:     pdp + "/access/v1/search/subject",
		SearchActionEndpoint:      pdp + "/access/v1/search/action",
		SearchResourceEndpoint:    pdp + "/access/v1/search/resource",
		FieldsEndpoint:            pdp + "/v1/fields",
		PlanEndpoint:              pdp + "/v1/plan",
		ApprovalsPlanEndpoint:     pdp + "/v1/approvals/plan",
		ApprovalsCheckEndpoint:    pdp + "/v1/approvals/check",
	})
}

// Search results and paging (AuthZEN 1.0 search APIs).
type (
	subjectResult struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	actionResult struct {
		Name string `json:"name"`
	}
	resourceResult struct {
		Type string `json:"type"`
		ID   string `json:"id"`
	}
	pageOut struct {
		NextToken string `json:"next_token"`
		Count     int    `json:"count"`
		Total     int    `json:"total"`
	}
	searchOut[T any] struct {
		Results []T            `json:"results"`
		Page    pageOut        `json:"page"`
		Context map[string]any `json:"context"`
	}
)

// Page tokens are opaque to clients. Subject and action searches page by
// key (the last result returned), so a snapshot change between pages
// neither repeats nor skips results that exist in both; resource search
// pages by position in the caller's own candidate list.
func encodeToken(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }

func decodeToken(t string) (string, bool) {
	b, err := base64.RawURLEncoding.DecodeString(t)
	return string(b), err == nil
}

func (h *Handler) pageLimit(req *request) int {
	n := req.pageLimit
	if n <= 0 {
		n = h.opts.DefaultPageLimit
	}
	if n > h.opts.MaxPageLimit {
		n = h.opts.MaxPageLimit
	}
	return n
}

// pageByKey pages sorted keys after the token's key.
func (h *Handler) pageByKey(w http.ResponseWriter, tenant string, req *request, keys []string) (page []string, out pageOut, ok bool) {
	start := 0
	if req.pageToken != "" {
		after, valid := decodeToken(req.pageToken)
		if !valid || !strings.HasPrefix(after, "k:") {
			h.badRequest(w, tenant, "page.token: invalid")
			return nil, out, false
		}
		after = after[2:]
		start = sort.Search(len(keys), func(i int) bool { return keys[i] > after })
	}
	limit := h.pageLimit(req)
	end := min(start+limit, len(keys))
	page = keys[start:end]
	out = pageOut{Count: len(page), Total: len(keys)}
	if end < len(keys) && len(page) > 0 {
		out.NextToken = encodeToken("k:" + page[len(page)-1])
	}
	return page, out, true
}

func (h *Handler) serveNative(w http.ResponseWriter, r *http.Request, st *state, rt route) {
	req := &st.req
	t := &req.top
	tenant := rt.tenant
	need := func(parts uint8) string {
		switch {
		case parts&hasSubject != 0 && t.has&hasSubject == 0:
			return "subject: required"
		case parts&hasSubject != 0 && t.sub.ID == "" && rt.ep != epSearchSubject:
			return "subject.id: required"
		case parts&hasAction != 0 && t.has&hasAction == 0:
			return "action: required"
		case parts&hasAction != 0 && t.action == "":
			return "action.name: required"
		case parts&hasResource != 0 && t.has&hasResource == 0:
			return "resource: required"
		case parts&hasResource != 0 && t.res.Type == "":
			return "resource.type: required"
		}
		return ""
	}
	var parts uint8
	switch rt.ep {
	case epSearchSubject:
		parts = hasAction | hasResource
	case epSearchAction, epFields, epApprovalCheck:
		parts = hasSubject | hasResource
	case epSearchResource, epPlan:
		parts = hasSubject | hasAction | hasResource
	case epApprovalPlan:
		parts = hasResource
	}
	if msg := need(parts); msg != "" {
		h.badRequest(w, tenant, msg)
		return
	}
	if rt.ep == epSearchResource {
		if !req.hasCandidates {
			h.badRequest(w, tenant, "context.candidates: required; Gatehouse filters candidate records the caller sends. To list records without candidates, ask for a filter with POST "+tenantsPrefix+tenant+"/v1/plan")
			return
		}
		if len(req.candidates) > h.opts.MaxCandidates {
			h.badRequest(w, tenant, "context.candidates: more than "+itoa(h.opts.MaxCandidates)+" candidates")
			return
		}
	}
	snap, ok := h.entry(w, r, tenant, t.minRevision)
	if !ok {
		return
	}
	rev := revisionOf(snap)
	bounded := snap.Within(&st.budget)
	switch rt.ep {
	case epSearchSubject:
		typ := t.sub.Type
		if typ == "" {
			typ = "user"
		}
		grantees := bounded.WhoCan(t.action, t.res)
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
		h.writeJSON(w, snap, searchOut[subjectResult]{Results: res, Page: po, Context: map[string]any{"revision": rev}})
	case epSearchAction:
		acts := bounded.Actions(t.sub, t.res)
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
		h.writeJSON(w, snap, searchOut[actionResult]{Results: res, Page: po, Context: map[string]any{"revision": rev}})
	case epSearchResource:
		h.searchResource(w, snap, st, tenant)
	case epFields:
		q := snapshot.Request{Subject: t.sub, Resource: t.res, Context: t.ctx}
		fa := snap.Fields(&q)
		h.writeJSON(w, snap, struct {
			Revision string `json:"revision"`
			snapshot.FieldAccessResult
		}{rev, fa})
	case epPlan:
		h.plan(w, snap, req, tenant)
	case epApprovalPlan:
		ap := bounded.ApprovalPlan(t.res)
		if h.overBudget(w, st) {
			return
		}
		h.writeJSON(w, snap, struct {
			Revision string `json:"revision"`
			snapshot.ApprovalPlanResult
		}{rev, ap})
	case epApprovalCheck:
		ad := bounded.CanApprove(t.sub, t.res)
		if h.overBudget(w, st) {
			return
		}
		h.writeJSON(w, snap, struct {
			Revision string `json:"revision"`
			snapshot.ApprovalDecision
		}{rev, ad})
	}
}

func (h *Handler) searchResource(w http.ResponseWriter, snap *snapshot.Snapshot, st *state, tenant string) {
	req := &st.req
	t := &req.top
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

// planOut is the answer of /v1/plan: the filter AST and, when the request
// maps properties to columns, a parameterized SQL WHERE fragment.
type planOut struct {
	Revision string `json:"revision"`
	snapshot.Plan
	SQL *sqlOut `json:"sql,omitempty"`
	// SQLError says why no SQL could be rendered (an unmapped property or
	// a condition SQL cannot express); the filter is still valid. A column
	// that is not an SQL identifier is the caller's mistake: a 400 naming
	// columns.<property>.
	SQLError string `json:"sqlError,omitempty"`
}

type sqlOut struct {
	Where string `json:"where"`
	Args  []any  `json:"args"`
}

func (h *Handler) plan(w http.ResponseWriter, snap *snapshot.Snapshot, req *request, tenant string) {
	t := &req.top
	p := snap.Plan(t.sub, t.action, t.res.Type)
	out := planOut{Revision: revisionOf(snap), Plan: p}
	if req.columns != nil {
		var opts []snapshot.SQLOption
		switch req.placeholder {
		case "", "dollar":
		case "question":
			opts = append(opts, snapshot.SQLPlaceholder(func(int) string { return "?" }))
		default:
			h.badRequest(w, tenant, `placeholder: must be "dollar" or "question"`)
			return
		}
		if req.argOffset > 0 {
			opts = append(opts, snapshot.SQLArgOffset(req.argOffset))
		}
		where, args, err := p.SQL(req.columns, opts...)
		var bad *snapshot.ColumnError
		switch {
		case errors.As(err, &bad):
			// The reason names byte offsets only, never the value.
			h.badRequest(w, tenant, string(appendPathKey([]byte("columns"), bad.Property))+": not an SQL identifier: "+bad.Reason)
			return
		case err != nil:
			out.SQLError = err.Error()
		default:
			if args == nil {
				args = []any{}
			}
			out.SQL = &sqlOut{Where: where, Args: args}
		}
	}
	h.writeJSON(w, snap, out)
}
