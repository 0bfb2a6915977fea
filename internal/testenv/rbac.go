package testenv

import (
	"context"
	"fmt"
	"path/filepath"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// ManagerServiceAccount is the manager's ServiceAccount in config/rbac.
const ManagerServiceAccount = "controller-manager"

// kustomizeNamespace is the placeholder namespace config/rbac uses; the
// overlays replace it with the install namespace.
const kustomizeNamespace = "system"

// ManagerCredentials installs the manager's RBAC from config/rbac into
// namespace ns (as the overlays would) and returns a client configuration
// that authenticates as the manager's ServiceAccount. Suites run the manager
// with it so that a permission missing from the shipped RBAC fails a test
// instead of a production install.
func ManagerCredentials(ctx context.Context, env *envtest.Environment, admin client.Client, ns string) (*rest.Config, error) {
	root, err := RepoRoot()
	if err != nil {
		return nil, err
	}
	objs, err := Samples(filepath.Join(root, "config", "rbac"))
	if err != nil {
		return nil, err
	}
	for _, obj := range objs {
		if obj.GetNamespace() == kustomizeNamespace {
			obj.SetNamespace(ns)
		}
		if subjects, ok := obj.Object["subjects"].([]any); ok {
			for _, s := range subjects {
				if m, ok := s.(map[string]any); ok && m["namespace"] == kustomizeNamespace {
					m["namespace"] = ns
				}
			}
		}
		if err := admin.Create(ctx, obj); err != nil {
			return nil, fmt.Errorf("install %s %s: %w", obj.GetKind(), obj.GetName(), err)
		}
	}
	// RBAC matches ServiceAccount subjects by user name, so a client
	// certificate with the account's name stands in for its token.
	user, err := env.ControlPlane.AddUser(envtest.User{
		Name:   "system:serviceaccount:" + ns + ":" + ManagerServiceAccount,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}, nil)
	if err != nil {
		return nil, err
	}
	cfg := user.Config()
	// As ctrl.GetConfig sets it in cmd/manager: no client-side rate limit,
	// the API server's priority and fairness paces the manager.
	cfg.QPS = -1
	return cfg, nil
}
