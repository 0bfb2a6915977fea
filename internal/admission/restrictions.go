package admission

import (
	"slices"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Lifting restrictions. A group's restrictions narrow every grant its
// members hold, from any group (a supplier user limited to their company's
// purchase orders). Removing a restriction, removing members from a
// restricted group, or deleting it widens what those members' other groups
// grant them, so a user who is not privileged may do it only when they hold
// every grant it widens on the restricted modules, at the members' attribute
// values. The group's own roles count as they will be after an update and
// not at all after a deletion.

// restrictionDenials checks a UserGroup update (g the new object) or
// deletion (g nil) against its old form.
func restrictionDenials(g, old *v1alpha1.UserGroup, t snapshot.Objects, h holder, deny func(field, format string, args ...any) string) []string {
	if old == nil || h.full() {
		return nil
	}
	lifted, field := liftedRestrictions(g, old)
	if g == nil || dropsMembers(g, old) {
		// Leaving members also leave every group that includes this one.
		groups, up := enclosing(old, t)
		for _, name := range sortedKeys(up) {
			if name != old.Name {
				lifted = append(lifted, groups[name].Spec.Restrictions...)
			}
		}
	}
	if len(lifted) == 0 {
		return nil
	}
	groups, of := membersGroups(old, t)
	values := groupValues(groups, of, func(attr string) bool { _, ok := scopeAttributes[attr]; return ok })
	if g == nil {
		delete(of, old.Name) // its roles go with it
	} else {
		groups[old.Name] = g // its roles as they will be
	}
	grants, _ := grantsOf(groups, of, t)
	var out []string
	for _, rs := range lifted {
		for _, hg := range grants {
			for _, res := range widenedResources(hg.resources, rs.Resources) {
				for _, a := range hg.actions {
					sg := scopedGrant{resource: res, action: a, scope: scopeOrAll(hg.scope), when: hg.when}
					if !h.coversAt(sg, values) {
						out = append(out, deny(field, "%s on %s with scope %s%s (lifting the restriction of %v to scope %s for the group's members)",
							a, res, scopeName(hg.scope), whenSuffix(hg.when), rs.Resources, scopeName(rs.Scope)))
					}
				}
			}
		}
	}
	return dedupe(out)
}

// liftedRestrictions returns the restrictions of old that some of its
// members lose, and the field to blame: all of them on deletion or when
// members leave (their members are no longer restricted at all), else the
// ones the update removes.
func liftedRestrictions(g, old *v1alpha1.UserGroup) ([]v1alpha1.Restriction, string) {
	if g == nil {
		return old.Spec.Restrictions, "spec.restrictions"
	}
	if dropsMembers(g, old) {
		return old.Spec.Restrictions, "spec.members"
	}
	var lifted []v1alpha1.Restriction
	for _, r := range old.Spec.Restrictions {
		if !slices.ContainsFunc(g.Spec.Restrictions, func(n v1alpha1.Restriction) bool {
			return slices.Equal(n.Resources, r.Resources) && scopeOrAll(n.Scope) == scopeOrAll(r.Scope)
		}) {
			lifted = append(lifted, r)
		}
	}
	return lifted, "spec.restrictions"
}

// dropsMembers reports whether the update removes anyone from the group:
// a member, a member group or an external group.
func dropsMembers(g, old *v1alpha1.UserGroup) bool {
	return slices.ContainsFunc(old.Spec.Members, func(m v1alpha1.SubjectID) bool { return !slices.Contains(g.Spec.Members, m) }) ||
		slices.ContainsFunc(old.Spec.MemberGroups, func(m v1alpha1.ObjectName) bool { return !slices.Contains(g.Spec.MemberGroups, m) }) ||
		slices.ContainsFunc(old.Spec.ExternalGroups, func(e string) bool { return !slices.Contains(g.Spec.ExternalGroups, e) })
}

// widenedResources returns the modules of a grant on granted that a lifted
// restriction on restricted stops narrowing.
func widenedResources(granted, restricted []v1alpha1.ModuleName) []v1alpha1.ModuleName {
	switch {
	case slices.Contains(restricted, "*"):
		return granted
	case slices.Contains(granted, "*"):
		return restricted
	}
	var out []v1alpha1.ModuleName
	for _, r := range granted {
		if slices.Contains(restricted, r) {
			out = append(out, r)
		}
	}
	return out
}
