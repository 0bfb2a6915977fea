package apptest_test

import (
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatehouse-dev/gatehouse/examples/apptest"
	"github.com/gatehouse-dev/gatehouse/pkg/gatehousetest"
)

// The app's envtest suite: an API server (kube-apiserver and etcd from
// KUBEBUILDER_ASSETS, as setup-envtest installs them), Gatehouse on it,
// the app's policy applied, and the app asking the real endpoint.
func TestEditWorkOrder(t *testing.T) {
	env := &envtest.Environment{}
	if os.Getenv("KUBEBUILDER_ASSETS") == "" {
		// This repository's `make envtest`; an app uses setup-envtest.
		env.BinaryAssetsDirectory = "../../bin/k8s"
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	ctx := context.Background()
	kit := gatehousetest.StartTest(t, cfg, gatehousetest.Options{})
	if err := kit.ApplyFiles(ctx, "acme", "testdata/policy"); err != nil {
		t.Fatal(err)
	}
	if _, err := kit.WaitForRevision(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(&apptest.App{Gatehouse: kit.URL, Tenant: "acme"})
	defer app.Close()

	for _, tc := range []struct {
		user, unit string
		want       int
	}{
		{"tom.tech", "/ca/ab/calgary", http.StatusOK},
		{"tom.tech", "/ca/bc/vancouver", http.StatusForbidden},
		{"mallory", "/ca/ab/calgary", http.StatusForbidden},
	} {
		req, _ := http.NewRequest(http.MethodPut, app.URL+"/workorders/42?unit="+tc.unit, nil)
		req.Header.Set("X-User", tc.user)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tc.want {
			t.Errorf("%s edits a work order of %s: %s, want %d", tc.user, tc.unit, resp.Status, tc.want)
		}
	}
}
