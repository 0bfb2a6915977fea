package bench

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/casbin/casbin/v2"
	"github.com/casbin/casbin/v2/model"
	defaultrolemanager "github.com/casbin/casbin/v2/rbac/default-role-manager"

	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// CasbinModel is RBAC with conditions: users belong to groups (g), groups
// to parent groups (memberGroups) and hold roles, roles extend roles, all
// through Casbin's role manager. A policy row grants a role one module and
// action in a scope, below an amount (0: no limit); deny rows are group
// restrictions (deny unless the scope holds). Scopes and the amount
// condition are matcher functions. Cheap comparisons come first in the
// matcher so that most rows are rejected before the role lookup.
const CasbinModel = `
[request_definition]
r = sub, mod, act, obj

[policy_definition]
p = sub, mod, act, scope, max, eft

[role_definition]
g = _, _

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = (p.mod == r.mod || p.mod == "*") && (p.act == r.act || p.act == "*") && g(r.sub.ID, p.sub) && ((p.eft == "allow" && amountOK(r.obj.Amount, p.max) && scopeOK(r.sub, r.obj, p.scope)) || (p.eft == "deny" && !scopeOK(r.sub, r.obj, p.scope)))
`

// CasbinSubject is the subject as the application passes it to Enforce:
// its ID and the attributes of its groups (units, companies, facilities),
// looked up by the application from its user store.
type CasbinSubject struct {
	ID         string
	Units      []string
	Companies  []string
	Facilities []string
}

// CasbinObject is the record passed to Enforce.
type CasbinObject struct {
	Module          string
	OwnerID         string
	AssigneeIDs     []string
	ProjectContacts []string
	Unit            string
	FacilityID      string
	CompanyID       string
	Amount          float64
}

// Casbin is the tenant loaded into a Casbin enforcer.
type Casbin struct {
	E *casbin.Enforcer
	// Subjects is the application's user attribute store.
	Subjects map[string]*CasbinSubject
	Policies int
	Links    int
}

func casbinScope(sub *CasbinSubject, obj *CasbinObject, scope string) bool {
	switch scope {
	case tenantgen.All:
		return true
	case tenantgen.Own:
		return obj.OwnerID != "" && obj.OwnerID == sub.ID
	case tenantgen.Assigned:
		return slices.Contains(obj.AssigneeIDs, sub.ID)
	case tenantgen.OwnOrAssigned:
		return (obj.OwnerID != "" && obj.OwnerID == sub.ID) || slices.Contains(obj.AssigneeIDs, sub.ID)
	case tenantgen.Contact:
		return slices.Contains(obj.ProjectContacts, sub.ID)
	case tenantgen.Unit:
		return obj.Unit != "" && slices.Contains(sub.Units, obj.Unit)
	case tenantgen.UnitTree:
		for _, u := range sub.Units {
			if obj.Unit == u || strings.HasPrefix(obj.Unit, u+"/") {
				return true
			}
		}
		return false
	case tenantgen.Facility:
		return obj.FacilityID != "" && slices.Contains(sub.Facilities, obj.FacilityID)
	case tenantgen.Company:
		return obj.CompanyID != "" && slices.Contains(sub.Companies, obj.CompanyID)
	}
	return false
}

