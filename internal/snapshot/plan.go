package snapshot

import (
	"slices"

	"github.com/gatehouse-dev/gatehouse/pkg/planfilter"
	"github.com/google/cel-go/cel"
)

// PlanKind says whether a subject may act on all, none or some records.
type PlanKind string

// Plan kinds.
const (
	PlanAlways      PlanKind = "always"
	PlanNever       PlanKind = "never"
	PlanConditional PlanKind = "conditional"
)

// Filter operators: planfilter's, the one definition the Go client shares.
const (
	OpTrue     = planfilter.OpTrue
	OpFalse    = planfilter.OpFalse
	OpAnd      = planfilter.OpAnd
	OpOr       = planfilter.OpOr
	OpEq       = planfilter.OpEq
	OpLt       = planfilter.OpLt
	OpLe       = planfilter.OpLe
	OpGt       = planfilter.OpGt
	OpGe       = planfilter.OpGe
	OpIn       = planfilter.OpIn
	OpContains = planfilter.OpContains
	OpUnder    = planfilter.OpUnder
	OpCEL      = planfilter.OpCEL
)

// Filter is a boolean expression over record properties: the standard names
// (ownerId, assigneeIds, unit, facilityId, companyId, projectContacts), "id",
// and any property a CEL condition compares.
type Filter struct {
	// Op is one of the Op* constants.
	Op string `json:"op"`
	// Children are the operands of and/or.
	Children []*Filter `json:"children,omitempty"`
	// Property is the record property a predicate tests.
	Property string `json:"property,omitempty"`
	// Value is the operand of eq, lt, le, gt, ge, contains and under.
	Value any `json:"value,omitempty"`
	// Values are the operands of in.
	Values []any `json:"values,omitempty"`
	// Expr is the CEL residue of an OpCEL node (resource still unknown).
	Expr string `json:"expr,omitempty"`

	residue *residueCtx
}

// residueCtx lets Matches evaluate an untranslated condition.
type residueCtx struct {
	s      *Snapshot
	p      *profile
	sub    Subject
	action string
	cond   *condition
}

// Plan tells which records of a module a subject may act on.
type Plan struct {
	// Kind is always, never or conditional.
	Kind PlanKind `json:"kind"`
	// Filter selects the records when Kind is conditional.
	Filter *Filter `json:"filter,omitempty"`
	// Reason is the deny reason when Kind is never.
	Reason string `json:"reason,omitempty"`
}

var (
	fTrue  = &Filter{Op: OpTrue}
	fFalse = &Filter{Op: OpFalse}
)

// Plan computes which records of resourceType the subject may perform
// action on, as a filter an application can turn into a database query.
// It mirrors Check: for every record r, Plan(...).Matches(r) equals
// Check(...).Allowed with an empty context.
func (s *Snapshot) Plan(sub Subject, action, resourceType string) Plan {
	if s == nil {
		return Plan{Kind: PlanNever, Reason: ReasonNoSnapshot}
	}
	p, why := s.profileFor(&sub)
	if p == nil {
		return Plan{Kind: PlanNever, Reason: why}
	}
	if !p.hasRoles {
		return Plan{Kind: PlanNever, Reason: ReasonNoRoles}
	}
	ri, resKnown := s.resTab.get(resourceType)
	ai, actKnown := s.actTab.get(action)
	w := int(ai >> 6)
	bit := uint64(1) << (ai & 63)
	base := int(ri) * s.stride()
	var terms []*Filter
	for sc := 0; sc < nScopes; sc++ {
		if s.scopeBit(p.bits, base, sc, w, bit) {
			terms = append(terms, s.scopeFilter(1<<sc, p, &sub))
		}
	}
	r := s.rowOf(p.bits, ri)
	gs := p.rowGrants(r)
	for i := range gs {
		g := &gs[i]
		if g.cond == nil || !g.has(w, bit) {
			continue
		}
		terms = append(terms, and(s.scopeFilter(g.mask, p, &sub), s.condFilter(g.cond, p, &sub, action)))
	}
	if len(terms) == 0 {
		switch {
		case !resKnown:
			return Plan{Kind: PlanNever, Reason: ReasonUnknownResource}
		case !actKnown:
			return Plan{Kind: PlanNever, Reason: ReasonUnknownAction}
		}
		return Plan{Kind: PlanNever, Reason: ReasonNotPermitted}
	}
	f := or(terms...)
	if r.rN > 0 {
		parts := []*Filter{}
		for _, m := range p.rowRestrict(r) {
			parts = append(parts, s.scopeFilter(m, p, &sub))
		}
		f = and(append(parts, f)...)
	}
	switch f.Op {
	case OpTrue:
		return Plan{Kind: PlanAlways}
	case OpFalse:
		return Plan{Kind: PlanNever, Reason: ReasonScopeNotMatched}
	}
	return Plan{Kind: PlanConditional, Filter: f}
}

