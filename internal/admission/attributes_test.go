package admission

import (
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// attrGroup is a UserGroup with attributes, restrictions and external groups.
type attrGroup struct {
	name         string
	members      []v1.SubjectID
	roles        []v1.ObjectName
	attrs        map[string]v1.AttributeValue
	restrictions []v1.Restriction
	external     []string
	memberGroups []v1.ObjectName
}

func (g attrGroup) object() *v1.UserGroup {
	return &v1.UserGroup{ObjectMeta: metav1.ObjectMeta{Name: g.name}, Spec: v1.UserGroupSpec{
		Members: g.members, Roles: g.roles, Attributes: g.attrs, Restrictions: g.restrictions,
		ExternalGroups: g.external, MemberGroups: g.memberGroups,
	}}
}

func unit(u string) map[string]v1.AttributeValue {
	return map[string]v1.AttributeValue{snapshot.AttrUnit: v1.StringAttribute(u)}
}

// branchTenant: bea administers the Alberta branch (unitTree at /ca/ab, yard
// facility-1); ada is a tenant admin (everything, scope all); fin approves
// invoices company-wide from /ca; sal administers supplier acme's users.
func branchTenant() snapshot.Objects {
	poCompany := []v1.Restriction{{Resources: []v1.ModuleName{"purchaseorders"}, Scope: v1.ScopeCompany}}
	return snapshot.Objects{
		Roles: []v1.Role{
			*role("field-tech", nil, perm("workorders", "view", v1.ScopeUnitTree), perm("workorders", "edit", v1.ScopeUnit)),
			*role("branch-admin", nil, perm("workorders", "*", v1.ScopeUnitTree), perm("assets", "edit", v1.ScopeFacility)),
			*role("yard-tech", nil, perm("assets", "edit", v1.ScopeFacility)),
			*role("finance", nil, perm("invoices", "approve", v1.ScopeUnitTree)),
			*role("supplier", nil, perm("purchaseorders", "view", v1.ScopeAll)),
			*role("tenant-admin", nil, v1.Permission{Resources: []v1.ModuleName{"*"}, Actions: []v1.ActionName{"*"}}),
		},
		Groups: []v1.UserGroup{
			*attrGroup{name: "ab-admins", members: []v1.SubjectID{"bea"}, roles: []v1.ObjectName{"branch-admin", "field-tech"},
				attrs: map[string]v1.AttributeValue{snapshot.AttrUnit: v1.StringAttribute("/ca/ab"), snapshot.AttrFacilities: v1.ListAttribute("yard-1")}}.object(),
			*attrGroup{name: "admins", members: []v1.SubjectID{"ada"}, roles: []v1.ObjectName{"tenant-admin"}}.object(),
			*attrGroup{name: "finance", members: []v1.SubjectID{"fin"}, roles: []v1.ObjectName{"finance"}, attrs: unit("/ca")}.object(),
			*attrGroup{name: "legacy", members: []v1.SubjectID{"leo"}, roles: []v1.ObjectName{"field-tech"}, attrs: unit("/ca")}.object(),
			*attrGroup{name: "acme-admins", members: []v1.SubjectID{"sal"}, roles: []v1.ObjectName{"supplier"}, restrictions: poCompany,
				attrs: map[string]v1.AttributeValue{snapshot.AttrCompany: v1.StringAttribute("acme")}}.object(),
		},
	}
}

func TestAttributeDelegation(t *testing.T) {
	poCompany := []v1.Restriction{{Resources: []v1.ModuleName{"purchaseorders"}, Scope: v1.ScopeCompany}}
	fieldTech := []v1.ObjectName{"field-tech"}
	cases := map[string]escalationCase{
		"a branch admin sets a unit inside her branch": {
			op: Create, user: "bea", obj: attrGroup{name: "calgary", members: []v1.SubjectID{"carl"}, roles: fieldTech, attrs: unit("/ca/ab/calgary")}.object(),
		},
		"her own unit is inside her branch": {
			op: Create, user: "bea", obj: attrGroup{name: "ab-crew", members: []v1.SubjectID{"carl"}, roles: fieldTech, attrs: unit("/ca/ab")}.object(),
		},
		"a unit above her branch is an escalation": {
			op: Create, user: "bea", obj: attrGroup{name: "canada", members: []v1.SubjectID{"carl"}, roles: fieldTech, attrs: unit("/ca")}.object(),
			denials: []string{
				`UserGroup "canada": spec.attributes.unit: Forbidden: user "bea" may not grant view on workorders with scope unitTree at unit "/ca" to the group's members`,
				`may not grant edit on workorders with scope unit at unit "/ca"`,
			},
		},
		"a sibling unit sharing a name prefix is not inside the branch": {
			op: Create, user: "bea", obj: attrGroup{name: "abc", members: []v1.SubjectID{"carl"}, roles: fieldTech, attrs: unit("/ca/abc")}.object(),
			denials: []string{`view on workorders with scope unitTree at unit "/ca/abc"`, `edit on workorders with scope unit at unit "/ca/abc"`},
		},
		"a tenant admin with scope all sets any unit": {
			op: Create, user: "ada", obj: attrGroup{name: "canada", members: []v1.SubjectID{"carl"}, roles: fieldTech, attrs: unit("/ca")}.object(),
		},
		"a unit meets the members' grants from their other groups, and their units the group's roles": {
			// fin approves invoices with unitTree through finance, at /ca: a
			// Calgary unit adds approval in Calgary (bea holds no invoices),
			// and field-tech at fin's /ca reaches beyond bea's branch.
			op: Create, user: "bea", obj: attrGroup{name: "calgary", members: []v1.SubjectID{"fin"}, roles: fieldTech, attrs: unit("/ca/ab/calgary")}.object(),
			denials: []string{
				`spec.attributes.unit: Forbidden: user "bea" may not grant approve on invoices with scope unitTree at unit "/ca/ab/calgary"`,
				`spec.members: Forbidden: user "bea" may not grant view on workorders with scope unitTree at unit "/ca"`,
				`spec.members: Forbidden: user "bea" may not grant edit on workorders with scope unit at unit "/ca"`,
			},
		},
		"a group without roles still widens its members' other grants": {
			op: Create, user: "bea", obj: attrGroup{name: "tag", members: []v1.SubjectID{"fin"}, attrs: unit("/ca/ab/calgary")}.object(),
			denials: []string{`approve on invoices with scope unitTree at unit "/ca/ab/calgary"`},
		},
		"a role for members whose unit comes from another group": {
			op: Create, user: "bea", obj: attrGroup{name: "no-unit", members: []v1.SubjectID{"leo"}, roles: []v1.ObjectName{"field-tech"}}.object(),
			denials: []string{`spec.members: Forbidden: user "bea" may not grant view on workorders with scope unitTree at unit "/ca"`, `edit on workorders with scope unit at unit "/ca"`},
		},
		"members through memberGroups count": {
			op: Create, user: "bea", obj: attrGroup{name: "wrapper", memberGroups: []v1.ObjectName{"finance"}, attrs: unit("/ca/ab/calgary")}.object(),
			denials: []string{`approve on invoices with scope unitTree at unit "/ca/ab/calgary"`},
		},
		"IdP membership makes every group count": {
			op: Create, user: "bea", obj: attrGroup{name: "idp", external: []string{"calgary-techs"}, attrs: unit("/ca/ab/calgary")}.object(),
			denials: []string{`approve on invoices with scope unitTree at unit "/ca/ab/calgary"`},
		},
		"an unchanged attribute is not judged again": {
			op: Update, user: "bea",
			old: attrGroup{name: "legacy", members: []v1.SubjectID{"leo", "carl"}, roles: fieldTech, attrs: unit("/ca")}.object(),
			obj: attrGroup{name: "legacy", members: []v1.SubjectID{"leo"}, roles: fieldTech, attrs: unit("/ca")}.object(),
		},
		"a new member gets the group's unit": {
			op: Update, user: "bea",
			old:     attrGroup{name: "legacy", members: []v1.SubjectID{"leo"}, roles: fieldTech, attrs: unit("/ca")}.object(),
			obj:     attrGroup{name: "legacy", members: []v1.SubjectID{"leo", "carl"}, roles: fieldTech, attrs: unit("/ca")}.object(),
			denials: []string{`spec.members: Forbidden: user "bea" may not grant view on workorders with scope unitTree at unit "/ca"`, `edit on workorders with scope unit at unit "/ca"`},
		},
		"a new role gets the group's unit": {
			op: Update, user: "bea",
			old:     attrGroup{name: "legacy", members: []v1.SubjectID{"leo"}, attrs: unit("/ca")}.object(),
			obj:     attrGroup{name: "legacy", members: []v1.SubjectID{"leo"}, roles: fieldTech, attrs: unit("/ca")}.object(),
			denials: []string{`spec.roles: Forbidden: user "bea" may not grant view on workorders with scope unitTree at unit "/ca"`, `edit on workorders with scope unit at unit "/ca"`},
		},
		"a new member brings the grants of their other groups": {
			op: Update, user: "bea",
			old: attrGroup{name: "calgary", members: []v1.SubjectID{"carl"}, roles: fieldTech, attrs: unit("/ca/ab/calgary")}.object(),
			obj: attrGroup{name: "calgary", members: []v1.SubjectID{"carl", "fin"}, roles: fieldTech, attrs: unit("/ca/ab/calgary")}.object(),
			// (calgary is not served yet, so the update counts as a create.)
			denials: []string{`may not grant approve on invoices with scope unitTree at unit "/ca/ab/calgary"`, `view on workorders with scope unitTree at unit "/ca"`, `edit on workorders with scope unit at unit "/ca"`},
		},
		"changing an existing group's unit upwards is judged": {
			op: Update, user: "bea",
			old:     attrGroup{name: "calgary", members: []v1.SubjectID{"carl"}, roles: fieldTech, attrs: unit("/ca/ab/calgary")}.object(),
			obj:     attrGroup{name: "calgary", members: []v1.SubjectID{"carl"}, roles: fieldTech, attrs: unit("/ca/bc")}.object(),
			denials: []string{`view on workorders with scope unitTree at unit "/ca/bc"`, `edit on workorders with scope unit at unit "/ca/bc"`},
		},
		"a facility she has": {
			op: Create, user: "bea", obj: attrGroup{name: "yard", members: []v1.SubjectID{"yan"}, roles: []v1.ObjectName{"yard-tech"},
				attrs: map[string]v1.AttributeValue{snapshot.AttrFacilities: v1.ListAttribute("yard-1")}}.object(),
		},
		"a facility she does not have": {
			op: Create, user: "bea", obj: attrGroup{name: "yard", members: []v1.SubjectID{"yan"}, roles: []v1.ObjectName{"yard-tech"},
				attrs: map[string]v1.AttributeValue{snapshot.AttrFacilities: v1.ListAttribute("yard-1", "yard-2")}}.object(),
			denials: []string{`UserGroup "yard": spec.attributes.facilities: Forbidden: user "bea" may not grant edit on assets with scope facility at facilities "yard-2"`},
		},
		"a supplier admin adds users of her own company": {
			op: Create, user: "sal", obj: attrGroup{name: "acme-users", members: []v1.SubjectID{"gus"}, roles: []v1.ObjectName{"supplier"}, restrictions: poCompany,
				attrs: map[string]v1.AttributeValue{snapshot.AttrCompany: v1.StringAttribute("acme")}}.object(),
		},
		"a supplier admin cannot reach another company through a restriction": {
			op: Create, user: "sal", obj: attrGroup{name: "globex-users", members: []v1.SubjectID{"gus"}, roles: []v1.ObjectName{"supplier"}, restrictions: poCompany,
				attrs: map[string]v1.AttributeValue{snapshot.AttrCompanies: v1.ListAttribute("acme", "globex")}}.object(),
			denials: []string{`spec.attributes.companies: Forbidden: user "sal" may not grant view on purchaseorders with scope company at companies "globex"`},
		},
		"without the restriction the supplier role is beyond her": {
			op: Create, user: "sal", obj: attrGroup{name: "acme-open", members: []v1.SubjectID{"gus"}, roles: []v1.ObjectName{"supplier"},
				attrs: map[string]v1.AttributeValue{snapshot.AttrCompany: v1.StringAttribute("acme")}}.object(),
			denials: []string{`spec.roles[0]: Forbidden: user "sal" may not grant view on purchaseorders with scope all (role "supplier")`},
		},
		"attributes no scope reads are free": {
			op: Create, user: "bea", obj: attrGroup{name: "calgary", members: []v1.SubjectID{"carl"}, roles: fieldTech,
				attrs: map[string]v1.AttributeValue{"costCenter": v1.StringAttribute("cc-9"), snapshot.AttrUnit: v1.StringAttribute("/ca/ab/calgary")}}.object(),
		},
	}
	runEscalationCases(t, branchTenant(), cases)
}

// escalationCase is one change by a user who is not privileged.
type escalationCase struct {
	op       Operation
	obj, old any // old: the stored object of an update
	user     string
	denials  []string // substrings, one per expected denial
}

// runEscalationCases reviews each case in tenant objs, then again as a
// cluster admin, who is never denied.
func runEscalationCases(t *testing.T, objs snapshot.Objects, cases map[string]escalationCase) {
	t.Helper()
	// Objects with problems are left out, as on a cluster.
	snap, problems := snapshot.Compile("acme", objs)
	if len(problems) != 0 {
		t.Logf("left out: %v", problems)
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			req := Request{Operation: tc.op, Object: tc.obj, OldObject: tc.old, Tenant: objs, Snapshot: snap, User: User{Name: tc.user}}
			got := Review(req)
			assertMessages(t, "denial", got.Denials, tc.denials)
			req.Privileged = true
			if got := Review(req); !got.Allowed() {
				t.Errorf("privileged: %v", got.Denials)
			}
		})
	}
}

