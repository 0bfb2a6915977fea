// Package admission decides whether a change to a tenant's access objects is
// admitted: it rejects what the compiler would leave out for a local reason,
// cycles the change would close, approvers who could not approve, and grants
// beyond what the requesting user holds; it warns about dangling references
// and deletions that leave references behind. It is pure: the webhook fetches
// the tenant's objects and snapshot and hands them over.
package admission

import (
	"fmt"
	"reflect"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Operation is the admission operation.
type Operation string

// Operations the webhook is registered for.
const (
	Create Operation = "CREATE"
	Update Operation = "UPDATE"
	Delete Operation = "DELETE"
)

// User is the Kubernetes user making the change.
type User struct {
	// Name is the Kubernetes username; it is looked up as a subject ID in the
	// tenant's UserGroup members.
	Name string
	// Groups are the user's Kubernetes groups; they select UserGroups by
	// externalGroups.
	Groups []string
}

// Request is one admission question.
type Request struct {
	// Operation is CREATE, UPDATE or DELETE.
	Operation Operation
	// Object is the new object (*v1alpha1.Role, *UserGroup, *FieldPolicy or
	// *ApprovalChain); for DELETE the object being deleted.
	Object any
	// OldObject is the object before an UPDATE (nil otherwise).
	OldObject any
	// Namespace is the tenant's name, for messages (the snapshot's name
	// when empty: a shard not serving the tenant has no snapshot).
	Namespace string
	// Tenant holds the tenant's current objects (the object itself may be
	// among them in its old form; Review replaces it).
	Tenant snapshot.Objects
	// Snapshot is the tenant's served snapshot, used for escalation checks;
	// nil when the tenant has none yet.
	Snapshot *snapshot.Snapshot
	// User made the change.
	User User
	// Privileged users (cluster admins, holders of the Kubernetes RBAC verb
	// escalate on accessroles) skip the escalation check.
	Privileged bool
	// Limits are the tenant quotas; a change that would exceed one is
	// rejected (privileged users included: quotas protect the platform).
	// The zero value limits nothing.
	Limits snapshot.Limits
}

// Response is the admission answer.
type Response struct {
	// Denials are the reasons to reject; empty means admitted.
	Denials []string
	// Warnings are shown to the user (kubectl prints them) on admission.
	Warnings []string
}

// Allowed reports whether the change is admitted.
func (r Response) Allowed() bool { return len(r.Denials) == 0 }

// Message joins the denials into one admission message.
func (r Response) Message() string { return strings.Join(r.Denials, "; ") }

// Review decides one admission request.
func Review(req Request) Response {
	var resp Response
	kind, name := identify(req.Object)
	if kind == "" {
		resp.Denials = append(resp.Denials, fmt.Sprintf("unsupported object %T", req.Object))
		return resp
	}
	tenant := withObject(req.Tenant, req.Object, req.Operation == Delete)
	if req.Operation == Delete {
		resp.Warnings = append(resp.Warnings, referrerWarnings(kind, name, tenant)...)
		if !req.Privileged {
			// Judged against the tenant as it is: the user's holdings
			// include the restrictions being deleted.
			resp.Denials = append(resp.Denials, deletionDenials(req, current(req))...)
		}
		return resp
	}
	for _, p := range localProblems(req.Object) {
		resp.Denials = append(resp.Denials, describe(p))
	}
	if len(resp.Denials) > 0 {
		return resp // the object is broken on its own; the rest would only repeat it
	}
	resp.Denials = append(resp.Denials, quotaDenials(req, tenant)...)
	resp.Denials = append(resp.Denials, cycleDenials(req.Object, tenant)...)
	denials, warnings := approverChecks(req.Object, tenant)
	resp.Denials = append(resp.Denials, denials...)
	resp.Warnings = append(resp.Warnings, warnings...)
	resp.Warnings = append(resp.Warnings, danglingWarnings(req.Object, tenant)...)
	if !req.Privileged && len(resp.Denials) == 0 {
		resp.Denials = append(resp.Denials, escalationDenials(req, tenant, current(req))...)
	}
	return resp
}

// current returns the tenant as it is before the change: with the old
// object of an update, without the object of a create, with the object of a
// delete (whatever the caller's list held for it).
func current(req Request) snapshot.Objects {
	switch req.Operation {
	case Update:
		if kind, _ := identify(req.OldObject); kind != "" {
			return withObject(req.Tenant, req.OldObject, false)
		}
	case Create:
		return withObject(req.Tenant, req.Object, true)
	case Delete:
		return withObject(req.Tenant, req.Object, false)
	}
	return req.Tenant
}

// describe renders a problem as an admission message naming object, field
// and reason.
func describe(p snapshot.Problem) string {
	field := p.Field
	if field == "" {
		field = "spec"
	}
	return fmt.Sprintf("%s %q: %s: %s: %s", p.Kind, p.Name, field, p.Reason, p.Message)
}

// identify returns the kind and name of an access object ("" for anything
// else, a nil pointer included).
func identify(obj any) (kind, name string) {
	o, ok := obj.(v1alpha1.AccessObject)
	// Every access kind is a pointer; a nil one has no name to read.
	if !ok || reflect.ValueOf(o).IsNil() {
		return "", ""
	}
	return o.AccessKind(), o.GetName()
}

// withObject returns the tenant's objects with obj in place of its stored
// version (or removed, for a deletion). The input is not modified.
func withObject(t snapshot.Objects, obj any, remove bool) snapshot.Objects {
	return snapshot.Objects{
		Roles:          with(t.Roles, obj, remove),
		Groups:         with(t.Groups, obj, remove),
		FieldPolicies:  with(t.FieldPolicies, obj, remove),
		ApprovalChains: with(t.ApprovalChains, obj, remove),
	}
}

// with copies items without the one of the same type and name as obj, then
// adds obj unless remove. Items of another type than obj are only copied.
func with[T any, PT interface {
	*T
	v1alpha1.AccessObject
}](items []T, obj any, remove bool) []T {
	out := make([]T, 0, len(items)+1)
	o, same := obj.(PT)
	for i := range items {
		if same && PT(&items[i]).GetName() == o.GetName() {
			continue
		}
		out = append(out, items[i])
	}
	if same && !remove {
		out = append(out, *o)
	}
	return out
}

// localProblems are the problems the compiler would report for the object
// on its own, plus the admission-only consistency rules.
func localProblems(obj any) []snapshot.Problem {
	switch o := obj.(type) {
	case *v1alpha1.Role:
		return snapshot.CheckRole(o)
	case *v1alpha1.UserGroup:
		return snapshot.CheckUserGroup(o)
	case *v1alpha1.FieldPolicy:
		return append(snapshot.CheckFieldPolicy(o), contradictoryGrants(o)...)
	case *v1alpha1.ApprovalChain:
		return append(snapshot.CheckApprovalChain(o), unreachableQuorum(o)...)
	}
	return nil
}

// contradictoryGrants reports a role or group given write and hidden on the
// same field: one of the two grants is a mistake, and "most open wins" would
// silently pick write.
func contradictoryGrants(fp *v1alpha1.FieldPolicy) []snapshot.Problem {
	var out []snapshot.Problem
	for i, f := range fp.Spec.Fields {
		levels := map[string]map[v1alpha1.FieldAccess]int{}
		note := func(who string, access v1alpha1.FieldAccess, grant int) {
			if levels[who] == nil {
				levels[who] = map[v1alpha1.FieldAccess]int{}
			}
			if _, ok := levels[who][access]; !ok {
				levels[who][access] = grant
			}
		}
		for j, g := range f.Grants {
			for _, r := range g.Roles {
				note("role "+string(r), g.Access, j)
			}
			for _, gr := range g.Groups {
				note("group "+string(gr), g.Access, j)
			}
		}
		for _, who := range sortedKeys(levels) {
			w, writable := levels[who][v1alpha1.FieldWrite]
			h, hidden := levels[who][v1alpha1.FieldHidden]
			if writable && hidden {
				out = append(out, snapshot.Problem{Kind: snapshot.KindFieldPolicy, Name: fp.Name,
					Field: fmt.Sprintf("spec.fields[%d].grants[%d]", i, max(w, h)), Reason: v1alpha1.ReasonInvalidSpec,
					Message: fmt.Sprintf("%s is granted write (grants[%d]) and hidden (grants[%d]) on field %q", who, w, h, f.Name)})
			}
		}
	}
	return out
}

// unreachableQuorum reports a step that needs more approvals than it has
// possible approvers, when its approvers are only named users.
func unreachableQuorum(c *v1alpha1.ApprovalChain) []snapshot.Problem {
	var out []snapshot.Problem
	for i, st := range c.Spec.Steps {
		a := st.Approvers
		if st.Required == nil || len(a.Roles)+len(a.Groups) > 0 {
			continue
		}
		users := map[v1alpha1.SubjectID]bool{}
		for _, u := range a.Users {
			users[u] = true
		}
		if int(*st.Required) > len(users) {
			out = append(out, snapshot.Problem{Kind: snapshot.KindApprovalChain, Name: c.Name,
				Field: fmt.Sprintf("spec.steps[%d].required", i), Reason: v1alpha1.ReasonInvalidSpec,
				Message: fmt.Sprintf("step %q requires %d approvals but names only %d approver users", st.Name, *st.Required, len(users))})
		}
	}
	return out
}

func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// cycleDenials rejects an extends or memberGroups edge of obj that closes a
// cycle through obj.
func cycleDenials(obj any, t snapshot.Objects) []string {
	switch o := obj.(type) {
	case *v1alpha1.Role:
		edges := map[string][]v1alpha1.ObjectName{}
		for _, r := range t.Roles {
			edges[r.Name] = r.Spec.Extends
		}
		for i, e := range o.Spec.Extends {
			if path := pathTo(edges, string(e), o.Name); path != nil {
				return []string{fmt.Sprintf("Role %q: spec.extends[%d]: %s: extends forms a cycle: %s", o.Name, i,
					v1alpha1.ReasonCycle, strings.Join(append([]string{o.Name}, path...), " -> "))}
			}
		}
	case *v1alpha1.UserGroup:
		edges := map[string][]v1alpha1.ObjectName{}
		for _, g := range t.Groups {
			edges[g.Name] = g.Spec.MemberGroups
		}
		for i, e := range o.Spec.MemberGroups {
			if path := pathTo(edges, string(e), o.Name); path != nil {
				return []string{fmt.Sprintf("UserGroup %q: spec.memberGroups[%d]: %s: memberGroups forms a cycle: %s", o.Name, i,
					v1alpha1.ReasonCycle, strings.Join(append([]string{o.Name}, path...), " -> "))}
			}
		}
	}
	return nil
}

// pathTo returns the names on a path from `from` to `to` over edges, or nil.
func pathTo(edges map[string][]v1alpha1.ObjectName, from, to string) []string {
	seen := map[string]bool{}
	var walk func(n string) []string
	walk = func(n string) []string {
		if n == to {
			return []string{n}
		}
		if seen[n] {
			return nil
		}
		seen[n] = true
		for _, next := range edges[n] {
			if p := walk(string(next)); p != nil {
				return append([]string{n}, p...)
			}
		}
		return nil
	}
	return walk(from)
}

// approverChecks rejects approver roles that do not hold the chain's action
// on its resource (an approver must be able to approve); approver roles that
// do not exist yet only warn, like any dangling reference.
func approverChecks(obj any, t snapshot.Objects) (denials, warnings []string) {
	c, ok := obj.(*v1alpha1.ApprovalChain)
	if !ok {
		return nil, nil
	}
	roles := rolesByName(t)
	action := string(c.Spec.EffectiveAction())
	for i, st := range c.Spec.Steps {
		for k, r := range st.Approvers.Roles {
			if _, exists := roles[string(r)]; !exists {
				continue // reported by danglingWarnings
			}
			if !roleHolds(roles, string(r), string(c.Spec.Resource), action) {
				denials = append(denials, fmt.Sprintf("ApprovalChain %q: spec.steps[%d].approvers.roles[%d]: %s: role %q does not hold %q on %q, so its holders could never approve",
					c.Name, i, k, v1alpha1.ReasonInvalidReference, r, action, c.Spec.Resource))
			}
		}
	}
	return denials, warnings
}

func rolesByName(t snapshot.Objects) map[string]*v1alpha1.Role {
	m := make(map[string]*v1alpha1.Role, len(t.Roles))
	for i := range t.Roles {
		m[t.Roles[i].Name] = &t.Roles[i]
	}
	return m
}

// roleHolds reports whether the role (with what it extends) grants action on
// resource for some records.
func roleHolds(roles map[string]*v1alpha1.Role, name, resource, action string) bool {
	held := false
	snapshot.ExtendsClosure(name, func(n string) *v1alpha1.Role { return roles[n] }, func(r *v1alpha1.Role) {
		held = held || r.Spec.FullAccess || slices.ContainsFunc(r.Spec.Permissions, func(p v1alpha1.Permission) bool {
			return (slices.Contains(p.Resources, "*") || slices.Contains(p.Resources, v1alpha1.ModuleName(resource))) &&
				(slices.Contains(p.Actions, "*") || slices.Contains(p.Actions, v1alpha1.ActionName(action)))
		})
	})
	return held
}
