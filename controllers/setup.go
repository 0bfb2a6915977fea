package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"time"

	"go.opentelemetry.io/otel/trace"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// Defaults of Options.
const (
	// DefaultDebounce is how long a tenant waits after a change before it is
	// compiled: changes within the window are compiled together, so applying
	// hundreds of objects compiles a handful of times, and a single change is
	// still served well within a second.
	DefaultDebounce = 100 * time.Millisecond
	// DefaultMaxConcurrentReconciles is how many tenants compile at once.
	DefaultMaxConcurrentReconciles = 4
)

// Controller names, as they appear in logs and metrics.
const (
	ControllerName       = "tenant"
	StatusControllerName = "tenant-status"
)

// EventSource is the reporting controller of Gatehouse's Events.
const EventSource = "gatehouse"

// ReadyCheckName is the name of the /readyz check SetupWithManager adds.
const ReadyCheckName = "tenants"

// Options configure the tenant controller.
type Options struct {
	// Store serves the compiled snapshots; required. Share it with the
	// webhook and the authorization endpoint of the same manager.
	Store *store.Store
	// Audit receives a record for every change of a served snapshot; nil
	// writes JSON lines to standard output. With Audit.Required a change
	// is served only once its record is delivered.
	Audit *audit.Trail
	// Debounce delays compiling a tenant after a change; 0 means
	// DefaultDebounce, a negative value compiles at once.
	Debounce time.Duration
	// MaxConcurrentReconciles is how many tenants compile at once; 0 means
	// DefaultMaxConcurrentReconciles.
	MaxConcurrentReconciles int
	// Readiness tracks whether every tenant present at start is served; nil
	// creates one. SetupWithManager adds its check to /readyz.
	Readiness *ReadinessTracker
	// Replica names this process in audit records; empty means the host
	// name (the pod name in a cluster).
	Replica string
	// Shard is the part of the tenants this manager compiles, serves and
	// writes status for; the zero value serves every namespace.
	Shard Shard
	// Limits are the tenant quotas the compiler applies; nil means
	// snapshot.DefaultLimits(). Give the webhook the same.
	Limits *snapshot.Limits
	// Tracer, when set, traces every tenant compile (a span per compile,
	// see CompileSpanName); nil traces nothing.
	Tracer trace.Tracer
}

