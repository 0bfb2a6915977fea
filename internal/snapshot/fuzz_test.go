package snapshot_test

import (
	"fmt"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// byteReader turns fuzz input into choices; it returns zeros when empty.
type byteReader struct{ b []byte }

func (r *byteReader) n(max int) int {
	if len(r.b) == 0 || max <= 0 {
		return 0
	}
	v := int(r.b[0]) % max
	r.b = r.b[1:]
	return v
}

func (r *byteReader) pick(xs []string) string { return xs[r.n(len(xs))] }

var (
	fzNames   = []string{"a", "b", "c", "d", "e", "Bad!", ""}
	fzModules = []string{"workorders", "assets", "*", "invoices", "bad module", ""}
	fzActions = []string{"view", "edit", "*", "approve", "x y", ""}
	fzScopes  = []string{"", "all", "own", "assigned", "ownOrAssigned", "contact", "unit", "unitTree", "facility", "company", "bogus"}
	fzExprs   = []string{"", "true", "resource.properties.amount < 5000", "1 + ", "'s'", "subject.id == resource.properties.ownerId",
		"resource.properties.l.all(x, resource.properties.l.all(y, resource.properties.l.all(z, x == y)))", "context.x", "resource.properties.flag"}
	fzSubjects = []string{"u1", "u2", "u3", "", "u-very-long-subject-identifier@example.com"}
	fzUnits    = []string{"/ca", "/ca/ab", "/", "relative", "/ca//x", "/ca/ab/"}
)

func objectsFromBytes(data []byte, extra string) snapshot.Objects {
	r := &byteReader{b: data}
	var o snapshot.Objects
	for i := r.n(6); i > 0; i-- {
		ro := role(r.pick(fzNames))
		ro.Spec.FullAccess = r.n(8) == 0
		for j := r.n(3); j > 0; j-- {
			ro.Spec.Extends = append(ro.Spec.Extends, v1alpha1.ObjectName(r.pick(fzNames)))
		}
		for j := r.n(4); j > 0; j-- {
			when := r.pick(fzExprs)
			if r.n(10) == 0 {
				when = extra
			}
			ro.Spec.Permissions = append(ro.Spec.Permissions, permWhen(r.pick(fzModules), r.pick(fzActions), v1alpha1.Scope(r.pick(fzScopes)), when))
		}
		o.Roles = append(o.Roles, ro)
	}
	for i := r.n(6); i > 0; i-- {
		g := group(r.pick(fzNames), "", "")
		for j := r.n(3); j > 0; j-- {
			g.Spec.Roles = append(g.Spec.Roles, v1alpha1.ObjectName(r.pick(fzNames)))
		}
		for j := r.n(3); j > 0; j-- {
			g.Spec.MemberGroups = append(g.Spec.MemberGroups, v1alpha1.ObjectName(r.pick(fzNames)))
		}
		for j := r.n(4); j > 0; j-- {
			g.Spec.Members = append(g.Spec.Members, v1alpha1.SubjectID(r.pick(fzSubjects)))
		}
		if r.n(3) == 0 {
			g.Spec.ExternalGroups = []string{"idp-" + r.pick(fzNames)}
		}
		if r.n(2) == 0 {
			g = withAttrs(g, "unit", r.pick(fzUnits), "company", r.pick(fzNames), "facilities", "[f1,"+r.pick(fzNames)+"]")
		}
		if r.n(3) == 0 {
			g = withRestriction(g, r.pick(fzModules), v1alpha1.Scope(r.pick(fzScopes)))
		}
		o.Groups = append(o.Groups, g)
	}
	for i := r.n(3); i > 0; i-- {
		o.FieldPolicies = append(o.FieldPolicies, fieldPolicy(r.pick(fzNames), r.pick(fzModules), r.pick([]string{"", "read", "write", "hidden", "x"}),
			fieldRule("cost", r.pick([]string{"", "read", "hidden"}), grant(r.pick([]string{"read", "write", "no"}), r.pick(fzNames), r.pick(fzNames))),
			fieldRule(r.pick([]string{"cost", "notes", "1bad"}), "")))
	}
	for i := r.n(3); i > 0; i-- {
		o.ApprovalChains = append(o.ApprovalChains, chain(r.pick(fzNames), r.pick(fzModules),
			v1alpha1.ApprovalStep{Name: v1alpha1.ObjectName(r.pick(fzNames)), When: v1alpha1.CELExpression(r.pick(fzExprs)),
				Approvers: v1alpha1.Approvers{Roles: objNames(r.pick(fzNames)), Users: subjectIDs(r.pick(fzSubjects))}}))
	}
	return o
}

// FuzzCompile: random objects never panic, every object is either counted
// as served or reported (never both), and problems come sorted.
func FuzzCompile(f *testing.F) {
	f.Add([]byte{}, "")
	f.Add([]byte{3, 0, 1, 2, 1, 0, 2, 3, 4, 5, 2, 0, 1, 1, 2, 3, 4}, "resource.properties.x > 1")
	f.Add([]byte{5, 1, 0, 0, 2, 1, 1, 1, 3, 3, 2, 2, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9}, "((((")
	f.Add([]byte("some longer random seed that drives many choices at once!!"), "subject.properties.limit > 3")
	f.Fuzz(func(t *testing.T, data []byte, expr string) {
		objs := objectsFromBytes(data, expr)
		s, probs := snapshot.Compile("t", objs)
		if s == nil {
			t.Fatal("nil snapshot")
		}
		if !slices.IsSortedFunc(probs, func(a, b snapshot.Problem) int {
			if a.Kind != b.Kind {
				return cmpStr(a.Kind, b.Kind)
			}
			if a.Name != b.Name {
				return cmpStr(a.Name, b.Name)
			}
			return cmpStr(a.Field, b.Field)
		}) {
			t.Fatalf("problems not sorted: %v", probs)
		}
		reported := map[string]bool{}
		for _, p := range probs {
			if p.Reason == "" || p.Message == "" {
				t.Fatalf("empty problem %+v", p)
			}
			reported[p.Kind+"/"+p.Name] = true
		}
		distinct := func(kind string, names []string) int {
			set := map[string]bool{}
			for _, n := range names {
				if !reported[kind+"/"+n] {
					set[n] = true
				}
			}
			return len(set)
		}
		var rn, gn, fn, cn []string
		for _, r := range objs.Roles {
			rn = append(rn, r.Name)
		}
		for _, g := range objs.Groups {
			gn = append(gn, g.Name)
		}
		for _, p := range objs.FieldPolicies {
			fn = append(fn, p.Name)
		}
		for _, c := range objs.ApprovalChains {
			cn = append(cn, c.Name)
		}
		// Counts count what is served: an object is counted or reported,
		// never both (left-out groups and FieldPolicies are still laid out
		// to fail closed, but are not served).
		c := s.Counts()
		if c.Roles != distinct("Role", rn) || c.Groups != distinct("UserGroup", gn) ||
			c.FieldPolicies != distinct("FieldPolicy", fn) || c.ApprovalChains != distinct("ApprovalChain", cn) {
			t.Fatalf("counts %+v disagree with the objects not reported (problems %v)", c, probs)
		}
		// Subjects: the members of served groups (a served group only
		// includes served groups, so its members are direct members of one).
		members := map[v1alpha1.SubjectID]bool{}
		for _, g := range objs.Groups {
			if !reported["UserGroup/"+g.Name] {
				for _, m := range g.Spec.Members {
					members[m] = true
				}
			}
		}
		if c.Subjects != len(members) {
			t.Fatalf("counts %+v: want %d subjects in served groups (problems %v)", c, len(members), probs)
		}
		// And the result answers without panicking.
		for _, sub := range fzSubjects {
			for _, m := range fzModules {
				rq := req(sub, "view", m, snapshot.Resource{OwnerID: sub, Unit: "/ca/ab", Properties: map[string]any{"amount": 10}})
				rq.Subject.Groups = []string{"idp-a", "idp-b"}
				d := s.Check(rq)
				if d.Allowed && d.Matched == nil {
					t.Fatalf("allowed without match: %+v", d)
				}
				s.Fields(rq)
				p := s.Plan(rq.Subject, "view", m)
				if p.Matches(rq.Resource) != d.Allowed {
					t.Fatalf("plan disagrees with check for %+v", rq)
				}
				s.CanApprove(rq.Subject, rq.Resource)
			}
		}
		snapshot.Diff(nil, s)
	})
}

func cmpStr(a, b string) int {
	switch {
	case a < b:
		return -1
	case a > b:
		return 1
	}
	return 0
}

// FuzzCheck: random requests against a fixed tenant never panic, and are
// denied when in doubt (no subject, unknown subject, or a module/action the
// tenant does not name, for anyone without full access or wildcards).
func FuzzCheck(f *testing.F) {
	s := mustCompile(f, snapshot.Objects{
		Roles: []v1alpha1.Role{
			role("tech", perm("workorders", "view,edit", v1alpha1.ScopeOwnOrAssigned), perm("assets", "view", v1alpha1.ScopeUnitTree),
				permWhen("purchaseorders", "approve", v1alpha1.ScopeCompany, "resource.properties.amount < 5000")),
			fullAccess("admin"),
		},
		Groups: []v1alpha1.UserGroup{
			withAttrs(withExternal(group("techs", "tech", "u1,u2"), "idp-tech"), "unit", "/ca/ab", "company", "acme"),
			group("admins", "admin", "root"),
		},
	})
	f.Add("u1", "", "view", "workorders", "u1", "", "/ca/ab", "acme", 10.0)
	f.Add("u2", "idp-tech", "approve", "purchaseorders", "x", "u2", "/ca", "acme", 4999.0)
	f.Add("", "", "", "", "", "", "", "", 0.0)
	f.Add("zz", "idp-tech", "edit", "assets", "zz", "zz", "/ca/ab/x", "", -1.0)
	f.Fuzz(func(t *testing.T, id, idp, action, module, owner, assignee, unit, company string, amount float64) {
		rq := &snapshot.Request{
			Subject: snapshot.Subject{ID: id, Unit: unit, Company: company},
			Action:  action,
			Resource: snapshot.Resource{Type: module, OwnerID: owner, AssigneeIDs: []string{assignee}, Unit: unit, CompanyID: company,
				Properties: map[string]any{"amount": amount}},
		}
		if idp != "" {
			rq.Subject.Groups = []string{idp}
		}
		d := s.Check(rq)
		if d.Allowed {
			if d.Matched == nil || d.Reason != snapshot.ReasonAllowed {
				t.Fatalf("allowed without explanation: %+v", d)
			}
			known := id == "u1" || id == "u2" || id == "root" || idp == "idp-tech"
			if id == "" || !known {
				t.Fatalf("allowed an unknown subject: %+v %+v", rq, d)
			}
			if id != "root" && !slices.Contains([]string{"workorders", "assets", "purchaseorders"}, module) {
				t.Fatalf("allowed an unknown module: %+v", rq)
			}
		} else if d.Reason == "" || d.Reason == snapshot.ReasonAllowed {
			t.Fatalf("deny without reason: %+v", d)
		}
		if p := s.Plan(rq.Subject, action, module); p.Matches(rq.Resource) != d.Allowed {
			t.Fatalf("plan %s disagrees with check %+v for %+v", fmt.Sprint(p.Kind), d, rq)
		}
	})
}
