package controllers_test

import (
	"fmt"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/controllers"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Tenant quotas on a real API server. The replica serves only the shard
// "quota", so its small limits touch no other spec's tenants.
var _ = Describe("tenant quotas", Ordered, func() {
	const tenant = "quota-tenant"
	var r *replica
	viewer := func() *accessv1.Role {
		return &accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "viewer"},
			Spec: accessv1.RoleSpec{Permissions: []accessv1.Permission{{Resources: []accessv1.ModuleName{"assets"}, Actions: []accessv1.ActionName{"view"}}}}}
	}
	groupOf := func(name, member string) *accessv1.UserGroup {
		return &accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: name},
			Spec: accessv1.UserGroupSpec{Roles: []accessv1.ObjectName{"viewer"}, Members: []accessv1.SubjectID{accessv1.SubjectID(member)}}}
	}
	allowed := func(subject string) bool {
		e := r.store.Get(tenant)
		if e == nil {
			return false
		}
		return e.Snapshot.Check(&snapshot.Request{Subject: snapshot.Subject{ID: subject}, Action: "view", Resource: snapshot.Resource{Type: "assets", ID: "a1"}}).Allowed
	}

	BeforeAll(func() {
		Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant,
			Labels: map[string]string{controllers.ShardLabel: "quota"}}})).To(Succeed())
		// Room for a handful of profiles, not for twenty.
		limits := snapshot.Limits{Roles: 2, CompiledBytes: 2_000}
		r = startReplica(replicaOptions{name: "quota", shard: controllers.Shard{Name: "quota"}, limits: &limits})
		Eventually(r.rec.Readiness().Ready, wait).Should(BeTrue())
	})
	AfterAll(func() { r.stop() })

	var served string
	It("serves a tenant within its limits", func() {
		Expect(k8s.Create(ctx, viewer())).To(Succeed())
		Expect(k8s.Create(ctx, groupOf("g00", "u00"))).To(Succeed())
		Eventually(func() bool { return allowed("u00") }, wait).Should(BeTrue())
		served = r.revision(tenant)
	})

	It("leaves out a Role beyond the count, with QuotaExceeded on the Role", func() {
		for _, n := range []string{"zz-extra", "zz-more"} {
			role := viewer()
			role.Name = n
			Expect(k8s.Create(ctx, role)).To(Succeed())
		}
		Eventually(func(g Gomega) {
			st := accessStatus(tenant, "Role", "zz-more")
			c := readyCondition(st.Conditions)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(accessv1.ReasonQuotaExceeded))
			g.Expect(c.Message).To(ContainSubstring("--tenant-max-roles"))
			g.Expect(readyCondition(accessStatus(tenant, "Role", "viewer").Conditions).Status).To(Equal(metav1.ConditionTrue))
		}, wait).Should(Succeed())
		served = r.revision(tenant)
	})

	It("keeps serving the last good snapshot when a change makes the tenant too large", func() {
		for i := 1; i <= 20; i++ {
			Expect(k8s.Create(ctx, groupOf(fmt.Sprintf("g%02d", i), fmt.Sprintf("u%02d", i)))).To(Succeed())
		}
		Eventually(func(g Gomega) {
			p := psnap(tenant)
			c := readyCondition(p.Status.Conditions)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(accessv1.ReasonQuotaExceeded))
			g.Expect(c.Message).To(ContainSubstring("Still serving revision " + served))
			g.Expect(c.Message).To(ContainSubstring("--tenant-max-compiled-bytes"))
			g.Expect(p.Status.Revision).To(Equal(served))
		}, wait).Should(Succeed())
		Consistently(func() string { return r.revision(tenant) }, "500ms").Should(Equal(served))
		Expect(allowed("u00")).To(BeTrue(), "the last good snapshot still answers")
		Expect(allowed("u05")).To(BeFalse(), "nothing of the refused change is served")
	})

	It("serves again once the tenant fits", func() {
		for i := 3; i <= 20; i++ {
			Expect(k8s.Delete(ctx, groupOf(fmt.Sprintf("g%02d", i), ""))).To(Succeed())
		}
		Eventually(func(g Gomega) {
			g.Expect(allowed("u01")).To(BeTrue())
			c := readyCondition(psnap(tenant).Status.Conditions)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
		}, wait).Should(Succeed())
		Expect(r.revision(tenant)).NotTo(Equal(served))
		Expect(allowed("u05")).To(BeFalse())
	})

	It("denies a new tenant that is too large from the start, and says so", func() {
		const big = "quota-big"
		Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: big,
			Labels: map[string]string{controllers.ShardLabel: "quota"}}})).To(Succeed())
		role := viewer()
		role.Namespace = big
		Expect(k8s.Create(ctx, role)).To(Succeed())
		for i := range 20 {
			g := groupOf(fmt.Sprintf("g%02d", i), fmt.Sprintf("u%02d", i))
			g.Namespace = big
			Expect(k8s.Create(ctx, g)).To(Succeed())
		}
		Eventually(func(g Gomega) {
			c := readyCondition(psnap(big).Status.Conditions)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Reason).To(Equal(accessv1.ReasonQuotaExceeded))
			g.Expect(c.Message).To(ContainSubstring("Nothing is served"))
		}, wait).Should(Succeed())
		Expect(r.store.Get(big)).To(BeNil())
		Expect(r.rec.Readiness().Ready()).To(BeTrue())
		Expect(k8s.DeleteAllOf(ctx, &accessv1.UserGroup{}, client.InNamespace(big))).To(Succeed())
	})
})
