// Package planfilter is the one definition of a query plan's filter
// operators and of how a predicate decides one record value. The server's
// evaluator (internal/snapshot: Filter.Matches, and the unit scopes of
// Check) and the Go client (pkg/client: Filter.Matches) both use it, so a
// list an app filters in memory agrees with the server's decisions. It
// depends on the standard library only, like the client.
package planfilter

import (
	"slices"
	"strings"
)

// Filter operators.
const (
	OpTrue     = "true"     // every record
	OpFalse    = "false"    // no record
	OpAnd      = "and"      // all Children
	OpOr       = "or"       // any of Children
	OpEq       = "eq"       // Property == Value
	OpLt       = "lt"       // Property < Value
	OpLe       = "le"       // Property <= Value
	OpGt       = "gt"       // Property > Value
	OpGe       = "ge"       // Property >= Value
	OpIn       = "in"       // Property is one of Values
	OpContains = "contains" // the list Property contains Value
	OpUnder    = "under"    // the unit path Property is Value or below it
	OpCEL      = "cel"      // a CEL residue that could not be translated
)

// Predicate decides the predicate op (eq, lt, le, gt, ge, in, contains,
// under) on v, the record's value of the property, with the operand value
// or values. A type mismatch is false, as in CEL and SQL. known is false
// when op is not a predicate (and, or, true, false, cel, or unknown).
func Predicate(op string, v, value any, values []any) (match, known bool) {
	switch op {
	case OpEq:
		return Equal(v, value), true
	case OpLt, OpLe, OpGt, OpGe:
		c, ok := Compare(v, value)
		if !ok {
			return false, true
		}
		switch op {
		case OpLt:
			return c < 0, true
		case OpLe:
			return c <= 0, true
		case OpGt:
			return c > 0, true
		}
		return c >= 0, true
	case OpIn:
		return slices.ContainsFunc(values, func(x any) bool { return Equal(v, x) }), true
	case OpContains:
		switch list := v.(type) {
		case []string:
			s, ok := value.(string)
			return ok && slices.Contains(list, s), true
		case []any:
			return slices.ContainsFunc(list, func(x any) bool { return Equal(x, value) }), true
		}
		return false, true
	case OpUnder:
		u, ok1 := v.(string)
		pre, ok2 := value.(string)
		return ok1 && ok2 && u != "" && UnitCovers(pre, u, true), true
	}
	return false, false
}

// UnitCovers reports whether unit path subjectUnit reaches recordUnit: the
// same unit, or, with tree, a unit below it on a path-segment boundary
// (/ca/ab covers /ca/ab/calgary, not /ca/abc).
func UnitCovers(subjectUnit, recordUnit string, tree bool) bool {
	if subjectUnit == recordUnit {
		return true
	}
	if !tree || !strings.HasPrefix(recordUnit, subjectUnit) {
		return false
	}
	return subjectUnit == "/" || recordUnit[len(subjectUnit)] == '/'
}

// Equal compares two values: numbers of any Go numeric type by value,
// strings and booleans exactly; anything else is unequal.
func Equal(a, b any) bool {
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

// Compare orders two numbers or two strings; ok is false for other types
// and for NaN (which compares false in CEL).
func Compare(a, b any) (c int, ok bool) {
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
