package admission

import (
	"cmp"
	"fmt"
	"slices"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Escalation prevention, as RBAC's escalate check: a user who is not
// privileged may write an access object only when they themselves hold, in
// the tenant's served snapshot, everything the object grants.
//
//   - Role: every permission of the role (with what it extends); fullAccess
//     needs full access.
//   - UserGroup: every permission of every role the group gives, and the
//     reach of every unit, facility or company value it newly sets
//     (attributes.go).
//   - FieldPolicy: every write grant needs the user to write that field, every
//     read grant needs the user to read it.
//   - ApprovalChain: the user must hold the chain's action on its resource.
//
// Subjects the snapshot allows the action "escalate" on the resource
// "accessroles" are exempt, like cluster admins. Deletions are never
// escalations and are not checked.

// EscalateAction and EscalateResource name the Gatehouse permission that
// exempts a tenant administrator from the escalation check.
const (
	EscalateAction   = "escalate"
	EscalateResource = "accessroles"
)

// heldGrant is one permission the user holds.
type heldGrant struct {
	full      bool
	resources []v1alpha1.ModuleName
	actions   []v1alpha1.ActionName
	scope     v1alpha1.Scope
	when      v1alpha1.CELExpression
}

// holder is what the user holds in the tenant.
type holder struct {
	grants       []heldGrant
	restrictions []v1alpha1.Restriction
	// attrs are the user's attribute values from all their groups.
	attrs map[string][]string
}

// exempt reports whether the snapshot allows the user the escalate action.
func exempt(req Request) bool {
	sub := snapshot.Subject{ID: req.User.Name, Groups: req.User.Groups}
	return req.Snapshot.Check(&snapshot.Request{Subject: sub, Action: EscalateAction,
		Resource: snapshot.Resource{Type: EscalateResource}}).Allowed
}

// denier formats escalation denials of req's object.
func denier(req Request) func(field, format string, args ...any) string {
	kind, name := identify(req.Object)
	return func(field, format string, args ...any) string {
		return fmt.Sprintf("%s %q: %s: Forbidden: user %q may not grant %s: they do not hold it in tenant %q (privilege escalation)",
			kind, name, field, req.User.Name, fmt.Sprintf(format, args...), cmp.Or(req.Namespace, req.Snapshot.Tenant()))
	}
}

// deletionDenials checks the deletions that can widen access: a UserGroup
// whose restrictions (or those of groups including it) narrow its members'
// grants from other groups, and a FieldPolicy that keeps fields from being
// writable. (A deleted Role leaves the groups naming it out; they keep
// restricting, so that only takes access away.)
func deletionDenials(req Request, t snapshot.Objects) []string {
	switch o := req.Object.(type) {
	case *v1alpha1.UserGroup:
		if !exempt(req) {
			h := holdings(req, t)
			return append(restrictionDenials(nil, o, t, h, denier(req)), conditionDenials(nil, o, t, h, denier(req))...)
		}
	case *v1alpha1.Role:
		if !exempt(req) {
			return roleHolderConditionDenials(o.Name, t, holdings(req, t), denier(req))
		}
	case *v1alpha1.FieldPolicy:
		if !exempt(req) {
			return fieldPolicyDenials(o, nil, myFields(req, o.Spec.Resource), holdings(req, t), denier(req))
		}
	}
	return nil
}

// referenceDenials judges the groups and field policies a change brings
// back by satisfying their references: a group is passed to restore (nil:
// none can be), a field policy is judged as opening its module's fields.
func referenceDenials(req Request, after snapshot.Objects, was *leftOut, h holder, deny func(field, format string, args ...any) string, restore func(*v1alpha1.UserGroup)) []string {
	// Judged on the objects themselves, not on the served snapshot, which
	// trails the cluster by a compile. (A group left out keeps restricting,
	// so leaving one out lifts nothing.)
	now := leftOutOf(after)
	var out []string
	if restore != nil {
		_, self := identify(req.Object)
		for i := range after.Groups {
			g := &after.Groups[i]
			if g.Name != self && was.groups[g.Name] && !now.groups[g.Name] {
				restore(g)
			}
		}
		// A field policy left out hides its module's fields; brought back,
		// it opens them to its levels.
		for i := range after.FieldPolicies {
			fp := &after.FieldPolicies[i]
			if was.fieldPolicy(fp) && !now.fieldPolicy(fp) {
				sub := func(field, format string, args ...any) string {
					return deny(fmt.Sprintf("(restores FieldPolicy %q) %s", fp.Name, field), format, args...)
				}
				out = append(out, fieldPolicyDenials(hiddenPolicy(fp), fp, myFields(req, fp.Spec.Resource), h, sub)...)
			}
		}
	}
	return out
}

// hiddenPolicy is what the compiler serves for a left-out field policy:
// every field of its module hidden.
func hiddenPolicy(fp *v1alpha1.FieldPolicy) *v1alpha1.FieldPolicy {
	return &v1alpha1.FieldPolicy{ObjectMeta: fp.ObjectMeta, Spec: v1alpha1.FieldPolicySpec{Resource: fp.Spec.Resource, Default: v1alpha1.FieldHidden}}
}

// myFields is the user's field access to a module in the served snapshot.
func myFields(req Request, module v1alpha1.ModuleName) snapshot.FieldAccessResult {
	sub := snapshot.Subject{ID: req.User.Name, Groups: req.User.Groups}
	return req.Snapshot.Fields(&snapshot.Request{Subject: sub, Resource: snapshot.Resource{Type: string(module)}})
}

// escalationDenials judges a create or update. t is the tenant with the
// change applied (what the object grants); before is the tenant as it is,
// from which the user's holdings are taken: a user must not gain what they
// may grant from the change itself (adding a role to their own group,
// widening a role they hold).
func escalationDenials(req Request, t, before snapshot.Objects) []string {
	if exempt(req) {
		return nil
	}
	h := holdings(req, before)
	was := leftOutOf(before)
	deny := denier(req)
	roles := rolesByName(t)
	var out []string
	// checkRole checks a role's grants; narrowing are the restrictions of
	// the group that gives the role (its members get only the records both
	// the grant and the restriction select, so either being held suffices).
	checkRole := func(field, roleName string, narrowing []v1alpha1.Restriction) {
		for _, p := range effectivePermissions(roles, roleName) {
			if p.full {
				if !h.full() {
					out = append(out, deny(field, "full access (role %q)", roleName))
				}
				continue
			}
			for _, r := range p.resources {
				for _, a := range p.actions {
					if !h.covers(r, a, p.scope, p.when) && !h.coversNarrowed(r, a, p.when, narrowing) {
						out = append(out, deny(field, "%s on %s with scope %s%s (role %q)", a, r, scopeName(p.scope), whenSuffix(p.when), roleName))
					}
				}
			}
		}
	}
	// checkGroup checks a group change (old nil: created); prefix names
	// the group in fields when it is not the object under review.
	checkGroup := func(o, old *v1alpha1.UserGroup, prefix string) {
		for i, r := range o.Spec.Roles {
			checkRole(fmt.Sprintf("%sspec.roles[%d]", prefix, i), string(r), o.Spec.Restrictions)
		}
		if old == nil || joiners(o, old) != nil {
			// New members also join every group that includes this one.
			groups, up := enclosing(o, t)
			for _, name := range sortedKeys(up) {
				if name == o.Name {
					continue
				}
				for _, r := range groups[name].Spec.Roles {
					checkRole(fmt.Sprintf("%sspec.members (through UserGroup %q)", prefix, name), string(r), o.Spec.Restrictions)
				}
			}
		}
		sub := func(field, format string, args ...any) string { return deny(prefix+field, format, args...) }
		out = append(out, attributeDenials(o, old, t, h, sub)...)
	}
	// Other groups whose references the change satisfies or breaks.
	restored := func() {
		out = append(out, referenceDenials(req, t, was, h, deny, func(g *v1alpha1.UserGroup) {
			checkGroup(g, nil, fmt.Sprintf("(restores UserGroup %q) ", g.Name))
		})...)
	}
	switch o := req.Object.(type) {
	case *v1alpha1.Role:
		checkRole("spec", o.Name, nil)
		granted := before
		if was.roles[o.Name] {
			granted = snapshot.Objects{} // left out until now: every grant is new
		}
		out = append(out, roleValueDenials(o, t, granted, h, deny)...)
		restored()
	case *v1alpha1.UserGroup:
		old, _ := req.OldObject.(*v1alpha1.UserGroup)
		// A left-out group restricts but grants nothing: what it gives is
		// judged as new, what it stops restricting as lifted.
		gave := old
		if was.groups[o.Name] {
			gave = nil
		}
		checkGroup(o, gave, "")
		out = append(out, restrictionDenials(o, old, t, h, deny)...)
		out = append(out, conditionDenials(o, old, t, h, deny)...)
		restored()
	case *v1alpha1.FieldPolicy:
		old, _ := req.OldObject.(*v1alpha1.FieldPolicy)
		if old != nil && was.fieldPolicy(old) {
			old = hiddenPolicy(old) // what the left-out policy serves
		}
		if old != nil {
			out = append(out, fieldPolicyDenials(old, o, myFields(req, old.Spec.Resource), h, deny)...)
			if old.Spec.Resource != o.Spec.Resource {
				old = nil // every grant on the new module is new
			}
		}
		fields := myFields(req, o.Spec.Resource)
		for i, f := range o.Spec.Fields {
			for j, g := range f.Grants {
				if unchangedGrant(old, f.Name, g) {
					continue // judged when it was written
				}
				field := fmt.Sprintf("spec.fields[%d].grants[%d]", i, j)
				switch {
				case g.Access == v1alpha1.FieldWrite && !h.full() && !fieldIn(fields, fields.Writable, string(f.Name), v1alpha1.FieldWrite):
					out = append(out, deny(field, "write access to field %q", f.Name))
				case g.Access == v1alpha1.FieldRead && !h.full() && !fieldIn(fields, fields.Readable, string(f.Name), v1alpha1.FieldRead):
					out = append(out, deny(field, "read access to field %q", f.Name))
				}
			}
		}
	case *v1alpha1.ApprovalChain:
		action := o.Spec.EffectiveAction()
		// A module has one chain, so it governs who is eligible on every
		// record of the module: the user must hold the action on all of them.
		if !h.covers(o.Spec.Resource, action, v1alpha1.ScopeAll, "") {
			out = append(out, deny("spec.action", "approval of %s (%s) on every record (the module's one chain governs them all)", o.Spec.Resource, action))
		}
	}
	return dedupe(out)
}

// holdings collects the user's grants from the objects the snapshot serves,
// as t (the tenant before the change) has them.
//
// Grants and attributes count only from groups the snapshot serves;
// restrictions count from every group the user is in, served yet or not, so
// a restriction an admin just added binds at once.
func holdings(req Request, t snapshot.Objects) holder {
	groups := groupsWith(t, nil)
	// Direct membership, then groups that include a group the user is in.
	in := map[string]bool{}
	for name, g := range groups {
		if slices.Contains(g.Spec.Members, v1alpha1.SubjectID(req.User.Name)) ||
			slices.ContainsFunc(g.Spec.ExternalGroups, func(e string) bool { return slices.Contains(req.User.Groups, e) }) {
			in[name] = true
		}
	}
	closeUpwards(groups, in)
	roles := map[string]*v1alpha1.Role{}
	for i := range t.Roles {
		if req.Snapshot.HasRole(t.Roles[i].Name) {
			roles[t.Roles[i].Name] = &t.Roles[i]
		}
	}
	h := holder{attrs: map[string][]string{}}
	for _, name := range sortedKeys(in) {
		g := groups[name]
		h.restrictions = append(h.restrictions, g.Spec.Restrictions...)
		if !req.Snapshot.HasGroup(name) {
			continue
		}
		for attr, v := range g.Spec.Attributes {
			h.attrs[attr] = append(h.attrs[attr], v.Values...)
		}
		for _, r := range g.Spec.Roles {
			h.grants = append(h.grants, effectivePermissions(roles, string(r))...)
		}
	}
	return h
}

// effectivePermissions flattens a role and what it extends, as the
// compiler does (snapshot.ExtendsClosure); roles missing from roles are left
// out with what only they lead to.
func effectivePermissions(roles map[string]*v1alpha1.Role, name string) []heldGrant {
	var out []heldGrant
	snapshot.ExtendsClosure(name, func(n string) *v1alpha1.Role { return roles[n] }, func(r *v1alpha1.Role) {
		if r.Spec.FullAccess {
			out = append(out, heldGrant{full: true})
		}
		for _, p := range r.Spec.Permissions {
			out = append(out, heldGrant{resources: p.Resources, actions: p.Actions, scope: p.Scope, when: p.When})
		}
	})
	return out
}

func (h holder) full() bool {
	if len(h.restrictions) > 0 {
		return false // a restricted user holds less than full access
	}
	return slices.ContainsFunc(h.grants, func(g heldGrant) bool { return g.full })
}

// covers reports whether the user holds action on resource for at least the
// records scope selects, under at least condition when. "*" in the wanted
// resource or action needs "*" held.
func (h holder) covers(resource v1alpha1.ModuleName, action v1alpha1.ActionName, scope v1alpha1.Scope, when v1alpha1.CELExpression) bool {
	for _, r := range h.restrictions {
		if (slices.Contains(r.Resources, "*") || slices.Contains(r.Resources, resource)) && !scopeWithin(scope, r.Scope) {
			return false // the user's own access there is narrowed below what is granted
		}
	}
	for _, g := range h.grants {
		if g.full {
			return true
		}
		if (!slices.Contains(g.resources, "*") && !slices.Contains(g.resources, resource)) ||
			(!slices.Contains(g.actions, "*") && !slices.Contains(g.actions, action)) {
			continue
		}
		if (g.when == "" || g.when == when) && scopeWithin(scope, g.scope) {
			return true
		}
	}
	return false
}

// coversNarrowed reports whether the user holds action on resource for the
// records one of the restrictions on that resource selects.
func (h holder) coversNarrowed(resource v1alpha1.ModuleName, action v1alpha1.ActionName, when v1alpha1.CELExpression, narrowing []v1alpha1.Restriction) bool {
	for _, r := range narrowing {
		if (slices.Contains(r.Resources, "*") || slices.Contains(r.Resources, resource)) && h.covers(resource, action, r.Scope, when) {
			return true
		}
	}
	return false
}

// scopeWithin reports whether every record scope selects is also selected by
// held, for any subject and record: the compiler's scope table says.
func scopeWithin(scope, held v1alpha1.Scope) bool { return snapshot.ScopeWithin(scope, held) }

func fieldIn(res snapshot.FieldAccessResult, list []string, field string, need v1alpha1.FieldAccess) bool {
	if slices.Contains(list, field) {
		return true
	}
	listed := slices.Contains(res.Readable, field) || slices.Contains(res.Writable, field) || slices.Contains(res.Hidden, field)
	if listed {
		return false
	}
	// A field the user's policy does not list gets the policy default.
	return !res.Covered || res.Default == v1alpha1.FieldWrite || (need == v1alpha1.FieldRead && res.Default == v1alpha1.FieldRead)
}

func scopeName(s v1alpha1.Scope) string {
	if s == "" {
		return string(v1alpha1.ScopeAll)
	}
	return string(s)
}

func whenSuffix(w v1alpha1.CELExpression) string {
	if w == "" {
		return ""
	}
	return fmt.Sprintf(" when %q", w)
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0]
	for _, s := range in {
		if !seen[s] {
			seen[s] = true
			out = append(out, s)
		}
	}
	return out
}
