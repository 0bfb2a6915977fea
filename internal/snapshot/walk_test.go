package snapshot

import (
	"slices"
	"sort"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

func TestExtendsClosure(t *testing.T) {
	role := func(name string, ext ...string) *v1alpha1.Role {
		r := &v1alpha1.Role{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for _, e := range ext {
			r.Spec.Extends = append(r.Spec.Extends, v1alpha1.ObjectName(e))
		}
		return r
	}
	cases := map[string]struct {
		roles []*v1alpha1.Role
		want  []string
	}{
		"alone":                        {[]*v1alpha1.Role{role("a")}, []string{"a"}},
		"depth first, as written":      {[]*v1alpha1.Role{role("a", "b", "c"), role("b", "d"), role("c"), role("d")}, []string{"a", "b", "d", "c"}},
		"a diamond visits once":        {[]*v1alpha1.Role{role("a", "b", "c"), role("b", "d"), role("c", "d"), role("d")}, []string{"a", "b", "d", "c"}},
		"a cycle ends":                 {[]*v1alpha1.Role{role("a", "b"), role("b", "a")}, []string{"a", "b"}},
		"a missing role leads nowhere": {[]*v1alpha1.Role{role("a", "ghost", "c"), role("c")}, []string{"a", "c"}},
		"the start missing":            {nil, nil},
	}
	for name, tc := range cases {
		byName := map[string]*v1alpha1.Role{}
		for _, r := range tc.roles {
			byName[r.Name] = r
		}
		var got []string
		ExtendsClosure("a", func(n string) *v1alpha1.Role { return byName[n] }, func(r *v1alpha1.Role) { got = append(got, r.Name) })
		if !slices.Equal(got, tc.want) {
			t.Errorf("%s: %v, want %v", name, got, tc.want)
		}
	}
}

func TestGroupWalks(t *testing.T) {
	group := func(name string, members ...string) *v1alpha1.UserGroup {
		g := &v1alpha1.UserGroup{ObjectMeta: metav1.ObjectMeta{Name: name}}
		for _, m := range members {
			g.Spec.MemberGroups = append(g.Spec.MemberGroups, v1alpha1.ObjectName(m))
		}
		return g
	}
	// x includes y and z; y includes z; w includes x.
	groups := map[string]*v1alpha1.UserGroup{"x": group("x", "y", "z"), "y": group("y", "z"), "z": group("z"), "w": group("w", "x"), "v": group("v")}
	sorted := func(xs []string) []string { sort.Strings(xs); return xs }
	if got := sorted(GroupsIncluding(groups, []string{"z"})); !slices.Equal(got, []string{"w", "x", "y", "z"}) {
		t.Errorf("including z: %v", got)
	}
	if got := sorted(GroupsIncluded(groups, "w")); !slices.Equal(got, []string{"w", "x", "y", "z"}) {
		t.Errorf("included in w: %v", got)
	}
	if got := GroupsIncluded(groups, "ghost"); !slices.Equal(got, []string{"ghost"}) {
		t.Errorf("a missing group: %v", got)
	}
}

// TestWalksMatchCompiler: admission's walks over names give what the
// compiler resolved over indices, on a generated tenant.
func TestWalksMatchCompiler(t *testing.T) {
	objs := Objects(tenantgen.Generate(tenantgen.Config{Seed: 5, Users: 300, Roles: 25, Groups: 40, FieldPolicies: 1}).Objects())
	s, probs := Compile("t", objs)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	roles := map[string]*v1alpha1.Role{}
	for i := range objs.Roles {
		roles[objs.Roles[i].Name] = &objs.Roles[i]
	}
	groups := map[string]*v1alpha1.UserGroup{}
	for i := range objs.Groups {
		groups[objs.Groups[i].Name] = &objs.Groups[i]
	}
	checked := 0
	for _, r := range s.roles {
		if r.holds == nil {
			continue
		}
		var want []string
		for _, i := range r.holds {
			want = append(want, s.roles[i].name)
		}
		var got []string
		ExtendsClosure(r.name, func(n string) *v1alpha1.Role { return roles[n] }, func(x *v1alpha1.Role) { got = append(got, x.Name) })
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("role %s: walk %v, compiler %v", r.name, got, want)
		}
		checked++
	}
	for _, g := range s.groups {
		if g.ancestors == nil {
			continue
		}
		var want []string
		for _, i := range g.ancestors {
			want = append(want, s.groups[i].name)
		}
		got := GroupsIncluding(groups, []string{g.name})
		sort.Strings(got)
		sort.Strings(want)
		if !slices.Equal(got, want) {
			t.Errorf("group %s: walk %v, compiler %v", g.name, got, want)
		}
		checked++
	}
	if checked < 10 {
		t.Fatalf("only %d closures compared", checked)
	}
}
