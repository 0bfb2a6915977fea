package gatehousetest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/controllers"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/authz"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// DefaultDebounce is the kit's compile delay after a change (Options.Debounce):
// shorter than a deployment's, so tests wait less.
const DefaultDebounce = 20 * time.Millisecond

// DefaultStartTimeout bounds Start when its context has no deadline.
const DefaultStartTimeout = 60 * time.Second

// FieldOwner is the server-side apply field manager of Kit.Apply.
const FieldOwner = "gatehousetest"

// Options configure Start. The zero value is a working kit.
type Options struct {
	// Logger receives the controllers' and the manager's logs (the zero
	// value discards them). In a test, e.g.
	// zap.New(zap.WriteTo(GinkgoWriter)) or testr.New(t).
	Logger logr.Logger
	// Debounce delays compiling a tenant after a change, so that a
	// multi-document Apply compiles about once: 0 means DefaultDebounce,
	// a negative value compiles at once.
	Debounce time.Duration
	// Addr is the endpoint's listen address; empty means 127.0.0.1:0 (a
	// free loopback port, see Kit.URL).
	Addr string
	// DefaultTenant, when set, is also served at the root of the endpoint
	// (URL + "/access/v1/evaluation"), as with the manager's
	// --default-tenant, for single-tenant apps.
	DefaultTenant string
	// Audit receives the audit trail as JSON lines (one record per change
	// of a served snapshot); nil discards it.
	Audit io.Writer
	// Replica names the kit in audit records; empty means "gatehousetest".
	Replica string
}

// Kit is Gatehouse running in this process against one API server: the
// controllers compile the tenants' access objects, and the authorization
// endpoint serves the result at URL. Stop it when done.
type Kit struct {
	// Client talks to the API server directly (no cache), with a scheme
	// holding client-go's types and Gatehouse's (api/v1alpha1).
	Client client.Client
	// URL is the endpoint's base URL, e.g. http://127.0.0.1:40123, without
	// a trailing slash. Tenants are served under URL + "/tenants/{namespace}".
	URL string
	// HTTPClient is the client Check and WaitForRevision use; point your
	// app at URL with it or with your own.
	HTTPClient *http.Client

	cancel   context.CancelFunc
	mgrDone  chan error
	server   *authz.Server
	srvDone  chan error
	stopOnce sync.Once
	stopErr  error
}

// Scheme returns a new scheme with client-go's types and Gatehouse's, the
// one Kit.Client uses.
func Scheme() (*runtime.Scheme, error) {
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return nil, err
	}
	if err := accessv1.AddToScheme(s); err != nil {
		return nil, err
	}
	return s, nil
}

