// Package tenantgen generates a deterministic field-service tenant from a
// seed: roles, groups, users, field policies and approval chains, plus a
// mix of authorization requests. It feeds the snapshot benchmarks and is
// meant to generate the very same policy for other engines (OPA, Casbin,
// Cerbos) in comparison benchmarks, so the model is exposed as plain data
// as well as v1alpha1 objects.
//
// Allowed is a deliberately naive reference evaluator over the plain model
// (walk groups, roles, permissions): tests use it as an independent oracle
// and benchmarks as the baseline.
package tenantgen

import (
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"sort"
)

// Config sizes a generated tenant.
type Config struct {
	// Seed makes the tenant reproducible.
	Seed uint64
	// Tenant is the tenant (namespace) name.
	Tenant string
	// Users, Roles and Groups are the sizes (defaults 100,000, 200, 2,000).
	Users, Roles, Groups int
	// FieldPolicies is the number of modules with a field policy (default 10).
	FieldPolicies int
	// SecondGroupPercent of users are in a second group (default 25).
	SecondGroupPercent int
}

// Default is the benchmark tenant of the given user count: 200 roles,
// 2,000 groups, 10 field policies.
func Default(users int) Config {
	return Config{Seed: 1, Tenant: "acme", Users: users, Roles: 200, Groups: 2000, FieldPolicies: 10, SecondGroupPercent: 25}
}

// Modules of the field-service application.
var Modules = []string{"workorders", "requests", "assets", "locations", "parts", "inventory",
	"purchaseorders", "invoices", "vendors", "customers", "projects", "quotes", "contracts",
	"timesheets", "meters", "checklists", "documents", "reports", "schedules", "users"}

// Actions of the field-service application.
var Actions = []string{"view", "create", "edit", "delete", "archive", "approve", "assign", "share", "export", "comment"}

// Scopes as in v1alpha1.
const (
	All           = "all"
	Own           = "own"
	Assigned      = "assigned"
	OwnOrAssigned = "ownOrAssigned"
	Contact       = "contact"
	Unit          = "unit"
	UnitTree      = "unitTree"
	Facility      = "facility"
	Company       = "company"
)

// Perm is one permission: modules × actions in a scope, optionally only for
// records whose amount is below MaxAmount (the CEL condition
// `resource.properties.amount < MaxAmount`).
type Perm struct {
	Modules   []string `json:"modules"`
	Actions   []string `json:"actions"`
	Scope     string   `json:"scope"`
	MaxAmount int      `json:"maxAmount,omitempty"`
}

// Role is a named set of permissions.
type Role struct {
	Name       string   `json:"name"`
	FullAccess bool     `json:"fullAccess,omitempty"`
	Extends    []string `json:"extends,omitempty"`
	Perms      []Perm   `json:"perms"`
}

// Restriction limits a group's members on some modules to a scope.
type Restriction struct {
	Modules []string `json:"modules"`
	Scope   string   `json:"scope"`
}

// Group gives roles, attributes and restrictions to members.
type Group struct {
	Name           string        `json:"name"`
	Roles          []string      `json:"roles"`
	MemberGroups   []string      `json:"memberGroups,omitempty"`
	ExternalGroups []string      `json:"externalGroups,omitempty"`
	Members        []string      `json:"members"`
	Unit           string        `json:"unit"`
	Company        string        `json:"company"`
	Facilities     []string      `json:"facilities"`
	Restrictions   []Restriction `json:"restrictions,omitempty"`
}

// User is a subject with the groups that list it directly.
type User struct {
	ID     string   `json:"id"`
	Groups []string `json:"groups"`
}

// FieldGrant gives an access level on a field to roles and groups.
type FieldGrant struct {
	Roles  []string `json:"roles,omitempty"`
	Groups []string `json:"groups,omitempty"`
	Access string   `json:"access"`
}

// FieldRule sets the access to one field.
type FieldRule struct {
	Name    string       `json:"name"`
	Default string       `json:"default,omitempty"`
	Grants  []FieldGrant `json:"grants,omitempty"`
}

// FieldPolicy covers the fields of one module.
type FieldPolicy struct {
	Name    string      `json:"name"`
	Module  string      `json:"module"`
	Default string      `json:"default"`
	Fields  []FieldRule `json:"fields"`
}

