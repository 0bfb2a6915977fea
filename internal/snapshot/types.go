package snapshot

import "github.com/gatehouse-dev/gatehouse/api/v1alpha1"

// Objects are one tenant's access objects, as listed from the API server (or
// read from files). Order does not matter.
type Objects struct {
	Roles          []v1alpha1.Role
	Groups         []v1alpha1.UserGroup
	FieldPolicies  []v1alpha1.FieldPolicy
	ApprovalChains []v1alpha1.ApprovalChain
}

// Subject is who asks. The standard properties an application sends in
// subject.properties have their own fields so that a JSON decoder can fill
// them without building maps; everything else goes to Properties (for CEL).
type Subject struct {
	// Type is the kind of subject, e.g. user or service (for CEL only).
	Type string `json:"type,omitempty"`
	// ID is the subject ID as listed in UserGroup members.
	ID string `json:"id"`
	// Groups are identity-provider groups (properties.groups); they select
	// UserGroups by externalGroups.
	Groups []string `json:"groups,omitempty"`
	// Unit is the subject's unit path (properties.unit), used when no group
	// of the subject defines a unit attribute.
	Unit string `json:"unit,omitempty"`
	// Company is the subject's company (properties.company), used when no
	// group of the subject defines one.
	Company string `json:"company,omitempty"`
	// Companies are extra companies (properties.companies), e.g. per-project
	// grants, used when no group of the subject defines them.
	Companies []string `json:"companies,omitempty"`
	// Facilities are the subject's facilities (properties.facilities), used
	// when no group of the subject defines them.
	Facilities []string `json:"facilities,omitempty"`
	// Properties are the other subject properties, visible to CEL.
	Properties map[string]any `json:"properties,omitempty"`
}

// Approval is one approval recorded on a record (resource.properties.approvals).
type Approval struct {
	// Step is the approval step's name.
	Step string `json:"step"`
	// By is the subject ID of the approver.
	By string `json:"by"`
}

// Resource is the record acted on. Standard properties have their own
// fields (see docs/semantics.md for their JSON names); the rest go to
// Properties.
type Resource struct {
	// Type is the module, e.g. workorders.
	Type string `json:"type"`
	// ID is the record's ID (may be empty, e.g. for create).
	ID string `json:"id,omitempty"`
	// OwnerID is properties.ownerId, the subject who owns the record.
	OwnerID string `json:"ownerId,omitempty"`
	// AssigneeIDs is properties.assigneeIds.
	AssigneeIDs []string `json:"assigneeIds,omitempty"`
	// Unit is properties.unit, the record's unit path.
	Unit string `json:"unit,omitempty"`
	// FacilityID is properties.facilityId.
	FacilityID string `json:"facilityId,omitempty"`
	// CompanyID is properties.companyId.
	CompanyID string `json:"companyId,omitempty"`
	// ProjectContacts is properties.projectContacts.
	ProjectContacts []string `json:"projectContacts,omitempty"`
	// Approvals is properties.approvals.
	Approvals []Approval `json:"approvals,omitempty"`
	// Properties are the other record properties, visible to CEL.
	Properties map[string]any `json:"properties,omitempty"`
}

// Request is one authorization question.
type Request struct {
	// Subject is who asks.
	Subject Subject `json:"subject"`
	// Action is the action name (action.name in the wire format and CEL).
	Action string `json:"action"`
	// Resource is the record acted on.
	Resource Resource `json:"resource"`
	// Context is free-form request context, visible to CEL only.
	Context map[string]any `json:"context,omitempty"`
	// Budget, when set, is charged for the conditions this check runs;
	// once it is spent the check answers ReasonBudgetExceeded.
	Budget *Budget `json:"-"`
}

// Match tells which grant allowed a request. Matches are built at compile
// time and shared: callers must not modify them.
type Match struct {
	// Role is the role the subject holds.
	Role string `json:"role"`
	// Group is the group that gives the subject the role.
	Group string `json:"group"`
	// From is the role that defines the permission when it is inherited
	// through extends (empty when it is Role itself).
	From string `json:"from,omitempty"`
	// Permission is the index in the defining role's spec.permissions, -1 for
	// fullAccess.
	Permission int `json:"permission"`
	// FullAccess is true when the role's fullAccess allowed the request.
	FullAccess bool `json:"fullAccess,omitempty"`
	// Scope is the permission's scope.
	Scope string `json:"scope,omitempty"`
	// When is the permission's condition, if any.
	When string `json:"when,omitempty"`
}

// Decision is the answer to a Check.
type Decision struct {
	// Allowed is true only when a grant matched.
	Allowed bool `json:"allowed"`
	// Reason is a stable code (Reason* constants of this package).
	Reason string `json:"reason"`
	// Matched is the grant that allowed the request (nil when denied).
	Matched *Match `json:"matched,omitempty"`
}

// Decision reasons. Every deny has a specific one; the set is closed so
// apps and dashboards can switch on it.
const (
	ReasonAllowed          = "Allowed"
	ReasonNoSnapshot       = "NoSnapshot"
	ReasonInvalidRequest   = "InvalidRequest"
	ReasonUnknownSubject   = "UnknownSubject"
	ReasonNoRoles          = "NoRoles"
	ReasonUnknownResource  = "UnknownResource"
	ReasonUnknownAction    = "UnknownAction"
	ReasonNotPermitted     = "NotPermitted"
	ReasonScopeNotMatched  = "ScopeNotMatched"
	ReasonConditionFalse   = "ConditionFalse"
	ReasonRestricted       = "Restricted"
	ReasonNoApprovalChain  = "NoApprovalChain"
	ReasonApprovalComplete = "ApprovalComplete"
	ReasonNotEligible      = "NotEligible"
	ReasonAlreadyApproved  = "AlreadyApproved"
	ReasonNoApprovers      = "NoEligibleApprovers"
)

// Counts says what a snapshot holds.
type Counts struct {
	// Roles, Groups, FieldPolicies and ApprovalChains count compiled objects.
	Roles  int `json:"roles"`
	Groups int `json:"groups"`
	// Subjects counts the known members (listed in a compiled group).
	Subjects       int `json:"subjects"`
	FieldPolicies  int `json:"fieldPolicies"`
	ApprovalChains int `json:"approvalChains"`
	// Profiles is the number of distinct effective group sets (an
	// implementation figure, useful for capacity planning).
	Profiles int `json:"profiles"`
}
