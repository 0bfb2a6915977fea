package helm_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestApply applies the rendered chart server-side to a control plane
// (kube-apiserver and etcd of bin/k8s, without Gatehouse's CRDs: the
// chart brings them): with default values (cert-manager mode; stand-in
// cert-manager CRDs with open schemas, as in test/installer), then
// upgraded in place to built-in rotation with sharding, limits and audit
// set. Every object must be accepted and stored as rendered.
func TestApply(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane")
	}
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	env.CRDDirectoryPaths, env.ErrorIfCRDPathMissing = nil, false
	env.CRDs = certManagerStandIns()
	second := []string{"certificates.mode=builtIn", "sharding.shard=a", "sharding.default=true",
		"tenantLimits.roles=50", "audit.http.url=https://audit.example/events", "audit.required=true", "metrics.secure=true"}
	if serviceMonitorAvailable(t) {
		env.CRDs = append(env.CRDs, standIn("monitoring.coreos.com", "ServiceMonitor", "servicemonitors"))
	}
	// The second step also turns every optional part of config/default on.
	_, sets := optionalParts(t)
	second = append(second, sets...)
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop the control plane: %v", err)
		}
	})
	cfg.WarningHandler = rest.NoWarnings{}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	t.Cleanup(cancel)
	dyn := dynamic.NewForConfigOrDie(cfg)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg)))

	for _, step := range []struct {
		name string
		set  []string
	}{
		{"defaults", nil},
		{"builtIn, sharded, audited", second},
	} {
		objs := template(t, step.set...)
		for _, o := range objs {
			stored := apply(ctx, t, dyn, mapper, o)
			if o.GetKind() == "CustomResourceDefinition" {
				waitEstablished(ctx, t, dyn, o.GetName())
			}
			if o.GetKind() == "Deployment" {
				want := managerArgs(t, []*unstructured.Unstructured{o})
				got := managerArgs(t, []*unstructured.Unstructured{stored})
				if !slices.Equal(got, want) {
					t.Errorf("%s: stored args %q, applied %q", step.name, got, want)
				}
			}
		}
		t.Logf("%s: %d objects applied server-side", step.name, len(objs))
	}
}

// apply server-side applies obj and returns what the API server stored.
func apply(ctx context.Context, t *testing.T, dyn dynamic.Interface, mapper meta.ResettableRESTMapper, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	out, err := testenv.Apply(ctx, dyn, mapper, obj, "gatehouse-helm-test")
	if err != nil {
		t.Fatal(err)
	}
	return out
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func waitEstablished(ctx context.Context, t *testing.T, dyn dynamic.Interface, name string) {
	t.Helper()
	for {
		crd, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err == nil {
			conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
			for _, c := range conds {
				if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
					return
				}
			}
			err = errors.New("not Established")
		}
		select {
		case <-ctx.Done():
			t.Fatalf("CRD %s: %v (%v)", name, err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// certManagerStandIns are CRDs for cert-manager.io/v1 Issuer and
// Certificate with open schemas (envtest has no cert-manager).
func certManagerStandIns() []*apiextensionsv1.CustomResourceDefinition {
	return []*apiextensionsv1.CustomResourceDefinition{
		standIn("cert-manager.io", "Issuer", "issuers"),
		standIn("cert-manager.io", "Certificate", "certificates"),
	}
}

// serviceMonitorAvailable reports whether config/ has a ServiceMonitor
// (the chart's values say so).
func serviceMonitorAvailable(t *testing.T) bool {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(repoRoot(t), "charts", "gatehouse", "values.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Metrics struct {
			Available bool `json:"serviceMonitorAvailable"`
		} `json:"metrics"`
	}
	if err := yaml.Unmarshal(data, &v); err != nil {
		t.Fatal(err)
	}
	return v.Metrics.Available
}

// standIn is a CRD for group/v1 kind with an open schema.
func standIn(group, kind, plural string) *apiextensionsv1.CustomResourceDefinition {
	open := true
	return &apiextensionsv1.CustomResourceDefinition{
		ObjectMeta: metav1.ObjectMeta{Name: plural + "." + group},
		Spec: apiextensionsv1.CustomResourceDefinitionSpec{
			Group: group,
			Names: apiextensionsv1.CustomResourceDefinitionNames{Kind: kind, ListKind: kind + "List", Plural: plural, Singular: strings.ToLower(kind)},
			Scope: apiextensionsv1.NamespaceScoped,
			Versions: []apiextensionsv1.CustomResourceDefinitionVersion{{
				Name: "v1", Served: true, Storage: true,
				Schema: &apiextensionsv1.CustomResourceValidation{OpenAPIV3Schema: &apiextensionsv1.JSONSchemaProps{
					Type: "object", XPreserveUnknownFields: &open,
				}},
			}},
		},
	}
}
