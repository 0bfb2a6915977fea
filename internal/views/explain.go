package views

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// This file holds what the CLI (check --explain, who-can, can-i-list,
// policy tests) and the console (explain, who-can, approvers) share: the
// human sentences for decision reasons, the texts of grants and filters,
// and the KEY=VALUE property parser that maps properties to
// snapshot.Resource and snapshot.Subject through the standard properties
// table. Everything is computed by the one evaluator (internal/snapshot).

// reasonMessages explain the decision reasons (docs/semantics.md, section 6).
var reasonMessages = map[string]string{
	snapshot.ReasonAllowed:          "a permission matched",
	snapshot.ReasonNoSnapshot:       "the tenant has no compiled snapshot",
	snapshot.ReasonInvalidRequest:   "no request or no subject ID",
	snapshot.ReasonUnknownSubject:   "the subject is in no group (by ID or external group)",
	snapshot.ReasonNoRoles:          "the subject's groups give no roles",
	snapshot.ReasonUnknownResource:  "no object mentions the module and no wildcard grant covers it",
	snapshot.ReasonUnknownAction:    "no object mentions the action and no wildcard grant covers it",
	snapshot.ReasonNotPermitted:     "no role of the subject grants the action on the module",
	snapshot.ReasonScopeNotMatched:  "a grant exists, but its scope does not select this record",
	snapshot.ReasonConditionFalse:   "only conditional grants exist and none held",
	snapshot.ReasonRestricted:       "a grant matched but a group restriction does not",
	snapshot.ReasonNoApprovalChain:  "no ApprovalChain covers the module",
	snapshot.ReasonApprovalComplete: "every applicable step has its approvals",
	snapshot.ReasonNotEligible:      "the subject is not an eligible approver of the current step",
	snapshot.ReasonAlreadyApproved:  "the subject already approved the current step",
	snapshot.ReasonNoApprovers:      "the current step has no eligible approver",
}

// ReasonText is the human sentence for a decision reason code ("" for an
// unknown code).
func ReasonText(reason string) string { return reasonMessages[reason] }

// DescribeMatch renders the grant of a decision as a sentence ("" for nil).
func DescribeMatch(m *snapshot.Match) string {
	if m == nil {
		return ""
	}
	s := "role " + m.Role
	if m.From != "" {
		s += " (permission inherited from " + m.From + ")"
	}
	s += " via group " + m.Group
	if m.FullAccess || m.Permission < 0 {
		return s + ": fullAccess"
	}
	return s + ": " + permissionText(m, ", ")
}

// permissionText is a grant's permission, scope and condition, joined by
// sep: `spec.permissions[2]<sep>scope unit<sep>when …`.
func permissionText(m *snapshot.Match, sep string) string {
	s := "spec.permissions[" + strconv.Itoa(m.Permission) + "]"
	if m.Scope != "" {
		s += sep + "scope " + m.Scope
	}
	if m.When != "" {
		s += sep + "when " + m.When
	}
	return s
}

// GrantText is the short form of a grant for tables: the defining role's
// permission, its scope and condition, or fullAccess.
func GrantText(m *snapshot.Match) string {
	if m == nil {
		return ""
	}
	if m.FullAccess || m.Permission < 0 {
		return "fullAccess"
	}
	role := m.Role
	if m.From != "" {
		role = m.From
	}
	return role + "." + permissionText(m, " ")
}

// FilterText renders a plan's filter for people, e.g.
// `ownerId = "alex" or assigneeIds contains "alex"`.
func FilterText(f *snapshot.Filter) string {
	if f == nil {
		return "true"
	}
	switch f.Op {
	case snapshot.OpTrue, snapshot.OpFalse:
		return f.Op
	case snapshot.OpAnd, snapshot.OpOr:
		parts := make([]string, len(f.Children))
		for i, c := range f.Children {
			parts[i] = FilterText(c)
			if (c.Op == snapshot.OpAnd || c.Op == snapshot.OpOr) && c.Op != f.Op {
				parts[i] = "(" + parts[i] + ")"
			}
		}
		return strings.Join(parts, " "+f.Op+" ")
	case snapshot.OpEq:
		return f.Property + " = " + ValueText(f.Value)
	case snapshot.OpLt:
		return f.Property + " < " + ValueText(f.Value)
	case snapshot.OpLe:
		return f.Property + " <= " + ValueText(f.Value)
	case snapshot.OpGt:
		return f.Property + " > " + ValueText(f.Value)
	case snapshot.OpGe:
		return f.Property + " >= " + ValueText(f.Value)
	case snapshot.OpIn:
		vs := make([]string, len(f.Values))
		for i, v := range f.Values {
			vs[i] = ValueText(v)
		}
		return f.Property + " in [" + strings.Join(vs, ", ") + "]"
	case snapshot.OpContains:
		return f.Property + " contains " + ValueText(f.Value)
	case snapshot.OpUnder:
		return f.Property + " under " + ValueText(f.Value)
	case snapshot.OpCEL:
		return "cel(" + f.Expr + ")"
	}
	return f.Op
}

