package controllers

import (
	"cmp"
	"context"
	"slices"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// objectKey names an access object within its tenant.
type objectKey struct {
	kind string // snapshot.Kind* (Role, UserGroup, FieldPolicy, ApprovalChain)
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
	in := client.InNamespace(tenant)
	var (
		roles  accessv1.RoleList
		groups accessv1.UserGroupList
		fps    accessv1.FieldPolicyList
		chains accessv1.ApprovalChainList
	)
	for _, l := range []client.ObjectList{&roles, &groups, &fps, &chains} {
		// The cache's own objects, not copies: the compiled snapshot keeps
		// pointers to their specs, so a copy would hold every object twice.
		// Nothing here writes to them (status is patched on copies).
		if err := c.List(ctx, l, in, client.UnsafeDisableDeepCopy); err != nil {
			return nil, err
		}
	}
	// An object being deleted (held by another controller's finalizer)
	// grants nothing any more: it is not compiled.
	t := &tenantObjects{objs: snapshot.Objects{
		Roles: live(roles.Items), Groups: live(groups.Items),
		FieldPolicies: live(fps.Items), ApprovalChains: live(chains.Items),
	}}
	// Items point into the slices handed to the compiler, which only reads
	// them; status is changed on copies (see patchAccessStatus).
	for i := range t.objs.Roles {
		o := &t.objs.Roles[i]
		t.items = append(t.items, accessItem{objectKey{snapshot.KindRole, o.Name}, o, &o.Status})
	}
	for i := range t.objs.Groups {
		o := &t.objs.Groups[i]
		t.items = append(t.items, accessItem{objectKey{snapshot.KindUserGroup, o.Name}, o, &o.Status})
	}
	for i := range t.objs.FieldPolicies {
		o := &t.objs.FieldPolicies[i]
		t.items = append(t.items, accessItem{objectKey{snapshot.KindFieldPolicy, o.Name}, o, &o.Status})
	}
	for i := range t.objs.ApprovalChains {
		o := &t.objs.ApprovalChains[i]
		t.items = append(t.items, accessItem{objectKey{snapshot.KindApprovalChain, o.Name}, o, &o.Status})
	}
	slices.SortFunc(t.items, func(a, b accessItem) int { return compareKeys(a.key, b.key) })
	return t, nil
}

// live drops the objects that are being deleted.
func live[T any, PT interface {
	*T
	GetDeletionTimestamp() *metav1.Time
}](items []T) []T {
	out := items[:0]
	for i := range items {
		if PT(&items[i]).GetDeletionTimestamp() == nil {
			out = append(out, items[i])
		}
	}
	return out
}

// accessStatusOf returns the status of an access object, nil for other
// objects.
func accessStatusOf(obj client.Object) *accessv1.AccessObjectStatus {
	switch o := obj.(type) {
	case *accessv1.Role:
		return &o.Status
	case *accessv1.UserGroup:
		return &o.Status
	case *accessv1.FieldPolicy:
		return &o.Status
	case *accessv1.ApprovalChain:
		return &o.Status
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
