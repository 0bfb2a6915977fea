package webhook_test

import (
	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	"sigs.k8s.io/controller-runtime/pkg/client"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// A UserGroup's unit must be a canonical path (snapshot.ValidUnit, the
// compiler's rule): the webhook rejects any other on create and update.
var _ = Describe("the validating webhook on units", Ordered, func() {
	const ns = "units"
	var cluster client.Client

	BeforeAll(func() {
		newTenant(ns)
		cluster, _ = adminClient()
		compileTenant(ns)
	})

	withUnit := func(name, unit string) *v1.UserGroup {
		g := group(ns, name, []v1.SubjectID{"tom"})
		g.Spec.Attributes = map[string]v1.AttributeValue{"unit": v1.StringAttribute(unit)}
		return g
	}

	DescribeTable("rejects a unit that is not canonical",
		func(unit, reason string) {
			expectDenied(cluster.Create(ctx, withUnit("crew", unit)),
				`UserGroup "crew": spec.attributes.unit: InvalidSpec: `, "not a canonical unit path "+reason)
		},
		Entry("a .. segment escaping the tree", "/ca/ab/calgary/../../on", `(a ".." segment)`),
		Entry("a . segment", "/ca/./ab", `(a "." segment)`),
		Entry("a trailing slash", "/ca/ab/", `(a trailing "/")`),
		Entry("an empty segment", "/ca//ab", `(an empty segment, "//")`),
		Entry("a relative path", "ca/ab", `(does not start with "/")`),
		Entry("NUL", "/ca/ab\x00", "(a NUL or control character)"),
		Entry("a newline", "/ca/ab\n/on", "(a NUL or control character)"),
	)

	It("admits a canonical unit and rejects an update to one that is not", func() {
		g := withUnit("calgary", "/ca/ab/calgary")
		Expect(cluster.Create(ctx, g)).To(Succeed())
		awaitCached(g)
		g.Spec.Attributes["unit"] = v1.StringAttribute("/ca/ab/calgary/..")
		expectDenied(cluster.Update(ctx, g), `UserGroup "calgary": spec.attributes.unit: InvalidSpec: "/ca/ab/calgary/..": not a canonical unit path (a ".." segment)`)
	})
})
