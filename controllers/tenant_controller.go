package controllers

import (
	"context"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	"go.opentelemetry.io/otel/trace"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// auditRetry is how soon a tenant whose change was withheld for its audit
// record (--audit-required) is compiled again; each try also waits up to
// the trail's delivery timeout.
const auditRetry = 5 * time.Second

// TenantReconciler compiles one tenant (namespace) at a time and serves the
// result from the store. A request's Name is the namespace; its Namespace is
// empty.
//
// It runs on every replica and never waits for the API server to accept a
// write: status is written by the StatusReconciler, on the leader only, from
// what this reconciler compiled. So a replica serves fresh snapshots whether
// or not it leads, and however slow status writes are.
type TenantReconciler struct {
	client    client.Client
	store     *store.Store
	audit     *audit.Trail
	recorder  events.EventRecorder
	readiness *ReadinessTracker
	elected   <-chan struct{}
	replica   string
	shard     Shard
	limits    snapshot.Limits
	now       func() time.Time
	// compiledTenant is told about every compile and drop, for status.
	compiledTenant func(tenant string)
	// status writes status on the leader (for StatusWrites).
	status *StatusReconciler

	mu      sync.Mutex
	tenants map[string]*tenantState

	compiles atomic.Int64

	// tracer traces compiles (tracing.go); nil: off.
	tracer trace.Tracer
}

// tenantState is what the reconciler remembers of a tenant's last compile
// in this process: the inputs (to skip compiles that would change nothing,
// to tell which objects changed, and to tell the status writer which object
// generations the served entry describes), which objects were left out (to
// tell which objects a change left out or restored) and the served entry.
// It is never modified once stored: each compile stores a new one.
type tenantState struct {
	versions map[objectKey]objectVersion
	leftOut  map[objectKey]bool
	entry    *store.Entry // nil when the tenant was refused before it was ever served
	// refused says why the last compile was not served (the tenant is
	// over its compiled-size quota); entry is then the last good one, and
	// lastGood the state it was compiled from (for the next audit record).
	refused  []snapshot.Problem
	lastGood *tenantState
}

// compiled returns the state of the tenant's last compile, nil if the
// tenant is not served.
func (r *TenantReconciler) compiled(tenant string) *tenantState {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.tenants[tenant]
}

// Compiles returns how many times this reconciler compiled a tenant. Tests
// use it to check that bursts are debounced.
func (r *TenantReconciler) Compiles() int64 { return r.compiles.Load() }

// StatusWrites returns how many status, PermissionSnapshot and delete
// requests this replica sent. Tests use it to check that only the leader
// writes.
func (r *TenantReconciler) StatusWrites() int64 { return r.status.writes.Load() }

// Readiness returns the tracker behind the manager's "tenants" ready check.
func (r *TenantReconciler) Readiness() *ReadinessTracker { return r.readiness }

// Shard returns the shard this reconciler serves.
func (r *TenantReconciler) Shard() Shard { return r.shard }

// Reconcile compiles the tenant req.Name and serves the result; a tenant
// of another shard is dropped instead.
func (r *TenantReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	tenant := req.Name
	m, err := member(ctx, r.client, r.shard, tenant)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !m.serves {
		// Another shard's tenant (or one that just left this shard): the
		// endpoint answers it "no snapshot", never from a snapshot this
		// shard no longer keeps up to date.
		if r.drop(ctx, tenant, m.notServedBecause(r.shard)) {
			r.compiledTenant(tenant)
		}
		// A tenant expected at start may have left the shard since.
		r.readiness.Observe(tenant)
		return ctrl.Result{}, nil
	}
	in, err := listTenant(ctx, r.client, tenant)
	if err != nil {
		return ctrl.Result{}, err
	}
	if in.empty() {
		r.drop(ctx, tenant, "it has no access objects left")
	} else if err := r.compile(ctx, tenant, in); err != nil {
		// Withheld (its audit record was not delivered; compile logged
		// it): status says why, and the tenant is tried again at a fixed
		// pace, not the queue's growing backoff, so that a change is
		// served soon after a long sink outage ends.
		r.compiledTenant(tenant)
		return ctrl.Result{RequeueAfter: auditRetry}, nil
	}
	r.readiness.Observe(tenant)
	r.compiledTenant(tenant)
	return ctrl.Result{}, nil
}

// isLeader reports whether this replica is the elected leader, which alone
// records Events.
func (r *TenantReconciler) isLeader() bool {
	select {
	case <-r.elected:
		return true
	default:
		return false
	}
}

// compile compiles the tenant unless its objects did not change since the
// last compile, and serves the result when its revision is new: audit line
// first, then the swap, then (on the leader) Events.
//
// The snapshot is always served, even when objects have problems: the
// compiler leaves the bad objects (and those depending on them) out and the
// rest applies, so one bad edit never takes a tenant's access away.
func (r *TenantReconciler) compile(ctx context.Context, tenant string, in *tenantObjects) error {
	versions := in.versions()
	prev := r.compiled(tenant)
	served := r.store.Get(tenant)
	if prev != nil && served == prev.entry && maps.Equal(prev.versions, versions) {
		// Nothing changed since the last compile (say, an object was
		// re-listed by a resync).
		return nil
	}
	if prev != nil && prev.refused != nil {
		prev = prev.lastGood // what is served is what a change is audited against
	}

	ctx, span := r.traceCompile(ctx, tenant, in)
	start := time.Now()
	snap, problems := snapshot.CompileWith(tenant, in.objs, snapshot.Options{Limits: r.limits})
	took := time.Since(start)
	r.compiles.Add(1)
	now := r.now()
	if snap == nil {
		// Over the compiled-size quota: the last good snapshot keeps
		// serving (none: the tenant is denied), and status says why.
		metrics.ObserveCompile(tenant, took, false, nil, 0, now)
		span.end(compileOverQuota, took, nil, 0, nil)
		r.remember(tenant, &tenantState{versions: versions, entry: served, refused: problems, lastGood: prev})
		log.FromContext(ctx).Info("tenant not compiled: over its quota; the last good snapshot keeps serving",
			"tenant", tenant, "problems", problems, "took", took)
		return nil
	}
	byObject := problemsByObject(problems)
	state := &tenantState{versions: versions, leftOut: make(map[objectKey]bool, len(byObject)), entry: served}
	for k := range byObject {
		state.leftOut[k] = true
	}

	if served != nil && served.Snapshot.Revision() == snap.Revision() {
		// Same content (say, an object deleted and re-created as it was):
		// keep the served snapshot, so waiters are not woken for nothing.
		metrics.ObserveCompile(tenant, took, false, nil, 0, now)
		span.end(compileUnchanged, took, snap, len(byObject), nil)
		r.remember(tenant, state)
		return nil
	}

	entry := &store.Entry{Snapshot: snap, CompiledAt: now, Problems: problems}
	state.entry = entry
	rec := r.auditRecord(ctx, tenant, prev, served, entry, in, byObject)
	// The audit record is written before the swap: whatever a replica
	// serves has been audited, even if the process dies right after.
	if err := r.audit.Record(ctx, rec); err != nil {
		if r.audit.Required() {
			// --audit-required: a change without its record is not served.
			// The last good snapshot keeps serving, status says why, and
			// the tenant is compiled again with backoff.
			metrics.AuditWithheld.Inc()
			r.remember(tenant, &tenantState{entry: served, lastGood: prev, refused: []snapshot.Problem{{
				Kind: snapshot.KindTenant, Name: tenant, Reason: accessv1.ReasonAuditUndelivered,
				Message: "its audit record could not be delivered (--audit-required): " + err.Error()}}})
			log.FromContext(ctx).Error(err, "change withheld: its audit record was not delivered; the last good snapshot keeps serving",
				"tenant", tenant, "revision", rec.ToRevision)
			err = fmt.Errorf("withholding revision %s of tenant %s: %w", rec.ToRevision, tenant, err)
			span.end(compileAuditWithheld, took, snap, len(byObject), err)
			return err
		}
		log.FromContext(ctx).Error(err, "audit record lost", "tenant", tenant, "revision", rec.ToRevision)
	}
	r.store.Set(tenant, entry)
	r.remember(tenant, state)
	metrics.ObserveCompile(tenant, took, true, snap, len(byObject), now)
	span.end(compileServed, took, snap, len(byObject), nil)
	metrics.SetTenants(r.store.Len())
	log.FromContext(ctx).V(1).Info("serving a new snapshot", "tenant", tenant, "revision", rec.ToRevision,
		"previous", rec.FromRevision, "changedObjects", len(rec.Objects), "leftOut", len(byObject), "took", took)

	// Events are for changes seen while running. While a replica catches
	// up at start (not ready yet) it records none: on a first install that
	// would be one Event per object of every tenant, and the audit trail
	// already has the records.
	if r.isLeader() && r.readiness.Ready() {
		r.emitEvents(ctx, tenant, in, &rec)
	}
	return nil
}

func (r *TenantReconciler) remember(tenant string, state *tenantState) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.tenants[tenant] = state
}

