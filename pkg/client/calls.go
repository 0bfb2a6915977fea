package client

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
)

// Endpoint paths below the tenant's base.
const (
	pathEvaluation     = "access/v1/evaluation"
	pathEvaluations    = "access/v1/evaluations"
	pathSearchSubject  = "access/v1/search/subject"
	pathSearchAction   = "access/v1/search/action"
	pathSearchResource = "access/v1/search/resource"
	pathFields         = "v1/fields"
	pathPlan           = "v1/plan"
	pathApprovalPlan   = "v1/approvals/plan"
	pathApprovalCheck  = "v1/approvals/check"
	pathDiscovery      = ".well-known/authzen-configuration"
)

// shortValue is how much of an offending value a ValidationError keeps.
const shortValue = 16

func required(field string) error { return &ValidationError{Field: field, Reason: "required"} }

func checkSubject(prefix string, s *Subject) error {
	if s.ID == "" {
		return required(prefix + "subject.id")
	}
	return nil
}

func checkAction(prefix string, a *Action) error {
	if a.Name == "" {
		return required(prefix + "action.name")
	}
	return nil
}

func checkResource(prefix string, r *Resource) error {
	if r.Type == "" {
		return required(prefix + "resource.type")
	}
	return nil
}

// checkTuple validates a complete evaluation, in the server's order.
func checkTuple(prefix string, q *Request) error {
	if err := checkSubject(prefix, &q.Subject); err != nil {
		return err
	}
	if err := checkAction(prefix, &q.Action); err != nil {
		return err
	}
	return checkResource(prefix, &q.Resource)
}

// post sends a JSON body built by mk (given the minRevision to send) and
// decodes the 200 answer into out.
func (c *Client) post(ctx context.Context, endpoint, query string, o *callOpts, mk func(rev string) any, out any) (*answer, error) {
	a, err := c.call(ctx, endpoint, query, o, false, func(rev string) ([]byte, error) { return json.Marshal(mk(rev)) })
	if err != nil {
		return nil, err
	}
	if err := decode(endpoint, a, out); err != nil {
		return nil, err
	}
	return a, nil
}

// wireDecision is an evaluation answer; Decision is a pointer so that a
// missing decision is an error, not a deny (or an allow).
type wireDecision struct {
	Decision *bool `json:"decision"`
	Context  struct {
		Reason   string          `json:"reason"`
		Revision string          `json:"revision"`
		Fields   *DecisionFields `json:"fields"`
		Explain  *Explanation    `json:"explain"`
	} `json:"context"`
}

func (w *wireDecision) decision(endpoint, revision string) (Decision, error) {
	if w.Decision == nil {
		return Decision{}, fmt.Errorf("gatehouse: %s: %w: no decision", endpoint, ErrMalformedResponse)
	}
	d := Decision{Allowed: *w.Decision, Reason: w.Context.Reason, Revision: w.Context.Revision,
		Fields: w.Context.Fields, Explain: w.Context.Explain}
	if d.Revision == "" {
		d.Revision = revision
	}
	return d, nil
}

func explainQuery(o *callOpts) string {
	if o.explain {
		return "explain=true"
	}
	return ""
}

// Evaluate asks whether q.Subject may perform q.Action on q.Resource
// (AuthZEN Access Evaluation). A deny is a Decision with Allowed false
// and a nil error. Whenever the server did not answer a decision the
// error is non-nil and the Decision nil: treat it as not allowed.
func (c *Client) Evaluate(ctx context.Context, q Request, opts ...CallOption) (*Decision, error) {
	if err := checkTuple("", &q); err != nil {
		return nil, err
	}
	o := collect(opts)
	var w wireDecision
	a, err := c.post(ctx, pathEvaluation, explainQuery(&o), &o, func(rev string) any {
		r := q
		r.Context = withRevision(q.Context, rev)
		return r
	}, &w)
	if err != nil {
		return nil, err
	}
	d, err := w.decision(pathEvaluation, a.revision)
	if err != nil {
		return nil, err
	}
	return &d, nil
}

