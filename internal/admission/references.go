package admission

import (
	"fmt"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// reference is one name an object refers to.
type reference struct {
	kind  string // Role or UserGroup
	name  string
	field string
}

// references lists the Roles and UserGroups an object names.
func references(obj any) []reference {
	var refs []reference
	add := func(kind, field string, names []v1alpha1.ObjectName) {
		for i, n := range names {
			refs = append(refs, reference{kind: kind, name: string(n), field: fmt.Sprintf("%s[%d]", field, i)})
		}
	}
	switch o := obj.(type) {
	case *v1alpha1.Role:
		add(snapshot.KindRole, "spec.extends", o.Spec.Extends)
	case *v1alpha1.UserGroup:
		add(snapshot.KindUserGroup, "spec.memberGroups", o.Spec.MemberGroups)
		add(snapshot.KindRole, "spec.roles", o.Spec.Roles)
	case *v1alpha1.FieldPolicy:
		for i, f := range o.Spec.Fields {
			for j, g := range f.Grants {
				prefix := fmt.Sprintf("spec.fields[%d].grants[%d]", i, j)
				add(snapshot.KindRole, prefix+".roles", g.Roles)
				add(snapshot.KindUserGroup, prefix+".groups", g.Groups)
			}
		}
	case *v1alpha1.ApprovalChain:
		for i, st := range o.Spec.Steps {
			prefix := fmt.Sprintf("spec.steps[%d].approvers", i)
			add(snapshot.KindRole, prefix+".roles", st.Approvers.Roles)
			add(snapshot.KindUserGroup, prefix+".groups", st.Approvers.Groups)
		}
	}
	return refs
}

func names(t snapshot.Objects) map[string]map[string]bool {
	out := map[string]map[string]bool{snapshot.KindRole: {}, snapshot.KindUserGroup: {}}
	for _, r := range t.Roles {
		out[snapshot.KindRole][r.Name] = true
	}
	for _, g := range t.Groups {
		out[snapshot.KindUserGroup][g.Name] = true
	}
	return out
}

// danglingWarnings warns about names that do not exist (yet): they are
// admitted because `kubectl apply -f dir` and Argo CD sync waves create
// objects in any order; the object's status shows the problem until the
// name exists.
func danglingWarnings(obj any, t snapshot.Objects) []string {
	kind, name := identify(obj)
	exists := names(t)
	var out []string
	for _, ref := range references(obj) {
		if !exists[ref.kind][ref.name] {
			out = append(out, fmt.Sprintf("%s %q: %s: %s %q does not exist (yet); the object stays out of the snapshot until it does",
				kind, name, ref.field, ref.kind, ref.name))
		}
	}
	return out
}

// referrerWarnings warns when a deleted Role or UserGroup is still named by
// other objects. The deletion is admitted — GitOps tools prune in any order,
// and a webhook that blocked it could deadlock a sync — and the referrers
// are left out of the snapshot until they are fixed.
func referrerWarnings(kind, name string, t snapshot.Objects) []string {
	if kind != snapshot.KindRole && kind != snapshot.KindUserGroup {
		return nil
	}
	var referrers []string
	visit := func(k, n string, obj any) {
		for _, ref := range references(obj) {
			if ref.kind == kind && ref.name == name {
				referrers = append(referrers, fmt.Sprintf("%s %s (%s)", k, n, ref.field))
			}
		}
	}
	for i := range t.Roles {
		visit(snapshot.KindRole, t.Roles[i].Name, &t.Roles[i])
	}
	for i := range t.Groups {
		visit(snapshot.KindUserGroup, t.Groups[i].Name, &t.Groups[i])
	}
	for i := range t.FieldPolicies {
		visit(snapshot.KindFieldPolicy, t.FieldPolicies[i].Name, &t.FieldPolicies[i])
	}
	for i := range t.ApprovalChains {
		visit(snapshot.KindApprovalChain, t.ApprovalChains[i].Name, &t.ApprovalChains[i])
	}
	if len(referrers) == 0 {
		return nil
	}
	sort.Strings(referrers)
	return []string{fmt.Sprintf("%s %q is still referenced by %s; they will be left out of the snapshot until the references are removed",
		kind, name, strings.Join(referrers, ", "))}
}
