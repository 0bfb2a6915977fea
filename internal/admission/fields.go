package admission

import (
	"slices"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Widening field access. A FieldPolicy only narrows (a module without one
// has every field writable), so creating one never escalates, but changing
// or deleting one can open fields: a default raised from hidden, a rule
// removed, the policy moved to another module or deleted. A user who is not
// privileged may make such a change only for fields they themselves have at
// least the access the change could newly give. Fields whose rule and
// fallback do not change are not judged.

// fieldRank orders access levels: hidden < read < write.
func fieldRank(a v1alpha1.FieldAccess) int {
	switch a {
	case v1alpha1.FieldHidden:
		return 0
	case v1alpha1.FieldRead:
		return 1
	}
	return 2 // write, and the unset default
}

// allFields stands for the fields a policy does not list.
const allFields = "*"

// fieldWidenings returns, per field ("*" for unlisted ones), the access the
// change from old to next could newly give someone. next nil is a deletion
// (every field writable again).
func fieldWidenings(old, next *v1alpha1.FieldPolicy) map[string]v1alpha1.FieldAccess {
	if old == nil {
		return nil // a new policy only narrows
	}
	if next != nil && next.Spec.Resource != old.Spec.Resource {
		next = nil // the old module loses its policy
	}
	out := map[string]v1alpha1.FieldAccess{}
	widen := func(field string, to v1alpha1.FieldAccess) {
		if cur, ok := out[field]; !ok || fieldRank(to) > fieldRank(cur) {
			out[field] = to
		}
	}
	if next == nil {
		for _, f := range old.Spec.Fields {
			if lowest(old, &f) < fieldRank(v1alpha1.FieldWrite) {
				widen(string(f.Name), v1alpha1.FieldWrite)
			}
		}
		if fieldRank(old.Spec.Default) < fieldRank(v1alpha1.FieldWrite) {
			widen(allFields, v1alpha1.FieldWrite)
		}
		return out
	}
	if fieldRank(next.Spec.Default) > fieldRank(old.Spec.Default) {
		widen(allFields, policyDefault(next))
	}
	names := map[v1alpha1.FieldName]bool{}
	for _, f := range old.Spec.Fields {
		names[f.Name] = true
	}
	for _, f := range next.Spec.Fields {
		names[f.Name] = true
	}
	for name := range names {
		before, after := rule(old, name), rule(next, name)
		if after == nil {
			// Unlisted now: the policy default applies to everyone.
			if fieldRank(next.Spec.Default) > lowest(old, before) {
				widen(string(name), policyDefault(next))
			}
			continue
		}
		if before == nil {
			// Newly listed: everyone had the old policy default.
			for _, level := range levels(next, after) {
				if fieldRank(level) > fieldRank(old.Spec.Default) {
					widen(string(name), level)
				}
			}
			continue
		}
		// Subjects no new grant names: if the new grants name everyone the
		// old ones did, those subjects had the old fallback; else they may
		// have had any old level.
		floor := fieldRank(fallback(old, before))
		if !slices.ContainsFunc(before.Grants, func(g v1alpha1.FieldGrant) bool { return !namedIn(g, after.Grants) }) {
			if fb := fallback(next, after); fieldRank(fb) > floor {
				widen(string(name), fb)
			}
		} else if fb := fallback(next, after); fieldRank(fb) > lowest(old, before) {
			widen(string(name), fb)
		}
		// Subjects a new grant names had at least what an old grant naming
		// exactly them gave, else at least the lowest old level.
		for _, g := range after.Grants {
			had := lowest(old, before)
			for _, o := range before.Grants {
				if samePrincipals(o, g) {
					had = max(had, fieldRank(o.Access))
				}
			}
			if fieldRank(g.Access) > had {
				widen(string(name), g.Access)
			}
		}
	}
	return out
}

// rule returns the policy's rule for a field, nil when not listed.
func rule(p *v1alpha1.FieldPolicy, name v1alpha1.FieldName) *v1alpha1.FieldRule {
	for i := range p.Spec.Fields {
		if p.Spec.Fields[i].Name == name {
			return &p.Spec.Fields[i]
		}
	}
	return nil
}

// fallback is the access of a listed field for subjects no grant names.
func fallback(p *v1alpha1.FieldPolicy, f *v1alpha1.FieldRule) v1alpha1.FieldAccess {
	if f.Default != "" {
		return f.Default
	}
	if p.Spec.Default != "" {
		return p.Spec.Default
	}
	return v1alpha1.FieldWrite
}

// levels are the accesses a listed field can give: its fallback and every
// grant's.
func levels(p *v1alpha1.FieldPolicy, f *v1alpha1.FieldRule) []v1alpha1.FieldAccess {
	out := []v1alpha1.FieldAccess{fallback(p, f)}
	for _, g := range f.Grants {
		out = append(out, g.Access)
	}
	return out
}

// lowest is the rank of the least access a listed field gives anyone.
func lowest(p *v1alpha1.FieldPolicy, f *v1alpha1.FieldRule) int {
	low := fieldRank(v1alpha1.FieldWrite)
	for _, l := range levels(p, f) {
		low = min(low, fieldRank(l))
	}
	return low
}

// policyDefault is the access of fields a policy does not list.
func policyDefault(p *v1alpha1.FieldPolicy) v1alpha1.FieldAccess {
	if p.Spec.Default == "" {
		return v1alpha1.FieldWrite
	}
	return p.Spec.Default
}

// samePrincipals reports whether two grants name the same roles and groups.
func samePrincipals(a, b v1alpha1.FieldGrant) bool {
	return slices.Equal(a.Roles, b.Roles) && slices.Equal(a.Groups, b.Groups)
}

// namedIn reports whether the subjects g names are named by a grant of
// grants (the same roles and groups).
func namedIn(g v1alpha1.FieldGrant, grants []v1alpha1.FieldGrant) bool {
	return slices.ContainsFunc(grants, func(o v1alpha1.FieldGrant) bool { return samePrincipals(o, g) })
}

// unchangedGrant reports whether old's rule for field already has grant g.
func unchangedGrant(old *v1alpha1.FieldPolicy, field v1alpha1.FieldName, g v1alpha1.FieldGrant) bool {
	if old == nil {
		return false
	}
	r := rule(old, field)
	return r != nil && slices.ContainsFunc(r.Grants, func(o v1alpha1.FieldGrant) bool { return o.Access == g.Access && samePrincipals(o, g) })
}

// fieldPolicyDenials checks a FieldPolicy update (next the new object) or
// deletion (next nil) by a user with field access mine to old's module.
func fieldPolicyDenials(old, next *v1alpha1.FieldPolicy, mine snapshot.FieldAccessResult, h holder, deny func(field, format string, args ...any) string) []string {
	if h.full() {
		return nil
	}
	widened := fieldWidenings(old, next)
	var out []string
	for _, field := range sortedKeys(widened) {
		need := widened[field]
		var has bool
		if field == allFields {
			has = !mine.Covered || fieldRank(mine.Default) >= fieldRank(need)
		} else {
			list := mine.Writable
			if need == v1alpha1.FieldRead {
				list = mine.Readable
			}
			has = need == v1alpha1.FieldHidden || fieldIn(mine, list, field, need)
		}
		if !has {
			what := "field " + quote(field)
			if field == allFields {
				what = "the fields the policy does not list"
			}
			out = append(out, deny("spec", "%s access to %s of %s (the change opens it)", need, what, old.Spec.Resource))
		}
	}
	return out
}

func quote(s string) string { return `"` + s + `"` }
