// Package audit writes Gatehouse's audit trail: who changed which access
// object (the webhook's admission records, denials included), which served
// snapshot each change produced and who gained or lost which permission,
// field access or approver role (the compile records), and sampled
// authorization decisions.
//
// A Trail fans records out to sinks: JSON lines on a stream or a file
// (Lines, synchronous) and CloudEvents over HTTP (asynchronous, batched,
// retried). With Trail.Required, a compile is served only once its record
// is delivered to every sink.
//
// Records of different replicas join on object identity: an admission
// record and a compile record name the same object change with the same
// Object.Key (tenant, kind, name, UID, generation and spec hash), whichever
// replica wrote each.
package audit

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"time"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// RecordType is the value of every record's "type" field, so that audit lines
// can be told apart from other JSON on a shared stream.
const RecordType = "gatehouse.audit"

// Events a record can describe.
const (
	// EventCompiled: the tenant is served a new snapshot, compiled from a
	// change this replica saw (or the first snapshot of a new tenant, with
	// an empty FromRevision).
	EventCompiled = "compiled"
	// EventLoaded: this replica started serving a tenant while catching up
	// at start, or a tenant another replica or an earlier process served
	// before. FromRevision is the revision the PermissionSnapshot reported
	// ("" on a first install); Objects are those whose status did not
	// describe their generation yet (changed while no replica ran). There
	// is no diff: the earlier snapshot is not in memory.
	EventLoaded = "loaded"
	// EventDropped: the tenant's last access object was deleted and the
	// tenant is no longer served; the diff lists what its subjects lost.
	EventDropped = "dropped"
	// EventAdmission: the validating webhook reviewed a change to an access
	// object, admitted or denied it. Admission says who asked and the
	// verdict; Objects has the one object, with the generation and spec
	// hash the change would store.
	EventAdmission = "admission"
	// EventDecision: one sampled authorization decision (Decision).
	EventDecision = "decision"
)

// Object changes.
const (
	// ChangeCreated: the object is new since the previous snapshot.
	ChangeCreated = "created"
	// ChangeUpdated: the object's spec changed (a new generation).
	ChangeUpdated = "updated"
	// ChangeDeleted: the object was deleted.
	ChangeDeleted = "deleted"
	// ChangeLeftOut: the object did not change but is now left out, because
	// an object it depends on changed.
	ChangeLeftOut = "leftOut"
	// ChangeRestored: the object did not change but is served again, because
	// an object it depends on was fixed.
	ChangeRestored = "restored"
	// ChangeUnchanged: an admitted update that leaves the spec as it was
	// (labels or annotations only); no compile follows it.
	ChangeUnchanged = "unchanged"
)

// Object is one access object a record is about.
type Object struct {
	// Kind is Role, UserGroup, FieldPolicy or ApprovalChain.
	Kind string `json:"kind"`
	// Name is the object's name in the tenant namespace.
	Name string `json:"name"`
	// Change is created, updated, deleted, leftOut, restored or unchanged.
	Change string `json:"change"`
	// UID is the object's metadata.uid: a name reused after a deletion is
	// another object.
	UID string `json:"uid,omitempty"`
	// Generation is the object's metadata.generation (for a deletion, the
	// last one it had; 0 when unknown).
	Generation int64 `json:"generation,omitempty"`
	// SpecHash identifies the spec of that generation (SpecHash).
	SpecHash string `json:"specHash,omitempty"`
	// Served tells whether the object is part of the new snapshot.
	Served bool `json:"served"`
	// Problems say why the object is left out (empty when Served).
	Problems []snapshot.Problem `json:"problems,omitempty"`
	// Source is where a GitOps controller applied the object from, read
	// from its labels and annotations (nil: none recognised).
	Source *Source `json:"source,omitempty"`
}

// Key identifies one change of one object across records and replicas:
// the admission record of a change and every compile record it caused
// have the same key. A deletion's key has no generation or spec hash.
type Key struct {
	Tenant, Kind, Name, UID string
	Generation              int64
	SpecHash                string
}

// KeyOf returns the key of o's change in tenant.
func KeyOf(tenant string, o Object) Key {
	if o.Change == ChangeDeleted {
		return Key{Tenant: tenant, Kind: o.Kind, Name: o.Name, UID: o.UID}
	}
	return Key{Tenant: tenant, Kind: o.Kind, Name: o.Name, UID: o.UID, Generation: o.Generation, SpecHash: o.SpecHash}
}

// SpecHash returns a short hash of obj's spec. The webhook and the
// compilers hash the same typed spec, so they agree on it; with the UID and
// generation it tells apart two admitted requests for the same generation
// of which only one was stored.
func SpecHash(obj v1alpha1.AccessObject) string {
	raw, err := json.Marshal(obj.AccessSpec())
	if err != nil {
		return ""
	}
	sum := sha256.Sum256(raw)
	return hex.EncodeToString(sum[:8])
}