func TestLiftingRestrictions(t *testing.T) {
	poCompany := []v1.Restriction{{Resources: []v1.ModuleName{"purchaseorders"}, Scope: v1.ScopeCompany}}
	// gus buys for acme: purchase orders of every company through
	// "buyers", narrowed to his company by "acme-users".
	objs := branchTenant()
	objs.Roles = append(objs.Roles, *role("buyer", nil, perm("purchaseorders", "create", v1.ScopeAll), perm("purchaseorders", "view", v1.ScopeAll)))
	acmeUsers := attrGroup{name: "acme-users", members: []v1.SubjectID{"gus", "gil"}, restrictions: poCompany,
		attrs: map[string]v1.AttributeValue{snapshot.AttrCompany: v1.StringAttribute("acme")}}
	objs.Groups = append(objs.Groups,
		*attrGroup{name: "buyers", members: []v1.SubjectID{"gus"}, roles: []v1.ObjectName{"buyer"}}.object(),
		*acmeUsers.object())
	lifted := acmeUsers
	lifted.restrictions = nil
	fewer := acmeUsers
	fewer.members = []v1.SubjectID{"gus"}
	more := acmeUsers
	more.members = []v1.SubjectID{"gus", "gil", "gwen"}
	cases := map[string]escalationCase{
		"removing the restriction widens buyers' grants": {
			op: Update, user: "sal", obj: lifted.object(), old: acmeUsers.object(),
			denials: []string{
				`UserGroup "acme-users": spec.restrictions: Forbidden: user "sal" may not grant create on purchaseorders with scope all (lifting the restriction of [purchaseorders] to scope company for the group's members)`,
				`may not grant view on purchaseorders with scope all (lifting`,
			},
		},
		"removing a member lifts every restriction for them": {
			op: Update, user: "sal", obj: fewer.object(), old: acmeUsers.object(),
			denials: []string{`spec.members: Forbidden: user "sal" may not grant create on purchaseorders`, `may not grant view on purchaseorders`},
		},
		"adding a member only narrows": {
			op: Update, user: "sal", obj: more.object(), old: acmeUsers.object(),
		},
		"deleting the restricted group": {
			op: Delete, user: "sal", obj: acmeUsers.object(),
			denials: []string{`spec.restrictions: Forbidden: user "sal" may not grant create on purchaseorders`, `may not grant view on purchaseorders`},
		},
		"a restricted user cannot lift her own restriction": {
			op: Delete, user: "gus", obj: acmeUsers.object(),
			denials: []string{`user "gus" may not grant create on purchaseorders with scope all (lifting`, `may not grant view on purchaseorders with scope all (lifting`},
		},
		"nor by leaving the group": {
			op: Update, user: "gus", obj: attrGroup{name: "acme-users", members: []v1.SubjectID{"gil"}, restrictions: poCompany,
				attrs: map[string]v1.AttributeValue{snapshot.AttrCompany: v1.StringAttribute("acme")}}.object(), old: acmeUsers.object(),
			denials: []string{`spec.members: Forbidden: user "gus" may not grant create on purchaseorders`, `may not grant view on purchaseorders`},
		},
		"a tenant admin holding the widened grants may": {
			op: Delete, user: "ada", obj: acmeUsers.object(),
		},
		"deleting a group without restrictions is never an escalation": {
			op: Delete, user: "sal", obj: objs.Groups[len(objs.Groups)-2].DeepCopy(),
		},
	}
	runEscalationCases(t, objs, cases)
}