// Start installs Gatehouse's CRDs on the API server of cfg (creating or
// updating them, so a server that has them already is fine), starts
// Gatehouse's controllers and its authorization endpoint in this process,
// and returns once the tenants present on the server are served and the
// endpoint listens. cfg needs the rights of an administrator (the CRDs) or
// of Gatehouse's manager plus CRD installation; envtest's configuration has
// them.
//
// ctx bounds the start only (DefaultStartTimeout when it has no deadline):
// the kit runs until Stop.
func Start(ctx context.Context, cfg *rest.Config, opts Options) (*Kit, error) {
	if cfg == nil {
		return nil, errors.New("gatehousetest: no rest.Config")
	}
	if _, ok := ctx.Deadline(); !ok {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, DefaultStartTimeout)
		defer cancel()
	}
	if opts.Logger.GetSink() == nil {
		opts.Logger = logr.Discard()
	}
	if opts.Debounce == 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Addr == "" {
		opts.Addr = "127.0.0.1:0"
	}
	if opts.Replica == "" {
		opts.Replica = "gatehousetest"
	}
	if err := installCRDs(cfg); err != nil {
		return nil, err
	}
	scheme, err := Scheme()
	if err != nil {
		return nil, err
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("gatehousetest: client: %w", err)
	}

	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 scheme,
		Logger:                 opts.Logger,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		// Kits (and other managers) may run side by side in one process,
		// each with a "tenant" controller.
		Controller: config.Controller{SkipNameValidation: ptr.To(true)},
		Cache:      cache.Options{DefaultTransform: controllers.CacheTransform},
	})
	if err != nil {
		return nil, fmt.Errorf("gatehousetest: manager: %w", err)
	}
	var sink audit.Sink = audit.Discard()
	if opts.Audit != nil {
		sink = audit.NewLines(opts.Audit)
	}
	st := store.New()
	readiness := controllers.NewReadinessTracker()
	if _, err := controllers.SetupWithManager(mgr, controllers.Options{
		Store:     st,
		Audit:     audit.NewTrail(audit.Options{}, sink),
		Debounce:  opts.Debounce,
		Readiness: readiness,
		Replica:   opts.Replica,
	}); err != nil {
		return nil, fmt.Errorf("gatehousetest: controllers: %w", err)
	}
	handler, err := authz.New(st, authz.Options{
		// A test kit on loopback: every caller is answered.
		Authenticator:    authz.None{},
		TenantAuthorizer: authz.None{},
		DefaultTenant:    opts.DefaultTenant,
	})
	if err != nil {
		return nil, fmt.Errorf("gatehousetest: endpoint: %w", err)
	}
	server, err := authz.NewServer(handler, authz.ServerOptions{AllowPlainHTTP: true})
	if err != nil {
		return nil, fmt.Errorf("gatehousetest: endpoint: %w", err)
	}
	ln, err := net.Listen("tcp", opts.Addr)
	if err != nil {
		return nil, fmt.Errorf("gatehousetest: endpoint: %w", err)
	}

	k := &Kit{
		Client:     c,
		URL:        "http://" + ln.Addr().String(),
		HTTPClient: &http.Client{Transport: http.DefaultTransport.(*http.Transport).Clone(), Timeout: 30 * time.Second},
		server:     server,
		mgrDone:    make(chan error, 1),
		srvDone:    make(chan error, 1),
	}
	go func() { k.srvDone <- server.Serve(ln) }()
	var mctx context.Context
	mctx, k.cancel = context.WithCancel(context.Background())
	go func() { k.mgrDone <- mgr.Start(mctx) }()

	select {
	case <-readiness.Done():
		return k, nil
	case err := <-k.mgrDone:
		k.mgrDone <- err // for Stop
		_ = k.Stop()
		return nil, fmt.Errorf("gatehousetest: manager stopped while starting: %v", err)
	case <-ctx.Done():
		_ = k.Stop()
		return nil, fmt.Errorf("gatehousetest: not ready (tenants pending: %v): %w", readiness.Pending(), ctx.Err())
	}
}

// StartTest is Start for a test: it fails tb when the kit cannot start and
// stops the kit when tb's test ends (tb.Cleanup).
func StartTest(tb testing.TB, cfg *rest.Config, opts Options) *Kit {
	tb.Helper()
	k, err := Start(context.Background(), cfg, opts)
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		if err := k.Stop(); err != nil {
			tb.Error(err)
		}
	})
	return k
}

// Stop stops the controllers and the endpoint and waits until they are
// done. It may be called more than once; later calls return the first's
// result. Objects written to the API server stay.
func (k *Kit) Stop() error {
	k.stopOnce.Do(func() {
		k.cancel()
		var errs []error
		select {
		case err := <-k.mgrDone:
			if err != nil {
				errs = append(errs, fmt.Errorf("gatehousetest: manager: %w", err))
			}
		case <-time.After(DefaultStartTimeout):
			errs = append(errs, errors.New("gatehousetest: manager did not stop"))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := k.server.Shutdown(ctx); err != nil {
			errs = append(errs, fmt.Errorf("gatehousetest: endpoint: %w", err))
		}
		if err := <-k.srvDone; err != nil && !errors.Is(err, http.ErrServerClosed) {
			errs = append(errs, fmt.Errorf("gatehousetest: endpoint: %w", err))
		}
		k.HTTPClient.CloseIdleConnections()
		k.stopErr = errors.Join(errs...)
	})
	return k.stopErr
}
