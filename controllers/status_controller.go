package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// FieldOwner is the field manager of every status write, the same on every
// replica so that a change of leader does not add managedFields entries.
const FieldOwner = "gatehouse"

// conflictRetry is how soon a tenant whose PermissionSnapshot update
// conflicted is written again.
const conflictRetry = 200 * time.Millisecond

// statusWorkers bounds the status patches of one tenant in flight at once.
const statusWorkers = 8

// StatusReconciler writes what the TenantReconciler compiled to the API:
// the status of every access object and the tenant's PermissionSnapshot,
// patching only what differs. It runs on the elected leader only.
//
// It is told about every compile, and also watches the objects' status and
// the PermissionSnapshot, so that status overwritten or deleted by hand is
// put back. When a replica becomes the leader its watches list every object,
// so status catches up with what the replica compiled while it followed.
type StatusReconciler struct {
	client  client.Client
	tenants *TenantReconciler
	shard   Shard

	writes atomic.Int64
}

// Reconcile brings the status of the tenant req.Name in line with the
// snapshot this replica serves. A sharded replica writes the status of its
// shard's tenants only.
func (r *StatusReconciler) Reconcile(ctx context.Context, req ctrl.Request) (ctrl.Result, error) {
	tenant := req.Name
	m, err := member(ctx, r.client, r.shard, tenant)
	if err != nil {
		return ctrl.Result{}, err
	}
	if !m.serves {
		err := r.release(ctx, tenant, m)
		if apierrors.IsConflict(err) {
			// Most likely the next shard wrote first: read again.
			return ctrl.Result{RequeueAfter: conflictRetry}, nil
		}
		return ctrl.Result{}, err
	}
	state := r.tenants.compiled(tenant)
	if state == nil {
		// Not served: either the tenant has no objects left (drop its
		// PermissionSnapshot) or it has not been compiled yet (the compile
		// will tell us).
		in, err := listTenant(ctx, r.client, tenant)
		if err != nil || !in.empty() {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, r.deleteSnapshot(ctx, tenant)
	}
	in, err := listTenant(ctx, r.client, tenant)
	if err != nil {
		return ctrl.Result{}, err
	}
	err = r.writeStatus(ctx, tenant, in, state)
	if apierrors.IsConflict(err) {
		// The cache was behind a write; the watch event that catches it
		// up requeues the tenant as well, this is a safety net.
		return ctrl.Result{RequeueAfter: conflictRetry}, nil
	}
	return ctrl.Result{}, err
}

// writeStatus patches the status of every object the served entry
// describes, then the PermissionSnapshot, so that once the PermissionSnapshot
// shows a revision every object's status does too. Objects whose generation
// is newer than the compiled one are skipped: their compile is pending and
// will be reported when done.
func (r *StatusReconciler) writeStatus(ctx context.Context, tenant string, in *tenantObjects, state *tenantState) error {
	if state.refused != nil {
		// The objects' generations were not compiled into what is served:
		// their status stays as it was; the PermissionSnapshot says why.
		return r.writeSnapshotStatus(ctx, tenant, state)
	}
	entry := state.entry
	byObject := problemsByObject(entry.Problems)
	rev := entry.Snapshot.Revision()

	var (
		wg   sync.WaitGroup
		sem  = make(chan struct{}, statusWorkers)
		errs = make([]error, len(in.items))
	)
	for i, it := range in.items {
		if state.versions[it.key] != (objectVersion{uid: it.obj.GetUID(), generation: it.obj.GetGeneration()}) {
			continue
		}
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
	return r.writeSnapshotStatus(ctx, tenant, state)
}

func (r *StatusReconciler) patchAccessStatus(ctx context.Context, it accessItem, desired accessv1.AccessObjectStatus) error {
	obj := it.obj.DeepCopyObject().(client.Object)
	orig := obj.DeepCopyObject().(client.Object)
	*accessStatusOf(obj) = desired
	r.writes.Add(1)
	err := r.client.Status().Patch(ctx, obj, client.MergeFrom(orig), client.FieldOwner(FieldOwner))
	// A deleted object needs no status; the delete triggers a new compile.
	return client.IgnoreNotFound(err)
}

// writeSnapshotStatus creates the tenant's PermissionSnapshot when missing
// and updates its status when it differs from the served entry.
func (r *StatusReconciler) writeSnapshotStatus(ctx context.Context, tenant string, state *tenantState) error {
	psnap := &accessv1.PermissionSnapshot{}
	key := client.ObjectKey{Namespace: tenant, Name: accessv1.SnapshotObjectName}
	err := r.client.Get(ctx, key, psnap)
	if apierrors.IsNotFound(err) {
		psnap = &accessv1.PermissionSnapshot{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: accessv1.SnapshotObjectName}}
		r.writes.Add(1)
		err = r.client.Create(ctx, psnap, client.FieldOwner(FieldOwner))
		if apierrors.HasStatusCause(err, corev1.NamespaceTerminatingCause) {
			return nil // the tenant is going away with its namespace
		}
	}
	if err != nil {
		return err
	}
	var desired accessv1.PermissionSnapshotStatus
	if entry := state.entry; entry != nil {
		desired = desiredSnapshotStatus(&psnap.Status, psnap.Generation, r.shard.Name, entry.Snapshot, entry.CompiledAt, entry.Problems)
	} else {
		desired = *psnap.Status.DeepCopy()
		desired.Shard = r.shard.Name
	}
	if state.refused != nil {
		refusedSnapshotStatus(&desired, psnap.Generation, state.entry != nil, state.refused)
	}
	if equality.Semantic.DeepEqual(psnap.Status, desired) {
		return nil
	}
	// An update, not a merge patch: the status is wholly the operator's,
	// and a merge patch would leave out counts that are zero in both the
	// old and the new status although the schema requires them. A conflict
	// (the cache was behind) is retried with fresh data.
	psnap.Status = desired
	r.writes.Add(1)
	return client.IgnoreNotFound(r.client.Status().Update(ctx, psnap, client.FieldOwner(FieldOwner)))
}

// release marks the PermissionSnapshot of a tenant this shard does not
// serve as not served, when it names this shard: status must never name a
// shard that no longer serves the tenant. The shard serving it next writes
// its own name over it. The update carries the resourceVersion read, so it
// never overwrites that shard's write: it conflicts and is read again.
// Access objects' status is left alone: it describes their last compile,
// the same on every shard.
func (r *StatusReconciler) release(ctx context.Context, tenant string, m membership) error {
	psnap := &accessv1.PermissionSnapshot{}
	err := r.client.Get(ctx, client.ObjectKey{Namespace: tenant, Name: accessv1.SnapshotObjectName}, psnap)
	if apierrors.IsNotFound(err) || (err == nil && psnap.Status.Shard != r.shard.Name) {
		return nil
	}
	if err != nil {
		return err
	}
	psnap.Status.Shard = ""
	meta.SetStatusCondition(&psnap.Status.Conditions, metav1.Condition{
		Type: accessv1.ConditionReady, Status: metav1.ConditionFalse, Reason: accessv1.ReasonNotInShard,
		Message: fmt.Sprintf("Not served by shard %s any more: %s. Waiting for the shard it is assigned to to serve it; until then the authorization endpoint denies it (NoSnapshot)",
			r.shard.Name, m.notServedBecause(r.shard)),
		ObservedGeneration: psnap.Generation,
	})
	r.writes.Add(1)
	return client.IgnoreNotFound(r.client.Status().Update(ctx, psnap, client.FieldOwner(FieldOwner)))
}

// deleteSnapshot deletes the PermissionSnapshot of a tenant that is no
// longer served.
func (r *StatusReconciler) deleteSnapshot(ctx context.Context, tenant string) error {
	var psnap accessv1.PermissionSnapshot
	err := r.client.Get(ctx, client.ObjectKey{Namespace: tenant, Name: accessv1.SnapshotObjectName}, &psnap)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		return err
	}
	r.writes.Add(1)
	return client.IgnoreNotFound(r.client.Delete(ctx, &psnap, client.Preconditions{UID: &psnap.UID}))
}

// compiledSource is the StatusReconciler's source of "tenant compiled"
// notifications. Notify never blocks the compile: before the status
// controller starts (on a follower, it never does) tenants are remembered
// in a set, bounded by the number of tenants, and enqueued on Start.
type compiledSource struct {
	mu      sync.Mutex
	queue   workqueue.TypedRateLimitingInterface[reconcile.Request]
	pending map[string]bool
}

func newCompiledSource() *compiledSource {
	return &compiledSource{pending: map[string]bool{}}
}

// Notify enqueues tenant for a status write.
func (s *compiledSource) Notify(tenant string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.queue == nil {
		s.pending[tenant] = true
		return
	}
	s.queue.Add(tenantRequest(tenant))
}

// Start implements source.TypedSource: from now on notifications go to q.
func (s *compiledSource) Start(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.queue = q
	for tenant := range s.pending {
		q.Add(tenantRequest(tenant))
	}
	s.pending = nil
	return nil
}

func (s *compiledSource) String() string { return "compiled tenants" }
