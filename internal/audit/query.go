package audit

import (
	"cmp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Filter narrows a query. Zero fields match everything.
type Filter struct {
	// Tenant is the tenant namespace.
	Tenant string
	// User is the name of the Kubernetes user who asked for a change (a
	// change of unknown author never matches).
	User string
	// Since and Until bound the time of a change (its admission, else when
	// it was first served) or of a grant (when it was first served):
	// Since <= t < Until.
	Since, Until time.Time
	// Subject, Action and Resource select grants: a permission, full
	// access, field access or approver role the subject gained. "*" in a
	// grant matches any action or resource; the action of a field change
	// is the level gained (read or write), of an approval "approve".
	Subject, Action, Resource string
}

func (f Filter) inRange(t time.Time) bool {
	return (f.Since.IsZero() || !t.Before(f.Since)) && (f.Until.IsZero() || t.Before(f.Until))
}

// Served is one served snapshot (compiled, loaded or dropped), merged over
// the replicas that wrote a record of it.
type Served struct {
	Tenant string `json:"tenant"`
	// Event is compiled, loaded or dropped.
	Event string `json:"event"`
	// FromRevisions are the revisions served before, as each replica saw
	// them (they differ when a replica coalesced changes).
	FromRevisions []string `json:"fromRevisions,omitempty"`
	ToRevision    string   `json:"toRevision,omitempty"`
	// Time is when a replica first served it.
	Time time.Time `json:"time"`
	// Replicas that wrote a record of it, sorted.
	Replicas []string `json:"replicas"`
	// Objects are the objects of the first record.
	Objects []Object `json:"objects,omitempty"`
	// Diff is the first record's diff (nil for loaded).
	Diff *snapshot.Changes `json:"diff,omitempty"`

	keys []Key
}

// Change is one change of one access object: the admission that let it
// in, when known, and the snapshots that served it.
type Change struct {
	// Key identifies the change (tenant, kind, name, UID, generation, spec
	// hash).
	Key Key `json:"key"`
	// Object is the object as the admission (else the first served
	// record) described it.
	Object Object `json:"object"`
	// Time is the admission's time, else when the change was first served.
	Time time.Time `json:"time"`
	// Admission is the webhook's review; nil when the trail has none
	// (before the webhook wrote one, or on a sink not read).
	Admission *Admission `json:"admission,omitempty"`
	// AdmissionReplica is the replica whose webhook reviewed the change.
	AdmissionReplica string `json:"admissionReplica,omitempty"`
	// Source is where a GitOps tool applied the object from (from the
	// admission, else from a served record).
	Source *Source `json:"source,omitempty"`
	// Served are the snapshots that served the change, oldest first.
	Served []*Served `json:"served,omitempty"`
}

// Author describes who made a change: the admission's user, else the GitOps
// source, else "unknown".
func (c *Change) Author() string {
	switch {
	case c.Admission != nil && c.Admission.User.Name != "":
		return c.Admission.User.Name
	case c.Source != nil:
		return c.Source.Tool
	}
	return "unknown"
}

// Grant is one thing subjects gained in a served snapshot, with the object
// changes that caused it. Exactly one of Permission, Field and Approval is
// set.
type Grant struct {
	Tenant string    `json:"tenant"`
	Time   time.Time `json:"time"`
	// Permission is a gained grant (kind permission or fullAccess).
	Permission *snapshot.PermissionChange `json:"permission,omitempty"`
	// Field is a field whose access widened.
	Field *snapshot.FieldChange `json:"field,omitempty"`
	// Approval is a gained approver role.
	Approval *snapshot.ApprovalChange `json:"approval,omitempty"`
	// Served is the snapshot that first served it.
	Served *Served `json:"served"`
	// Changes are the object changes of that snapshot (created, updated or
	// deleted objects), with their authors when known.
	Changes []*Change `json:"changes"`
}

// Subjects are the subjects that gained the grant.
func (g *Grant) Subjects() []string {
	switch {
	case g.Permission != nil:
		return g.Permission.Subjects
	case g.Field != nil:
		return g.Field.Subjects
	case g.Approval != nil:
		return g.Approval.Subjects
	}
	return nil
}

// AdmissionEntry is one admission record.
type AdmissionEntry struct {
	Time    time.Time `json:"time"`
	Tenant  string    `json:"tenant"`
	Replica string    `json:"replica,omitempty"`
	Object  Object    `json:"object"`
	Admission
	// Reviews counts the webhook calls of this one API request (its
	// request UID) when the API server made more than one: it calls the
	// webhook again when an update ran on stale cached state, or when a
	// call failed in transit. The last review is the one that decided.
	Reviews int `json:"reviews,omitempty"`
	// Served are the snapshots that served an admitted change.
	Served []*Served `json:"served,omitempty"`
}

// Index joins the records of one or more trails. It is read-only once
// built and safe for concurrent queries.
type Index struct {
	admissions []AdmissionEntry // by time, dry runs left out
	served     []*Served        // by time
	changes    []*Change        // by time
	// servedChanges are the changes each served snapshot served.
	servedChanges map[*Served][]*Change
}

// isChange reports whether an object change makes a new generation (or a
// deletion) rather than following from others.
func isChange(change string) bool {
	return change == ChangeCreated || change == ChangeUpdated || change == ChangeDeleted
}

// NewIndex joins records (of any replicas, in any order). Admission
// records of dry runs are left out; decision records are ignored.
func NewIndex(records []Record) *Index {
	recs := slices.Clone(records)
	slices.SortStableFunc(recs, func(a, b Record) int { return a.Time.Compare(b.Time) })
	ix := &Index{servedChanges: map[*Served][]*Change{}}
	byKey := map[Key]*Change{}
	type servedKey struct {
		tenant, event, to string
		keys              string
	}
	servedBy := map[servedKey]*Served{}
	type request struct{ tenant, uid string }
	byRequest := map[request]int{} // an API request → its entry in ix.admissions
	for i := range recs {
		r := &recs[i]
		switch r.Event {
		case EventAdmission:
			if r.Admission == nil || r.Admission.DryRun || len(r.Objects) == 0 {
				continue
			}
			o := r.Objects[0]
			entry := AdmissionEntry{Time: r.Time, Tenant: r.Tenant, Replica: r.Replica, Object: o, Admission: *r.Admission}
			req := request{r.Tenant, r.Admission.RequestUID}
			if j, again := byRequest[req]; again && req.uid != "" {
				entry.Time = ix.admissions[j].Time // when the request came
				entry.Reviews = max(ix.admissions[j].Reviews, 1) + 1
				ix.admissions[j] = entry
			} else {
				byRequest[req] = len(ix.admissions)
				ix.admissions = append(ix.admissions, entry)
			}
			if r.Admission.Verdict != VerdictAdmitted {
				continue
			}
			k := KeyOf(r.Tenant, o)
			c := byKey[k]
			switch {
			case c == nil:
				c = &Change{Key: k}
				byKey[k] = c
				ix.changes = append(ix.changes, c)
			case c.Admission != nil:
				continue // the first admission of the change stands
			}
			// (An existing change without admission was served first: the
			// clocks of the replicas differ.)
			c.Object, c.Time, c.Admission, c.AdmissionReplica = o, r.Time, r.Admission, r.Replica
			if o.Source != nil {
				c.Source = o.Source
			}
		case EventCompiled, EventLoaded, EventDropped:
			var keys []Key
			for _, o := range r.Objects {
				if isChange(o.Change) {
					keys = append(keys, KeyOf(r.Tenant, o))
				}
			}
			sk := servedKey{tenant: r.Tenant, event: r.Event, to: r.ToRevision, keys: keysString(keys)}
			s := servedBy[sk]
			if s == nil {
				s = &Served{Tenant: r.Tenant, Event: r.Event, ToRevision: r.ToRevision, Time: r.Time, Objects: r.Objects, Diff: r.Diff, keys: keys}
				servedBy[sk] = s
				ix.served = append(ix.served, s)
				changed := objectsChanged(r.Objects)
				for j, k := range keys {
					c := byKey[k]
					if c == nil {
						o := changed[j]
						c = &Change{Key: k, Object: o, Time: r.Time, Source: o.Source}
						byKey[k] = c
						ix.changes = append(ix.changes, c)
					}
					if c.Source == nil {
						c.Source = changed[j].Source
					}
					c.Served = append(c.Served, s)
					ix.servedChanges[s] = append(ix.servedChanges[s], c)
				}
			}
			if !slices.Contains(s.FromRevisions, r.FromRevision) && r.FromRevision != "" {
				s.FromRevisions = append(s.FromRevisions, r.FromRevision)
			}
			if !slices.Contains(s.Replicas, r.Replica) {
				s.Replicas = append(s.Replicas, r.Replica)
				slices.Sort(s.Replicas)
			}
		}
	}
	// A change admitted after its first served record (clock skew between
	// replicas) still sorts by its admission time.
	slices.SortStableFunc(ix.changes, func(a, b *Change) int { return a.Time.Compare(b.Time) })
	for i := range ix.admissions {
		a := &ix.admissions[i]
		if a.Verdict == VerdictAdmitted {
			if c := byKey[KeyOf(a.Tenant, a.Object)]; c != nil {
				a.Served = c.Served
			}
		}
	}
	return ix
}

func objectsChanged(objs []Object) []Object {
	var out []Object
	for _, o := range objs {
		if isChange(o.Change) {
			out = append(out, o)
		}
	}
	return out
}

// keysString is a canonical form of a set of keys.
func keysString(keys []Key) string {
	parts := make([]string, len(keys))
	for i, k := range keys {
		parts[i] = strings.Join([]string{k.Tenant, k.Kind, k.Name, k.UID, strconv.FormatInt(k.Generation, 10), k.SpecHash}, "\x00")
	}
	slices.Sort(parts)
	return strings.Join(parts, "\x01")
}

// Changes returns the object changes matching f, oldest first. Subject,
// Action and Resource keep changes whose served snapshots gained a
// matching grant.
func (ix *Index) Changes(f Filter) []*Change {
	var out []*Change
	for _, c := range ix.changes {
		if f.Tenant != "" && c.Key.Tenant != f.Tenant || !f.inRange(c.Time) {
			continue
		}
		if f.User != "" && (c.Admission == nil || c.Admission.User.Name != f.User) {
			continue
		}
		if grantFilter(f) && !slices.ContainsFunc(c.Served, func(s *Served) bool { return len(grantsOf(s, f)) > 0 }) {
			continue
		}
		out = append(out, c)
	}
	return out
}

// WhoGranted returns the grants matching f (Subject, Action, Resource,
// Tenant, time range) with the object changes that caused them, oldest
// first. With User, only grants one of whose changes that user made.
func (ix *Index) WhoGranted(f Filter) []*Grant {
	var out []*Grant
	for _, s := range ix.served {
		if f.Tenant != "" && s.Tenant != f.Tenant || !f.inRange(s.Time) {
			continue
		}
		gs := grantsOf(s, f)
		if len(gs) == 0 {
			continue
		}
		changes := ix.changesOf(s)
		if f.User != "" && !slices.ContainsFunc(changes, func(c *Change) bool {
			return c.Admission != nil && c.Admission.User.Name == f.User
		}) {
			continue
		}
		for _, g := range gs {
			g.Changes = changes
			out = append(out, g)
		}
	}
	return out
}

// changesOf returns the changes a served snapshot served.
func (ix *Index) changesOf(s *Served) []*Change {
	out := slices.Clone(ix.servedChanges[s])
	if out == nil {
		out = []*Change{}
	}
	slices.SortStableFunc(out, func(a, b *Change) int {
		return cmp.Or(cmp.Compare(a.Key.Kind, b.Key.Kind), cmp.Compare(a.Key.Name, b.Key.Name))
	})
	return out
}

// Admissions returns the admission records matching f (Tenant, User, time
// range), admitted and denied, oldest first. Dry runs are never listed.
func (ix *Index) Admissions(f Filter) []AdmissionEntry {
	var out []AdmissionEntry
	for _, a := range ix.admissions {
		if f.Tenant != "" && a.Tenant != f.Tenant || !f.inRange(a.Time) {
			continue
		}
		if f.User != "" && a.User.Name != f.User {
			continue
		}
		out = append(out, a)
	}
	return out
}

// Denied returns the denied admissions matching f, oldest first.
func (ix *Index) Denied(f Filter) []AdmissionEntry {
	var out []AdmissionEntry
	for _, a := range ix.Admissions(f) {
		if a.Verdict == VerdictDenied {
			out = append(out, a)
		}
	}
	return out
}

func grantFilter(f Filter) bool {
	return f.Subject != "" || f.Action != "" || f.Resource != ""
}

// matchName matches a filter value against a name of a grant ("*" matches
// everything).
func matchName(want, have string) bool {
	return want == "" || have == want || have == "*"
}

func hasSubject(f Filter, subjects []string) bool {
	return f.Subject == "" || slices.Contains(subjects, f.Subject)
}

// grantsOf returns what s's diff gained that matches f.
func grantsOf(s *Served, f Filter) []*Grant {
	if s.Diff == nil {
		return nil
	}
	var out []*Grant
	newGrant := func() *Grant { return &Grant{Tenant: s.Tenant, Time: s.Time, Served: s} }
	for i := range s.Diff.Permissions {
		p := &s.Diff.Permissions[i]
		if p.Change != snapshot.Gained || (p.Kind != "permission" && p.Kind != "fullAccess") {
			continue
		}
		if matchName(f.Action, p.Action) && matchName(f.Resource, p.Resource) && hasSubject(f, p.Subjects) {
			g := newGrant()
			g.Permission = p
			out = append(out, g)
		}
	}
	for i := range s.Diff.Fields {
		fc := &s.Diff.Fields[i]
		if accessRank(fc.To) <= accessRank(fc.From) {
			continue
		}
		if matchField(f.Action, fc) && matchName(f.Resource, fc.Resource) && hasSubject(f, fc.Subjects) {
			g := newGrant()
			g.Field = fc
			out = append(out, g)
		}
	}
	for i := range s.Diff.Approvals {
		a := &s.Diff.Approvals[i]
		if a.Change != snapshot.Gained {
			continue
		}
		if (f.Action == "" || f.Action == "approve") && matchName(f.Resource, a.Resource) && hasSubject(f, a.Subjects) {
			g := newGrant()
			g.Approval = a
			out = append(out, g)
		}
	}
	return out
}

// matchField matches an action filter against a widened field access: the
// level gained, or read for a gained write.
func matchField(action string, fc *snapshot.FieldChange) bool {
	switch action {
	case "":
		return true
	case "read":
		return accessRank(fc.To) >= 1 && accessRank(fc.From) < 1
	case "write":
		return accessRank(fc.To) >= 2
	}
	return false
}

func accessRank[T ~string](a T) int {
	switch string(a) {
	case "read":
		return 1
	case "write":
		return 2
	}
	return 0
}
