package views

import (
	"bytes"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// samples is config/samples, relative to this package.
var samples = filepath.Join("..", "..", "config", "samples")

// load compiles the only tenant of a manifest set.
func load(t *testing.T, set *manifest.Set) (string, snapshot.Objects, *snapshot.Snapshot) {
	t.Helper()
	byTenant := set.ByTenant()
	if len(byTenant) != 1 {
		t.Fatalf("%d tenants", len(byTenant))
	}
	for name, objs := range byTenant {
		snap, problems := snapshot.Compile(name, objs)
		if len(problems) > 0 {
			t.Fatalf("problems: %v", problems)
		}
		return name, objs, snap
	}
	panic("unreachable")
}

func loadSamples(t *testing.T) (string, snapshot.Objects, *snapshot.Snapshot) {
	t.Helper()
	set, err := manifest.Read([]string{samples}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return load(t, set)
}

func loadYAML(t *testing.T, yaml string) (string, snapshot.Objects, *snapshot.Snapshot) {
	t.Helper()
	set := &manifest.Set{}
	if err := set.Add("policy.yaml", []byte(yaml), "acme"); err != nil {
		t.Fatal(err)
	}
	return load(t, set)
}

// hostile is free text where policy allows it: a condition.
const hostile = `resource.properties.note == "<script>alert(1)</script>"`

// levelsYAML has one action per level and scope kind.
const levelsYAML = `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: root}
spec: {fullAccess: true, displayName: "Root <b>all</b>"}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: supervisor}
spec:
  permissions:
  - {resources: [workorders], actions: [approve], scope: unitTree}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: lead}
spec:
  extends: [supervisor]
  permissions:
  - {resources: [workorders], actions: [view]}
  - {resources: [workorders], actions: [edit], scope: own}
  - {resources: [workorders], actions: [assign], scope: assigned}
  - {resources: [workorders], actions: [archive], scope: ownOrAssigned}
  - {resources: [workorders], actions: [share], scope: contact}
  - {resources: [workorders], actions: [export], scope: unit}
  - {resources: [workorders], actions: [create], scope: facility}
  - {resources: [workorders], actions: [comment], scope: company}
  - resources: [workorders]
    actions: [delete]
    when: 'resource.properties.note == "<script>alert(1)</script>"'
  - {resources: [invoices], actions: [view], scope: own}
  - {resources: [invoices], actions: [view], scope: unit}
  - {resources: [invoices], actions: [edit], scope: own, when: "resource.properties.amount < 10"}
  - {resources: [invoices], actions: [create], when: "subject.attributes.level == 'senior'"}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: UserGroup
metadata: {name: leads}
spec: {roles: [lead, root], members: [ann]}
`

func cellOf(t *testing.T, m LevelMatrix, module, action, role string) LevelCell {
	t.Helper()
	col := -1
	for i, r := range m.Roles {
		if r.Name == role {
			col = i
		}
	}
	for _, r := range m.Rows {
		if r.Module == module && r.Action == action && col >= 0 {
			return r.Cells[col]
		}
	}
	t.Fatalf("no cell %s/%s/%s", module, action, role)
	return LevelCell{}
}

func TestRoleLevelsMatrix(t *testing.T) {
	tenant, objs, snap := loadYAML(t, levelsYAML)
	m, err := RoleLevels(tenant, objs, snap)
	if err != nil {
		t.Fatal(err)
	}
	sTenant, sObjs, sSnap := loadSamples(t)
	sm, err := RoleLevels(sTenant, sObjs, sSnap)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		m                    LevelMatrix
		module, action, role string
		level                Level
		grants               []Grant
	}{
		"fullAccess":             {m: m, module: "workorders", action: "view", role: "root", level: Full, grants: []Grant{{FullAccess: true}}},
		"scope all":              {m: m, module: "workorders", action: "view", role: "lead", level: Full, grants: []Grant{{Scope: "all"}}},
		"own":                    {m: m, module: "workorders", action: "edit", role: "lead", level: Partial, grants: []Grant{{Scope: "own"}}},
		"assigned":               {m: m, module: "workorders", action: "assign", role: "lead", level: Partial, grants: []Grant{{Scope: "assigned"}}},
		"ownOrAssigned":          {m: m, module: "workorders", action: "archive", role: "lead", level: Partial, grants: []Grant{{Scope: "ownOrAssigned"}}},
		"contact":                {m: m, module: "workorders", action: "share", role: "lead", level: Scoped, grants: []Grant{{Scope: "contact"}}},
		"unit":                   {m: m, module: "workorders", action: "export", role: "lead", level: Scoped, grants: []Grant{{Scope: "unit"}}},
		"facility":               {m: m, module: "workorders", action: "create", role: "lead", level: Scoped, grants: []Grant{{Scope: "facility"}}},
		"company":                {m: m, module: "workorders", action: "comment", role: "lead", level: Scoped, grants: []Grant{{Scope: "company"}}},
		"unitTree via extends":   {m: m, module: "workorders", action: "approve", role: "lead", level: Scoped, grants: []Grant{{Scope: "unitTree", From: "supervisor"}}},
		"unitTree own":           {m: m, module: "workorders", action: "approve", role: "supervisor", level: Scoped, grants: []Grant{{Scope: "unitTree"}}},
		"conditional, text kept": {m: m, module: "workorders", action: "delete", role: "lead", level: Conditional, grants: []Grant{{Scope: "all", When: hostile}}},
		"the most open scope":    {m: m, module: "invoices", action: "view", role: "lead", level: Scoped, grants: []Grant{{Scope: "own"}, {Scope: "unit"}}},
		"own with a condition":   {m: m, module: "invoices", action: "edit", role: "lead", level: Conditional, grants: []Grant{{Scope: "own", When: "resource.properties.amount < 10"}}},
		// The synthetic holder has no level attribute: the evaluator says
		// no record, and the cell keeps the grant to show why.
		"a condition on the subject only": {m: m, module: "invoices", action: "create", role: "lead", level: None,
			grants: []Grant{{Scope: "all", When: "subject.attributes.level == 'senior'"}}},
		"none":                               {m: m, module: "workorders", action: "view", role: "supervisor", level: None},
		"samples: limited-technician view":   {m: sm, module: "workorders", action: "view", role: "limited-technician", level: Partial, grants: []Grant{{Scope: "ownOrAssigned"}}},
		"samples: limited-technician edit":   {m: sm, module: "workorders", action: "edit", role: "limited-technician", level: Partial, grants: []Grant{{Scope: "ownOrAssigned"}}},
		"samples: limited-technician create": {m: sm, module: "workorders", action: "create", role: "limited-technician", level: Full, grants: []Grant{{Scope: "all"}}},
		"samples: technician unitTree":       {m: sm, module: "workorders", action: "edit", role: "technician", level: Scoped, grants: []Grant{{Scope: "unitTree"}}},
		"samples: technician amount":         {m: sm, module: "purchaseorders", action: "create", role: "technician", level: Conditional, grants: []Grant{{Scope: "all", When: "resource.properties.amount <= 5000"}}},
		"samples: inherited from field-base": {m: sm, module: "assets", action: "view", role: "technician", level: Full, grants: []Grant{{Scope: "all", From: "field-base"}}},
		"samples: requester own":             {m: sm, module: "workorders", action: "view", role: "requester", level: Partial, grants: []Grant{{Scope: "own"}}},
		"samples: administrator":             {m: sm, module: "invoices", action: "edit", role: "administrator", level: Full, grants: []Grant{{FullAccess: true}}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := cellOf(t, tc.m, tc.module, tc.action, tc.role)
			if c.Level != tc.level {
				t.Errorf("level %s, want %s (grants %+v)", c.Level, tc.level, c.Grants)
			}
			if len(c.Grants) != len(tc.grants) {
				t.Fatalf("grants %+v, want %+v", c.Grants, tc.grants)
			}
			for i := range c.Grants {
				if c.Grants[i] != tc.grants[i] {
					t.Errorf("grant %d: %+v, want %+v", i, c.Grants[i], tc.grants[i])
				}
			}
		})
	}
	if got := m.Roles[0]; got.Name != "root" || got.DisplayName != "Root <b>all</b>" {
		t.Errorf("roles[0] = %+v", got)
	}
}

