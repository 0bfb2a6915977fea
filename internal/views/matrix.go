package views

import (
	"encoding/csv"
	"fmt"
	"io"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Level is what a holder of one role alone may do with the records of one
// module/action.
type Level string

// Levels of the role matrix, from the most open.
const (
	// Full: every record, unconditionally (scope all without condition, or
	// fullAccess).
	Full Level = "full"
	// Scoped: the records of the holder's unit, unit tree, facility,
	// company or projects (a scope that reads an attribute or a relation
	// beyond own and assigned).
	Scoped Level = "scoped"
	// Partial: the holder's own or assigned records (a scope within
	// ownOrAssigned).
	Partial Level = "partial"
	// Conditional: only when a CEL condition holds.
	Conditional Level = "conditional"
	// None: no record.
	None Level = "none"
)

// AllLevels lists the levels in legend order, from the most open.
func AllLevels() []Level { return []Level{Full, Scoped, Partial, Conditional, None} }

// Meaning explains a level for a legend.
func (l Level) Meaning() string {
	switch l {
	case Full:
		return "every record, unconditionally (scope all without a condition, or fullAccess)"
	case Scoped:
		return "the records of the holder's unit, unit tree, facility, company or projects"
	case Partial:
		return "only the holder's own or assigned records"
	case Conditional:
		return "only records for which a CEL condition (when) holds"
	}
	return "no record"
}

// Coarse maps a level to the three levels of `gatehouse matrix`: full,
// partial (scoped, partial and conditional: only some records) and none.
func (l Level) Coarse() Level {
	switch l {
	case Full, None:
		return l
	}
	return Partial
}

// Grant is one permission behind a cell.
type Grant struct {
	// FullAccess is set for a fullAccess role (Scope and When are empty).
	FullAccess bool `json:"fullAccess,omitempty"`
	// Scope is the permission's scope ("all" when it has none).
	Scope v1alpha1.Scope `json:"scope,omitempty"`
	// When is the permission's CEL condition, as written (free text:
	// escape it).
	When string `json:"when,omitempty"`
	// From is the role the grant is inherited from through extends; empty
	// when the role defines it itself.
	From string `json:"from,omitempty"`
}

// LevelCell is one role's access to one module/action.
type LevelCell struct {
	Level Level `json:"level"`
	// Grants are the permissions of the role (and what it extends) that
	// name the module/action, in the order the compiler flattens them.
	Grants []Grant `json:"grants,omitempty"`
}

// LevelRow is one module/action; Cells are in the order of LevelMatrix.Roles.
type LevelRow struct {
	Module string      `json:"module"`
	Action string      `json:"action"`
	Cells  []LevelCell `json:"cells"`
}

// LevelMatrix is roles × module/action.
type LevelMatrix struct {
	Tenant string     `json:"tenant"`
	Roles  []RoleInfo `json:"roles"`
	Rows   []LevelRow `json:"rows"`
}

// RoleNames returns the names of the matrix's roles, in order.
func (m LevelMatrix) RoleNames() []string {
	out := make([]string, len(m.Roles))
	for i, r := range m.Roles {
		out[i] = r.Name
	}
	return out
}

// Modules returns the modules of the rows, sorted.
func (m LevelMatrix) Modules() []string {
	var out []string
	for _, r := range m.Rows {
		if len(out) == 0 || out[len(out)-1] != r.Module {
			out = append(out, r.Module)
		}
	}
	return out
}

// HasModule reports whether the matrix has rows of module.
func (m LevelMatrix) HasModule(module string) bool {
	_, ok := slices.BinarySearch(m.Modules(), module)
	return ok
}

// HasRole reports whether role is a column of the matrix.
func (m LevelMatrix) HasRole(role string) bool {
	return slices.ContainsFunc(m.Roles, func(r RoleInfo) bool { return r.Name == role })
}

// Filter keeps the rows of module and the column of role; an empty value
// keeps them all. Unknown names keep nothing (check with HasModule and
// HasRole first).
func (m LevelMatrix) Filter(module, role string) LevelMatrix {
	out := LevelMatrix{Tenant: m.Tenant, Roles: m.Roles, Rows: m.Rows}
	col := -1
	if role != "" {
		col = slices.IndexFunc(m.Roles, func(r RoleInfo) bool { return r.Name == role })
		out.Roles = nil
		if col >= 0 {
			out.Roles = []RoleInfo{m.Roles[col]}
		}
	}
	if module == "" && role == "" {
		return out
	}
	out.Rows = nil
	for _, r := range m.Rows {
		if module != "" && r.Module != module {
			continue
		}
		if role != "" {
			var cells []LevelCell
			if col >= 0 {
				cells = []LevelCell{r.Cells[col]}
			}
			r = LevelRow{Module: r.Module, Action: r.Action, Cells: cells}
		}
		out.Rows = append(out.Rows, r)
	}
	return out
}

// WriteCSV writes module, action, then one column per role with the level
// (coarse: the three levels of `gatehouse matrix`).
func (m LevelMatrix) WriteCSV(w io.Writer, coarse bool) error {
	cw := csv.NewWriter(w)
	_ = cw.Write(append([]string{"module", "action"}, m.RoleNames()...))
	for _, r := range m.Rows {
		rec := make([]string, 0, 2+len(r.Cells))
		rec = append(rec, r.Module, r.Action)
		for _, c := range r.Cells {
			l := c.Level
			if coarse {
				l = l.Coarse()
			}
			rec = append(rec, string(l))
		}
		_ = cw.Write(rec)
	}
	cw.Flush()
	return cw.Error()
}

// Columns lists the module/actions the tenant's objects name: modules
// sorted, actions in the order they first appear. An action granted on
// every module ("*") is a column of every module; a module named with
// every action ("*") or only by a field policy is listed with the actions
// others name.
func Columns(objs snapshot.Objects) (modules []string, actions map[string][]string) {
	actions = map[string][]string{}
	add := func(module, action string) {
		if _, ok := actions[module]; !ok {
			modules = append(modules, module)
			actions[module] = nil
		}
		if action != "" && !slices.Contains(actions[module], action) {
			actions[module] = append(actions[module], action)
		}
	}
	var wildActions []string // actions granted on "*"
	for _, r := range objs.Roles {
		for _, p := range r.Spec.Permissions {
			for _, m := range p.Resources {
				for _, a := range p.Actions {
					switch {
					case m == "*" && a != "*":
						if !slices.Contains(wildActions, string(a)) {
							wildActions = append(wildActions, string(a))
						}
					case m != "*" && a != "*":
						add(string(m), string(a))
					case m != "*":
						add(string(m), "")
					}
				}
			}
		}
	}
	for _, c := range objs.ApprovalChains {
		add(string(c.Spec.Resource), string(c.Spec.EffectiveAction()))
	}
	for _, fp := range objs.FieldPolicies {
		add(string(fp.Spec.Resource), "")
	}
	for _, m := range modules {
		for _, a := range wildActions {
			add(m, a)
		}
	}
	sort.Strings(modules)
	return modules, actions
}

// heldGrant is a permission of a role's extends closure.
type heldGrant struct {
	perm *v1alpha1.Permission
	from string
}

// closures returns, per role, the permissions of the role and everything it
// extends (served roles only), and whether any of them has fullAccess.
func closures(objs snapshot.Objects, snap *snapshot.Snapshot, roles []RoleInfo) (map[string][]heldGrant, map[string]string) {
	byName := map[string]*v1alpha1.Role{}
	for i := range objs.Roles {
		r := &objs.Roles[i]
		if _, dup := byName[r.Name]; !dup && snap.HasRole(r.Name) {
			byName[r.Name] = r
		}
	}
	lookup := func(n string) *v1alpha1.Role { return byName[n] }
	grants := map[string][]heldGrant{}
	full := map[string]string{} // role → the role of the closure with fullAccess ("" itself)
	for _, ri := range roles {
		name := ri.Name
		snapshot.ExtendsClosure(name, lookup, func(r *v1alpha1.Role) {
			from := r.Name
			if from == name {
				from = ""
			}
			if r.Spec.FullAccess {
				if _, ok := full[name]; !ok {
					full[name] = from
				}
			}
			for i := range r.Spec.Permissions {
				grants[name] = append(grants[name], heldGrant{perm: &r.Spec.Permissions[i], from: from})
			}
		})
	}
	return grants, full
}

func names[T ~string](xs []T, x string) bool {
	for _, v := range xs {
		if string(v) == x || v == "*" {
			return true
		}
	}
	return false
}

// rank orders the levels a grant can give a conditional plan.
var rank = map[Level]int{Conditional: 1, Partial: 2, Scoped: 3}

// RoleLevels computes roles × module/action of a compiled tenant: the
// evaluator's plan for a synthetic holder of each role alone decides
// whether the role reaches every record (full), none, or some; for some,
// the role's grants say how: scoped, partial (a scope within
// ownOrAssigned, after the scope table) or conditional (only conditions).
// Group restrictions are not part of a role, so they do not show.
func RoleLevels(tenant string, objs snapshot.Objects, snap *snapshot.Snapshot) (LevelMatrix, error) {
	out := LevelMatrix{Tenant: tenant, Roles: []RoleInfo{}, Rows: []LevelRow{}}
	syn, err := compileSynthetic(tenant, objs, snap)
	if err != nil {
		return out, err
	}
	out.Roles = syn.roles
	grants, full := closures(objs, snap, syn.roles)
	subs := make([]snapshot.Subject, len(syn.roles))
	for i, r := range syn.roles {
		subs[i] = subject(r.Name)
	}
	modules, actions := Columns(objs)
	for _, m := range modules {
		for _, a := range actions[m] {
			row := LevelRow{Module: m, Action: a, Cells: make([]LevelCell, len(syn.roles))}
			for i, r := range syn.roles {
				c := &row.Cells[i]
				if from, ok := full[r.Name]; ok {
					c.Grants = append(c.Grants, Grant{FullAccess: true, From: from})
				}
				for _, g := range grants[r.Name] {
					if names(g.perm.Resources, m) && names(g.perm.Actions, a) {
						sc := g.perm.Scope
						if sc == "" {
							sc = v1alpha1.ScopeAll
						}
						c.Grants = append(c.Grants, Grant{Scope: sc, When: string(g.perm.When), From: g.from})
					}
				}
				switch syn.snap.Plan(subs[i], a, m).Kind {
				case snapshot.PlanAlways:
					c.Level = Full
				case snapshot.PlanConditional:
					c.Level = limited(c.Grants)
				default:
					c.Level = None
				}
			}
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

// limited says how a role reaches only some records: the most open of its
// unconditional grants (a scope within ownOrAssigned is partial, any other
// but all is scoped), else conditional.
func limited(gs []Grant) Level {
	best := Conditional
	for _, g := range gs {
		if g.FullAccess || g.When != "" || g.Scope == v1alpha1.ScopeAll {
			continue
		}
		l := Scoped
		if snapshot.ScopeWithin(g.Scope, v1alpha1.ScopeOwnOrAssigned) {
			l = Partial
		}
		if rank[l] > rank[best] {
			best = l
		}
	}
	return best
}

// SyntheticPrefix names the synthetic groups and subjects of the matrices;
// a tenant's own group of that name is an error.
const SyntheticPrefix = "gatehouse-matrix"

// RoleInfo is one compiled role as the matrices list it. DisplayName and
// Description are free text from the policy: escape them.
type RoleInfo struct {
	Name        string
	DisplayName string
	Description string
}

// synthetic is a tenant compiled again with one synthetic subject per
// compiled role.
type synthetic struct {
	snap  *snapshot.Snapshot
	roles []RoleInfo
}

// subject is the synthetic member holding role alone.
func subject(role string) snapshot.Subject {
	return snapshot.Subject{ID: SyntheticPrefix + ":" + role}
}

// compileSynthetic adds a one-role group per compiled role of snap and
// compiles objs again. The tenant's groups keep their structure but lose
// their members: no synthetic subject is in them, and the compile stays
// small for a tenant of 100,000 users.
func compileSynthetic(tenant string, objs snapshot.Objects, snap *snapshot.Snapshot) (synthetic, error) {
	var out synthetic
	if snap == nil {
		return out, fmt.Errorf("tenant %s has no snapshot (it is over its compiled-size quota)", tenant)
	}
	synth := objs
	synth.Groups = make([]v1alpha1.UserGroup, 0, len(objs.Groups)+len(objs.Roles))
	for _, g := range objs.Groups {
		g.Spec.Members = nil
		synth.Groups = append(synth.Groups, g)
	}
	seen := map[string]bool{}
	for _, r := range objs.Roles {
		if !snap.HasRole(r.Name) || seen[r.Name] {
			continue
		}
		seen[r.Name] = true
		g := v1alpha1.UserGroup{}
		g.Name = SyntheticPrefix + "-" + r.Name
		g.Namespace = r.Namespace
		if snap.HasGroup(g.Name) {
			return out, fmt.Errorf("group %s exists: it is reserved for the matrix", g.Name)
		}
		g.Spec.Members = []v1alpha1.SubjectID{v1alpha1.SubjectID(subject(r.Name).ID)}
		g.Spec.Roles = []v1alpha1.ObjectName{v1alpha1.ObjectName(r.Name)}
		g.Spec.Attributes = map[string]v1alpha1.AttributeValue{
			snapshot.AttrUnit:       v1alpha1.StringAttribute("/" + SyntheticPrefix),
			snapshot.AttrCompany:    v1alpha1.StringAttribute(SyntheticPrefix),
			snapshot.AttrFacilities: v1alpha1.ListAttribute(SyntheticPrefix),
		}
		synth.Groups = append(synth.Groups, g)
		out.roles = append(out.roles, RoleInfo{Name: r.Name, DisplayName: r.Spec.DisplayName, Description: r.Spec.Description})
	}
	s, problems := snapshot.Compile(tenant, synth)
	for _, p := range problems {
		if strings.HasPrefix(p.Name, SyntheticPrefix) {
			return out, fmt.Errorf("matrix: synthetic groups did not compile: %v", p)
		}
	}
	if s == nil {
		return out, fmt.Errorf("matrix: tenant %s did not compile with its synthetic groups: %v", tenant, problems)
	}
	for _, r := range out.roles {
		if !s.HasGroup(SyntheticPrefix + "-" + r.Name) {
			return out, fmt.Errorf("matrix: synthetic group of role %s left out", r.Name)
		}
	}
	out.snap = s
	return out, nil
}
