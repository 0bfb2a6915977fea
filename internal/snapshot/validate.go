package snapshot

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// These mirror the CRD schema so that objects that never went through the
// API server (tests, the CLI, fuzzers) are held to the same rules.
var (
	objectNameRe = regexp.MustCompile(`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`)
	moduleRe     = regexp.MustCompile(`^(\*|[A-Za-z][A-Za-z0-9_.-]*)$`)
	actionRe     = regexp.MustCompile(`^(\*|[A-Za-z][A-Za-z0-9_.:-]*)$`)
	fieldNameRe  = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$`)
)

// Attribute names with a meaning to scopes.
const (
	AttrUnit       = "unit"
	AttrCompany    = "company"
	AttrCompanies  = "companies"
	AttrFacilities = "facilities"
	AttrGroups     = "groups"
)

func validObjectName(s string) bool { return len(s) <= 63 && objectNameRe.MatchString(s) }

func validAccess(a v1alpha1.FieldAccess) bool {
	return a == v1alpha1.FieldWrite || a == v1alpha1.FieldRead || a == v1alpha1.FieldHidden
}

// problems collects the problems of one object.
type problems struct {
	kind, name string
	list       []Problem
}

func (p *problems) add(field, reason, format string, args ...any) {
	p.list = append(p.list, Problem{Kind: p.kind, Name: p.name, Field: field, Reason: reason, Message: fmt.Sprintf(format, args...)})
}

func (p *problems) name_(field, value string) {
	if !validObjectName(value) {
		p.add(field, v1alpha1.ReasonInvalidSpec, "%q is not a valid name (a DNS label)", value)
	}
}

func (p *problems) modules(field string, mods []v1alpha1.ModuleName) {
	if len(mods) == 0 {
		p.add(field, v1alpha1.ReasonInvalidSpec, "at least one resource is required")
	}
	for i, m := range mods {
		if len(m) > 63 || !moduleRe.MatchString(string(m)) {
			p.add(fmt.Sprintf("%s[%d]", field, i), v1alpha1.ReasonInvalidSpec, "%q is not a valid resource name", m)
		}
	}
}

func (p *problems) expr(field string, src v1alpha1.CELExpression) *condition {
	if src == "" {
		return nil
	}
	c, err := compileCondition(string(src))
	if err != nil {
		p.add(field, v1alpha1.ReasonInvalidExpression, "%s", err.Error())
		return nil
	}
	return c
}

// roleConds holds the compiled `when` of each permission (nil when absent).
type roleConds []*condition

// CheckRole checks one Role on its own (no references to other objects are
// followed): names, scopes, and that every `when` compiles to a bool within
// the cost limit. An admission webhook can reject objects with problems.
func CheckRole(r *v1alpha1.Role) []Problem {
	ps, _ := checkRole(r)
	return ps
}

func checkRole(r *v1alpha1.Role) ([]Problem, roleConds) {
	p := &problems{kind: KindRole, name: r.Name}
	p.name_("metadata.name", r.Name)
	for i, e := range r.Spec.Extends {
		f := fmt.Sprintf("spec.extends[%d]", i)
		p.name_(f, string(e))
		if string(e) == r.Name {
			p.add(f, v1alpha1.ReasonCycle, "role extends itself")
		}
	}
	conds := make(roleConds, len(r.Spec.Permissions))
	for i, perm := range r.Spec.Permissions {
		f := fmt.Sprintf("spec.permissions[%d]", i)
		p.modules(f+".resources", perm.Resources)
		if len(perm.Actions) == 0 {
			p.add(f+".actions", v1alpha1.ReasonInvalidSpec, "at least one action is required")
		}
		for j, a := range perm.Actions {
			if len(a) > 63 || !actionRe.MatchString(string(a)) {
				p.add(fmt.Sprintf("%s.actions[%d]", f, j), v1alpha1.ReasonInvalidSpec, "%q is not a valid action name", a)
			}
		}
		if perm.Scope != "" && !validScope(perm.Scope) {
			p.add(f+".scope", v1alpha1.ReasonInvalidSpec, "unknown scope %q", perm.Scope)
		}
		conds[i] = p.expr(f+".when", perm.When)
	}
	return p.list, conds
}

// CheckUserGroup checks one UserGroup on its own: names, members, attribute
// shapes (unit is one canonical path, see ValidUnit; company is one value)
// and restrictions.
func CheckUserGroup(g *v1alpha1.UserGroup) []Problem {
	p := &problems{kind: KindUserGroup, name: g.Name}
	p.name_("metadata.name", g.Name)
	for i, m := range g.Spec.Members {
		if m == "" || len(m) > 253 {
			p.add(fmt.Sprintf("spec.members[%d]", i), v1alpha1.ReasonInvalidSpec, "a member must be 1 to 253 characters")
		}
	}
	for i, mg := range g.Spec.MemberGroups {
		f := fmt.Sprintf("spec.memberGroups[%d]", i)
		p.name_(f, string(mg))
		if string(mg) == g.Name {
			p.add(f, v1alpha1.ReasonCycle, "group includes itself")
		}
	}
	for i, e := range g.Spec.ExternalGroups {
		if e == "" || len(e) > 256 {
			p.add(fmt.Sprintf("spec.externalGroups[%d]", i), v1alpha1.ReasonInvalidSpec, "an external group must be 1 to 256 characters")
		}
	}
	for i, r := range g.Spec.Roles {
		p.name_(fmt.Sprintf("spec.roles[%d]", i), string(r))
	}
	for k, v := range g.Spec.Attributes {
		f := "spec.attributes." + k
		if k == "" {
			p.add("spec.attributes", v1alpha1.ReasonInvalidSpec, "attribute names must not be empty")
		}
		switch k {
		case AttrUnit:
			if len(v.Values) != 1 {
				p.add(f, v1alpha1.ReasonInvalidSpec, "unit must be a single path, e.g. /ca/ab/calgary")
			} else if err := ValidUnit(v.Values[0]); err != nil {
				p.add(f, v1alpha1.ReasonInvalidSpec, "%s: %v, e.g. /ca/ab/calgary", quoteShort(v.Values[0]), err)
			}
		case AttrCompany:
			if len(v.Values) != 1 || v.Values[0] == "" {
				p.add(f, v1alpha1.ReasonInvalidSpec, "company must be a single non-empty value")
			}
		case AttrGroups:
			p.add(f, v1alpha1.ReasonInvalidSpec, "groups is reserved for the identity provider's groups of a request")
		}
	}
	for i, r := range g.Spec.Restrictions {
		f := fmt.Sprintf("spec.restrictions[%d]", i)
		p.modules(f+".resources", r.Resources)
		if !validScope(r.Scope) {
			p.add(f+".scope", v1alpha1.ReasonInvalidSpec, "unknown scope %q", r.Scope)
		}
	}
	return p.list
}

// quoteShort quotes a value for a problem message, cut to 64 bytes.
func quoteShort(v string) string {
	if len(v) > 64 {
		return strconv.Quote(strings.ToValidUTF8(v[:64], "")) + "…"
	}
	return strconv.Quote(v)
}

// normUnit drops a trailing "/" (except of the root). Units from policy
// and from requests are canonical (ValidUnit) and have none; it remains for
// callers of Check that build a Subject themselves. It returns a substring,
// so it never allocates.
func normUnit(u string) string {
	for len(u) > 1 && u[len(u)-1] == '/' {
		u = u[:len(u)-1]
	}
	return u
}

// CheckFieldPolicy checks one FieldPolicy on its own: the resource is one
// module, access levels are known, each field is listed once and every grant
// names a role or group.
func CheckFieldPolicy(fp *v1alpha1.FieldPolicy) []Problem {
	p := &problems{kind: KindFieldPolicy, name: fp.Name}
	p.name_("metadata.name", fp.Name)
	if fp.Spec.Resource == "*" || fp.Spec.Resource == "" || !moduleRe.MatchString(string(fp.Spec.Resource)) {
		p.add("spec.resource", v1alpha1.ReasonInvalidSpec, "a field policy covers exactly one module, not %q", fp.Spec.Resource)
	}
	if fp.Spec.Default != "" && !validAccess(fp.Spec.Default) {
		p.add("spec.default", v1alpha1.ReasonInvalidSpec, "unknown access %q", fp.Spec.Default)
	}
	seen := map[v1alpha1.FieldName]int{}
	for i, fr := range fp.Spec.Fields {
		f := fmt.Sprintf("spec.fields[%d]", i)
		if len(fr.Name) > 128 || !fieldNameRe.MatchString(string(fr.Name)) {
			p.add(f+".name", v1alpha1.ReasonInvalidSpec, "%q is not a valid field name", fr.Name)
		}
		if j, dup := seen[fr.Name]; dup {
			p.add(f+".name", v1alpha1.ReasonInvalidSpec, "field %q is already listed at spec.fields[%d]", fr.Name, j)
		} else {
			seen[fr.Name] = i
		}
		if fr.Default != "" && !validAccess(fr.Default) {
			p.add(f+".default", v1alpha1.ReasonInvalidSpec, "unknown access %q", fr.Default)
		}
		for j, gr := range fr.Grants {
			gf := fmt.Sprintf("%s.grants[%d]", f, j)
			if len(gr.Roles)+len(gr.Groups) == 0 {
				p.add(gf, v1alpha1.ReasonInvalidSpec, "a grant must name at least one role or group")
			}
			if !validAccess(gr.Access) {
				p.add(gf+".access", v1alpha1.ReasonInvalidSpec, "unknown access %q", gr.Access)
			}
			for k, r := range gr.Roles {
				p.name_(fmt.Sprintf("%s.roles[%d]", gf, k), string(r))
			}
			for k, g := range gr.Groups {
				p.name_(fmt.Sprintf("%s.groups[%d]", gf, k), string(g))
			}
		}
	}
	return p.list
}

// CheckApprovalChain checks one ApprovalChain on its own: one module, a
// valid action, uniquely named steps each with approvers, consistent
// required/requireAll, and `when` expressions that compile to a bool.
func CheckApprovalChain(c *v1alpha1.ApprovalChain) []Problem {
	ps, _ := checkApprovalChain(c)
	return ps
}

func checkApprovalChain(c *v1alpha1.ApprovalChain) ([]Problem, []*condition) {
	p := &problems{kind: KindApprovalChain, name: c.Name}
	p.name_("metadata.name", c.Name)
	if c.Spec.Resource == "*" || c.Spec.Resource == "" || !moduleRe.MatchString(string(c.Spec.Resource)) {
		p.add("spec.resource", v1alpha1.ReasonInvalidSpec, "an approval chain covers exactly one module, not %q", c.Spec.Resource)
	}
	if a := c.Spec.Action; a != "" && (a == "*" || !actionRe.MatchString(string(a))) {
		p.add("spec.action", v1alpha1.ReasonInvalidSpec, "%q is not a valid action (and not \"*\")", a)
	}
	if len(c.Spec.Steps) == 0 {
		p.add("spec.steps", v1alpha1.ReasonInvalidSpec, "at least one step is required")
	}
	conds := make([]*condition, len(c.Spec.Steps))
	seen := map[v1alpha1.ObjectName]int{}
	for i, st := range c.Spec.Steps {
		f := fmt.Sprintf("spec.steps[%d]", i)
		p.name_(f+".name", string(st.Name))
		if j, dup := seen[st.Name]; dup {
			p.add(f+".name", v1alpha1.ReasonInvalidSpec, "step %q is already defined at spec.steps[%d]", st.Name, j)
		} else {
			seen[st.Name] = i
		}
		a := st.Approvers
		if len(a.Roles)+len(a.Groups)+len(a.Users) == 0 {
			p.add(f+".approvers", v1alpha1.ReasonInvalidSpec, "a step needs at least one approver role, group or user")
		}
		for k, r := range a.Roles {
			p.name_(fmt.Sprintf("%s.approvers.roles[%d]", f, k), string(r))
		}
		for k, g := range a.Groups {
			p.name_(fmt.Sprintf("%s.approvers.groups[%d]", f, k), string(g))
		}
		for k, u := range a.Users {
			if u == "" {
				p.add(fmt.Sprintf("%s.approvers.users[%d]", f, k), v1alpha1.ReasonInvalidSpec, "a user must not be empty")
			}
		}
		if st.Required != nil && st.RequireAll {
			p.add(f+".required", v1alpha1.ReasonInvalidSpec, "required and requireAll are mutually exclusive")
		}
		if st.Required != nil && (*st.Required < 1 || *st.Required > 100) {
			p.add(f+".required", v1alpha1.ReasonInvalidSpec, "required must be between 1 and 100")
		}
		conds[i] = p.expr(f+".when", st.When)
	}
	return p.list, conds
}
