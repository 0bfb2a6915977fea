package bench

import (
	"context"
	"fmt"
	"slices"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/storage"
	"github.com/open-policy-agent/opa/v1/storage/inmem"

	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// RegoPolicy is the tenant's policy in Rego (v1 syntax). The data it reads
// is OPAData: roles with their extends already flattened and indexed by
// module and action, groups with attributes and restrictions, and users
// with their effective groups (memberGroups applied). The indexing and the
// precomputed closures favour OPA: a check walks only the grants of the
// asked module and action.
//
// allow decides input with rules over input (idiomatic, and what partial
// evaluation needs for list filtering). OPA has no batch endpoint: its
// equivalent of AuthZEN evaluations is a rule over a list, decisions, which
// evaluates allow for each request with `with input as`. Both are verified
// against Gatehouse on every request.
const RegoPolicy = `package gatehouse

# ---- single decision over input ----

default allow := false

gs := data.users[input.subject.id].groups

allow if {
	not restricted
	granted
}

granted if {
	some g in gs
	some r in data.groups[g].roles
	data.roles[r].full
}

granted if {
	some g in gs
	some r in data.groups[g].roles
	some p in data.roles[r].grants[input.resource.type][input.action]
	amount_ok(p)
	scope_ok(p.scope)
}

amount_ok(p) if p.max == 0

amount_ok(p) if input.resource.amount < p.max

restricted if {
	some g in gs
	some rs in data.groups[g].restrictions
	input.resource.type in rs.modules
	not scope_ok(rs.scope)
}

scope_ok("all")

scope_ok("own") if input.resource.ownerId == input.subject.id

scope_ok("assigned") if input.subject.id in input.resource.assigneeIds

scope_ok("ownOrAssigned") if input.resource.ownerId == input.subject.id

scope_ok("ownOrAssigned") if input.subject.id in input.resource.assigneeIds

scope_ok("contact") if input.subject.id in input.resource.projectContacts

scope_ok("unit") if {
	some g in gs
	input.resource.unit == data.groups[g].unit
}

scope_ok("unitTree") if {
	some g in gs
	input.resource.unit == data.groups[g].unit
}

scope_ok("unitTree") if {
	some g in gs
	startswith(input.resource.unit, concat("", [data.groups[g].unit, "/"]))
}

scope_ok("facility") if {
	some g in gs
	input.resource.facilityId in data.groups[g].facilities
}

scope_ok("company") if {
	some g in gs
	input.resource.companyId == data.groups[g].company
}

# ---- batch: the same rules for each request of a list ----

decisions := [d | some r in input.evaluations; d := allow with input as r]
`

// OPAData is the tenant as OPA data (see RegoPolicy).
func OPAData(t *Tenant) map[string]any {
	m := t.Model
	byName := map[string]*tenantgen.Role{}
	for i := range m.Roles {
		byName[m.Roles[i].Name] = &m.Roles[i]
	}
	roles := map[string]any{}
	for _, r := range m.Roles {
		full := false
		grants := map[string]any{}
		for _, name := range t.EffRoles[r.Name] {
			ro := byName[name]
			if ro == nil {
				continue
			}
			full = full || ro.FullAccess
			for _, p := range ro.Perms {
				for _, mod := range p.Modules {
					acts, _ := grants[mod].(map[string]any)
					if acts == nil {
						acts = map[string]any{}
						grants[mod] = acts
					}
					for _, a := range p.Actions {
						l, _ := acts[a].([]any)
						acts[a] = append(l, map[string]any{"scope": p.Scope, "max": p.MaxAmount})
					}
				}
			}
		}
		roles[r.Name] = map[string]any{"full": full, "grants": grants}
	}
	groups := map[string]any{}
	for _, g := range m.Groups {
		var rs []any
		for _, r := range g.Restrictions {
			rs = append(rs, map[string]any{"modules": toAny(r.Modules), "scope": r.Scope})
		}
		groups[g.Name] = map[string]any{"roles": toAny(g.Roles), "unit": g.Unit, "company": g.Company,
			"facilities": toAny(g.Facilities), "restrictions": nonNil(rs)}
	}
	users := make(map[string]any, len(m.Users))
	for _, u := range m.Users {
		users[u.ID] = map[string]any{"groups": toAny(t.EffGroups[u.ID])}
	}
	return map[string]any{"roles": roles, "groups": groups, "users": users}
}

func toAny(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

func nonNil(xs []any) []any {
	if xs == nil {
		return []any{}
	}
	return xs
}

// OPAInput is a request as the Rego policy's input: every property is
// present (empty when unset), as a client would send it.
func OPAInput(r tenantgen.Request) map[string]any {
	rec := r.Record
	return map[string]any{
		"subject": map[string]any{"id": r.Subject},
		"action":  r.Action,
		"resource": map[string]any{"type": rec.Module, "id": rec.ID, "ownerId": rec.OwnerID,
			"assigneeIds": toAny(rec.AssigneeIDs), "projectContacts": toAny(rec.ProjectContacts),
			"unit": rec.Unit, "facilityId": rec.FacilityID, "companyId": rec.CompanyID, "amount": rec.Amount},
	}
}

// OPA is the tenant loaded into OPA in-process.
type OPA struct {
	Store   storage.Store
	Allow   rego.PreparedEvalQuery
	Batch   rego.PreparedEvalQuery
	Partial rego.PreparedPartialQuery
}

// NewOPA loads data and prepares the allow, batch and partial queries.
func NewOPA(ctx context.Context, t *Tenant) (*OPA, error) {
	o := &OPA{Store: inmem.NewFromObject(OPAData(t))}
	var err error
	o.Allow, err = rego.New(rego.Query("data.gatehouse.allow"), rego.Module("gatehouse.rego", RegoPolicy),
		rego.Store(o.Store)).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("opa allow: %w", err)
	}
	o.Batch, err = rego.New(rego.Query("data.gatehouse.decisions"), rego.Module("gatehouse.rego", RegoPolicy),
		rego.Store(o.Store)).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("opa batch: %w", err)
	}
	o.Partial, err = rego.New(rego.Query("data.gatehouse.allow == true"), rego.Module("gatehouse.rego", RegoPolicy),
		rego.Store(o.Store), rego.Unknowns([]string{"input.resource.ownerId", "input.resource.assigneeIds",
			"input.resource.projectContacts", "input.resource.unit", "input.resource.facilityId", "input.resource.companyId",
			"input.resource.amount"})).PrepareForPartial(ctx)
	if err != nil {
		return nil, fmt.Errorf("opa partial: %w", err)
	}
	return o, nil
}

