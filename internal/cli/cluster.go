package cli

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	v1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/manifest"
)

// clusterPrefix marks a diff side read from the cluster: cluster:NAMESPACE.
const clusterPrefix = "cluster:"

// accessResources are the resources of the four access kinds.
var accessResources = []struct {
	resource, kind string
}{
	{"accessroles", "Role"},
	{"usergroups", "UserGroup"},
	{"fieldpolicies", "FieldPolicy"},
	{"approvalchains", "ApprovalChain"},
}

// clusterFlags select a cluster (kubeconfig and context, as kubectl does).
type clusterFlags struct {
	kubeconfig string
	context    string
}

func (c *clusterFlags) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&c.kubeconfig, "kubeconfig", "", "kubeconfig file for cluster reads (default: $KUBECONFIG, ~/.kube/config)")
	cmd.Flags().StringVar(&c.context, "context", "", "kubeconfig context for cluster reads")
}

// newDynamicClient builds the client for cluster reads; a variable so tests
// can use a fake.
var newDynamicClient = func(c clusterFlags) (dynamic.Interface, error) {
	rules := clientcmd.NewDefaultClientConfigLoadingRules()
	if c.kubeconfig != "" {
		rules.ExplicitPath = c.kubeconfig
	}
	cfg, err := clientcmd.NewNonInteractiveDeferredLoadingClientConfig(rules, &clientcmd.ConfigOverrides{CurrentContext: c.context}).ClientConfig()
	if err != nil {
		return nil, err
	}
	cfg.UserAgent = "gatehouse-cli"
	return dynamic.NewForConfig(cfg)
}

// readCluster lists the access objects of namespace ("" for every
// namespace) from the cluster. Objects are named cluster:NAMESPACE/KIND/NAME
// in positions.
func readCluster(ctx context.Context, c clusterFlags, namespace string) (*manifest.Set, error) {
	client, err := newDynamicClient(c)
	if err != nil {
		return nil, usageError("cluster: %v", err)
	}
	set := &manifest.Set{}
	for _, r := range accessResources {
		gvr := schema.GroupVersionResource{Group: v1alpha1.GroupVersion.Group, Version: v1alpha1.GroupVersion.Version, Resource: r.resource}
		list, err := client.Resource(gvr).Namespace(namespace).List(ctx, v1.ListOptions{})
		if err != nil {
			return nil, usageError("cluster: listing %s: %v", r.resource, err)
		}
		for i := range list.Items {
			it := &list.Items[i]
			it.SetAPIVersion(v1alpha1.GroupVersion.String())
			it.SetKind(r.kind)
			it.SetManagedFields(nil)
			data, err := json.Marshal(it.Object)
			if err != nil {
				return nil, err
			}
			name := fmt.Sprintf("%s%s/%s/%s", clusterPrefix, it.GetNamespace(), r.kind, it.GetName())
			if err := set.Add(name, data, it.GetNamespace()); err != nil {
				return nil, usageError("%v (is this gatehouse older than the cluster's CRDs?)", err)
			}
		}
	}
	return set, nil
}

// clusterNamespace parses cluster:NAMESPACE.
func clusterNamespace(spec string) (string, bool) {
	return strings.CutPrefix(spec, clusterPrefix)
}