// ValueText renders a filter operand: strings quoted, the rest as Go prints them.
func ValueText(v any) string {
	if s, ok := v.(string); ok {
		return strconv.Quote(s)
	}
	return fmt.Sprint(v)
}

// Explanation is the answer to one explain question: the decision of
// snapshot.Check with its reason in words and the grant that matched, and,
// for the same subject and record, every action allowed and the field
// access.
type Explanation struct {
	snapshot.Decision
	// Message is the reason as a sentence.
	Message string
	// Grant is the matched grant as a sentence ("" when denied).
	Grant string
	// Actions are every action the subject may perform on the record.
	Actions []string
	// Fields is the subject's field access on the record's module.
	Fields snapshot.FieldAccessResult
	// FieldLevel summarizes Fields: FieldsAll, FieldsPartial or FieldsNone.
	FieldLevel string
}

// Field access levels of an Explanation.
const (
	FieldsAll     = "full"    // every field writable
	FieldsPartial = "partial" // some field read-only or hidden
	FieldsNone    = "none"    // nothing readable or writable
)

// Explain decides req with the evaluator and explains the decision.
func Explain(s *snapshot.Snapshot, req *snapshot.Request) Explanation {
	d := s.Check(req)
	x := Explanation{Decision: d, Message: ReasonText(d.Reason), Grant: DescribeMatch(d.Matched)}
	x.Actions = s.Actions(req.Subject, req.Resource)
	if x.Actions == nil {
		x.Actions = []string{}
	}
	x.Fields = s.Fields(req)
	x.FieldLevel = FieldLevel(x.Fields)
	return x
}

// FieldLevel summarizes a field access result.
func FieldLevel(f snapshot.FieldAccessResult) string {
	switch {
	case f.Reason != "":
		return FieldsNone
	case !f.Covered:
		return FieldsAll
	case len(f.Hidden) == 0 && len(f.Readable) == len(f.Writable) && f.Default == v1alpha1.FieldWrite:
		return FieldsAll // Readable includes the writable fields
	case len(f.Readable) == 0 && f.Default == v1alpha1.FieldHidden:
		return FieldsNone
	}
	return FieldsPartial
}

// Grantee is one row of a who-can answer.
type Grantee struct {
	Subject string
	// Role, Group and From (the role defining an inherited permission) of
	// the grant; Grant is its short text (GrantText).
	Role, Group, From, Grant string
	Scope, When              string
	FullAccess               bool
}

// WhoCan lists the known members who may perform action on res
// (snapshot.WhoCan), each with the grant that allows it.
func WhoCan(s *snapshot.Snapshot, action string, res snapshot.Resource) []Grantee {
	out := []Grantee{}
	for _, g := range s.WhoCan(action, res) {
		row := Grantee{Subject: g.Subject}
		if m := g.Via; m != nil {
			row.Role, row.Group, row.From, row.Grant = m.Role, m.Group, m.From, GrantText(m)
			row.Scope, row.When, row.FullAccess = m.Scope, m.When, m.FullAccess || m.Permission < 0
		}
		out = append(out, row)
	}
	return out
}

// PropError is a KEY=VALUE property that does not parse. Error gives the
// message with the text as given; Key and Problem let a caller build its
// own message with the text bounded.
type PropError struct {
	// Key is the property's name ("" when the text has no "=").
	Key string
	// Text is the offending text: the whole KEY=VALUE, or a list item.
	Text string
	// Problem says what is expected.
	Problem string
}

func (e *PropError) Error() string {
	if e.Key == "" {
		return fmt.Sprintf("property %q: %s", e.Text, e.Problem)
	}
	return fmt.Sprintf("%s: %q: %s", e.Key, e.Text, e.Problem)
}

// listProps are the properties given as comma-separated lists: the
// standard record properties that are lists, and the subject's list
// attributes.
var listProps = propsOfKind(snapshot.PropStringList, snapshot.AttrCompanies, snapshot.AttrFacilities, snapshot.AttrGroups)

// stringProps are the properties that are always strings: the standard
// record properties that are strings, and the subject's company.
var stringProps = propsOfKind(snapshot.PropString, snapshot.AttrCompany)

func propsOfKind(kind snapshot.PropertyKind, extra ...string) map[string]bool {
	out := map[string]bool{}
	for _, p := range snapshot.StandardProperties() {
		if p.Kind == kind {
			out[p.Name] = true
		}
	}
	for _, e := range extra {
		out[e] = true
	}
	return out
}

// ParseProps parses KEY=VALUE properties (the CLI's --prop, the console's
// prop=). Lists (assigneeIds, projectContacts, companies, facilities,
// groups) are comma-separated; approvals are step:by pairs, comma-separated;
// other values are numbers or booleans when they parse as such, strings
// otherwise. Errors are *PropError.
func ParseProps(pairs []string) (map[string]any, error) {
	props := map[string]any{}
	for _, f := range pairs {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, &PropError{Text: f, Problem: "want KEY=VALUE"}
		}
		switch {
		case listProps[k]:
			list := []any{}
			for _, x := range strings.Split(v, ",") {
				if x = strings.TrimSpace(x); x != "" {
					list = append(list, x)
				}
			}
			props[k] = list
		case k == snapshot.PropApprovals:
			list := []any{}
			for _, x := range strings.Split(v, ",") {
				if x = strings.TrimSpace(x); x == "" {
					continue
				}
				step, by, ok := strings.Cut(x, ":")
				if !ok || step == "" || by == "" {
					return nil, &PropError{Key: k, Text: x, Problem: "want STEP:BY"}
				}
				list = append(list, map[string]any{"step": step, "by": by})
			}
			props[k] = list
		case stringProps[k]:
			props[k] = v
		default:
			props[k] = scalarValue(v)
		}
	}
	return props, nil
}

