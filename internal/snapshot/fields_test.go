package snapshot_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func TestFields(t *testing.T) {
	objs := snapshot.Objects{
		Roles: []v1alpha1.Role{role("tech", perm("workorders", "view", "")), extends(role("lead"), "tech"), fullAccess("admin"), role("other")},
		Groups: []v1alpha1.UserGroup{
			group("techs", "tech", "tech1"),
			group("leads", "lead", "lead1"),
			group("finance", "other", "fin1"),
			group("admins", "admin", "admin1"),
			group("nobody", "other", "plain"),
			withExternal(group("sso-finance", "", ""), "idp-finance"),
		},
		FieldPolicies: []v1alpha1.FieldPolicy{
			fieldPolicy("wo", "workorders", "read",
				fieldRule("cost", "hidden", grant("read", "tech", ""), grant("write", "", "finance,sso-finance")),
				fieldRule("notes", "", grant("write", "tech", "")),
				fieldRule("secret", "hidden", grant("hidden", "tech", ""), grant("read", "", "finance")),
				fieldRule("status", "write"),
				fieldRule("custom.code", "")),
		},
	}
	s := mustCompile(t, objs)
	tests := map[string]struct {
		subject   snapshot.Subject
		res       string
		readable  []string
		writable  []string
		def       v1alpha1.FieldAccess
		uncovered bool
	}{
		"field default, else policy default": {subject: snapshot.Subject{ID: "plain"},
			readable: []string{"custom.code", "notes", "status"}, writable: []string{"status"}, def: "read"},
		"role grant beats default": {subject: snapshot.Subject{ID: "tech1"},
			readable: []string{"cost", "custom.code", "notes", "status"}, writable: []string{"notes", "status"}, def: "read"},
		"grant through extended role": {subject: snapshot.Subject{ID: "lead1"},
			readable: []string{"cost", "custom.code", "notes", "status"}, writable: []string{"notes", "status"}, def: "read"},
		"group grant, most open wins": {subject: snapshot.Subject{ID: "fin1"},
			readable: []string{"cost", "custom.code", "notes", "secret", "status"}, writable: []string{"cost", "status"}, def: "read"},
		"external group grant": {subject: snapshot.Subject{ID: "x", Groups: []string{"idp-finance"}},
			readable: []string{"cost", "custom.code", "notes", "status"}, writable: []string{"cost", "status"}, def: "read"},
		"full access sees and writes all": {subject: snapshot.Subject{ID: "admin1"},
			readable: []string{"cost", "custom.code", "notes", "secret", "status"}, writable: []string{"cost", "custom.code", "notes", "secret", "status"}, def: "write"},
		"unknown subject gets defaults": {subject: snapshot.Subject{ID: "stranger"},
			readable: []string{"custom.code", "notes", "status"}, writable: []string{"status"}, def: "read"},
		"uncovered module": {subject: snapshot.Subject{ID: "tech1"}, res: "assets", def: "write", uncovered: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			res := tc.res
			if res == "" {
				res = "workorders"
			}
			got := s.Fields(&snapshot.Request{Subject: tc.subject, Action: "view", Resource: snapshot.Resource{Type: res}})
			if got.Covered == tc.uncovered || got.Default != tc.def {
				t.Fatalf("covered=%v default=%s", got.Covered, got.Default)
			}
			if tc.uncovered {
				return
			}
			if !slices.Equal(got.Readable, tc.readable) || !slices.Equal(got.Writable, tc.writable) {
				t.Fatalf("readable %v writable %v, want %v %v", got.Readable, got.Writable, tc.readable, tc.writable)
			}
			for _, w := range got.Writable {
				if !slices.Contains(got.Readable, w) {
					t.Fatalf("writable %s not readable", w)
				}
			}
			for _, h := range got.Hidden {
				if slices.Contains(got.Readable, h) {
					t.Fatalf("%s both hidden and readable", h)
				}
			}
			if len(got.Hidden)+len(got.Readable) != 5 {
				t.Fatalf("fields unaccounted: %+v", got)
			}
		})
	}
	var nilSnap *snapshot.Snapshot
	if got := nilSnap.Fields(&snapshot.Request{}); got.Default != v1alpha1.FieldHidden || len(got.Readable) != 0 {
		t.Fatalf("nil snapshot fields: %+v", got)
	}
}

// A FieldPolicy left out for a problem must not open its module's fields:
// until it is fixed, every field of the module is hidden (full access
// aside), and the problem names the cause.
func TestBrokenFieldPolicyFailsClosed(t *testing.T) {
	tests := map[string]struct {
		policies []v1alpha1.FieldPolicy
		problem  string
		def      v1alpha1.FieldAccess
		hidden   bool
	}{
		"a grant naming a missing role": {
			policies: []v1alpha1.FieldPolicy{fieldPolicy("wo", "workorders", "write", fieldRule("cost", "hidden", grant("write", "gone", "")))},
			problem:  `spec.fields[0].grants[0].roles[0]: InvalidReference: Role "gone" does not exist`,
			def:      v1alpha1.FieldHidden, hidden: true,
		},
		"a grant naming a missing group": {
			policies: []v1alpha1.FieldPolicy{fieldPolicy("wo", "workorders", "read", fieldRule("cost", "", grant("write", "", "ghosts")))},
			problem:  `spec.fields[0].grants[0].groups[0]: InvalidReference`,
			def:      v1alpha1.FieldHidden, hidden: true,
		},
		"a valid policy for the module still wins": {
			policies: []v1alpha1.FieldPolicy{
				fieldPolicy("a-broken", "workorders", "write", fieldRule("cost", "hidden", grant("write", "gone", ""))),
				fieldPolicy("b-valid", "workorders", "read"),
			},
			problem: `InvalidReference: Role "gone" does not exist`,
			def:     v1alpha1.FieldRead,
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := snapshot.Objects{
				Roles:         []v1alpha1.Role{role("tech", perm("workorders", "view", "")), fullAccess("admin")},
				Groups:        []v1alpha1.UserGroup{group("techs", "tech", "tina"), group("admins", "admin", "ada")},
				FieldPolicies: tc.policies,
			}
			s, problems := snapshot.Compile("t", objs)
			if !slices.ContainsFunc(problems, func(p snapshot.Problem) bool { return strings.Contains(p.String(), tc.problem) }) {
				t.Errorf("problems %v, want one containing %q", problems, tc.problem)
			}
			for _, who := range []string{"tina", "stranger"} {
				got := s.Fields(&snapshot.Request{Subject: snapshot.Subject{ID: who}, Resource: snapshot.Resource{Type: "workorders"}})
				if !got.Covered || got.Default != tc.def {
					t.Errorf("%s: %+v, want covered with default %s", who, got, tc.def)
				}
				if tc.hidden && (len(got.Writable) > 0 || len(got.Readable) > 0) {
					t.Errorf("%s: %+v, want nothing readable or writable", who, got)
				}
			}
			// Full access still writes everything.
			if got := s.Fields(&snapshot.Request{Subject: snapshot.Subject{ID: "ada"}, Resource: snapshot.Resource{Type: "workorders"}}); got.Default != v1alpha1.FieldWrite {
				t.Errorf("full access: %+v", got)
			}
			// Other modules are untouched.
			if got := s.Fields(&snapshot.Request{Subject: snapshot.Subject{ID: "tina"}, Resource: snapshot.Resource{Type: "assets"}}); got.Covered {
				t.Errorf("assets: %+v", got)
			}
		})
	}
}
