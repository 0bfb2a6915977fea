package snapshot_test

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot/snapshottest"
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

// BenchmarkCheckScope is the headline figure: scope-path checks (no CEL)
// of random subjects of the tenant, 80% allowed, requests laid out as a
// decoder would (see snapshottest.PackRequests).
func BenchmarkCheckScope(b *testing.B) {
	for _, users := range []int{1_000, 10_000, 100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			t := tenantOf(b, users)
			reqs := snapshottest.PackRequests(scopeRequests(t))
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			for i := 0; i < b.N; i++ {
				t.snap.Check(&reqs[i%len(reqs)])
			}
			cpu.report(b)
		})
	}
}

// BenchmarkCheckScopeScattered is BenchmarkCheckScope with the requests'
// strings scattered over the heap as the generator allocated them: every
// subject ID and owner is an extra cache miss that a server decoding a
// request into a buffer would not have.
func BenchmarkCheckScopeScattered(b *testing.B) {
	for _, users := range []int{100_000} {
		b.Run(fmt.Sprintf("users=%d", users), func(b *testing.B) {
			t := tenantOf(b, users)
			reqs := scopeRequests(t)
			b.ReportAllocs()
			b.ResetTimer()
			cpu := startCPU()
			for i := 0; i < b.N; i++ {
				t.snap.Check(&reqs[i%len(reqs)])
			}
			cpu.report(b)
		})
	}
}

// BenchmarkCheckScopeHot repeats 64 requests: request and snapshot data
// stay in cache, the best case of a server answering a hot set of users.
func BenchmarkCheckScopeHot(b *testing.B) {
	t := tenantOf(b, 100_000)
	reqs := scopeRequests(t)[:64]
	measure(b, func(i int) {
		t.snap.Check(&reqs[i%len(reqs)])
	})
}

func BenchmarkCheckNaive(b *testing.B) {
	t := tenantOf(b, 100_000)
	measure(b, func(i int) {
		r := &t.reqs[i%len(t.reqs)]
		t.model.Allowed(r.Subject, r.Action, r.Record)
	})
}

// celRequests are requests whose decision evaluates a CEL condition.
func celRequests(t *benchTenant) []snapshot.Request {
	var out []snapshot.Request
	for _, r := range t.reqs {
		req := toRequest(r)
		if testing.AllocsPerRun(1, func() { t.snap.Check(&req) }) > 0 {
			out = append(out, req)
		}
	}
	return out
}

func BenchmarkCheckCEL(b *testing.B) {
	t := tenantOf(b, 100_000)
	reqs := celRequests(t)
	if len(reqs) == 0 {
		b.Skip("no CEL requests")
	}
	measure(b, func(i int) {
		t.snap.Check(&reqs[i%len(reqs)])
	})
}

func BenchmarkCheckExternalGroups(b *testing.B) {
	t := tenantOf(b, 100_000)
	var reqs []snapshot.Request
	for i, g := range t.model.Groups {
		if len(g.ExternalGroups) > 0 {
			r := toRequest(t.reqs[i%len(t.reqs)])
			r.Subject = snapshot.Subject{ID: fmt.Sprintf("sso-%d", i), Groups: g.ExternalGroups}
			// Scope path only: requests running a CEL condition allocate.
			if testing.AllocsPerRun(1, func() { t.snap.Check(&r) }) == 0 {
				reqs = append(reqs, r)
			}
		}
	}
	measure(b, func(i int) {
		t.snap.Check(&reqs[i%len(reqs)])
	})
}

func BenchmarkFields(b *testing.B) {
	t := tenantOf(b, 100_000)
	var reqs []snapshot.Request
	for _, r := range t.reqs {
		req := toRequest(r)
		if t.snap.Fields(&req).Covered {
			reqs = append(reqs, req)
		}
	}
	measure(b, func(i int) {
		t.snap.Fields(&reqs[i%len(reqs)])
	})
}

func BenchmarkPlan(b *testing.B) {
	t := tenantOf(b, 100_000)
	measure(b, func(i int) {
		r := &t.reqs[i%len(t.reqs)]
		t.snap.Plan(snapshot.Subject{ID: r.Subject}, r.Action, r.Record.Module)
	})
}

func BenchmarkPlanSQL(b *testing.B) {
	t := tenantOf(b, 100_000)
	cols := map[string]string{"ownerId": "owner_id", "assigneeIds": "assignee_ids", "unit": "unit", "facilityId": "facility_id",
		"companyId": "company_id", "projectContacts": "contacts", "amount": "amount", "id": "id"}
	measure(b, func(i int) {
		r := &t.reqs[i%len(t.reqs)]
		p := t.snap.Plan(snapshot.Subject{ID: r.Subject}, r.Action, r.Record.Module)
		_, _, _ = p.SQL(cols)
	})
}

func BenchmarkWhoCan(b *testing.B) {
	t := tenantOf(b, 100_000)
	measure(b, func(i int) {
		r := toRequest(t.reqs[i%len(t.reqs)])
		t.snap.WhoCan(r.Action, r.Resource)
	})
}

func BenchmarkActions(b *testing.B) {
	t := tenantOf(b, 100_000)
	measure(b, func(i int) {
		r := toRequest(t.reqs[i%len(t.reqs)])
		t.snap.Actions(r.Subject, r.Resource)
	})
}

// BenchmarkCompile1M needs GATEHOUSE_BENCH_1M=1: generating a million
// users takes a while.
func BenchmarkCompile1M(b *testing.B) {
	if os.Getenv("GATEHOUSE_BENCH_1M") == "" {
		b.Skip("set GATEHOUSE_BENCH_1M=1")
	}
	m := tenantgen.Generate(tenantgen.Default(1_000_000))
	objs := snapshot.Objects(m.Objects())
	reqs := m.Requests(10_000, 7)
	m = nil
	b.ResetTimer()
	var s *snapshot.Snapshot
	var heap uint64
	for i := 0; i < b.N; i++ {
		before := heapInUse()
		s, _ = snapshot.Compile("acme", objs)
		heap = heapInUse() - before
	}
	b.StopTimer()
	b.ReportMetric(float64(heap)/(1<<20), "heapMB")
	b.ReportMetric(float64(s.Counts().Profiles), "profiles")
	// Check on the scope path at 1M users, reported as a metric.
	var scope []snapshot.Request
	for _, r := range reqs {
		req := toRequest(r)
		if testing.AllocsPerRun(1, func() { s.Check(&req) }) == 0 {
			scope = append(scope, req)
		}
	}
	scope = snapshottest.PackRequests(scope)
	// Timed by hand: testing.Benchmark inside a benchmark deadlocks on the
	// testing package's benchmark lock.
	const n = 5_000_000
	cpu := startCPU()
	start := time.Now()
	for i := 0; i < n; i++ {
		s.Check(&scope[i%len(scope)])
	}
	wall := time.Since(start)
	cpuTime := threadTime() - cpu.start
	runtime.UnlockOSThread()
	b.ReportMetric(float64(wall.Nanoseconds())/n, "check-ns")
	b.ReportMetric(float64(cpuTime.Nanoseconds())/n, "check-cpu-ns")
}

// measure runs op b.N times with allocations and per-thread CPU time
// reported, after the benchmark's set-up.
func measure(b *testing.B, op func(i int)) {
	b.Helper()
	b.ReportAllocs()
	b.ResetTimer()
	cpu := startCPU()
	for i := 0; i < b.N; i++ {
		op(i)
	}
	cpu.report(b)
}