// Allowed is Evaluate's decision as a boolean, false with the error
// whenever there is no decision.
func (c *Client) Allowed(ctx context.Context, q Request, opts ...CallOption) (bool, error) {
	d, err := c.Evaluate(ctx, q, opts...)
	if err != nil {
		return false, err
	}
	return d.Allowed, nil
}

// maxBatchSize is the batch limit in force.
func (c *Client) maxBatchSize() int {
	if c.maxBatch > 0 {
		return c.maxBatch
	}
	if n := c.shared.maxBatch.Load(); n > 0 {
		return int(n)
	}
	return DefaultMaxBatch
}

type wireEvaluations struct {
	Evaluations []Request      `json:"evaluations"`
	Context     map[string]any `json:"context,omitempty"`
	Options     map[string]any `json:"options,omitempty"`
}

// Evaluations evaluates qs (AuthZEN Access Evaluations) and returns their
// decisions in the order of qs. Batches over the server's limit
// (WithMaxBatch, the discovery document, else DefaultMaxBatch) are sent
// in chunks of that size, in order; WithChunking(false) refuses them
// instead. With WithSemantic(DenyOnFirstDeny) or PermitOnFirstPermit the
// decisions stop at the first deny (permit), which is the last one
// returned: fewer decisions than qs. With ExecuteAll (the default) any
// missing decision is an error. As with Evaluate, an error means no
// decision at all: the decisions of earlier chunks are not returned.
func (c *Client) Evaluations(ctx context.Context, qs []Request, opts ...CallOption) ([]Decision, error) {
	o := collect(opts)
	switch o.semantic {
	case "", ExecuteAll, DenyOnFirstDeny, PermitOnFirstPermit:
	default:
		return nil, &ValidationError{Field: "options.evaluations_semantic", Reason: "must be one of execute_all, deny_on_first_deny, permit_on_first_permit",
			Value: shortPrefix(o.semantic, shortValue)}
	}
	if len(qs) == 0 {
		return nil, &ValidationError{Field: "evaluations", Reason: "no evaluations"}
	}
	for i := range qs {
		if err := checkTuple("evaluations["+strconv.Itoa(i)+"].", &qs[i]); err != nil {
			return nil, err
		}
	}
	n := c.maxBatchSize()
	if len(qs) > n && !c.chunking {
		return nil, &ValidationError{Field: "evaluations", Reason: "more than " + strconv.Itoa(n) + " evaluations"}
	}
	out := make([]Decision, 0, len(qs))
	for start := 0; start < len(qs); start += n {
		chunk := qs[start:min(start+n, len(qs))]
		var w struct {
			Evaluations []wireDecision `json:"evaluations"`
		}
		a, err := c.post(ctx, pathEvaluations, explainQuery(&o), &o, func(rev string) any {
			b := wireEvaluations{Evaluations: chunk}
			if rev != "" {
				b.Context = map[string]any{"minRevision": rev}
			}
			if o.semantic != "" {
				b.Options = map[string]any{"evaluations_semantic": o.semantic}
			}
			return b
		}, &w)
		if err != nil {
			return nil, err
		}
		if len(w.Evaluations) > len(chunk) || w.Evaluations == nil ||
			((o.semantic == "" || o.semantic == ExecuteAll) && len(w.Evaluations) != len(chunk)) {
			return nil, fmt.Errorf("gatehouse: %s: %w: %d decisions for %d evaluations", pathEvaluations, ErrMalformedResponse, len(w.Evaluations), len(chunk))
		}
		stop := len(w.Evaluations) < len(chunk)
		for i := range w.Evaluations {
			d, err := w.Evaluations[i].decision(pathEvaluations, a.revision)
			if err != nil {
				return nil, err
			}
			out = append(out, d)
			if (o.semantic == DenyOnFirstDeny && !d.Allowed) || (o.semantic == PermitOnFirstPermit && d.Allowed) {
				stop = true
				if i != len(w.Evaluations)-1 {
					return nil, fmt.Errorf("gatehouse: %s: %w: decisions after the one that ends the batch", pathEvaluations, ErrMalformedResponse)
				}
			}
		}
		if stop {
			break
		}
	}
	return out, nil
}

