package client

import (
	"errors"
	"fmt"
	"slices"

	"github.com/gatehouse-dev/gatehouse/pkg/planfilter"
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
	// A missing property is nil, which no predicate matches.
	if m, known := planfilter.Predicate(f.Op, record[f.Property], f.Value, f.Values); known {
		return m, nil
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
