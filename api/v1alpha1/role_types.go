package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Permission grants actions on modules, for the records a scope selects and,
// optionally, only when a CEL condition holds.
type Permission struct {
	// Resources are the modules the permission covers; "*" covers every module.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	Resources []ModuleName `json:"resources"`

	// Actions are the actions the permission allows; "*" allows every action.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	Actions []ActionName `json:"actions"`

	// Scope selects the records the permission applies to: all (default), own,
	// assigned, ownOrAssigned, contact, unit, unitTree, facility or company.
	// +kubebuilder:default=all
	// +optional
	Scope Scope `json:"scope,omitempty"`

	// When is an optional CEL condition over subject, resource, action and
	// context that must also be true, e.g. `resource.properties.amount < 5000`.
	// It is refused when it does not compile, is not a bool, is too costly,
	// or calls matches() with a pattern that is not a string literal.
	// +optional
	When CELExpression `json:"when,omitempty"`
}

// RoleSpec is the desired state of a Role.
type RoleSpec struct {
	// DisplayName is the role's name as people read it.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// Description says what the role is for.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`

	// Extends names template roles in the same tenant whose permissions this
	// role also grants (a union, resolved transitively; cycles are rejected).
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	// +optional
	Extends []ObjectName `json:"extends,omitempty"`

	// FullAccess allows every action on every record of every module and makes
	// every field writable, bypassing permissions and conditions.
	// +optional
	FullAccess bool `json:"fullAccess,omitempty"`

	// Permissions are the grants of the role; they add up.
	// +kubebuilder:validation:MaxItems=256
	// +optional
	Permissions []Permission `json:"permissions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=accessroles,singular=accessrole,shortName=arole,categories=gatehouse
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Full Access",type=boolean,JSONPath=`.spec.fullAccess`
// +kubebuilder:printcolumn:name="Extends",type=string,JSONPath=`.spec.extends`,priority=1
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// Role is a named set of permissions per module and action in one tenant
// namespace. UserGroups give Roles to their members.
type Role struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the Role.
	Spec RoleSpec `json:"spec,omitempty"`
	// Status is the observed state of the Role.
	Status AccessObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// RoleList is a list of Roles.
type RoleList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the Roles.
	Items []Role `json:"items"`
}

func init() {
	register(&Role{}, &RoleList{})
}
