package admission

import (
	"math/rand/v2"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func fieldPolicy(resource string, def v1.FieldAccess, fields ...v1.FieldRule) *v1.FieldPolicy {
	return &v1.FieldPolicy{ObjectMeta: metav1.ObjectMeta{Name: "wo"}, Spec: v1.FieldPolicySpec{Resource: v1.ModuleName(resource), Default: def, Fields: fields}}
}

func fieldRule(name string, def v1.FieldAccess, grants ...v1.FieldGrant) v1.FieldRule {
	return v1.FieldRule{Name: v1.FieldName(name), Default: def, Grants: grants}
}

func adminsWrite() v1.FieldGrant {
	return v1.FieldGrant{Roles: []v1.ObjectName{"tenant-admin"}, Access: v1.FieldWrite}
}

func TestFieldWidenings(t *testing.T) {
	margin := fieldRule("margin", v1.FieldHidden, adminsWrite())
	tests := map[string]struct {
		old, next *v1.FieldPolicy
		want      map[string]v1.FieldAccess
	}{
		"a new policy only narrows": {
			next: fieldPolicy("workorders", v1.FieldHidden, margin), want: map[string]v1.FieldAccess{},
		},
		"an unchanged policy opens nothing": {
			old: fieldPolicy("workorders", "", margin), next: fieldPolicy("workorders", "", margin), want: map[string]v1.FieldAccess{},
		},
		"adding an unrelated hidden field opens nothing": {
			old:  fieldPolicy("workorders", "", margin),
			next: fieldPolicy("workorders", "", margin, fieldRule("notes", v1.FieldHidden)),
			want: map[string]v1.FieldAccess{},
		},
		"deleting opens every field below write": {
			old:  fieldPolicy("workorders", v1.FieldRead, margin, fieldRule("status", v1.FieldWrite)),
			want: map[string]v1.FieldAccess{"margin": v1.FieldWrite, allFields: v1.FieldWrite},
		},
		"raising a field default": {
			old: fieldPolicy("workorders", "", margin), next: fieldPolicy("workorders", "", fieldRule("margin", v1.FieldRead, adminsWrite())),
			want: map[string]v1.FieldAccess{"margin": v1.FieldRead},
		},
		"a grant to subjects who had less": {
			old:  fieldPolicy("workorders", "", margin),
			next: fieldPolicy("workorders", "", fieldRule("margin", v1.FieldHidden, adminsWrite(), v1.FieldGrant{Roles: []v1.ObjectName{"technician"}, Access: v1.FieldRead})),
			want: map[string]v1.FieldAccess{"margin": v1.FieldRead},
		},
		"raising a grant": {
			old:  fieldPolicy("workorders", "", fieldRule("margin", v1.FieldHidden, v1.FieldGrant{Roles: []v1.ObjectName{"technician"}, Access: v1.FieldRead})),
			next: fieldPolicy("workorders", "", fieldRule("margin", v1.FieldHidden, v1.FieldGrant{Roles: []v1.ObjectName{"technician"}, Access: v1.FieldWrite})),
			want: map[string]v1.FieldAccess{"margin": v1.FieldWrite},
		},
		"dropping a grant leaves its subjects to the fallback": {
			old:  fieldPolicy("workorders", "", fieldRule("margin", v1.FieldRead, v1.FieldGrant{Roles: []v1.ObjectName{"auditor"}, Access: v1.FieldHidden})),
			next: fieldPolicy("workorders", "", fieldRule("margin", v1.FieldRead)),
			want: map[string]v1.FieldAccess{"margin": v1.FieldRead},
		},
		"dropping a rule leaves the field to the policy default": {
			old: fieldPolicy("workorders", "", margin), next: fieldPolicy("workorders", ""),
			want: map[string]v1.FieldAccess{"margin": v1.FieldWrite},
		},
		"raising the policy default opens unlisted fields and fields without a default": {
			old:  fieldPolicy("workorders", v1.FieldHidden, fieldRule("cost", "", adminsWrite())),
			next: fieldPolicy("workorders", v1.FieldRead, fieldRule("cost", "", adminsWrite())),
			want: map[string]v1.FieldAccess{allFields: v1.FieldRead, "cost": v1.FieldRead},
		},
		"lowering the policy default opens nothing": {
			old: fieldPolicy("workorders", v1.FieldRead), next: fieldPolicy("workorders", v1.FieldHidden),
			want: map[string]v1.FieldAccess{},
		},
		"moving the policy to another module opens the old one": {
			old: fieldPolicy("workorders", "", margin), next: fieldPolicy("assets", "", margin),
			want: map[string]v1.FieldAccess{"margin": v1.FieldWrite},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got := fieldWidenings(tc.old, tc.next)
			if len(got) != len(tc.want) {
				t.Fatalf("got %v, want %v", got, tc.want)
			}
			for f, a := range tc.want {
				if got[f] != a {
					t.Errorf("%s: got %q, want %q (all: %v)", f, got[f], a, got)
				}
			}
		})
	}
}

