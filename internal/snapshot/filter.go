package snapshot

import (
	"slices"
	"strings"
)

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
	switch f.Op {
	case OpEq:
		return equalValues(v, f.Value)
	case OpLt, OpLe, OpGt, OpGe:
		c, ok := compareValues(v, f.Value)
		if !ok {
			return false
		}
		switch f.Op {
		case OpLt:
			return c < 0
		case OpLe:
			return c <= 0
		case OpGt:
			return c > 0
		}
		return c >= 0
	case OpIn:
		for _, x := range f.Values {
			if equalValues(v, x) {
				return true
			}
		}
	case OpContains:
		switch list := v.(type) {
		case []string:
			s, _ := f.Value.(string)
			return slices.Contains(list, s)
		case []any:
			for _, x := range list {
				if equalValues(x, f.Value) {
					return true
				}
			}
		}
	case OpUnder:
		u, ok1 := v.(string)
		pre, ok2 := f.Value.(string)
		return ok1 && ok2 && u != "" && unitMatch(pre, u, true)
	}
	return false
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

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func equalValues(a, b any) bool {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

func compareValues(a, b any) (int, bool) {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		if !ok || fa != fa || fb != fb { // NaN compares false in CEL
			return 0, false
		}
		switch {
		case fa < fb:
			return -1, true
		case fa > fb:
			return 1, true
		}
		return 0, true
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	}
	return 0, false
}
