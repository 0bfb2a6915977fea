package admission

import (
	"slices"
	"strings"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Attribute delegation. Unit, facility and company scopes compare records
// with the subject's attributes, and a subject has the attributes of all
// their groups. So a value a UserGroup newly sets for unit, facilities,
// company or companies widens what its members' scoped grants reach: the
// grants of this group's roles and of the members' other groups, and the
// records their restrictions let through. A user who is not privileged may
// set such a value only where they themselves reach it, for every grant it
// can widen:
//
//   - unit V for a unit-scoped grant: the user holds that action with scope
//     all, or unit at V, or unitTree at V or above it;
//   - unit V for a unitTree-scoped grant: all, or unitTree at V or above;
//   - facility V: all, or facility with V among the user's facilities;
//   - company V: all, or company with V among the user's companies.
//
// A group's values reach its new members and the grants of its new roles
// (and of the groups including it), so adding either checks every value
// the group has; other edits check only the values they add. Which grants a
// value can widen: see membersGroups.

// scopeAttributes maps an attribute a group can set to the scopes that read
// it, from the compiler's scope table.
var scopeAttributes = func() map[string][]v1alpha1.Scope {
	out := map[string][]v1alpha1.Scope{}
	for _, sp := range snapshot.Scopes() {
		for _, a := range sp.Attributes {
			out[a] = append(out[a], sp.Name)
		}
	}
	return out
}()

// scopedGrant is a grant some member holds whose reach depends on an
// attribute.
type scopedGrant struct {
	resource v1alpha1.ModuleName
	action   v1alpha1.ActionName
	scope    v1alpha1.Scope
	when     v1alpha1.CELExpression
}

// attributeDenials checks what a UserGroup change adds to attribute reach.
// A subject's scoped grants meet the attribute values of all their groups,
// so a change creates new pairs of value and grant in three ways:
//
//   - a value the group newly sets, with every grant its members hold;
//   - a new member: the group's values with every grant the member holds,
//     and the member's values (from all their groups) with the group's
//     roles;
//   - a new role: its grants with the values of every member.
//
// (A created group is an update of an empty one.)
func attributeDenials(g, old *v1alpha1.UserGroup, t snapshot.Objects, h holder, deny func(field, format string, args ...any) string) []string {
	if h.full() {
		return nil
	}
	if old == nil {
		old = &v1alpha1.UserGroup{}
	}
	type pairs struct {
		field  string                     // blamed; "" for spec.attributes.<attribute>
		values func() map[string][]string // attribute -> values
		grants func() []scopedGrant
	}
	var checks []pairs
	all := func(attr string) bool { _, ok := scopeAttributes[attr]; return ok }
	checks = append(checks, pairs{
		values: func() map[string][]string {
			out := map[string][]string{}
			for attr := range scopeAttributes {
				out[attr] = newValues(g, old, attr)
			}
			return out
		},
		grants: func() []scopedGrant { return affectedGrants(g, t) },
	})
	if joined := joiners(g, old); joined != nil {
		checks = append(checks,
			pairs{
				field: "spec.members",
				values: func() map[string][]string {
					groups, up := enclosing(g, t)
					return groupValues(groups, up, all)
				},
				grants: func() []scopedGrant { return affectedGrants(joined, t) },
			},
			pairs{
				field: "spec.members",
				values: func() map[string][]string {
					groups, of := membersGroups(joined, t)
					return groupValues(groups, of, all)
				},
				grants: func() []scopedGrant {
					// The roles of this group and of every group including it.
					groups, up := enclosing(g, t)
					var roles []v1alpha1.ObjectName
					for _, name := range sortedKeys(up) {
						roles = append(roles, groups[name].Spec.Roles...)
					}
					return roleGrants(roles, joined, t)
				},
			})
	}
	if added := addedRoles(g, old); len(added) > 0 {
		checks = append(checks, pairs{
			field:  "spec.roles",
			values: func() map[string][]string { groups, of := membersGroups(g, t); return groupValues(groups, of, all) },
			grants: func() []scopedGrant { return roleGrants(added, g, t) },
		})
	}
	var out []string
	type pair struct {
		sg        scopedGrant
		attr, val string
	}
	reported := map[pair]bool{} // one message per pair, blaming the first cause
	for _, c := range checks {
		values := c.values()
		var widened []scopedGrant
		computed := false
		for _, attr := range sortedKeys(values) {
			if len(values[attr]) == 0 {
				continue
			}
			if !computed {
				widened, computed = c.grants(), true
			}
			for _, v := range values[attr] {
				for _, sg := range widened {
					if slices.Contains(scopeAttributes[attr], sg.scope) && !reported[pair{sg, attr, v}] && !h.reaches(sg, attr, v) {
						reported[pair{sg, attr, v}] = true
						field := c.field
						if field == "" {
							field = "spec.attributes." + attr
						}
						out = append(out, deny(field, "%s on %s with scope %s%s at %s %q to the group's members",
							sg.action, sg.resource, sg.scope, whenSuffix(sg.when), attr, v))
					}
				}
			}
		}
	}
	return out
}

// groupValues returns the values of the named groups for the attributes
// keep selects, each once.
func groupValues(groups map[string]*v1alpha1.UserGroup, names map[string]bool, keep func(string) bool) map[string][]string {
	out := map[string][]string{}
	for _, name := range sortedKeys(names) {
		g, ok := groups[name]
		if !ok {
			continue
		}
		for attr, v := range g.Spec.Attributes {
			if !keep(attr) {
				continue
			}
			for _, x := range v.Values {
				if x != "" && !slices.Contains(out[attr], x) {
					out[attr] = append(out[attr], x)
				}
			}
		}
	}
	return out
}

// enclosing returns the tenant's groups (with g in its given form) and the
// names of g and of every group that includes it through memberGroups,
// transitively: a member of g is a member of all of them.
func enclosing(g *v1alpha1.UserGroup, t snapshot.Objects) (map[string]*v1alpha1.UserGroup, map[string]bool) {
	groups := groupsWith(t, g)
	up := map[string]bool{g.Name: true}
	closeUpwards(groups, up)
	return groups, up
}

// groupsWith indexes t's groups by name, with g (if not nil) in its given
// form.
func groupsWith(t snapshot.Objects, g *v1alpha1.UserGroup) map[string]*v1alpha1.UserGroup {
	groups := make(map[string]*v1alpha1.UserGroup, len(t.Groups)+1)
	for i := range t.Groups {
		groups[t.Groups[i].Name] = &t.Groups[i]
	}
	if g != nil {
		groups[g.Name] = g
	}
	return groups
}

// closeUpwards adds to set every group that includes one of set's groups
// through memberGroups, transitively: their members are its members (the
// compiler's ancestors, snapshot.GroupsIncluding).
func closeUpwards(groups map[string]*v1alpha1.UserGroup, set map[string]bool) {
	for _, n := range snapshot.GroupsIncluding(groups, sortedKeys(set)) {
		if _, ok := groups[n]; ok || set[n] {
			set[n] = true
		}
	}
}

// roleGrants returns the grants of roles, bounded as the restrictions of
// the groups of members' members bound them.
func roleGrants(roles []v1alpha1.ObjectName, members *v1alpha1.UserGroup, t snapshot.Objects) []scopedGrant {
	groups, of := membersGroups(members, t)
	_, restrictions := grantsOf(groups, of, t)
	byName := rolesByName(t)
	var grants []heldGrant
	for _, r := range roles {
		grants = append(grants, effectivePermissions(byName, string(r))...)
	}
	return scoped(grants, restrictions)
}

// readsSubject reports whether a CEL condition reads the subject at all.
func readsSubject(when v1alpha1.CELExpression) bool {
	return strings.Contains(string(when), "subject")
}

// conditionDenials checks grants whose condition reads the subject. Such a
// condition may turn true (or, negated, stop being false) whenever what it
// reads changes for a holder: their groups, roles or properties. So a
// change to a group's members, roles or attributes, or its deletion (next
// nil), needs every such grant its members hold (before or after) without
// the condition.
func conditionDenials(next, old *v1alpha1.UserGroup, t snapshot.Objects, h holder, deny func(field, format string, args ...any) string) []string {
	if h.full() || (next != nil && old != nil && !subjectVisible(next, old)) {
		return nil
	}
	var affected []scopedGrant
	for _, g := range []*v1alpha1.UserGroup{old, next} {
		if g != nil {
			affected = append(affected, affectedGrants(g, t)...)
		}
	}
	return subjectConditionDenials(affected, h, deny, "spec", "the group's members")
}

// subjectConditionDenials denies each grant of affected whose condition
// reads the subject and that the user does not hold without a condition.
func subjectConditionDenials(affected []scopedGrant, h holder, deny func(field, format string, args ...any) string, field, whom string) []string {
	var out []string
	seen := map[scopedGrant]bool{}
	for _, sg := range affected {
		if seen[sg] || !readsSubject(sg.when) {
			continue
		}
		seen[sg] = true
		if !h.covers(sg.resource, sg.action, sg.scope, "") {
			out = append(out, deny(field, "%s on %s with scope %s%s to %s (the condition reads the subject, so a change to what it reads needs the permission without it)",
				sg.action, sg.resource, sg.scope, whenSuffix(sg.when), whom))
		}
	}
	return out
}

// subjectVisible reports whether an update changes anything a condition
// can read about the group's members: who they are, their roles, their
// attributes.
func subjectVisible(g, old *v1alpha1.UserGroup) bool {
	if !slices.Equal(g.Spec.Members, old.Spec.Members) || !slices.Equal(g.Spec.MemberGroups, old.Spec.MemberGroups) ||
		!slices.Equal(g.Spec.ExternalGroups, old.Spec.ExternalGroups) || !slices.Equal(g.Spec.Roles, old.Spec.Roles) ||
		len(g.Spec.Attributes) != len(old.Spec.Attributes) {
		return true
	}
	for k, v := range g.Spec.Attributes {
		o, ok := old.Spec.Attributes[k]
		if !ok || !slices.Equal(v.Values, o.Values) {
			return true
		}
	}
	return false
}

// joiners returns g reduced to the members the update adds (by ID, through
// memberGroups or externalGroups), nil when it adds none.
func joiners(g, old *v1alpha1.UserGroup) *v1alpha1.UserGroup {
	j := g.DeepCopy()
	j.Spec.Members = slices.DeleteFunc(j.Spec.Members, func(m v1alpha1.SubjectID) bool { return slices.Contains(old.Spec.Members, m) })
	j.Spec.MemberGroups = slices.DeleteFunc(j.Spec.MemberGroups, func(m v1alpha1.ObjectName) bool { return slices.Contains(old.Spec.MemberGroups, m) })
	j.Spec.ExternalGroups = slices.DeleteFunc(j.Spec.ExternalGroups, func(e string) bool { return slices.Contains(old.Spec.ExternalGroups, e) })
	if len(j.Spec.Members)+len(j.Spec.MemberGroups)+len(j.Spec.ExternalGroups) == 0 {
		return nil
	}
	return j
}

// addedRoles returns the roles g gives that old did not.
func addedRoles(g, old *v1alpha1.UserGroup) []v1alpha1.ObjectName {
	var out []v1alpha1.ObjectName
	for _, r := range g.Spec.Roles {
		if !slices.Contains(old.Spec.Roles, r) {
			out = append(out, r)
		}
	}
	return out
}

// newValues returns the values g sets for attr that old did not.
func newValues(g, old *v1alpha1.UserGroup, attr string) []string {
	var before []string
	if old != nil {
		before = old.Spec.Attributes[attr].Values
	}
	var out []string
	for _, v := range g.Spec.Attributes[attr].Values {
		if v != "" && !slices.Contains(before, v) && !slices.Contains(out, v) {
			out = append(out, v)
		}
	}
	return out
}

// affectedGrants returns the grants the members of g hold through any of
// their groups, g included, restrictions included.
func affectedGrants(g *v1alpha1.UserGroup, t snapshot.Objects) []scopedGrant {
	groups, of := membersGroups(g, t)
	grants, restrictions := grantsOf(groups, of, t)
	return scoped(grants, restrictions)
}

// scoped lists grants per module and action, and each once more bounded by
// every restriction on its module (a restriction with a scope bounds every
// grant on its resources by that scope).
func scoped(grants []heldGrant, restrictions []v1alpha1.Restriction) []scopedGrant {
	var out []scopedGrant
	add := func(sg scopedGrant) {
		if !slices.Contains(out, sg) {
			out = append(out, sg)
		}
	}
	for _, hg := range grants {
		for _, r := range hg.resources {
			for _, a := range hg.actions {
				add(scopedGrant{resource: r, action: a, scope: scopeOrAll(hg.scope), when: hg.when})
				for _, rs := range restrictions {
					if slices.Contains(rs.Resources, "*") || slices.Contains(rs.Resources, r) {
						add(scopedGrant{resource: r, action: a, scope: scopeOrAll(rs.Scope), when: hg.when})
					}
				}
			}
		}
	}
	return out
}

// membersGroups returns the tenant's groups (with g in its given form) and
// the names of the groups g's members are in: g itself, and the groups of
// its known members (listed by ID, in g or in the groups g includes through
// memberGroups) and every group selected by IdP groups (any member's
// requests may carry them), closed upwards over memberGroups. When g's own
// membership comes from IdP groups, whose members' other groups are
// unknown, every group counts.
func membersGroups(g *v1alpha1.UserGroup, t snapshot.Objects) (map[string]*v1alpha1.UserGroup, map[string]bool) {
	groups := groupsWith(t, g)

	// The groups whose members are g's members: g and, transitively, the
	// groups it lists in memberGroups.
	inner := map[string]bool{}
	for _, n := range snapshot.GroupsIncluded(groups, g.Name) {
		inner[n] = true
	}
	open := false
	var members []v1alpha1.SubjectID
	for name := range inner {
		if cur, ok := groups[name]; ok {
			members = append(members, cur.Spec.Members...)
			open = open || len(cur.Spec.ExternalGroups) > 0
		}
	}

	// Any subject may also carry IdP groups in its requests, so the groups
	// selected by externalGroups count for every member.
	of := map[string]bool{}
	for name, cur := range groups {
		if open || inner[name] || len(cur.Spec.ExternalGroups) > 0 ||
			slices.ContainsFunc(cur.Spec.Members, func(m v1alpha1.SubjectID) bool { return slices.Contains(members, m) }) {
			of[name] = true
		}
	}
	closeUpwards(groups, of)
	return groups, of
}

// grantsOf returns the grants and restrictions of the named groups.
func grantsOf(groups map[string]*v1alpha1.UserGroup, names map[string]bool, t snapshot.Objects) ([]heldGrant, []v1alpha1.Restriction) {
	roles := rolesByName(t)
	var grants []heldGrant
	var restrictions []v1alpha1.Restriction
	for _, name := range sortedKeys(names) {
		cur := groups[name]
		restrictions = append(restrictions, cur.Spec.Restrictions...)
		for _, r := range cur.Spec.Roles {
			grants = append(grants, effectivePermissions(roles, string(r))...)
		}
	}
	return grants, restrictions
}

// reaches reports whether the user reaches attribute value v of attr for
// grant sg: they hold its action on its resource where v is within their
// own reach, and no restriction of theirs keeps them from it.
func (h holder) reaches(sg scopedGrant, attr, v string) bool {
	for _, r := range h.restrictions {
		if (slices.Contains(r.Resources, "*") || slices.Contains(r.Resources, sg.resource)) && !h.attributeWithin(scopeOrAll(r.Scope), sg.scope, attr, v) {
			return false
		}
	}
	for _, g := range h.grants {
		if (!slices.Contains(g.resources, "*") && !slices.Contains(g.resources, sg.resource)) ||
			(!slices.Contains(g.actions, "*") && !slices.Contains(g.actions, sg.action)) {
			continue
		}
		if (g.when == "" || g.when == sg.when) && h.attributeWithin(scopeOrAll(g.scope), sg.scope, attr, v) {
			return true
		}
	}
	return false
}

// coversAt reports whether the user holds grant sg wherever the members it
// applies to reach with it: at each of their values of the attribute its
// scope reads, or, for scopes no group attribute bounds (all, own, ...),
// by kind.
func (h holder) coversAt(sg scopedGrant, values map[string][]string) bool {
	bounded := false
	for attr, scopes := range scopeAttributes {
		if !slices.Contains(scopes, sg.scope) {
			continue
		}
		for _, v := range values[attr] {
			bounded = true
			if !h.reaches(sg, attr, v) {
				return false
			}
		}
	}
	return bounded || h.covers(sg.resource, sg.action, sg.scope, sg.when)
}

// attributeWithin reports whether a grant of the user with scope held
// covers the records a member's grant with scope wanted reaches through
// attribute value v.
func (h holder) attributeWithin(held, wanted v1alpha1.Scope, attr, v string) bool {
	if held == v1alpha1.ScopeAll {
		return true
	}
	switch attr {
	case snapshot.AttrUnit:
		for _, u := range h.attrs[snapshot.AttrUnit] {
			switch {
			case held == v1alpha1.ScopeUnitTree && snapshot.UnitCovers(u, v, true):
				return true
			case held == v1alpha1.ScopeUnit && wanted == v1alpha1.ScopeUnit && u == v:
				return true
			}
		}
	case snapshot.AttrFacilities:
		return held == v1alpha1.ScopeFacility && slices.Contains(h.attrs[snapshot.AttrFacilities], v)
	case snapshot.AttrCompany, snapshot.AttrCompanies:
		return held == v1alpha1.ScopeCompany &&
			(slices.Contains(h.attrs[snapshot.AttrCompany], v) || slices.Contains(h.attrs[snapshot.AttrCompanies], v))
	}
	return false
}

func scopeOrAll(s v1alpha1.Scope) v1alpha1.Scope {
	if s == "" {
		return v1alpha1.ScopeAll
	}
	return s
}
