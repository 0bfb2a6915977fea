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
// A pattern rather than a CEL rule: names sit in nested lists where a CEL
// rule's estimated cost would exceed the API server's budget.
// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
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
	// ReasonQuotaExceeded: the object, or the tenant with it, exceeds a
	// per-tenant limit the platform operator set.
	ReasonQuotaExceeded = "QuotaExceeded"
	// ReasonAuditUndelivered: the tenant's latest change is not served
	// because its audit record could not be delivered and the manager runs
	// with --audit-required; the last good snapshot keeps serving.
	ReasonAuditUndelivered = "AuditUndelivered"
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
//
// The schema cannot say "string or list of strings" (structural schemas have
// no such union, and CEL cannot see schemaless values), so any JSON is stored
// and decoding never fails: a value of another shape keeps its raw JSON in
// Invalid and the compiler reports it, instead of one bad object breaking the
// decoding of every list that contains it.
// +kubebuilder:validation:Schemaless
// +kubebuilder:pruning:PreserveUnknownFields
// +kubebuilder:validation:Type=""
type AttributeValue struct {
	// Values holds the strings; a scalar attribute holds one.
	Values []string `json:"-"`
	// List records that the attribute was written as a list, so it round-trips.
	List bool `json:"-"`
	// Invalid holds the raw JSON of a value that is neither a string nor a
	// list of strings.
	Invalid json.RawMessage `json:"-"`
}

// StringAttribute returns a scalar attribute value.
func StringAttribute(s string) AttributeValue { return AttributeValue{Values: []string{s}} }

// ListAttribute returns a list attribute value.
func ListAttribute(values ...string) AttributeValue {
	return AttributeValue{Values: values, List: true}
}

// MarshalJSON writes a scalar attribute as a string, a list as an array and
// an invalid value as it was read.
func (a AttributeValue) MarshalJSON() ([]byte, error) {
	if a.Invalid != nil {
		return a.Invalid, nil
	}
	if !a.List && len(a.Values) == 1 {
		return json.Marshal(a.Values[0])
	}
	if a.Values == nil {
		return []byte("[]"), nil
	}
	return json.Marshal(a.Values)
}

// UnmarshalJSON accepts a string or a list of strings; anything else is kept
// in Invalid.
func (a *AttributeValue) UnmarshalJSON(data []byte) error {
	var s string
	if err := json.Unmarshal(data, &s); err == nil {
		*a = StringAttribute(s)
		return nil
	}
	var list []string
	if err := json.Unmarshal(data, &list); err == nil {
		*a = AttributeValue{Values: list, List: true}
		return nil
	}
	*a = AttributeValue{Invalid: append(json.RawMessage(nil), data...)}
	return nil
}

// Validate says why the value is not a string or a list of strings.
func (a AttributeValue) Validate() error {
	if a.Invalid != nil {
		return fmt.Errorf("must be a string or a list of strings, got %s", truncate(a.Invalid, 40))
	}
	return nil
}

func truncate(b []byte, n int) string {
	if len(b) <= n {
		return string(b)
	}
	return string(b[:n]) + "…"
}
