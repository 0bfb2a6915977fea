package controllers_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"strconv"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/controllers"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// BenchmarkManagerTenants measures one manager serving many small tenants
// (GATEHOUSE_BENCH_SAMPLE_TENANTS copies of config/samples, default 1,000;
// the target is 10,000 in ≤ 500 MB RSS, ready in ≤ 15 s), against a real
// API server (envtest). Reported:
//
//   - ready-s: from the manager's start until /readyz (every tenant served);
//   - cache-B/tenant: live heap of the informer cache alone (a cache of the
//     access kinds and Namespaces, synced, nothing else running);
//   - heap-B/tenant: live heap of the whole manager once ready (cache,
//     snapshots, controllers), after a GC;
//   - rss-MB: the test process's resident memory once ready, which the
//     manager dominates (the API server and etcd are other processes).
func BenchmarkManagerTenants(b *testing.B) {
	tenants := envInt("GATEHOUSE_BENCH_SAMPLE_TENANTS", 1000)
	if os.Getenv("GATEHOUSE_BENCH_HEAP_PROFILE") != "" {
		runtime.MemProfileRate = 4096
	}
	cfg, c, s := benchEnv(b)
	ctx := context.Background()

	root, err := testenv.RepoRoot()
	if err != nil {
		b.Fatal(err)
	}
	samples, err := testenv.Samples(filepath.Join(root, "config", "samples"))
	if err != nil {
		b.Fatal(err)
	}
	start := time.Now()
	name := func(i int) string { return fmt.Sprintf("tenant-%05d", i) }
	createAll(b, c, func(yield func(client.Object)) {
		for i := range tenants {
			yield(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name(i)}})
		}
	})
	objects := 0
	createAll(b, c, func(yield func(client.Object)) {
		for i := range tenants {
			for _, o := range samples {
				if o.GetKind() == "Namespace" {
					continue
				}
				cp := o.DeepCopy()
				cp.SetNamespace(name(i))
				yield(cp)
				objects++
			}
		}
	})
	if b.Failed() {
		return
	}
	b.Logf("populated %d tenants, %d access objects in %s", tenants, objects, time.Since(start).Round(time.Millisecond))

	// The informer cache alone.
	base := liveHeap()
	ca, err := cache.New(cfg, cache.Options{Scheme: s, DefaultTransform: controllers.CacheTransform})
	if err != nil {
		b.Fatal(err)
	}
	cctx, stopCache := context.WithCancel(ctx)
	for _, obj := range []client.Object{&accessv1.Role{}, &accessv1.UserGroup{}, &accessv1.FieldPolicy{}, &accessv1.ApprovalChain{}, &corev1.Namespace{}} {
		if _, err := ca.GetInformer(cctx, obj); err != nil {
			b.Fatal(err)
		}
	}
	go func() { _ = ca.Start(cctx) }()
	if !ca.WaitForCacheSync(cctx) {
		b.Fatal("cache did not sync")
	}
	cacheHeap := liveHeap() - base
	stopCache()
	ca = nil
	runtime.GC()

	base = liveHeap()
	start = time.Now()
	m := startBenchManager(b, cfg, s)
	defer m.stop(b)
	if !waitUntil(10*time.Minute, 10*time.Millisecond, m.rec.Readiness().Ready) {
		b.Fatalf("not ready after 10 minutes; pending %d", len(m.rec.Readiness().Pending()))
	}
	ready := time.Since(start)
	if got := m.store.Len(); got < tenants {
		b.Fatalf("ready with %d of %d tenants served", got, tenants)
	}
	heap := liveHeap() - base
	if out := os.Getenv("GATEHOUSE_BENCH_HEAP_PROFILE"); out != "" {
		if f, err := os.Create(out); err == nil {
			_ = pprof.Lookup("heap").WriteTo(f, 0)
			_ = f.Close()
		}
	}
	debug.FreeOSMemory()
	b.ReportMetric(ready.Seconds(), "ready-s")
	b.ReportMetric(float64(cacheHeap)/float64(tenants), "cache-B/tenant")
	b.ReportMetric(float64(heap)/float64(tenants), "heap-B/tenant")
	b.ReportMetric((float64(heap)-float64(cacheHeap))/float64(tenants), "beyond-cache-B/tenant")
	b.ReportMetric(float64(selfRSS())/(1<<20), "rss-MB")
}

func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// selfRSS is this process's resident set in bytes (0 if unknown).
func selfRSS() uint64 {
	data, err := os.ReadFile("/proc/self/status")
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(data), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmRSS:"); ok {
			kb, _ := strconv.ParseUint(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb << 10
		}
	}
	return 0
}
