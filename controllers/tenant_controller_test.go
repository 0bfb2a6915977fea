package controllers_test

import (
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

const acme = "acme-field-services"

// Generous: envtest shares two cores with the compiler and other suites.
const wait = 30 * time.Second

// accessObject is one access object's identity and status, whatever its kind.
type accessObject struct {
	kind, name string
	generation int64
	finalizers []string
	status     accessv1.AccessObjectStatus
}

func listAccess(tenant string) []accessObject {
	var (
		roles  accessv1.RoleList
		groups accessv1.UserGroupList
		fps    accessv1.FieldPolicyList
		chains accessv1.ApprovalChainList
	)
	for _, l := range []client.ObjectList{&roles, &groups, &fps, &chains} {
		ExpectWithOffset(1, k8s.List(ctx, l, client.InNamespace(tenant))).To(Succeed())
	}
	var out []accessObject
	for _, o := range roles.Items {
		out = append(out, accessObject{"Role", o.Name, o.Generation, o.Finalizers, o.Status})
	}
	for _, o := range groups.Items {
		out = append(out, accessObject{"UserGroup", o.Name, o.Generation, o.Finalizers, o.Status})
	}
	for _, o := range fps.Items {
		out = append(out, accessObject{"FieldPolicy", o.Name, o.Generation, o.Finalizers, o.Status})
	}
	for _, o := range chains.Items {
		out = append(out, accessObject{"ApprovalChain", o.Name, o.Generation, o.Finalizers, o.Status})
	}
	return out
}

func accessStatus(tenant, kind, name string) accessv1.AccessObjectStatus {
	for _, o := range listAccess(tenant) {
		if o.kind == kind && o.name == name {
			return o.status
		}
	}
	Fail(fmt.Sprintf("%s %s/%s not found", kind, tenant, name))
	return accessv1.AccessObjectStatus{}
}

// allServedAt checks that every access object of tenant except the
// left-out ones is Ready in revision and describes its generation.
func allServedAt(tenant, revision string, leftOut ...string) error {
	for _, o := range listAccess(tenant) {
		if slices.Contains(leftOut, o.kind+"/"+o.name) {
			continue
		}
		c := readyCondition(o.status.Conditions)
		if c == nil || c.Status != metav1.ConditionTrue || c.Reason != accessv1.ReasonCompiled {
			return fmt.Errorf("%s %s is not Ready: %+v", o.kind, o.name, c)
		}
		if o.status.Revision != revision || o.status.ObservedGeneration != o.generation || c.ObservedGeneration != o.generation {
			return fmt.Errorf("%s %s: revision %q observedGeneration %d, want %q and %d",
				o.kind, o.name, o.status.Revision, o.status.ObservedGeneration, revision, o.generation)
		}
	}
	return nil
}

// expectedCounts counts the samples' objects and distinct group members from
// the YAML, independently of the compiler.
func expectedCounts(objs []*unstructured.Unstructured) accessv1.SnapshotCounts {
	var c accessv1.SnapshotCounts
	members := map[string]bool{}
	for _, o := range objs {
		switch o.GetKind() {
		case "Role":
			c.Roles++
		case "UserGroup":
			c.Groups++
			ms, _, err := unstructured.NestedStringSlice(o.Object, "spec", "members")
			Expect(err).NotTo(HaveOccurred())
			for _, m := range ms {
				members[m] = true
			}
		case "FieldPolicy":
			c.FieldPolicies++
		case "ApprovalChain":
			c.ApprovalChains++
		}
	}
	c.Subjects = int32(len(members))
	return c
}

// holders returns, from the sample YAML, the subjects holding role: the
// members of every group listing it, and of the groups those include through
// memberGroups, transitively (docs/semantics.md, "Who a subject is").
func holders(objs []*unstructured.Unstructured, role string) []string {
	members := map[string][]string{}
	nested := map[string][]string{}
	var granting []string
	for _, o := range objs {
		if o.GetKind() != "UserGroup" {
			continue
		}
		members[o.GetName()], _, _ = unstructured.NestedStringSlice(o.Object, "spec", "members")
		nested[o.GetName()], _, _ = unstructured.NestedStringSlice(o.Object, "spec", "memberGroups")
		roles, _, _ := unstructured.NestedStringSlice(o.Object, "spec", "roles")
		if slices.Contains(roles, role) {
			granting = append(granting, o.GetName())
		}
	}
	out := map[string]bool{}
	seen := map[string]bool{}
	var walk func(g string)
	walk = func(g string) {
		if seen[g] {
			return
		}
		seen[g] = true
		for _, m := range members[g] {
			out[m] = true
		}
		for _, n := range nested[g] {
			walk(n)
		}
	}
	for _, g := range granting {
		walk(g)
	}
	list := make([]string, 0, len(out))
	for m := range out {
		list = append(list, m)
	}
	slices.Sort(list)
	return list
}

// allowed asks the replica's served snapshot.
func (r *replica) allowed(tenant, subject, action string, res snapshot.Resource) bool {
	return r.store.Snapshot(tenant).Check(&snapshot.Request{
		Subject: snapshot.Subject{ID: subject}, Action: action, Resource: res,
	}).Allowed
}

// gauge reads a gatehouse series from controller-runtime's registry.
func gauge(name string, labels map[string]string) (float64, bool) {
	families, err := ctrlmetrics.Registry.Gather()
	Expect(err).NotTo(HaveOccurred())
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
	next:
		for _, m := range f.GetMetric() {
			have := map[string]string{}
			for _, l := range m.GetLabel() {
				have[l.GetName()] = l.GetValue()
			}
			for k, v := range labels {
				if have[k] != v {
					continue next
				}
			}
			return m.GetGauge().GetValue(), true
		}
	}
	return 0, false
}