// wirePage is a search request's page object.
type wirePage struct {
	Token string `json:"token,omitempty"`
	Limit int    `json:"limit,omitempty"`
}

func pageOf(p Page) *wirePage {
	if p.Token == "" && p.Limit == 0 {
		return nil
	}
	return &wirePage{Token: p.Token, Limit: p.Limit}
}

type wireSearch[T any] struct {
	Results []T `json:"results"`
	Page    *struct {
		NextToken string `json:"next_token"`
		Count     int    `json:"count"`
		Total     int    `json:"total"`
	} `json:"page"`
	Context struct {
		Revision string `json:"revision"`
	} `json:"context"`
}

func search[T any](c *Client, ctx context.Context, endpoint string, opts []CallOption, mk func(rev string) any) (*Results[T], error) {
	o := collect(opts)
	var w wireSearch[T]
	a, err := c.post(ctx, endpoint, "", &o, mk, &w)
	if err != nil {
		return nil, err
	}
	if w.Results == nil || w.Page == nil {
		return nil, fmt.Errorf("gatehouse: %s: %w: no results or page", endpoint, ErrMalformedResponse)
	}
	r := &Results[T]{Results: w.Results, NextToken: w.Page.NextToken, Count: w.Page.Count, Total: w.Page.Total, Revision: w.Context.Revision}
	if r.Revision == "" {
		r.Revision = a.revision
	}
	return r, nil
}

// SearchSubjects returns one page of the subjects who may perform
// q.Action on q.Resource (AuthZEN Subject Search).
func (c *Client) SearchSubjects(ctx context.Context, q SubjectSearch, opts ...CallOption) (*Results[Subject], error) {
	if err := checkAction("", &q.Action); err != nil {
		return nil, err
	}
	if err := checkResource("", &q.Resource); err != nil {
		return nil, err
	}
	return search[Subject](c, ctx, pathSearchSubject, opts, func(rev string) any {
		b := map[string]any{"action": q.Action, "resource": q.Resource}
		if q.SubjectType != "" {
			b["subject"] = map[string]string{"type": q.SubjectType}
		}
		if cx := withRevision(q.Context, rev); cx != nil {
			b["context"] = cx
		}
		if p := pageOf(q.Page); p != nil {
			b["page"] = p
		}
		return b
	})
}

// SearchActions returns one page of the actions q.Subject may perform on
// q.Resource (AuthZEN Action Search).
func (c *Client) SearchActions(ctx context.Context, q ActionSearch, opts ...CallOption) (*Results[Action], error) {
	if err := checkSubject("", &q.Subject); err != nil {
		return nil, err
	}
	if err := checkResource("", &q.Resource); err != nil {
		return nil, err
	}
	return search[Action](c, ctx, pathSearchAction, opts, func(rev string) any {
		b := map[string]any{"subject": q.Subject, "resource": q.Resource}
		if cx := withRevision(q.Context, rev); cx != nil {
			b["context"] = cx
		}
		if p := pageOf(q.Page); p != nil {
			b["page"] = p
		}
		return b
	})
}

// SearchResources returns one page of q.Candidates that q.Subject may
// perform q.Action on (AuthZEN Resource Search), in candidate order.
func (c *Client) SearchResources(ctx context.Context, q ResourceSearch, opts ...CallOption) (*Results[Resource], error) {
	if err := checkSubject("", &q.Subject); err != nil {
		return nil, err
	}
	if err := checkAction("", &q.Action); err != nil {
		return nil, err
	}
	if err := checkResource("", &q.Resource); err != nil {
		return nil, err
	}
	for i := range q.Candidates {
		if t := q.Candidates[i].Type; t != "" && t != q.Resource.Type {
			return nil, &ValidationError{Field: "context.candidates[" + strconv.Itoa(i) + "].type", Reason: "must equal resource.type", Value: shortPrefix(t, shortValue)}
		}
	}
	return search[Resource](c, ctx, pathSearchResource, opts, func(rev string) any {
		cx := withRevision(q.Context, rev)
		cands := q.Candidates
		if cands == nil {
			cands = []Resource{}
		}
		m := make(map[string]any, len(cx)+1)
		for k, v := range cx {
			m[k] = v
		}
		m["candidates"] = cands
		b := map[string]any{"subject": q.Subject, "action": q.Action, "resource": q.Resource, "context": m}
		if p := pageOf(q.Page); p != nil {
			b["page"] = p
		}
		return b
	})
}

