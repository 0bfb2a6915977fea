package views

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

const fieldsYAML = levelsYAML + `---
apiVersion: access.gatehouse.dev/v1alpha1
kind: FieldPolicy
metadata: {name: invoice-fields}
spec:
  resource: invoices
  default: read
  fields:
  - name: amount
    grants:
    - {roles: [supervisor], access: write}
  - name: custom.costCenter
    default: hidden
    grants:
    - {roles: [lead], access: read}
`

func fieldAccess(t *testing.T, f FieldTable, module, role, field string) v1alpha1.FieldAccess {
	t.Helper()
	for _, m := range f.Modules {
		if m.Module != module {
			continue
		}
		for _, r := range m.Rows {
			if r.Role != role {
				continue
			}
			if field == "" {
				return r.Default
			}
			for i, name := range m.Fields {
				if name == field {
					return r.Access[i]
				}
			}
		}
	}
	t.Fatalf("no %s/%s/%s", module, role, field)
	return ""
}

func TestFieldMatrix(t *testing.T) {
	tenant, objs, snap := loadSamples(t)
	sf, err := FieldMatrix(tenant, objs, snap)
	if err != nil {
		t.Fatal(err)
	}
	tenant, objs, snap = loadYAML(t, fieldsYAML)
	yf, err := FieldMatrix(tenant, objs, snap)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		f                   FieldTable
		module, role, field string // field "": the policy's default
		want                v1alpha1.FieldAccess
	}{
		"samples: technician billingRate hidden":                {f: sf, module: "workorders", role: "technician", field: "billingRate", want: v1alpha1.FieldHidden},
		"samples: limited-technician billingRate hidden":        {f: sf, module: "workorders", role: "limited-technician", field: "billingRate", want: v1alpha1.FieldHidden},
		"samples: billing-clerk billingRate write":              {f: sf, module: "workorders", role: "billing-clerk", field: "billingRate", want: v1alpha1.FieldWrite},
		"samples: view-only billingRate read (default)":         {f: sf, module: "workorders", role: "view-only", field: "billingRate", want: v1alpha1.FieldRead},
		"samples: administrator writes all (fullAccess)":        {f: sf, module: "workorders", role: "administrator", field: "margin", want: v1alpha1.FieldWrite},
		"samples: custom field":                                 {f: sf, module: "workorders", role: "limited-administrator", field: "custom.warrantyCode", want: v1alpha1.FieldWrite},
		"samples: requester status read":                        {f: sf, module: "workorders", role: "requester", field: "status", want: v1alpha1.FieldRead},
		"samples: unlisted fields write":                        {f: sf, module: "workorders", role: "technician", want: v1alpha1.FieldWrite},
		"yaml: grant write":                                     {f: yf, module: "invoices", role: "supervisor", field: "amount", want: v1alpha1.FieldWrite},
		"yaml: grant through extends (lead extends supervisor)": {f: yf, module: "invoices", role: "lead", field: "amount", want: v1alpha1.FieldWrite},
		"yaml: custom field read by grant":                      {f: yf, module: "invoices", role: "lead", field: "custom.costCenter", want: v1alpha1.FieldRead},
		"yaml: custom field hidden by its default":              {f: yf, module: "invoices", role: "supervisor", field: "custom.costCenter", want: v1alpha1.FieldHidden},
		"yaml: unlisted fields read (the policy default)":       {f: yf, module: "invoices", role: "lead", want: v1alpha1.FieldRead},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			if got := fieldAccess(t, tc.f, tc.module, tc.role, tc.field); got != tc.want {
				t.Errorf("%s, want %s", got, tc.want)
			}
		})
	}
	if !yf.HasModule("invoices") || yf.HasModule("workorders") || len(yf.Filter("invoices").Modules) != 1 || len(yf.Filter("").Modules) != 1 {
		t.Error("HasModule/Filter")
	}
}

// TestFieldMatrixMatchesFields: every row is what the evaluator answers a
// member of a group with that role alone (what /v1/fields answers).
func TestFieldMatrixMatchesFields(t *testing.T) {
	tenant, objs, snap := loadSamples(t)
	f, err := FieldMatrix(tenant, objs, snap)
	if err != nil {
		t.Fatal(err)
	}
	syn, _ := compileSynthetic(tenant, objs, snap)
	for _, m := range f.Modules {
		for _, r := range m.Rows {
			res := syn.snap.Fields(&snapshot.Request{Subject: subject(r.Role), Resource: snapshot.Resource{Type: m.Module}})
			for i, name := range m.Fields {
				want := v1alpha1.FieldHidden
				for _, w := range res.Readable {
					if w == name {
						want = v1alpha1.FieldRead
					}
				}
				for _, w := range res.Writable {
					if w == name {
						want = v1alpha1.FieldWrite
					}
				}
				if r.Access[i] != want {
					t.Errorf("%s/%s/%s: %s, want %s", m.Module, r.Role, name, r.Access[i], want)
				}
			}
		}
	}
}
