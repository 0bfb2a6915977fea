package controllers_test

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// BenchmarkHeavyNeighbour measures, against a real API server (envtest),
// whether one tenant's slow compile delays another tenant's change: a heavy
// tenant (GATEHOUSE_BENCH_HEAVY_USERS users, default 100,000: 200 roles and
// 2,000 groups, about 1–2 s per compile here) is changed again as soon as
// each change is served, so it compiles without pause, while Role changes
// of small tenants are timed from the API call until the store serves
// them. Reported: the small tenants' p50, p99 and max propagation, and how
// many heavy compiles ran meanwhile. Target (issue [9 isolation]): ≤ 1 s.
func BenchmarkHeavyNeighbour(b *testing.B) {
	heavyUsers := envInt("GATEHOUSE_BENCH_HEAVY_USERS", 100_000)
	changes := envInt("GATEHOUSE_BENCH_CHANGES", 40)
	cfg, c, s := benchEnv(b)
	ctx := context.Background()

	start := time.Now()
	populate := func(ns string, m *tenantgen.Model) {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			b.Fatal(err)
		}
		createAll(b, c, func(yield func(client.Object)) { modelObjects(m, ns, yield) })
	}
	populate("heavy", tenantgen.Generate(tenantgen.Default(heavyUsers)))
	const small = 4
	for i := range small {
		populate(fmt.Sprintf("small-%d", i), tenantgen.Generate(tenantgen.Config{Seed: uint64(i + 1), Users: 200, Roles: 20, Groups: 25, FieldPolicies: 2}))
	}
	if b.Failed() {
		return
	}
	b.Logf("populated in %s", time.Since(start).Round(time.Millisecond))

	m := startBenchManager(b, cfg, s)
	defer m.stop(b)
	if !waitUntil(10*time.Minute, 10*time.Millisecond, m.rec.Readiness().Ready) {
		b.Fatal("not ready after 10 minutes")
	}

	// toggle adds or removes the action "benchmark" on the first permission
	// of the tenant's first role that has one, and returns the revision
	// served before the change.
	toggle := func(tenant string, add bool) (string, error) {
		var roles accessv1.RoleList
		if err := c.List(ctx, &roles, client.InNamespace(tenant)); err != nil {
			return "", err
		}
		i := slices.IndexFunc(roles.Items, func(r accessv1.Role) bool { return len(r.Spec.Permissions) > 0 })
		if i < 0 {
			return "", fmt.Errorf("no role with permissions in %s", tenant)
		}
		role := &roles.Items[i]
		orig := role.DeepCopy()
		acts := slices.DeleteFunc(slices.Clone(orig.Spec.Permissions[0].Actions), func(a accessv1.ActionName) bool { return a == "benchmark" })
		if add {
			acts = append(acts, "benchmark")
		}
		role.Spec.Permissions[0].Actions = acts
		prev := ""
		if e := m.store.Get(tenant); e != nil {
			prev = e.Snapshot.Revision()
		}
		return prev, c.Patch(ctx, role, client.MergeFrom(orig))
	}
	served := func(tenant, prev string, timeout time.Duration) error {
		wctx, cancel := context.WithTimeout(ctx, timeout)
		defer cancel()
		_, err := m.store.WaitFor(wctx, tenant, func(e *store.Entry) bool { return e != nil && e.Snapshot.Revision() != prev })
		return err
	}

	// The heavy tenant compiles without pause until the measure is over.
	stop := make(chan struct{})
	var heavyCompiles atomic.Int64
	var heavyWG sync.WaitGroup
	heavyWG.Go(func() {
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			default:
			}
			prev, err := toggle("heavy", i%2 == 0)
			if err != nil {
				b.Error(err)
				return
			}
			if err := served("heavy", prev, time.Minute); err != nil {
				b.Errorf("heavy change %d not served: %v", i, err)
				return
			}
			heavyCompiles.Add(1)
		}
	})
	// Let the first heavy compile start before measuring.
	time.Sleep(200 * time.Millisecond)

	lat := make([]time.Duration, 0, changes)
	for i := range changes {
		tenant := fmt.Sprintf("small-%d", i%small)
		t0 := time.Now()
		prev, err := toggle(tenant, (i/small)%2 == 0)
		if err != nil {
			b.Fatal(err)
		}
		if err := served(tenant, prev, 30*time.Second); err != nil {
			b.Fatalf("small change %d not served: %v", i, err)
		}
		lat = append(lat, time.Since(t0))
		// Spread the changes over several heavy compiles.
		time.Sleep(50 * time.Millisecond)
	}
	close(stop)
	heavyWG.Wait()

	slices.Sort(lat)
	pct := func(p float64) time.Duration { return lat[min(len(lat)-1, int(p*float64(len(lat))))] }
	b.ReportMetric(float64(pct(0.50).Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(pct(0.99).Microseconds())/1000, "p99-ms")
	b.ReportMetric(float64(lat[len(lat)-1].Microseconds())/1000, "max-ms")
	b.ReportMetric(float64(heavyCompiles.Load()), "heavy-compiles")
}