// scalarValue reads an integer, a float, a boolean or a string.
func scalarValue(v string) any {
	if i, err := strconv.ParseInt(v, 10, 64); err == nil {
		return i
	}
	if f, err := strconv.ParseFloat(v, 64); err == nil {
		return f
	}
	if b, err := strconv.ParseBool(v); err == nil && (v == "true" || v == "false") {
		return b
	}
	return v
}

// MakeResource builds a Resource from its type, ID and properties, standard
// properties going to their own fields.
func MakeResource(typ, id string, props map[string]any) (snapshot.Resource, error) {
	res := snapshot.Resource{Type: typ, ID: id}
	var err error
	for _, k := range SortedKeys(props) {
		v := props[k]
		switch k {
		case snapshot.PropOwnerID:
			res.OwnerID, err = asString(k, v)
		case snapshot.PropUnit:
			res.Unit, err = asUnit(k, v)
		case snapshot.PropFacilityID:
			res.FacilityID, err = asString(k, v)
		case snapshot.PropCompanyID:
			res.CompanyID, err = asString(k, v)
		case snapshot.PropAssigneeIDs:
			res.AssigneeIDs, err = asStrings(k, v)
		case snapshot.PropProjectContacts:
			res.ProjectContacts, err = asStrings(k, v)
		case snapshot.PropApprovals:
			res.Approvals, err = asApprovals(v)
		default:
			if res.Properties == nil {
				res.Properties = map[string]any{}
			}
			res.Properties[k] = v
		}
		if err != nil {
			return res, err
		}
	}
	return res, nil
}

// MakeSubject builds a Subject from its ID, IdP groups and properties.
func MakeSubject(id string, groups []string, props map[string]any) (snapshot.Subject, error) {
	sub := snapshot.Subject{ID: id, Groups: groups}
	var err error
	for _, k := range SortedKeys(props) {
		v := props[k]
		switch k {
		case "type":
			sub.Type, err = asString(k, v)
		case snapshot.AttrUnit:
			sub.Unit, err = asUnit(k, v)
		case snapshot.AttrCompany:
			sub.Company, err = asString(k, v)
		case snapshot.AttrCompanies:
			sub.Companies, err = asStrings(k, v)
		case snapshot.AttrFacilities:
			sub.Facilities, err = asStrings(k, v)
		case snapshot.AttrGroups:
			var gs []string
			gs, err = asStrings(k, v)
			sub.Groups = append(sub.Groups, gs...)
		default:
			if sub.Properties == nil {
				sub.Properties = map[string]any{}
			}
			sub.Properties[k] = v
		}
		if err != nil {
			return sub, err
		}
	}
	return sub, nil
}

// SortedKeys returns the keys of m, sorted.
func SortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

func asString(k string, v any) (string, error) {
	switch t := v.(type) {
	case string:
		return t, nil
	case int64, float64, int:
		return fmt.Sprint(t), nil
	}
	return "", fmt.Errorf("property %s: want a string, got %T", k, v)
}

// asUnit is asString for a unit, which must be canonical (snapshot.ValidUnit)
// as the endpoint requires: "" means none.
func asUnit(k string, v any) (string, error) {
	u, err := asString(k, v)
	if err != nil || u == "" {
		return u, err
	}
	if err := snapshot.ValidUnit(u); err != nil {
		return "", fmt.Errorf("property %s: %w", k, err)
	}
	return u, nil
}

func asStrings(k string, v any) ([]string, error) {
	switch t := v.(type) {
	case string:
		return []string{t}, nil
	case []string:
		return t, nil
	case []any:
		out := make([]string, 0, len(t))
		for _, x := range t {
			s, err := asString(k, x)
			if err != nil {
				return nil, err
			}
			out = append(out, s)
		}
		return out, nil
	}
	return nil, fmt.Errorf("property %s: want a list of strings, got %T", k, v)
}

func asApprovals(v any) ([]snapshot.Approval, error) {
	list, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("property approvals: want a list of {step, by}, got %T", v)
	}
	out := make([]snapshot.Approval, 0, len(list))
	for _, x := range list {
		m, ok := x.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("property approvals: want {step, by}, got %T", x)
		}
		step, _ := m["step"].(string)
		by, _ := m["by"].(string)
		if step == "" || by == "" || len(m) != 2 {
			return nil, fmt.Errorf("property approvals: want {step, by}, got %v", m)
		}
		out = append(out, snapshot.Approval{Step: step, By: by})
	}
	return out, nil
}
