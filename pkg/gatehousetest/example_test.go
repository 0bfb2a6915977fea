package gatehousetest_test

import (
	"context"
	"fmt"
	"log"

	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatehouse-dev/gatehouse/pkg/gatehousetest"
)

// An app's suite starts an API server with envtest, runs Gatehouse on it,
// applies its policy and asserts decisions. It needs kube-apiserver and
// etcd (KUBEBUILDER_ASSETS, from setup-envtest), so it has no Output.
func Example() {
	env := &envtest.Environment{} // no CRDs needed: Start installs Gatehouse's
	cfg, err := env.Start()
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = env.Stop() }()

	ctx := context.Background()
	kit, err := gatehousetest.Start(ctx, cfg, gatehousetest.Options{})
	if err != nil {
		log.Fatal(err)
	}
	defer func() { _ = kit.Stop() }()

	// The policy: a kustomize directory or YAML files; "acme" is the tenant.
	if err := kit.ApplyFiles(ctx, "acme", "config/samples"); err != nil {
		log.Fatal(err)
	}
	if _, err := kit.WaitForRevision(ctx, "acme"); err != nil {
		log.Fatal(err)
	}
	d, err := kit.Check(ctx, "acme", gatehousetest.Request{
		Subject: "tom.tech", Action: "edit", ResourceType: "workorders",
		ResourceProperties: map[string]any{"unit": "/ca/bc/vancouver"},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(d.Allowed, d.Reason) // false ScopeNotMatched

	// Your app calls the same endpoint: kit.URL + "/tenants/acme/access/v1/evaluation".
	fmt.Println(kit.EvaluationURL("acme"))
}
