package tenantgen

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// Objects are the model as v1alpha1 objects; the field set matches
// snapshot.Objects, so snapshot.Objects(o) converts.
type Objects struct {
	Roles          []v1alpha1.Role
	Groups         []v1alpha1.UserGroup
	FieldPolicies  []v1alpha1.FieldPolicy
	ApprovalChains []v1alpha1.ApprovalChain
}

func names[T ~string](xs []string) []T {
	if xs == nil {
		return nil
	}
	out := make([]T, len(xs))
	for i, x := range xs {
		out[i] = T(x)
	}
	return out
}

func meta(tenant, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: tenant, Name: name}
}

// Objects converts the model to v1alpha1 objects.
func (m *Model) Objects() Objects {
	var o Objects
	for _, r := range m.Roles {
		ro := v1alpha1.Role{ObjectMeta: meta(m.Tenant, r.Name)}
		ro.Spec.FullAccess = r.FullAccess
		ro.Spec.Extends = names[v1alpha1.ObjectName](r.Extends)
		for _, p := range r.Perms {
			perm := v1alpha1.Permission{Resources: names[v1alpha1.ModuleName](p.Modules),
				Actions: names[v1alpha1.ActionName](p.Actions), Scope: v1alpha1.Scope(p.Scope)}
			if p.MaxAmount > 0 {
				perm.When = v1alpha1.CELExpression(fmt.Sprintf("resource.properties.amount < %d", p.MaxAmount))
			}
			ro.Spec.Permissions = append(ro.Spec.Permissions, perm)
		}
		o.Roles = append(o.Roles, ro)
	}
	for _, g := range m.Groups {
		ug := v1alpha1.UserGroup{ObjectMeta: meta(m.Tenant, g.Name)}
		ug.Spec.Roles = names[v1alpha1.ObjectName](g.Roles)
		ug.Spec.MemberGroups = names[v1alpha1.ObjectName](g.MemberGroups)
		ug.Spec.ExternalGroups = g.ExternalGroups
		ug.Spec.Members = names[v1alpha1.SubjectID](g.Members)
		ug.Spec.Attributes = map[string]v1alpha1.AttributeValue{
			"unit":       v1alpha1.StringAttribute(g.Unit),
			"company":    v1alpha1.StringAttribute(g.Company),
			"facilities": v1alpha1.ListAttribute(g.Facilities...),
		}
		for _, r := range g.Restrictions {
			ug.Spec.Restrictions = append(ug.Spec.Restrictions, v1alpha1.Restriction{
				Resources: names[v1alpha1.ModuleName](r.Modules), Scope: v1alpha1.Scope(r.Scope)})
		}
		o.Groups = append(o.Groups, ug)
	}
	for _, fp := range m.FieldPolicies {
		p := v1alpha1.FieldPolicy{ObjectMeta: meta(m.Tenant, fp.Name)}
		p.Spec.Resource = v1alpha1.ModuleName(fp.Module)
		p.Spec.Default = v1alpha1.FieldAccess(fp.Default)
		for _, f := range fp.Fields {
			fr := v1alpha1.FieldRule{Name: v1alpha1.FieldName(f.Name), Default: v1alpha1.FieldAccess(f.Default)}
			for _, g := range f.Grants {
				fr.Grants = append(fr.Grants, v1alpha1.FieldGrant{Roles: names[v1alpha1.ObjectName](g.Roles),
					Groups: names[v1alpha1.ObjectName](g.Groups), Access: v1alpha1.FieldAccess(g.Access)})
			}
			p.Spec.Fields = append(p.Spec.Fields, fr)
		}
		o.FieldPolicies = append(o.FieldPolicies, p)
	}
	for _, c := range m.Chains {
		ch := v1alpha1.ApprovalChain{ObjectMeta: meta(m.Tenant, c.Name)}
		ch.Spec.Resource = v1alpha1.ModuleName(c.Module)
		ch.Spec.Action = v1alpha1.ActionName(c.Action)
		ch.Spec.RequireProjectContact = c.RequireProjectContact
		ch.Spec.ForbidSelfApproval = c.ForbidSelfApproval
		for _, s := range c.Steps {
			st := v1alpha1.ApprovalStep{Name: v1alpha1.ObjectName(s.Name), RequireAll: s.RequireAll,
				Approvers: v1alpha1.Approvers{Roles: names[v1alpha1.ObjectName](s.Roles),
					Groups: names[v1alpha1.ObjectName](s.Groups), Users: names[v1alpha1.SubjectID](s.Users)}}
			if s.MinAmount > 0 {
				st.When = v1alpha1.CELExpression(fmt.Sprintf("resource.properties.amount > %d", s.MinAmount))
			}
			if s.Required > 0 {
				n := int32(s.Required)
				st.Required = &n
			}
			ch.Spec.Steps = append(ch.Spec.Steps, st)
		}
		o.ApprovalChains = append(o.ApprovalChains, ch)
	}
	return o
}

// All returns every object, kind by kind, as pointers into o.
func (o *Objects) All() []v1alpha1.AccessObject {
	var out []v1alpha1.AccessObject
	for i := range o.Roles {
		out = append(out, &o.Roles[i])
	}
	for i := range o.Groups {
		out = append(out, &o.Groups[i])
	}
	for i := range o.FieldPolicies {
		out = append(out, &o.FieldPolicies[i])
	}
	for i := range o.ApprovalChains {
		out = append(out, &o.ApprovalChains[i])
	}
	return out
}
