// Package snapshot compiles one tenant's Roles, UserGroups, FieldPolicies and
// ApprovalChains into an immutable Snapshot and answers authorization
// questions from it: Check, Fields, Plan, WhoCan, Actions, ApprovalPlan and
// CanApprove.
//
// The package is pure Go: it imports the v1alpha1 API types and cel-go, never
// controller-runtime or client-go, so the operator, the decision server, the
// CLI and the admission webhook can all share it.
//
// Compile does the expensive work once (reference resolution, CEL
// compilation, interning, per-profile action bitsets) so that Check on the
// scope path is a few map lookups and bit tests with no allocation. The rules
// are described for tenant admins in docs/semantics.md.
package snapshot
