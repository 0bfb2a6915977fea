package views

import (
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Person is one subject as the tenant's groups describe it: the groups
// that list it (or, given request-time IdP groups, map it), the groups
// whose members include those (memberGroups), the IdP groups mapped to
// them, the roles they give and the attributes they set.
type Person struct {
	// ID is the subject ID.
	ID string
	// Groups list the subject in members.
	Groups []string
	// Mapped are the groups reached through request-time IdP groups
	// (externalGroups), on a person's page asked with groups.
	Mapped []string
	// Nested are the groups that include one of Groups or Mapped through
	// memberGroups, transitively (their members include the subject).
	Nested []string
	// IdPGroups are the externalGroups of every group of the subject.
	IdPGroups []string
	// Roles are the roles the subject's groups assign.
	Roles []string
	// Inherited are the roles reached only through extends.
	Inherited []string
	// Attributes are the attributes the subject's groups set, by name.
	Attributes []Attribute
	// FullAccess is set when a role held (extends included) has fullAccess.
	FullAccess bool
}

// Attribute is one attribute of a subject, with every value its groups set.
type Attribute struct {
	Name   string
	Values []string
	// From are the groups that set it.
	From []string
}

// AllGroups are every group of the person: listed, mapped and nested.
func (p Person) AllGroups() []string {
	return sortedUnique(append(append(append([]string(nil), p.Groups...), p.Mapped...), p.Nested...))
}

// Matches reports whether the person's ID, a group or a role contains q,
// ignoring case ("" matches everyone).
func (p Person) Matches(q string) bool {
	q = strings.ToLower(strings.TrimSpace(q))
	if q == "" {
		return true
	}
	for _, xs := range [][]string{{p.ID}, p.Groups, p.Mapped, p.Nested, p.IdPGroups, p.Roles, p.Inherited} {
		for _, x := range xs {
			if strings.Contains(strings.ToLower(x), q) {
				return true
			}
		}
	}
	return false
}

// directory indexes a tenant's groups and roles by name.
type directory struct {
	groups map[string]*v1alpha1.UserGroup
	roles  map[string]*v1alpha1.Role
	// memberOf: subject ID → groups listing it.
	memberOf map[string][]string
}

func newDirectory(objs snapshot.Objects) *directory {
	d := &directory{groups: map[string]*v1alpha1.UserGroup{}, roles: map[string]*v1alpha1.Role{}, memberOf: map[string][]string{}}
	for i := range objs.Groups {
		g := &objs.Groups[i]
		d.groups[g.Name] = g
		for _, m := range g.Spec.Members {
			d.memberOf[string(m)] = append(d.memberOf[string(m)], g.Name)
		}
	}
	for i := range objs.Roles {
		d.roles[objs.Roles[i].Name] = &objs.Roles[i]
	}
	for id, gs := range d.memberOf {
		d.memberOf[id] = sortedUnique(gs)
	}
	return d
}

// person describes id with the groups listing it and those mapping one of
// idp (request-time IdP groups).
func (d *directory) person(id string, idp []string) Person {
	p := Person{ID: id, Groups: append([]string(nil), d.memberOf[id]...)}
	if len(idp) > 0 {
		for _, name := range SortedKeys(d.groups) {
			if slices.Contains(p.Groups, name) {
				continue
			}
			for _, e := range d.groups[name].Spec.ExternalGroups {
				if slices.Contains(idp, e) {
					p.Mapped = append(p.Mapped, name)
					break
				}
			}
		}
	}
	start := append(append([]string(nil), p.Groups...), p.Mapped...)
	all := snapshot.GroupsIncluding(d.groups, start)
	for _, g := range all {
		if !slices.Contains(start, g) {
			p.Nested = append(p.Nested, g)
		}
	}
	p.Nested = sortedUnique(p.Nested)
	attrs := map[string]*Attribute{}
	var held []string
	for _, name := range all {
		g, ok := d.groups[name]
		if !ok {
			continue
		}
		p.IdPGroups = append(p.IdPGroups, g.Spec.ExternalGroups...)
		for _, r := range g.Spec.Roles {
			p.Roles = append(p.Roles, string(r))
		}
		for k, v := range g.Spec.Attributes {
			a := attrs[k]
			if a == nil {
				a = &Attribute{Name: k}
				attrs[k] = a
			}
			a.Values = append(a.Values, v.Values...)
			a.From = append(a.From, name)
		}
	}
	p.IdPGroups = sortedUnique(p.IdPGroups)
	p.Roles = sortedUnique(p.Roles)
	for _, r := range p.Roles {
		snapshot.ExtendsClosure(r, func(n string) *v1alpha1.Role { return d.roles[n] }, func(role *v1alpha1.Role) {
			held = append(held, role.Name)
			p.FullAccess = p.FullAccess || role.Spec.FullAccess
		})
	}
	for _, r := range sortedUnique(held) {
		if !slices.Contains(p.Roles, r) {
			p.Inherited = append(p.Inherited, r)
		}
	}
	for _, k := range SortedKeys(attrs) {
		a := attrs[k]
		a.Values, a.From = sortedUnique(a.Values), sortedUnique(a.From)
		p.Attributes = append(p.Attributes, *a)
	}
	return p
}

// People lists every known subject (listed in a group's members), sorted
// by ID.
func People(objs snapshot.Objects) []Person {
	d := newDirectory(objs)
	out := make([]Person, 0, len(d.memberOf))
	for _, id := range SortedKeys(d.memberOf) {
		out = append(out, d.person(id, nil))
	}
	return out
}

// FindPerson describes one subject, with idp its request-time IdP groups
// (matched against externalGroups). ok is false when no group lists or
// maps the subject.
func FindPerson(objs snapshot.Objects, id string, idp []string) (p Person, ok bool) {
	d := newDirectory(objs)
	p = d.person(id, idp)
	return p, len(p.Groups)+len(p.Mapped) > 0
}

// MappedGroup is a group reached through IdP groups (externalGroups), which
// may have no listed member.
type MappedGroup struct {
	Group          string
	ExternalGroups []string
	Roles          []string
	Members        int
}

// MappedGroups lists the groups with externalGroups, sorted by name.
func MappedGroups(objs snapshot.Objects) []MappedGroup {
	var out []MappedGroup
	for _, g := range objs.Groups {
		if len(g.Spec.ExternalGroups) == 0 {
			continue
		}
		m := MappedGroup{Group: g.Name, ExternalGroups: append([]string(nil), g.Spec.ExternalGroups...), Members: len(g.Spec.Members)}
		for _, r := range g.Spec.Roles {
			m.Roles = append(m.Roles, string(r))
		}
		out = append(out, m)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Group < out[j].Group })
	return out
}

