package snapshot_test

import (
	"math/rand/v2"
	"slices"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

type wantProblem struct{ kind, name, field, reason string }

func problemsOf(ps []snapshot.Problem) []wantProblem {
	var out []wantProblem
	for _, p := range ps {
		out = append(out, wantProblem{p.Kind, p.Name, p.Field, p.Reason})
	}
	return out
}

func TestCompileProblems(t *testing.T) {
	int32p := func(n int32) *int32 { return &n }
	tests := map[string]struct {
		objs     snapshot.Objects
		want     []wantProblem
		included []string // subjects that still get access to assets/view
		excluded []string
	}{
		"dangling extends propagates to groups": {
			objs: snapshot.Objects{
				Roles:  []v1alpha1.Role{extends(role("a", perm("assets", "view", "")), "ghost"), role("ok", perm("assets", "view", ""))},
				Groups: []v1alpha1.UserGroup{group("ga", "a", "u1"), group("gok", "ok", "u2"), withMemberGroups(group("outer", "ok", "u3"), "ga")},
			},
			want: []wantProblem{
				{"Role", "a", "spec.extends[0]", v1alpha1.ReasonInvalidReference},
				{"UserGroup", "ga", "spec.roles[0]", v1alpha1.ReasonInvalidReference},
				{"UserGroup", "outer", "spec.memberGroups[0]", v1alpha1.ReasonInvalidReference},
			},
			included: []string{"u2"}, excluded: []string{"u1", "u3"},
		},
		"transitive propagation through extends chain": {
			objs: snapshot.Objects{
				Roles: []v1alpha1.Role{
					role("bad", permWhen("assets", "view", "", "resource.properties.x +")),
					extends(role("mid", perm("assets", "view", "")), "bad"),
					extends(role("top", perm("assets", "view", "")), "mid"),
				},
				Groups: []v1alpha1.UserGroup{group("g", "top", "u1")},
			},
			want: []wantProblem{
				{"Role", "bad", "spec.permissions[0].when", v1alpha1.ReasonInvalidExpression},
				{"Role", "mid", "spec.extends[0]", v1alpha1.ReasonInvalidReference},
				{"Role", "top", "spec.extends[0]", v1alpha1.ReasonInvalidReference},
				{"UserGroup", "g", "spec.roles[0]", v1alpha1.ReasonInvalidReference},
			},
			excluded: []string{"u1"},
		},
		"extends cycle: every member reported, dependants left out": {
			objs: snapshot.Objects{
				Roles: []v1alpha1.Role{
					extends(role("a", perm("assets", "view", "")), "b"),
					extends(role("b"), "c"),
					extends(role("c"), "a"),
					extends(role("d", perm("assets", "view", "")), "a"),
					extends(role("self"), "self"),
					role("fine", perm("assets", "view", "")),
				},
				Groups: []v1alpha1.UserGroup{group("gd", "d", "u1"), group("gf", "fine", "u2")},
			},
			want: []wantProblem{
				{"Role", "a", "spec.extends[0]", v1alpha1.ReasonCycle},
				{"Role", "b", "spec.extends[0]", v1alpha1.ReasonCycle},
				{"Role", "c", "spec.extends[0]", v1alpha1.ReasonCycle},
				{"Role", "d", "spec.extends[0]", v1alpha1.ReasonInvalidReference},
				{"Role", "self", "spec.extends[0]", v1alpha1.ReasonCycle},
				{"UserGroup", "gd", "spec.roles[0]", v1alpha1.ReasonInvalidReference},
			},
			included: []string{"u2"}, excluded: []string{"u1"},
		},
		"memberGroups cycle": {
			objs: snapshot.Objects{
				Roles: []v1alpha1.Role{role("r", perm("assets", "view", ""))},
				Groups: []v1alpha1.UserGroup{
					withMemberGroups(group("x", "r", "u1"), "y"),
					withMemberGroups(group("y", "r", "u2"), "x"),
					withMemberGroups(group("z", "r", "u3"), "x"),
					group("w", "r", "u4"),
				},
			},
			want: []wantProblem{
				{"UserGroup", "x", "spec.memberGroups[0]", v1alpha1.ReasonCycle},
				{"UserGroup", "y", "spec.memberGroups[0]", v1alpha1.ReasonCycle},
				{"UserGroup", "z", "spec.memberGroups[0]", v1alpha1.ReasonInvalidReference},
			},
			included: []string{"u4"}, excluded: []string{"u1", "u2", "u3"},
		},
		"bad CEL: syntax, non-bool, too costly": {
			objs: snapshot.Objects{
				Roles: []v1alpha1.Role{
					role("syntax", permWhen("assets", "view", "", "resource.properties.amount <")),
					role("nonbool", permWhen("assets", "view", "", "resource.properties.amount + 1"), permWhen("assets", "view", "", "'x'")),
					role("costly", perm("assets", "view", ""), permWhen("assets", "view", "",
						"resource.properties.a.all(x, resource.properties.b.all(y, resource.properties.c.all(z, x == y && y == z)))")),
					role("undeclared", permWhen("assets", "view", "", "request.user == 'x'")),
				},
				Groups: []v1alpha1.UserGroup{group("g", "costly", "u1")},
			},
			want: []wantProblem{
				{"Role", "costly", "spec.permissions[1].when", v1alpha1.ReasonInvalidExpression},
				{"Role", "nonbool", "spec.permissions[0].when", v1alpha1.ReasonInvalidExpression},
				{"Role", "nonbool", "spec.permissions[1].when", v1alpha1.ReasonInvalidExpression},
				{"Role", "syntax", "spec.permissions[0].when", v1alpha1.ReasonInvalidExpression},
				{"Role", "undeclared", "spec.permissions[0].when", v1alpha1.ReasonInvalidExpression},
				{"UserGroup", "g", "spec.roles[0]", v1alpha1.ReasonInvalidReference},
			},
			excluded: []string{"u1"},
		},
		"invalid specs": {
			objs: snapshot.Objects{
				Roles: []v1alpha1.Role{
					role("Bad_Name", perm("assets", "view", "")),
					role("badscope", perm("assets", "view", "galaxy")),
					role("noactions", perm("assets", "", "")),
				},
				Groups: []v1alpha1.UserGroup{
					withAttrs(group("badunit", "", "u1"), "unit", "ca/ab"),
					withAttrs(group("twounits", "", "u1"), "unit", "[/a,/b]"),
					withRestriction(group("badrestr", "", "u1"), "assets", ""),
					withAttrs(group("reserved", "", "u1"), "groups", "x"),
				},
			},
			want: []wantProblem{
				{"Role", "Bad_Name", "metadata.name", v1alpha1.ReasonInvalidSpec},
				{"Role", "badscope", "spec.permissions[0].scope", v1alpha1.ReasonInvalidSpec},
				{"Role", "noactions", "spec.permissions[0].actions", v1alpha1.ReasonInvalidSpec},
				{"UserGroup", "badrestr", "spec.restrictions[0].scope", v1alpha1.ReasonInvalidSpec},
				{"UserGroup", "badunit", "spec.attributes.unit", v1alpha1.ReasonInvalidSpec},
				{"UserGroup", "reserved", "spec.attributes.groups", v1alpha1.ReasonInvalidSpec},
				{"UserGroup", "twounits", "spec.attributes.unit", v1alpha1.ReasonInvalidSpec},
			},
		},
		"duplicate names are all left out": {
			objs: snapshot.Objects{
				Roles:  []v1alpha1.Role{role("r", perm("assets", "view", "")), role("r", perm("assets", "edit", ""))},
				Groups: []v1alpha1.UserGroup{group("g", "r", "u1")},
			},
			want: []wantProblem{
				{"Role", "r", "metadata.name", v1alpha1.ReasonInvalidSpec},
				{"UserGroup", "g", "spec.roles[0]", v1alpha1.ReasonInvalidReference},
			},
			excluded: []string{"u1"},
		},
		"field policies and approval chains": {
			objs: snapshot.Objects{
				Roles:  []v1alpha1.Role{role("r", perm("assets", "view", ""))},
				Groups: []v1alpha1.UserGroup{group("g", "r", "u1")},
				FieldPolicies: []v1alpha1.FieldPolicy{
					fieldPolicy("fp-a", "assets", "", fieldRule("cost", "", grant("read", "ghost", ""))),
					fieldPolicy("fp-dup", "assets", "", fieldRule("cost", ""), fieldRule("cost", "")),
					fieldPolicy("fp-star", "*", ""),
					fieldPolicy("fp-ok", "assets", "read"),
					fieldPolicy("fp-zz", "assets", "read"),
				},
				ApprovalChains: []v1alpha1.ApprovalChain{
					chain("ch-bad", "assets", v1alpha1.ApprovalStep{Name: "s1", Approvers: v1alpha1.Approvers{Groups: objNames("nope")}},
						v1alpha1.ApprovalStep{Name: "s1", Approvers: v1alpha1.Approvers{Users: subjectIDs("u1")}, Required: int32p(2), RequireAll: true},
						v1alpha1.ApprovalStep{Name: "s3", When: "1", Approvers: v1alpha1.Approvers{}}),
					chain("ch-ok", "assets", v1alpha1.ApprovalStep{Name: "s1", Approvers: v1alpha1.Approvers{Roles: objNames("r")}}),
				},
			},
			want: []wantProblem{
				{"ApprovalChain", "ch-bad", "spec.steps[0].approvers.groups[0]", v1alpha1.ReasonInvalidReference},
				{"ApprovalChain", "ch-bad", "spec.steps[1].name", v1alpha1.ReasonInvalidSpec},
				{"ApprovalChain", "ch-bad", "spec.steps[1].required", v1alpha1.ReasonInvalidSpec},
				{"ApprovalChain", "ch-bad", "spec.steps[2].approvers", v1alpha1.ReasonInvalidSpec},
				{"ApprovalChain", "ch-bad", "spec.steps[2].when", v1alpha1.ReasonInvalidExpression},
				{"FieldPolicy", "fp-a", "spec.fields[0].grants[0].roles[0]", v1alpha1.ReasonInvalidReference},
				{"FieldPolicy", "fp-dup", "spec.fields[1].name", v1alpha1.ReasonInvalidSpec},
				{"FieldPolicy", "fp-star", "spec.resource", v1alpha1.ReasonInvalidSpec},
				{"FieldPolicy", "fp-zz", "spec.resource", v1alpha1.ReasonInvalidSpec},
			},
			included: []string{"u1"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			s, probs := snapshot.Compile("t", tc.objs)
			if got := problemsOf(probs); !slices.Equal(got, tc.want) {
				t.Fatalf("problems:\n got %v\nwant %v\nfull: %v", got, tc.want, probs)
			}
			for _, p := range probs {
				if p.Message == "" || !strings.Contains(p.String(), p.Reason) {
					t.Errorf("problem without message: %+v", p)
				}
			}
			for _, u := range tc.included {
				if d := s.Check(req(u, "view", "assets", snapshot.Resource{})); !d.Allowed {
					t.Errorf("%s should keep access: %+v", u, d)
				}
			}
			for _, u := range tc.excluded {
				if d := s.Check(req(u, "view", "assets", snapshot.Resource{})); d.Allowed {
					t.Errorf("%s should have lost access: %+v", u, d)
				}
			}
		})
	}
}

func TestCheckHelpersMatchCompile(t *testing.T) {
	r := role("r", permWhen("assets", "view", "", "1 + 1"))
	if ps := snapshot.CheckRole(&r); len(ps) != 1 || ps[0].Reason != v1alpha1.ReasonInvalidExpression || ps[0].Field != "spec.permissions[0].when" {
		t.Fatalf("CheckRole: %v", ps)
	}
	ok := role("ok", permWhen("assets", "view", "", "resource.properties.amount < 5000"))
	if ps := snapshot.CheckRole(&ok); len(ps) != 0 {
		t.Fatalf("CheckRole ok: %v", ps)
	}
	// A reference to a missing role is not a local problem.
	dangling := extends(role("d"), "ghost")
	if ps := snapshot.CheckRole(&dangling); len(ps) != 0 {
		t.Fatalf("CheckRole must not follow references: %v", ps)
	}
	g := withAttrs(group("g", "ghost", "u1"), "unit", "relative")
	if ps := snapshot.CheckUserGroup(&g); len(ps) != 1 || ps[0].Field != "spec.attributes.unit" {
		t.Fatalf("CheckUserGroup: %v", ps)
	}
	fp := fieldPolicy("fp", "assets", "bogus", fieldRule("cost", "", v1alpha1.FieldGrant{Access: "write"}))
	if ps := snapshot.CheckFieldPolicy(&fp); len(ps) != 2 {
		t.Fatalf("CheckFieldPolicy: %v", ps)
	}
	ch := chain("c", "assets", v1alpha1.ApprovalStep{Name: "s", Approvers: v1alpha1.Approvers{Roles: objNames("ghost")}, When: "resource.properties.amount > 10"})
	if ps := snapshot.CheckApprovalChain(&ch); len(ps) != 0 {
		t.Fatalf("CheckApprovalChain: %v", ps)
	}
}

func TestRevision(t *testing.T) {
	base := func() snapshot.Objects {
		return snapshot.Objects{
			Roles: []v1alpha1.Role{role("a", perm("assets,workorders", "view,edit", "")), extends(role("b", perm("parts", "view", v1alpha1.ScopeAll)), "a")},
			Groups: []v1alpha1.UserGroup{
				withAttrs(group("g1", "a,b", "u1,u2,u3"), "unit", "/ca", "facilities", "[f1,f2]"),
				group("g2", "b", "u4"),
			},
			FieldPolicies:  []v1alpha1.FieldPolicy{fieldPolicy("fp", "assets", "", fieldRule("cost", "read", grant("write", "a", "g2")))},
			ApprovalChains: []v1alpha1.ApprovalChain{chain("c", "assets", v1alpha1.ApprovalStep{Name: "s", Approvers: v1alpha1.Approvers{Roles: objNames("a,b")}})},
		}
	}
	s0 := mustCompile(t, base())
	if len(s0.Revision()) != 16 {
		t.Fatalf("revision %q", s0.Revision())
	}
	same := map[string]func(o *snapshot.Objects){
		"objects reversed": func(o *snapshot.Objects) {
			slices.Reverse(o.Roles)
			slices.Reverse(o.Groups)
		},
		"set lists reordered": func(o *snapshot.Objects) {
			o.Groups[0].Spec.Members = subjectIDs("u3,u1,u2")
			o.Groups[0].Spec.Roles = objNames("b,a")
			o.Roles[0].Spec.Permissions[0].Actions = actions("edit,view")
			o.ApprovalChains[0].Spec.Steps[0].Approvers.Roles = objNames("b,a")
		},
		"metadata and status ignored": func(o *snapshot.Objects) {
			o.Roles[0].ResourceVersion = "12345"
			o.Roles[0].UID = "abc"
			o.Roles[0].ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}
			o.Roles[0].Labels = map[string]string{"x": "y"}
			o.Groups[0].Status.Revision = "old"
			o.Groups[0].Generation = 7
		},
		"defaults spelled out": func(o *snapshot.Objects) {
			o.Roles[0].Spec.Permissions[0].Scope = v1alpha1.ScopeAll
			o.Roles[1].Spec.Permissions[0].Scope = ""
			o.FieldPolicies[0].Spec.Default = v1alpha1.FieldWrite
			o.ApprovalChains[0].Spec.Action = "approve"
		},
		"empty sets as the API server defaults them ([] for nil)": func(o *snapshot.Objects) {
			a := &o.ApprovalChains[0].Spec.Steps[0].Approvers
			if a.Groups == nil {
				a.Groups = []v1alpha1.ObjectName{}
			}
			if a.Users == nil {
				a.Users = []v1alpha1.SubjectID{}
			}
			for i := range o.FieldPolicies[0].Spec.Fields {
				for j := range o.FieldPolicies[0].Spec.Fields[i].Grants {
					g := &o.FieldPolicies[0].Spec.Fields[i].Grants[j]
					if g.Groups == nil {
						g.Groups = []v1alpha1.ObjectName{}
					}
					if g.Roles == nil {
						g.Roles = []v1alpha1.ObjectName{}
					}
				}
			}
		},
	}
	for name, mut := range same {
		t.Run(name, func(t *testing.T) {
			o := base()
			mut(&o)
			if s := mustCompile(t, o); s.Revision() != s0.Revision() {
				t.Fatalf("revision changed: %s != %s", s.Revision(), s0.Revision())
			}
		})
	}
	different := map[string]func(o *snapshot.Objects){
		"member added":     func(o *snapshot.Objects) { o.Groups[1].Spec.Members = subjectIDs("u4,u5") },
		"scope changed":    func(o *snapshot.Objects) { o.Roles[0].Spec.Permissions[0].Scope = v1alpha1.ScopeOwn },
		"attribute change": func(o *snapshot.Objects) { o.Groups[0] = withAttrs(o.Groups[0], "unit", "/us") },
		"field access":     func(o *snapshot.Objects) { o.FieldPolicies[0].Spec.Fields[0].Default = "hidden" },
		"role renamed":     func(o *snapshot.Objects) { o.Roles = append(o.Roles, role("c")) },
	}
	for name, mut := range different {
		t.Run(name, func(t *testing.T) {
			o := base()
			mut(&o)
			if s := mustCompile(t, o); s.Revision() == s0.Revision() {
				t.Fatalf("revision did not change")
			}
		})
	}
	if s, _ := snapshot.Compile("other-tenant", base()); s.Revision() == s0.Revision() || s.Tenant() != "other-tenant" {
		t.Fatalf("tenant not part of revision")
	}
}

