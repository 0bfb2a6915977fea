package planfilter

import (
	"math"
	"testing"
)

func TestPredicate(t *testing.T) {
	tests := map[string]struct {
		op           string
		v, value     any
		values       []any
		match, known bool
	}{
		"eq across numeric types":              {op: OpEq, v: int8(3), value: 3.0, match: true, known: true},
		"eq string":                            {op: OpEq, v: "a", value: "a", match: true, known: true},
		"eq type mismatch":                     {op: OpEq, v: "3", value: 3, known: true},
		"eq bool":                              {op: OpEq, v: true, value: true, match: true, known: true},
		"eq of a list is false":                {op: OpEq, v: []any{1}, value: 1, known: true},
		"eq of a missing value":                {op: OpEq, v: nil, value: "x", known: true},
		"lt numbers":                           {op: OpLt, v: uint16(2), value: 3, match: true, known: true},
		"ge equal numbers":                     {op: OpGe, v: 5, value: int64(5), match: true, known: true},
		"gt strings":                           {op: OpGt, v: "b", value: "a", match: true, known: true},
		"le mixed types":                       {op: OpLe, v: "1", value: 2, known: true},
		"NaN compares false":                   {op: OpLe, v: math.NaN(), value: 1, known: true},
		"in":                                   {op: OpIn, v: "b", values: []any{"a", "b"}, match: true, known: true},
		"in none":                              {op: OpIn, v: "c", values: []any{"a", "b"}, known: true},
		"contains in []string":                 {op: OpContains, v: []string{"x", "y"}, value: "y", match: true, known: true},
		"contains a non-string in []string":    {op: OpContains, v: []string{"1"}, value: 1, known: true},
		"contains in []any by value":           {op: OpContains, v: []any{1.0, 2.0}, value: 2, match: true, known: true},
		"contains on a scalar":                 {op: OpContains, v: "xy", value: "x", known: true},
		"under itself":                         {op: OpUnder, v: "/ca/ab", value: "/ca/ab", match: true, known: true},
		"under below":                          {op: OpUnder, v: "/ca/ab/calgary", value: "/ca/ab", match: true, known: true},
		"under a prefix that is not a segment": {op: OpUnder, v: "/ca/abc", value: "/ca/ab", known: true},
		"under the root":                       {op: OpUnder, v: "/ca", value: "/", match: true, known: true},
		"under an empty unit":                  {op: OpUnder, v: "", value: "", known: true},
		"and is not a predicate":               {op: OpAnd},
		"cel is not a predicate":               {op: OpCEL, v: 1},
		"an unknown op":                        {op: "regex", v: "a", value: "a"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			match, known := Predicate(tc.op, tc.v, tc.value, tc.values)
			if match != tc.match || known != tc.known {
				t.Errorf("Predicate(%s, %v, %v, %v) = %v, %v; want %v, %v", tc.op, tc.v, tc.value, tc.values, match, known, tc.match, tc.known)
			}
		})
	}
}

func TestUnitCovers(t *testing.T) {
	tests := map[string]struct {
		subject, record string
		tree, want      bool
	}{
		"same unit":                 {"/ca/ab", "/ca/ab", false, true},
		"below without tree":        {"/ca/ab", "/ca/ab/calgary", false, false},
		"below with tree":           {"/ca/ab", "/ca/ab/calgary", true, true},
		"sibling sharing a prefix":  {"/ca/ab", "/ca/abc", true, false},
		"above":                     {"/ca/ab/calgary", "/ca/ab", true, false},
		"root covers all with tree": {"/", "/ca", true, true},
	}
	for name, tc := range tests {
		if got := UnitCovers(tc.subject, tc.record, tc.tree); got != tc.want {
			t.Errorf("%s: UnitCovers(%q, %q, %v) = %v", name, tc.subject, tc.record, tc.tree, got)
		}
	}
}