// auditRecord describes the change from what was served to entry.
func (r *TenantReconciler) auditRecord(ctx context.Context, tenant string, prev *tenantState, served, entry *store.Entry,
	in *tenantObjects, byObject map[objectKey][]snapshot.Problem) audit.Record {
	rec := audit.Record{
		Time: entry.CompiledAt.UTC(), Replica: r.replica, Tenant: tenant,
		Event: audit.EventCompiled, ToRevision: entry.Snapshot.Revision(),
	}
	if served != nil || prev != nil {
		var old *snapshot.Snapshot
		if served != nil {
			old = served.Snapshot
		}
		diff := snapshot.Diff(old, entry.Snapshot)
		rec.FromRevision, rec.Diff = old.Revision(), &diff
		rec.Objects = changedObjects(prev, in, byObject)
		return rec
	}

	// First compile of this tenant in this process. The PermissionSnapshot
	// tells whether the tenant was served before (by an earlier process or
	// another replica) and at which revision.
	var psnap accessv1.PermissionSnapshot
	err := r.client.Get(ctx, client.ObjectKey{Namespace: tenant, Name: accessv1.SnapshotObjectName}, &psnap)
	servedBefore := err == nil && psnap.Status.Revision != ""
	if !servedBefore && r.readiness.Ready() {
		// A new tenant, created while this replica runs: every object is
		// new and every subject gained what it holds.
		diff := snapshot.Diff(nil, entry.Snapshot)
		rec.Diff = &diff
		rec.Objects = changedObjects(nil, in, byObject)
		return rec
	}
	// A tenant this replica loads while it catches up at start. Its
	// objects whose status does not describe their generation changed
	// while no replica was running (all of them on a first install). The
	// diff is left out: the previous snapshot is not in memory, and
	// against an empty one it would be as large as the snapshot, for
	// every tenant of the cluster at once.
	rec.Event = audit.EventLoaded
	if servedBefore {
		rec.FromRevision = psnap.Status.Revision
	}
	if rec.FromRevision != rec.ToRevision {
		rec.Objects = staleObjects(in, byObject)
	}
	return rec
}