// NewCasbin builds the enforcer: model, policy rows, grouping rows, role
// links.
func NewCasbin(t *Tenant) (*Casbin, error) {
	md, err := model.NewModelFromString(CasbinModel)
	if err != nil {
		return nil, err
	}
	e, err := casbin.NewEnforcer(md)
	if err != nil {
		return nil, err
	}
	e.EnableAutoBuildRoleLinks(false)
	// Users -> groups -> parent groups -> roles -> extended roles can be
	// deeper than the default 10 levels.
	e.SetRoleManager(defaultrolemanager.NewRoleManagerImpl(64))
	e.AddFunction("scopeOK", func(args ...any) (any, error) {
		sub, ok1 := args[0].(*CasbinSubject)
		obj, ok2 := args[1].(*CasbinObject)
		scope, ok3 := args[2].(string)
		if !ok1 || !ok2 || !ok3 {
			return nil, fmt.Errorf("scopeOK: bad arguments %T %T %T", args[0], args[1], args[2])
		}
		return casbinScope(sub, obj, scope), nil
	})
	e.AddFunction("amountOK", func(args ...any) (any, error) {
		amount, ok1 := args[0].(float64)
		maxS, ok2 := args[1].(string)
		if !ok1 || !ok2 {
			return nil, fmt.Errorf("amountOK: bad arguments %T %T", args[0], args[1])
		}
		if maxS == "0" {
			return true, nil
		}
		mx, err := strconv.Atoi(maxS)
		if err != nil {
			return nil, err
		}
		return amount < float64(mx), nil
	})
	m := t.Model
	var ps, gs [][]string
	for _, r := range m.Roles {
		if r.FullAccess {
			ps = append(ps, []string{r.Name, "*", "*", tenantgen.All, "0", "allow"})
		}
		for _, p := range r.Perms {
			for _, mod := range p.Modules {
				for _, a := range p.Actions {
					ps = append(ps, []string{r.Name, mod, a, p.Scope, strconv.Itoa(p.MaxAmount), "allow"})
				}
			}
		}
		for _, x := range r.Extends {
			gs = append(gs, []string{r.Name, x})
		}
	}
	c := &Casbin{E: e, Subjects: make(map[string]*CasbinSubject, len(m.Users))}
	groups := map[string]*tenantgen.Group{}
	for i := range m.Groups {
		g := &m.Groups[i]
		groups[g.Name] = g
		for _, rs := range g.Restrictions {
			for _, mod := range rs.Modules {
				ps = append(ps, []string{g.Name, mod, "*", rs.Scope, "0", "deny"})
			}
		}
		for _, r := range g.Roles {
			gs = append(gs, []string{g.Name, r})
		}
		for _, child := range g.MemberGroups {
			gs = append(gs, []string{child, g.Name})
		}
		for _, u := range g.Members {
			gs = append(gs, []string{u, g.Name})
		}
	}
	for _, u := range m.Users {
		s := &CasbinSubject{ID: u.ID}
		for _, gn := range t.EffGroups[u.ID] {
			g := groups[gn]
			s.Units = append(s.Units, g.Unit)
			s.Companies = append(s.Companies, g.Company)
			s.Facilities = append(s.Facilities, g.Facilities...)
		}
		c.Subjects[u.ID] = s
	}
	if _, err := e.AddPolicies(dedupRows(ps)); err != nil {
		return nil, err
	}
	if _, err := e.AddGroupingPolicies(dedupRows(gs)); err != nil {
		return nil, err
	}
	if err := e.BuildRoleLinks(); err != nil {
		return nil, err
	}
	c.Policies, c.Links = len(ps), len(gs)
	return c, nil
}

func dedupRows(rows [][]string) [][]string {
	seen := map[string]bool{}
	out := rows[:0]
	for _, r := range rows {
		k := strings.Join(r, "\x00")
		if !seen[k] {
			seen[k] = true
			out = append(out, r)
		}
	}
	return out
}

// CasbinObjectOf converts a generated record.
func CasbinObjectOf(rec tenantgen.Record) *CasbinObject {
	return &CasbinObject{Module: rec.Module, OwnerID: rec.OwnerID, AssigneeIDs: rec.AssigneeIDs,
		ProjectContacts: rec.ProjectContacts, Unit: rec.Unit, FacilityID: rec.FacilityID, CompanyID: rec.CompanyID,
		Amount: rec.Amount}
}

// Check looks the subject up and enforces.
func (c *Casbin) Check(subject, action string, obj *CasbinObject) (bool, error) {
	sub := c.Subjects[subject]
	if sub == nil {
		return false, nil
	}
	return c.E.Enforce(sub, obj.Module, action, obj)
}

// VerifyCasbin checks Casbin's answer on every request of t against
// Gatehouse's.
func VerifyCasbin(c *Casbin, t *Tenant) error {
	var bad []string
	for i, r := range t.Reqs {
		got, err := c.Check(r.Subject, r.Action, CasbinObjectOf(r.Record))
		if err != nil {
			return fmt.Errorf("casbin: %w", err)
		}
		if got != t.Want[i] {
			bad = append(bad, fmt.Sprintf("#%d %s %s %s (%s): casbin %v, gatehouse %v", i, r.Subject, r.Action, r.Record.Module, r.Relation, got, t.Want[i]))
		}
	}
	return mismatches("casbin", bad, len(t.Reqs))
}
