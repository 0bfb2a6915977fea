package snapshot

import (
	"cmp"
	"fmt"
	"slices"
	"sort"
	"strings"

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
		for _, r := range g.written {
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
	same := samePermissions(old, new)
	for pr, subjects := range bySubjects {
		if diffSkips && same(pr.o, pr.n) {
			continue // most subjects of a large tenant: nothing to compare
		}
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
		sameFields := sameFieldLevels(old, new, res)
		for pr, subjects := range bySubjects {
			if diffSkips && sameFields(pr.o, pr.n) {
				continue
			}
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

// diffSkips lets a test compare Diff with and without the shortcuts below.
var diffSkips = true

// samePermissions returns a cheap test that two profiles (of old and new,
// either nil) list the same grants: the same (group, role) pairs, each
// role's grants unchanged between the snapshots, and the same groups with
// unchanged restrictions. When it says no, Diff compares the full lists.
// It lets Diff skip the thousands of profiles a one-role change does not
// touch instead of listing every grant of each.
func samePermissions(old, new *Snapshot) func(o, n *profile) bool {
	roleSig := func(s *Snapshot) map[string]string {
		out := map[string]string{}
		if s == nil {
			return out
		}
		for _, r := range s.roles {
			if r.holds == nil {
				continue // held by no group: in no profile
			}
			var b strings.Builder
			for _, f := range r.flat {
				res, acts := f.names()
				fmt.Fprintf(&b, "%s/%d/%v/%q/%q/%q|", f.defRole, f.index, f.full, res, acts, f.scope)
				if f.cond != nil {
					b.WriteString(f.cond.src)
				}
				b.WriteByte(0)
			}
			out[r.name] = b.String()
		}
		return out
	}
	restrictSig := func(s *Snapshot) map[string]string {
		out := map[string]string{}
		if s == nil {
			return out
		}
		for _, g := range s.groups {
			out[g.name] = fmt.Sprintf("%v/%q", g.restrictOnly, g.written)
		}
		return out
	}
	oRoles, nRoles := roleSig(old), roleSig(new)
	oRestr, nRestr := restrictSig(old), restrictSig(new)
	unchangedRole := func(name string) bool { return oRoles[name] == nRoles[name] }
	unchangedGroup := func(name string) bool { return oRestr[name] == nRestr[name] }
	return func(o, n *profile) bool {
		if o == nil || n == nil {
			return o == n
		}
		if len(o.srcs) != len(n.srcs) || len(o.groups) != len(n.groups) {
			return false
		}
		for i := range o.srcs {
			og, ng := old.groups[o.srcs[i].group].name, new.groups[n.srcs[i].group].name
			or, nr := old.roles[o.srcs[i].role].name, new.roles[n.srcs[i].role].name
			if og != ng || or != nr || !unchangedRole(or) {
				return false
			}
		}
		for i := range o.groups {
			og, ng := old.groups[o.groups[i]].name, new.groups[n.groups[i]].name
			if og != ng || !unchangedGroup(og) {
				return false
			}
		}
		return true
	}
}

// sameFieldLevels returns a cheap test that two profiles get the same
// access to every field of module res: the same policy fields and the same
// levels (a subject without roles gets nothing in either).
func sameFieldLevels(old, new *Snapshot, res string) func(o, n *profile) bool {
	op, oCovered := old.policyFor(res)
	np, nCovered := new.policyFor(res)
	if oCovered != nCovered {
		return func(o, n *profile) bool { return false }
	}
	if oCovered && !slices.EqualFunc(op.fields, np.fields, func(a, b fieldRule) bool { return a.name == b.name }) {
		return func(o, n *profile) bool { return false }
	}
	var oi, ni int32
	if oCovered {
		oi, ni = old.policyByRes[res], new.policyByRes[res]
	}
	return func(o, n *profile) bool {
		oNone, nNone := o == nil || !o.hasRoles, n == nil || !n.hasRoles
		if oNone || nNone {
			return oNone && nNone
		}
		if !oCovered {
			return true // both: every field writable
		}
		of, nf := o.fields[oi], n.fields[ni]
		return of.res.Default == nf.res.Default && slices.Equal(of.levels, nf.levels)
	}
}

// policyFor returns the field policy covering module res, if any.
func (s *Snapshot) policyFor(res string) (*fieldPolicy, bool) {
	if s == nil {
		return nil, false
	}
	pi, ok := s.policyByRes[res]
	if !ok {
		return nil, false
	}
	return s.policies[pi], true
}
