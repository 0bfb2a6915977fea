package webhook_test

import (
	"context"
	"path/filepath"
	"sync"
	"testing"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/webhook"
)

var (
	env    *envtest.Environment
	admin  client.Client
	st     = store.New()
	scheme = runtime.NewScheme()
	ctx    context.Context
	cancel context.CancelFunc
	// webhookCache is the informer cache the webhook lists tenants from.
	webhookCache client.Reader
)

func TestWebhook(t *testing.T) {
	RegisterFailHandler(Fail)
	RunSpecs(t, "validating webhook suite (envtest, real TLS)")
}

var _ = BeforeSuite(func() {
	ctrl.SetLogger(zap.New(zap.WriteTo(GinkgoWriter), zap.UseDevMode(true)))
	ctx, cancel = context.WithCancel(context.Background())
	Expect(clientgoscheme.AddToScheme(scheme)).To(Succeed())
	Expect(v1.AddToScheme(scheme)).To(Succeed())

	root, err := testenv.RepoRoot()
	Expect(err).NotTo(HaveOccurred())
	env, err = testenv.New()
	Expect(err).NotTo(HaveOccurred())
	// envtest generates a CA and serving certificate and points the
	// generated ValidatingWebhookConfiguration at the local TLS server.
	env.WebhookInstallOptions = envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook", "manifests.yaml")}}
	cfg, err := env.Start()
	Expect(err).NotTo(HaveOccurred())
	admin, err = client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{Scheme: scheme, Metrics: metricsserver.Options{BindAddress: "0"}})
	Expect(err).NotTo(HaveOccurred())
	wh := env.WebhookInstallOptions
	// The default quotas, with a shallow inheritance limit a test can reach.
	limits := snapshot.DefaultLimits()
	limits.InheritanceDepth = quotaDepth
	server, err := webhook.Setup(mgr, st, webhook.Options{Host: wh.LocalServingHost, Port: wh.LocalServingPort, CertDir: wh.LocalServingCertDir, Limits: &limits})
	Expect(err).NotTo(HaveOccurred())
	go func() {
		defer GinkgoRecover()
		Expect(mgr.Start(ctx)).To(Succeed())
	}()
	Eventually(func() error { return server.StartedChecker()(nil) }).Should(Succeed())
	Expect(mgr.GetCache().WaitForCacheSync(ctx)).To(BeTrue())
	webhookCache = mgr.GetCache()

	// A ClusterRole like config/rbac's tenant-admin role, bound per test namespace.
	Expect(admin.Create(ctx, &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "tenant-editor"}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{v1.GroupVersion.Group}, Resources: []string{"accessroles", "usergroups", "fieldpolicies", "approvalchains"},
		Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
	}}})).To(Succeed())
})

var _ = AfterSuite(func() {
	if cancel != nil {
		cancel()
	}
	if env != nil {
		Expect(env.Stop()).To(Succeed())
	}
})

// warnings collects the admission warnings the API server relays.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeader(_ int, _ string, text string) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// userClient returns a client authenticated as a tenant user (not a cluster
// admin) allowed by RBAC to edit access objects in ns, and its warnings.
func userClient(name, ns string) (client.Client, *warnings) {
	user, err := env.ControlPlane.AddUser(envtest.User{Name: name, Groups: []string{"acme-staff"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	binding := &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "editor-" + name, Namespace: ns},
		RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "tenant-editor"},
		Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: name}}}
	Expect(admin.Create(ctx, binding)).To(Succeed())
	return clientFor(user.Config())
}

func clientFor(cfg *rest.Config) (client.Client, *warnings) {
	w := &warnings{}
	cfg = rest.CopyConfig(cfg)
	cfg.WarningHandler = w
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	Expect(err).NotTo(HaveOccurred())
	return c, w
}

// adminClient is a system:masters client that records warnings.
func adminClient() (client.Client, *warnings) {
	user, err := env.ControlPlane.AddUser(envtest.User{Name: "cluster-admin", Groups: []string{"system:masters"}}, nil)
	Expect(err).NotTo(HaveOccurred())
	return clientFor(user.Config())
}

// awaitCached waits until the webhook's informer cache holds objs as
// created or updated. The webhook lists the tenant from that cache, so a
// review that depends on an object the test just wrote must wait for it, as
// the API server's watch delivers it a moment later.
func awaitCached(objs ...client.Object) {
	GinkgoHelper()
	for _, obj := range objs {
		Eventually(func(g Gomega) {
			seen := obj.DeepCopyObject().(client.Object)
			g.Expect(webhookCache.Get(ctx, client.ObjectKeyFromObject(obj), seen)).To(Succeed())
			g.Expect(seen.GetResourceVersion()).To(Equal(obj.GetResourceVersion()))
		}).Should(Succeed())
	}
}

func newTenant(name string) {
	Expect(admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})).To(Succeed())
}

// compileTenant serves the tenant's current objects, standing in for the
// controllers (tested in their own suite).
func compileTenant(ns string) {
	var (
		roles  v1.RoleList
		groups v1.UserGroupList
		fields v1.FieldPolicyList
		chains v1.ApprovalChainList
	)
	for _, l := range []client.ObjectList{&roles, &groups, &fields, &chains} {
		Expect(admin.List(ctx, l, client.InNamespace(ns))).To(Succeed())
	}
	snap, _ := snapshot.Compile(ns, snapshot.Objects{Roles: roles.Items, Groups: groups.Items, FieldPolicies: fields.Items, ApprovalChains: chains.Items})
	st.Set(ns, &store.Entry{Snapshot: snap, CompiledAt: time.Now()})
}

// rbacEscalator grants the Kubernetes RBAC verb escalate on accessroles,
// which exempts its holders from Gatehouse's escalation check.
var rbacEscalator = rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "gatehouse-escalator"}, Rules: []rbacv1.PolicyRule{{
	APIGroups: []string{v1.GroupVersion.Group}, Resources: []string{"accessroles"}, Verbs: []string{"escalate"},
}}}

var rbacEscalatorBinding = rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "vic-escalates", Namespace: "acme"},
	RoleRef:  rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "gatehouse-escalator"},
	Subjects: []rbacv1.Subject{{Kind: rbacv1.UserKind, APIGroup: rbacv1.GroupName, Name: "vic"}}}
