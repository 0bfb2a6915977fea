package controllers_test

import (
	"context"
	"io"
	"sync"
	"sync/atomic"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// benchEnv is a local control plane for a benchmark: its config, a client
// without client-side rate limits (the benchmark's own, for populating),
// and the scheme. It stops when the benchmark ends.
func benchEnv(b *testing.B) (*rest.Config, client.Client, *runtime.Scheme) {
	b.Helper()
	// The managers' logs would drown the results.
	ctrl.SetLogger(zap.New(zap.WriteTo(io.Discard)))
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		b.Fatal(err)
	}
	if err := accessv1.AddToScheme(s); err != nil {
		b.Fatal(err)
	}
	env, err := testenv.New()
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { _ = env.Stop() })
	fast := rest.CopyConfig(cfg)
	fast.QPS, fast.Burst = -1, 0
	c, err := client.New(fast, client.Options{Scheme: s})
	if err != nil {
		b.Fatal(err)
	}
	return cfg, c, s
}

// createAll creates the objects objs yields, 32 calls at a time; the first
// error fails the benchmark.
func createAll(b *testing.B, c client.Client, objs func(yield func(client.Object))) {
	b.Helper()
	work := make(chan client.Object, 256)
	var wg sync.WaitGroup
	var failed atomic.Bool
	for range 32 {
		wg.Go(func() {
			for o := range work {
				if err := c.Create(context.Background(), o); err != nil && !failed.Swap(true) {
					b.Errorf("creating %s %s/%s: %v", o.GetObjectKind().GroupVersionKind().Kind, o.GetNamespace(), o.GetName(), err)
				}
			}
		})
	}
	objs(func(o client.Object) { work <- o })
	close(work)
	wg.Wait()
}

// modelObjects yields a generated tenant's objects in namespace ns.
func modelObjects(m *tenantgen.Model, ns string, yield func(client.Object)) {
	o := m.Objects()
	for _, obj := range o.All() {
		obj.SetNamespace(ns)
		obj.SetResourceVersion("")
		yield(obj)
	}
}
