package admission

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/utils/ptr"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func role(name string, extends []v1.ObjectName, perms ...v1.Permission) *v1.Role {
	return &v1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.RoleSpec{Extends: extends, Permissions: perms}}
}

func perm(res, act string, scope v1.Scope) v1.Permission {
	return v1.Permission{Resources: []v1.ModuleName{v1.ModuleName(res)}, Actions: []v1.ActionName{v1.ActionName(act)}, Scope: scope}
}

func group(name string, members []v1.SubjectID, roles ...v1.ObjectName) *v1.UserGroup {
	return &v1.UserGroup{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.UserGroupSpec{Members: members, Roles: roles}}
}

// tenant is a small tenant: tina is a technician (edit work orders of her
// own, view all), ada is a tenant admin holding everything on work orders
// and purchase orders, and supervisors may approve purchase orders.
func tenant() snapshot.Objects {
	return snapshot.Objects{
		Roles: []v1.Role{
			*role("technician", nil, perm("workorders", "view", v1.ScopeAll), perm("workorders", "edit", v1.ScopeOwnOrAssigned)),
			*role("tenant-admin", nil, v1.Permission{Resources: []v1.ModuleName{"workorders", "purchaseorders"}, Actions: []v1.ActionName{"*"}}),
			*role("supervisor", []v1.ObjectName{"technician"}, perm("purchaseorders", "approve", v1.ScopeUnitTree)),
			*role("viewer", nil, perm("workorders", "view", v1.ScopeAll)),
		},
		Groups: []v1.UserGroup{
			*group("techs", []v1.SubjectID{"tina"}, "technician"),
			*group("admins", []v1.SubjectID{"ada"}, "tenant-admin"),
			*group("supervisors", []v1.SubjectID{"sam"}, "supervisor"),
		},
		FieldPolicies: []v1.FieldPolicy{{ObjectMeta: metav1.ObjectMeta{Name: "wo"}, Spec: v1.FieldPolicySpec{Resource: "workorders", Default: v1.FieldWrite,
			Fields: []v1.FieldRule{{Name: "margin", Default: v1.FieldHidden, Grants: []v1.FieldGrant{{Roles: []v1.ObjectName{"tenant-admin"}, Access: v1.FieldWrite}}}}}}},
	}
}

func chain(steps ...v1.ApprovalStep) *v1.ApprovalChain {
	return &v1.ApprovalChain{ObjectMeta: metav1.ObjectMeta{Name: "po"}, Spec: v1.ApprovalChainSpec{Resource: "purchaseorders", Action: "approve", Steps: steps}}
}

