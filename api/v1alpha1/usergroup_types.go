package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Restriction narrows what a group's members may do on some modules: on those
// modules every permission they hold is intersected with the restriction's
// scope (for example supplier users limited to their company's purchase
// orders and invoices).
type Restriction struct {
	// Resources are the modules the restriction applies to; "*" means all.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	Resources []ModuleName `json:"resources"`

	// Scope is the scope every permission on those modules must also satisfy.
	Scope Scope `json:"scope"`
}

// UserGroupSpec is the desired state of a UserGroup.
type UserGroupSpec struct {
	// DisplayName is the group's name as people read it.
	// +kubebuilder:validation:MaxLength=128
	// +optional
	DisplayName string `json:"displayName,omitempty"`

	// Description says who the group is.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Description string `json:"description,omitempty"`

	// Members are the subject IDs of the group's users.
	// +kubebuilder:validation:MaxItems=10000
	// +listType=set
	// +optional
	Members []SubjectID `json:"members,omitempty"`

	// MemberGroups names other UserGroups of the tenant whose members are also
	// members of this group (transitively; cycles are rejected).
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +optional
	MemberGroups []ObjectName `json:"memberGroups,omitempty"`

	// ExternalGroups are identity-provider group names; a request whose
	// subject.properties.groups holds one of them is treated as a member.
	// +kubebuilder:validation:MaxItems=64
	// +kubebuilder:validation:items:MaxLength=256
	// +kubebuilder:validation:items:MinLength=1
	// +listType=set
	// +optional
	ExternalGroups []string `json:"externalGroups,omitempty"`

	// Roles names the Roles every member gets.
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +optional
	Roles []ObjectName `json:"roles,omitempty"`

	// Attributes are subject attributes every member gets, each a string or a
	// list of strings: unit (an administrative unit path such as
	// /ca/ab/calgary), company, facilities, or any other name used in CEL
	// conditions. They win over attributes the application sends.
	// +kubebuilder:validation:MaxProperties=64
	// +optional
	Attributes map[string]AttributeValue `json:"attributes,omitempty"`

	// Restrictions narrow members' access on some modules to a scope.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Restrictions []Restriction `json:"restrictions,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=usergroups,singular=usergroup,shortName=ugroup,categories=gatehouse
// +kubebuilder:printcolumn:name="Display Name",type=string,JSONPath=`.spec.displayName`
// +kubebuilder:printcolumn:name="Roles",type=string,JSONPath=`.spec.roles`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// UserGroup gives Roles, attributes and restrictions to its members: listed
// subjects, members of nested groups, and holders of IdP groups.
type UserGroup struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the UserGroup.
	Spec UserGroupSpec `json:"spec,omitempty"`
	// Status is the observed state of the UserGroup.
	Status AccessObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// UserGroupList is a list of UserGroups.
type UserGroupList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the UserGroups.
	Items []UserGroup `json:"items"`
}

func init() {
	register(&UserGroup{}, &UserGroupList{})
}
