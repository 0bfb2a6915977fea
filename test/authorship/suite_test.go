// Package authorship_test proves the audit trail's authorship on a real API
// server with two manager replicas: replica A serves the validating webhook
// (over real TLS) and compiles, replica B only compiles, each writes its own
// trail, and every compile record of either joins to the admission record of
// the user (or Argo CD sync) that made the change.
package authorship_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
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
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/controllers"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/webhook"
)

const (
	managerNamespace = "gatehouse-system"
	// wait bounds every poll of the suite.
	wait = 60 * time.Second
)

// cluster is the control plane and the clients the tests share.
type cluster struct {
	env        *envtest.Environment
	cfg        *rest.Config
	admin      client.Client
	managerCfg *rest.Config
	scheme     *runtime.Scheme
}

func startCluster(t *testing.T) *cluster {
	t.Helper()
	logf.SetLogger(zap.New(zap.WriteTo(logWriter()), zap.UseDevMode(true)))
	c := &cluster{scheme: runtime.NewScheme()}
	must(t, clientgoscheme.AddToScheme(c.scheme))
	must(t, v1.AddToScheme(c.scheme))
	root, err := testenv.RepoRoot()
	must(t, err)
	c.env, err = testenv.New()
	must(t, err)
	c.env.CRDDirectoryPaths = append(c.env.CRDDirectoryPaths, filepath.Join("testdata"))
	c.env.WebhookInstallOptions = envtest.WebhookInstallOptions{Paths: []string{filepath.Join(root, "config", "webhook", "manifests.yaml")}}
	c.cfg, err = c.env.Start()
	must(t, err)
	t.Cleanup(func() { _ = c.env.Stop() })
	c.admin, err = client.New(c.cfg, client.Options{Scheme: c.scheme})
	must(t, err)
	ctx := context.Background()
	must(t, c.admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: managerNamespace}}))
	c.managerCfg, err = testenv.ManagerCredentials(ctx, c.env, c.admin, managerNamespace)
	must(t, err)
	return c
}

// as returns a client impersonating user with groups (the admin's
// credentials impersonate, as kubectl --as does).
func (c *cluster) as(t *testing.T, user, uid string, groups ...string) client.Client {
	t.Helper()
	cfg := rest.CopyConfig(c.cfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user, UID: uid, Groups: append(groups, "system:authenticated")}
	cl, err := client.New(cfg, client.Options{Scheme: c.scheme})
	must(t, err)
	return cl
}

// replica is one manager process: the tenant controllers, and the webhook
// when it serves admission.
type replica struct {
	name   string
	store  *store.Store
	trail  *lineBuffer
	cancel context.CancelFunc
	done   chan error
}

type replicaOptions struct {
	name    string
	webhook bool
	// sinks are added to the replica's trail after its JSON lines.
	sinks    []audit.Sink
	required bool
}

func (c *cluster) startReplica(t *testing.T, o replicaOptions) *replica {
	t.Helper()
	mgr, err := ctrl.NewManager(c.managerCfg, ctrl.Options{
		Scheme:                        c.scheme,
		Metrics:                       metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress:        "0",
		Controller:                    config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:                         cache.Options{DefaultTransform: controllers.CacheTransform},
		LeaderElection:                true,
		LeaderElectionID:              "gatehouse-authorship",
		LeaderElectionNamespace:       managerNamespace,
		LeaderElectionReleaseOnCancel: true,
		LeaseDuration:                 ptr.To(4 * time.Second),
		RenewDeadline:                 ptr.To(3 * time.Second),
		RetryPeriod:                   ptr.To(200 * time.Millisecond),
	})
	must(t, err)
	r := &replica{name: o.name, store: store.New(), trail: &lineBuffer{}, done: make(chan error, 1)}
	trail := audit.NewTrail(audit.Options{Required: o.required, DeliveryTimeout: 500 * time.Millisecond},
		append([]audit.Sink{audit.NewLines(r.trail)}, o.sinks...)...)
	_, err = controllers.SetupWithManager(mgr, controllers.Options{Store: r.store, Audit: trail, Replica: o.name, Debounce: -1})
	must(t, err)
	var server crwebhook.Server
	if o.webhook {
		wh := c.env.WebhookInstallOptions
		s, err := webhook.Setup(mgr, r.store, webhook.Options{Host: wh.LocalServingHost, Port: wh.LocalServingPort,
			CertDir: wh.LocalServingCertDir, Audit: trail, Replica: o.name})
		must(t, err)
		server = s
	}
	var ctx context.Context
	ctx, r.cancel = context.WithCancel(context.Background())
	go func() { r.done <- mgr.Start(ctx) }()
	t.Cleanup(func() { r.stop(t) })
	if server != nil {
		eventually(t, "the webhook server to start", func() bool { return server.StartedChecker()(nil) == nil })
	}
	return r
}