func and(fs ...*Filter) *Filter { return junction(OpAnd, fs) }
func or(fs ...*Filter) *Filter  { return junction(OpOr, fs) }

// junction flattens and short-circuits constant children.
func junction(op string, fs []*Filter) *Filter {
	unit, zero := OpTrue, OpFalse
	if op == OpOr {
		unit, zero = OpFalse, OpTrue
	}
	var kids []*Filter
	for _, f := range fs {
		switch f.Op {
		case zero:
			return &Filter{Op: zero}
		case unit:
		case op:
			kids = append(kids, f.Children...)
		default:
			kids = append(kids, f)
		}
	}
	switch len(kids) {
	case 0:
		return &Filter{Op: unit}
	case 1:
		return kids[0]
	}
	return &Filter{Op: op, Children: kids}
}

func strValues(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// scopeFilter is the record filter of a scope mask (any of its scopes).
func (s *Snapshot) scopeFilter(mask uint16, p *profile, sub *Subject) *Filter {
	if mask&maskAll != 0 {
		return fTrue
	}
	a := &p.attr
	var terms []*Filter
	id := sub.ID
	for sc := scOwn; sc < nScopes; sc++ {
		if mask&(1<<sc) == 0 {
			continue
		}
		switch sc {
		case scOwn:
			terms = append(terms, &Filter{Op: OpEq, Property: PropOwnerID, Value: id})
		case scAssigned:
			terms = append(terms, &Filter{Op: OpContains, Property: PropAssigneeIDs, Value: id})
		case scContact:
			terms = append(terms, &Filter{Op: OpContains, Property: PropProjectContacts, Value: id})
		case scUnit, scUnitTree:
			units := a.units
			if !a.hasUnit {
				units = nil
				if sub.Unit != "" {
					units = []string{normUnit(sub.Unit)}
				}
			}
			for _, u := range units {
				if sc == scUnit {
					terms = append(terms, &Filter{Op: OpEq, Property: PropUnit, Value: u})
				} else {
					terms = append(terms, &Filter{Op: OpUnder, Property: PropUnit, Value: u})
				}
			}
		case scFacility:
			f := a.facilities
			if !a.hasFacilities {
				f = sub.Facilities
			}
			if len(f) > 0 {
				terms = append(terms, &Filter{Op: OpIn, Property: PropFacilityID, Values: strValues(f)})
			}
		case scCompany:
			var cs []string
			if a.hasCompany {
				cs = append(cs, a.company...)
			} else if sub.Company != "" {
				cs = append(cs, sub.Company)
			}
			if a.hasCompanies {
				cs = append(cs, a.companies...)
			} else {
				cs = append(cs, sub.Companies...)
			}
			slices.Sort(cs)
			cs = slices.Compact(cs)
			if i := slices.Index(cs, ""); i >= 0 {
				cs = slices.Delete(cs, i, i+1)
			}
			if len(cs) > 0 {
				terms = append(terms, &Filter{Op: OpIn, Property: PropCompanyID, Values: strValues(cs)})
			}
		}
	}
	return or(terms...)
}

// condFilter partially evaluates a condition with the subject known and the
// record unknown, and translates what is left.
func (s *Snapshot) condFilter(c *condition, p *profile, sub *Subject, action string) *Filter {
	vars := map[string]any{"subject": subjectMap(p, sub), "action": map[string]any{"name": action}}
	known, val, rest := c.residual(vars)
	if known {
		if val {
			return fTrue
		}
		return fFalse
	}
	if f, ok := translate(rest.NativeRep().Expr()); ok {
		return f
	}
	txt, err := cel.AstToString(rest)
	if err != nil {
		txt = c.src
	}
	return &Filter{Op: OpCEL, Expr: txt, residue: &residueCtx{s: s, p: p, sub: *sub, action: action, cond: c}}
}
