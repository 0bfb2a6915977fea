package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"net/http"
	"os"
	"strings"
	"sync"
	"time"

	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/gatehouse-dev/gatehouse/internal/authz"
	"github.com/gatehouse-dev/gatehouse/internal/authz/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/webhook"
)

// servingOptions are the flags of what the manager serves: the validating
// webhook and the authorization endpoint.
type servingOptions struct {
	webhook      webhook.Options
	authzAddr    string
	authzCert    string
	authzKey     string
	authzPlain   bool
	authnNone    bool
	defaultTen   string
	sampleRate   float64
	maxBatch     int
	minRevWait   time.Duration
	certRotation bool
	// authzAudiences is --authz-token-audiences, comma-separated.
	authzAudiences string
	// limits and server hold the endpoint's limits and SubjectAccessReview
	// mapping (authz.BindFlags); the rest of their fields are set here.
	limits authz.Options
	server authz.ServerOptions
	// decisions receives the sampled decision records (the audit trail).
	decisions authz.DecisionSink
}

func (o *servingOptions) bindFlags(fs *flag.FlagSet) {
	fs.BoolVar(&o.certRotation, "cert-rotation", false, "Generate, rotate and inject the webhook's certificates (self-signed CA in a Secret) instead of using cert-manager's.")
	fs.StringVar(&o.webhook.SecretName, "cert-secret", "gatehouse-webhook-server-cert", "Secret of the built-in certificate rotation.")
	fs.StringVar(&o.webhook.SecretNamespace, "cert-secret-namespace", os.Getenv("POD_NAMESPACE"), "Namespace of the rotation Secret (default: the pod's namespace).")
	fs.StringVar(&o.webhook.ServiceDNSName, "webhook-service-dns", "gatehouse-webhook-service.gatehouse-system.svc", "DNS name of the webhook Service the rotated certificate is for.")
	fs.StringVar(&o.webhook.WebhookConfigName, "webhook-config-name", "gatehouse-validating-webhook-configuration", "ValidatingWebhookConfiguration the rotated CA is injected into.")
	fs.StringVar(&o.authzAddr, "authz-bind-address", ":8443", "Address of the authorization endpoint (AuthZEN, native API, SubjectAccessReview); 0 disables it.")
	fs.StringVar(&o.authzCert, "authz-cert-file", "", "TLS certificate of the authorization endpoint (default: the webhook's tls.crt, unless --authz-insecure-plain-http); re-read on change.")
	fs.StringVar(&o.authzKey, "authz-key-file", "", "TLS key of the authorization endpoint (default: the webhook's tls.key).")
	fs.BoolVar(&o.authzPlain, "authz-insecure-plain-http", false, "Serve the authorization endpoint without TLS unless --authz-cert-file is given (the webhook's certificate is then not used for it). Development only.")
	fs.BoolVar(&o.authnNone, "authz-insecure-no-authn", false, "Answer every caller without TokenReview/SubjectAccessReview checks. Development only.")
	fs.StringVar(&o.authzAudiences, "authz-token-audiences", "", "Comma-separated audiences a caller's token must be valid for (one of them), checked by TokenReview; empty: the API server's own audiences.")
	fs.StringVar(&o.defaultTen, "default-tenant", "", "Tenant also served at the root (/access/v1/...), for single-tenant apps.")
	fs.Float64Var(&o.sampleRate, "decision-log-sample-rate", 0.01, "Fraction of decisions written to the decision log (0 to 1).")
	fs.IntVar(&o.maxBatch, "max-batch", 1000, "Most evaluations in one batch request.")
	fs.DurationVar(&o.minRevWait, "min-revision-wait", 2*time.Second, "How long a request with context.minRevision waits for that revision before 503.")
	authz.BindFlags(fs, &o.limits, &o.server)
}

