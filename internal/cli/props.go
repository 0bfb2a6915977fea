package cli

import (
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// listProps are the properties given as comma-separated lists on the
// command line: the standard record properties that are lists, and the
// subject's list attributes.
var listProps = propsOfKind(snapshot.PropStringList, "companies", "facilities", "groups")

// stringProps are the properties that are always strings: the standard
// record properties that are strings, and the subject's company.
var stringProps = propsOfKind(snapshot.PropString, "company")

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

// parseProps parses KEY=VALUE flags. Lists (assigneeIds, projectContacts,
// companies, facilities, groups) are comma-separated; approvals are
// step:by pairs, comma-separated; other values are numbers or booleans when
// they parse as such, strings otherwise.
func parseProps(flags []string) (map[string]any, error) {
	props := map[string]any{}
	for _, f := range flags {
		k, v, ok := strings.Cut(f, "=")
		if !ok || k == "" {
			return nil, usageError("property %q: want KEY=VALUE", f)
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
					return nil, usageError("approvals: %q: want STEP:BY", x)
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

// makeResource builds a Resource from its type, ID and properties, standard
// properties going to their own fields.
func makeResource(typ, id string, props map[string]any) (snapshot.Resource, error) {
	res := snapshot.Resource{Type: typ, ID: id}
	var err error
	for _, k := range sortedKeys(props) {
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

// makeSubject builds a Subject from its ID, IdP groups and properties.
func makeSubject(id string, groups []string, props map[string]any) (snapshot.Subject, error) {
	sub := snapshot.Subject{ID: id, Groups: groups}
	var err error
	for _, k := range sortedKeys(props) {
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

func sortedKeys[V any](m map[string]V) []string {
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

// splitResource splits "workorders/42" into type and ID.
func splitResource(s string) (typ, id string) {
	typ, id, _ = strings.Cut(s, "/")
	return typ, id
}