// maxPages bounds AllPages.
const maxPages = 10000

// AllPages calls fetch for every page, from the first, and returns all
// results in order. fetch is typically a closure over a Search call that
// sets the query's Page.
func AllPages[T any](ctx context.Context, fetch func(ctx context.Context, p Page) (*Results[T], error)) ([]T, error) {
	var all []T
	p := Page{}
	for range maxPages {
		r, err := fetch(ctx, p)
		if err != nil {
			return nil, err
		}
		all = append(all, r.Results...)
		if r.NextToken == "" {
			return all, nil
		}
		if r.NextToken == p.Token {
			return nil, fmt.Errorf("gatehouse: %w: the next page token repeats", ErrMalformedResponse)
		}
		p.Token = r.NextToken
	}
	return nil, fmt.Errorf("gatehouse: more than %d pages", maxPages)
}

// Fields returns the fields of resource.Type subject may read and write.
func (c *Client) Fields(ctx context.Context, subject Subject, resource Resource, opts ...CallOption) (*FieldAccess, error) {
	if err := checkSubject("", &subject); err != nil {
		return nil, err
	}
	if err := checkResource("", &resource); err != nil {
		return nil, err
	}
	o := collect(opts)
	var out struct {
		FieldAccess
		Covered *bool `json:"covered"`
	}
	a, err := c.post(ctx, pathFields, "", &o, func(rev string) any {
		b := map[string]any{"subject": subject, "resource": resource}
		if cx := withRevision(nil, rev); cx != nil {
			b["context"] = cx
		}
		return b
	}, &out)
	if err != nil {
		return nil, err
	}
	if out.Covered == nil {
		return nil, fmt.Errorf("gatehouse: %s: %w: no covered", pathFields, ErrMalformedResponse)
	}
	fa := out.FieldAccess
	fa.Covered = *out.Covered
	if fa.Revision == "" {
		fa.Revision = a.revision
	}
	return &fa, nil
}

// Plan returns which records of q.ResourceType q.Subject may perform
// q.Action on: a filter tree, and SQL when q.Columns maps properties to
// columns.
func (c *Client) Plan(ctx context.Context, q PlanRequest, opts ...CallOption) (*Plan, error) {
	if err := checkSubject("", &q.Subject); err != nil {
		return nil, err
	}
	if err := checkAction("", &q.Action); err != nil {
		return nil, err
	}
	if q.ResourceType == "" {
		return nil, required("resource.type")
	}
	switch q.Placeholder {
	case "", "dollar", "question":
	default:
		return nil, &ValidationError{Field: "placeholder", Reason: `must be "dollar" or "question"`, Value: shortPrefix(q.Placeholder, shortValue)}
	}
	if q.ArgOffset < 0 {
		return nil, &ValidationError{Field: "argOffset", Reason: "must not be negative"}
	}
	o := collect(opts)
	var p Plan
	a, err := c.post(ctx, pathPlan, "", &o, func(rev string) any {
		b := map[string]any{"subject": q.Subject, "action": q.Action, "resource": Resource{Type: q.ResourceType}}
		if cx := withRevision(q.Context, rev); cx != nil {
			b["context"] = cx
		}
		if q.Columns != nil {
			b["columns"] = q.Columns
		}
		if q.Placeholder != "" {
			b["placeholder"] = q.Placeholder
		}
		if q.ArgOffset > 0 {
			b["argOffset"] = q.ArgOffset
		}
		return b
	}, &p)
	if err != nil {
		return nil, err
	}
	switch {
	case p.Kind == PlanAlways, p.Kind == PlanNever:
	case p.Kind == PlanConditional && p.Filter != nil:
	default:
		return nil, fmt.Errorf("gatehouse: %s: %w: kind %q", pathPlan, ErrMalformedResponse, shortPrefix(p.Kind, shortValue))
	}
	if p.Revision == "" {
		p.Revision = a.revision
	}
	return &p, nil
}