// SetupWithManager adds Gatehouse's two controllers to mgr and returns the
// tenant reconciler, whose counters tests read:
//
//   - "tenant" compiles each tenant after a change and serves the result
//     from Options.Store. It runs on every replica: leader election does not
//     apply to it.
//   - "tenant-status" writes status and PermissionSnapshots from what
//     "tenant" compiled, on the elected leader only, once the replica is
//     ready. When a replica becomes the leader, the controller starts and
//     its watches list every object, so status catches up with what the
//     replica compiled while it followed.
//
// It also adds a runnable listing the tenants present at start for the
// readiness tracker, and the "tenants" ready check.
//
// With Options.Shard set, both controllers also watch Namespaces and handle
// only the tenants of the shard (Shard.Serves): a tenant leaving the shard
// is dropped from the store, readiness waits for the shard's tenants only,
// and status is written for them only. Give each shard its own leader
// election ID.
func SetupWithManager(mgr ctrl.Manager, opts Options) (*TenantReconciler, error) {
	if opts.Store == nil {
		return nil, errors.New("controllers: Options.Store is required")
	}
	if err := opts.Shard.Validate(); err != nil {
		return nil, fmt.Errorf("controllers: Options.Shard: %w", err)
	}
	if opts.Audit == nil {
		opts.Audit = audit.NewTrail(audit.Options{}, audit.NewLines(os.Stdout))
	}
	if opts.Debounce == 0 {
		opts.Debounce = DefaultDebounce
	}
	if opts.Debounce < 0 {
		opts.Debounce = 0
	}
	if opts.MaxConcurrentReconciles <= 0 {
		opts.MaxConcurrentReconciles = DefaultMaxConcurrentReconciles
	}
	if opts.Readiness == nil {
		opts.Readiness = NewReadinessTracker()
	}
	if opts.Replica == "" {
		opts.Replica, _ = os.Hostname()
	}

	limits := snapshot.DefaultLimits()
	if opts.Limits != nil {
		limits = *opts.Limits
	}

	compiled := newCompiledSource()
	r := &TenantReconciler{
		client:         mgr.GetClient(),
		store:          opts.Store,
		audit:          opts.Audit,
		recorder:       mgr.GetEventRecorder(EventSource),
		readiness:      opts.Readiness,
		elected:        mgr.Elected(),
		replica:        opts.Replica,
		shard:          opts.Shard,
		limits:         limits,
		now:            time.Now,
		compiledTenant: compiled.Notify,
		tenants:        map[string]*tenantState{},
		tracer:         opts.Tracer,
	}
	r.status = &StatusReconciler{client: mgr.GetClient(), tenants: r, shard: opts.Shard}

	// Every change enqueues its namespace after the debounce delay. The
	// queue keeps the earliest due time of a waiting key, so a burst of
	// changes is compiled once, at most Debounce after its first change,
	// and changes arriving during a compile trigger exactly one more.
	enqueue := enqueueTenant(opts.Debounce)
	// Only spec changes (new generations), creations and deletions (and the
	// start of a deletion held up by someone else's finalizer) need a
	// compile; status and metadata changes do not.
	specChanged := builder.WithPredicates(predicate.Or[client.Object](predicate.GenerationChangedPredicate{}, deletionStarted()))
	b := ctrl.NewControllerManagedBy(mgr).
		Named(ControllerName).
		WithOptions(controller.Options{
			MaxConcurrentReconciles: opts.MaxConcurrentReconciles,
			// Every replica compiles and serves its own snapshots.
			NeedLeaderElection: ptr.To(false),
		})
	for _, k := range accessv1.AccessKinds {
		b = b.Watches(k.New(), enqueue, specChanged)
	}
	shardChanged := builder.WithPredicates(shardLabelChanged())
	if opts.Shard.Sharded() {
		// A tenant joins or leaves the shard with its namespace's label:
		// at once, not debounced, so that the shard losing it stops
		// serving it and the shard gaining it serves it without delay.
		b = b.Watches(&corev1.Namespace{}, enqueueNamespace(), shardChanged)
	}
	if err := b.Complete(r); err != nil {
		return nil, err
	}

	// The status controller hears of every compile at once, and watches
	// status changes (mostly its own writes coming back, coalesced by the
	// debounce and found equal) and the PermissionSnapshot, so that status
	// edited or deleted by hand is put back. It is started by a runnable
	// that runs on the leader only and waits until this replica is ready:
	// serving every tenant comes before writing its status, which on a
	// first start means one write per object and competes for the API
	// server.
	statusOpts := controller.Options{MaxConcurrentReconciles: opts.MaxConcurrentReconciles, Reconciler: r.status}
	statusOpts.DefaultFromConfig(mgr.GetControllerOptions())
	statusCtrl, err := controller.NewUnmanaged(StatusControllerName, statusOpts)
	if err != nil {
		return nil, err
	}
	statusChanged := statusChangedPredicate()
	isSnapshot := predicate.NewPredicateFuncs(func(o client.Object) bool { return o.GetName() == accessv1.SnapshotObjectName })
	sources := []source.Source{compiled}
	for _, k := range accessv1.AccessKinds {
		sources = append(sources, source.Kind[client.Object](mgr.GetCache(), k.New(), enqueue, statusChanged))
	}
	sources = append(sources, source.Kind[client.Object](mgr.GetCache(), &accessv1.PermissionSnapshot{}, enqueue, isSnapshot))
	if opts.Shard.Sharded() {
		// A tenant that left the shard gets its status released.
		sources = append(sources, source.Kind[client.Object](mgr.GetCache(), &corev1.Namespace{}, enqueueNamespace(), shardLabelChanged()))
	}
	for _, src := range sources {
		if err := statusCtrl.Watch(src); err != nil {
			return nil, err
		}
	}
	if err := mgr.Add(&afterReady{ready: opts.Readiness.Done(), runnable: statusCtrl}); err != nil {
		return nil, err
	}

	list := func(ctx context.Context) (map[string]bool, error) {
		return shardTenants(ctx, mgr.GetCache(), opts.Shard)
	}
	if err := mgr.Add(&readinessLister{tracker: opts.Readiness, list: list, waitFor: mgr.GetCache().WaitForCacheSync}); err != nil {
		return nil, err
	}
	if err := mgr.AddReadyzCheck(ReadyCheckName, opts.Readiness.Check); err != nil {
		return nil, err
	}
	return r, nil
}

