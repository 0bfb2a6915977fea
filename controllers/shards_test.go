package controllers_test

import (
	"fmt"
	"reflect"
	"sync"
	"sync/atomic"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/controllers"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// createTenant creates a labelled namespace whose crew (ann) may view
// workorders; bob is in no group.
func createTenant(name string, labels map[string]string) {
	ExpectWithOffset(1, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}})).To(Succeed())
	ExpectWithOffset(1, k8s.Create(ctx, &accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "viewer"},
		Spec: accessv1.RoleSpec{Permissions: []accessv1.Permission{{Resources: []accessv1.ModuleName{"workorders"}, Actions: []accessv1.ActionName{"view"}}}}})).To(Succeed())
	ExpectWithOffset(1, k8s.Create(ctx, &accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: name, Name: "crew"},
		Spec: accessv1.UserGroupSpec{Members: []accessv1.SubjectID{"ann"}, Roles: []accessv1.ObjectName{"viewer"}}})).To(Succeed())
}

// setShardLabel sets (or, with "", removes) a namespace's shard label.
func setShardLabel(namespace, shard string) {
	ns := &corev1.Namespace{}
	ExpectWithOffset(1, k8s.Get(ctx, client.ObjectKey{Name: namespace}, ns)).To(Succeed())
	orig := ns.DeepCopy()
	if shard == "" {
		delete(ns.Labels, controllers.ShardLabel)
	} else {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[controllers.ShardLabel] = shard
	}
	ExpectWithOffset(1, k8s.Patch(ctx, ns, client.MergeFrom(orig))).To(Succeed())
}

// questions are asked of a tenant's snapshot while it moves between shards.
var questions = []snapshot.Request{
	{Subject: snapshot.Subject{ID: "ann"}, Action: "view", Resource: snapshot.Resource{Type: "workorders"}},
	{Subject: snapshot.Subject{ID: "ann"}, Action: "edit", Resource: snapshot.Resource{Type: "workorders"}},
	{Subject: snapshot.Subject{ID: "bob"}, Action: "view", Resource: snapshot.Resource{Type: "workorders"}},
}

// decisionChecker asks every replica's store about one tenant in a loop and
// records every answer that is neither the reference decision nor a
// fail-closed "no snapshot" one. With mustServe, "no snapshot" is wrong too.
type decisionChecker struct {
	tenant    string
	revision  string
	want      []snapshot.Decision
	mustServe bool
	replicas  map[string]*replica

	stop   chan struct{}
	done   chan struct{}
	rounds atomic.Int64

	mu      sync.Mutex
	wrong   []string
	served  map[string]int
	unknown map[string]int
}

// checkDecisions starts checking the tenant against the snapshot ref serves
// now, for at most limit.
func checkDecisions(tenant string, ref *replica, mustServe bool, limit time.Duration, replicas map[string]*replica) *decisionChecker {
	snap := ref.store.Snapshot(tenant)
	ExpectWithOffset(1, snap).NotTo(BeNil(), "the reference replica serves %s", tenant)
	c := &decisionChecker{tenant: tenant, revision: snap.Revision(), mustServe: mustServe, replicas: replicas,
		stop: make(chan struct{}), done: make(chan struct{}), served: map[string]int{}, unknown: map[string]int{}}
	for i := range questions {
		c.want = append(c.want, snap.Check(&questions[i]))
	}
	ExpectWithOffset(1, c.want[0].Allowed).To(BeTrue(), "ann may view")
	ExpectWithOffset(1, c.want[1].Allowed).To(BeFalse(), "ann may not edit")
	ExpectWithOffset(1, c.want[2].Allowed).To(BeFalse(), "bob may not view")
	deadline := time.Now().Add(limit)
	go func() {
		defer close(c.done)
		for time.Now().Before(deadline) {
			select {
			case <-c.stop:
				return
			default:
			}
			for name, r := range c.replicas {
				c.observe(name, r.store.Snapshot(tenant))
			}
			c.rounds.Add(1)
			time.Sleep(200 * time.Microsecond)
		}
	}()
	return c
}

func (c *decisionChecker) observe(name string, snap *snapshot.Snapshot) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if snap == nil {
		c.unknown[name]++
		if c.mustServe {
			c.wrong = append(c.wrong, fmt.Sprintf("%s: %s not served", name, c.tenant))
		}
		// Not served must mean denied as unknown, for every question.
		for i := range questions {
			if d := snap.Check(&questions[i]); d.Allowed || d.Reason != snapshot.ReasonNoSnapshot {
				c.wrong = append(c.wrong, fmt.Sprintf("%s: no snapshot answered %+v", name, d))
			}
		}
		return
	}
	c.served[name]++
	if snap.Revision() != c.revision {
		c.wrong = append(c.wrong, fmt.Sprintf("%s: revision %s, want %s", name, snap.Revision(), c.revision))
	}
	for i := range questions {
		if d := snap.Check(&questions[i]); !reflect.DeepEqual(d, c.want[i]) {
			c.wrong = append(c.wrong, fmt.Sprintf("%s: %+v answered %+v, want %+v", name, questions[i], d, c.want[i]))
		}
	}
}

