package webhook_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// quotaDepth is the suite webhook's --tenant-max-inheritance-depth.
const quotaDepth = 4

// Quotas bind everyone, cluster admins included: they protect the other
// tenants, not the tenant from itself.
var _ = Describe("the validating webhook's tenant quotas", Ordered, func() {
	const ns = "quota"
	var cluster client.Client

	BeforeAll(func() {
		newTenant(ns)
		cluster, _ = adminClient()
	})

	It("admits an extends chain up to the depth limit and rejects the next link, naming the limit", func() {
		for i := 0; i <= quotaDepth; i++ {
			var ext []v1.ObjectName
			if i > 0 {
				ext = []v1.ObjectName{v1.ObjectName(fmt.Sprintf("r%d", i-1))}
			}
			r := role(ns, fmt.Sprintf("r%d", i), ext, perm("workorders", "view", v1.ScopeAll))
			Expect(cluster.Create(ctx, r)).To(Succeed(), "link %d", i)
			awaitCached(r)
		}
		expectDenied(cluster.Create(ctx, role(ns, "too-deep", []v1.ObjectName{v1.ObjectName(fmt.Sprintf("r%d", quotaDepth))})),
			`Role "too-deep": spec.extends: QuotaExceeded: spec.extends is 5 levels deep; the tenant limit is 4 levels (--tenant-max-inheritance-depth)`)
	})

	It("rejects deepening the chain from below, naming the role pushed over", func() {
		var r0 v1.Role
		Expect(cluster.Get(ctx, client.ObjectKey{Namespace: ns, Name: "r0"}, &r0)).To(Succeed())
		base := role(ns, "base", nil, perm("workorders", "view", v1.ScopeAll))
		Expect(cluster.Create(ctx, base)).To(Succeed())
		awaitCached(base)
		r0.Spec.Extends = []v1.ObjectName{"base"}
		expectDenied(cluster.Update(ctx, &r0), fmt.Sprintf(`Role "r%d": spec.extends: QuotaExceeded`, quotaDepth))
	})
})
