package v1alpha1

import (
	"slices"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// The access kinds, as named in the API, in problems and in status.
const (
	KindRole          = "Role"
	KindUserGroup     = "UserGroup"
	KindFieldPolicy   = "FieldPolicy"
	KindApprovalChain = "ApprovalChain"
)

// AccessObject is implemented by the four access kinds (*Role, *UserGroup,
// *FieldPolicy, *ApprovalChain), so that what is the same for all of them
// (name, generation, status) is written once. It is a controller-runtime
// client.Object; this package depends on apimachinery only.
//
// +kubebuilder:object:generate=false
type AccessObject interface {
	metav1.Object
	runtime.Object
	// AccessKind is the object's kind, e.g. KindRole. It does not read the
	// object: it may be called on a nil pointer.
	AccessKind() string
	// AccessStatus points to the object's status.
	AccessStatus() *AccessObjectStatus
	// AccessSpec points to the object's spec (what its generation counts).
	AccessSpec() any
}

// AccessObjectList is implemented by the lists of the access kinds.
//
// +kubebuilder:object:generate=false
type AccessObjectList interface {
	metav1.ListInterface
	runtime.Object
	// AccessItems points to the list's items, in order.
	AccessItems() []AccessObject
}

// AccessKind describes one access kind: an entry of AccessKinds.
//
// +kubebuilder:object:generate=false
type AccessKind struct {
	// Kind is the kind's name, e.g. KindRole.
	Kind string
	// New returns an empty object of the kind.
	New func() AccessObject
	// NewList returns an empty list of the kind.
	NewList func() AccessObjectList
}

// AccessKinds are the access kinds: code that handles each kind ranges over
// this table rather than switching on kinds.
var AccessKinds = []AccessKind{
	{Kind: KindRole, New: func() AccessObject { return &Role{} }, NewList: func() AccessObjectList { return &RoleList{} }},
	{Kind: KindUserGroup, New: func() AccessObject { return &UserGroup{} }, NewList: func() AccessObjectList { return &UserGroupList{} }},
	{Kind: KindFieldPolicy, New: func() AccessObject { return &FieldPolicy{} }, NewList: func() AccessObjectList { return &FieldPolicyList{} }},
	{Kind: KindApprovalChain, New: func() AccessObject { return &ApprovalChain{} }, NewList: func() AccessObjectList { return &ApprovalChainList{} }},
}

// LookupAccessKind returns the access kind named kind; false when kind is
// not an access kind.
func LookupAccessKind(kind string) (AccessKind, bool) {
	i := slices.IndexFunc(AccessKinds, func(k AccessKind) bool { return k.Kind == kind })
	if i < 0 {
		return AccessKind{}, false
	}
	return AccessKinds[i], true
}

// AccessKind implements AccessObject.
func (*Role) AccessKind() string { return KindRole }

// AccessKind implements AccessObject.
func (*UserGroup) AccessKind() string { return KindUserGroup }

// AccessKind implements AccessObject.
func (*FieldPolicy) AccessKind() string { return KindFieldPolicy }

// AccessKind implements AccessObject.
func (*ApprovalChain) AccessKind() string { return KindApprovalChain }

// AccessStatus implements AccessObject.
func (o *Role) AccessStatus() *AccessObjectStatus { return &o.Status }

// AccessStatus implements AccessObject.
func (o *UserGroup) AccessStatus() *AccessObjectStatus { return &o.Status }

// AccessStatus implements AccessObject.
func (o *FieldPolicy) AccessStatus() *AccessObjectStatus { return &o.Status }

// AccessStatus implements AccessObject.
func (o *ApprovalChain) AccessStatus() *AccessObjectStatus { return &o.Status }

// AccessSpec implements AccessObject.
func (o *Role) AccessSpec() any { return &o.Spec }

// AccessSpec implements AccessObject.
func (o *UserGroup) AccessSpec() any { return &o.Spec }

// AccessSpec implements AccessObject.
func (o *FieldPolicy) AccessSpec() any { return &o.Spec }

// AccessSpec implements AccessObject.
func (o *ApprovalChain) AccessSpec() any { return &o.Spec }

// AccessItems implements AccessObjectList.
func (l *RoleList) AccessItems() []AccessObject { return accessItems(l.Items) }

// AccessItems implements AccessObjectList.
func (l *UserGroupList) AccessItems() []AccessObject { return accessItems(l.Items) }

// AccessItems implements AccessObjectList.
func (l *FieldPolicyList) AccessItems() []AccessObject { return accessItems(l.Items) }

// AccessItems implements AccessObjectList.
func (l *ApprovalChainList) AccessItems() []AccessObject { return accessItems(l.Items) }

// accessItems points to items.
func accessItems[T any, PT interface {
	*T
	AccessObject
}](items []T) []AccessObject {
	out := make([]AccessObject, len(items))
	for i := range items {
		out[i] = PT(&items[i])
	}
	return out
}