// tenantRequest is the reconcile request of a tenant namespace.
func tenantRequest(namespace string) reconcile.Request {
	return reconcile.Request{NamespacedName: types.NamespacedName{Name: namespace}}
}

// enqueueTenant maps an object event to its namespace's request, delayed by
// debounce.
func enqueueTenant(debounce time.Duration) handler.EventHandler {
	add := func(o client.Object, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
		if o.GetNamespace() != "" {
			q.AddAfter(tenantRequest(o.GetNamespace()), debounce)
		}
	}
	return handler.Funcs{
		CreateFunc: func(_ context.Context, e event.CreateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(e.Object, q)
		},
		UpdateFunc: func(_ context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(e.ObjectNew, q)
		},
		DeleteFunc: func(_ context.Context, e event.DeleteEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(e.Object, q)
		},
		GenericFunc: func(_ context.Context, e event.GenericEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
			add(e.Object, q)
		},
	}
}

// deletionStarted passes updates that set an object's deletionTimestamp.
func deletionStarted() predicate.Funcs {
	return predicate.Funcs{
		CreateFunc:  func(event.CreateEvent) bool { return false },
		DeleteFunc:  func(event.DeleteEvent) bool { return false },
		GenericFunc: func(event.GenericEvent) bool { return false },
		UpdateFunc: func(e event.UpdateEvent) bool {
			return e.ObjectOld != nil && e.ObjectNew != nil &&
				e.ObjectOld.GetDeletionTimestamp() == nil && e.ObjectNew.GetDeletionTimestamp() != nil
		},
	}
}

// statusChangedPredicate passes creations, deletions and the updates that
// change an access object's status: the status controller's business.
// Spec changes reach it through the compile they cause.
func statusChangedPredicate() predicate.Funcs {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			if e.ObjectOld == nil || e.ObjectNew == nil {
				return true
			}
			return !equality.Semantic.DeepEqual(accessStatusOf(e.ObjectOld), accessStatusOf(e.ObjectNew))
		},
	}
}

// enqueueNamespace maps a Namespace event to its tenant's request.
func enqueueNamespace() handler.EventHandler {
	return handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{tenantRequest(o.GetName())}
	})
}

// shardTenants returns the tenants present in the cache that the shard
// serves: readiness waits for these, not for other shards' tenants.
func shardTenants(ctx context.Context, c client.Reader, s Shard) (map[string]bool, error) {
	all, err := cachedTenants(ctx, c)
	if err != nil || !s.Sharded() {
		return all, err
	}
	for tenant := range all {
		m, err := member(ctx, c, s, tenant)
		if err != nil {
			return nil, err
		}
		if !m.serves {
			delete(all, tenant)
		}
	}
	return all, nil
}

// cachedTenants returns every namespace holding an access object or a
// PermissionSnapshot, from the cache.
func cachedTenants(ctx context.Context, c client.Reader) (map[string]bool, error) {
	out := map[string]bool{}
	// Only namespaces are read: no need to copy every object.
	for _, k := range accessv1.AccessKinds {
		l := k.NewList()
		if err := c.List(ctx, l, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
		for _, o := range l.AccessItems() {
			out[o.GetNamespace()] = true
		}
	}
	var snaps accessv1.PermissionSnapshotList
	if err := c.List(ctx, &snaps, client.UnsafeDisableDeepCopy); err != nil {
		return nil, err
	}
	for i := range snaps.Items {
		out[snaps.Items[i].Namespace] = true
	}
	return out, nil
}

// afterReady starts a runnable on the leader once the replica is ready.
type afterReady struct {
	ready    <-chan struct{}
	runnable manager.Runnable
}

var _ manager.LeaderElectionRunnable = (*afterReady)(nil)

// NeedLeaderElection is true: only the leader writes status.
func (a *afterReady) NeedLeaderElection() bool { return true }

// Start waits until the replica is ready, then runs the runnable.
func (a *afterReady) Start(ctx context.Context) error {
	select {
	case <-a.ready:
		return a.runnable.Start(ctx)
	case <-ctx.Done():
		return nil
	}
}

// sortKeys sorts object keys by kind, then name.
func sortKeys(keys []objectKey) { slices.SortFunc(keys, compareKeys) }