// Conditions that read the subject depend on who holds the grant and what
// their groups say, so pairing them with new members, values or roles needs
// the permission without the condition.
func TestConditionsReadingTheSubject(t *testing.T) {
	sameCostCenter := v1.Permission{Resources: []v1.ModuleName{"purchaseorders"}, Actions: []v1.ActionName{"approve"},
		When: "subject.properties.costCenter == resource.properties.costCenter"}
	small := v1.Permission{Resources: []v1.ModuleName{"purchaseorders"}, Actions: []v1.ActionName{"create"},
		When: "resource.properties.amount < 5000"}
	costCenter := func(v string) map[string]v1.AttributeValue {
		return map[string]v1.AttributeValue{"costCenter": v1.StringAttribute(v)}
	}
	objs := snapshot.Objects{
		Roles: []v1.Role{
			*role("cc-approver", nil, sameCostCenter),
			*role("small-buyer", nil, small),
			*role("tenant-admin", nil, v1.Permission{Resources: []v1.ModuleName{"*"}, Actions: []v1.ActionName{"*"}}),
		},
		Groups: []v1.UserGroup{
			*attrGroup{name: "cc-1", members: []v1.SubjectID{"cara"}, roles: []v1.ObjectName{"cc-approver", "small-buyer"}, attrs: costCenter("cc-1")}.object(),
			*attrGroup{name: "admins", members: []v1.SubjectID{"ada"}, roles: []v1.ObjectName{"tenant-admin"}}.object(),
		},
	}
	approvers := []v1.ObjectName{"cc-approver"}
	runEscalationCases(t, objs, map[string]escalationCase{
		"a group giving the conditional role at another cost center": {
			op: Create, user: "cara", obj: attrGroup{name: "cc-2", members: []v1.SubjectID{"carl"}, roles: approvers, attrs: costCenter("cc-2")}.object(),
			denials: []string{`UserGroup "cc-2": spec: Forbidden: user "cara" may not grant approve on purchaseorders with scope all when "subject.properties.costCenter == resource.properties.costCenter" to the group's members (the condition reads the subject`},
		},
		"a new member of her own group": {
			op: Update, user: "cara",
			old:     attrGroup{name: "cc-1", members: []v1.SubjectID{"cara"}, roles: []v1.ObjectName{"cc-approver", "small-buyer"}, attrs: costCenter("cc-1")}.object(),
			obj:     attrGroup{name: "cc-1", members: []v1.SubjectID{"cara", "carl"}, roles: []v1.ObjectName{"cc-approver", "small-buyer"}, attrs: costCenter("cc-1")}.object(),
			denials: []string{`UserGroup "cc-1": spec: Forbidden: user "cara" may not grant approve on purchaseorders with scope all when "subject.properties.costCenter == resource.properties.costCenter"`},
		},
		"deleting a group changes what the condition reads for its members": {
			op: Delete, user: "cara", obj: attrGroup{name: "cc-1", members: []v1.SubjectID{"cara"}, roles: []v1.ObjectName{"cc-approver", "small-buyer"}, attrs: costCenter("cc-1")}.object(),
			denials: []string{`UserGroup "cc-1": spec: Forbidden: user "cara" may not grant approve on purchaseorders with scope all when "subject.properties.costCenter`},
		},
		"deleting a role its holders' conditions may read": {
			op: Delete, user: "cara", obj: role("small-buyer", nil, small),
			denials: []string{`Role "small-buyer": spec: Forbidden: user "cara" may not grant approve on purchaseorders with scope all when "subject.properties.costCenter == resource.properties.costCenter" to the role's holders`},
		},
		"a condition on the record alone is covered by the same condition": {
			op: Create, user: "cara", obj: attrGroup{name: "buyers", members: []v1.SubjectID{"carl"}, roles: []v1.ObjectName{"small-buyer"}, attrs: costCenter("cc-2")}.object(),
		},
		"a tenant admin holding it unconditionally": {
			op: Create, user: "ada", obj: attrGroup{name: "cc-2", members: []v1.SubjectID{"carl"}, roles: approvers, attrs: costCenter("cc-2")}.object(),
		},
		"a role adding a grant whose condition reads the subject": {
			op: Update, user: "cara", old: role("small-buyer", nil, small), obj: role("small-buyer", nil, small, sameCostCenter),
			denials: []string{`Role "small-buyer": spec.permissions: Forbidden: user "cara" may not grant approve on purchaseorders with scope all when "subject.properties.costCenter == resource.properties.costCenter" to the role's holders`},
		},
	})
}