func TestReview(t *testing.T) {
	cases := map[string]struct {
		op         Operation
		obj        any
		old        any // the stored object of an update
		user       string
		privileged bool
		denials    []string // substrings, one per expected denial
		warnings   []string
	}{
		"valid role by a cluster admin": {
			op: Create, obj: role("dispatcher", nil, perm("workorders", "assign", v1.ScopeAll)), privileged: true,
		},
		"bad CEL is rejected naming field and reason": {
			op: Create, obj: role("r", nil, v1.Permission{Resources: []v1.ModuleName{"workorders"}, Actions: []v1.ActionName{"view"}, When: "resource.properties.amount <"}),
			privileged: true, denials: []string{`Role "r": spec.permissions[0].when: InvalidExpression`},
		},
		"non-bool CEL is rejected": {
			op: Create, obj: role("r", nil, v1.Permission{Resources: []v1.ModuleName{"workorders"}, Actions: []v1.ActionName{"view"}, When: "1 + 2"}),
			privileged: true, denials: []string{"spec.permissions[0].when: InvalidExpression"},
		},
		"extends cycle this role would close": {
			op: Update, obj: role("technician", []v1.ObjectName{"supervisor"}), privileged: true,
			denials: []string{`spec.extends[0]: Cycle: extends forms a cycle: technician -> supervisor -> technician`},
		},
		"self extension": {
			op: Create, obj: role("loop", []v1.ObjectName{"loop"}), privileged: true,
			denials: []string{`Role "loop": spec.extends[0]: Cycle: role extends itself`},
		},
		"memberGroups cycle": {
			op: Update, obj: &v1.UserGroup{ObjectMeta: metav1.ObjectMeta{Name: "techs"}, Spec: v1.UserGroupSpec{MemberGroups: []v1.ObjectName{"crew"}}},
			privileged: true, denials: []string{"memberGroups forms a cycle: techs -> crew -> techs"},
			// crew is added below via a tenant tweak
		},
		"writable and hidden for the same role": {
			op: Create, obj: &v1.FieldPolicy{ObjectMeta: metav1.ObjectMeta{Name: "fp"}, Spec: v1.FieldPolicySpec{Resource: "assets", Fields: []v1.FieldRule{{Name: "cost", Grants: []v1.FieldGrant{
				{Roles: []v1.ObjectName{"technician"}, Access: v1.FieldWrite}, {Roles: []v1.ObjectName{"technician", "viewer"}, Access: v1.FieldHidden}}}}}},
			privileged: true, denials: []string{`spec.fields[0].grants[1]: InvalidSpec: role technician is granted write (grants[0]) and hidden (grants[1]) on field "cost"`},
		},
		"quorum larger than the named users": {
			op: Create, obj: chain(v1.ApprovalStep{Name: "board", Approvers: v1.Approvers{Users: []v1.SubjectID{"a", "b"}}, Required: ptr.To[int32](3)}),
			privileged: true, denials: []string{"spec.steps[0].required: InvalidSpec: step \"board\" requires 3 approvals but names only 2 approver users"},
		},
		"quorum with roles is not counted": {
			op: Create, obj: chain(v1.ApprovalStep{Name: "lead", Approvers: v1.Approvers{Roles: []v1.ObjectName{"supervisor"}}, Required: ptr.To[int32](3)}),
			privileged: true,
		},
		"approver role without approve": {
			op: Create, obj: chain(v1.ApprovalStep{Name: "lead", Approvers: v1.Approvers{Roles: []v1.ObjectName{"viewer"}}}),
			privileged: true, denials: []string{`spec.steps[0].approvers.roles[0]: InvalidReference: role "viewer" does not hold "approve" on "purchaseorders"`},
		},
		"approver role holding approve through a wildcard": {
			op: Create, obj: chain(v1.ApprovalStep{Name: "lead", Approvers: v1.Approvers{Roles: []v1.ObjectName{"tenant-admin", "supervisor"}}}),
			privileged: true,
		},
		"dangling references warn but admit": {
			op: Create, obj: group("new", nil, "missing-role"), privileged: true,
			warnings: []string{`UserGroup "new": spec.roles[0]: Role "missing-role" does not exist (yet)`},
		},
		"deleting a referenced role warns with referrers": {
			op: Delete, obj: role("technician", nil), user: "tina",
			warnings: []string{`Role "technician" is still referenced by Role supervisor (spec.extends[0]), UserGroup techs (spec.roles[0])`},
		},
		"deleting an unreferenced role is silent": {
			op: Delete, obj: role("viewer", nil), user: "tina",
		},
		"escalation: a technician cannot create a role beyond her rights": {
			op: Create, obj: role("fixer", nil, perm("workorders", "edit", v1.ScopeAll)), user: "tina",
			denials: []string{`Role "fixer": spec: Forbidden: user "tina" may not grant edit on workorders with scope all (role "fixer")`},
		},
		"escalation: within her rights she can": {
			op: Create, obj: role("helper", nil, perm("workorders", "edit", v1.ScopeOwn), perm("workorders", "view", v1.ScopeUnit)), user: "tina",
		},
		"escalation: a group giving a role beyond the user's rights": {
			op: Create, obj: group("ops", []v1.SubjectID{"tina"}, "supervisor"), user: "tina",
			denials: []string{`UserGroup "ops": spec.roles[0]: Forbidden: user "tina" may not grant approve on purchaseorders with scope unitTree (role "supervisor")`},
		},
		"escalation: adding a role to her own group is judged by what she holds now": {
			op: Update, obj: group("techs", []v1.SubjectID{"tina"}, "technician", "supervisor"), old: group("techs", []v1.SubjectID{"tina"}, "technician"), user: "tina",
			denials: []string{`UserGroup "techs": spec.roles[1]: Forbidden: user "tina" may not grant approve on purchaseorders with scope unitTree (role "supervisor")`},
		},
		"escalation: widening a role she holds is judged by what she holds now": {
			op: Update, obj: role("technician", nil, perm("workorders", "view", v1.ScopeAll), perm("workorders", "edit", v1.ScopeOwnOrAssigned), perm("workorders", "delete", v1.ScopeAll)),
			old: role("technician", nil, perm("workorders", "view", v1.ScopeAll), perm("workorders", "edit", v1.ScopeOwnOrAssigned)), user: "tina",
			denials: []string{`Role "technician": spec: Forbidden: user "tina" may not grant delete on workorders with scope all (role "technician")`},
		},
		"escalation: narrowing a role she holds is fine": {
			op: Update, obj: role("technician", nil, perm("workorders", "view", v1.ScopeAll)),
			old: role("technician", nil, perm("workorders", "view", v1.ScopeAll), perm("workorders", "edit", v1.ScopeOwnOrAssigned)), user: "tina",
		},
		"escalation: a tenant admin can grant within work and purchase orders": {
			op: Create, obj: group("ops", []v1.SubjectID{"tina"}, "supervisor"), user: "ada",
		},
		"escalation: full access needs full access": {
			op: Create, obj: &v1.Role{ObjectMeta: metav1.ObjectMeta{Name: "root"}, Spec: v1.RoleSpec{FullAccess: true}}, user: "ada",
			denials: []string{"may not grant full access"},
		},
		"escalation: a field grant beyond the user's field access": {
			op: Create, obj: &v1.FieldPolicy{ObjectMeta: metav1.ObjectMeta{Name: "wo2"}, Spec: v1.FieldPolicySpec{Resource: "workorders", Fields: []v1.FieldRule{{Name: "margin", Grants: []v1.FieldGrant{{Roles: []v1.ObjectName{"viewer"}, Access: v1.FieldWrite}}}}}},
			user: "tina", denials: []string{`spec.fields[0].grants[0]: Forbidden: user "tina" may not grant write access to field "margin"`},
		},
		"escalation: the same field grant by the admin who writes it": {
			op: Create, obj: &v1.FieldPolicy{ObjectMeta: metav1.ObjectMeta{Name: "wo2"}, Spec: v1.FieldPolicySpec{Resource: "workorders", Fields: []v1.FieldRule{{Name: "margin", Grants: []v1.FieldGrant{{Roles: []v1.ObjectName{"viewer"}, Access: v1.FieldWrite}}}}}},
			user: "ada",
		},
		"escalation: an approval chain needs the approve permission": {
			op: Create, obj: chain(v1.ApprovalStep{Name: "lead", Approvers: v1.Approvers{Roles: []v1.ObjectName{"supervisor"}}}), user: "tina",
			denials: []string{`spec.action: Forbidden: user "tina" may not grant approval of purchaseorders (approve)`},
		},
		"escalation: a chain governs every record, so partial approval is not enough": {
			op: Create, obj: chain(v1.ApprovalStep{Name: "lead", Approvers: v1.Approvers{Roles: []v1.ObjectName{"supervisor"}}}), user: "sam",
			denials: []string{`ApprovalChain "po": spec.action: Forbidden: user "sam" may not grant approval of purchaseorders (approve) on every record`},
		},
		"escalation: a tenant admin approving everything may write the chain": {
			op: Create, obj: chain(v1.ApprovalStep{Name: "lead", Approvers: v1.Approvers{Roles: []v1.ObjectName{"supervisor"}}}), user: "ada",
		},
		"escalation: an unknown user holds nothing": {
			op: Create, obj: role("viewer2", nil, perm("workorders", "view", v1.ScopeAll)), user: "mallory",
			denials: []string{`user "mallory" may not grant view on workorders`},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			objs := tenant()
			if name == "memberGroups cycle" {
				objs.Groups = append(objs.Groups, v1.UserGroup{ObjectMeta: metav1.ObjectMeta{Name: "crew"}, Spec: v1.UserGroupSpec{MemberGroups: []v1.ObjectName{"techs"}}})
			}
			snap, _ := snapshot.Compile("acme", tenant())
			got := Review(Request{Operation: tc.op, Object: tc.obj, OldObject: tc.old, Tenant: objs, Snapshot: snap, User: User{Name: tc.user}, Privileged: tc.privileged})
			assertMessages(t, "denial", got.Denials, tc.denials)
			assertMessages(t, "warning", got.Warnings, tc.warnings)
		})
	}
}