func TestFieldPolicyChanges(t *testing.T) {
	objs := tenant()
	stored := objs.FieldPolicies[0].DeepCopy() // workorders: margin hidden but for tenant admins
	readable := stored.DeepCopy()
	readable.Spec.Fields[0].Default = v1.FieldRead
	moved := stored.DeepCopy()
	moved.Spec.Resource = "assets"
	narrower := stored.DeepCopy()
	narrower.Spec.Fields = append(narrower.Spec.Fields, fieldRule("notes", v1.FieldHidden))
	cases := map[string]escalationCase{
		"a technician cannot delete the policy hiding a field from her": {
			op: Delete, obj: stored, user: "tina",
			denials: []string{`FieldPolicy "wo": spec: Forbidden: user "tina" may not grant write access to field "margin" of workorders (the change opens it)`},
		},
		"a tenant admin who writes the field may": {op: Delete, obj: stored, user: "ada"},
		"nor make it readable": {
			op: Update, obj: readable, old: stored, user: "tina",
			denials: []string{`may not grant read access to field "margin" of workorders`},
		},
		"nor move the policy away": {
			op: Update, obj: moved, old: stored, user: "tina",
			denials: []string{`may not grant write access to field "margin" of workorders`},
		},
		"hiding one more field is fine": {op: Update, obj: narrower, old: stored, user: "tina"},
	}
	runEscalationCases(t, objs, cases)
}

