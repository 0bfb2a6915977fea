package bench

import (
	"fmt"
	"runtime"
	"slices"
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot/snapshottest"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// Tenant is one generated tenant compiled by Gatehouse, with its request
// mix. Every peer is built from Model and checked against Snap.
type Tenant struct {
	Users int
	Model *tenantgen.Model
	Snap  *snapshot.Snapshot
	// Reqs is the generated request mix (about 80% allowed).
	Reqs []tenantgen.Request
	// Checks are Reqs decoded as Gatehouse requests; Want is Snap's answer.
	Checks []snapshot.Request
	Want   []bool

	// EffGroups are each user's groups with memberGroups applied (the
	// closure tenantgen's reference evaluator uses).
	EffGroups map[string][]string
	// EffRoles are each role's roles with extends applied (itself first).
	EffRoles map[string][]string

	GenTime, CompileTime time.Duration
	// CompileCPU is the process CPU time (user+system, GC included) spent
	// compiling: less sensitive than wall time to other work on the machine.
	CompileCPU  time.Duration
	CompileHeap uint64
}

// HeapAlloc is the live heap after a GC.
func HeapAlloc() uint64 {
	runtime.GC()
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// CPUTime is the process's user+system CPU time so far.
func CPUTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// NewTenant generates and compiles the default tenant of users users with
// nreq requests (seed 7, as the snapshot benchmarks).
func NewTenant(users, nreq int) (*Tenant, error) {
	t := &Tenant{Users: users}
	start := time.Now()
	t.Model = tenantgen.Generate(tenantgen.Default(users))
	objs := snapshot.Objects(t.Model.Objects())
	t.GenTime = time.Since(start)
	before := HeapAlloc()
	start = time.Now()
	cpu0 := CPUTime()
	snap, probs := snapshot.Compile(t.Model.Tenant, objs)
	t.CompileTime = time.Since(start)
	t.CompileCPU = CPUTime() - cpu0
	t.CompileHeap = HeapAlloc() - before
	if len(probs) > 0 {
		return nil, fmt.Errorf("generated tenant has problems: %v", probs[0])
	}
	t.Snap = snap
	t.Reqs = t.Model.Requests(nreq, 7)
	for _, r := range t.Reqs {
		q := ToRequest(r)
		t.Checks = append(t.Checks, q)
		t.Want = append(t.Want, snap.Check(&q).Allowed)
	}
	t.effective()
	return t, nil
}

// ToRequest converts a generated request to a decoded Gatehouse request.
func ToRequest(r tenantgen.Request) snapshot.Request {
	rec := r.Record
	return snapshot.Request{
		Subject: snapshot.Subject{ID: r.Subject},
		Action:  r.Action,
		Resource: snapshot.Resource{Type: rec.Module, ID: rec.ID, OwnerID: rec.OwnerID, AssigneeIDs: rec.AssigneeIDs,
			ProjectContacts: rec.ProjectContacts, Unit: rec.Unit, FacilityID: rec.FacilityID, CompanyID: rec.CompanyID,
			Properties: map[string]any{"amount": rec.Amount}},
	}
}

func (t *Tenant) effective() {
	m := t.Model
	parents := map[string][]string{}
	for _, g := range m.Groups {
		for _, c := range g.MemberGroups {
			parents[c] = append(parents[c], g.Name)
		}
	}
	closure := func(start []string, next func(string) []string) []string {
		seen := map[string]bool{}
		var out, q []string
		for _, s := range start {
			if !seen[s] {
				seen[s] = true
				q = append(q, s)
			}
		}
		for len(q) > 0 {
			x := q[0]
			q = q[1:]
			out = append(out, x)
			for _, p := range next(x) {
				if !seen[p] {
					seen[p] = true
					q = append(q, p)
				}
			}
		}
		return out
	}
	gclo := map[string][]string{}
	for _, g := range m.Groups {
		c := closure([]string{g.Name}, func(s string) []string { return parents[s] })
		sort.Strings(c)
		gclo[g.Name] = c
	}
	t.EffGroups = make(map[string][]string, len(m.Users))
	for _, u := range m.Users {
		var gs []string
		for _, g := range u.Groups {
			gs = append(gs, gclo[g]...)
		}
		sort.Strings(gs)
		t.EffGroups[u.ID] = slices.Compact(gs)
	}
	ext := map[string][]string{}
	for _, r := range m.Roles {
		ext[r.Name] = r.Extends
	}
	t.EffRoles = map[string][]string{}
	for _, r := range m.Roles {
		t.EffRoles[r.Name] = closure([]string{r.Name}, func(s string) []string { return ext[s] })
	}
}

// Group returns the named group of the model.
func (t *Tenant) Group(name string) *tenantgen.Group {
	for i := range t.Model.Groups {
		if t.Model.Groups[i].Name == name {
			return &t.Model.Groups[i]
		}
	}
	return nil
}

// ScopeChecks are the checks whose decision runs no CEL condition (the
// scope path), recognised by not allocating, laid out as a decoder would
// (see snapshottest.PackRequests).
func (t *Tenant) ScopeChecks() []snapshot.Request {
	var out []snapshot.Request
	for i := range t.Checks {
		q := t.Checks[i]
		if testing.AllocsPerRun(1, func() { t.Snap.Check(&q) }) == 0 {
			out = append(out, q)
		}
	}
	return snapshottest.PackRequests(out)
}
