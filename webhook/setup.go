package webhook

import (
	"context"
	"fmt"

	"github.com/open-policy-agent/cert-controller/pkg/rotator"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	crwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

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
}

// Setup adds the validating webhook server to the manager and returns it
// (its StartedChecker suits a readiness check). With built-in rotation the
// server starts only once the certificates exist. It does not use the
// manager's own webhook server, which would start without them.
func Setup(mgr manager.Manager, st *store.Store, opts Options) (crwebhook.Server, error) {
	server := crwebhook.NewServer(crwebhook.Options{Host: opts.Host, Port: opts.Port, CertDir: opts.CertDir})
	server.Register(ValidatePath, &crwebhook.Admission{
		Handler: NewValidator(mgr.GetCache(), mgr.GetClient(), st, mgr.GetScheme()),
	})
	if !opts.CertRotation {
		return server, mgr.Add(server)
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
