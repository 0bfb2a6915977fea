// Wire types of the Gatehouse authorization endpoint (internal/authz): the
// request bodies the decoder accepts and the answers the handler writes.

/** A JSON value (what custom properties and context entries may hold). */
export type JsonValue =
  | string
  | number
  | boolean
  | null
  | JsonValue[]
  | { [key: string]: JsonValue };

/**
 * Standard subject facts (group attributes win over them); any other key is
 * a custom property visible to CEL conditions.
 */
export interface SubjectProperties {
  /** Identity-provider groups (UserGroups' externalGroups). */
  groups?: string[] | null;
  /** Canonical unit path, e.g. "/ca/ab/calgary". */
  unit?: string | null;
  company?: string | null;
  companies?: string[] | null;
  facilities?: string[] | null;
  [key: string]: unknown;
}

export interface Subject {
  /** Defaults to "user" where the server needs one (subject search). */
  type?: string;
  id: string;
  properties?: SubjectProperties | null;
}

export interface Action {
  name: string;
  /** Accepted and ignored by the server. */
  properties?: Record<string, unknown> | null;
}

/** One approval already given on a record. */
export interface Approval {
  step: string;
  by: string;
}

/**
 * Standard record facts; any other key (e.g. amount) is a custom property
 * visible to CEL conditions and plan filters.
 */
export interface ResourceProperties {
  ownerId?: string | null;
  assigneeIds?: string[] | null;
  /** Canonical unit path, e.g. "/ca/ab/calgary". */
  unit?: string | null;
  facilityId?: string | null;
  companyId?: string | null;
  projectContacts?: string[] | null;
  approvals?: Approval[] | null;
  [key: string]: unknown;
}

export interface Resource {
  /** The module, e.g. "workorders". */
  type: string;
  id?: string;
  properties?: ResourceProperties | null;
}

/** A candidate record of a resource search: its type defaults to resource.type. */
export interface CandidateResource {
  type?: string;
  id?: string;
  properties?: ResourceProperties | null;
}

/** The request context; every key but minRevision is visible to CEL. */
export interface RequestContext {
  /**
   * Wait (bounded, server default 2 s) until the tenant's served snapshot
   * has exactly this revision (revisions are content hashes), else 503.
   */
  minRevision?: string;
  [key: string]: unknown;
}

// ---- evaluation -----------------------------------------------------------

export interface EvaluationRequest {
  subject: Subject;
  action: Action;
  resource: Resource;
  context?: RequestContext | null;
}

export interface FieldsAccess {
  readable: string[];
  writable: string[];
}

/** ?explain=true: the grant that allowed the request, or why none matched. */
export interface Explain {
  role?: string;
  group?: string;
  from?: string;
  permission?: number;
  fullAccess?: boolean;
  scope?: string;
  when?: string;
  message: string;
}

export interface DecisionContext {
  /** Stable code: Allowed, NoSnapshot, UnknownSubject, NotPermitted, ScopeNotMatched... */
  reason: string;
  /** Present on single evaluations (batch items leave it out). */
  revision?: string;
  /** Present when allowed and a FieldPolicy covers the resource type. */
  fields?: FieldsAccess;
  explain?: Explain;
}

export interface Decision {
  decision: boolean;
  context: DecisionContext;
}

/** A decision with the revision of the snapshot that answered. */
export interface EvaluationResponse extends Decision {
  revision: string;
}

export type EvaluationsSemantic = "execute_all" | "deny_on_first_deny" | "permit_on_first_permit";

/** One item of a batch: parts it lacks are taken from the request's top level. */
export interface EvaluationItem {
  subject?: Subject;
  action?: Action;
  resource?: Resource;
  context?: RequestContext | null;
}

export interface EvaluationsRequest {
  subject?: Subject;
  action?: Action;
  resource?: Resource;
  context?: RequestContext | null;
  evaluations: EvaluationItem[];
  options?: { evaluations_semantic?: EvaluationsSemantic } | null;
}

export interface EvaluationsResponse {
  /**
   * In request order. Shorter than the request only when
   * deny_on_first_deny / permit_on_first_permit stopped early: the last
   * decision is the one that stopped it.
   */
  evaluations: Decision[];
  /** Revision of the snapshot that answered (every chunk was pinned to it). */
  revision: string;
}

// ---- search ---------------------------------------------------------------

export interface PageRequest {
  token?: string;
  limit?: number;
}

export interface PageResponse {
  /** "" on the last page. */
  next_token: string;
  count: number;
  total: number;
}