func (r *replica) stop(t *testing.T) {
	if r.cancel == nil {
		return
	}
	r.cancel()
	r.cancel = nil
	select {
	case err := <-r.done:
		if err != nil {
			t.Errorf("%s stopped with %v", r.name, err)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("%s did not stop within 30s", r.name)
	}
}

func (r *replica) revision(tenant string) string {
	if e := r.store.Get(tenant); e != nil {
		return e.Snapshot.Revision()
	}
	return ""
}

// lineBuffer is a replica's trail of JSON lines.
type lineBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *lineBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *lineBuffer) records(t *testing.T) []audit.Record {
	t.Helper()
	b.mu.Lock()
	data := bytes.Clone(b.buf.Bytes())
	b.mu.Unlock()
	var out []audit.Record
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 1<<20), 1<<26)
	for sc.Scan() {
		var r audit.Record
		if err := json.Unmarshal(sc.Bytes(), &r); err != nil {
			t.Fatalf("audit line is not a record: %v", err)
		}
		out = append(out, r)
	}
	return out
}

// eventually polls cond every 50 ms until it holds or wait passes.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(wait)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", wait, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

// bindEditor lets user (or a ServiceAccount) edit access objects in ns, as a
// tenant admin's RBAC would.
func (c *cluster) bindEditor(t *testing.T, ns string, subjects ...rbacv1.Subject) {
	t.Helper()
	ctx := context.Background()
	for _, obj := range []client.Object{
		&rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "access-editor", Namespace: ns}, Rules: []rbacv1.PolicyRule{{
			APIGroups: []string{v1.GroupVersion.Group}, Resources: []string{"accessroles", "usergroups", "fieldpolicies", "approvalchains"},
			Verbs: []string{"get", "list", "watch", "create", "update", "patch", "delete"},
		}}},
		&rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "access-editors", Namespace: ns},
			RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "access-editor"}, Subjects: subjects},
	} {
		must(t, c.admin.Create(ctx, obj))
	}
}

// grantEscalate gives subjects Kubernetes RBAC's escalate verb on
// accessroles in ns: what a platform team grants its GitOps controller.
func (c *cluster) grantEscalate(t *testing.T, ns string, subjects ...rbacv1.Subject) {
	t.Helper()
	ctx := context.Background()
	must(t, c.admin.Create(ctx, &rbacv1.Role{ObjectMeta: metav1.ObjectMeta{Name: "access-escalator", Namespace: ns}, Rules: []rbacv1.PolicyRule{{
		APIGroups: []string{v1.GroupVersion.Group}, Resources: []string{"accessroles"}, Verbs: []string{"escalate"}}}}))
	must(t, c.admin.Create(ctx, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "access-escalators", Namespace: ns},
		RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: "access-escalator"}, Subjects: subjects}))
}

// logWriter is where the managers log: standard error with
// AUTHORSHIP_LOG=1, else nowhere (goroutines may log after a test ends).
func logWriter() io.Writer {
	if os.Getenv("AUTHORSHIP_LOG") != "" {
		return os.Stderr
	}
	return io.Discard
}