func TestCompileDeterministicUnderShuffle(t *testing.T) {
	objs := snapshot.Objects{
		Roles: []v1alpha1.Role{
			extends(role("a", perm("assets", "view", "")), "b"), extends(role("b"), "a"),
			extends(role("c", perm("assets", "view", "")), "ghost,a"), role("d", permWhen("assets", "view", "", "x")),
			role("e", perm("assets", "view", v1alpha1.ScopeOwn)),
		},
		Groups: []v1alpha1.UserGroup{group("g1", "a,e", "u1"), group("g2", "e", "u2"), withMemberGroups(group("g3", "e", ""), "g1,g2")},
	}
	s0, p0 := snapshot.Compile("t", objs)
	r := rand.New(rand.NewPCG(1, 2))
	for i := 0; i < 20; i++ {
		o := objs
		o.Roles, o.Groups = slices.Clone(objs.Roles), slices.Clone(objs.Groups)
		r.Shuffle(len(o.Roles), func(i, j int) { o.Roles[i], o.Roles[j] = o.Roles[j], o.Roles[i] })
		r.Shuffle(len(o.Groups), func(i, j int) { o.Groups[i], o.Groups[j] = o.Groups[j], o.Groups[i] })
		s, p := snapshot.Compile("t", o)
		if !slices.Equal(p, p0) || s.Revision() != s0.Revision() {
			t.Fatalf("shuffle %d changed output:\n%v\n%v", i, p, p0)
		}
	}
	if !slices.IsSortedFunc(p0, func(a, b snapshot.Problem) int {
		return strings.Compare(a.Kind+"\x00"+a.Name+"\x00"+a.Field, b.Kind+"\x00"+b.Name+"\x00"+b.Field)
	}) {
		t.Fatalf("problems not sorted: %v", p0)
	}
	// c references a missing role and a cycle member: both reported.
	n := 0
	for _, p := range p0 {
		if p.Name == "c" {
			n++
		}
	}
	if n != 2 {
		t.Fatalf("want 2 problems for c, got %v", p0)
	}
}

