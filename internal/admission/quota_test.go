package admission

import (
	"strings"
	"testing"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func TestQuotas(t *testing.T) {
	base := tenant() // 4 roles, 3 groups, 1 field policy; supervisor extends technician
	cases := map[string]struct {
		limits  snapshot.Limits
		op      Operation
		obj     any
		old     any
		denials []string // substrings, one per denial
	}{
		"no limits": {
			op: Create, obj: role("extra", nil),
		},
		"a role beyond the count": {
			limits: snapshot.Limits{Roles: 4}, op: Create, obj: role("zeta", nil),
			denials: []string{`Role "zeta": metadata.name: QuotaExceeded: the tenant would hold 5 of this kind, and this one is number 5 by name; the tenant limit is 4 Roles per tenant (--tenant-max-roles)`},
		},
		"a role that sorts first pushes the last one out: still denied": {
			limits: snapshot.Limits{Roles: 4}, op: Create, obj: role("aardvark", nil),
			denials: []string{`Role "viewer": metadata.name: QuotaExceeded`},
		},
		"updating a role at the limit is no new object": {
			limits: snapshot.Limits{Roles: 4}, op: Update, obj: role("viewer", nil, perm("workorders", "view", v1.ScopeOwn)),
			old: role("viewer", nil, perm("workorders", "view", v1.ScopeAll)),
		},
		"a tenant already over a lowered limit may still edit": {
			limits: snapshot.Limits{Roles: 2}, op: Update, obj: role("viewer", nil, perm("workorders", "view", v1.ScopeOwn)),
			old: role("viewer", nil, perm("workorders", "view", v1.ScopeAll)),
		},
		"too many members": {
			limits: snapshot.Limits{MembersPerGroup: 2}, op: Update,
			obj: group("techs", []v1.SubjectID{"tina", "tom", "tim"}, "technician"), old: group("techs", []v1.SubjectID{"tina"}, "technician"),
			denials: []string{`UserGroup "techs": spec.members: QuotaExceeded: the UserGroup has 3 members; the tenant limit is 2 members per UserGroup`},
		},
		"too many permissions": {
			limits: snapshot.Limits{PermissionsPerRole: 1}, op: Create,
			obj:     role("busy", nil, perm("workorders", "view", v1.ScopeAll), perm("workorders", "edit", v1.ScopeAll)),
			denials: []string{`spec.permissions: QuotaExceeded`},
		},
		"extending deepens a chain beyond the limit": {
			limits: snapshot.Limits{InheritanceDepth: 1}, op: Create,
			obj:     role("lead", []v1.ObjectName{"supervisor"}),
			denials: []string{`Role "lead": spec.extends: QuotaExceeded: spec.extends is 2 levels deep; the tenant limit is 1 levels (--tenant-max-inheritance-depth)`},
		},
		"deepening from below names every role pushed over": {
			limits: snapshot.Limits{InheritanceDepth: 1}, op: Update,
			obj: role("technician", []v1.ObjectName{"viewer"}), old: role("technician", nil),
			denials: []string{`Role "supervisor": spec.extends: QuotaExceeded`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			resp := Review(Request{Operation: tc.op, Object: tc.obj, OldObject: tc.old, Tenant: base,
				User: User{Name: "root"}, Privileged: true, Limits: tc.limits})
			if len(resp.Denials) != len(tc.denials) {
				t.Fatalf("denials %q, want %d like %q", resp.Denials, len(tc.denials), tc.denials)
			}
			for i, want := range tc.denials {
				if !strings.Contains(resp.Denials[i], want) {
					t.Errorf("denial %q lacks %q", resp.Denials[i], want)
				}
			}
		})
	}
}
