package client

import (
	"errors"
	"fmt"
	"slices"
	"strings"
)

// ErrCELFilter is returned by Filter.Matches for a cel node, which only
// the server can evaluate: ask Evaluate for such records (or use the
// plan's SQL, where the server renders what it can).
var ErrCELFilter = errors.New("gatehouse: the filter has a CEL condition the client cannot evaluate")

// Matches evaluates the filter on one record, given as its properties by
// name (the standard names ownerId, assigneeIds, unit, facilityId,
// companyId, projectContacts, "id", and any other property). A missing
// property or a type mismatch makes a predicate false, as on the server.
// Numbers of any Go numeric type compare by value; lists are []string or
// []any. A cel node is an error (ErrCELFilter), never a match.
func (f *Filter) Matches(record map[string]any) (bool, error) {
	if f == nil {
		return false, errors.New("gatehouse: nil filter")
	}
	switch f.Op {
	case OpTrue:
		return true, nil
	case OpFalse:
		return false, nil
	case OpAnd, OpOr:
		and := f.Op == OpAnd
		for _, k := range f.Children {
			m, err := k.Matches(record)
			if err != nil {
				return false, err
			}
			if m != and {
				return m, nil
			}
		}
		return and, nil
	case OpCEL:
		return false, ErrCELFilter
	}
	v, ok := record[f.Property]
	if !ok || v == nil {
		switch f.Op {
		case OpEq, OpLt, OpLe, OpGt, OpGe, OpIn, OpContains, OpUnder:
			return false, nil
		}
		return false, fmt.Errorf("gatehouse: unknown filter op %q", shortPrefix(f.Op, shortValue))
	}
	switch f.Op {
	case OpEq:
		return equalValues(v, f.Value), nil
	case OpLt, OpLe, OpGt, OpGe:
		c, ok := compareValues(v, f.Value)
		if !ok {
			return false, nil
		}
		switch f.Op {
		case OpLt:
			return c < 0, nil
		case OpLe:
			return c <= 0, nil
		case OpGt:
			return c > 0, nil
		}
		return c >= 0, nil
	case OpIn:
		for _, x := range f.Values {
			if equalValues(v, x) {
				return true, nil
			}
		}
		return false, nil
	case OpContains:
		switch list := v.(type) {
		case []string:
			s, _ := f.Value.(string)
			return slices.Contains(list, s), nil
		case []any:
			for _, x := range list {
				if equalValues(x, f.Value) {
					return true, nil
				}
			}
		}
		return false, nil
	case OpUnder:
		u, ok1 := v.(string)
		pre, ok2 := f.Value.(string)
		return ok1 && ok2 && u != "" && unitUnder(pre, u), nil
	}
	return false, fmt.Errorf("gatehouse: unknown filter op %q", shortPrefix(f.Op, shortValue))
}

// Matches tells whether the plan admits the record: true for PlanAlways,
// false for PlanNever, the filter's answer for PlanConditional.
func (p *Plan) Matches(record map[string]any) (bool, error) {
	switch p.Kind {
	case PlanAlways:
		return true, nil
	case PlanNever:
		return false, nil
	case PlanConditional:
		return p.Filter.Matches(record)
	}
	return false, fmt.Errorf("gatehouse: unknown plan kind %q", shortPrefix(p.Kind, shortValue))
}

// unitUnder tells whether unit path u is pre or below it.
func unitUnder(pre, u string) bool {
	if pre == u {
		return true
	}
	if !strings.HasPrefix(u, pre) {
		return false
	}
	return pre == "/" || u[len(pre)] == '/'
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
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
		if !ok || fa != fa || fb != fb {
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

// CanRead tells whether the subject may read field (a name of the
// FieldPolicy, e.g. "billingRate" or "custom.warrantyCode").
func (fa *FieldAccess) CanRead(field string) bool {
	if !fa.Covered {
		return true
	}
	if slices.Contains(fa.Readable, field) {
		return true
	}
	if slices.Contains(fa.Hidden, field) {
		return false
	}
	return fa.Reason == "" && (fa.Default == FieldRead || fa.Default == FieldWrite)
}

// CanWrite tells whether the subject may write field.
func (fa *FieldAccess) CanWrite(field string) bool {
	if !fa.Covered {
		return true
	}
	if slices.Contains(fa.Writable, field) {
		return true
	}
	if slices.Contains(fa.Readable, field) || slices.Contains(fa.Hidden, field) {
		return false
	}
	return fa.Reason == "" && fa.Default == FieldWrite
}

// Mask returns a copy of record without the fields the subject may not
// read. Nested objects (map[string]any) are masked by dotted path
// ("custom.warrantyCode"); the record is not modified.
func (fa *FieldAccess) Mask(record map[string]any) map[string]any {
	return fa.mask(record, "")
}

func (fa *FieldAccess) mask(record map[string]any, prefix string) map[string]any {
	out := make(map[string]any, len(record))
	for k, v := range record {
		p := prefix + k
		if m, ok := v.(map[string]any); ok && fa.CanRead(p) {
			out[k] = fa.mask(m, p+".")
			continue
		}
		if fa.CanRead(p) {
			out[k] = v
		}
	}
	return out
}
