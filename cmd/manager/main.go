// Command manager runs the Gatehouse operator: it watches the access objects
// of every tenant namespace, compiles them into permission snapshots, and
// serves the validating webhook and the authorization endpoint.
package main

import (
	"flag"
	"os"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	utilruntime "k8s.io/apimachinery/pkg/util/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	accessv1alpha1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/controllers"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/internal/version"
)

var scheme = runtime.NewScheme()

func init() {
	utilruntime.Must(clientgoscheme.AddToScheme(scheme))
	utilruntime.Must(accessv1alpha1.AddToScheme(scheme))
}

// options are the manager's command-line flags.
type options struct {
	metricsAddr string
	probeAddr   string
	pprofAddr   string
	leaderElect bool
	// leaderElectionNamespace holds the lease; in a pod, empty means the
	// pod's own namespace.
	leaderElectionNamespace string
	serving                 servingOptions
	debounce                time.Duration
	audit                   auditOptions
	tracing                 tracingOptions
	concurrency             int
	shard                   controllers.Shard
	limits                  snapshot.Limits

	// metricsSecure serves /metrics over HTTPS to authenticated and
	// authorized callers only (--metrics-secure).
	metricsSecure  bool
	metricsCertDir string
}

// leaderElectionID is the lease of the manager's leader election: one per
// shard, so that each shard elects its own status writer.
func leaderElectionID(s controllers.Shard) string {
	if !s.Sharded() {
		return "gatehouse.access.gatehouse.dev"
	}
	return "gatehouse-" + s.Name + ".access.gatehouse.dev"
}

