package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SnapshotCounts counts what a permission snapshot holds.
type SnapshotCounts struct {
	// Roles compiled into the snapshot.
	Roles int32 `json:"roles"`
	// Groups compiled into the snapshot.
	Groups int32 `json:"groups"`
	// Subjects that are members of at least one group.
	Subjects int32 `json:"subjects"`
	// FieldPolicies compiled into the snapshot.
	FieldPolicies int32 `json:"fieldPolicies"`
	// ApprovalChains compiled into the snapshot.
	ApprovalChains int32 `json:"approvalChains"`
}

// LeftOutObject is an object the compiler left out of the snapshot.
type LeftOutObject struct {
	// Kind of the object (Role, UserGroup, FieldPolicy, ApprovalChain).
	Kind string `json:"kind"`
	// Name of the object.
	Name string `json:"name"`
	// Field is the path of the offending field, e.g. spec.permissions[2].when.
	// +optional
	Field string `json:"field,omitempty"`
	// Reason is a CamelCase reason such as InvalidReference or Cycle.
	Reason string `json:"reason"`
	// Message explains the problem.
	Message string `json:"message"`
}

// PermissionSnapshotSpec is empty: the snapshot is written by the operator.
type PermissionSnapshotSpec struct{}

// PermissionSnapshotStatus describes the compiled snapshot a tenant is served.
type PermissionSnapshotStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Revision is the content hash of the served snapshot.
	// +optional
	Revision string `json:"revision,omitempty"`

	// CompiledAt is when the served snapshot was compiled.
	// +optional
	CompiledAt *metav1.Time `json:"compiledAt,omitempty"`

	// Counts of what the snapshot holds.
	// +optional
	Counts SnapshotCounts `json:"counts,omitempty"`

	// LeftOut lists the objects left out of the snapshot and why.
	// +kubebuilder:validation:MaxItems=1000
	// +optional
	LeftOut []LeftOutObject `json:"leftOut,omitempty"`

	// Shard is the Gatehouse shard that serves the tenant: the value of the
	// namespace's access.gatehouse.dev/shard label, or the default shard's
	// name for an unlabelled namespace. Applications ask that shard's
	// Service. Empty when Gatehouse is not sharded, or when no running shard
	// serves the tenant (the Ready condition then says why).
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Shard string `json:"shard,omitempty"`

	// Conditions hold the Ready condition.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=permissionsnapshots,singular=permissionsnapshot,shortName=psnap,categories=gatehouse
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`
// +kubebuilder:printcolumn:name="Roles",type=integer,JSONPath=`.status.counts.roles`
// +kubebuilder:printcolumn:name="Groups",type=integer,JSONPath=`.status.counts.groups`
// +kubebuilder:printcolumn:name="Subjects",type=integer,JSONPath=`.status.counts.subjects`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Shard",type=string,JSONPath=`.status.shard`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// PermissionSnapshot reports the compiled permission snapshot of one tenant
// namespace. There is one per tenant, named "current", written only by the
// operator.
type PermissionSnapshot struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is empty.
	// +optional
	Spec PermissionSnapshotSpec `json:"spec,omitempty"`
	// Status is the compiled snapshot's description.
	Status PermissionSnapshotStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// PermissionSnapshotList is a list of PermissionSnapshots.
type PermissionSnapshotList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the PermissionSnapshots.
	Items []PermissionSnapshot `json:"items"`
}

// SnapshotObjectName is the name of every tenant's PermissionSnapshot.
const SnapshotObjectName = "current"

// ReasonNotInShard is the reason of a PermissionSnapshot's Ready=False
// condition when the namespace has left the shard that served it and no
// shard has reported serving it since (its label may name no running shard).
const ReasonNotInShard = "NotInShard"

func init() {
	register(&PermissionSnapshot{}, &PermissionSnapshotList{})
}
