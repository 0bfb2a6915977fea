package snapshot_test

import (
	"flag"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func roleChain(n int) []v1alpha1.Role {
	var rs []v1alpha1.Role
	for i := range n {
		r := role(fmt.Sprintf("r%d", i), perm("assets", "view", ""))
		if i > 0 {
			r = extends(r, fmt.Sprintf("r%d", i-1))
		}
		rs = append(rs, r)
	}
	return rs
}

func TestLimitsCheck(t *testing.T) {
	tests := map[string]struct {
		limits snapshot.Limits
		objs   snapshot.Objects
		want   []wantProblem
	}{
		"zero limits limit nothing": {
			objs: snapshot.Objects{Roles: roleChain(50), Groups: []v1alpha1.UserGroup{group("g", "r49", "a,b,c")}},
		},
		"roles beyond the count: the last by name": {
			limits: snapshot.Limits{Roles: 2},
			objs:   snapshot.Objects{Roles: []v1alpha1.Role{role("c"), role("a"), role("d"), role("b")}},
			want: []wantProblem{
				{"Role", "c", "metadata.name", v1alpha1.ReasonQuotaExceeded},
				{"Role", "d", "metadata.name", v1alpha1.ReasonQuotaExceeded},
			},
		},
		"groups, policies and chains are counted per kind": {
			limits: snapshot.Limits{UserGroups: 1, FieldPolicies: 1, ApprovalChains: 1},
			objs: snapshot.Objects{
				Roles:          []v1alpha1.Role{role("a"), role("b")},
				Groups:         []v1alpha1.UserGroup{group("g1", "", ""), group("g2", "", "")},
				FieldPolicies:  []v1alpha1.FieldPolicy{fieldPolicy("f1", "assets", "read"), fieldPolicy("f2", "jobs", "read")},
				ApprovalChains: []v1alpha1.ApprovalChain{chain("c1", "assets"), chain("c2", "jobs")},
			},
			want: []wantProblem{
				{"UserGroup", "g2", "metadata.name", v1alpha1.ReasonQuotaExceeded},
				{"FieldPolicy", "f2", "metadata.name", v1alpha1.ReasonQuotaExceeded},
				{"ApprovalChain", "c2", "metadata.name", v1alpha1.ReasonQuotaExceeded},
			},
		},
		"object sizes": {
			limits: snapshot.Limits{MembersPerGroup: 2, PermissionsPerRole: 1, FieldsPerPolicy: 1},
			objs: snapshot.Objects{
				Roles:         []v1alpha1.Role{role("big", perm("a", "view", ""), perm("b", "view", "")), role("ok", perm("a", "view", ""))},
				Groups:        []v1alpha1.UserGroup{group("crowd", "", "u1,u2,u3"), group("pair", "", "u1,u2")},
				FieldPolicies: []v1alpha1.FieldPolicy{fieldPolicy("wide", "assets", "read", fieldRule("x", "read"), fieldRule("y", "read"))},
			},
			want: []wantProblem{
				{"Role", "big", "spec.permissions", v1alpha1.ReasonQuotaExceeded},
				{"UserGroup", "crowd", "spec.members", v1alpha1.ReasonQuotaExceeded},
				{"FieldPolicy", "wide", "spec.fields", v1alpha1.ReasonQuotaExceeded},
			},
		},
		"extends deeper than the limit": {
			limits: snapshot.Limits{InheritanceDepth: 2},
			objs:   snapshot.Objects{Roles: roleChain(5)},
			want: []wantProblem{
				{"Role", "r3", "spec.extends", v1alpha1.ReasonQuotaExceeded},
				{"Role", "r4", "spec.extends", v1alpha1.ReasonQuotaExceeded},
			},
		},
		"depth is the longest path, not the first": {
			limits: snapshot.Limits{InheritanceDepth: 2},
			objs: snapshot.Objects{Roles: append(roleChain(3),
				extends(role("top"), "a,r2"), role("a"))},
			want: []wantProblem{{"Role", "top", "spec.extends", v1alpha1.ReasonQuotaExceeded}},
		},
		"memberGroups nesting deeper than the limit": {
			limits: snapshot.Limits{InheritanceDepth: 1},
			objs: snapshot.Objects{Groups: []v1alpha1.UserGroup{
				group("g0", "", "u"), withMemberGroups(group("g1", "", ""), "g0"), withMemberGroups(group("g2", "", ""), "g1"),
			}},
			want: []wantProblem{{"UserGroup", "g2", "spec.memberGroups", v1alpha1.ReasonQuotaExceeded}},
		},
		"a cycle ends the walk; dangling names are not followed": {
			limits: snapshot.Limits{InheritanceDepth: 1},
			objs: snapshot.Objects{Roles: []v1alpha1.Role{
				extends(role("x"), "y"), extends(role("y"), "x"), extends(role("z"), "ghost"),
			}},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := problemsOf(tc.limits.Check(tc.objs))
			if !slices.Equal(got, tc.want) {
				t.Fatalf("problems:\n got  %v\n want %v", got, tc.want)
			}
		})
	}
}

func TestLimitsMessageNamesLimitAndFlag(t *testing.T) {
	l := snapshot.Limits{InheritanceDepth: 2}
	ps := l.Check(snapshot.Objects{Roles: roleChain(4)})
	if len(ps) != 1 {
		t.Fatalf("problems: %v", ps)
	}
	for _, want := range []string{"3 levels deep", "limit is 2", "--tenant-max-inheritance-depth"} {
		if !strings.Contains(ps[0].Message, want) {
			t.Errorf("message %q lacks %q", ps[0].Message, want)
		}
	}
}

