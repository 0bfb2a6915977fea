package admission

import (
	"slices"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Role changes by value. The role check compares scopes by kind, but a
// role's unit, facility and company grants reach as far as the attribute
// values of the subjects who hold it (through any group that gives the role
// or a role extending it, including groups that named the role before it
// existed). So every grant a change adds to the role must be within the
// user's reach at each of those values.

// roleValueDenials checks the grants a Role create or update adds (next the
// role as it will be; t the tenant with the change applied, before the
// tenant as it is).
func roleValueDenials(next *v1alpha1.Role, t, before snapshot.Objects, h holder, deny func(field, format string, args ...any) string) []string {
	if h.full() {
		return nil
	}
	had := effectivePermissions(rolesByName(before), next.Name)
	added := slices.DeleteFunc(effectivePermissions(rolesByName(t), next.Name), func(g heldGrant) bool {
		return slices.ContainsFunc(had, func(o heldGrant) bool { return sameGrant(o, g) })
	})
	var out []string
	if !slices.Equal(next.Spec.Extends, extendsOf(next.Name, before)) {
		// The holders' roles change (subject.roles).
		out = append(out, roleHolderConditionDenials(next.Name, t, h, deny)...)
	}
	if len(added) == 0 {
		return out
	}
	holding := extenders(next.Name, t)
	reported := map[string]bool{}
	// A new grant whose condition reads the subject can turn true for
	// holders at values no scope compares: it needs the permission without
	// the condition (as in attributeDenials).
	for _, sg := range scoped(added, nil) {
		if readsSubject(sg.when) && !h.covers(sg.resource, sg.action, sg.scope, "") {
			msg := deny("spec.permissions", "%s on %s with scope %s%s to the role's holders (the condition reads the subject, so it needs the permission without it)",
				sg.action, sg.resource, sg.scope, whenSuffix(sg.when))
			if !reported[msg] {
				reported[msg] = true
				out = append(out, msg)
			}
		}
	}
	for i := range t.Groups {
		g := &t.Groups[i]
		if !slices.ContainsFunc(g.Spec.Roles, func(r v1alpha1.ObjectName) bool { return holding[string(r)] }) {
			continue
		}
		groups, of := membersGroups(g, t)
		_, restrictions := grantsOf(groups, of, t)
		values := groupValues(groups, of, func(attr string) bool { _, ok := scopeAttributes[attr]; return ok })
		for _, sg := range scoped(added, restrictions) {
			for attr, scopes := range scopeAttributes {
				if !slices.Contains(scopes, sg.scope) {
					continue
				}
				for _, v := range values[attr] {
					msg := deny("spec.permissions", "%s on %s with scope %s%s at %s %q to the members of UserGroup %q",
						sg.action, sg.resource, sg.scope, whenSuffix(sg.when), attr, v, g.Name)
					if !reported[msg] && !h.reaches(sg, attr, v) {
						reported[msg] = true
						out = append(out, msg)
					}
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

// roleHolderConditionDenials checks a change to role name (its extends, or
// its deletion) against the holders' grants whose condition reads the
// subject: their roles (and the groups left out with the role) change.
func roleHolderConditionDenials(name string, t snapshot.Objects, h holder, deny func(field, format string, args ...any) string) []string {
	if h.full() {
		return nil
	}
	holding := extenders(name, t)
	var affected []scopedGrant
	for i := range t.Groups {
		g := &t.Groups[i]
		if slices.ContainsFunc(g.Spec.Roles, func(r v1alpha1.ObjectName) bool { return holding[string(r)] }) {
			affected = append(affected, affectedGrants(g, t)...)
		}
	}
	return subjectConditionDenials(affected, h, deny, "spec", "the role's holders")
}

// extenders returns name and every role that extends it, transitively.
func extenders(name string, t snapshot.Objects) map[string]bool {
	out := map[string]bool{name: true}
	for changed := true; changed; {
		changed = false
		for _, r := range t.Roles {
			if !out[r.Name] && slices.ContainsFunc(r.Spec.Extends, func(e v1alpha1.ObjectName) bool { return out[string(e)] }) {
				out[r.Name], changed = true, true
			}
		}
	}
	return out
}

// extendsOf returns what role name extends in t (nil when it has none).
func extendsOf(name string, t snapshot.Objects) []v1alpha1.ObjectName {
	if r, ok := rolesByName(t)[name]; ok {
		return r.Spec.Extends
	}
	return nil
}

func sameGrant(a, b heldGrant) bool {
	return a.full == b.full && scopeOrAll(a.scope) == scopeOrAll(b.scope) && a.when == b.when &&
		slices.Equal(a.resources, b.resources) && slices.Equal(a.actions, b.actions)
}

// leftOut is what the compiler would leave out of a tenant for a
// reference: roles extending a role that does not exist (or is itself left
// out), groups naming such a role or a member group that does not exist or
// is left out. (Cycles and local problems are rejected at admission, so
// they are not followed here.) Computed once per tenant state.
type leftOut struct {
	roles, groups           map[string]bool // existing, but left out
	roleExists, groupExists map[string]bool
}

func leftOutOf(t snapshot.Objects) *leftOut {
	roles := rolesByName(t)
	// state: 0 unknown, 1 being checked (a cycle: invalid), 2 valid, 3 not.
	state := make(map[string]uint8, len(roles))
	var valid func(name string) bool
	valid = func(name string) bool {
		switch state[name] {
		case 1, 3:
			return false
		case 2:
			return true
		}
		r, ok := roles[name]
		if !ok {
			return false
		}
		state[name] = 1
		ok = !slices.ContainsFunc(r.Spec.Extends, func(e v1alpha1.ObjectName) bool { return !valid(string(e)) })
		state[name] = 3
		if ok {
			state[name] = 2
		}
		return ok
	}
	groups := groupsWith(t, nil)
	l := &leftOut{roles: map[string]bool{}, groups: map[string]bool{},
		roleExists: make(map[string]bool, len(roles)), groupExists: make(map[string]bool, len(groups))}
	for name := range roles {
		l.roleExists[name] = true
		if !valid(name) {
			l.roles[name] = true
		}
	}
	for name, g := range groups {
		l.groupExists[name] = true
		if slices.ContainsFunc(g.Spec.Roles, func(r v1alpha1.ObjectName) bool { return !valid(string(r)) }) {
			l.groups[name] = true
		}
	}
	for changed := true; changed; {
		changed = false
		for name, g := range groups {
			if !l.groups[name] && slices.ContainsFunc(g.Spec.MemberGroups, func(m v1alpha1.ObjectName) bool {
				return !l.groupExists[string(m)] || l.groups[string(m)]
			}) {
				l.groups[name], changed = true, true
			}
		}
	}
	return l
}

// fieldPolicy reports whether a field policy's grants name a role or group
// that does not exist or is left out (the policy is then left out too).
func (l *leftOut) fieldPolicy(fp *v1alpha1.FieldPolicy) bool {
	for _, f := range fp.Spec.Fields {
		for _, g := range f.Grants {
			if slices.ContainsFunc(g.Roles, func(r v1alpha1.ObjectName) bool { return !l.roleExists[string(r)] || l.roles[string(r)] }) ||
				slices.ContainsFunc(g.Groups, func(n v1alpha1.ObjectName) bool { return !l.groupExists[string(n)] || l.groups[string(n)] }) {
				return true
			}
		}
	}
	return false
}
