// Package controllers holds Gatehouse's reconcilers. They stay thin: fetch the
// tenant's access objects, hand them to the pure compiler in
// internal/snapshot, and write status.
//
// One namespace is one tenant, and every request is keyed by namespace. The
// "tenant" controller runs on every replica: a change to a Role, UserGroup,
// FieldPolicy or ApprovalChain enqueues its namespace after a short debounce;
// the reconcile lists the tenant from the cache, compiles it, and, when the
// revision is new, writes an audit record (internal/audit), swaps the
// snapshot into the shared store (internal/store) and, on the leader, records
// an Event on every changed object. The "tenant-status" controller runs on
// the leader once the replica is ready and writes each object's Ready
// condition, observedGeneration and revision, and the tenant's
// PermissionSnapshot, patching only what differs. /readyz stays false until
// every tenant present at start is served (ReadinessTracker). No finalizers
// are used: deleting a namespace never waits for Gatehouse.
//
// Sharded (Options.Shard, shard.go), a manager handles only the namespaces
// its shard serves (the access.gatehouse.dev/shard label, Shard.Serves): it
// also watches Namespaces, drops a tenant that leaves the shard, waits only
// for its own tenants to be ready, and writes status only for them.
//
// SetupWithManager wires it all into a manager around a *store.Store that
// the webhook and the authorization endpoint of the same manager share.
package controllers

// The manager's RBAC, generated into config/rbac/role.yaml by controller-gen.
//
// +kubebuilder:rbac:groups=access.gatehouse.dev,resources=accessroles;usergroups;fieldpolicies;approvalchains;permissionsnapshots,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=access.gatehouse.dev,resources=accessroles/status;usergroups/status;fieldpolicies/status;approvalchains/status;permissionsnapshots/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",namespace=system,resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