func assertMessages(t *testing.T, what string, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("got %d %ss %q, want %d matching %q", len(got), what, got, len(want), want)
	}
	for i := range want {
		if !strings.Contains(got[i], want[i]) {
			t.Errorf("%s %d = %q, want it to contain %q", what, i, got[i], want[i])
		}
	}
}

func TestEscalateBypass(t *testing.T) {
	objs := tenant()
	objs.Roles = append(objs.Roles, *role("access-admin", nil, perm(EscalateResource, EscalateAction, v1.ScopeAll)))
	objs.Groups = append(objs.Groups, *group("access-admins", []v1.SubjectID{"ida"}, "access-admin"))
	snap, problems := snapshot.Compile("acme", objs)
	if len(problems) != 0 {
		t.Fatal(problems)
	}
	full := &v1.Role{ObjectMeta: metav1.ObjectMeta{Name: "root"}, Spec: v1.RoleSpec{FullAccess: true}}
	if got := Review(Request{Operation: Create, Object: full, Tenant: objs, Snapshot: snap, User: User{Name: "ida"}}); !got.Allowed() {
		t.Fatalf("a holder of escalate on accessroles must bypass the check: %v", got.Denials)
	}
	if got := Review(Request{Operation: Create, Object: full, Tenant: objs, Snapshot: snap, User: User{Name: "tina"}}); got.Allowed() {
		t.Fatal("tina must not grant full access")
	}
}