// patchRole changes a Role's spec with a merge patch (no conflicts with the
// controller's status writes).
func patchSpec(obj client.Object, mutate func()) {
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj)).To(Succeed())
	orig := obj.DeepCopyObject().(client.Object)
	mutate()
	ExpectWithOffset(1, k8s.Patch(ctx, obj, client.MergeFrom(orig))).To(Succeed())
}

// onlyRecordFrom returns the single audit record of tenant leaving revision.
func onlyRecordFrom(r *replica, tenant, revision string) audit.Record {
	var found []audit.Record
	for _, rec := range r.audit.records(tenant) {
		if rec.FromRevision == revision {
			found = append(found, rec)
		}
	}
	ExpectWithOffset(1, found).To(HaveLen(1), "one audit record from revision %s", revision)
	return found[0]
}

var _ = Describe("the tenant controller", Ordered, func() {
	var main *replica
	calgary := snapshot.Resource{Type: "workorders", Unit: "/ca/ab/calgary"}

	BeforeAll(func() {
		main = startReplica(replicaOptions{name: "main"})
		// Tenants created from now on are new to a running replica.
		Eventually(main.rec.Readiness().Ready, wait).Should(BeTrue())
	})
	AfterAll(func() {
		main.stop()
	})

	Context("applying the samples", Ordered, func() {
		var samples []*unstructured.Unstructured
		var revision string

		It("serves the samples and reports them in a Ready PermissionSnapshot", func() {
			root, err := testenv.RepoRoot()
			Expect(err).NotTo(HaveOccurred())
			samples, err = testenv.Samples(filepath.Join(root, "config", "samples"))
			Expect(err).NotTo(HaveOccurred())
			for _, obj := range samples {
				Expect(k8s.Create(ctx, obj)).To(Succeed(), "creating %s %s", obj.GetKind(), obj.GetName())
			}
			want := expectedCounts(samples)
			Expect(want.Roles).To(BeNumerically(">", 5), "the samples have roles")

			Eventually(func(g Gomega) {
				p := psnap(acme)
				c := readyCondition(p.Status.Conditions)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
				g.Expect(c.ObservedGeneration).To(Equal(p.Generation))
				g.Expect(p.Status.ObservedGeneration).To(Equal(p.Generation))
				g.Expect(p.Status.Counts).To(Equal(want))
				g.Expect(p.Status.LeftOut).To(BeEmpty())
				g.Expect(p.Status.CompiledAt).NotTo(BeNil())
				g.Expect(p.Status.Revision).To(Equal(main.revision(acme)))
			}, wait).Should(Succeed())
			revision = psnap(acme).Status.Revision
			Expect(revision).NotTo(BeEmpty())
			Expect(allServedAt(acme, revision)).To(Succeed())
		})

		It("serves decisions from the shared store", func() {
			Expect(main.allowed(acme, "tom.tech", "view", calgary)).To(BeTrue())
			Expect(main.allowed(acme, "tom.tech", "delete", calgary)).To(BeFalse())
			Expect(main.allowed(acme, "vic.viewer", "view", calgary)).To(BeTrue())
			Expect(main.allowed(acme, "vic.viewer", "edit", calgary)).To(BeFalse())
			Expect(main.allowed(acme, "dana.director", "delete", calgary)).To(BeTrue())
		})

		It("audits the new tenant and reports it ready and in metrics", func() {
			recs := main.audit.records(acme)
			Expect(recs).NotTo(BeEmpty())
			first := recs[0]
			Expect(first.Event).To(Equal(audit.EventCompiled))
			Expect(first.FromRevision).To(BeEmpty())
			Expect(first.Replica).To(Equal("main"))
			Expect(first.Diff).NotTo(BeNil())
			Expect(first.Diff.Permissions).NotTo(BeEmpty())
			Expect(recs[len(recs)-1].ToRevision).To(Equal(revision))
			for _, o := range first.Objects {
				Expect(o.Change).To(Equal(audit.ChangeCreated))
			}

			Expect(main.rec.Readiness().Ready()).To(BeTrue())
			v, ok := gauge("gatehouse_snapshot_objects", map[string]string{"tenant": acme, "kind": "roles"})
			Expect(ok).To(BeTrue())
			Expect(v).To(BeEquivalentTo(expectedCounts(samples).Roles))
		})

		It("puts no finalizer on any object", func() {
			for _, o := range listAccess(acme) {
				Expect(o.finalizers).To(BeEmpty(), "%s %s", o.kind, o.name)
			}
			Expect(psnap(acme).Finalizers).To(BeEmpty())
		})
	})

	Context("changing a Role", Ordered, func() {
		var before, after string
		var technicians []string

		BeforeAll(func() {
			root, err := testenv.RepoRoot()
			Expect(err).NotTo(HaveOccurred())
			samples, err := testenv.Samples(filepath.Join(root, "config", "samples"))
			Expect(err).NotTo(HaveOccurred())
			technicians = holders(samples, "technician")
			Expect(technicians).To(ContainElements("tom.tech", "tina.tech"))
			Expect(technicians).NotTo(ContainElement("vic.viewer"))
		})

		It("changes its members' decisions and the revision", func() {
			before = main.revision(acme)
			Expect(main.allowed(acme, "tom.tech", "delete", calgary)).To(BeFalse())
			tech := &accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: acme, Name: "technician"}}
			patchSpec(tech, func() {
				Expect(tech.Spec.Permissions[0].Resources).To(Equal([]accessv1.ModuleName{"workorders"}))
				tech.Spec.Permissions[0].Actions = append(tech.Spec.Permissions[0].Actions, "delete")
			})

			Eventually(func() bool { return main.allowed(acme, "tom.tech", "delete", calgary) }, wait).Should(BeTrue())
			after = main.revision(acme)
			Expect(after).NotTo(Equal(before))
			// The technicians gained it, in their unit only; nobody else did.
			Expect(main.allowed(acme, "tina.tech", "delete", calgary)).To(BeTrue())
			Expect(main.allowed(acme, "vic.viewer", "delete", calgary)).To(BeFalse())
			Expect(main.allowed(acme, "tom.tech", "delete", snapshot.Resource{Type: "workorders", Unit: "/ca/bc"})).To(BeFalse())

			Eventually(func(g Gomega) {
				g.Expect(psnap(acme).Status.Revision).To(Equal(after))
				g.Expect(allServedAt(acme, after)).To(Succeed())
			}, wait).Should(Succeed())
			Expect(accessStatus(acme, "Role", "technician").ObservedGeneration).To(BeEquivalentTo(2))
		})

		It("writes one audit line describing exactly the change", func() {
			rec := onlyRecordFrom(main, acme, before)
			Expect(rec.Event).To(Equal(audit.EventCompiled))
			Expect(rec.ToRevision).To(Equal(after))
			// The object's identity joins the record to the admission of
			// the change (test/authorship).
			Expect(rec.Objects).To(HaveLen(1))
			Expect(rec.Objects[0].UID).NotTo(BeEmpty())
			Expect(rec.Objects[0].SpecHash).To(HaveLen(16))
			Expect(withoutIdentity(rec.Objects)).To(Equal([]audit.Object{
				{Kind: "Role", Name: "technician", Change: audit.ChangeUpdated, Generation: 2, Served: true},
			}))
			Expect(rec.Diff).NotTo(BeNil())
			Expect(rec.Diff.Fields).To(BeEmpty())
			Expect(rec.Diff.Approvals).To(BeEmpty())
			var subjects []string
			for _, p := range rec.Diff.Permissions {
				Expect(p.Change).To(Equal(snapshot.Gained))
				Expect(p.Resource).To(Equal("workorders"))
				Expect(p.Action).To(Equal("delete"))
				Expect(p.Scope).To(Equal("unitTree"))
				subjects = append(subjects, p.Subjects...)
			}
			slices.Sort(subjects)
			Expect(subjects).To(Equal(technicians), "exactly the technician role's holders gained it, once each")
		})

		It("records an Event on the Role describing the change", func() {
			Eventually(func(g Gomega) {
				var notes []string
				for _, e := range events(acme, "Role", "technician") {
					if e.Reason == accessv1.ReasonCompiled && e.Type == corev1.EventTypeNormal {
						notes = append(notes, e.Note)
					}
				}
				g.Expect(notes).To(ContainElement(And(
					ContainSubstring("Role technician (generation 2) updated"),
					ContainSubstring(after),
					ContainSubstring("gained workorders:delete (unitTree) for "+strings.Join(technicians[:min(5, len(technicians))], ", ")),
				)))
			}, wait).Should(Succeed())
		})
	})

	Context("breaking objects", Ordered, func() {
		var good string

		It("leaves a group with a dangling reference out, and serves the rest", func() {
			good = main.revision(acme)
			Expect(main.allowed(acme, "vic.viewer", "view", calgary)).To(BeTrue())
			auditors := &accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: acme, Name: "auditors"}}
			patchSpec(auditors, func() { auditors.Spec.Roles = append(auditors.Spec.Roles, "ghost-role") })

			Eventually(func(g Gomega) {
				st := accessStatus(acme, "UserGroup", "auditors")
				c := readyCondition(st.Conditions)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(accessv1.ReasonInvalidReference))
				g.Expect(c.Message).To(ContainSubstring("spec.roles"))
				g.Expect(c.Message).To(ContainSubstring("ghost-role"))
				g.Expect(st.Revision).To(BeEmpty())
				g.Expect(st.ObservedGeneration).To(BeEquivalentTo(2))
			}, wait).Should(Succeed())
			bad := main.revision(acme)
			Expect(bad).NotTo(Equal(good))
			Eventually(func() error { return allServedAt(acme, bad, "UserGroup/auditors") }, wait).Should(Succeed())

			// The auditors' members lose what the group gave them; every
			// other decision holds.
			Expect(main.allowed(acme, "vic.viewer", "view", calgary)).To(BeFalse())
			Expect(main.allowed(acme, "tom.tech", "view", calgary)).To(BeTrue())
			Expect(main.allowed(acme, "tom.tech", "delete", calgary)).To(BeTrue())
			Expect(main.allowed(acme, "dana.director", "delete", calgary)).To(BeTrue())

			Eventually(func(g Gomega) {
				p := psnap(acme)
				g.Expect(p.Status.Revision).To(Equal(bad))
				g.Expect(p.Status.LeftOut).To(HaveLen(1))
				g.Expect(p.Status.LeftOut[0].Kind).To(Equal("UserGroup"))
				g.Expect(p.Status.LeftOut[0].Reason).To(Equal(accessv1.ReasonInvalidReference))
				g.Expect(readyCondition(p.Status.Conditions).Status).To(Equal(metav1.ConditionTrue), "the snapshot is still served")
			}, wait).Should(Succeed())

			rec := onlyRecordFrom(main, acme, good)
			Expect(rec.Objects).To(HaveLen(1))
			Expect(rec.Objects[0].Name).To(Equal("auditors"))
			Expect(rec.Objects[0].Served).To(BeFalse())
			Expect(rec.Objects[0].Problems[0].Reason).To(Equal(accessv1.ReasonInvalidReference))
			Eventually(func(g Gomega) {
				var warnings []string
				for _, e := range events(acme, "UserGroup", "auditors") {
					if e.Type == corev1.EventTypeWarning && e.Reason == accessv1.ReasonInvalidReference {
						warnings = append(warnings, e.Note)
					}
				}
				g.Expect(warnings).To(ContainElement(ContainSubstring("spec.roles")))
			}, wait).Should(Succeed())
		})

		It("leaves a chain with a bad CEL expression out, and serves the rest", func() {
			before := main.revision(acme)
			po := snapshot.Resource{Type: "purchaseorders", OwnerID: "tom.tech", Properties: map[string]any{"amount": 2000}}
			Expect(main.store.Snapshot(acme).ApprovalPlan(po).Chain).To(Equal("purchase-orders"))
			chain := &accessv1.ApprovalChain{ObjectMeta: metav1.ObjectMeta{Namespace: acme, Name: "purchase-orders"}}
			patchSpec(chain, func() { chain.Spec.Steps[0].When = "resource.properties.amount >" })

			Eventually(func(g Gomega) {
				c := readyCondition(accessStatus(acme, "ApprovalChain", "purchase-orders").Conditions)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
				g.Expect(c.Reason).To(Equal(accessv1.ReasonInvalidExpression))
				g.Expect(c.Message).To(ContainSubstring("spec.steps[0].when"))
			}, wait).Should(Succeed())
			bad := main.revision(acme)
			Expect(bad).NotTo(Equal(before))
			Eventually(func() error {
				return allServedAt(acme, bad, "UserGroup/auditors", "ApprovalChain/purchase-orders")
			}, wait).Should(Succeed())
			Expect(main.store.Snapshot(acme).ApprovalPlan(po).Chain).To(BeEmpty())
			Expect(main.allowed(acme, "tom.tech", "create", snapshot.Resource{Type: "purchaseorders", Properties: map[string]any{"amount": 100}})).To(BeTrue())
		})

		It("serves the objects again once they are fixed", func() {
			auditors := &accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: acme, Name: "auditors"}}
			patchSpec(auditors, func() { auditors.Spec.Roles = []accessv1.ObjectName{"view-only"} })
			chain := &accessv1.ApprovalChain{ObjectMeta: metav1.ObjectMeta{Namespace: acme, Name: "purchase-orders"}}
			patchSpec(chain, func() { chain.Spec.Steps[0].When = "resource.properties.amount > 1000" })

			Eventually(func(g Gomega) {
				rev := main.revision(acme)
				g.Expect(psnap(acme).Status.LeftOut).To(BeEmpty())
				g.Expect(psnap(acme).Status.Revision).To(Equal(rev))
				g.Expect(allServedAt(acme, rev)).To(Succeed())
			}, wait).Should(Succeed())
			// The same specs as before the breakage: the same revision.
			Expect(main.revision(acme)).To(Equal(good))
			Expect(main.allowed(acme, "vic.viewer", "view", calgary)).To(BeTrue())
		})
	})

	Context("a burst of changes", Ordered, func() {
		const tenant = "burst"
		const n = 250 // roles, and as many groups: 500 objects, like `kubectl apply -f` of a big directory

		It("compiles a few times, serves everything, and audits every revision", func() {
			createNamespace(tenant)
			compilesBefore := main.rec.Compiles()
			var objs []client.Object
			for i := range n {
				objs = append(objs,
					&accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: fmt.Sprintf("role-%03d", i)},
						Spec: accessv1.RoleSpec{Permissions: []accessv1.Permission{{
							Resources: []accessv1.ModuleName{accessv1.ModuleName(fmt.Sprintf("module%d", i))},
							Actions:   []accessv1.ActionName{"view"}}}}},
					&accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: fmt.Sprintf("group-%03d", i)},
						Spec: accessv1.UserGroupSpec{Members: []accessv1.SubjectID{accessv1.SubjectID(fmt.Sprintf("user-%d", i))},
							Roles: []accessv1.ObjectName{accessv1.ObjectName(fmt.Sprintf("role-%03d", i))}}})
			}
			// Like `kubectl apply` of a big file, with a few connections.
			var wg sync.WaitGroup
			work := make(chan client.Object)
			for range 8 {
				wg.Go(func() {
					defer GinkgoRecover()
					for o := range work {
						Expect(k8s.Create(ctx, o)).To(Succeed())
					}
				})
			}
			for _, o := range objs {
				work <- o
			}
			close(work)
			wg.Wait()

			Eventually(func(g Gomega) {
				p := psnap(tenant)
				g.Expect(p.Status.Counts.Roles).To(BeEquivalentTo(n))
				g.Expect(p.Status.Counts.Groups).To(BeEquivalentTo(n))
				g.Expect(p.Status.Counts.Subjects).To(BeEquivalentTo(n))
				g.Expect(p.Status.Revision).To(Equal(main.revision(tenant)))
			}, wait).Should(Succeed())
			final := main.revision(tenant)
			Eventually(func() error { return allServedAt(tenant, final) }, wait).Should(Succeed())
			for i := range n {
				Expect(main.allowed(tenant, fmt.Sprintf("user-%d", i), "view", snapshot.Resource{Type: fmt.Sprintf("module%d", i)})).To(BeTrue())
			}

			compiles := main.rec.Compiles() - compilesBefore
			GinkgoWriter.Printf("%d objects compiled in %d rounds\n", 2*n, compiles)
			Expect(compiles).To(BeNumerically(">=", 1))
			Expect(compiles).To(BeNumerically("<=", 40), "the burst is debounced")

			// Every served revision has its audit line, chained without gaps.
			recs := main.audit.records(tenant)
			Expect(recs).NotTo(BeEmpty())
			Expect(recs[0].FromRevision).To(BeEmpty())
			created := 0
			for i, rec := range recs {
				if i > 0 {
					Expect(rec.FromRevision).To(Equal(recs[i-1].ToRevision), "record %d follows record %d", i, i-1)
				}
				for _, o := range rec.Objects {
					// A group compiled before its role is left out, then
					// restored when the role arrives.
					Expect(o.Change).To(BeElementOf(audit.ChangeCreated, audit.ChangeLeftOut, audit.ChangeRestored))
					if o.Change == audit.ChangeCreated {
						created++
					}
				}
			}
			Expect(recs[len(recs)-1].ToRevision).To(Equal(final))
			Expect(created).To(Equal(2*n), "every object is reported created exactly once")
		})

		It("reports a deleted object on the PermissionSnapshot and its dependents as left out", func() {
			before := main.revision(tenant)
			Expect(k8s.Delete(ctx, &accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "role-000"}})).To(Succeed())
			Eventually(func(g Gomega) {
				c := readyCondition(accessStatus(tenant, "UserGroup", "group-000").Conditions)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Reason).To(Equal(accessv1.ReasonInvalidReference))
			}, wait).Should(Succeed())
			rec := onlyRecordFrom(main, tenant, before)
			for _, o := range rec.Objects {
				Expect(o.UID).NotTo(BeEmpty(), "%s %s", o.Kind, o.Name)
			}
			Expect(withoutIdentity(rec.Objects)).To(ConsistOf(
				audit.Object{Kind: "UserGroup", Name: "group-000", Change: audit.ChangeLeftOut, Generation: 1,
					Served: false, Problems: rec.Objects[0].Problems},
				audit.Object{Kind: "Role", Name: "role-000", Change: audit.ChangeDeleted, Generation: 1},
			))
			Expect(main.allowed(tenant, "user-0", "view", snapshot.Resource{Type: "module0"})).To(BeFalse())
			Eventually(func(g Gomega) {
				var notes []string
				for _, e := range events(tenant, "PermissionSnapshot", accessv1.SnapshotObjectName) {
					notes = append(notes, e.Note)
				}
				g.Expect(notes).To(ContainElement(ContainSubstring("Role role-000 deleted")))
				var warnings []string
				for _, e := range events(tenant, "UserGroup", "group-000") {
					if e.Type == corev1.EventTypeWarning {
						warnings = append(warnings, e.Note)
					}
				}
				g.Expect(warnings).To(ContainElement(ContainSubstring("after a change to an object it depends on")))
			}, wait).Should(Succeed())
		})

		It("drops the tenant when its last access object is deleted", func() {
			last := main.revision(tenant)
			Expect(k8s.DeleteAllOf(ctx, &accessv1.Role{}, client.InNamespace(tenant))).To(Succeed())
			Expect(k8s.DeleteAllOf(ctx, &accessv1.UserGroup{}, client.InNamespace(tenant))).To(Succeed())
			Eventually(func() []string { return main.store.Tenants() }, wait).ShouldNot(ContainElement(tenant))
			Eventually(func() bool {
				return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: tenant, Name: accessv1.SnapshotObjectName}, &accessv1.PermissionSnapshot{}))
			}, wait).Should(BeTrue())
			recs := main.audit.records(tenant)
			dropped := recs[len(recs)-1]
			Expect(dropped.Event).To(Equal(audit.EventDropped))
			Expect(dropped.ToRevision).To(BeEmpty())
			// Every revision in between was audited.
			for i := 1; i < len(recs); i++ {
				Expect(recs[i].FromRevision).To(Equal(recs[i-1].ToRevision))
			}
			Expect(slices.ContainsFunc(recs, func(r audit.Record) bool { return r.ToRevision == last })).To(BeTrue())
			_, ok := gauge("gatehouse_snapshot_objects", map[string]string{"tenant": tenant})
			Expect(ok).To(BeFalse(), "the dropped tenant's series are deleted")
		})
	})

	It("lets a namespace be deleted: no finalizers, and the tenant goes with its objects", func() {
		const tenant = "doomed"
		createNamespace(tenant)
		Expect(k8s.Create(ctx, &accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "viewer"},
			Spec: accessv1.RoleSpec{Permissions: []accessv1.Permission{{Resources: []accessv1.ModuleName{"workorders"}, Actions: []accessv1.ActionName{"view"}}}}})).To(Succeed())
		Eventually(func() string { return psnap(tenant).Status.Revision }, wait).ShouldNot(BeEmpty())

		Expect(k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: tenant}})).To(Succeed())
		// envtest runs no namespace controller: check that nothing would
		// hold the namespace controller up, then do its work by hand.
		for _, o := range listAccess(tenant) {
			Expect(o.finalizers).To(BeEmpty())
		}
		Expect(psnap(tenant).Finalizers).To(BeEmpty())
		Expect(k8s.DeleteAllOf(ctx, &accessv1.Role{}, client.InNamespace(tenant))).To(Succeed())
		Eventually(func() []string { return main.store.Tenants() }, wait).ShouldNot(ContainElement(tenant))
		Eventually(func() bool {
			return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKey{Namespace: tenant, Name: accessv1.SnapshotObjectName}, &accessv1.PermissionSnapshot{}))
		}, wait).Should(BeTrue())
	})

	It("stops serving an object as soon as its deletion starts, even if a finalizer holds it", func() {
		const tenant = "held"
		createNamespace(tenant)
		role := &accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "viewer", Finalizers: []string{"example.com/hold"}},
			Spec: accessv1.RoleSpec{Permissions: []accessv1.Permission{{Resources: []accessv1.ModuleName{"workorders"}, Actions: []accessv1.ActionName{"view"}}}}}
		Expect(k8s.Create(ctx, role)).To(Succeed())
		Expect(k8s.Create(ctx, &accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "crew"},
			Spec: accessv1.UserGroupSpec{Members: []accessv1.SubjectID{"ann"}, Roles: []accessv1.ObjectName{"viewer"}}})).To(Succeed())
		workorders := snapshot.Resource{Type: "workorders"}
		Eventually(func() bool { return main.allowed(tenant, "ann", "view", workorders) }, wait).Should(BeTrue())

		Expect(k8s.Delete(ctx, role)).To(Succeed())
		Eventually(func() bool { return main.allowed(tenant, "ann", "view", workorders) }, wait).Should(BeFalse())
		Expect(k8s.Get(ctx, client.ObjectKeyFromObject(role), role)).To(Succeed(), "the finalizer still holds the Role")
		Eventually(func() string {
			return readyCondition(accessStatus(tenant, "UserGroup", "crew").Conditions).Reason
		}, wait).Should(Equal(accessv1.ReasonInvalidReference))

		patchSpec(role, func() { role.Finalizers = nil })
		Eventually(func() bool { return apierrors.IsNotFound(k8s.Get(ctx, client.ObjectKeyFromObject(role), role)) }, wait).Should(BeTrue())
	})

	It("keeps a new replica unready until every existing tenant is compiled", func() {
		// A long debounce holds the first compiles back, so the replica is
		// seen listed but not ready.
		late := startReplica(replicaOptions{name: "late", debounce: 2 * time.Second})
		defer late.stop()
		Eventually(func() error { return late.rec.Readiness().Check(nil) }, wait).Should(
			MatchError(ContainSubstring("not compiled yet")))
		Expect(late.rec.Readiness().Pending()).To(ContainElement(acme))
		Expect(late.store.Get(acme)).To(BeNil())

		Eventually(func() error { return late.rec.Readiness().Check(nil) }, wait).Should(Succeed())
		Expect(late.revision(acme)).To(Equal(main.revision(acme)), "revisions are the same on every replica")

		// The tenant was served before: the new replica audits that it
		// loaded it, with nothing changed.
		recs := late.audit.records(acme)
		Expect(recs).To(HaveLen(1))
		Expect(recs[0].Event).To(Equal(audit.EventLoaded))
		Expect(recs[0].FromRevision).To(Equal(recs[0].ToRevision))
		Expect(recs[0].Objects).To(BeEmpty())
		Expect(recs[0].Replica).To(Equal("late"))
	})
})

