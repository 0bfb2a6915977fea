// Package controllers holds Gatehouse's reconcilers. They stay thin: fetch the
// tenant's access objects, hand them to the pure compiler in
// internal/snapshot, and write status.
package controllers

// The manager's RBAC, generated into config/rbac/role.yaml by controller-gen.
//
// +kubebuilder:rbac:groups=access.gatehouse.dev,resources=accessroles;usergroups;fieldpolicies;approvalchains;permissionsnapshots,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=access.gatehouse.dev,resources=accessroles/status;usergroups/status;fieldpolicies/status;approvalchains/status;permissionsnapshots/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch
// +kubebuilder:rbac:groups=events.k8s.io,resources=events,verbs=create;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups=admissionregistration.k8s.io,resources=validatingwebhookconfigurations,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=authentication.k8s.io,resources=tokenreviews,verbs=create
// +kubebuilder:rbac:groups=authorization.k8s.io,resources=subjectaccessreviews,verbs=create
