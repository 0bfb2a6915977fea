// Package webhook holds Gatehouse's validating admission webhook for the
// access kinds. It stays thin: decode the object, ask the pure compiler in
// internal/snapshot for problems, and answer.
package webhook

// ValidatePath is where the API server sends admission reviews for the access
// kinds.
const ValidatePath = "/validate-access-gatehouse-dev-v1alpha1"

// +kubebuilder:webhook:path=/validate-access-gatehouse-dev-v1alpha1,mutating=false,failurePolicy=fail,sideEffects=NoneOnDryRun,groups=access.gatehouse.dev,resources=accessroles;usergroups;fieldpolicies;approvalchains,verbs=create;update;delete,versions=v1alpha1,name=vaccess.gatehouse.dev,admissionReviewVersions=v1,timeoutSeconds=5

// The webhook reads the Argo CD Application that applied a change, for the
// audit trail's provenance (the revision being synced and who started it).
// +kubebuilder:rbac:groups=argoproj.io,resources=applications,verbs=get