var _ = Describe("two replicas", Ordered, func() {
	const tenant = "ha"
	var a, b *replica

	BeforeAll(func() {
		createNamespace(tenant)
	})
	AfterAll(func() {
		if b != nil {
			b.stop()
		}
	})

	It("compile the same revision, and only the leader writes status", func() {
		a = startReplica(replicaOptions{name: "a", leaderElect: true})
		Eventually(a.elected, wait).Should(BeTrue())
		b = startReplica(replicaOptions{name: "b", leaderElect: true})

		Expect(k8s.Create(ctx, &accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "viewer"},
			Spec: accessv1.RoleSpec{Permissions: []accessv1.Permission{{Resources: []accessv1.ModuleName{"workorders"}, Actions: []accessv1.ActionName{"view"}}}}})).To(Succeed())
		Expect(k8s.Create(ctx, &accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "crew"},
			Spec: accessv1.UserGroupSpec{Members: []accessv1.SubjectID{"ann"}, Roles: []accessv1.ObjectName{"viewer"}}})).To(Succeed())

		Eventually(func(g Gomega) {
			rev := a.revision(tenant)
			g.Expect(rev).NotTo(BeEmpty())
			g.Expect(b.revision(tenant)).To(Equal(rev))
			g.Expect(psnap(tenant).Status.Revision).To(Equal(rev))
			g.Expect(allServedAt(tenant, rev)).To(Succeed())
		}, wait).Should(Succeed())
		Expect(b.elected()).To(BeFalse())
		Expect(b.rec.Compiles()).To(BeNumerically(">=", 1), "the follower compiles too")
		Expect(b.rec.StatusWrites()).To(BeZero(), "the follower writes no status")
		Expect(a.rec.StatusWrites()).To(BeNumerically(">", 0))
		Expect(b.allowed(tenant, "ann", "view", snapshot.Resource{Type: "workorders"})).To(BeTrue())
	})

	It("hand status writes over to the new leader when the leader stops", func() {
		old := psnap(tenant).Status.Revision
		a.stop()
		Eventually(b.elected, wait).Should(BeTrue())

		role := &accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "viewer"}}
		patchSpec(role, func() { role.Spec.Permissions[0].Actions = append(role.Spec.Permissions[0].Actions, "edit") })
		Eventually(func(g Gomega) {
			rev := b.revision(tenant)
			g.Expect(rev).NotTo(Equal(old))
			g.Expect(psnap(tenant).Status.Revision).To(Equal(rev))
			g.Expect(allServedAt(tenant, rev)).To(Succeed())
		}, wait).Should(Succeed())
		Expect(b.rec.StatusWrites()).To(BeNumerically(">", 0))
		Expect(b.allowed(tenant, "ann", "edit", snapshot.Resource{Type: "workorders"})).To(BeTrue())
	})
})

// withoutIdentity returns objs without UID and spec hash, which differ on
// every run.
func withoutIdentity(objs []audit.Object) []audit.Object {
	out := make([]audit.Object, len(objs))
	for i, o := range objs {
		o.UID, o.SpecHash = "", ""
		out[i] = o
	}
	return out
}
