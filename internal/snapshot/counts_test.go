package snapshot_test

import (
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Counts (published as the PermissionSnapshot status counts and the
// gatehouse_snapshot_objects metric) count what is served: an object left
// out for a problem is reported, never counted, even when it is still laid
// out to fail closed (a left-out group keeps restricting, a left-out
// FieldPolicy's module has its fields hidden).
func TestCountsLeaveOutWhatIsReported(t *testing.T) {
	step := func(name, roles, groups string) v1alpha1.ApprovalStep {
		return v1alpha1.ApprovalStep{Name: v1alpha1.ObjectName(name), Approvers: v1alpha1.Approvers{Roles: objNames(roles), Groups: objNames(groups)}}
	}
	base := func() snapshot.Objects {
		return snapshot.Objects{
			Roles:  []v1alpha1.Role{role("tech", perm("workorders", "view", ""))},
			Groups: []v1alpha1.UserGroup{group("techs", "tech", "u1,u2")},
		}
	}
	tests := map[string]struct {
		objs   func(o *snapshot.Objects)
		want   snapshot.Counts // Profiles is not compared
		leftOf []string        // Kind/Name of the reported objects
	}{
		"nothing left out": {
			objs: func(o *snapshot.Objects) {
				o.FieldPolicies = append(o.FieldPolicies, fieldPolicy("wo-fields", "workorders", "read", fieldRule("cost", "", grant("write", "tech", ""))))
				o.ApprovalChains = append(o.ApprovalChains, chain("wo-approval", "workorders", step("lead", "tech", "")))
			},
			want: snapshot.Counts{Roles: 1, Groups: 1, Subjects: 2, FieldPolicies: 1, ApprovalChains: 1},
		},
		"a FieldPolicy granting to a missing role": {
			objs: func(o *snapshot.Objects) {
				o.FieldPolicies = append(o.FieldPolicies, fieldPolicy("wo-fields", "workorders", "read", fieldRule("cost", "", grant("write", "ghost", ""))))
			},
			want:   snapshot.Counts{Roles: 1, Groups: 1, Subjects: 2},
			leftOf: []string{"FieldPolicy/wo-fields"},
		},
		"a FieldPolicy granting to a left-out group": {
			objs: func(o *snapshot.Objects) {
				o.Groups = append(o.Groups, group("broken", "ghost", "u3"))
				o.FieldPolicies = append(o.FieldPolicies, fieldPolicy("wo-fields", "workorders", "read", fieldRule("cost", "", grant("write", "", "broken"))))
			},
			want:   snapshot.Counts{Roles: 1, Groups: 1, Subjects: 2},
			leftOf: []string{"FieldPolicy/wo-fields", "UserGroup/broken"},
		},
		"a left-out FieldPolicy beside a served one for the same module": {
			objs: func(o *snapshot.Objects) {
				o.FieldPolicies = append(o.FieldPolicies,
					fieldPolicy("a-broken", "workorders", "read", fieldRule("cost", "", grant("write", "ghost", ""))),
					fieldPolicy("b-served", "workorders", "read"))
			},
			want:   snapshot.Counts{Roles: 1, Groups: 1, Subjects: 2, FieldPolicies: 1},
			leftOf: []string{"FieldPolicy/a-broken"},
		},
		"a group naming a missing role, with a restriction and its own member": {
			objs: func(o *snapshot.Objects) {
				o.Groups = append(o.Groups, withRestriction(group("contractors", "ghost", "u2,u3"), "workorders", v1alpha1.ScopeOwn))
			},
			// u2 is served through techs; u3 is only restricted.
			want:   snapshot.Counts{Roles: 1, Groups: 1, Subjects: 2},
			leftOf: []string{"UserGroup/contractors"},
		},
		"a group including a left-out group": {
			objs: func(o *snapshot.Objects) {
				o.Groups = append(o.Groups, group("broken", "ghost", "u4"), withMemberGroups(group("outer", "tech", "u5"), "broken"))
			},
			want:   snapshot.Counts{Roles: 1, Groups: 1, Subjects: 2},
			leftOf: []string{"UserGroup/broken", "UserGroup/outer"},
		},
		"a chain whose approvers name a missing role": {
			objs: func(o *snapshot.Objects) {
				o.ApprovalChains = append(o.ApprovalChains, chain("wo-approval", "workorders", step("lead", "ghost", "")))
			},
			want:   snapshot.Counts{Roles: 1, Groups: 1, Subjects: 2},
			leftOf: []string{"ApprovalChain/wo-approval"},
		},
		"a chain whose approvers name a left-out group": {
			objs: func(o *snapshot.Objects) {
				o.Groups = append(o.Groups, group("broken", "ghost", "u3"))
				o.ApprovalChains = append(o.ApprovalChains, chain("wo-approval", "workorders", step("lead", "", "broken")))
			},
			want:   snapshot.Counts{Roles: 1, Groups: 1, Subjects: 2},
			leftOf: []string{"ApprovalChain/wo-approval", "UserGroup/broken"},
		},
		"a role extending a missing role": {
			objs: func(o *snapshot.Objects) {
				o.Roles = append(o.Roles, extends(role("lead", perm("assets", "view", "")), "ghost"))
			},
			want:   snapshot.Counts{Roles: 1, Groups: 1, Subjects: 2},
			leftOf: []string{"Role/lead"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			objs := base()
			tc.objs(&objs)
			s, problems := snapshot.Compile("t", objs)
			var left []string
			for _, p := range problems {
				left = append(left, p.Kind+"/"+p.Name)
			}
			left = slices.Compact(left)
			if !slices.Equal(left, tc.leftOf) {
				t.Fatalf("left out %v, want %v (problems %v)", left, tc.leftOf, problems)
			}
			got := s.Counts()
			got.Profiles = 0
			if got != tc.want {
				t.Errorf("counts %+v, want %+v", got, tc.want)
			}
		})
	}
}

// A FieldPolicy left out for a problem still fails closed (its module's
// fields are hidden, not left uncovered and writable) while not counted.
func TestLeftOutFieldPolicyFailsClosedUncounted(t *testing.T) {
	s, problems := snapshot.Compile("t", snapshot.Objects{
		Roles:         []v1alpha1.Role{role("tech", perm("workorders", "view,edit", ""))},
		Groups:        []v1alpha1.UserGroup{group("techs", "tech", "u1")},
		FieldPolicies: []v1alpha1.FieldPolicy{fieldPolicy("wo-fields", "workorders", "write", fieldRule("cost", "", grant("write", "ghost", "")))},
	})
	if len(problems) != 1 || problems[0].Kind != snapshot.KindFieldPolicy {
		t.Fatalf("problems: %v", problems)
	}
	f := s.Fields(req("u1", "edit", "workorders", snapshot.Resource{}))
	if !f.Covered || f.Default != v1alpha1.FieldHidden {
		t.Errorf("fields of a module whose policy was left out: %+v, want covered and hidden", f)
	}
	if c := s.Counts(); c.FieldPolicies != 0 {
		t.Errorf("counts %+v: a left-out FieldPolicy counted as served", c)
	}
}
