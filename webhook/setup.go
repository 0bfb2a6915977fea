package webhook

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Options configure the webhook server.
type Options struct {
	// Host and Port the webhook server listens on.
	Host string
	Port int
	// CertDir holds tls.crt and tls.key (written by cert-manager's secret
	// mount, or by the built-in rotation).
	CertDir string
	// CertRotation generates a self-signed CA and serving certificate, keeps
	// them in a Secret, rotates them before expiry and injects the CA into
	// the ValidatingWebhookConfiguration — instead of cert-manager.
	CertRotation bool
	// SecretNamespace and SecretName name the Secret of the built-in rotation.
	SecretNamespace, SecretName string
	// ServiceDNSName is the webhook Service's DNS name the certificate is for,
	// e.g. gatehouse-webhook-service.gatehouse-system.svc.
	ServiceDNSName string
	// WebhookConfigName is the ValidatingWebhookConfiguration to inject the CA into.
	WebhookConfigName string
	// Limits are the tenant quotas a change must keep within; nil means
	// snapshot.DefaultLimits(). Give the controllers the same.
	Limits *snapshot.Limits
	// Audit receives the admission records (nil: none). Give the
	// controllers the same trail.
	Audit *audit.Trail
	// Replica names this process in admission records.
	Replica string
	// ArgoCDNamespace is Argo CD's namespace (empty: DefaultArgoCDNamespace).
	ArgoCDNamespace string
}

// Setup adds the validating webhook server to the manager and returns it
// (its StartedChecker suits a readiness check). With built-in rotation the
// server starts only once the certificates exist. It does not use the
// manager's own webhook server, which would start without them.
func Setup(mgr manager.Manager, st *store.Store, opts Options) (crwebhook.Server, error) {
	server := crwebhook.NewServer(crwebhook.Options{Host: opts.Host, Port: opts.Port, CertDir: opts.CertDir})
	v := NewValidator(mgr.GetCache(), mgr.GetClient(), st, mgr.GetScheme())
	if opts.Limits != nil {
		v.Limits = *opts.Limits
	}
	v.Audit, v.Replica, v.ArgoCDNamespace = opts.Audit, opts.Replica, opts.ArgoCDNamespace
	// Uncached: Applications are read only for GitOps changes, and caching
	// every Application of the cluster would cost more than the reads.
	v.Applications = mgr.GetAPIReader()
	server.Register(ValidatePath, &crwebhook.Admission{Handler: v})
	if !opts.CertRotation {
		return server, mgr.Add(server)
	}
	if err := ensureSecret(mgr, types.NamespacedName{Namespace: opts.SecretNamespace, Name: opts.SecretName}); err != nil {
		return nil, err
	}
	ready := make(chan struct{})
	err := rotator.AddRotator(mgr, &rotator.CertRotator{
		SecretKey:              types.NamespacedName{Namespace: opts.SecretNamespace, Name: opts.SecretName},
		CertDir:                opts.CertDir,
		CAName:                 "gatehouse-ca",
		CAOrganization:         "gatehouse",
		DNSName:                opts.ServiceDNSName,
		ExtraDNSNames:          []string{opts.ServiceDNSName + ".cluster.local"},
		IsReady:                ready,
		RequireLeaderElection:  false,
		RestartOnSecretRefresh: false,
		Webhooks:               []rotator.WebhookInfo{{Name: opts.WebhookConfigName, Type: rotator.Validating}},
	})
	if err != nil {
		return nil, fmt.Errorf("setting up certificate rotation: %w", err)
	}
	return server, mgr.Add(afterReady{ready: ready, server: server})
}

// ensureSecret creates the rotation Secret when it does not exist: the
// rotator only updates an existing Secret, and an install without it (or
// with it pruned by GitOps) would otherwise never get certificates.
func ensureSecret(mgr manager.Manager, key types.NamespacedName) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	var secret corev1.Secret
	err := mgr.GetAPIReader().Get(ctx, key, &secret)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("reading the certificate Secret %s: %w", key, err)
	}
	secret = corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: key.Namespace, Name: key.Name,
		Labels: map[string]string{"app.kubernetes.io/name": "gatehouse"}}}
	if err := mgr.GetClient().Create(ctx, &secret); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("creating the certificate Secret %s: %w", key, err)
	}
	return nil
}

// afterReady starts the webhook server once the rotator has written the
// certificates, so it never starts without them.
type afterReady struct {
	ready  <-chan struct{}
	server crwebhook.Server
}

// Start waits for the certificates, then serves until ctx ends.
func (a afterReady) Start(ctx context.Context) error {
	select {
	case <-a.ready:
	case <-ctx.Done():
		return nil
	}
	ctrl.Log.WithName("webhook").Info("certificates ready, starting the webhook server")
	return a.server.Start(ctx)
}

// NeedLeaderElection is false: every replica serves admission.
func (afterReady) NeedLeaderElection() bool { return false }