// finish stops the checker and returns what it saw.
func (c *decisionChecker) finish() (wrong []string, served, unknown map[string]int) {
	close(c.stop)
	<-c.done
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.wrong, c.served, c.unknown
}

var _ = Describe("two shards", Ordered, func() {
	const (
		a1, a2     = "shard-a-one", "shard-a-two"
		b1         = "shard-b-one"
		unlabelled = "shard-unlabelled"
	)
	shardA := controllers.Shard{Name: "a", Default: true}
	shardB := controllers.Shard{Name: "b"}
	var a, b *replica
	workorders := snapshot.Resource{Type: "workorders"}

	BeforeAll(func() {
		createTenant(a1, map[string]string{controllers.ShardLabel: "a"})
		createTenant(a2, map[string]string{controllers.ShardLabel: "a"})
		createTenant(b1, map[string]string{controllers.ShardLabel: "b"})
		createTenant(unlabelled, nil)
		a = startReplica(replicaOptions{name: "shard-a", leaderElect: true, shard: shardA})
		b = startReplica(replicaOptions{name: "shard-b", leaderElect: true, shard: shardB})
	})
	AfterAll(func() {
		for _, r := range []*replica{a, b} {
			if r != nil {
				r.stop()
			}
		}
	})

	It("serve only their own tenants, each tenant on exactly one shard, and name the shard in status", func() {
		Eventually(a.rec.Readiness().Ready, wait).Should(BeTrue())
		Eventually(b.rec.Readiness().Ready, wait).Should(BeTrue())
		Eventually(a.elected, wait).Should(BeTrue())
		Eventually(b.elected, wait).Should(BeTrue(), "each shard elects its own leader")

		owner := map[string]*replica{a1: a, a2: a, b1: b, unlabelled: a}
		names := map[*replica]string{a: "a", b: "b"}
		for tenant, r := range owner {
			Eventually(func(g Gomega) {
				p := psnap(tenant)
				g.Expect(p.Status.Shard).To(Equal(names[r]), "status names the serving shard")
				g.Expect(p.Status.Revision).To(Equal(r.revision(tenant)))
				c := readyCondition(p.Status.Conditions)
				g.Expect(c).NotTo(BeNil())
				g.Expect(c.Status).To(Equal(metav1.ConditionTrue))
			}, wait).Should(Succeed(), "tenant %s", tenant)
			Expect(r.allowed(tenant, "ann", "view", workorders)).To(BeTrue())
		}
		// b serves its labelled tenant and nothing else; a serves the rest
		// (the other suites' tenants are unlabelled: a is the default).
		Expect(b.store.Tenants()).To(Equal([]string{b1}))
		Expect(a.store.Tenants()).To(ContainElements(a1, a2, unlabelled))
		Expect(a.store.Tenants()).NotTo(ContainElement(b1))
		Expect(b.rec.Compiles()).To(BeNumerically(">=", 1))

		// Every tenant of the cluster is served by exactly one shard
		// (other suites' tenants labelled for shards not running here
		// excepted).
		var list accessv1.RoleList
		Expect(k8s.List(ctx, &list)).To(Succeed())
		for _, role := range list.Items {
			tenant := role.Namespace
			var ns corev1.Namespace
			Expect(k8s.Get(ctx, client.ObjectKey{Name: tenant}, &ns)).To(Succeed())
			if l, ok := ns.Labels[controllers.ShardLabel]; ok && l != "" && l != "a" && l != "b" {
				continue
			}
			inA, inB := a.store.Get(tenant) != nil, b.store.Get(tenant) != nil
			Expect(inA != inB).To(BeTrue(), "tenant %s: served by a %v, by b %v", tenant, inA, inB)
		}

		// A shard's audit trail has only its own tenants.
		Expect(a.audit.records(b1)).To(BeEmpty())
		Expect(b.audit.records(a1)).To(BeEmpty())
		Expect(b.audit.records(unlabelled)).To(BeEmpty())
	})

	It("move a tenant: the new shard serves it, the old one drops it, and no answer is ever wrong", func() {
		revision := a.revision(a1)
		replicas := map[string]*replica{"a": a, "b": b}
		moving := checkDecisions(a1, a, false, 3*wait, replicas)
		// A tenant that stays must be served throughout.
		staying := checkDecisions(a2, a, true, 3*wait, map[string]*replica{"a": a})
		Eventually(moving.rounds.Load, wait).Should(BeNumerically(">", 10), "the checker is running")

		setShardLabel(a1, "b")
		Eventually(func(g Gomega) {
			g.Expect(b.revision(a1)).To(Equal(revision))
			g.Expect(a.store.Get(a1)).To(BeNil())
			p := psnap(a1)
			g.Expect(p.Status.Shard).To(Equal("b"))
			g.Expect(readyCondition(p.Status.Conditions).Status).To(Equal(metav1.ConditionTrue))
		}, wait).Should(Succeed())
		// A few more rounds with the tenant on b only.
		after := moving.rounds.Load()
		Eventually(moving.rounds.Load, wait).Should(BeNumerically(">", after+10))

		wrong, served, unknown := moving.finish()
		Expect(wrong).To(BeEmpty())
		Expect(served["a"]).To(BeNumerically(">", 0), "a served it before the move")
		Expect(served["b"]).To(BeNumerically(">", 0), "b served it after the move")
		GinkgoWriter.Printf("moving %s: served by a %d, by b %d; unknown on a %d, on b %d\n",
			a1, served["a"], served["b"], unknown["a"], unknown["b"])
		wrong, served, _ = staying.finish()
		Expect(wrong).To(BeEmpty(), "the tenant staying on a is served throughout")
		Expect(served["a"]).To(BeNumerically(">", 0))

		Expect(a.store.Tenants()).NotTo(ContainElement(a1))
		Expect(b.store.Tenants()).To(ConsistOf(a1, b1))
		// a audits that it stopped serving the tenant, b that it loaded
		// the revision the PermissionSnapshot reported.
		recs := a.audit.records(a1)
		Expect(recs[len(recs)-1].Event).To(Equal(audit.EventDropped))
		Expect(recs[len(recs)-1].FromRevision).To(Equal(revision))
		Expect(b.audit.records(a1)).To(ConsistOf(HaveField("Event", audit.EventLoaded)))
		Expect(b.audit.records(a1)[0].FromRevision).To(Equal(revision))
	})

	It("keep a moved tenant up to date on its new shard only", func() {
		role := &accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: a1, Name: "viewer"}}
		patchSpec(role, func() { role.Spec.Permissions[0].Actions = append(role.Spec.Permissions[0].Actions, "edit") })
		Eventually(func() bool { return b.allowed(a1, "ann", "edit", workorders) }, wait).Should(BeTrue())
		Eventually(func(g Gomega) {
			g.Expect(psnap(a1).Status.Revision).To(Equal(b.revision(a1)))
			g.Expect(psnap(a1).Status.Shard).To(Equal("b"))
			g.Expect(allServedAt(a1, b.revision(a1))).To(Succeed())
		}, wait).Should(Succeed())
		Expect(a.store.Get(a1)).To(BeNil(), "the old shard does not take it back")
	})

	It("leave a tenant labelled for no running shard unserved, and say so in status", func() {
		setShardLabel(b1, "nowhere")
		Eventually(func(g Gomega) {
			g.Expect(b.store.Get(b1)).To(BeNil())
			p := psnap(b1)
			g.Expect(p.Status.Shard).To(BeEmpty())
			c := readyCondition(p.Status.Conditions)
			g.Expect(c).NotTo(BeNil())
			g.Expect(c.Status).To(Equal(metav1.ConditionFalse))
			g.Expect(c.Reason).To(Equal(accessv1.ReasonNotInShard))
			g.Expect(c.Message).To(And(ContainSubstring("shard b"), ContainSubstring(controllers.ShardLabel+"=nowhere")))
		}, wait).Should(Succeed())
		Expect(a.store.Get(b1)).To(BeNil())
		Expect(b.store.Snapshot(b1).Check(&questions[0]).Reason).To(Equal(snapshot.ReasonNoSnapshot))
		Expect(psnap(b1).Status.Revision).NotTo(BeEmpty(), "the last served revision is kept")

		// Unlabelled, it goes to the default shard.
		setShardLabel(b1, "")
		Eventually(func(g Gomega) {
			g.Expect(a.allowed(b1, "ann", "view", workorders)).To(BeTrue())
			p := psnap(b1)
			g.Expect(p.Status.Shard).To(Equal("a"))
			g.Expect(readyCondition(p.Status.Conditions).Status).To(Equal(metav1.ConditionTrue))
		}, wait).Should(Succeed())
		Expect(b.store.Get(b1)).To(BeNil())
	})
})
