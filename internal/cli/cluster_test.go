package cli

import (
	"context"
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/fake"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/manifest"
)

// fakeCluster serves the samples (in their namespace) from a fake dynamic
// client, with the technicians' group edited as given.
func fakeCluster(t *testing.T, edit func(*unstructured.Unstructured)) {
	t.Helper()
	set, err := manifest.Read([]string{samples}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lists := map[schema.GroupVersionResource]string{}
	plural := map[string]string{}
	for _, r := range accessResources {
		lists[v1alpha1.GroupVersion.WithResource(r.resource)] = r.kind + "List"
		plural[r.kind] = r.resource
	}
	// Objects are created through the client so that they are stored under
	// the CRDs' plurals (accessroles), not the fake's guess from the kind.
	client := fake.NewSimpleDynamicClientWithCustomListKinds(runtime.NewScheme(), lists)
	for _, o := range set.Objects {
		var typed any
		switch {
		case o.Role != nil:
			typed = o.Role
		case o.UserGroup != nil:
			typed = o.UserGroup
		case o.FieldPolicy != nil:
			typed = o.FieldPolicy
		default:
			typed = o.ApprovalChain
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(typed)
		if err != nil {
			t.Fatal(err)
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetAPIVersion(v1alpha1.GroupVersion.String())
		u.SetKind(o.Kind)
		u.SetNamespace(o.Tenant)
		if edit != nil {
			edit(u)
		}
		gvr := v1alpha1.GroupVersion.WithResource(plural[o.Kind])
		if _, err := client.Resource(gvr).Namespace(o.Tenant).Create(context.Background(), u, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	old := newDynamicClient
	newDynamicClient = func(clusterFlags) (dynamic.Interface, error) { return client, nil }
	t.Cleanup(func() { newDynamicClient = old })
}

func TestFromCluster(t *testing.T) {
	fakeCluster(t, nil)
	var who whoCanOutput
	decode(t, &who, 0, "who-can", "--from-cluster", "--tenant", "acme-field-services", "approve", "purchaseorders", "--prop", "unit=/ca/ab/calgary")
	var got []string
	for _, g := range who.Subjects {
		got = append(got, g.Subject)
	}
	if strings.Join(got, " ") != "dana.director sam.supervisor" {
		t.Errorf("who-can from the cluster: %v", got)
	}
	var m matrixOutput
	decode(t, &m, 0, "matrix", "--from-cluster")
	if m.Tenant != "acme-field-services" || len(m.Roles) != 9 {
		t.Errorf("matrix from the cluster: %s %v", m.Tenant, m.Roles)
	}
	_, stderr, code := run(t, "", "matrix", "--from-cluster", "-f", samples)
	if code != 2 || !strings.Contains(stderr, "either -f or --from-cluster") {
		t.Errorf("both sources: %d %s", code, stderr)
	}

	// The live state equals the files: no changes.
	stdout, stderr, code := run(t, "", "diff", "cluster:acme-field-services", samples)
	if code != 0 || stdout != "no access changes\n" {
		t.Errorf("diff cluster vs files: %d %s%s", code, stdout, stderr)
	}
}

func TestDiffClusterChanged(t *testing.T) {
	// On the cluster tina.tech is not (yet) in calgary-crew.
	fakeCluster(t, func(u *unstructured.Unstructured) {
		if u.GetKind() == "UserGroup" && u.GetName() == "calgary-crew" {
			_ = unstructured.SetNestedStringSlice(u.Object, []string{"tom.tech"}, "spec", "members")
		}
	})
	stdout, stderr, code := run(t, "", "diff", "cluster:acme-field-services", samples)
	if code != 0 || !strings.Contains(stdout, "+ gained edit workorders (scope unitTree): tina.tech (via calgary-crew)") {
		t.Errorf("diff cluster vs files: %d\n%s%s", code, stdout, stderr)
	}
}