// A group left out for a problem grants nothing but keeps restricting its
// members (fail closed): deleting the role it names, or any other mistake,
// must not lift a restriction on what its members get from other groups.
func TestLeftOutGroupKeepsRestricting(t *testing.T) {
	objs := snapshot.Objects{
		Roles: []v1alpha1.Role{role("buyer", perm("purchaseorders", "view", ""), perm("workorders", "view", ""))},
		Groups: []v1alpha1.UserGroup{
			group("buyers", "buyer", "gus,gwen"),
			// Left out: it names a role that does not exist.
			withRestriction(withAttrs(group("acme-users", "supplier", "gus,gil"), "company", "acme"), "purchaseorders", v1alpha1.ScopeCompany),
			// Left out too: it includes a left-out group; its members
			// (gwen, and gus and gil through acme-users) are restricted.
			withRestriction(withMemberGroups(group("contractors", "", "gwen"), "acme-users"), "workorders", v1alpha1.ScopeOwn),
		},
	}
	s, problems := snapshot.Compile("t", objs)
	if len(problems) != 2 {
		t.Fatalf("problems: %v", problems)
	}
	allowed := func(id, res string, r snapshot.Resource) snapshot.Decision {
		r.Type = res
		return s.Check(&snapshot.Request{Subject: snapshot.Subject{ID: id}, Action: "view", Resource: r})
	}
	tests := map[string]struct {
		id, res string
		record  snapshot.Resource
		allowed bool
	}{
		// The left-out group's company attribute is not applied, so the
		// company restriction matches no record at all: narrower, never wider.
		"restricted purchase orders, even of the company": {id: "gus", res: "purchaseorders", record: snapshot.Resource{CompanyID: "acme"}},
		"restricted purchase orders of another company":   {id: "gus", res: "purchaseorders", record: snapshot.Resource{CompanyID: "globex"}},
		"restricted through a left-out enclosing group":   {id: "gus", res: "workorders", record: snapshot.Resource{OwnerID: "tom"}},
		"own work orders pass that restriction":           {id: "gus", res: "workorders", record: snapshot.Resource{OwnerID: "gus"}, allowed: true},
		"a direct member of the enclosing group":          {id: "gwen", res: "workorders", record: snapshot.Resource{OwnerID: "tom"}},
		"unrestricted elsewhere":                          {id: "gwen", res: "purchaseorders", record: snapshot.Resource{CompanyID: "globex"}, allowed: true},
		"only in left-out groups: nothing":                {id: "gil", res: "purchaseorders", record: snapshot.Resource{CompanyID: "acme"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if d := allowed(tc.id, tc.res, tc.record); d.Allowed != tc.allowed {
				t.Errorf("%s view %s %+v: %v (%s), want %v", tc.id, tc.res, tc.record, d.Allowed, d.Reason, tc.allowed)
			}
		})
	}
	if s.HasGroup("acme-users") || s.HasGroup("contractors") || !s.HasGroup("buyers") {
		t.Error("left-out groups must not count as served")
	}
	if c := s.Counts(); c.Groups != 1 || c.Subjects != 2 {
		t.Errorf("counts %+v: want the served group and its 2 members only", c)
	}
}
