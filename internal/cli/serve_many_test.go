package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// TestServeSetLean: tenants read lean and compiled concurrently are all
// served, and a problem is still reported at its field's line (the
// tenant's files are read again in full for it).
func TestServeSetLean(t *testing.T) {
	dir := t.TempDir()
	for i := range 12 {
		d := filepath.Join(dir, fmt.Sprintf("t%02d", i))
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		policy := strings.Replace(roleYAML, "%s", "view", 1)
		if i == 7 {
			policy = strings.Replace(policy, "  - {resources: [workorders], actions: [view]}",
				"  - resources: [workorders]\n    actions: [view]\n    when: 'nope('", 1)
		}
		files := map[string]string{
			"kustomization.yaml": fmt.Sprintf("namespace: t%02d\n", i),
			"policy.yaml":        policy,
		}
		for name, content := range files {
			if err := os.WriteFile(filepath.Join(d, name), []byte(content), 0o644); err != nil {
				t.Fatal(err)
			}
		}
	}
	var stderr syncBuffer
	e := &env{stderr: &stderr}
	set, err := readManifestsWith(e, []string{dir}, manifest.Options{Lean: true})
	if err != nil {
		t.Fatal(err)
	}
	st := store.New()
	tenants := serveSet(e, st, set, "", snapshot.DefaultLimits())
	if len(tenants) != 12 || st.Len() != 12 {
		t.Fatalf("%d tenants, %d served", len(tenants), st.Len())
	}
	for _, tn := range tenants {
		if st.Snapshot(tn) == nil {
			t.Errorf("%s not served", tn)
		}
	}
	want := fmt.Sprintf("gatehouse: tenant t07: left out: %s:8: ", filepath.Join(dir, "t07", "policy.yaml"))
	if !strings.Contains(stderr.String(), want) {
		t.Errorf("no problem at the when's line (%q) in:\n%s", want, stderr.String())
	}
	if got := tenantList(tenants); got != "12 tenants (t00 ... t11)" {
		t.Errorf("tenantList = %q", got)
	}
}
