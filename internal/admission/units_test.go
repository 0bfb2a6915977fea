package admission

import (
	"strings"
	"testing"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// TestReviewUnits: the webhook rejects a UserGroup whose unit is not
// canonical, with the compiler's problem (snapshot.ValidUnit decides both),
// on create and update, even for a privileged user.
func TestReviewUnits(t *testing.T) {
	objs := tenant()
	snap, _ := snapshot.Compile("t", objs)
	cases := map[string]struct{ unit, want string }{
		"canonical":               {"/ca/ab/calgary", ""},
		"root":                    {"/", ""},
		"empty":                   {"", "(empty)"},
		"relative":                {"ca/ab", `(does not start with "/")`},
		"double slash":            {"/ca//ab", `(an empty segment, "//")`},
		"trailing slash":          {"/ca/ab/", `(a trailing "/")`},
		"dot segment":             {"/ca/./ab", `(a "." segment)`},
		"dot-dot segment":         {"/ca/../on", `(a ".." segment)`},
		"dot-dot escaping a tree": {"/ca/ab/calgary/../../on", `(a ".." segment)`},
		"NUL":                     {"/ca/ab\x00", "(a NUL or control character)"},
		"newline":                 {"/ca/ab\n/on", "(a NUL or control character)"},
		"DEL":                     {"/ca/\x7fab", "(a NUL or control character)"},
		"invalid UTF-8":           {"/ca/\xff", "(not valid UTF-8)"},
		"over-long":               {"/" + strings.Repeat("a", snapshot.MaxUnitLen), "(longer than 1024 bytes)"},
	}
	for name, tc := range cases {
		for _, op := range []Operation{Create, Update} {
			t.Run(name+"/"+string(op), func(t *testing.T) {
				g := group("crew", []v1.SubjectID{"tina"}, "supervisor")
				g.Spec.Attributes = map[string]v1.AttributeValue{"unit": v1.StringAttribute(tc.unit)}
				var old any
				if op == Update {
					old = group("crew", []v1.SubjectID{"tina"}, "supervisor")
				}
				got := Review(Request{Operation: op, Object: g, OldObject: old, Tenant: objs, Snapshot: snap, Privileged: true})
				if tc.want == "" {
					if !got.Allowed() {
						t.Fatalf("denied: %s", got.Message())
					}
					return
				}
				want := `UserGroup "crew": spec.attributes.unit: InvalidSpec: `
				if len(got.Denials) != 1 || !strings.HasPrefix(got.Denials[0], want) ||
					!strings.Contains(got.Denials[0], "not a canonical unit path "+tc.want) {
					t.Fatalf("denials = %q, want one starting %q saying %q", got.Denials, want, tc.want)
				}
			})
		}
	}
}