func TestRestrictedUserHoldsLess(t *testing.T) {
	objs := tenant()
	objs.Groups[1].Spec.Restrictions = []v1.Restriction{{Resources: []v1.ModuleName{"purchaseorders"}, Scope: v1.ScopeCompany}}
	snap, _ := snapshot.Compile("acme", objs)
	got := Review(Request{Operation: Create, Object: role("buyer", nil, perm("purchaseorders", "view", v1.ScopeAll)),
		Tenant: objs, Snapshot: snap, User: User{Name: "ada"}})
	if got.Allowed() {
		t.Fatal("a user restricted to their company's purchase orders must not grant all purchase orders")
	}
	got = Review(Request{Operation: Create, Object: role("buyer", nil, perm("purchaseorders", "view", v1.ScopeCompany)),
		Tenant: objs, Snapshot: snap, User: User{Name: "ada"}})
	if !got.Allowed() {
		t.Fatalf("granting within the restriction must pass: %v", got.Denials)
	}
}

func TestNoSnapshotMeansNothingHeld(t *testing.T) {
	got := Review(Request{Operation: Create, Object: role("viewer", nil, perm("workorders", "view", v1.ScopeAll)), User: User{Name: "ada"}})
	if got.Allowed() {
		t.Fatal("without a snapshot a non-privileged user holds nothing")
	}
	got = Review(Request{Operation: Create, Object: role("viewer", nil, perm("workorders", "view", v1.ScopeAll)), User: User{Name: "ada"}, Privileged: true})
	if !got.Allowed() {
		t.Fatalf("a privileged user bootstraps a tenant: %v", got.Denials)
	}
}

func TestScopeWithin(t *testing.T) {
	cases := map[string]struct {
		scope, held v1.Scope
		want        bool
	}{
		"all within all":           {v1.ScopeAll, v1.ScopeAll, true},
		"own within all":           {v1.ScopeOwn, "", true},
		"all not within own":       {v1.ScopeAll, v1.ScopeOwn, false},
		"own within ownOrAssign":   {v1.ScopeOwn, v1.ScopeOwnOrAssigned, true},
		"ownOrAssigned not in own": {v1.ScopeOwnOrAssigned, v1.ScopeOwn, false},
		"unit within unitTree":     {v1.ScopeUnit, v1.ScopeUnitTree, true},
		"unitTree not within unit": {v1.ScopeUnitTree, v1.ScopeUnit, false},
		"company not within unit":  {v1.ScopeCompany, v1.ScopeUnit, false},
	}
	for name, tc := range cases {
		if got := scopeWithin(tc.scope, tc.held); got != tc.want {
			t.Errorf("%s: scopeWithin(%s, %s) = %v", name, tc.scope, tc.held, got)
		}
	}
}

// BenchmarkReview1000 measures one admission review in a tenant of 1,000
// objects (500 roles, 500 groups), escalation check included.
func BenchmarkReview1000(b *testing.B) {
	var objs snapshot.Objects
	for i := range 500 {
		objs.Roles = append(objs.Roles, *role(fmt.Sprintf("role-%d", i), nil, perm(fmt.Sprintf("module%d", i%40), "view", v1.ScopeAll)))
		objs.Groups = append(objs.Groups, *group(fmt.Sprintf("group-%d", i), []v1.SubjectID{v1.SubjectID(fmt.Sprintf("user-%d", i))}, v1.ObjectName(fmt.Sprintf("role-%d", i))))
	}
	snap, problems := snapshot.Compile("big", objs)
	if len(problems) != 0 {
		b.Fatal(problems)
	}
	obj := role("probe", []v1.ObjectName{"role-1"}, perm("module1", "view", v1.ScopeOwn))
	b.ReportAllocs()
	var samples []time.Duration
	for b.Loop() {
		start := time.Now()
		if got := Review(Request{Operation: Create, Object: obj, Tenant: objs, Snapshot: snap, User: User{Name: "user-1"}}); !got.Allowed() {
			b.Fatal(got.Denials)
		}
		samples = append(samples, time.Since(start))
	}
	slices.Sort(samples)
	b.ReportMetric(float64(samples[len(samples)*99/100].Microseconds())/1000, "p99-ms")
}
