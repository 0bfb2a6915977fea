package manifest

import (
	"fmt"
	"path/filepath"
	"reflect"
	"testing"
)

// TestReadLeanAndByTenant: a lean read decodes the same objects, in the
// same order, positioned at their own line; ByTenant is SnapshotObjects
// of every tenant. Many files exercise the concurrent parse.
func TestReadLeanAndByTenant(t *testing.T) {
	dir := t.TempDir()
	for i := range 40 {
		ns := ""
		if i%3 == 0 {
			ns = fmt.Sprintf(", namespace: t%d", i%7)
		}
		write(t, dir, fmt.Sprintf("d%02d/kustomization.yaml", i), fmt.Sprintf("namespace: k%d\n", i%5))
		write(t, dir, fmt.Sprintf("d%02d/roles.yaml", i), fmt.Sprintf(`
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: r%d%s}
spec:
  permissions:
  - resources: [x]
    actions: [view]
    when: "resource.properties.n > %d"
`, i, ns, i))
	}
	full, err := Read([]string{dir, "../../config/samples"}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	lean, err := Read([]string{dir, "../../config/samples"}, Options{Lean: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(full.Objects) != len(lean.Objects) {
		t.Fatalf("%d objects, lean %d", len(full.Objects), len(lean.Objects))
	}
	for i, o := range full.Objects {
		l := lean.Objects[i]
		if o.Tenant != l.Tenant || o.Kind != l.Kind || o.Name != l.Name || o.Pos() != l.Pos() {
			t.Errorf("object %d: %s/%s/%s at %s, lean %s/%s/%s at %s", i, o.Tenant, o.Kind, o.Name, o.Pos(), l.Tenant, l.Kind, l.Name, l.Pos())
		}
		if l.FieldPos("spec.permissions[0].when") != l.Pos() {
			t.Errorf("lean %s: field at %s, want the object's line %s", l.Name, l.FieldPos("spec.permissions[0].when"), l.Pos())
		}
	}
	by := lean.ByTenant()
	if len(by) != len(full.Tenants()) {
		t.Errorf("ByTenant has %d tenants, want %d", len(by), len(full.Tenants()))
	}
	for _, tn := range full.Tenants() {
		if !reflect.DeepEqual(by[tn], full.SnapshotObjects(tn)) {
			t.Errorf("tenant %s: ByTenant differs from SnapshotObjects", tn)
		}
	}
	if got := filepath.Base(lean.Find("acme-field-services", "Role", "technician").Pos()); got != "roles.yaml:44" {
		t.Errorf("technician at %s", got)
	}
}
