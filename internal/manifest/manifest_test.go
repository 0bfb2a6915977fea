package manifest

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func write(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestReadSamples(t *testing.T) {
	set, err := Read([]string{"../../config/samples"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if got := set.Tenants(); len(got) != 1 || got[0] != "acme-field-services" {
		t.Fatalf("tenants = %v, want [acme-field-services] from kustomization.yaml", got)
	}
	objs := set.SnapshotObjects("acme-field-services")
	if len(objs.Roles) != 9 || len(objs.Groups) != 9 || len(objs.FieldPolicies) != 1 || len(objs.ApprovalChains) != 1 {
		t.Fatalf("counts: %d roles, %d groups, %d field policies, %d chains", len(objs.Roles), len(objs.Groups), len(objs.FieldPolicies), len(objs.ApprovalChains))
	}
	tech := set.Find("acme-field-services", "Role", "technician")
	if tech == nil {
		t.Fatal("technician not found")
	}
	if got, want := tech.Pos(), filepath.Join("../../config/samples", "roles.yaml")+":44"; got != want {
		t.Errorf("technician at %s, want %s", got, want)
	}
	if got, want := tech.FieldPos("spec.permissions[2].when"), filepath.Join("../../config/samples", "roles.yaml")+":61"; got != want {
		t.Errorf("technician when at %s, want %s", got, want)
	}
	// A path that does not exist resolves to the deepest existing node.
	if got, want := tech.FieldPos("spec.permissions[9].when"), filepath.Join("../../config/samples", "roles.yaml")+":52"; got != want {
		t.Errorf("missing field at %s, want %s", got, want)
	}
}

func TestReadTenants(t *testing.T) {
	dir := t.TempDir()
	write(t, dir, "a/kustomization.yaml", "namespace: team-a\nresources: [roles.yaml]\n")
	write(t, dir, "a/roles.yaml", `
apiVersion: v1
kind: Namespace
metadata: {name: team-a}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: r1}
spec: {fullAccess: true}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: r2, namespace: team-x}
spec: {fullAccess: true}
`)
	write(t, dir, "b/groups.json", `{"apiVersion":"access.gatehouse.dev/v1alpha1","kind":"List","items":[
{"apiVersion":"access.gatehouse.dev/v1alpha1","kind":"UserGroup","metadata":{"name":"g"},"spec":{"members":["u"],"roles":["r1"]}}]}`)
	write(t, dir, "b/notes.txt", "not yaml: [")
	set, err := Read([]string{dir}, Options{Tenant: "fallback"})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range set.Objects {
		got = append(got, o.Tenant+"/"+o.Kind+"/"+o.Name)
	}
	want := "team-a/Role/r1 team-x/Role/r2 fallback/UserGroup/g"
	if strings.Join(got, " ") != want {
		t.Errorf("objects = %v, want %s", got, want)
	}

	set, err = Read([]string{Stdin}, Options{Stdin: strings.NewReader("kind: Role\napiVersion: access.gatehouse.dev/v1alpha1\nmetadata: {name: s}\n")})
	if err != nil {
		t.Fatal(err)
	}
	if len(set.Objects) != 1 || set.Objects[0].Tenant != DefaultTenant || set.Objects[0].Pos() != "-:1" {
		t.Errorf("stdin: %+v", set.Objects)
	}
}

func TestReadErrors(t *testing.T) {
	dir := t.TempDir()
	cases := []struct {
		name, content, want string
	}{
		{"syntax.yaml", "apiVersion: v1\nkind: Role\nmetadata:\n  name: a\n  labels: b: c\n", "syntax.yaml:5: mapping values are not allowed"},
		{"unknown.yaml", `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata:
  name: r
spec:
  permissions:
  - resources: [a]
    actions: [view]
    scopee: own
`, `unknown.yaml:9: unknown field "spec.permissions[0].scopee"`},
		{"type.yaml", `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata:
  name: r
spec:
  fullAccess: "yes"
`, "type.yaml:6: spec.fullAccess: cannot use string as bool"},
		{"noname.yaml", "apiVersion: access.gatehouse.dev/v1alpha1\nkind: UserGroup\nspec: {}\n", "noname.yaml:1: UserGroup: metadata.name is required"},
		{"version.yaml", "apiVersion: access.gatehouse.dev/v2\nkind: Role\nmetadata: {name: r}\n", "version.yaml:1: apiVersion access.gatehouse.dev/v2 is not supported"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			p := write(t, dir, c.name, c.content)
			_, err := Read([]string{p}, Options{})
			if err == nil {
				t.Fatal("no error")
			}
			var me *Error
			if !errors.As(err, &me) {
				t.Errorf("error %T is not a *manifest.Error", err)
			}
			if !strings.Contains(err.Error(), c.want) {
				t.Errorf("error %q does not contain %q", err, c.want)
			}
		})
	}
	if _, err := Read([]string{filepath.Join(dir, "missing")}, Options{}); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("missing file: %v", err)
	}
}

func TestSplitPath(t *testing.T) {
	got := strings.Join(splitPath("spec.permissions[2].when"), "|")
	if got != "spec|permissions|[2]|when" {
		t.Errorf("splitPath = %s", got)
	}
	got = strings.Join(splitPath("spec.steps[0].approvers.roles[1]"), "|")
	if got != "spec|steps|[0]|approvers|roles|[1]" {
		t.Errorf("splitPath = %s", got)
	}
}