// TestFieldWideningsAreSound compares fieldWidenings with the compiler: for
// random policy changes, every subject whose compiled access to a field
// grows must be covered by the widening reported for that field.
func TestFieldWideningsAreSound(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 11))
	accesses := []v1.FieldAccess{"", v1.FieldHidden, v1.FieldRead, v1.FieldWrite}
	roleNames := []v1.ObjectName{"r1", "r2", "r3"}
	fieldNames := []string{"a", "b", "c"}
	pick := func(n int) []v1.ObjectName {
		var out []v1.ObjectName
		for _, r := range roleNames[:n] {
			if rng.IntN(2) == 0 {
				out = append(out, r)
			}
		}
		if len(out) == 0 {
			out = []v1.ObjectName{roleNames[rng.IntN(n)]}
		}
		return out
	}
	randomPolicy := func() *v1.FieldPolicy {
		p := fieldPolicy("workorders", accesses[rng.IntN(4)])
		for _, f := range fieldNames {
			if rng.IntN(3) == 0 {
				continue
			}
			r := fieldRule(f, accesses[rng.IntN(4)])
			for range rng.IntN(3) {
				r.Grants = append(r.Grants, v1.FieldGrant{Roles: pick(3), Access: accesses[1+rng.IntN(3)]})
			}
			// One grant per role set: the API rejects a role granted two
			// levels (write and hidden) on one field anyway.
			r.Grants = slices.CompactFunc(r.Grants, func(a, b v1.FieldGrant) bool { return slices.Equal(a.Roles, b.Roles) })
			p.Spec.Fields = append(p.Spec.Fields, r)
		}
		return p
	}
	base := snapshot.Objects{}
	for _, r := range roleNames {
		base.Roles = append(base.Roles, *role(string(r), nil, perm("workorders", "view", v1.ScopeAll)))
	}
	// Every combination of roles is some subject's.
	subjects := map[string][]v1.ObjectName{"u1": {"r1"}, "u2": {"r2"}, "u3": {"r3"}, "u12": {"r1", "r2"}, "u13": {"r1", "r3"}, "u23": {"r2", "r3"}, "u123": roleNames}
	for id, roles := range subjects {
		base.Groups = append(base.Groups, *group("g-"+id, []v1.SubjectID{v1.SubjectID(id)}, roles...))
	}
	access := func(p *v1.FieldPolicy, id, field string) v1.FieldAccess {
		objs := base
		if p != nil {
			objs.FieldPolicies = []v1.FieldPolicy{*p}
		}
		snap, problems := snapshot.Compile("t", objs)
		if len(problems) != 0 {
			return "" // an invalid policy: skipped by the caller
		}
		res := snap.Fields(&snapshot.Request{Subject: snapshot.Subject{ID: id}, Resource: snapshot.Resource{Type: "workorders"}})
		switch {
		case slices.Contains(res.Writable, field):
			return v1.FieldWrite
		case slices.Contains(res.Readable, field):
			return v1.FieldRead
		case slices.Contains(res.Hidden, field):
			return v1.FieldHidden
		}
		return res.Default
	}
	for i := range 300 {
		old, next := randomPolicy(), randomPolicy()
		if i%10 == 0 {
			next = nil // a deletion
		}
		widened := fieldWidenings(old, next)
		for id := range subjects {
			for _, f := range append(fieldNames, "unlisted") {
				before, after := access(old, id, f), access(next, id, f)
				if before == "" || after == "" || fieldRank(after) <= fieldRank(before) {
					continue
				}
				got, ok := widened[f]
				listed := rule(old, v1.FieldName(f)) != nil || (next != nil && rule(next, v1.FieldName(f)) != nil)
				if !ok && !listed {
					got, ok = widened[allFields]
				}
				if !ok || fieldRank(got) < fieldRank(after) {
					t.Fatalf("case %d: %s's access to %q grows %s -> %s, but the widening reported is %v\nold %+v\nnew %+v",
						i, id, f, before, after, widened, old.Spec, next)
				}
			}
		}
	}
}

// A field policy left out for a dangling reference hides its module's
// fields (the compiler fails closed); satisfying the reference or fixing
// the policy brings its levels back, which is judged as opening fields.
func TestRestoringAFieldPolicy(t *testing.T) {
	objs := tenant()
	broken := fieldPolicy("workorders", v1.FieldWrite, fieldRule("cost", v1.FieldHidden, v1.FieldGrant{Roles: []v1.ObjectName{"gone"}, Access: v1.FieldWrite}))
	objs.FieldPolicies = []v1.FieldPolicy{*broken}
	fixed := broken.DeepCopy()
	fixed.Spec.Fields[0].Grants = nil
	runEscalationCases(t, objs, map[string]escalationCase{
		"creating the role it names": {
			op: Create, obj: role("gone", nil, perm("workorders", "view", v1.ScopeAll)), user: "tina",
			denials: []string{
				`Role "gone": (restores FieldPolicy "wo") spec: Forbidden: user "tina" may not grant write access to the fields the policy does not list of workorders`,
				`(restores FieldPolicy "wo") spec: Forbidden: user "tina" may not grant write access to field "cost" of workorders`,
			},
		},
		"fixing the policy": {
			op: Update, obj: fixed, old: broken, user: "tina",
			denials: []string{`FieldPolicy "wo": spec: Forbidden: user "tina" may not grant write access to the fields the policy does not list of workorders`},
		},
	})
}