export interface SearchResponse<T> {
  results: T[];
  page: PageResponse;
  context: { revision: string };
}

export interface SubjectResult {
  type: string;
  id: string;
}
export interface ActionResult {
  name: string;
}
export interface ResourceResult {
  type: string;
  id: string;
}

export interface SearchSubjectRequest {
  /** Only its type is used (the type of the results, default "user"). */
  subject?: Partial<Subject>;
  action: Action;
  resource: Resource;
  context?: RequestContext | null;
  page?: PageRequest | null;
}

export interface SearchActionRequest {
  subject: Subject;
  resource: Resource;
  context?: RequestContext | null;
  page?: PageRequest | null;
}

export interface SearchResourceRequest {
  subject: Subject;
  action: Action;
  resource: Resource;
  context: RequestContext & { candidates: CandidateResource[] };
  page?: PageRequest | null;
}

// ---- fields ---------------------------------------------------------------

export type FieldAccess = "write" | "read" | "hidden";

export interface FieldsRequest {
  subject: Subject;
  resource: Resource;
  context?: RequestContext | null;
}

export interface FieldsResponse {
  revision: string;
  /** False: no FieldPolicy covers the module, every field is writable. */
  covered: boolean;
  /** Access to fields the policy does not list. */
  default: FieldAccess;
  readable: string[];
  writable: string[];
  hidden: string[];
  /** Set when the subject may do nothing at all (the answer is then closed). */
  reason?: string;
}

// ---- plan -----------------------------------------------------------------

/** A scalar operand of a filter predicate. */
export type FilterValue = string | number | boolean;

/** The filter tree of /v1/plan (internal/snapshot/plan.go, Filter). */
export type PlanFilter =
  | { op: "true" }
  | { op: "false" }
  | { op: "and" | "or"; children: PlanFilter[] }
  | { op: "eq" | "lt" | "le" | "gt" | "ge"; property: string; value: FilterValue }
  | { op: "in"; property: string; values?: FilterValue[] }
  | { op: "contains"; property: string; value: FilterValue }
  | { op: "under"; property: string; value: string }
  | { op: "cel"; expr: string };

export type PlanKind = "always" | "never" | "conditional";

export interface Plan {
  kind: PlanKind;
  /** Set when kind is conditional. */
  filter?: PlanFilter;
  /** The deny reason when kind is never. */
  reason?: string;
}

export interface PlanRequest {
  subject: Subject;
  action: Action;
  resource: Resource;
  context?: RequestContext | null;
  /** Property → SQL column ("name" or "table.name"): asks for sql. */
  columns?: Record<string, string> | null;
  placeholder?: "dollar" | "question";
  argOffset?: number;
}

export interface PlanResponse extends Plan {
  revision: string;
  sql?: { where: string; args: FilterValue[] };
  /** Why no SQL could be rendered (the filter is still valid). */
  sqlError?: string;
}

// ---- approvals ------------------------------------------------------------

export interface ApprovalsPlanRequest {
  resource: Resource;
  context?: RequestContext | null;
}

export interface PlannedStep {
  name: string;
  required: number;
  requireAll?: boolean;
  eligible: string[];
  approvedBy: string[];
  done: boolean;
}

export interface ApprovalsPlanResponse {
  revision: string;
  chain?: string;
  action?: string;
  steps: PlannedStep[];
  current?: string;
  complete: boolean;
  reason?: string;
}

export interface ApprovalsCheckRequest {
  subject: Subject;
  resource: Resource;
  context?: RequestContext | null;
}

export interface ApprovalsCheckResponse {
  revision: string;
  allowed: boolean;
  step?: string;
  complete: boolean;
  /** Allowed, NotEligible, AlreadyApproved, ApprovalComplete, NoApprovalChain, NoEligibleApprovers or NoSnapshot. */
  reason: string;
}

// ---- discovery ------------------------------------------------------------

/** AuthZEN PDP metadata with Gatehouse's own endpoints. */
export interface DiscoveryResponse {
  policy_decision_point: string;
  access_evaluation_endpoint: string;
  access_evaluations_endpoint: string;
  search_subject_endpoint: string;
  search_action_endpoint: string;
  search_resource_endpoint: string;
  gatehouse_fields_endpoint: string;
  gatehouse_plan_endpoint: string;
  gatehouse_approvals_plan_endpoint: string;
  gatehouse_approvals_check_endpoint: string;
  /** The server's evaluations batch limit, when it advertises one. */
  gatehouse_max_batch?: number;
  [key: string]: string | number | undefined;
}
