package snapshot_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// toRequest converts a generated request.
func toRequest(r tenantgen.Request) snapshot.Request {
	rec := r.Record
	return snapshot.Request{
		Subject: snapshot.Subject{ID: r.Subject},
		Action:  r.Action,
		Resource: snapshot.Resource{Type: rec.Module, ID: rec.ID, OwnerID: rec.OwnerID, AssigneeIDs: rec.AssigneeIDs,
			ProjectContacts: rec.ProjectContacts, Unit: rec.Unit, FacilityID: rec.FacilityID, CompanyID: rec.CompanyID,
			Properties: map[string]any{"amount": rec.Amount}},
	}
}

type benchTenant struct {
	model *tenantgen.Model
	objs  snapshot.Objects
	snap  *snapshot.Snapshot
	reqs  []tenantgen.Request
}

var (
	tenantsMu sync.Mutex
	tenants   = map[int]*benchTenant{}
)

// tenantOf generates and compiles a tenant once per process.
func tenantOf(b testing.TB, users int) *benchTenant {
	tenantsMu.Lock()
	defer tenantsMu.Unlock()
	if t, ok := tenants[users]; ok {
		return t
	}
	m := tenantgen.Generate(tenantgen.Default(users))
	objs := snapshot.Objects(m.Objects())
	s, probs := snapshot.Compile(m.Tenant, objs)
	if len(probs) > 0 {
		b.Fatalf("generated tenant has problems: %v", probs[0])
	}
	t := &benchTenant{model: m, objs: objs, snap: s, reqs: m.Requests(10_000, 7)}
	tenants[users] = t
	return t
}

func heapInUse() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

func BenchmarkCompile(b *testing.B) {
	for _, users := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			m := tenantgen.Generate(tenantgen.Default(users))
			objs := snapshot.Objects(m.Objects())
			b.ResetTimer()
			var s *snapshot.Snapshot
			var heap uint64
			for i := 0; i < b.N; i++ {
				before := heapInUse()
				s, _ = snapshot.Compile(m.Tenant, objs)
				heap = heapInUse() - before
			}
			b.ReportMetric(float64(heap)/(1<<20), "heapMB")
			b.ReportMetric(float64(s.Counts().Profiles), "profiles")
			runtime.KeepAlive(s)
		})
	}
}

// scopeRequests returns the generated requests whose decision runs no CEL
// condition (the scope path), recognised by not allocating.
func scopeRequests(t *benchTenant) []snapshot.Request {
	var out []snapshot.Request
	for _, r := range t.reqs {
		req := toRequest(r)
		if testing.AllocsPerRun(1, func() { t.snap.Check(&req) }) == 0 {
			out = append(out, req)
		}
	}
	return out
}

func BenchmarkCheckScope(b *testing.B) {
	for _, users := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			t := tenantOf(b, users)
			reqs := scopeRequests(t)
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				t.snap.Check(&reqs[i%len(reqs)])
			}
		})
	}
}

// BenchmarkCheckScopeHot repeats 64 requests: request and snapshot data
// stay in cache, the best case of a server answering a hot set of users.
func BenchmarkCheckScopeHot(b *testing.B) {
	t := tenantOf(b, 100_000)
	reqs := scopeRequests(t)[:64]
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		t.snap.Check(&reqs[i%len(reqs)])
	}
}

func BenchmarkCheckNaive(b *testing.B) {
	t := tenantOf(b, 100_000)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		r := &t.reqs[i%len(t.reqs)]
		t.model.Allowed(r.Subject, r.Action, r.Record)
	}
}

var _ = time.Now
