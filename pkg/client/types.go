package client

import "github.com/gatehouse-dev/gatehouse/pkg/planfilter"

// Subject is who asks (AuthZEN subject). Standard properties: groups
// (identity-provider groups), unit, company, companies, facilities.
type Subject struct {
	Type       string         `json:"type,omitempty"`
	ID         string         `json:"id"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Action is what the subject wants to do (AuthZEN action).
type Action struct {
	Name       string         `json:"name"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Resource is the record acted on (AuthZEN resource). Standard properties:
// ownerId, assigneeIds, unit, facilityId, companyId, projectContacts,
// approvals ([{"step": ..., "by": ...}]).
type Resource struct {
	Type       string         `json:"type"`
	ID         string         `json:"id,omitempty"`
	Properties map[string]any `json:"properties,omitempty"`
}

// Request is one access evaluation: may Subject perform Action on
// Resource. Context is visible to CEL conditions; the client sets
// context.minRevision itself (see WithMinRevision).
type Request struct {
	Subject  Subject        `json:"subject"`
	Action   Action         `json:"action"`
	Resource Resource       `json:"resource"`
	Context  map[string]any `json:"context,omitempty"`
}

// Decision is the answer of an access evaluation.
type Decision struct {
	// Allowed is the decision. A deny is a Decision with Allowed false
	// and a Reason; it is never made up by the client.
	Allowed bool
	// Reason is a stable code: Allowed, NoSnapshot, UnknownSubject,
	// NoRoles, UnknownResource, UnknownAction, NotPermitted,
	// ScopeNotMatched, ConditionFalse, Restricted...
	Reason string
	// Revision is the snapshot revision that decided.
	Revision string
	// Fields are the readable and writable fields when the decision is an
	// allow and a FieldPolicy covers the resource type, else nil.
	Fields *DecisionFields
	// Explain is set with WithExplain.
	Explain *Explanation
}

// DecisionFields are the fields of an allowed record the subject may read
// and write.
type DecisionFields struct {
	Readable []string `json:"readable"`
	Writable []string `json:"writable"`
}

// Explanation tells which grant decided, or why nothing matched.
type Explanation struct {
	Role       string `json:"role,omitempty"`
	Group      string `json:"group,omitempty"`
	From       string `json:"from,omitempty"`
	Permission int    `json:"permission,omitempty"`
	FullAccess bool   `json:"fullAccess,omitempty"`
	Scope      string `json:"scope,omitempty"`
	When       string `json:"when,omitempty"`
	Message    string `json:"message,omitempty"`
}

// Evaluations semantics (AuthZEN options.evaluations_semantic).
const (
	ExecuteAll          = "execute_all"
	DenyOnFirstDeny     = "deny_on_first_deny"
	PermitOnFirstPermit = "permit_on_first_permit"
)

// Page asks for one page of search results: Token is the NextToken of
// the previous page ("" for the first), Limit the page size (0: the
// server's default).
type Page struct {
	Token string
	Limit int
}

// Results is one page of search results.
type Results[T any] struct {
	Results []T
	// NextToken asks for the next page; "" on the last page.
	NextToken string
	// Count is len(Results), Total the number of results in all pages.
	Count, Total int
	Revision     string
}

// SubjectSearch asks who may perform Action on Resource. SubjectType is
// the type of the subjects returned (default "user").
type SubjectSearch struct {
	SubjectType string
	Action      Action
	Resource    Resource
	Context     map[string]any
	Page        Page
}

// ActionSearch asks what Subject may do on Resource.
type ActionSearch struct {
	Subject  Subject
	Resource Resource
	Context  map[string]any
	Page     Page
}

// ResourceSearch asks which of Candidates (records of Resource.Type)
// Subject may perform Action on. To list records from a database, use
// Plan instead.
type ResourceSearch struct {
	Subject    Subject
	Action     Action
	Resource   Resource
	Candidates []Resource
	Context    map[string]any
	Page       Page
}

// Field access levels (FieldAccess.Default).
const (
	FieldWrite  = "write"
	FieldRead   = "read"
	FieldHidden = "hidden"
)

// FieldAccess is what a subject may do with the fields of a resource type.
type FieldAccess struct {
	// Covered is true when a FieldPolicy covers the resource type (and
	// for a subject denied everything); when false every field is
	// writable.
	Covered bool `json:"covered"`
	// Default is the access to fields the policy does not list.
	Default string `json:"default"`
	// Readable (including writable), Writable and Hidden list the
	// policy's fields, sorted.
	Readable []string `json:"readable"`
	Writable []string `json:"writable"`
	Hidden   []string `json:"hidden"`
	// Reason is set when the subject may not act at all: every field is
	// hidden.
	Reason   string `json:"reason,omitempty"`
	Revision string `json:"revision"`
}

// PlanRequest asks which records of ResourceType Subject may perform
// Action on. Columns maps record properties to SQL columns ("name" or
// "table.name") to also get an SQL WHERE fragment; Placeholder is
// "dollar" ($1, the default) or "question" (?); ArgOffset numbers the
// first placeholder after the caller's own arguments.
type PlanRequest struct {
	Subject      Subject
	Action       Action
	ResourceType string
	Context      map[string]any
	Columns      map[string]string
	Placeholder  string
	ArgOffset    int
}

// Plan kinds.
const (
	PlanAlways      = "always"
	PlanNever       = "never"
	PlanConditional = "conditional"
)

// Plan is the list filter of a subject, action and resource type.
type Plan struct {
	// Kind is PlanAlways (every record), PlanNever (none; Reason says
	// why) or PlanConditional (the records Filter matches).
	Kind   string  `json:"kind"`
	Filter *Filter `json:"filter,omitempty"`
	Reason string  `json:"reason,omitempty"`
	// SQL is the WHERE fragment when the request mapped columns and the
	// filter could be rendered; SQLError says why not otherwise.
	SQL      *SQL   `json:"sql,omitempty"`
	SQLError string `json:"sqlError,omitempty"`
	Revision string `json:"revision"`
}

// SQL is a parameterized WHERE fragment and its arguments.
type SQL struct {
	Where string `json:"where"`
	Args  []any  `json:"args"`
}

// Filter operators (planfilter's, the server's own definition).
const (
	OpTrue     = planfilter.OpTrue
	OpFalse    = planfilter.OpFalse
	OpAnd      = planfilter.OpAnd
	OpOr       = planfilter.OpOr
	OpEq       = planfilter.OpEq
	OpLt       = planfilter.OpLt
	OpLe       = planfilter.OpLe
	OpGt       = planfilter.OpGt
	OpGe       = planfilter.OpGe
	OpIn       = planfilter.OpIn
	OpContains = planfilter.OpContains
	OpUnder    = planfilter.OpUnder
	OpCEL      = planfilter.OpCEL
)

// Filter is a boolean expression over record properties, as the server
// sends it: and/or nodes with Children, predicates on Property with Value
// (eq, lt, le, gt, ge, contains, under) or Values (in), and cel nodes
// (Expr) the server could not translate.
type Filter struct {
	Op       string    `json:"op"`
	Children []*Filter `json:"children,omitempty"`
	Property string    `json:"property,omitempty"`
	Value    any       `json:"value,omitempty"`
	Values   []any     `json:"values,omitempty"`
	Expr     string    `json:"expr,omitempty"`
}

// ApprovalPlan is the approval path of one record.
type ApprovalPlan struct {
	Chain    string         `json:"chain,omitempty"`
	Action   string         `json:"action,omitempty"`
	Steps    []ApprovalStep `json:"steps"`
	Current  string         `json:"current,omitempty"`
	Complete bool           `json:"complete"`
	Reason   string         `json:"reason,omitempty"`
	Revision string         `json:"revision"`
}

// ApprovalStep is one applicable step of an approval chain.
type ApprovalStep struct {
	Name       string   `json:"name"`
	Required   int      `json:"required"`
	RequireAll bool     `json:"requireAll,omitempty"`
	Eligible   []string `json:"eligible"`
	ApprovedBy []string `json:"approvedBy"`
	Done       bool     `json:"done"`
}

// ApprovalDecision answers whether a subject may approve a record now.
type ApprovalDecision struct {
	Allowed  bool
	Step     string
	Complete bool
	// Reason: Allowed, NotEligible, AlreadyApproved, ApprovalComplete,
	// NoApprovalChain, NoEligibleApprovers or NoSnapshot.
	Reason   string
	Revision string
}

// Discovery is the tenant's AuthZEN PDP metadata.
type Discovery struct {
	PolicyDecisionPoint string
	// Endpoints maps the metadata parameters (access_evaluation_endpoint,
	// gatehouse_plan_endpoint...) to URLs.
	Endpoints map[string]string
	// MaxBatch is the server's batch limit when it advertises one
	// (gatehouse_max_batch), else 0.
	MaxBatch int
}