func TestLimitsFlags(t *testing.T) {
	l := snapshot.DefaultLimits()
	fs := flag.NewFlagSet("x", flag.ContinueOnError)
	l.BindFlags(fs)
	if err := fs.Parse([]string{"--tenant-max-roles=7", "--tenant-max-compiled-bytes=1024", "--tenant-max-inheritance-depth=0"}); err != nil {
		t.Fatal(err)
	}
	d := snapshot.DefaultLimits()
	if l.Roles != 7 || l.CompiledBytes != 1024 || l.InheritanceDepth != 0 || l.UserGroups != d.UserGroups {
		t.Fatalf("flags not bound: %+v", l)
	}
	if d.Roles == 0 || d.InheritanceDepth == 0 || d.CompiledBytes == 0 {
		t.Fatalf("defaults must limit: %+v", d)
	}
}

// TestCompileQuotas: what exceeds a limit is left out whole, with what
// depends on it; the rest is served.
func TestCompileQuotas(t *testing.T) {
	objs := snapshot.Objects{
		Roles: roleChain(4), // r3 is 3 deep
		Groups: []v1alpha1.UserGroup{
			group("deep", "r3", "alice"), group("shallow", "r1", "bob"),
			group("crowd", "r0", "u1,u2,u3"),
		},
		FieldPolicies: []v1alpha1.FieldPolicy{fieldPolicy("wide", "assets", "write", fieldRule("x", "write"), fieldRule("y", "write"))},
	}
	lim := snapshot.Limits{InheritanceDepth: 2, MembersPerGroup: 2, FieldsPerPolicy: 1}
	s, probs := snapshot.CompileWith("t", objs, snapshot.Options{Limits: lim})
	want := []wantProblem{
		{"FieldPolicy", "wide", "spec.fields", v1alpha1.ReasonQuotaExceeded},
		{"Role", "r3", "spec.extends", v1alpha1.ReasonQuotaExceeded},
		{"UserGroup", "crowd", "spec.members", v1alpha1.ReasonQuotaExceeded},
		{"UserGroup", "deep", "spec.roles[0]", v1alpha1.ReasonInvalidReference},
	}
	if got := problemsOf(probs); !slices.Equal(got, want) {
		t.Fatalf("problems:\n got  %v\n want %v", got, want)
	}
	if c := s.Counts(); c.Roles != 3 || c.Groups != 1 || c.FieldPolicies != 0 {
		t.Fatalf("counts %+v: only what is within the limits is served", c)
	}
	for subject, allowed := range map[string]bool{"bob": true, "alice": false, "u1": false} {
		if d := s.Check(req(subject, "view", "assets", snapshot.Resource{ID: "a1"})); d.Allowed != allowed {
			t.Errorf("%s: allowed=%v want %v (%s)", subject, d.Allowed, allowed, d.Reason)
		}
	}
	// The left-out FieldPolicy fails closed: bob reads nothing of assets.
	if f := s.Fields(req("bob", "view", "assets", snapshot.Resource{})); !f.Covered || f.Default != v1alpha1.FieldHidden || len(f.Writable) > 0 || len(f.Readable) > 0 {
		t.Fatalf("fields of a module whose policy is over quota: %+v", f)
	}
}

func TestCompileTooLarge(t *testing.T) {
	objs := heldChain(200)
	lim := snapshot.Limits{CompiledBytes: 64 << 10}
	s, probs := snapshot.CompileWith("t", objs, snapshot.Options{Limits: lim})
	if s != nil {
		t.Fatalf("a tenant over its compiled size was compiled: %+v", s.Counts())
	}
	want := []wantProblem{{snapshot.KindTenant, "t", "", v1alpha1.ReasonQuotaExceeded}}
	if got := problemsOf(probs); !slices.Equal(got, want) {
		t.Fatalf("problems %v, want %v", got, want)
	}
	if !strings.Contains(probs[0].Message, "--tenant-max-compiled-bytes") {
		t.Fatalf("message %q does not name the flag", probs[0].Message)
	}
	if d := s.Check(req("u00001", "read", "m1", snapshot.Resource{ID: "x"})); d.Allowed {
		t.Fatal("the nil snapshot of a tenant too large allowed a request")
	}
	// Within the limit it compiles.
	lim.CompiledBytes = 64 << 20
	if s, probs := snapshot.CompileWith("t", objs, snapshot.Options{Limits: lim}); s == nil || len(probs) > 0 {
		t.Fatalf("compile within the limit: %v", probs)
	}
}

// TestDefaultLimitsFitGeneratedTenant: the defaults never bite the largest
// generated tenant the benchmarks use.
func TestDefaultLimitsFitGeneratedTenant(t *testing.T) {
	bt := tenantOf(t, 100_000)
	if ps := snapshot.DefaultLimits().Check(bt.objs); len(ps) > 0 {
		t.Fatalf("default limits: %v", ps[0])
	}
}

func TestLimitsValidate(t *testing.T) {
	for name, tc := range map[string]struct {
		limits snapshot.Limits
		want   string // substring of the error; "" for none
	}{
		"defaults":             {snapshot.DefaultLimits(), ""},
		"zero is no limit":     {snapshot.Limits{}, ""},
		"a negative count":     {snapshot.Limits{Roles: -1}, "--tenant-max-roles"},
		"a negative byte size": {snapshot.Limits{CompiledBytes: -5}, "--tenant-max-compiled-bytes"},
	} {
		err := tc.limits.Validate()
		if (err == nil) != (tc.want == "") || (err != nil && !strings.Contains(err.Error(), tc.want)) {
			t.Errorf("%s: %v, want %q", name, err, tc.want)
		}
	}
}