// Step is one approval step; it applies when the amount exceeds MinAmount.
type Step struct {
	Name       string   `json:"name"`
	MinAmount  int      `json:"minAmount,omitempty"`
	Roles      []string `json:"roles,omitempty"`
	Groups     []string `json:"groups,omitempty"`
	Users      []string `json:"users,omitempty"`
	Required   int      `json:"required,omitempty"`
	RequireAll bool     `json:"requireAll,omitempty"`
}

// Chain is the approval chain of one module.
type Chain struct {
	Name                  string `json:"name"`
	Module                string `json:"module"`
	Action                string `json:"action"`
	Steps                 []Step `json:"steps"`
	RequireProjectContact bool   `json:"requireProjectContact,omitempty"`
	ForbidSelfApproval    bool   `json:"forbidSelfApproval,omitempty"`
}

// Model is a generated tenant as plain data.
type Model struct {
	Tenant        string        `json:"tenant"`
	Modules       []string      `json:"modules"`
	Actions       []string      `json:"actions"`
	Units         []string      `json:"units"`
	Roles         []Role        `json:"roles"`
	Groups        []Group       `json:"groups"`
	Users         []User        `json:"users"`
	FieldPolicies []FieldPolicy `json:"fieldPolicies"`
	Chains        []Chain       `json:"chains"`

	roleByName  map[string]*Role
	groupByName map[string]*Group
	userGroups  map[string][]string // effective groups (memberGroups applied)
}

// BaseRoles are the six field-service roles every generated tenant has.
var BaseRoles = []string{"administrator", "limited-administrator", "technician", "limited-technician", "view-only", "requester"}

func baseRoles() []Role {
	rest := []string{}
	for _, m := range Modules {
		if m != "users" {
			rest = append(rest, m)
		}
	}
	return []Role{
		{Name: "administrator", FullAccess: true},
		{Name: "limited-administrator", Perms: []Perm{
			{Modules: rest, Actions: []string{"view", "create", "edit", "archive", "assign", "share", "export", "comment", "approve"}, Scope: All},
			{Modules: []string{"users"}, Actions: []string{"view"}, Scope: All},
		}},
		{Name: "technician", Perms: []Perm{
			{Modules: []string{"workorders", "requests"}, Actions: []string{"view", "create", "edit", "comment", "assign"}, Scope: All},
			{Modules: []string{"assets", "locations", "parts", "inventory", "meters", "checklists", "documents"}, Actions: []string{"view", "create", "edit"}, Scope: All},
			{Modules: []string{"purchaseorders"}, Actions: []string{"view", "create"}, Scope: All},
			{Modules: []string{"timesheets"}, Actions: []string{"view", "create", "edit"}, Scope: Own},
		}},
		{Name: "limited-technician", Perms: []Perm{
			{Modules: []string{"workorders", "requests"}, Actions: []string{"view", "edit", "comment"}, Scope: OwnOrAssigned},
			{Modules: []string{"assets", "locations", "parts"}, Actions: []string{"view"}, Scope: All},
			{Modules: []string{"timesheets"}, Actions: []string{"view", "create", "edit"}, Scope: Own},
		}},
		{Name: "view-only", Perms: []Perm{{Modules: rest, Actions: []string{"view"}, Scope: All}}},
		{Name: "requester", Perms: []Perm{
			{Modules: []string{"requests"}, Actions: []string{"create"}, Scope: All},
			{Modules: []string{"requests", "workorders"}, Actions: []string{"view", "comment"}, Scope: Own},
		}},
	}
}

func pick[T any](r *rand.Rand, xs []T, n int) []T {
	idx := r.Perm(len(xs))[:min(n, len(xs))]
	sort.Ints(idx)
	out := make([]T, len(idx))
	for i, j := range idx {
		out[i] = xs[j]
	}
	return out
}

