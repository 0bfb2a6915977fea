package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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

// FieldOwner is the field manager of every status write, the same on every
// replica so that a change of leader does not add managedFields entries.
const FieldOwner = "gatehouse"

// statusWorkers bounds the status patches of one tenant in flight at once.
const statusWorkers = 8

// TenantReconciler compiles one tenant (namespace) at a time. A request's
// Name is the namespace; its Namespace is empty.
//
// Every replica compiles and serves; only the elected leader writes status,
// PermissionSnapshots and Events. The compile and the swap into the store
// never depend on the API server accepting a write, so a replica keeps
// serving fresh snapshots while it is not the leader or the API server is
// slow.
type TenantReconciler struct {
	client    client.Client
	store     *store.Store
	audit     *audit.Sink
	recorder  events.EventRecorder
	readiness *ReadinessTracker
	elected   <-chan struct{}
	replica   string
	now       func() time.Time

	mu      sync.Mutex
	tenants map[string]*tenantState

	compiles     atomic.Int64
	statusWrites atomic.Int64
}

// tenantState is what the reconciler remembers of a tenant's last compile
// in this process: the inputs (to skip compiles that would change nothing
// and to tell which objects changed) and which objects were left out (to
// tell which objects a change left out or restored).
type tenantState struct {
	versions map[objectKey]objectVersion
	leftOut  map[objectKey]bool
}

// Compiles returns how many times this reconciler compiled a tenant. Tests
// use it to check that bursts are debounced.
func (r *TenantReconciler) Compiles() int64 { return r.compiles.Load() }

// StatusWrites returns how many status, PermissionSnapshot and delete
// requests this reconciler sent. Tests use it to check that only the leader
// writes.
func (r *TenantReconciler) StatusWrites() int64 { return r.statusWrites.Load() }

// Readiness returns the tracker behind the manager's "tenants" ready check.
func (r *TenantReconciler) Readiness() *ReadinessTracker { return r.readiness }

// Reconcile compiles the tenant req.Name, serves the result, and, on the
// leader, writes status.
func (r *TenantReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	tenant := req.Name
	in, err := listTenant(ctx, r.client, tenant)
	if err != nil {
		return ctrl.Result{}, err
	}
	if in.empty() {
		return ctrl.Result{}, r.drop(ctx, tenant)
	}
	entry := r.compile(ctx, tenant, in)
	r.readiness.Observe(tenant)
	if !r.isLeader() {
		return ctrl.Result{}, nil
	}
	return ctrl.Result{}, r.writeStatus(ctx, tenant, in, entry)
}

// isLeader reports whether this replica may write status.
func (r *TenantReconciler) isLeader() bool {
	select {
	case <-r.elected:
		return true
	default:
		return false
	}
}

