package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// FieldName is a field of a record: a plain name, a dotted path
// (address.city) or a custom field (custom.warrantyCode).
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=128
// +kubebuilder:validation:Pattern=`^[A-Za-z_][A-Za-z0-9_-]*(\.[A-Za-z_][A-Za-z0-9_-]*)*$`
type FieldName string

// FieldGrant gives an access level on a field to some roles and groups.
// +kubebuilder:validation:XValidation:rule="size(self.roles) + size(self.groups) > 0",message="a grant must name at least one role or group"
type FieldGrant struct {
	// Roles whose holders get the access.
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +optional
	// +kubebuilder:default={}
	Roles []ObjectName `json:"roles"`

	// Groups whose members get the access.
	// +kubebuilder:validation:MaxItems=64
	// +listType=set
	// +optional
	// +kubebuilder:default={}
	Groups []ObjectName `json:"groups"`

	// Access is the level granted: write, read or hidden.
	Access FieldAccess `json:"access"`
}

// FieldRule sets the access to one field.
type FieldRule struct {
	// Name is the field: a name, a dotted path or a custom field.
	Name FieldName `json:"name"`

	// Default is the access of subjects no grant matches; the policy's
	// default when empty.
	// +optional
	Default FieldAccess `json:"default,omitempty"`

	// Grants give access levels to roles and groups. A subject gets the most
	// open level of all grants that match them.
	// +kubebuilder:validation:MaxItems=32
	// +optional
	Grants []FieldGrant `json:"grants,omitempty"`
}

// FieldPolicySpec is the desired state of a FieldPolicy.
type FieldPolicySpec struct {
	// Resource is the module whose fields this policy covers.
	// +kubebuilder:validation:XValidation:rule="self != '*'",message="a field policy covers one module, not '*'"
	Resource ModuleName `json:"resource"`

	// Default is the access to fields the policy does not list: write
	// (default), read or hidden.
	// +kubebuilder:default=write
	// +optional
	Default FieldAccess `json:"default,omitempty"`

	// Fields set the access per field. Each field is listed once.
	// +kubebuilder:validation:MaxItems=512
	// +listType=map
	// +listMapKey=name
	// +optional
	Fields []FieldRule `json:"fields,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=fieldpolicies,singular=fieldpolicy,shortName=fpol,categories=gatehouse
// +kubebuilder:printcolumn:name="Resource",type=string,JSONPath=`.spec.resource`
// +kubebuilder:printcolumn:name="Default",type=string,JSONPath=`.spec.default`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// FieldPolicy decides, per field of one module, which roles and groups may
// write, only read, or not see it.
type FieldPolicy struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the FieldPolicy.
	Spec FieldPolicySpec `json:"spec,omitempty"`
	// Status is the observed state of the FieldPolicy.
	Status AccessObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// FieldPolicyList is a list of FieldPolicies.
type FieldPolicyList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the FieldPolicies.
	Items []FieldPolicy `json:"items"`
}

func init() {
	register(&FieldPolicy{}, &FieldPolicyList{})
}
