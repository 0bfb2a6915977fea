package views

import (
	"slices"
	"sort"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// FieldTable is, per module a FieldPolicy covers, roles × fields.
type FieldTable struct {
	Tenant  string        `json:"tenant"`
	Roles   []RoleInfo    `json:"roles"`
	Modules []FieldModule `json:"modules"` // sorted by module
}

// FieldModule is one module's fields: a row per role.
type FieldModule struct {
	Module string `json:"module"`
	// Policies are the FieldPolicies of the module (their names).
	Policies []string `json:"policies"`
	// Fields are the fields the served policy lists (custom fields
	// included), sorted.
	Fields []string `json:"fields"`
	// Rows are in the order of FieldTable.Roles.
	Rows []FieldRoleRow `json:"rows"`
}

// FieldRoleRow is what a holder of one role alone may do with a module's fields.
type FieldRoleRow struct {
	Role string `json:"role"`
	// Access is write, read or hidden, in the order of FieldModule.Fields.
	Access []v1alpha1.FieldAccess `json:"access"`
	// Default is the access to the fields the policy does not list.
	Default v1alpha1.FieldAccess `json:"default"`
	// Reason is set when the evaluator denies the holder every field
	// (e.g. NoRoles).
	Reason string `json:"reason,omitempty"`
}

// HasModule reports whether the field matrix has the module.
func (f FieldTable) HasModule(module string) bool {
	return slices.ContainsFunc(f.Modules, func(m FieldModule) bool { return m.Module == module })
}

// Filter keeps the module (all when empty).
func (f FieldTable) Filter(module string) FieldTable {
	if module == "" {
		return f
	}
	out := FieldTable{Tenant: f.Tenant, Roles: f.Roles}
	for _, m := range f.Modules {
		if m.Module == module {
			out.Modules = append(out.Modules, m)
		}
	}
	return out
}

// FieldMatrix computes, for every module a served FieldPolicy covers, the
// access of a synthetic holder of each compiled role alone to each field,
// with the evaluator (snapshot.Fields): what /v1/fields answers that holder.
func FieldMatrix(tenant string, objs snapshot.Objects, snap *snapshot.Snapshot) (FieldTable, error) {
	out := FieldTable{Tenant: tenant, Roles: []RoleInfo{}, Modules: []FieldModule{}}
	syn, err := compileSynthetic(tenant, objs, snap)
	if err != nil {
		return out, err
	}
	out.Roles = syn.roles
	policies := map[string][]string{}
	for _, fp := range objs.FieldPolicies {
		policies[string(fp.Spec.Resource)] = append(policies[string(fp.Spec.Resource)], fp.Name)
	}
	modules := make([]string, 0, len(policies))
	for m := range policies {
		modules = append(modules, m)
	}
	sort.Strings(modules)
	for _, m := range modules {
		fm := FieldModule{Module: m, Policies: policies[m], Fields: []string{}}
		var res []snapshot.FieldAccessResult
		covered := false
		for _, r := range syn.roles {
			fa := syn.snap.Fields(&snapshot.Request{Subject: subject(r.Name), Resource: snapshot.Resource{Type: m}})
			covered = covered || (fa.Covered && fa.Reason == "")
			res = append(res, fa)
			for _, list := range [][]string{fa.Readable, fa.Hidden} {
				for _, f := range list {
					if !slices.Contains(fm.Fields, f) {
						fm.Fields = append(fm.Fields, f)
					}
				}
			}
		}
		if !covered && len(syn.roles) > 0 {
			continue // every policy of the module was left out
		}
		sort.Strings(fm.Fields)
		for i, r := range syn.roles {
			fa := res[i]
			row := FieldRoleRow{Role: r.Name, Default: fa.Default, Reason: fa.Reason, Access: make([]v1alpha1.FieldAccess, len(fm.Fields))}
			for j, f := range fm.Fields {
				switch {
				case slices.Contains(fa.Writable, f):
					row.Access[j] = v1alpha1.FieldWrite
				case slices.Contains(fa.Readable, f):
					row.Access[j] = v1alpha1.FieldRead
				default:
					row.Access[j] = v1alpha1.FieldHidden
				}
			}
			fm.Rows = append(fm.Rows, row)
		}
		out.Modules = append(out.Modules, fm)
	}
	return out, nil
}