// Source says where a GitOps controller applied an object from.
type Source struct {
	// Tool is the GitOps controller: "argocd" or "flux".
	Tool string `json:"tool"`
	// Application is the Argo CD Application ("namespace/name" when it is
	// not in Argo CD's own namespace) or Flux Kustomization (namespace/name).
	Application string `json:"application,omitempty"`
	// TrackingID is Argo CD's argocd.argoproj.io/tracking-id annotation.
	TrackingID string `json:"trackingId,omitempty"`
	// RepoURL, Path and Revision locate the commit the object was synced
	// from, read from the Application when the webhook may read it.
	RepoURL  string `json:"repoURL,omitempty"`
	Path     string `json:"path,omitempty"`
	Revision string `json:"revision,omitempty"`
	// InitiatedBy is who started the sync: an Argo CD user, or "automated".
	InitiatedBy string `json:"initiatedBy,omitempty"`
}

// User is the Kubernetes user of an admission request.
type User struct {
	Name   string   `json:"name"`
	UID    string   `json:"uid,omitempty"`
	Groups []string `json:"groups,omitempty"`
	// ServiceAccount is "namespace/name" when the user is a ServiceAccount.
	ServiceAccount string `json:"serviceAccount,omitempty"`
}

// Verdicts of an admission.
const (
	VerdictAdmitted = "admitted"
	VerdictDenied   = "denied"
)

// Admission is the webhook's review of one change (EventAdmission).
type Admission struct {
	// RequestUID is the AdmissionReview request's UID (as in the API
	// server's own audit log, which it joins).
	RequestUID string `json:"requestUID"`
	// Operation is CREATE, UPDATE or DELETE.
	Operation string `json:"operation"`
	User      User   `json:"user"`
	// Verdict is admitted or denied.
	Verdict string `json:"verdict"`
	// Reason is the denial's message (escalation, validation or quota).
	Reason string `json:"reason,omitempty"`
	// Warnings are the warnings returned with the verdict.
	Warnings []string `json:"warnings,omitempty"`
	// DryRun: the change was only tried (kubectl --dry-run=server) and is
	// never stored.
	DryRun bool `json:"dryRun,omitempty"`
}

// Decision is one sampled authorization decision (EventDecision). It never
// holds tokens, property values or context values.
type Decision struct {
	// Endpoint is the API that answered (evaluation, fields, plan…).
	Endpoint string `json:"endpoint,omitempty"`
	// Caller is the authenticated application that asked.
	Caller       string `json:"caller"`
	Subject      string `json:"subject"`
	Action       string `json:"action"`
	ResourceType string `json:"resourceType"`
	ResourceID   string `json:"resourceId,omitempty"`
	Allowed      bool   `json:"allowed"`
	Reason       string `json:"reason,omitempty"`
	// Role and Group granted an allow.
	Role  string `json:"role,omitempty"`
	Group string `json:"group,omitempty"`
	// Revision is the snapshot revision that decided.
	Revision string `json:"revision,omitempty"`
	// LatencyMicros is the time from reading the request to deciding.
	LatencyMicros int64  `json:"latencyMicros"`
	RequestID     string `json:"requestId,omitempty"`
}

// Record is one audit line.
type Record struct {
	// Type is always RecordType.
	Type string `json:"type"`
	// Time is when the new snapshot was compiled (or the tenant dropped, the
	// change reviewed, the decision made).
	Time time.Time `json:"time"`
	// Replica names the process that wrote the record; every replica of an
	// HA deployment compiles, serves and audits on its own.
	Replica string `json:"replica,omitempty"`
	// Tenant is the tenant namespace.
	Tenant string `json:"tenant"`
	// Event is compiled, loaded, dropped, admission or decision.
	Event string `json:"event"`
	// FromRevision is the revision served before ("" for a new tenant).
	FromRevision string `json:"fromRevision,omitempty"`
	// ToRevision is the revision served now ("" when dropped).
	ToRevision string `json:"toRevision,omitempty"`
	// Objects are the objects whose change caused the new revision (for an
	// admission, the object reviewed).
	Objects []Object `json:"objects,omitempty"`
	// Diff is who gained or lost what; nil when it cannot be computed
	// (EventLoaded).
	Diff *snapshot.Changes `json:"diff,omitempty"`
	// Admission is set on admission records.
	Admission *Admission `json:"admission,omitempty"`
	// Decision is set on decision records.
	Decision *Decision `json:"decision,omitempty"`
}

// ID is a stable identifier of the record (the CloudEvent id): the same
// record sent twice has the same ID, so a receiver can drop duplicates.
func (r *Record) ID() string {
	line, _ := json.Marshal(r)
	return idOf(line)
}

// idOf is the ID of a record encoded as line (Encode's output), so that a
// sink that has encoded a record does not encode it again for its ID.
func idOf(line []byte) string {
	sum := sha256.Sum256(line)
	return hex.EncodeToString(sum[:16])
}
