package snapshot_test

import (
	"encoding/json"
	"fmt"
	"runtime"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// sampleObjects is config/samples, the tenant of the many-tenants target.
func sampleObjects(b *testing.B) snapshot.Objects {
	set, err := manifest.Read([]string{"../../config/samples"}, manifest.Options{})
	if err != nil {
		b.Fatal(err)
	}
	return set.SnapshotObjects(set.Tenants()[0])
}

// distinctConditions returns objs with every `when` made unique to tenant
// i, the case where no compiled condition can be shared between tenants.
func distinctConditions(objs snapshot.Objects, i int) snapshot.Objects {
	mark := func(w v1alpha1.CELExpression) v1alpha1.CELExpression {
		if w == "" {
			return w
		}
		return v1alpha1.CELExpression(fmt.Sprintf("(%s) && resource.id != 't%d'", w, i))
	}
	out := objs
	out.Roles = make([]v1alpha1.Role, len(objs.Roles))
	for ri, r := range objs.Roles {
		r.Spec.Permissions = append([]v1alpha1.Permission(nil), r.Spec.Permissions...)
		for pi := range r.Spec.Permissions {
			r.Spec.Permissions[pi].When = mark(r.Spec.Permissions[pi].When)
		}
		out.Roles[ri] = r
	}
	out.ApprovalChains = make([]v1alpha1.ApprovalChain, len(objs.ApprovalChains))
	for ci, c := range objs.ApprovalChains {
		c.Spec.Steps = append([]v1alpha1.ApprovalStep(nil), c.Spec.Steps...)
		for si := range c.Spec.Steps {
			c.Spec.Steps[si].When = mark(c.Spec.Steps[si].When)
		}
		out.ApprovalChains[ci] = c
	}
	return out
}

// BenchmarkTenantMemory compiles config/samples as 1,000 and 10,000
// tenants of distinct names, all kept alive as a server keeps them, and
// reports the live heap per tenant and the compile time per tenant. Each
// tenant's objects are decoded afresh, as a server reads them, and dropped
// after its compile: what the snapshot keeps of them counts.
// conds=distinct gives every tenant its own conditions, so that none is
// shared.
func BenchmarkTenantMemory(b *testing.B) {
	objs := sampleObjects(b)
	for _, n := range []int{1_000, 10_000} {
		for _, distinct := range []bool{false, true} {
			name := fmt.Sprintf("tenants=%dk", n/1000)
			if distinct {
				name += "/conds=distinct"
			}
			b.Run(name, func(b *testing.B) {
				encoded := make([][]byte, n)
				for i := range encoded {
					o := objs
					if distinct {
						o = distinctConditions(objs, i)
					}
					var err error
					if encoded[i], err = json.Marshal(o); err != nil {
						b.Fatal(err)
					}
				}
				var perTenant, compile float64
				for b.Loop() {
					keep := make([]*snapshot.Snapshot, n)
					before := heapInUse()
					var took time.Duration
					for i := range keep {
						var o snapshot.Objects
						if err := json.Unmarshal(encoded[i], &o); err != nil {
							b.Fatal(err)
						}
						start := time.Now()
						s, probs := snapshot.Compile(fmt.Sprintf("tenant-%05d", i), o)
						took += time.Since(start)
						if len(probs) > 0 {
							b.Fatalf("tenant %d: %v", i, probs[0])
						}
						keep[i] = s
					}
					compile = float64(took.Nanoseconds()) / float64(n)
					perTenant = float64(heapInUse()-before) / float64(n)
					runtime.KeepAlive(keep)
				}
				b.ReportMetric(perTenant, "live-B/tenant")
				b.ReportMetric(compile, "compile-ns/tenant")
			})
		}
	}
}