// Check evaluates one prepared input.
func (o *OPA) Check(ctx context.Context, input map[string]any) (bool, error) {
	rs, err := o.Allow.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return false, err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return false, fmt.Errorf("opa: unexpected result %v", rs)
	}
	b, ok := rs[0].Expressions[0].Value.(bool)
	if !ok {
		return false, fmt.Errorf("opa: non-boolean result %v", rs[0].Expressions[0].Value)
	}
	return b, nil
}

// CheckBatch evaluates a batch input {"evaluations": [...]}.
func (o *OPA) CheckBatch(ctx context.Context, input map[string]any) ([]bool, error) {
	rs, err := o.Batch.Eval(ctx, rego.EvalInput(input))
	if err != nil {
		return nil, err
	}
	if len(rs) != 1 || len(rs[0].Expressions) != 1 {
		return nil, fmt.Errorf("opa: unexpected result %v", rs)
	}
	l, _ := rs[0].Expressions[0].Value.([]any)
	out := make([]bool, len(l))
	for i, v := range l {
		out[i], _ = v.(bool)
	}
	return out, nil
}

// ListFilter partially evaluates "which records of module may subject do
// action on" and returns the residual queries (none: nothing; one empty
// query: everything).
func (o *OPA) ListFilter(ctx context.Context, subject, action, module string) ([]ast.Body, error) {
	in := map[string]any{"subject": map[string]any{"id": subject}, "action": action,
		"resource": map[string]any{"type": module}}
	pq, err := o.Partial.Partial(ctx, rego.EvalParsedInput(mustValue(in)))
	if err != nil {
		return nil, err
	}
	return pq.Queries, nil
}

func mustValue(v any) ast.Value {
	x, err := ast.InterfaceToValue(v)
	if err != nil {
		panic(err)
	}
	return x
}

// VerifyOPA checks OPA's answer on every request of t against Gatehouse's.
func VerifyOPA(ctx context.Context, o *OPA, t *Tenant) error {
	var bad []string
	for i, r := range t.Reqs {
		got, err := o.Check(ctx, OPAInput(r))
		if err != nil {
			return err
		}
		if got != t.Want[i] {
			bad = append(bad, fmt.Sprintf("#%d %s %s %s (%s): opa %v, gatehouse %v", i, r.Subject, r.Action, r.Record.Module, r.Relation, got, t.Want[i]))
		}
	}
	// The batch rule answers the same, in order.
	for off := 0; off < len(t.Reqs); off += 100 {
		in := BatchInput(t, off, 100)
		got, err := o.CheckBatch(ctx, in)
		if err != nil {
			return err
		}
		n := min(100, len(t.Reqs)-off)
		if len(got) != n {
			return fmt.Errorf("opa batch at %d: %d answers for %d requests", off, len(got), n)
		}
		for j, g := range got {
			if g != t.Want[off+j] {
				bad = append(bad, fmt.Sprintf("batch #%d: opa %v, gatehouse %v", off+j, g, t.Want[off+j]))
			}
		}
	}
	return mismatches("opa", bad, len(t.Reqs))
}

// BatchInput is the OPA input of n requests from off.
func BatchInput(t *Tenant, off, n int) map[string]any {
	var evs []any
	for i := off; i < off+n && i < len(t.Reqs); i++ {
		evs = append(evs, OPAInput(t.Reqs[i]))
	}
	return map[string]any{"evaluations": evs}
}

func mismatches(peer string, bad []string, n int) error {
	if len(bad) == 0 {
		return nil
	}
	return fmt.Errorf("%s disagrees with Gatehouse on %d of %d requests (a benchmark bug), first: %s", peer, len(bad), n,
		bad[:min(5, len(bad))])
}

var _ = slices.Contains[[]string]
