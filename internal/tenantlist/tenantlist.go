// Package tenantlist lists a tenant's access objects into snapshot.Objects:
// the one listing the controllers and the webhook share. The table binding
// each access kind to its field of snapshot.Objects lives here because
// api/v1alpha1 cannot import internal/snapshot (which imports it).
package tenantlist

import (
	"context"

	"sigs.k8s.io/controller-runtime/pkg/client"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// field binds an access kind to its field of snapshot.Objects.
type field struct {
	kind string
	// list lists the kind into its field of objs, keeping what keep
	// accepts (everything when keep is nil).
	list func(ctx context.Context, c client.Reader, objs *snapshot.Objects, keep func(accessv1.AccessObject) bool, opts []client.ListOption) error
	// appendObjects appends pointers to the items of the kind's field of
	// objs to out.
	appendObjects func(out []accessv1.AccessObject, objs *snapshot.Objects) []accessv1.AccessObject
}

// fields has an entry per access kind, in the order of accessv1.AccessKinds.
var fields = []field{
	bind(accessv1.KindRole,
		func(o *snapshot.Objects) *[]accessv1.Role { return &o.Roles },
		func(l *accessv1.RoleList) []accessv1.Role { return l.Items }),
	bind(accessv1.KindUserGroup,
		func(o *snapshot.Objects) *[]accessv1.UserGroup { return &o.Groups },
		func(l *accessv1.UserGroupList) []accessv1.UserGroup { return l.Items }),
	bind(accessv1.KindFieldPolicy,
		func(o *snapshot.Objects) *[]accessv1.FieldPolicy { return &o.FieldPolicies },
		func(l *accessv1.FieldPolicyList) []accessv1.FieldPolicy { return l.Items }),
	bind(accessv1.KindApprovalChain,
		func(o *snapshot.Objects) *[]accessv1.ApprovalChain { return &o.ApprovalChains },
		func(l *accessv1.ApprovalChainList) []accessv1.ApprovalChain { return l.Items }),
}

// bind makes the field entry of a kind from its field of snapshot.Objects
// and its list's items. The list's item slice is used as it is, not copied:
// a tenant may hold 100,000 objects.
func bind[T, L any, PT interface {
	*T
	accessv1.AccessObject
}, PL interface {
	*L
	accessv1.AccessObjectList
}](kind string, of func(*snapshot.Objects) *[]T, itemsOf func(*L) []T) field {
	return field{
		kind: kind,
		list: func(ctx context.Context, c client.Reader, objs *snapshot.Objects, keep func(accessv1.AccessObject) bool, opts []client.ListOption) error {
			var l L
			if err := c.List(ctx, PL(&l), opts...); err != nil {
				return err
			}
			items := itemsOf(&l)
			if keep != nil {
				kept := items[:0]
				for i := range items {
					if keep(PT(&items[i])) {
						kept = append(kept, items[i])
					}
				}
				items = kept
			}
			*of(objs) = items
			return nil
		},
		appendObjects: func(out []accessv1.AccessObject, objs *snapshot.Objects) []accessv1.AccessObject {
			items := *of(objs)
			for i := range items {
				out = append(out, PT(&items[i]))
			}
			return out
		},
	}
}

// List lists the access objects of the namespace from c, kind by kind.
// keep, when not nil, selects the objects returned; opts are added to every
// List call (e.g. client.UnsafeDisableDeepCopy, for a cache reader).
func List(ctx context.Context, c client.Reader, namespace string, keep func(accessv1.AccessObject) bool, opts ...client.ListOption) (snapshot.Objects, error) {
	opts = append([]client.ListOption{client.InNamespace(namespace)}, opts...)
	var objs snapshot.Objects
	for _, f := range fields {
		if err := f.list(ctx, c, &objs, keep, opts); err != nil {
			return snapshot.Objects{}, err
		}
	}
	return objs, nil
}

// Objects points to every object of objs, kind by kind in the order of
// accessv1.AccessKinds, each kind in its slice's order.
func Objects(objs *snapshot.Objects) []accessv1.AccessObject {
	var out []accessv1.AccessObject
	for _, f := range fields {
		out = f.appendObjects(out, objs)
	}
	return out
}