// Generate builds the tenant of cfg. The same cfg always gives the same model.
func Generate(cfg Config) *Model {
	d := Default(cfg.Users)
	if cfg.Roles == 0 {
		cfg.Roles = d.Roles
	}
	if cfg.Groups == 0 {
		cfg.Groups = d.Groups
	}
	if cfg.Users == 0 {
		cfg.Users = 100_000
	}
	if cfg.Tenant == "" {
		cfg.Tenant = d.Tenant
	}
	if cfg.SecondGroupPercent == 0 {
		cfg.SecondGroupPercent = d.SecondGroupPercent
	}
	r := rand.New(rand.NewPCG(cfg.Seed, 0x9e3779b97f4a7c15))
	m := &Model{Tenant: cfg.Tenant, Modules: Modules, Actions: Actions}

	// Units: /ca, /ca/ab, /ca/ab/calgary ... three levels.
	countries := []string{"ca", "us", "mx"}
	for _, c := range countries {
		m.Units = append(m.Units, "/"+c)
		for i := 0; i < 4; i++ {
			reg := fmt.Sprintf("/%s/r%d", c, i)
			m.Units = append(m.Units, reg)
			for j := 0; j < 5; j++ {
				m.Units = append(m.Units, fmt.Sprintf("%s/site%d", reg, j))
			}
		}
	}

	// Roles.
	m.Roles = baseRoles()
	scopes := []string{Own, Assigned, OwnOrAssigned, Unit, UnitTree, Facility, Company, Contact}
	for i := len(m.Roles); i < cfg.Roles; i++ {
		ro := Role{Name: fmt.Sprintf("role-%03d", i)}
		for range 3 + r.IntN(6) {
			p := Perm{Modules: pick(r, Modules, 1+r.IntN(3)), Actions: pick(r, Actions, 1+r.IntN(4)), Scope: All}
			switch x := r.IntN(9); {
			case x < 3: // a third own/assigned
				p.Scope = scopes[r.IntN(3)]
			case x < 5:
				p.Scope = scopes[3+r.IntN(len(scopes)-3)]
			}
			if r.IntN(100) < 15 {
				p.MaxAmount = 1000 * (1 + r.IntN(10))
			}
			ro.Perms = append(ro.Perms, p)
		}
		if r.IntN(100) < 20 {
			// Extend a base role or an earlier role: never a cycle.
			ro.Extends = []string{m.Roles[1+r.IntN(i-1)].Name}
		}
		m.Roles = append(m.Roles, ro)
	}

	// Groups.
	facilities := make([]string, 50)
	for i := range facilities {
		facilities[i] = fmt.Sprintf("fac-%02d", i)
	}
	for i := 0; i < cfg.Groups; i++ {
		g := Group{Name: fmt.Sprintf("group-%04d", i), Company: "acme",
			Unit: m.Units[r.IntN(len(m.Units))], Facilities: pick(r, facilities, 1+r.IntN(3))}
		// Base roles are common, custom roles fill the rest.
		for range 1 + r.IntN(2) {
			var name string
			if r.IntN(100) < 30 {
				name = BaseRoles[1+r.IntN(len(BaseRoles)-1)]
			} else {
				name = m.Roles[len(BaseRoles)+r.IntN(cfg.Roles-len(BaseRoles))].Name
			}
			if !slices.Contains(g.Roles, name) {
				g.Roles = append(g.Roles, name)
			}
		}
		if i < 3 { // a few administrator groups
			g.Roles = []string{"administrator"}
		}
		switch x := r.IntN(100); {
		case x < 5: // supplier users: their company's POs and invoices, assigned work only
			g.Company = fmt.Sprintf("supplier-%02d", r.IntN(40))
			g.Restrictions = []Restriction{
				{Modules: []string{"purchaseorders", "invoices"}, Scope: Company},
				{Modules: []string{"workorders"}, Scope: Assigned},
			}
		case x < 15:
			g.ExternalGroups = []string{"idp-" + g.Name}
		}
		if r.IntN(100) < 5 && i+1 < cfg.Groups {
			// Include a later group: memberGroups stay acyclic.
			g.MemberGroups = []string{fmt.Sprintf("group-%04d", i+1+r.IntN(cfg.Groups-i-1))}
		}
		m.Groups = append(m.Groups, g)
	}

	// Users.
	for u := 0; u < cfg.Users; u++ {
		id := fmt.Sprintf("user-%07d", u)
		gs := []int{r.IntN(cfg.Groups)}
		if r.IntN(100) < cfg.SecondGroupPercent {
			if g2 := r.IntN(cfg.Groups); g2 != gs[0] {
				gs = append(gs, g2)
			}
		}
		user := User{ID: id}
		for _, gi := range gs {
			m.Groups[gi].Members = append(m.Groups[gi].Members, id)
			user.Groups = append(user.Groups, m.Groups[gi].Name)
		}
		m.Users = append(m.Users, user)
	}

	// Field policies on the first modules.
	nfp := cfg.FieldPolicies
	if nfp == 0 {
		nfp = 10
	}
	for i := 0; i < nfp && i < len(Modules); i++ {
		fp := FieldPolicy{Name: Modules[i] + "-fields", Module: Modules[i], Default: "write"}
		for f := 0; f < 20; f++ {
			fr := FieldRule{Name: fmt.Sprintf("field%02d", f)}
			if f == 19 {
				fr.Name = "custom.cost"
			}
			switch r.IntN(10) {
			case 0, 1, 2:
				fr.Default = "read"
			case 3:
				fr.Default = "hidden"
			}
			if r.IntN(100) < 40 {
				acc := []string{"read", "write", "hidden"}[r.IntN(3)]
				gr := FieldGrant{Access: acc, Roles: []string{m.Roles[1+r.IntN(len(m.Roles)-1)].Name}}
				if r.IntN(2) == 0 {
					gr.Groups = []string{m.Groups[r.IntN(len(m.Groups))].Name}
				}
				fr.Grants = append(fr.Grants, gr)
			}
			fp.Fields = append(fp.Fields, fr)
		}
		m.FieldPolicies = append(m.FieldPolicies, fp)
	}

	// Approval chains.
	m.Chains = []Chain{
		{Name: "po-approval", Module: "purchaseorders", Action: "approve", ForbidSelfApproval: true, Steps: []Step{
			{Name: "manager", MinAmount: 1000, Roles: []string{"limited-administrator"}},
			{Name: "finance", MinAmount: 5000, Roles: []string{"limited-administrator", "administrator"}, Required: 2},
			{Name: "director", MinAmount: 20000, Groups: []string{m.Groups[0].Name}, RequireAll: true},
		}},
		{Name: "invoice-approval", Module: "invoices", Action: "approve", ForbidSelfApproval: true, Steps: []Step{
			{Name: "review", Roles: []string{"limited-administrator"}},
		}},
		{Name: "quote-approval", Module: "quotes", Action: "approve", RequireProjectContact: true, Steps: []Step{
			{Name: "contact", Roles: []string{"limited-administrator", "administrator"}},
		}},
	}
	m.index()
	return m
}

