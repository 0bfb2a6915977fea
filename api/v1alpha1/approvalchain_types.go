package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Approvers names who may approve a step. An approver must be named here AND
// hold the chain's action on the record.
// +kubebuilder:validation:XValidation:rule="size(self.roles) + size(self.groups) + size(self.users) > 0",message="a step needs at least one approver role, group or user"
type Approvers struct {
	// Roles whose holders may approve.
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	// +optional
	// +kubebuilder:default={}
	Roles []ObjectName `json:"roles"`

	// Groups whose members may approve.
	// +kubebuilder:validation:MaxItems=32
	// +listType=set
	// +optional
	// +kubebuilder:default={}
	Groups []ObjectName `json:"groups"`

	// Users (subject IDs) who may approve.
	// +kubebuilder:validation:MaxItems=256
	// +listType=set
	// +optional
	// +kubebuilder:default={}
	Users []SubjectID `json:"users"`
}

// ApprovalStep is one step of an approval chain.
// +kubebuilder:validation:XValidation:rule="!(has(self.required) && has(self.requireAll) && self.requireAll)",message="required and requireAll are mutually exclusive"
// +kubebuilder:validation:XValidation:rule="!has(self.required) || self.required >= 1",message="required must be at least 1",fieldPath=".required"
type ApprovalStep struct {
	// Name identifies the step in a record's approvals.
	Name ObjectName `json:"name"`

	// When is an optional CEL condition; the step applies only to records for
	// which it is true, e.g. `resource.properties.amount > 1000`.
	// +optional
	When CELExpression `json:"when,omitempty"`

	// Approvers may approve this step.
	Approvers Approvers `json:"approvers"`

	// Required is how many distinct approvals the step needs (1 when unset).
	// +kubebuilder:validation:Maximum=100
	// +optional
	Required *int32 `json:"required,omitempty"`

	// RequireAll makes the step need an approval from every eligible approver.
	// +optional
	RequireAll bool `json:"requireAll,omitempty"`
}

// ApprovalChainSpec is the desired state of an ApprovalChain.
type ApprovalChainSpec struct {
	// Resource is the module whose records go through the chain.
	// +kubebuilder:validation:XValidation:rule="self != '*'",message="an approval chain covers one module, not '*'"
	Resource ModuleName `json:"resource"`

	// Action is the permission approvers must hold on the record.
	// +kubebuilder:default=approve
	// +optional
	Action ActionName `json:"action,omitempty"`

	// Steps are approved in order; a step whose condition is false is skipped.
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=16
	// +listType=map
	// +listMapKey=name
	Steps []ApprovalStep `json:"steps"`

	// RequireProjectContact makes only the record's project contacts eligible.
	// +optional
	RequireProjectContact bool `json:"requireProjectContact,omitempty"`

	// ForbidSelfApproval makes the record's owner ineligible.
	// +optional
	ForbidSelfApproval bool `json:"forbidSelfApproval,omitempty"`
}

// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:path=approvalchains,singular=approvalchain,shortName=achain,categories=gatehouse
// +kubebuilder:printcolumn:name="Resource",type=string,JSONPath=`.spec.resource`
// +kubebuilder:printcolumn:name="Action",type=string,JSONPath=`.spec.action`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Revision",type=string,JSONPath=`.status.revision`,priority=1
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`

// ApprovalChain is the ordered approval steps records of one module go
// through, with who may approve each.
type ApprovalChain struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the desired state of the ApprovalChain.
	Spec ApprovalChainSpec `json:"spec,omitempty"`
	// Status is the observed state of the ApprovalChain.
	Status AccessObjectStatus `json:"status,omitempty"`
}

// +kubebuilder:object:root=true

// ApprovalChainList is a list of ApprovalChains.
type ApprovalChainList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	// Items are the ApprovalChains.
	Items []ApprovalChain `json:"items"`
}

func init() {
	register(&ApprovalChain{}, &ApprovalChainList{})
}

// DefaultApprovalAction is the action an ApprovalChain approves when
// spec.action is empty.
const DefaultApprovalAction ActionName = "approve"

// EffectiveAction is spec.action, or DefaultApprovalAction when it is empty:
// the one place that default is applied.
func (s *ApprovalChainSpec) EffectiveAction() ActionName {
	if s.Action == "" {
		return DefaultApprovalAction
	}
	return s.Action
}
