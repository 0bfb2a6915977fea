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
			group("roleless", "", "norole1"),
			withExternal(group("sso-finance", "other", ""), "idp-finance"),
			withExternal(group("sso-guests", "", ""), "idp-guests"),
			// Left out: it names a role that does not exist.
			group("broken", "ghost", "gil"),
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
	s, problems := snapshot.Compile("t", objs)
	if len(problems) != 1 || !strings.Contains(problems[0].String(), `"ghost"`) {
		t.Fatalf("problems: %v", problems)
	}
	all := []string{"cost", "custom.code", "notes", "secret", "status"}
	tests := map[string]struct {
		snap      *snapshot.Snapshot
		nilReq    bool
		subject   snapshot.Subject
		res       string
		readable  []string
		writable  []string
		def       v1alpha1.FieldAccess
		uncovered bool
		reason    string // set: denied everything, with Check's reason
	}{
		"field default, else policy default": {subject: snapshot.Subject{ID: "plain"},
			readable: []string{"custom.code", "notes", "status"}, writable: []string{"status"}, def: "read"},
		"role grant beats default": {subject: snapshot.Subject{ID: "tech1"},
			readable: []string{"cost", "custom.code", "notes", "status"}, writable: []string{"notes", "status"}, def: "read"},
		"grant through extended role": {subject: snapshot.Subject{ID: "lead1"},
			readable: []string{"cost", "custom.code", "notes", "status"}, writable: []string{"notes", "status"}, def: "read"},
		"group grant, most open wins": {subject: snapshot.Subject{ID: "fin1"},
			readable: []string{"cost", "custom.code", "notes", "secret", "status"}, writable: []string{"cost", "status"}, def: "read"},
		"full access sees and writes all": {subject: snapshot.Subject{ID: "admin1"},
			readable: all, writable: all, def: "write"},
		"uncovered module": {subject: snapshot.Subject{ID: "tech1"}, res: "assets", def: "write", uncovered: true},
		// Known only through IdP groups: what the groups give, as for Check.
		"IdP group with a role: its grants": {subject: snapshot.Subject{ID: "x", Groups: []string{"idp-finance"}},
			readable: []string{"cost", "custom.code", "notes", "status"}, writable: []string{"cost", "status"}, def: "read"},
		"IdP group adds to a known member": {subject: snapshot.Subject{ID: "tech1", Groups: []string{"idp-finance"}},
			readable: []string{"cost", "custom.code", "notes", "status"}, writable: []string{"cost", "notes", "status"}, def: "read"},
		"IdP group without roles": {subject: snapshot.Subject{ID: "x", Groups: []string{"idp-guests"}},
			reason: snapshot.ReasonNoRoles},
		"IdP groups no group selects": {subject: snapshot.Subject{ID: "x", Groups: []string{"idp-unknown"}},
			reason: snapshot.ReasonUnknownSubject},
		// Denied everything by Check: nothing readable, whatever the defaults.
		"unknown subject": {subject: snapshot.Subject{ID: "stranger"},
			reason: snapshot.ReasonUnknownSubject},
		"unknown subject, uncovered module": {subject: snapshot.Subject{ID: "stranger"}, res: "assets",
			reason: snapshot.ReasonUnknownSubject},
		"empty subject ID": {subject: snapshot.Subject{},
			reason: snapshot.ReasonInvalidRequest},
		"empty subject ID with IdP groups": {subject: snapshot.Subject{Groups: []string{"idp-finance"}},
			reason: snapshot.ReasonInvalidRequest},
		"no request": {nilReq: true,
			reason: snapshot.ReasonInvalidRequest},
		"known subject without roles": {subject: snapshot.Subject{ID: "norole1"},
			reason: snapshot.ReasonNoRoles},
		"only in a left-out group": {subject: snapshot.Subject{ID: "gil"},
			reason: snapshot.ReasonNoRoles},
		"no snapshot": {snap: nilSnapshot, subject: snapshot.Subject{ID: "tech1"},
			reason: snapshot.ReasonNoSnapshot},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			snap := s
			if tc.snap == nilSnapshot {
				snap = nil
			}
			res := tc.res
			if res == "" {
				res = "workorders"
			}
			rq := &snapshot.Request{Subject: tc.subject, Action: "view", Resource: snapshot.Resource{Type: res}}
			if tc.nilReq {
				rq = nil
			}
			got := snap.Fields(rq)
			if got.Reason != tc.reason {
				t.Fatalf("reason %q, want %q: %+v", got.Reason, tc.reason, got)
			}
			if tc.reason != "" {
				// Closed: the reason Check denies with, nothing readable
				// or writable, unlisted fields hidden, listed ones too.
				if d := snap.Check(rq); d.Allowed || d.Reason != tc.reason {
					t.Fatalf("Check says %+v, Fields %q", d, got.Reason)
				}
				wantHidden := all
				if snap == nil || rq == nil || res != "workorders" {
					wantHidden = []string{}
				}
				if !got.Covered || got.Default != v1alpha1.FieldHidden || got.Readable == nil || len(got.Readable) != 0 ||
					got.Writable == nil || len(got.Writable) != 0 || !slices.Equal(got.Hidden, wantHidden) {
					t.Fatalf("%+v, want covered, default hidden, nothing readable or writable, hidden %v", got, wantHidden)
				}
				return
			}
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
}

// nilSnapshot marks a test case run against no snapshot.
var nilSnapshot = new(snapshot.Snapshot)

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
			got := s.Fields(&snapshot.Request{Subject: snapshot.Subject{ID: "tina"}, Resource: snapshot.Resource{Type: "workorders"}})
			if !got.Covered || got.Default != tc.def || got.Reason != "" {
				t.Errorf("tina: %+v, want covered with default %s", got, tc.def)
			}
			if tc.hidden && (len(got.Writable) > 0 || len(got.Readable) > 0) {
				t.Errorf("tina: %+v, want nothing readable or writable", got)
			}
			// A stranger gets nothing, whichever policy is served.
			got = s.Fields(&snapshot.Request{Subject: snapshot.Subject{ID: "stranger"}, Resource: snapshot.Resource{Type: "workorders"}})
			if !got.Covered || got.Default != v1alpha1.FieldHidden || len(got.Writable) > 0 || len(got.Readable) > 0 || got.Reason != snapshot.ReasonUnknownSubject {
				t.Errorf("stranger: %+v, want nothing readable or writable (UnknownSubject)", got)
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

// Fields answers without allocating, closed answers included.
func TestFieldsAllocs(t *testing.T) {
	s := mustCompile(t, snapshot.Objects{
		Roles: []v1alpha1.Role{role("tech", perm("workorders", "view", ""))},
		Groups: []v1alpha1.UserGroup{group("techs", "tech", "tina"), group("roleless", "", "rob"),
			withExternal(group("sso-techs", "tech", ""), "idp-techs")},
		FieldPolicies: []v1alpha1.FieldPolicy{fieldPolicy("wo", "workorders", "read", fieldRule("cost", "hidden", grant("read", "tech", "")))},
	})
	for name, sub := range map[string]snapshot.Subject{
		"member": {ID: "tina"}, "unknown": {ID: "stranger"}, "no roles": {ID: "rob"}, "empty ID": {},
		"IdP group": {ID: "x", Groups: []string{"idp-techs"}},
	} {
		for _, res := range []string{"workorders", "assets"} {
			rq := &snapshot.Request{Subject: sub, Resource: snapshot.Resource{Type: res}}
			if n := testing.AllocsPerRun(100, func() { s.Fields(rq) }); n != 0 {
				t.Errorf("%s on %s: %v allocations", name, res, n)
			}
		}
	}
}