// changedObjects lists the objects created, updated or deleted since the
// previous compile (prev nil: every object is new), and the unchanged
// objects a change left out or restored.
func changedObjects(prev *tenantState, in *tenantObjects, byObject map[objectKey][]snapshot.Problem) []audit.Object {
	var out []audit.Object
	seen := make(map[objectKey]bool, len(in.items))
	for _, it := range in.items {
		seen[it.key] = true
		o := auditObject(it, byObject)
		var was objectVersion
		var existed bool
		if prev != nil {
			was, existed = prev.versions[it.key]
		}
		now := objectVersion{uid: it.obj.GetUID(), generation: it.obj.GetGeneration()}
		switch {
		case !existed:
			o.Change = audit.ChangeCreated
		case was != now:
			o.Change = audit.ChangeUpdated
		case prev.leftOut[it.key] && o.Served:
			o.Change = audit.ChangeRestored
		case !prev.leftOut[it.key] && !o.Served:
			o.Change = audit.ChangeLeftOut
		default:
			continue
		}
		out = append(out, o)
	}
	if prev != nil {
		var deleted []objectKey
		for k := range prev.versions {
			if !seen[k] {
				deleted = append(deleted, k)
			}
		}
		sortKeys(deleted)
		for _, k := range deleted {
			was := prev.versions[k]
			out = append(out, audit.Object{Kind: k.kind, Name: k.name, Change: audit.ChangeDeleted,
				UID: string(was.uid), Generation: was.generation})
		}
	}
	return out
}

