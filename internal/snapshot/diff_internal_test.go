package snapshot

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// TestDiffShortcutsChangeNothing: Diff skipping the profiles whose grants
// and field levels cannot have changed gives exactly what comparing every
// profile gives, over random edits of a generated tenant.
func TestDiffShortcutsChangeNothing(t *testing.T) {
	base := Objects(tenantgen.Generate(tenantgen.Config{Seed: 3, Users: 400, Roles: 20, Groups: 30, FieldPolicies: 3}).Objects())
	edits := map[string]func(o *Objects, r *rand.Rand){
		"role gains an action": func(o *Objects, r *rand.Rand) {
			x := &o.Roles[r.IntN(len(o.Roles))]
			if len(x.Spec.Permissions) > 0 {
				x.Spec.Permissions[0].Actions = append(x.Spec.Permissions[0].Actions, "audit-action")
			}
		},
		"role changes scope": func(o *Objects, r *rand.Rand) {
			x := &o.Roles[r.IntN(len(o.Roles))]
			if len(x.Spec.Permissions) > 0 {
				x.Spec.Permissions[0].Scope = v1alpha1.ScopeOwn
			}
		},
		"group loses its roles": func(o *Objects, r *rand.Rand) { o.Groups[r.IntN(len(o.Groups))].Spec.Roles = nil },
		"group gains a restriction": func(o *Objects, r *rand.Rand) {
			g := &o.Groups[r.IntN(len(o.Groups))]
			g.Spec.Restrictions = append(g.Spec.Restrictions, v1alpha1.Restriction{Resources: []v1alpha1.ModuleName{"*"}, Scope: v1alpha1.ScopeOwn})
		},
		"member moves": func(o *Objects, r *rand.Rand) {
			a, b := &o.Groups[r.IntN(len(o.Groups))], &o.Groups[r.IntN(len(o.Groups))]
			if len(a.Spec.Members) > 0 {
				b.Spec.Members = append(b.Spec.Members, a.Spec.Members[0])
				a.Spec.Members = a.Spec.Members[1:]
			}
		},
		"field grant flips": func(o *Objects, r *rand.Rand) {
			if len(o.FieldPolicies) == 0 {
				return
			}
			fp := &o.FieldPolicies[r.IntN(len(o.FieldPolicies))]
			if len(fp.Spec.Fields) > 0 {
				f := &fp.Spec.Fields[r.IntN(len(fp.Spec.Fields))]
				f.Default = map[v1alpha1.FieldAccess]v1alpha1.FieldAccess{v1alpha1.FieldWrite: v1alpha1.FieldHidden, v1alpha1.FieldHidden: v1alpha1.FieldRead, v1alpha1.FieldRead: v1alpha1.FieldWrite, "": v1alpha1.FieldHidden}[f.Default]
			}
		},
		"policy removed": func(o *Objects, r *rand.Rand) {
			if len(o.FieldPolicies) > 0 {
				o.FieldPolicies = o.FieldPolicies[1:]
			}
		},
		"role removed": func(o *Objects, r *rand.Rand) {
			i := r.IntN(len(o.Roles))
			o.Roles = append(o.Roles[:i:i], o.Roles[i+1:]...)
		},
	}
	old, _ := Compile("t", base)
	for name, edit := range edits {
		for seed := range 5 {
			t.Run(fmt.Sprintf("%s/%d", name, seed), func(t *testing.T) {
				objs := deepCopyObjects(base)
				r := rand.New(rand.NewPCG(uint64(seed), 9))
				edit(&objs, r)
				edit(&objs, r)
				new, _ := Compile("t", objs)
				for _, pair := range [][2]*Snapshot{{old, new}, {new, old}, {nil, new}, {old, nil}} {
					fast := Diff(pair[0], pair[1])
					diffSkips = false
					full := Diff(pair[0], pair[1])
					diffSkips = true
					a, _ := json.Marshal(fast)
					b, _ := json.Marshal(full)
					if string(a) != string(b) {
						t.Fatalf("diff with shortcuts differs:\n fast %s\n full %s", a, b)
					}
				}
			})
		}
	}
}

func deepCopyObjects(o Objects) Objects {
	var out Objects
	for i := range o.Roles {
		out.Roles = append(out.Roles, *o.Roles[i].DeepCopy())
	}
	for i := range o.Groups {
		out.Groups = append(out.Groups, *o.Groups[i].DeepCopy())
	}
	for i := range o.FieldPolicies {
		out.FieldPolicies = append(out.FieldPolicies, *o.FieldPolicies[i].DeepCopy())
	}
	for i := range o.ApprovalChains {
		out.ApprovalChains = append(out.ApprovalChains, *o.ApprovalChains[i].DeepCopy())
	}
	return out
}

// BenchmarkDiffOneRoleChange is the audit diff the controller computes after
// one Role of the 100,000-user tenant gains an action: compare=full lists
// every profile's grants, compare=shortcuts skips profiles that cannot
// have changed.
func BenchmarkDiffOneRoleChange(b *testing.B) {
	objs := Objects(tenantgen.Generate(tenantgen.Default(100_000)).Objects())
	old, _ := Compile("t", objs)
	edited := deepCopyObjects(objs)
	for i := range edited.Roles {
		if len(edited.Roles[i].Spec.Permissions) > 0 {
			edited.Roles[i].Spec.Permissions[0].Actions = append(edited.Roles[i].Spec.Permissions[0].Actions, "audit-action")
			break
		}
	}
	new, _ := Compile("t", edited)
	for _, skips := range []bool{false, true} {
		name := "compare=full"
		if skips {
			name = "compare=shortcuts"
		}
		b.Run(name, func(b *testing.B) {
			diffSkips = skips
			defer func() { diffSkips = true }()
			var ch Changes
			for b.Loop() {
				ch = Diff(old, new)
			}
			b.ReportMetric(float64(len(ch.Permissions)), "changes")
		})
	}
}
