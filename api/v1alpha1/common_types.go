package v1alpha1

import (
	"encoding/json"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ObjectName is the name of another Gatehouse object in the same tenant
// namespace (a Role, a UserGroup or an approval step). It must be a DNS label.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:XValidation:rule="self.matches('^[a-z0-9]([-a-z0-9]*[a-z0-9])?$')",message="must be a DNS label: lowercase letters, digits and '-', starting and ending with a letter or digit"
type ObjectName string

// ModuleName names a resource type (a module of the tenant application, such
// as workorders, assets or purchaseorders), or "*" for every module.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:Pattern=`^(\*|[A-Za-z][A-Za-z0-9_.-]*)$`
type ModuleName string

// ActionName names an action on a module (view, create, edit, delete, archive,
// approve, assign, share, export, or any verb the application defines), or
// "*" for every action.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=63
// +kubebuilder:validation:Pattern=`^(\*|[A-Za-z][A-Za-z0-9_.:-]*)$`
type ActionName string

// SubjectID identifies a user (or service account) of the tenant application,
// as the application names it in authorization requests.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=253
type SubjectID string

// CELExpression is a Common Expression Language expression over subject,
// resource, action and context that must evaluate to a bool.
// +kubebuilder:validation:MinLength=1
// +kubebuilder:validation:MaxLength=4096
type CELExpression string

// Scope narrows a permission to some records of a module.
// +kubebuilder:validation:Enum=all;own;assigned;ownOrAssigned;contact;unit;unitTree;facility;company
type Scope string

// Scopes a permission or a restriction can have.
const (
	// ScopeAll matches every record of the module.
	ScopeAll Scope = "all"
	// ScopeOwn matches records whose ownerId is the subject.
	ScopeOwn Scope = "own"
	// ScopeAssigned matches records whose assigneeIds contain the subject.
	ScopeAssigned Scope = "assigned"
	// ScopeOwnOrAssigned matches own or assigned records (the "partial" access
	// of field-service products).
	ScopeOwnOrAssigned Scope = "ownOrAssigned"
	// ScopeContact matches records whose projectContacts contain the subject.
	ScopeContact Scope = "contact"
	// ScopeUnit matches records in exactly the subject's administrative unit.
	ScopeUnit Scope = "unit"
	// ScopeUnitTree matches records in the subject's unit or any unit below it.
	ScopeUnitTree Scope = "unitTree"
	// ScopeFacility matches records whose facilityId is one of the subject's
	// facilities.
	ScopeFacility Scope = "facility"
	// ScopeCompany matches records whose companyId is the subject's company or
	// one of the extra companies granted to the subject.
	ScopeCompany Scope = "company"
)

// AllScopes lists every Scope, in the order they are documented.
var AllScopes = []Scope{ScopeAll, ScopeOwn, ScopeAssigned, ScopeOwnOrAssigned, ScopeContact,
	ScopeUnit, ScopeUnitTree, ScopeFacility, ScopeCompany}

// FieldAccess is what a subject may do with one field of a record.
// +kubebuilder:validation:Enum=write;read;hidden
type FieldAccess string

// Field access levels, from most to least.
const (
	// FieldWrite: the field may be read and written.
	FieldWrite FieldAccess = "write"
	// FieldRead: the field may be read but not written.
	FieldRead FieldAccess = "read"
	// FieldHidden: the field may be neither read nor written.
	FieldHidden FieldAccess = "hidden"
)

// ConditionReady is the condition type every Gatehouse object reports: True
// when the object is part of the tenant's served permission snapshot.
const ConditionReady = "Ready"

// Reasons of the Ready condition.
const (
	// ReasonCompiled: the object is part of the served snapshot.
	ReasonCompiled = "Compiled"
	// ReasonInvalidReference: the object names a Role or UserGroup that does
	// not exist or was itself left out.
	ReasonInvalidReference = "InvalidReference"
	// ReasonInvalidExpression: a CEL expression does not compile, is not a
	// bool, or is too costly.
	ReasonInvalidExpression = "InvalidExpression"
	// ReasonCycle: extends or memberGroups form a cycle through this object.
	ReasonCycle = "Cycle"
	// ReasonInvalidSpec: the spec is inconsistent in a way the schema cannot
	// express.
	ReasonInvalidSpec = "InvalidSpec"
	// ReasonProgressing: the object has not been compiled yet.
	ReasonProgressing = "Progressing"
)

// AccessObjectStatus is the observed state shared by Roles, UserGroups,
// FieldPolicies and ApprovalChains.
type AccessObjectStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Revision is the revision of the tenant's permission snapshot that
	// includes this object, empty while the object is left out.
	// +optional
	Revision string `json:"revision,omitempty"`

	// Conditions hold the Ready condition: True when the object is served,
	// False with a reason (InvalidReference, InvalidExpression, Cycle,
	// InvalidSpec) and a message naming the field otherwise.
	// +optional
	// +listType=map
	// +listMapKey=type
	// +kubebuilder:validation:MaxItems=8
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// AttributeValue is a subject attribute: one string or a list of strings. In
// YAML both `unit: /ca/ab/calgary` and `facilities: [yard-1, yard-2]` work.
// +kubebuilder:validation:Schemaless
// +kubebuilder:pruning:PreserveUnknownFields
// +kubebuilder:validation:Type=""
type AttributeValue struct {
	// Values holds the strings; a scalar attribute holds one.
	Values []string `json:"-"`
	// List records that the attribute was written as a list, so it round-trips.
	List bool `json:"-"`
}

// StringAttribute returns a scalar attribute value.
func StringAttribute(s string) AttributeValue { return AttributeValue{Values: []string{s}} }

// ListAttribute returns a list attribute value.
func ListAttribute(values ...string) AttributeValue {
	return AttributeValue{Values: values, List: true}
}

// MarshalJSON writes a scalar attribute as a string and a list as an array.
func (a AttributeValue) MarshalJSON() ([]byte, error) {
	if !a.List && len(a.Values) == 1 {
		return json.Marshal(a.Values[0])
	}
	if a.Values == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(a.Values)
}

// UnmarshalJSON accepts a string or a list of strings and nothing else.
func (a *AttributeValue) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*a = StringAttribute(s)
		return nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err != nil {
		return fmt.Errorf("attribute value must be a string or a list of strings, got %s", truncate(data, 40))
	}
	*a = AttributeValue{Values: list, List: true}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