// setupServing adds the webhook server (when a certificate directory is set)
// and the authorization endpoint to mgr, both reading snapshots from st.
func setupServing(mgr manager.Manager, st *store.Store, o servingOptions) error {
	log := mgr.GetLogger().WithName("setup")
	if o.webhook.CertDir != "" {
		o.webhook.CertRotation = o.certRotation
		if o.certRotation && o.webhook.SecretNamespace == "" {
			return errors.New("--cert-rotation needs --cert-secret-namespace (or POD_NAMESPACE)")
		}
		server, err := webhook.Setup(mgr, st, o.webhook)
		if err != nil {
			return err
		}
		if err := mgr.AddReadyzCheck("webhook", server.StartedChecker()); err != nil {
			return err
		}
	} else {
		log.Info("no --webhook-cert-dir: the validating webhook is not served")
	}

	if o.authzAddr == "0" || o.authzAddr == "" {
		return nil
	}
	var authn authz.Authenticator = authz.None{}
	var tenants authz.TenantAuthorizer = authz.None{}
	if o.authnNone {
		log.Info("WARNING: the authorization endpoint answers unauthenticated callers (--authz-insecure-no-authn)")
	} else {
		clientset, err := kubernetes.NewForConfig(mgr.GetConfig())
		if err != nil {
			return err
		}
		var audiences []string
		for _, a := range strings.Split(o.authzAudiences, ",") {
			if a = strings.TrimSpace(a); a != "" {
				audiences = append(audiences, a)
			}
		}
		authn, tenants = kubeauth.New(clientset, kubeauth.Options{Audiences: audiences})
	}
	hopts := o.limits
	hopts.Authenticator, hopts.TenantAuthorizer, hopts.DefaultTenant = authn, tenants, o.defaultTen
	hopts.MaxBatch, hopts.MinRevisionWait = o.maxBatch, o.minRevWait
	hopts.DecisionLog = o.decisions
	hopts.DecisionLogSampleRate = o.sampleRate
	hopts.Observer = metrics.NewAuthzObserver(authz.EndpointNames(), authz.RejectionReasons()...)
	handler, err := authz.New(st, hopts)
	if err != nil {
		return err
	}
	cert, key := o.authzCert, o.authzKey
	if cert == "" && o.webhook.CertDir != "" && !o.authzPlain {
		cert, key = o.webhook.CertDir+"/tls.crt", o.webhook.CertDir+"/tls.key"
	}
	serverOpts := o.server
	serverOpts.Addr, serverOpts.CertFile, serverOpts.KeyFile, serverOpts.AllowPlainHTTP = o.authzAddr, cert, key, o.authzPlain
	if cert == "" && !o.authzPlain {
		return errors.New("the authorization endpoint needs --authz-cert-file/--authz-key-file or --webhook-cert-dir (or --authz-insecure-plain-http for development)")
	}
	return mgr.Add(&certWaitingServer{handler: handler, opts: serverOpts})
}

// certWaitingServer starts the authorization endpoint once its certificate
// files exist: with built-in rotation they are written after start-up.
type certWaitingServer struct {
	handler *authz.Handler
	opts    authz.ServerOptions
}

// Start waits for the certificate, then serves until ctx ends.
func (s *certWaitingServer) Start(ctx context.Context) error {
	for s.opts.CertFile != "" {
		if _, err := os.Stat(s.opts.CertFile); err == nil {
			break
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(time.Second):
		}
	}
	server, err := authz.NewServer(s.handler, s.opts)
	if err != nil {
		return err
	}
	return server.Start(ctx)
}

// NeedLeaderElection is false: every replica answers authorization requests.
func (s *certWaitingServer) NeedLeaderElection() bool { return false }

// metricsOptions are the metrics server's options: plain HTTP, or with
// secure (--metrics-secure) HTTPS with the certificate in certDir (or a
// self-signed one), HTTP/2 off (as kubebuilder's scaffold, for the HTTP/2
// rapid-reset CVEs), and every request authenticated and authorized by
// metricsAuthFilter.
func metricsOptions(addr string, secure bool, certDir string) metricsserver.Options {
	o := metricsserver.Options{BindAddress: addr}
	if secure {
		o.SecureServing, o.CertDir = true, certDir
		o.TLSOpts = []func(*tls.Config){func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} }}
		o.FilterProvider = func(cfg *rest.Config, httpClient *http.Client) (metricsserver.Filter, error) {
			clientset, err := kubernetes.NewForConfigAndClient(cfg, httpClient)
			if err != nil {
				return nil, err
			}
			// ctrl.Log only names the filter's logger type (logr.Logger).
			return metricsAuthFilter(ctrl.Log, clientset, time.Now), nil
		}
	}
	return o
}

