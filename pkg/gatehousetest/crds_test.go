package gatehousetest

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
)

// TestEmbeddedCRDsMatchConfig fails when the embedded copy of the CRDs
// differs from config/crd/bases, which `make manifests` generates.
func TestEmbeddedCRDsMatchConfig(t *testing.T) {
	const fix = "the embedded CRDs (pkg/gatehousetest/crds) differ from config/crd/bases: run `go generate ./pkg/gatehousetest` (after `make manifests`) and commit pkg/gatehousetest/crds"
	config, err := filepath.Glob("../../config/crd/bases/*.yaml")
	if err != nil || len(config) == 0 {
		t.Fatalf("no CRDs in ../../config/crd/bases (%v)", err)
	}
	embedded, err := crdFiles.ReadDir("crds")
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, e := range embedded {
		names = append(names, e.Name())
	}
	var want []string
	for _, p := range config {
		name := filepath.Base(p)
		want = append(want, name)
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		got, err := crdFiles.ReadFile("crds/" + name)
		if err != nil {
			t.Errorf("%s is not embedded: %s", name, fix)
			continue
		}
		if !bytes.Equal(got, data) {
			t.Errorf("%s differs: %s", name, fix)
		}
	}
	for _, n := range names {
		if !slices.Contains(want, n) {
			t.Errorf("%s is embedded but not in config/crd/bases: %s", n, fix)
		}
	}
}

func TestCRDsDecode(t *testing.T) {
	crds, err := CRDs()
	if err != nil {
		t.Fatal(err)
	}
	var kinds []string
	for _, c := range crds {
		kinds = append(kinds, c.Spec.Names.Kind)
	}
	slices.Sort(kinds)
	want := []string{"ApprovalChain", "FieldPolicy", "PermissionSnapshot", "Role", "UserGroup"}
	if !slices.Equal(kinds, want) {
		t.Errorf("CRD kinds = %v, want %v", kinds, want)
	}
}