func (m *Model) index() {
	m.roleByName = map[string]*Role{}
	for i := range m.Roles {
		m.roleByName[m.Roles[i].Name] = &m.Roles[i]
	}
	m.groupByName = map[string]*Group{}
	parents := map[string][]string{}
	for i := range m.Groups {
		g := &m.Groups[i]
		m.groupByName[g.Name] = g
		for _, c := range g.MemberGroups {
			parents[c] = append(parents[c], g.Name)
		}
	}
	closure := func(start []string) []string {
		seen := map[string]bool{}
		var q []string
		for _, s := range start {
			if !seen[s] {
				seen[s] = true
				q = append(q, s)
			}
		}
		for len(q) > 0 {
			x := q[0]
			q = q[1:]
			for _, p := range parents[x] {
				if !seen[p] {
					seen[p] = true
					q = append(q, p)
				}
			}
		}
		out := make([]string, 0, len(seen))
		for s := range seen {
			out = append(out, s)
		}
		sort.Strings(out)
		return out
	}
	m.userGroups = make(map[string][]string, len(m.Users))
	for _, u := range m.Users {
		m.userGroups[u.ID] = closure(u.Groups)
	}
	for i := range m.Groups {
		// IdP holders get the group and whatever includes it.
		m.userGroups["\x00ext:"+m.Groups[i].Name] = closure([]string{m.Groups[i].Name})
	}
}

// Clone returns a deep copy of m, indexed for Allowed: edit the copy's
// plain data, then call Reindex.
func (m *Model) Clone() *Model {
	data, err := json.Marshal(m)
	if err != nil {
		panic(err) // plain data always marshals
	}
	var out Model
	if err := json.Unmarshal(data, &out); err != nil {
		panic(err)
	}
	out.index()
	return &out
}

// Reindex rebuilds the lookups Allowed uses after m's data was edited.
func (m *Model) Reindex() { m.index() }
