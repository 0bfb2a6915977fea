package snapshot_test

import (
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// unitCases are the unit paths of the canonical-unit tests: want is "" for
// a canonical unit, else the parenthesised reason of ValidUnit's error.
var unitCases = map[string]struct {
	unit, want string
}{
	"canonical":               {"/ca/ab/calgary", ""},
	"one segment":             {"/ca", ""},
	"root":                    {"/", ""},
	"non-ASCII":               {"/qc/montréal", ""},
	"dots inside a segment":   {"/ca/a.b/..c/.d./...", ""},
	"exactly the max length":  {"/" + strings.Repeat("a", snapshot.MaxUnitLen-1), ""},
	"empty":                   {"", "(empty)"},
	"relative":                {"ca/ab", `(does not start with "/")`},
	"double slash":            {"/ca//ab", `(an empty segment, "//")`},
	"leading double slash":    {"//ca", `(an empty segment, "//")`},
	"only slashes":            {"//", `(an empty segment, "//")`},
	"trailing slash":          {"/ca/ab/", `(a trailing "/")`},
	"dot segment":             {"/ca/./ab", `(a "." segment)`},
	"trailing dot":            {"/ca/.", `(a "." segment)`},
	"dot-dot segment":         {"/ca/../on", `(a ".." segment)`},
	"dot-dot escaping a tree": {"/ca/ab/calgary/../../on", `(a ".." segment)`},
	"trailing dot-dot":        {"/ca/ab/calgary/..", `(a ".." segment)`},
	"NUL":                     {"/ca/ab\x00/on", "(a NUL or control character)"},
	"newline":                 {"/ca/ab\n/on", "(a NUL or control character)"},
	"tab":                     {"/ca/\tab", "(a NUL or control character)"},
	"DEL":                     {"/ca/ab\x7f", "(a NUL or control character)"},
	"invalid UTF-8":           {"/ca/\xff\xfe", "(not valid UTF-8)"},
	"truncated UTF-8":         {"/qc/montr\xc3", "(not valid UTF-8)"},
	"over-long":               {"/" + strings.Repeat("a", snapshot.MaxUnitLen), "(longer than 1024 bytes)"},
}

func TestValidUnit(t *testing.T) {
	for name, tc := range unitCases {
		t.Run(name, func(t *testing.T) {
			err := snapshot.ValidUnit(tc.unit)
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("ValidUnit(%q) = %v, want nil", tc.unit, err)
			case tc.want != "" && err == nil:
				t.Fatalf("ValidUnit(%q) = nil, want %s", tc.unit, tc.want)
			case tc.want != "" && err.Error() != "not a canonical unit path "+tc.want:
				t.Fatalf("ValidUnit(%q) = %q, want %q", tc.unit, err, "not a canonical unit path "+tc.want)
			}
		})
	}
}

func TestValidUnitAllocs(t *testing.T) {
	for _, u := range []string{"/ca/ab/calgary", "/qc/montréal", "/ca/../on", "/ca/\xff"} {
		if n := testing.AllocsPerRun(100, func() { _ = snapshot.ValidUnit(u) }); n != 0 {
			t.Errorf("ValidUnit(%q): %.0f allocs, want 0", u, n)
		}
	}
}

// TestPolicyUnits: a UserGroup whose unit is not canonical is left out with
// an InvalidSpec problem at spec.attributes.unit, the same problem
// CheckUserGroup (the admission webhook's check) reports; its members get
// nothing from it, even for a record spelled to match the unit as written.
func TestPolicyUnits(t *testing.T) {
	for name, tc := range unitCases {
		t.Run(name, func(t *testing.T) {
			g := withAttrs(group("crew", "tech", "u1"), "unit", tc.unit)
			objs := snapshot.Objects{
				Roles:  []v1alpha1.Role{role("tech", perm("workorders", "view", v1alpha1.ScopeUnitTree))},
				Groups: []v1alpha1.UserGroup{g},
			}
			s, probs := snapshot.Compile("t", objs)
			local := snapshot.CheckUserGroup(&g)
			// a record in the unit as written (or below it): what the old
			// prefix comparison let through
			rec := tc.unit
			if tc.unit == "" || tc.unit[0] != '/' {
				rec = "/" + tc.unit
			}
			d := s.Check(req("u1", "view", "workorders", snapshot.Resource{Unit: rec}))
			if tc.want == "" {
				if len(probs) != 0 || len(local) != 0 {
					t.Fatalf("problems %v, local %v; want none", probs, local)
				}
				if !d.Allowed {
					t.Fatalf("record in %q denied (%s)", rec, d.Reason)
				}
				return
			}
			if len(probs) != 1 {
				t.Fatalf("problems = %v, want one", probs)
			}
			p := probs[0]
			if p.Kind != snapshot.KindUserGroup || p.Name != "crew" || p.Field != "spec.attributes.unit" || p.Reason != v1alpha1.ReasonInvalidSpec {
				t.Errorf("problem = %+v, want UserGroup crew spec.attributes.unit InvalidSpec", p)
			}
			if !strings.Contains(p.Message, "not a canonical unit path "+tc.want) {
				t.Errorf("message %q does not say %q", p.Message, tc.want)
			}
			if len(p.Message) > 200 {
				t.Errorf("message of %d bytes: the value is not shortened", len(p.Message))
			}
			if len(local) != 1 || local[0] != p {
				t.Errorf("CheckUserGroup = %v, want the compiler's %v", local, p)
			}
			if d.Allowed {
				t.Errorf("a left-out group's unit %q still grants a record in %q", tc.unit, rec)
			}
		})
	}
}

func TestPolicyUnitListIsOneValue(t *testing.T) {
	g := withAttrs(group("crew", "tech", "u1"), "unit", "[/ca/ab,/ca/bc]")
	ps := snapshot.CheckUserGroup(&g)
	if len(ps) != 1 || ps[0].Field != "spec.attributes.unit" || !strings.Contains(ps[0].Message, "single path") {
		t.Fatalf("problems = %v, want one: unit must be a single path", ps)
	}
}
