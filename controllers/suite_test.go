package controllers_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/controllers"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

var (
	env *envtest.Environment
	cfg *rest.Config
	k8s client.Client
	// managerCfg authenticates as the manager's ServiceAccount with the
	// RBAC of config/rbac: the replicas run with exactly what ships.
	managerCfg *rest.Config
	scheme     = runtime.NewScheme()
	ctx        = context.Background()
)

func TestControllers(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "controllers suite (envtest)")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(accessv1.AddToScheme(scheme)).To(Succeed())

	var err error
	env, err = testenv.New()
	Expect(err).NotTo(HaveOccurred())
	cfg, err = env.Start()
	Expect(err).NotTo(HaveOccurred())
	k8s, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	Expect(k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: managerNamespace}})).To(Succeed())
	managerCfg, err = testenv.ManagerCredentials(ctx, env, k8s, managerNamespace)
	Expect(err).NotTo(HaveOccurred())
})

var _ = AfterSuite(func() {
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// auditBuffer captures a replica's audit trail.
type auditBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *auditBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// records returns the records of tenant, in the order they were written.
func (b *auditBuffer) records(tenant string) []audit.Record {
	b.mu.Lock()
	data := bytes.Clone(b.buf.Bytes())
	b.mu.Unlock()
	var out []audit.Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var r audit.Record
		ExpectWithOffset(1, json.Unmarshal(sc.Bytes(), &r)).To(Succeed(), "audit line %q", sc.Text())
		if r.Tenant == tenant {
			out = append(out, r)
		}
	}
	return out
}

// replica is one running manager with the tenant controller.
type replica struct {
	mgr    manager.Manager
	rec    *controllers.TenantReconciler
	store  *store.Store
	audit  *auditBuffer
	cancel context.CancelFunc
	done   chan error
}

type replicaOptions struct {
	name        string
	debounce    time.Duration
	leaderElect bool
	// shard is the part of the tenants the replica serves (zero: all);
	// each shard elects its leader on its own lease.
	shard controllers.Shard
	// limits are the tenant quotas (nil: the defaults).
	limits *snapshot.Limits
}

// managerNamespace is the install namespace: the manager's RBAC and its
// leader election lease live there.
const managerNamespace = "gatehouse-system"

func startReplica(o replicaOptions) *replica {
	mgrOpts := ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Several managers run in this process, each with a "tenant"
		// controller.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{DefaultTransform: controllers.CacheTransform},
	}
	if o.leaderElect {
		mgrOpts.LeaderElection = true
		mgrOpts.LeaderElectionID = "gatehouse-test"
		if o.shard.Sharded() {
			mgrOpts.LeaderElectionID = "gatehouse-test-" + o.shard.Name
		}
		mgrOpts.LeaderElectionNamespace = managerNamespace
		mgrOpts.LeaderElectionReleaseOnCancel = true
		mgrOpts.LeaseDuration = ptr.To(4 * time.Second)
		mgrOpts.RenewDeadline = ptr.To(3 * time.Second)
		mgrOpts.RetryPeriod = ptr.To(200 * time.Millisecond)
	}
	mgr, err := ctrl.NewManager(managerCfg, mgrOpts)
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	r := &replica{mgr: mgr, store: store.New(), audit: &auditBuffer{}, done: make(chan error, 1)}
	r.rec, err = controllers.SetupWithManager(mgr, controllers.Options{
		Store: r.store, Audit: audit.NewTrail(audit.Options{}, audit.NewLines(r.audit)), Debounce: o.debounce, Replica: o.name, Shard: o.shard, Limits: o.limits,
	})
	ExpectWithOffset(1, err).NotTo(HaveOccurred())
	var mctx context.Context
	mctx, r.cancel = context.WithCancel(ctx)
	go func() {
		defer GinkgoRecover()
		r.done <- mgr.Start(mctx)
	}()
	return r
}

func (r *replica) stop() {
	r.cancel()
	EventuallyWithOffset(1, r.done, 30*time.Second).Should(Receive(BeNil()))
}

func (r *replica) elected() bool {
	select {
	case <-r.mgr.Elected():
		return true
	default:
		return false
	}
}

// revision returns the revision the replica serves for tenant ("" if none).
func (r *replica) revision(tenant string) string {
	if e := r.store.Get(tenant); e != nil {
		return e.Snapshot.Revision()
	}
	return ""
}

func createNamespace(name string) {
	ExpectWithOffset(1, k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
}

// psnap returns the tenant's PermissionSnapshot (empty when missing).
func psnap(tenant string) *accessv1.PermissionSnapshot {
	var p accessv1.PermissionSnapshot
	_ = k8s.Get(ctx, client.ObjectKey{Namespace: tenant, Name: accessv1.SnapshotObjectName}, &p)
	return &p
}

func readyCondition(conds []metav1.Condition) *metav1.Condition {
	for i := range conds {
		if conds[i].Type == accessv1.ConditionReady {
			return &conds[i]
		}
	}
	return nil
}

// events returns the Events regarding the named object in tenant.
func events(tenant, kind, name string) []eventsv1.Event {
	var list eventsv1.EventList
	ExpectWithOffset(1, k8s.List(ctx, &list, client.InNamespace(tenant))).To(Succeed())
	var out []eventsv1.Event
	for _, e := range list.Items {
		if e.Regarding.Kind == kind && e.Regarding.Name == name {
			out = append(out, e)
		}
	}
	return out
}