// staleObjects lists the objects whose status does not describe their
// current generation: created or updated while no replica was running.
func staleObjects(in *tenantObjects, byObject map[objectKey][]snapshot.Problem) []audit.Object {
	var out []audit.Object
	for _, it := range in.items {
		if it.status.ObservedGeneration == it.obj.GetGeneration() {
			continue
		}
		change := audit.ChangeUpdated
		if it.status.ObservedGeneration == 0 {
			change = audit.ChangeCreated
		}
		o := auditObject(it, byObject)
		o.Change = change
		out = append(out, o)
	}
	return out
}

// auditObject describes it as of this compile: its identity, the
// generation and spec hash an admission record of its change names too,
// whether it is served, and where a GitOps tool applied it from.
func auditObject(it accessItem, byObject map[objectKey][]snapshot.Problem) audit.Object {
	o := audit.Object{Kind: it.key.kind, Name: it.key.name, UID: string(it.obj.GetUID()), Generation: it.obj.GetGeneration(),
		Served: len(byObject[it.key]) == 0, Problems: byObject[it.key],
		Source: audit.SourceOf(it.obj.GetLabels(), it.obj.GetAnnotations())}
	if ao, ok := it.obj.(accessv1.AccessObject); ok {
		o.SpecHash = audit.SpecHash(ao)
	}
	return o
}

// emitEvents records an Event on every object the audit record lists; a
// deleted object's Event goes to the tenant's PermissionSnapshot.
func (r *TenantReconciler) emitEvents(ctx context.Context, tenant string, in *tenantObjects, rec *audit.Record) {
	if len(rec.Objects) == 0 {
		return
	}
	byKey := make(map[objectKey]client.Object, len(in.items))
	for _, it := range in.items {
		byKey[it.key] = it.obj
	}
	var psnap *accessv1.PermissionSnapshot
	diff := summarizeDiff(rec.Diff)
	for _, o := range rec.Objects {
		eventType, reason, note := eventFor(o, rec, diff)
		regarding := byKey[objectKey{o.Kind, o.Name}]
		if o.Change == audit.ChangeDeleted {
			if psnap == nil {
				psnap = &accessv1.PermissionSnapshot{}
				key := client.ObjectKey{Namespace: tenant, Name: accessv1.SnapshotObjectName}
				if err := r.client.Get(ctx, key, psnap); err != nil {
					log.FromContext(ctx).V(1).Info("no PermissionSnapshot to record a deletion on", "tenant", tenant, "error", err.Error())
					return
				}
			}
			regarding = psnap
		}
		if regarding != nil {
			r.recorder.Eventf(regarding, nil, eventType, reason, "Compile", "%s", note)
		}
	}
}

// drop stops serving a tenant whose last access object is gone, or that
// left the shard, and reports whether it was served. The StatusReconciler
// then deletes its PermissionSnapshot (or, for a tenant that left the
// shard, releases it to the next shard). No finalizer is involved anywhere:
// deleting a namespace never waits for this controller.
func (r *TenantReconciler) drop(ctx context.Context, tenant, why string) bool {
	r.mu.Lock()
	prev := r.tenants[tenant]
	delete(r.tenants, tenant)
	r.mu.Unlock()

	old := r.store.Get(tenant)
	if old == nil {
		return false
	}
	diff := snapshot.Diff(old.Snapshot, nil)
	rec := audit.Record{
		Time: r.now().UTC(), Replica: r.replica, Tenant: tenant, Event: audit.EventDropped,
		FromRevision: old.Snapshot.Revision(), Diff: &diff,
		Objects: changedObjects(prev, &tenantObjects{}, nil),
	}
	// Dropping only takes access away, so it happens even when the record
	// is not delivered (--audit-required included).
	if err := r.audit.Record(ctx, rec); err != nil {
		log.FromContext(ctx).Error(err, "audit record lost", "tenant", tenant, "event", audit.EventDropped)
	}
	r.store.Delete(tenant)
	metrics.DropTenant(tenant)
	metrics.SetTenants(r.store.Len())
	log.FromContext(ctx).Info("tenant dropped: "+why, "tenant", tenant)
	return true
}