// ApprovalPlan returns the approval steps of resource and their eligible
// approvers.
func (c *Client) ApprovalPlan(ctx context.Context, resource Resource, opts ...CallOption) (*ApprovalPlan, error) {
	if err := checkResource("", &resource); err != nil {
		return nil, err
	}
	o := collect(opts)
	var p ApprovalPlan
	a, err := c.post(ctx, pathApprovalPlan, "", &o, func(rev string) any {
		b := map[string]any{"resource": resource}
		if cx := withRevision(nil, rev); cx != nil {
			b["context"] = cx
		}
		return b
	}, &p)
	if err != nil {
		return nil, err
	}
	if p.Revision == "" {
		p.Revision = a.revision
	}
	return &p, nil
}

// ApprovalCheck asks whether subject may approve resource now. As with
// Evaluate, an error means no decision.
func (c *Client) ApprovalCheck(ctx context.Context, subject Subject, resource Resource, opts ...CallOption) (*ApprovalDecision, error) {
	if err := checkSubject("", &subject); err != nil {
		return nil, err
	}
	if err := checkResource("", &resource); err != nil {
		return nil, err
	}
	o := collect(opts)
	var w struct {
		Allowed  *bool  `json:"allowed"`
		Step     string `json:"step"`
		Complete bool   `json:"complete"`
		Reason   string `json:"reason"`
		Revision string `json:"revision"`
	}
	a, err := c.post(ctx, pathApprovalCheck, "", &o, func(rev string) any {
		b := map[string]any{"subject": subject, "resource": resource}
		if cx := withRevision(nil, rev); cx != nil {
			b["context"] = cx
		}
		return b
	}, &w)
	if err != nil {
		return nil, err
	}
	if w.Allowed == nil {
		return nil, fmt.Errorf("gatehouse: %s: %w: no decision", pathApprovalCheck, ErrMalformedResponse)
	}
	d := &ApprovalDecision{Allowed: *w.Allowed, Step: w.Step, Complete: w.Complete, Reason: w.Reason, Revision: w.Revision}
	if d.Revision == "" {
		d.Revision = a.revision
	}
	return d, nil
}

// Discovery returns the tenant's PDP metadata (404 for an unknown
// tenant). When it advertises a batch limit, Evaluations uses it unless
// WithMaxBatch was given.
func (c *Client) Discovery(ctx context.Context) (*Discovery, error) {
	o := callOpts{}
	a, err := c.call(ctx, pathDiscovery, "", &o, true, nil)
	if err != nil {
		return nil, err
	}
	var m map[string]json.RawMessage
	if err := decode(pathDiscovery, a, &m); err != nil {
		return nil, err
	}
	d := &Discovery{Endpoints: map[string]string{}}
	for k, v := range m {
		var s string
		switch {
		case k == "gatehouse_max_batch":
			var n int
			if json.Unmarshal(v, &n) == nil && n > 0 {
				d.MaxBatch = n
			}
		case json.Unmarshal(v, &s) != nil:
		case k == "policy_decision_point":
			d.PolicyDecisionPoint = s
		default:
			d.Endpoints[k] = s
		}
	}
	if d.PolicyDecisionPoint == "" {
		return nil, fmt.Errorf("gatehouse: %s: %w: no policy_decision_point", pathDiscovery, ErrMalformedResponse)
	}
	if d.MaxBatch > 0 {
		c.shared.maxBatch.Store(int64(d.MaxBatch))
	}
	return d, nil
}