// compile compiles the tenant unless its objects did not change since the
// last compile, serves the result when its revision is new, and returns the
// served entry.
//
// The snapshot is always served, even when objects have problems: the
// compiler leaves the bad objects (and those depending on them) out and the
// rest applies, so one bad edit never takes a tenant's access away.
func (r *TenantReconciler) compile(ctx context.Context, tenant string, in *tenantObjects) *store.Entry {
	versions := in.versions()
	r.mu.Lock()
	prev := r.tenants[tenant]
	r.mu.Unlock()
	served := r.store.Get(tenant)
	if prev != nil && served != nil && maps.Equal(prev.versions, versions) {
		// Only status or metadata changed (often our own status writes
		// coming back through the watch): nothing to compile.
		return served
	}

	start := time.Now()
	snap, problems := snapshot.Compile(tenant, in.objs)
	took := time.Since(start)
	r.compiles.Add(1)
	now := r.now()
	byObject := problemsByObject(problems)
	state := &tenantState{versions: versions, leftOut: make(map[objectKey]bool, len(byObject))}
	for k := range byObject {
		state.leftOut[k] = true
	}

	if served != nil && served.Snapshot.Revision() == snap.Revision() {
		// Same content (say, an object deleted and re-created as it was):
		// keep the served snapshot, so waiters are not woken for nothing.
		metrics.ObserveCompile(tenant, took, false, nil, 0, now)
		r.remember(tenant, state)
		return served
	}

	entry := &store.Entry{Snapshot: snap, CompiledAt: now, Problems: problems}
	rec := r.auditRecord(ctx, tenant, prev, served, entry, in, byObject)
	// The audit line is written before the swap: whatever a replica serves
	// has been audited, even if the process dies right after.
	if err := r.audit.Write(rec); err != nil {
		metrics.AuditErrors.Inc()
		log.FromContext(ctx).Error(err, "audit record lost", "tenant", tenant, "revision", rec.ToRevision)
	}
	r.store.Set(tenant, entry)
	r.remember(tenant, state)
	metrics.ObserveCompile(tenant, took, true, snap, len(byObject), now)
	metrics.SetTenants(len(r.store.Tenants()))
	log.FromContext(ctx).V(1).Info("serving a new snapshot", "tenant", tenant, "revision", rec.ToRevision,
		"previous", rec.FromRevision, "changedObjects", len(rec.Objects), "leftOut", len(byObject), "took", took)

	if r.isLeader() {
		r.emitEvents(ctx, tenant, in, &rec)
	}
	return entry
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
	if err != nil || psnap.Status.Revision == "" {
		// A new tenant: every object is new and every subject gained what
		// it holds.
		diff := snapshot.Diff(nil, entry.Snapshot)
		rec.Diff = &diff
		rec.Objects = changedObjects(nil, in, byObject)
		return rec
	}
	rec.Event, rec.FromRevision = audit.EventLoaded, psnap.Status.Revision
	if psnap.Status.Revision != rec.ToRevision {
		// Objects changed while no replica was running: their status does
		// not describe their generation yet.
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
		o := audit.Object{Kind: it.key.kind, Name: it.key.name, Generation: it.obj.GetGeneration(),
			Served: len(byObject[it.key]) == 0, Problems: byObject[it.key]}
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
			out = append(out, audit.Object{Kind: k.kind, Name: k.name, Change: audit.ChangeDeleted})
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
		out = append(out, audit.Object{Kind: it.key.kind, Name: it.key.name, Change: change,
			Generation: it.obj.GetGeneration(), Served: len(byObject[it.key]) == 0, Problems: byObject[it.key]})
	}
	return out
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
	for _, o := range rec.Objects {
		eventType, reason, note := eventFor(o, rec)
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

// drop stops serving a tenant whose last access object is gone and, on the
// leader, deletes its PermissionSnapshot. No finalizer is involved anywhere:
// deleting a namespace never waits for this controller.
func (r *TenantReconciler) drop(ctx context.Context, tenant string) error {
	r.mu.Lock()
	prev := r.tenants[tenant]
	delete(r.tenants, tenant)
	r.mu.Unlock()

	if old := r.store.Get(tenant); old != nil {
		diff := snapshot.Diff(old.Snapshot, nil)
		rec := audit.Record{
			Time: r.now().UTC(), Replica: r.replica, Tenant: tenant, Event: audit.EventDropped,
			FromRevision: old.Snapshot.Revision(), Diff: &diff,
			Objects: changedObjects(prev, &tenantObjects{}, nil),
		}
		if err := r.audit.Write(rec); err != nil {
			metrics.AuditErrors.Inc()
			log.FromContext(ctx).Error(err, "audit record lost", "tenant", tenant, "event", audit.EventDropped)
		}
		r.store.Delete(tenant)
		metrics.DropTenant(tenant)
		metrics.SetTenants(len(r.store.Tenants()))
		log.FromContext(ctx).Info("tenant dropped: it has no access objects left", "tenant", tenant)
	}
	r.readiness.Observe(tenant)

	if !r.isLeader() {
		return nil
	}
	var psnap accessv1.PermissionSnapshot
	err := r.client.Get(ctx, client.ObjectKey{Namespace: tenant, Name: accessv1.SnapshotObjectName}, &psnap)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	r.statusWrites.Add(1)
	return client.IgnoreNotFound(r.client.Delete(ctx, &psnap, client.Preconditions{UID: &psnap.UID}))
}

// writeStatus brings the status of every access object and the tenant's
// PermissionSnapshot in line with the served entry, patching only what
// differs. The PermissionSnapshot is written last, so that once it shows a
// revision every object's status does too.
func (r *TenantReconciler) writeStatus(ctx context.Context, tenant string, in *tenantObjects, entry *store.Entry) error {
	byObject := problemsByObject(entry.Problems)
	rev := entry.Snapshot.Revision()

	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, statusWorkers)
		errs = make([]error, len(in.items))
	)
	for i, it := range in.items {
		desired := desiredAccessStatus(it.status, it.obj.GetGeneration(), rev, byObject[it.key])
		if equality.Semantic.DeepEqual(*it.status, desired) {
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			errs[i] = r.patchAccessStatus(ctx, it, desired)
		}()
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("writing status in tenant %s: %w", tenant, err)
	}
	return r.writeSnapshotStatus(ctx, tenant, entry)
}

func (r *TenantReconciler) patchAccessStatus(ctx context.Context, it accessItem, desired accessv1.AccessObjectStatus) error {
	obj := it.obj.DeepCopyObject().(client.Object)
	orig := obj.DeepCopyObject().(client.Object)
	*accessStatusOf(obj) = desired
	r.statusWrites.Add(1)
	err := r.client.Status().Patch(ctx, obj, client.MergeFrom(orig), client.FieldOwner(FieldOwner))
	// A deleted object needs no status; the delete triggers a new compile.
	return client.IgnoreNotFound(err)
}

// writeSnapshotStatus creates the tenant's PermissionSnapshot when missing
// and patches its status when it differs from the served entry.
func (r *TenantReconciler) writeSnapshotStatus(ctx context.Context, tenant string, entry *store.Entry) error {
	psnap := &accessv1.PermissionSnapshot{}
	key := client.ObjectKey{Namespace: tenant, Name: accessv1.SnapshotObjectName}
	err := r.client.Get(ctx, key, psnap)
	if apierrors.IsNotFound(err) {
		psnap = &accessv1.PermissionSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: accessv1.SnapshotObjectName}}
		r.statusWrites.Add(1)
		err = r.client.Create(ctx, psnap, client.FieldOwner(FieldOwner))
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the tenant is going away with its namespace
		}
	}
	if err != nil {
		return err
	}
	desired := desiredSnapshotStatus(&psnap.Status, psnap.Generation, entry.Snapshot, entry.CompiledAt, entry.Problems)
	if equality.Semantic.DeepEqual(psnap.Status, desired) {
		return nil
	}
	// An update, not a merge patch: the status is wholly the operator's,
	// and a merge patch would leave out counts that are zero in both the
	// old and the new status although the schema requires them. A conflict
	// (another writer got there first) is retried with fresh data.
	psnap.Status = desired
	r.statusWrites.Add(1)
	return client.IgnoreNotFound(r.client.Status().Update(ctx, psnap, client.FieldOwner(FieldOwner)))
}