// ModulesAndActions are the modules and actions a tenant's objects name (wildcards
// left out), each sorted.
func ModulesAndActions(objs snapshot.Objects) (modules, actions []string) {
	for _, r := range objs.Roles {
		for _, p := range r.Spec.Permissions {
			for _, m := range p.Resources {
				modules = append(modules, string(m))
			}
			for _, a := range p.Actions {
				actions = append(actions, string(a))
			}
		}
	}
	for _, g := range objs.Groups {
		for _, r := range g.Spec.Restrictions {
			for _, m := range r.Resources {
				modules = append(modules, string(m))
			}
		}
	}
	for _, f := range objs.FieldPolicies {
		modules = append(modules, string(f.Spec.Resource))
	}
	for _, c := range objs.ApprovalChains {
		modules = append(modules, string(c.Spec.Resource))
		actions = append(actions, string(c.Spec.EffectiveAction()))
	}
	drop := func(xs []string) []string {
		return slices.DeleteFunc(sortedUnique(xs), func(x string) bool { return x == "*" || x == "" })
	}
	return drop(modules), drop(actions)
}

// ActionAccess is what a subject may do with one action on one module:
// the kind of the evaluator's plan (always, never, conditional) and, when
// conditional, which records (the filter's text).
type ActionAccess struct {
	Action string
	Kind   snapshot.PlanKind
	Filter string
}

// ModuleAccess is a subject's access to one module: the actions it may
// perform on some records, and its field access.
type ModuleAccess struct {
	Module  string
	Actions []ActionAccess
	Fields  snapshot.FieldAccessResult
	// FieldLevel summarizes Fields (FieldsAll, FieldsPartial, FieldsNone).
	FieldLevel string
}

// Access computes, with the evaluator, what sub may do on each module the
// tenant names: for every action, snapshot.Plan (actions planned never
// are left out), and the field access (snapshot.Fields). Modules where it
// may do nothing are left out.
func Access(s *snapshot.Snapshot, objs snapshot.Objects, sub snapshot.Subject) []ModuleAccess {
	modules, actions := ModulesAndActions(objs)
	out := []ModuleAccess{}
	for _, m := range modules {
		ma := ModuleAccess{Module: m}
		for _, a := range actions {
			plan := s.Plan(sub, a, m)
			if plan.Kind == snapshot.PlanNever {
				continue
			}
			aa := ActionAccess{Action: a, Kind: plan.Kind}
			if plan.Kind == snapshot.PlanConditional {
				aa.Filter = FilterText(plan.Filter)
			}
			ma.Actions = append(ma.Actions, aa)
		}
		if len(ma.Actions) == 0 {
			continue
		}
		ma.Fields = s.Fields(&snapshot.Request{Subject: sub, Resource: snapshot.Resource{Type: m}})
		ma.FieldLevel = FieldLevel(ma.Fields)
		out = append(out, ma)
	}
	return out
}

func sortedUnique(xs []string) []string {
	if len(xs) == 0 {
		return nil
	}
	out := append([]string(nil), xs...)
	sort.Strings(out)
	return slices.Compact(out)
}