// metricsAuthFilter is what controller-runtime's
// filters.WithAuthenticationAndAuthorization does, without its dependency
// on k8s.io/apiserver: a request's bearer token must pass a TokenReview
// (kubeauth's cached authenticator) and the caller must be allowed by a
// SubjectAccessReview to get the request's path as a non-resource URL
// (RBAC: nonResourceURLs ["/metrics"], verbs ["get"], the metrics-reader
// ClusterRole of config/rbac). 401 without a valid token, 403 when not
// allowed, 405 for methods other than GET and HEAD, 503 when the API server
// cannot answer. Allowed identities are cached for metricsAllowTTL; denials
// are not cached.
//
// The result is a metricsserver.Filter, whose logger parameter is a
// logr.Logger: L is inferred from the first argument (ctrl.Log) so that the
// module need not import logr itself.
func metricsAuthFilter[L filterLogger](_ L, clientset kubernetes.Interface, now func() time.Time) func(L, http.Handler) (http.Handler, error) {
	authn := kubeauth.NewAuthenticator(clientset, kubeauth.Options{})
	var mu sync.Mutex
	allowed := map[string]time.Time{} // caller key + path -> expiry
	return func(log L, next http.Handler) (http.Handler, error) {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if r.Method != http.MethodGet && r.Method != http.MethodHead {
				w.Header().Set("Allow", "GET, HEAD")
				http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
				return
			}
			token, ok := bearerToken(r)
			if !ok {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			caller, err := authn.Authenticate(r.Context(), token)
			if errors.Is(err, authz.ErrUnauthenticated) {
				http.Error(w, "Unauthorized", http.StatusUnauthorized)
				return
			}
			if err != nil {
				log.Error(err, "metrics: TokenReview failed")
				http.Error(w, "authentication unavailable", http.StatusServiceUnavailable)
				return
			}
			key := caller.Key + "\x00" + r.URL.Path
			mu.Lock()
			exp, hit := allowed[key]
			mu.Unlock()
			if !hit || now().After(exp) {
				sar, err := clientset.AuthorizationV1().SubjectAccessReviews().Create(r.Context(), &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
					User: caller.Name, UID: caller.UID, Groups: caller.Groups, Extra: sarExtra(caller.Extra),
					NonResourceAttributes: &authzv1.NonResourceAttributes{Path: r.URL.Path, Verb: "get"},
				}}, metav1.CreateOptions{})
				if err != nil {
					log.Error(err, "metrics: SubjectAccessReview failed")
					http.Error(w, "authorization unavailable", http.StatusServiceUnavailable)
					return
				}
				if !sar.Status.Allowed {
					log.Info("metrics: access denied", "user", caller.Name, "path", r.URL.Path, "reason", sar.Status.Reason)
					http.Error(w, "Forbidden", http.StatusForbidden)
					return
				}
				mu.Lock()
				if len(allowed) >= metricsAllowMax {
					clear(allowed)
				}
				allowed[key] = now().Add(metricsAllowTTL)
				mu.Unlock()
			}
			next.ServeHTTP(w, r)
		}), nil
	}
}

// filterLogger is what metricsAuthFilter needs of logr.Logger.
type filterLogger interface {
	Info(msg string, keysAndValues ...any)
	Error(err error, msg string, keysAndValues ...any)
}

// The cache of identities allowed to read metrics: a scrape every 30s per
// pod costs no API server call once allowed, and revoking the binding takes
// effect within a minute (controller-runtime's filter caches for a minute
// too).
const (
	metricsAllowTTL = time.Minute
	metricsAllowMax = 1000
)

// bearerToken returns the request's "Authorization: Bearer" token.
func bearerToken(r *http.Request) (string, bool) {
	scheme, token, ok := strings.Cut(r.Header.Get("Authorization"), " ")
	token = strings.TrimSpace(token)
	if !ok || !strings.EqualFold(scheme, "Bearer") || token == "" {
		return "", false
	}
	return token, true
}

func sarExtra(extra map[string][]string) map[string]authzv1.ExtraValue {
	if len(extra) == 0 {
		return nil
	}
	out := make(map[string]authzv1.ExtraValue, len(extra))
	for k, v := range extra {
		out[k] = v
	}
	return out
}
