package snapshot

import (
	"cmp"
	"slices"
	"sort"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// Change directions.
const (
	Gained = "gained"
	Lost   = "lost"
)

// Changes is what changed for subjects between two snapshots: the raw
// material of audit events. Every list is sorted.
type Changes struct {
	// FromRevision and ToRevision identify the snapshots ("" for nil).
	FromRevision string `json:"fromRevision,omitempty"`
	ToRevision   string `json:"toRevision,omitempty"`
	// Permissions gained or lost, by grant.
	Permissions []PermissionChange `json:"permissions"`
	// Fields whose access changed, by field and levels.
	Fields []FieldChange `json:"fields"`
	// Approvals: who became or stopped being a named approver of a step.
	Approvals []ApprovalChange `json:"approvals"`
}

// Empty reports whether nothing changed for any subject.
func (c Changes) Empty() bool {
	return len(c.Permissions) == 0 && len(c.Fields) == 0 && len(c.Approvals) == 0
}

// PermissionChange is a grant (or a restriction) some subjects gained or lost.
// Resource and Action are as written in the Role ("*" stays "*").
type PermissionChange struct {
	// Change is gained or lost.
	Change string `json:"change"`
	// Kind is permission, fullAccess or restriction.
	Kind string `json:"kind"`
	// Resource, Action, Scope and When describe the grant (or, for a
	// restriction, the module and scope).
	Resource string `json:"resource"`
	Action   string `json:"action,omitempty"`
	Scope    string `json:"scope,omitempty"`
	When     string `json:"when,omitempty"`
	// Subjects are the known members affected.
	Subjects []string `json:"subjects"`
	// Groups are the groups through which the subjects hold (gained) or
	// held (lost) it.
	Groups []string `json:"groups"`
}

// FieldChange is a change of a subject's access to one field.
type FieldChange struct {
	// Resource is the module of the field policy.
	Resource string `json:"resource"`
	// Field is the field name, or "*" for fields the policy does not list.
	Field string `json:"field"`
	// From and To are the access levels before and after.
	From v1alpha1.FieldAccess `json:"from"`
	To   v1alpha1.FieldAccess `json:"to"`
	// Subjects are the known members affected.
	Subjects []string `json:"subjects"`
}

// ApprovalChange is a change of who is named as approver of a step. (Who
// may actually approve a record also depends on the record.)
type ApprovalChange struct {
	// Change is gained or lost.
	Change string `json:"change"`
	// Resource is the chain's module and Step the step's name.
	Resource string `json:"resource"`
	Step     string `json:"step"`
	// Subjects are the known members (or listed users) affected.
	Subjects []string `json:"subjects"`
}

type permKey struct{ kind, res, act, scope, when string }

const unlistedField = "*"

// profileKeys lists the grants of a profile (as written) with the groups
// giving each.
func (s *Snapshot) profileKeys(p *profile) map[permKey][]string {
	out := map[permKey][]string{}
	if p == nil {
		return out
	}
	add := func(k permKey, g string) {
		if !slices.Contains(out[k], g) {
			out[k] = append(out[k], g)
		}
	}
	for _, src := range p.srcs {
		gname := s.groups[src.group].name
		for _, f := range s.roles[src.role].flat {
			if f.full {
				add(permKey{kind: "fullAccess", res: "*", act: "*"}, gname)
				continue
			}
			when := ""
			if f.cond != nil {
				when = f.cond.src
			}
			resNames, actNames := f.names()
			for _, r := range resNames {
				for _, a := range actNames {
					add(permKey{"permission", r, a, f.scope, when}, gname)
				}
			}
		}
	}
	for _, gi := range p.groups {
		g := s.groups[gi]
		for _, r := range g.spec.Spec.Restrictions {
			for _, m := range r.Resources {
				add(permKey{kind: "restriction", res: string(m), scope: string(r.Scope)}, g.name)
			}
		}
	}
	return out
}

func (s *Snapshot) subjectProfile(id string) *profile {
	if s == nil {
		return nil
	}
	if pi, ok := s.lookup(id); ok {
		return &s.profiles[pi]
	}
	return nil
}

// fieldLevel is what Fields serves the subject of profile p (nil: not a
// member) for field of module res: nothing to a subject Check denies
// everything (unknown, or without roles).
func (s *Snapshot) fieldLevel(p *profile, res, field string) v1alpha1.FieldAccess {
	if s == nil || p == nil || !p.hasRoles {
		return v1alpha1.FieldHidden
	}
	pi, ok := s.policyByRes[res]
	if !ok {
		return v1alpha1.FieldWrite
	}
	pol := s.policies[pi]
	fr := p.fields[pi]
	i, found := slices.BinarySearchFunc(pol.fields, field, func(r fieldRule, f string) int { return cmp.Compare(r.name, f) })
	if !found {
		return fr.res.Default
	}
	return levelNames[fr.levels[i]]
}

// Diff reports who gained or lost which permission, field access or
// approver role between two snapshots of a tenant. Either may be nil (an
// empty tenant). Subjects are known members of either snapshot.
func Diff(old, new *Snapshot) Changes {
	ch := Changes{FromRevision: old.Revision(), ToRevision: new.Revision(),
		Permissions: []PermissionChange{}, Fields: []FieldChange{}, Approvals: []ApprovalChange{}}
	type pair struct{ o, n *profile }
	bySubjects := map[pair][]string{}
	ids := map[string]bool{}
	for _, s := range []*Snapshot{old, new} {
		if s != nil {
			for pi := range s.profiles {
				for _, id := range s.profiles[pi].members {
					ids[id] = true
				}
			}
		}
	}
	for id := range ids {
		k := pair{old.subjectProfile(id), new.subjectProfile(id)}
		bySubjects[k] = append(bySubjects[k], id)
	}

	// Permissions.
	keyCache := map[*profile]map[permKey][]string{}
	keys := func(s *Snapshot, p *profile) map[permKey][]string {
		if p == nil {
			return nil
		}
		if k, ok := keyCache[p]; ok {
			return k
		}
		k := s.profileKeys(p)
		keyCache[p] = k
		return k
	}
	type ckey struct {
		change string
		k      permKey
	}
	perms := map[ckey]*PermissionChange{}
	note := func(change string, k permKey, subjects, groups []string) {
		c, ok := perms[ckey{change, k}]
		if !ok {
			c = &PermissionChange{Change: change, Kind: k.kind, Resource: k.res, Action: k.act, Scope: k.scope, When: k.when}
			perms[ckey{change, k}] = c
		}
		c.Subjects = append(c.Subjects, subjects...)
		c.Groups = append(c.Groups, groups...)
	}
	for pr, subjects := range bySubjects {
		ok, nk := keys(old, pr.o), keys(new, pr.n)
		for k, gs := range nk {
			if _, had := ok[k]; !had {
				note(Gained, k, subjects, gs)
			}
		}
		for k, gs := range ok {
			if _, has := nk[k]; !has {
				note(Lost, k, subjects, gs)
			}
		}
	}
	for _, c := range perms {
		sort.Strings(c.Subjects)
		sort.Strings(c.Groups)
		c.Groups = slices.Compact(c.Groups)
		ch.Permissions = append(ch.Permissions, *c)
	}
	slices.SortFunc(ch.Permissions, func(a, b PermissionChange) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Action, b.Action), cmp.Compare(a.Kind, b.Kind),
			cmp.Compare(a.Scope, b.Scope), cmp.Compare(a.When, b.When), cmp.Compare(a.Change, b.Change))
	})

	// Fields.
	fieldsOf := map[string][]string{}
	for _, s := range []*Snapshot{old, new} {
		if s == nil {
			continue
		}
		for _, pol := range s.policies {
			fieldsOf[pol.resource] = append(fieldsOf[pol.resource], unlistedField)
			for _, f := range pol.fields {
				fieldsOf[pol.resource] = append(fieldsOf[pol.resource], f.name)
			}
		}
	}
	type fkey struct {
		res, field string
		from, to   v1alpha1.FieldAccess
	}
	fields := map[fkey]*FieldChange{}
	for res, names := range fieldsOf {
		sort.Strings(names)
		names = slices.Compact(names)
		for pr, subjects := range bySubjects {
			for _, f := range names {
				from, to := old.fieldLevel(pr.o, res, f), new.fieldLevel(pr.n, res, f)
				if from == to {
					continue
				}
				k := fkey{res, f, from, to}
				c, ok := fields[k]
				if !ok {
					c = &FieldChange{Resource: res, Field: f, From: from, To: to}
					fields[k] = c
				}
				c.Subjects = append(c.Subjects, subjects...)
			}
		}
	}
	for _, c := range fields {
		sort.Strings(c.Subjects)
		ch.Fields = append(ch.Fields, *c)
	}
	slices.SortFunc(ch.Fields, func(a, b FieldChange) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Field, b.Field), cmp.Compare(a.From, b.From), cmp.Compare(a.To, b.To))
	})

	// Approvers.
	type skey struct{ res, step string }
	named := func(s *Snapshot) map[skey][]string {
		out := map[skey][]string{}
		if s == nil {
			return out
		}
		for _, k := range s.chains {
			for i := range k.steps {
				out[skey{k.resource, k.steps[i].name}] = s.candidates(&k.steps[i])
			}
		}
		return out
	}
	on, nn := named(old), named(new)
	all := map[skey]bool{}
	for k := range on {
		all[k] = true
	}
	for k := range nn {
		all[k] = true
	}
	for k := range all {
		o, n := on[k], nn[k]
		if g := minus(n, o); len(g) > 0 {
			ch.Approvals = append(ch.Approvals, ApprovalChange{Change: Gained, Resource: k.res, Step: k.step, Subjects: g})
		}
		if l := minus(o, n); len(l) > 0 {
			ch.Approvals = append(ch.Approvals, ApprovalChange{Change: Lost, Resource: k.res, Step: k.step, Subjects: l})
		}
	}
	slices.SortFunc(ch.Approvals, func(a, b ApprovalChange) int {
		return cmp.Or(cmp.Compare(a.Resource, b.Resource), cmp.Compare(a.Step, b.Step), cmp.Compare(a.Change, b.Change))
	})
	return ch
}

// minus returns the sorted a without the sorted b.
func minus(a, b []string) []string {
	var out []string
	for _, x := range a {
		if _, ok := slices.BinarySearch(b, x); !ok {
			out = append(out, x)
		}
	}
	return out
}
