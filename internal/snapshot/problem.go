package snapshot

import (
	"cmp"
	"slices"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// Object kinds as they appear in Problems.
const (
	KindRole          = v1alpha1.KindRole
	KindUserGroup     = v1alpha1.KindUserGroup
	KindFieldPolicy   = v1alpha1.KindFieldPolicy
	KindApprovalChain = v1alpha1.KindApprovalChain
	// KindTenant names the whole tenant (the namespace), for a problem that
	// is no single object's: the tenant was not compiled.
	KindTenant = "Tenant"
)

// Problem is why an object was left out of a snapshot (or, from the Check*
// helpers, why an admission webhook should reject it).
type Problem struct {
	// Kind of the object: Role, UserGroup, FieldPolicy or ApprovalChain.
	Kind string `json:"kind"`
	// Name of the object.
	Name string `json:"name"`
	// Field is the offending field path, e.g. spec.permissions[2].when.
	Field string `json:"field,omitempty"`
	// Reason is one of the v1alpha1 Reason* constants.
	Reason string `json:"reason"`
	// Message explains the problem to a tenant admin.
	Message string `json:"message"`
}

// String renders the problem on one line, e.g. for logs and events.
func (p Problem) String() string {
	s := p.Kind + " " + p.Name
	if p.Field != "" {
		s += " " + p.Field
	}
	return s + ": " + p.Reason + ": " + p.Message
}

// Error lets a Problem be returned where an error is expected.
func (p Problem) Error() string { return p.String() }

// LeftOut converts the problem to the PermissionSnapshot status form.
func (p Problem) LeftOut() v1alpha1.LeftOutObject {
	return v1alpha1.LeftOutObject{Kind: p.Kind, Name: p.Name, Field: p.Field, Reason: p.Reason, Message: p.Message}
}

// sortProblems orders problems by kind, name, field (then reason and message
// so that the order is total and the output deterministic) and drops exact
// duplicates.
func sortProblems(ps []Problem) []Problem {
	slices.SortFunc(ps, func(a, b Problem) int {
		return cmp.Or(cmp.Compare(a.Kind, b.Kind), cmp.Compare(a.Name, b.Name), cmp.Compare(a.Field, b.Field),
			cmp.Compare(a.Reason, b.Reason), cmp.Compare(a.Message, b.Message))
	})
	// Identical problems (e.g. the same dangling name listed twice) are reported once.
	return slices.Compact(ps)
}
