package admission

import (
	"fmt"
	"math/rand/v2"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// TestUserGroupChangesAreSound checks the escalation rules for UserGroups
// against the compiler itself. For random tenants (roles with unit,
// unitTree, facility, company and all scopes; groups with attributes,
// restrictions and nested groups) and random changes to a group by a user
// who is not privileged (groups and roles created, updated and deleted):
// whenever Review
// admits the change, every decision
// any subject gains must be one the editor already had on the same record.
// Subjects are known by ID, by IdP groups their requests carry, or both.
// (own, assigned and contact are left out: they are relative to the
// subject, so "the same record" does not compare them.)
func TestChangesAreSound(t *testing.T) {
	admitted, checked := checkSoundness(t, 3, 3000)
	if admitted < 300 {
		t.Fatalf("only %d of 3000 random changes were admitted: the test exercises too little", admitted)
	}
	t.Logf("%d changes admitted, %d decisions compared", admitted, checked)
}

// FuzzChangesAreSound runs the soundness check on tenants and changes
// generated from the fuzzer's seed.
func FuzzChangesAreSound(f *testing.F) {
	f.Add(uint64(1))
	f.Add(uint64(42))
	f.Fuzz(func(t *testing.T, seed uint64) {
		checkSoundness(t, seed, 20)
	})
}

// checkSoundness makes n random changes from seed and fails t on the first
// admitted one that lets a subject gain what the editor could not do. It
// returns how many changes were admitted and decisions compared.
func checkSoundness(t *testing.T, seed uint64, n int) (admitted, checked int) {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 5))
	units := []string{"/ca", "/ca/ab", "/ca/ab/calgary", "/ca/bc"}
	facilities := []string{"y1", "y2"}
	companies := []string{"acme", "globex"}
	modules := []v1.ModuleName{"wo", "po"}
	actions := []v1.ActionName{"view", "edit"}
	scopes := []v1.Scope{v1.ScopeAll, v1.ScopeUnit, v1.ScopeUnitTree, v1.ScopeFacility, v1.ScopeCompany}
	// Conditions reading the subject, as well as one reading the record only.
	conditions := []v1.CELExpression{
		"has(subject.properties.unit) && subject.properties.unit == resource.properties.unit",
		"has(subject.properties.company) && subject.properties.company == 'acme'",
		"'g1' in subject.groups",
		"has(resource.properties.companyId) && resource.properties.companyId == 'acme'",
	}
	users := []v1.SubjectID{"ed", "u1", "u2", "u3", "x1", "x2"}
	// IdP groups the request carries: x1 and x2 are known only by them,
	// u1 has one besides its memberships.
	idpGroups := []string{"idp-a", "idp-b"}
	idp := map[v1.SubjectID][]string{"u1": {"idp-a"}, "x1": {"idp-a"}, "x2": {"idp-a", "idp-b"}}
	one := func(xs []string) string { return xs[rng.IntN(len(xs))] }

	randomRole := func(name string) v1.Role {
		r := v1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for range 1 + rng.IntN(2) {
			p := v1.Permission{Resources: []v1.ModuleName{modules[rng.IntN(2)]}, Actions: []v1.ActionName{actions[rng.IntN(2)]}, Scope: scopes[rng.IntN(len(scopes))]}
			if rng.IntN(6) == 0 {
				p.When = conditions[rng.IntN(len(conditions))]
			}
			r.Spec.Permissions = append(r.Spec.Permissions, p)
		}
		return r
	}
	randomGroup := func(name string, roles, groups []string) *v1.UserGroup {
		g := &v1.UserGroup{ObjectMeta: metav1.ObjectMeta{Name: name}, Spec: v1.UserGroupSpec{Attributes: map[string]v1.AttributeValue{}}}
		for _, u := range users {
			if rng.IntN(3) == 0 {
				g.Spec.Members = append(g.Spec.Members, u)
			}
		}
		for _, r := range roles {
			if rng.IntN(3) == 0 {
				g.Spec.Roles = append(g.Spec.Roles, v1.ObjectName(r))
			}
		}
		if rng.IntN(8) == 0 {
			g.Spec.Roles = append(g.Spec.Roles, "r-later") // created by a later change, maybe
		}
		if len(groups) > 0 && rng.IntN(5) == 0 {
			g.Spec.MemberGroups = []v1.ObjectName{v1.ObjectName(groups[rng.IntN(len(groups))])}
		}
		if rng.IntN(6) == 0 {
			g.Spec.ExternalGroups = []string{one(idpGroups)}
		}
		if rng.IntN(2) == 0 {
			g.Spec.Attributes[snapshot.AttrUnit] = v1.StringAttribute(one(units))
		}
		if rng.IntN(3) == 0 {
			g.Spec.Attributes[snapshot.AttrFacilities] = v1.ListAttribute(one(facilities))
		}
		if rng.IntN(3) == 0 {
			g.Spec.Attributes[snapshot.AttrCompany] = v1.StringAttribute(one(companies))
		}
		if rng.IntN(6) == 0 {
			g.Spec.Restrictions = []v1.Restriction{{Resources: []v1.ModuleName{modules[rng.IntN(2)]}, Scope: scopes[1+rng.IntN(len(scopes)-1)]}}
		}
		return g
	}
	var records []snapshot.Resource
	for _, m := range modules {
		for _, u := range append(units, "") {
			for _, f := range append(facilities, "") {
				for _, c := range append(companies, "") {
					records = append(records, snapshot.Resource{Type: string(m), ID: "r", Unit: u, FacilityID: f, CompanyID: c})
				}
			}
		}
	}
	allowed := func(s *snapshot.Snapshot, sub v1.SubjectID, action v1.ActionName, res snapshot.Resource) bool {
		return s.Check(&snapshot.Request{Subject: snapshot.Subject{ID: string(sub), Groups: idp[sub]}, Action: string(action), Resource: res}).Allowed
	}
	// compare fails the test when a subject gains a decision the editor
	// did not have, and returns how many decisions it compared.
	compare := func(t *testing.T, i int, before, after *snapshot.Snapshot, change string, objs snapshot.Objects) int {
		t.Helper()
		n := 0
		for _, u := range users {
			for _, a := range actions {
				for _, res := range records {
					n++
					if allowed(after, u, a, res) && !allowed(before, u, a, res) && !allowed(before, "ed", a, res) {
						t.Fatalf("case %d: %s %s at unit %q facility %q company %q is gained by %s through an admitted change the editor could not make:\n%s\ntenant:\n%s",
							i, a, res.Type, res.Unit, res.FacilityID, res.CompanyID, u, change, describeTenant(objs))
					}
				}
			}
		}
		return n
	}

	for i := range n {
		var objs snapshot.Objects
		var roleNames, groupNames []string
		for r := range 4 {
			name := fmt.Sprintf("r%d", r)
			objs.Roles = append(objs.Roles, randomRole(name))
			roleNames = append(roleNames, name)
		}
		for g := range 4 {
			name := fmt.Sprintf("g%d", g)
			objs.Groups = append(objs.Groups, *randomGroup(name, roleNames, groupNames))
			groupNames = append(groupNames, name)
		}
		// The editor is always somewhere, with something.
		objs.Groups[0].Spec.Members = append(objs.Groups[0].Spec.Members, "ed")
		objs.Groups[0].Spec.Roles = append(objs.Groups[0].Spec.Roles, "r0")
		// Objects with problems (a dangling role, a memberGroups cycle) are
		// left out, as on a cluster; the rest is served.
		before, _ := snapshot.Compile("t", objs)

		// The change: a role created or edited, or a group created, edited
		// or deleted.
		if rng.IntN(3) == 0 {
			op, next, old := Create, randomRole("r-later"), (*v1.Role)(nil)
			if rng.IntN(2) == 0 {
				op = Update
				k := rng.IntN(len(objs.Roles))
				old = objs.Roles[k].DeepCopy()
				next = randomRole(old.Name)
			}
			if rng.IntN(3) == 0 {
				next.Spec.Extends = []v1.ObjectName{v1.ObjectName(roleNames[rng.IntN(len(roleNames))])}
			}
			if rng.IntN(4) == 0 {
				op, old = Delete, nil
				next = objs.Roles[rng.IntN(len(objs.Roles))]
			}
			req := Request{Operation: op, Object: &next, Tenant: objs, Snapshot: before, User: User{Name: "ed"}}
			if old != nil {
				req.OldObject = old
			}
			if Review(req).Allowed() {
				after, _ := snapshot.Compile("t", withObject(objs, &next, op == Delete))
				admitted++
				checked += compare(t, i, before, after, fmt.Sprintf("%s of role %s %v extends %v", op, next.Name, next.Spec.Permissions, next.Spec.Extends), objs)
			}
			continue
		}
		var next, old *v1.UserGroup
		op := Create
		switch rng.IntN(4) {
		case 0:
			next = randomGroup("new", roleNames, groupNames)
		case 1:
			op = Delete
			next = objs.Groups[1+rng.IntN(len(objs.Groups)-1)].DeepCopy()
		default:
			op = Update
			k := 1 + rng.IntN(len(objs.Groups)-1)
			old = objs.Groups[k].DeepCopy()
			next = randomGroup(old.Name, roleNames, groupNames)
			if rng.IntN(2) == 0 {
				next.Spec.Attributes = old.Spec.Attributes // keep some of it
			}
			if rng.IntN(2) == 0 {
				next.Spec.Members = old.Spec.Members
			}
		}
		req := Request{Operation: op, Object: next, Tenant: objs, Snapshot: before, User: User{Name: "ed"}}
		if old != nil {
			req.OldObject = old
		}
		if !Review(req).Allowed() {
			continue
		}
		after, _ := snapshot.Compile("t", withObject(objs, next, op == Delete))
		admitted++
		checked += compare(t, i, before, after, fmt.Sprintf("%s of group %s (was %s)", op, describeGroup(next), describeGroup(old)), objs)
	}
	return admitted, checked
}

func describeGroup(g *v1.UserGroup) string {
	if g == nil {
		return "-"
	}
	attrs := ""
	for _, k := range sortedKeys(g.Spec.Attributes) {
		attrs += fmt.Sprintf(" %s=%v", k, g.Spec.Attributes[k].Values)
	}
	return fmt.Sprintf("%s members=%v memberGroups=%v externalGroups=%v roles=%v%s restrictions=%v",
		g.Name, g.Spec.Members, g.Spec.MemberGroups, g.Spec.ExternalGroups, g.Spec.Roles, attrs, g.Spec.Restrictions)
}

func describeTenant(t snapshot.Objects) string {
	out := ""
	for _, r := range t.Roles {
		out += fmt.Sprintf("  role %s %v\n", r.Name, r.Spec.Permissions)
	}
	for i := range t.Groups {
		out += "  group " + describeGroup(&t.Groups[i]) + "\n"
	}
	return out
}
