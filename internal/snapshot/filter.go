package snapshot

import "github.com/gatehouse-dev/gatehouse/pkg/planfilter"

// Evaluating a Filter on a record, as Check would decide it.

// Matches evaluates the plan's filter on a record, with the same meaning as
// Check (an application can use it to filter records in memory).
func (p Plan) Matches(res Resource) bool {
	switch p.Kind {
	case PlanAlways:
		return true
	case PlanConditional:
		return p.Filter != nil && p.Filter.Matches(&res)
	}
	return false
}

// Matches evaluates the filter on one record. A missing property or a type
// mismatch makes a predicate false, as in CEL and SQL.
func (f *Filter) Matches(res *Resource) bool {
	switch f.Op {
	case OpTrue:
		return true
	case OpAnd:
		for _, k := range f.Children {
			if !k.Matches(res) {
				return false
			}
		}
		return true
	case OpOr:
		for _, k := range f.Children {
			if k.Matches(res) {
				return true
			}
		}
		return false
	case OpCEL:
		r := f.residue
		if r == nil {
			return false
		}
		act := newActivation(r.p, &r.sub, r.action, res, nil)
		ok := r.cond.eval(act, nil)
		act.release()
		return ok
	}
	v, ok := propertyValue(res, f.Property)
	if !ok {
		return false
	}
	m, _ := planfilter.Predicate(f.Op, v, f.Value, f.Values)
	return m
}

func propertyValue(res *Resource, name string) (any, bool) {
	switch name {
	case "id":
		return res.ID, true
	case PropOwnerID:
		if res.OwnerID != "" {
			return res.OwnerID, true
		}
	case PropAssigneeIDs:
		if res.AssigneeIDs != nil {
			return res.AssigneeIDs, true
		}
	case PropUnit:
		if res.Unit != "" {
			return res.Unit, true
		}
	case PropFacilityID:
		if res.FacilityID != "" {
			return res.FacilityID, true
		}
	case PropCompanyID:
		if res.CompanyID != "" {
			return res.CompanyID, true
		}
	case PropProjectContacts:
		if res.ProjectContacts != nil {
			return res.ProjectContacts, true
		}
	}
	v, ok := res.Properties[name]
	return v, ok && v != nil
}