func main() {
	var opts options
	flag.StringVar(&opts.metricsAddr, "metrics-bind-address", ":8080", "Address of the Prometheus metrics endpoint; 0 disables it.")
	flag.BoolVar(&opts.metricsSecure, "metrics-secure", false, "Serve metrics over HTTPS (certificate: --metrics-cert-dir, or self-signed) to callers whose bearer token passes a TokenReview and whom RBAC allows get on the non-resource URL /metrics (SubjectAccessReview); the Deployment sets it. Off: plain HTTP, for local runs.")
	flag.StringVar(&opts.metricsCertDir, "metrics-cert-dir", "", "With --metrics-secure: directory with tls.crt and tls.key for the metrics server, re-read on change (empty, or missing files at start: a self-signed certificate).")
	flag.StringVar(&opts.probeAddr, "health-probe-bind-address", ":8081", "Address of /healthz and /readyz.")
	flag.StringVar(&opts.pprofAddr, "pprof-bind-address", "", "Address of Go's /debug/pprof profiles (empty: off). For diagnosis; bind it to loopback.")
	flag.BoolVar(&opts.leaderElect, "leader-elect", false, "Elect a leader for status writes (every replica still compiles and serves).")
	flag.StringVar(&opts.leaderElectionNamespace, "leader-election-namespace", os.Getenv("POD_NAMESPACE"), "Namespace of the leader election lease (default: the pod's namespace; out of a cluster it must be set).")
	flag.StringVar(&opts.serving.webhook.CertDir, "webhook-cert-dir", "", "Directory with tls.crt and tls.key for the webhook server; empty disables the webhook server.")
	flag.IntVar(&opts.serving.webhook.Port, "webhook-port", 9443, "Port of the webhook server.")
	flag.StringVar(&opts.serving.webhook.Host, "webhook-host", "", "Address the webhook server binds (empty: every interface; 127.0.0.1 for a local control plane).")
	opts.serving.bindFlags(flag.CommandLine)
	flag.DurationVar(&opts.debounce, "debounce", controllers.DefaultDebounce, "How long a tenant waits after a change before it is compiled, so that a burst of changes compiles once.")
	opts.audit.bindFlags(flag.CommandLine)
	opts.tracing.bindFlags(flag.CommandLine)
	flag.IntVar(&opts.concurrency, "max-concurrent-compiles", controllers.DefaultMaxConcurrentReconciles, "How many tenants compile at once.")
	flag.StringVar(&opts.shard.Name, "shard", "", "Compile, serve and write status only for the tenant namespaces labelled "+controllers.ShardLabel+"=<this name> (a DNS label); empty serves every namespace.")
	flag.BoolVar(&opts.shard.Default, "shard-default", false, "With --shard: also serve the namespaces without the "+controllers.ShardLabel+" label. Exactly one shard of an install should set it.")
	opts.limits = snapshot.DefaultLimits()
	opts.limits.BindFlags(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()

	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	if err := opts.limits.Validate(); err != nil {
		ctrl.Log.WithName("setup").Error(err, "invalid flag")
		os.Exit(2)
	}
	log := ctrl.Log.WithName("setup")
	if err := run(opts); err != nil {
		log.Error(err, "manager stopped")
		os.Exit(1)
	}
}

func run(opts options) error {
	log := ctrl.Log.WithName("setup")
	if err := opts.shard.Validate(); err != nil {
		return err
	}
	log.Info("starting gatehouse manager", "version", version.String(), "shard", opts.shard.Name, "defaultShard", opts.shard.Default)
	if limit := setMemoryLimit(); limit > 0 {
		log.Info("Go soft memory limit set below the container's", "bytes", limit, "percent", memoryLimitPercent)
	}

	mgrOpts := ctrl.Options{
		Scheme:                  scheme,
		Metrics:                 metricsOptions(opts.metricsAddr, opts.metricsSecure, opts.metricsCertDir),
		HealthProbeBindAddress:  opts.probeAddr,
		PprofBindAddress:        opts.pprofAddr,
		LeaderElection:          opts.leaderElect,
		LeaderElectionID:        leaderElectionID(opts.shard),
		LeaderElectionNamespace: opts.leaderElectionNamespace,
		// A replica that stops hands leadership over at once instead of
		// leaving status unwritten until the lease expires. Safe: nothing
		// runs after the manager stops.
		LeaderElectionReleaseOnCancel: true,
		// The only Secret the manager reads is the certificate rotation's:
		// never cache the cluster's Secrets.
		Cache: cache.Options{DefaultTransform: controllers.CacheTransform, ByObject: map[client.Object]cache.ByObject{
			&corev1.Secret{}: {Namespaces: map[string]cache.Config{opts.serving.webhook.SecretNamespace: {}}},
		}},
	}
	mgr, err := ctrl.NewManager(ctrl.GetConfigOrDie(), mgrOpts)
	if err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}

	replica, _ := os.Hostname() // the pod name in a cluster
	trail, closeTrail, err := opts.audit.trail(replica)
	if err != nil {
		return err
	}
	defer closeTrail()
	tracer, stopTracing, err := opts.tracing.start() // nil tracer: tracing off
	if err != nil {
		return err
	}
	defer stopTracing()

	// One store per process, shared by everything that serves decisions
	// (the webhook and the authorization endpoint are added to mgr with the
	// same store). /readyz waits for every tenant present at start.
	snapshots := store.New()
	if _, err := controllers.SetupWithManager(mgr, controllers.Options{
		Store:                   snapshots,
		Audit:                   trail,
		Replica:                 replica,
		Debounce:                opts.debounce,
		MaxConcurrentReconciles: opts.concurrency,
		Shard:                   opts.shard,
		Limits:                  &opts.limits,
		Tracer:                  tracer,
	}); err != nil {
		return err
	}
	opts.serving.webhook.Limits = &opts.limits
	opts.serving.limits.Tracer = tracer // the authorization endpoint's
	opts.serving.webhook.Audit, opts.serving.webhook.Replica, opts.serving.webhook.ArgoCDNamespace = trail, replica, opts.audit.argoCDNS
	opts.serving.decisions = trail
	if err := setupServing(mgr, snapshots, opts.serving); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}