// TestRoleLevelsMatchDecisions: a cell's level agrees with the evaluator's
// plan for the synthetic holder, on every cell of the samples.
func TestRoleLevelsMatrixMatchesPlans(t *testing.T) {
	tenant, objs, snap := loadSamples(t)
	m, err := RoleLevels(tenant, objs, snap)
	if err != nil {
		t.Fatal(err)
	}
	syn, err := compileSynthetic(tenant, objs, snap)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range m.Rows {
		for i, c := range r.Cells {
			kind := syn.snap.Plan(subject(m.Roles[i].Name), r.Action, r.Module).Kind
			want := map[snapshot.PlanKind]Level{snapshot.PlanAlways: Full, snapshot.PlanNever: None, snapshot.PlanConditional: Partial}[kind]
			if c.Level.Coarse() != want {
				t.Errorf("%s/%s/%s: %s, plan %s", r.Module, r.Action, m.Roles[i].Name, c.Level, kind)
			}
		}
	}
}

func TestRoleLevelsMatrixFilterAndCSV(t *testing.T) {
	tenant, objs, snap := loadYAML(t, levelsYAML)
	m, err := RoleLevels(tenant, objs, snap)
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		module, role string
		csv          string
		coarse       bool
	}{
		"module and role": {module: "invoices", role: "lead",
			csv: "module,action,lead\ninvoices,view,scoped\ninvoices,edit,conditional\ninvoices,create,none\n"},
		"module and role, coarse": {module: "invoices", role: "lead", coarse: true,
			csv: "module,action,lead\ninvoices,view,partial\ninvoices,edit,partial\ninvoices,create,none\n"},
		"module": {module: "invoices",
			csv: "module,action,root,supervisor,lead\ninvoices,view,full,none,scoped\ninvoices,edit,full,none,conditional\ninvoices,create,full,none,none\n"},
		"role": {role: "supervisor",
			csv: "module,action,supervisor\ninvoices,view,none\ninvoices,edit,none\ninvoices,create,none\n" +
				"workorders,approve,scoped\nworkorders,view,none\nworkorders,edit,none\nworkorders,assign,none\nworkorders,archive,none\n" +
				"workorders,share,none\nworkorders,export,none\nworkorders,create,none\nworkorders,comment,none\nworkorders,delete,none\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var buf bytes.Buffer
			if err := m.Filter(tc.module, tc.role).WriteCSV(&buf, tc.coarse); err != nil {
				t.Fatal(err)
			}
			if buf.String() != tc.csv {
				t.Errorf("CSV:\n%s\nwant:\n%s", buf.String(), tc.csv)
			}
		})
	}
	if !m.HasModule("invoices") || m.HasModule("nope") || !m.HasRole("lead") || m.HasRole("nope") {
		t.Error("HasModule/HasRole")
	}
	if got := strings.Join(m.Modules(), ","); got != "invoices,workorders" {
		t.Errorf("modules %s", got)
	}
}

func TestRoleLevelsMatrixReservedGroup(t *testing.T) {
	tenant, objs, snap := loadYAML(t, `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: viewer}
spec: {permissions: [{resources: [a], actions: [view]}]}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: UserGroup
metadata: {name: gatehouse-matrix-viewer}
spec: {roles: [viewer], members: [ann]}
`)
	if _, err := RoleLevels(tenant, objs, snap); err == nil || !strings.Contains(err.Error(), "reserved") {
		t.Errorf("err = %v", err)
	}
	if _, err := RoleLevels(tenant, objs, nil); err == nil {
		t.Error("no snapshot: no error")
	}
}
