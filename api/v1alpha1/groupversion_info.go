// Package v1alpha1 contains the Gatehouse access API: Roles, UserGroups,
// FieldPolicies, ApprovalChains and the operator-written PermissionSnapshot.
// One namespace is one tenant.
//
// The package depends on apimachinery only, so the pure compiler and the CLI
// can use these types without pulling in controller-runtime or client-go.
//
// +kubebuilder:object:generate=true
// +groupName=access.gatehouse.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the API group and version of the Gatehouse access kinds.
	GroupVersion = schema.GroupVersion{Group: "access.gatehouse.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the Gatehouse kinds with a runtime.Scheme.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the Gatehouse kinds to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme

	knownTypes []runtime.Object
)

// register records kinds for addKnownTypes; each types file calls it from init.
func register(objects ...runtime.Object) { knownTypes = append(knownTypes, objects...) }

func addKnownTypes(s *runtime.Scheme) error {
	s.AddKnownTypes(GroupVersion, knownTypes...)
	metav1.AddToGroupVersion(s, GroupVersion)
	return nil
}
