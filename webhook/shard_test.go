package webhook_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// A sharded install sends a namespace's admissions to the webhook of the
// shard serving it (config/shards). A webhook that judges a namespace its
// shard does not serve — misrouted, or during a move before the new shard
// has compiled it — has no snapshot for it; then nobody holds anything
// there and no escalation is admitted.
var _ = Describe("the validating webhook of a shard that does not serve the namespace", Ordered, func() {
	const ns = "other-shard"
	var cluster, ada client.Client

	BeforeAll(func() {
		newTenant(ns)
		cluster, _ = adminClient()
		for _, obj := range []client.Object{
			role(ns, "tenant-admin", nil, v1.Permission{Resources: []v1.ModuleName{"workorders"}, Actions: []v1.ActionName{"*"}}),
			group(ns, "admins", []v1.SubjectID{"ada-other"}, "tenant-admin"),
		} {
			Expect(cluster.Create(ctx, obj)).To(Succeed())
			awaitCached(obj)
		}
		// Not compiled: this shard's store has no snapshot for ns.
		Expect(st.Get(ns)).To(BeNil())
		ada, _ = userClient("ada-other", ns)
	})

	It("denies a grant its user would hold where the tenant is served", func() {
		expectDenied(ada.Create(ctx, role(ns, "viewer", nil, perm("workorders", "view", v1.ScopeAll))),
			`Role "viewer": spec: Forbidden: user "ada-other" may not grant view on workorders with scope all (role "viewer"): they do not hold it in tenant "other-shard"`)
		expectDenied(ada.Create(ctx, group(ns, "more-admins", []v1.SubjectID{"zed"}, "tenant-admin")), "Forbidden")
	})

	It("denies lifting a restriction", func() {
		narrow := group(ns, "narrow", []v1.SubjectID{"ada-other"}, "tenant-admin")
		narrow.Spec.Restrictions = []v1.Restriction{{Resources: []v1.ModuleName{"workorders"}, Scope: v1.ScopeOwn}}
		Expect(cluster.Create(ctx, narrow)).To(Succeed())
		awaitCached(narrow)
		expectDenied(ada.Delete(ctx, narrow), `UserGroup "narrow": spec.restrictions: Forbidden`)
		Expect(cluster.Delete(ctx, narrow)).To(Succeed())
		Eventually(func() bool {
			return apierrors.IsNotFound(webhookCache.Get(ctx, client.ObjectKeyFromObject(narrow), &v1.UserGroup{}))
		}).Should(BeTrue())
	})

	It("still admits a cluster admin's change, checked on its own", func() {
		Expect(cluster.Create(ctx, role(ns, "viewer", nil, perm("workorders", "view", v1.ScopeAll)))).To(Succeed())
	})

	It("admits the user's grant once the shard serves the tenant", func() {
		compileTenant(ns)
		Expect(ada.Create(ctx, role(ns, "viewer-2", nil, perm("workorders", "view", v1.ScopeAll)))).To(Succeed())
	})
})
