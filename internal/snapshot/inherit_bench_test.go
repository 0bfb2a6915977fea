package snapshot_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// extendsChain is a hostile tenant: n Roles, each extending the previous
// one and adding a permission of its own; one group holds the last role
// (every grant of the chain) and one the first.
func extendsChain(n int) snapshot.Objects {
	var objs snapshot.Objects
	for i := range n {
		r := role(fmt.Sprintf("r%05d", i), perm(fmt.Sprintf("m%d", i%10), "read", v1alpha1.ScopeAll))
		if i > 0 {
			r = extends(r, fmt.Sprintf("r%05d", i-1))
		}
		objs.Roles = append(objs.Roles, r)
	}
	objs.Groups = append(objs.Groups,
		group("top", fmt.Sprintf("r%05d", n-1), "u1,u2,u3"),
		group("bottom", "r00000", "u4,u5"))
	return objs
}

// memberGroupsChain is a hostile tenant: n UserGroups, each including the
// previous one, so the members of the first belong to all n; every 1,000th
// group holds a role.
func memberGroupsChain(n int) snapshot.Objects {
	objs := snapshot.Objects{Roles: []v1alpha1.Role{role("reader", perm("m0", "read", v1alpha1.ScopeAll))}}
	for i := range n {
		g := group(fmt.Sprintf("g%05d", i), "", "")
		if i%1000 == 999 {
			g.Spec.Roles = objNames("reader")
		}
		if i == 0 {
			g.Spec.Members = subjectIDs("u1,u2,u3")
		} else {
			g = withMemberGroups(g, fmt.Sprintf("g%05d", i-1))
		}
		objs.Groups = append(objs.Groups, g)
	}
	return objs
}

// BenchmarkCompileInheritance compiles inheritance chains of growing
// length: time and allocation must grow about linearly (allocMB is all
// memory allocated by one compile, heapMB what the snapshot keeps).
func BenchmarkCompileInheritance(b *testing.B) {
	shapes := []struct {
		name string
		gen  func(int) snapshot.Objects
	}{{"extends", extendsChain}, {"memberGroups", memberGroupsChain}}
	for _, sh := range shapes {
		for _, n := range []int{1_000, 2_000, 5_000, 10_000} {
			b.Run(fmt.Sprintf("%s=%d", sh.name, n), func(b *testing.B) {
				objs := sh.gen(n)
				var s *snapshot.Snapshot
				var heap, alloc uint64
				for i := 0; i < b.N; i++ {
					before := heapInUse()
					var ms0, ms1 runtime.MemStats
					runtime.ReadMemStats(&ms0)
					var probs []snapshot.Problem
					// No limits: the compiler itself must stay linear (the
					// default inheritance depth would leave most links out).
					s, probs = snapshot.CompileWith("t", objs, snapshot.Options{})
					runtime.ReadMemStats(&ms1)
					if len(probs) > 0 {
						b.Fatalf("problems: %v", probs[0])
					}
					alloc = ms1.TotalAlloc - ms0.TotalAlloc
					heap = heapInUse() - before
				}
				b.ReportMetric(float64(alloc)/(1<<20), "allocMB")
				b.ReportMetric(float64(heap)/(1<<20), "heapMB")
				runtime.KeepAlive(s)
			})
		}
	}
}

// heldChain is the quadratic variant: every link of an extends chain is held
// by a group of its own with a member, so profile i holds i grants. The
// default limits leave out links deeper than the inheritance limit; without
// that limit the compiled-size limit refuses the tenant before building it.
func heldChain(n int) snapshot.Objects {
	objs := extendsChain(n)
	objs.Groups = nil
	for i := range n {
		objs.Groups = append(objs.Groups, group(fmt.Sprintf("g%05d", i), fmt.Sprintf("r%05d", i), fmt.Sprintf("u%05d", i)))
	}
	return objs
}

func BenchmarkCompileHostileQuadratic(b *testing.B) {
	depthOff := snapshot.DefaultLimits()
	depthOff.InheritanceDepth = 0
	for _, lim := range []struct {
		name   string
		limits snapshot.Limits
	}{{"defaults", snapshot.DefaultLimits()}, {"noDepthLimit", depthOff}} {
		b.Run(lim.name, func(b *testing.B) {
			objs := heldChain(5_000)
			var alloc uint64
			var s *snapshot.Snapshot
			var probs []snapshot.Problem
			for i := 0; i < b.N; i++ {
				var ms0, ms1 runtime.MemStats
				runtime.ReadMemStats(&ms0)
				s, probs = snapshot.CompileWith("t", objs, snapshot.Options{Limits: lim.limits})
				runtime.ReadMemStats(&ms1)
				alloc = ms1.TotalAlloc - ms0.TotalAlloc
			}
			b.ReportMetric(float64(alloc)/(1<<20), "allocMB")
			b.ReportMetric(float64(len(probs)), "problems")
			b.ReportMetric(float64(s.Counts().Roles), "servedRoles")
		})
	}
}
