package controllers

import (
	"cmp"
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/tenantlist"
)

// objectKey names an access object within its tenant.
type objectKey struct {
	kind string // accessv1.Kind*, the same names as snapshot.Kind* in problems
	name string
}

func compareKeys(a, b objectKey) int {
	return cmp.Or(cmp.Compare(a.kind, b.kind), cmp.Compare(a.name, b.name))
}

// objectVersion is what identifies the spec an object had when it was
// compiled: a spec change bumps the generation, a delete and re-create
// changes the UID. Status and metadata changes touch neither, so they never
// cause a compile.
type objectVersion struct {
	uid        types.UID
	generation int64
}

// accessItem is one access object of a tenant with its status, whatever its
// kind, so that status handling need not be written four times.
type accessItem struct {
	key    objectKey
	obj    client.Object
	status *accessv1.AccessObjectStatus
}

// tenantObjects are the access objects of one tenant, as listed from the
// cache: typed for the compiler, and as items for versions and status.
type tenantObjects struct {
	objs  snapshot.Objects
	items []accessItem // sorted by kind, then name
}

func (t *tenantObjects) empty() bool { return len(t.items) == 0 }

// versions returns the version of every object, the input fingerprint a
// compile is keyed on.
func (t *tenantObjects) versions() map[objectKey]objectVersion {
	out := make(map[objectKey]objectVersion, len(t.items))
	for _, it := range t.items {
		out[it.key] = objectVersion{uid: it.obj.GetUID(), generation: it.obj.GetGeneration()}
	}
	return out
}

// listTenant lists the tenant's access objects from the cache.
func listTenant(ctx context.Context, c client.Reader, tenant string) (*tenantObjects, error) {
	// The cache's own objects, not copies: the compiled snapshot keeps
	// pointers to their specs, so a copy would hold every object twice.
	// Nothing here writes to them (status is patched on copies).
	objs, err := tenantlist.List(ctx, c, tenant, live, client.UnsafeDisableDeepCopy)
	if err != nil {
		return nil, err
	}
	t := &tenantObjects{objs: objs}
	// Items point into the slices handed to the compiler, which only reads
	// them; status is changed on copies (see patchAccessStatus).
	all := tenantlist.Objects(&t.objs)
	t.items = make([]accessItem, 0, len(all))
	for _, o := range all {
		t.items = append(t.items, accessItem{objectKey{o.AccessKind(), o.GetName()}, o, o.AccessStatus()})
	}
	slices.SortFunc(t.items, func(a, b accessItem) int { return compareKeys(a.key, b.key) })
	return t, nil
}

// live is false for an object being deleted (held by another controller's
// finalizer): it grants nothing any more, so it is not compiled.
func live(o accessv1.AccessObject) bool { return o.GetDeletionTimestamp() == nil }

// accessStatusOf returns the status of an access object, nil for other
// objects.
func accessStatusOf(obj client.Object) *accessv1.AccessObjectStatus {
	if o, ok := obj.(accessv1.AccessObject); ok {
		return o.AccessStatus()
	}
	return nil
}

// problemsByObject groups problems by the object they are about.
func problemsByObject(problems []snapshot.Problem) map[objectKey][]snapshot.Problem {
	out := map[objectKey][]snapshot.Problem{}
	for _, p := range problems {
		k := objectKey{p.Kind, p.Name}
		out[k] = append(out[k], p)
	}
	return out
}

// lastApplied is kubectl's client-side apply annotation: a second copy of
// the object, which the manager never reads.
const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"

// CacheTransform is the manager cache's DefaultTransform: it drops what
// the manager never reads from every cached object — managed fields and
// kubectl's last-applied copy, together often larger than the object —
// so that 10,000 tenants' objects fit in a replica. Other annotations
// (Argo CD's tracking, for instance) are kept.
func CacheTransform(in any) (any, error) {
	if obj, err := meta.Accessor(in); err == nil {
		if obj.GetManagedFields() != nil {
			obj.SetManagedFields(nil)
		}
		if a := obj.GetAnnotations(); a != nil {
			if _, ok := a[lastApplied]; ok {
				delete(a, lastApplied)
				if len(a) == 0 {
					obj.SetAnnotations(nil)
				}
			}
		}
	}
	return in, nil
}
