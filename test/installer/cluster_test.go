package installer_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/restmapper"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/webhook"
)

// Applying, checking and sweeping objects on the control plane.

// apply server-side applies obj and returns what the API server stored.
func apply(ctx context.Context, t *testing.T, dyn dynamic.Interface, mapper meta.ResettableRESTMapper, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	out, err := testenv.Apply(ctx, dyn, mapper, obj, fieldManager)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// ready reports whether obj has condition Ready=True.
func ready(obj *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		if m, ok := c.(map[string]any); ok && m["type"] == "Ready" && m["status"] == "True" {
			return true
		}
	}
	return false
}

// getLive returns the API server's copy of obj.
func getLive(ctx context.Context, t *testing.T, dyn dynamic.Interface, mapper meta.RESTMapper, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		t.Fatalf("%s: %v", gvk, err)
	}
	got, err := dyn.Resource(m.Resource).Namespace(obj.GetNamespace()).Get(ctx, obj.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatalf("get %s %s: %v", gvk.Kind, obj.GetName(), err)
	}
	return got
}

var crdGVR = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

func waitEstablished(ctx context.Context, t *testing.T, dyn dynamic.Interface, name string) {
	t.Helper()
	eventually(ctx, t, "CRD "+name+" Established", func() error {
		crd, err := dyn.Resource(crdGVR).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		conds, _, _ := unstructured.NestedSlice(crd.Object, "status", "conditions")
		for _, c := range conds {
			if m, ok := c.(map[string]any); ok && m["type"] == "Established" && m["status"] == "True" {
				return nil
			}
		}
		return errors.New("not Established")
	})
}

// checkWebhookConfiguration checks the ValidatingWebhookConfiguration as the
// API server stored it: its service reference is the installer's Service on
// a port that reaches the manager's webhook server, at the path the manager
// serves, for the installer's own CRDs; and cert-manager would inject the CA
// of the Certificate whose Secret the Deployment mounts as --webhook-cert-dir.
func checkWebhookConfiguration(ctx context.Context, t *testing.T, dyn dynamic.Interface, inst installer, c container) {
	t.Helper()
	want := inst.one(t, "ValidatingWebhookConfiguration", "")
	vwcGVR := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
	got, err := dyn.Resource(vwcGVR).Get(ctx, want.GetName(), metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	hooks, _, _ := unstructured.NestedSlice(got.Object, "webhooks")
	if len(hooks) != 1 {
		t.Fatalf("want 1 webhook, got %d", len(hooks))
	}
	hook := hooks[0].(map[string]any)
	svcRef, _, _ := unstructured.NestedMap(hook, "clientConfig", "service")
	name, _ := svcRef["name"].(string)
	svc := inst.one(t, "Service", name)
	if svcRef["namespace"] != svc.GetNamespace() {
		t.Errorf("the webhook calls Service %v/%v, the installer's is %s/%s", svcRef["namespace"], svcRef["name"], svc.GetNamespace(), svc.GetName())
	}
	if svcRef["path"] != webhook.ValidatePath {
		t.Errorf("the webhook's path is %v, the manager serves %s", svcRef["path"], webhook.ValidatePath)
	}
	port := "443" // the default of a service reference
	if p, ok := svcRef["port"]; ok {
		port = fmt.Sprint(p)
	}
	ports, _, _ := unstructured.NestedSlice(svc.Object, "spec", "ports")
	var target any
	for _, p := range ports {
		if m := p.(map[string]any); fmt.Sprint(m["port"]) == port {
			target = m["targetPort"]
		}
	}
	if target == nil {
		t.Errorf("Service %s has no port %s for the webhook", svc.GetName(), port)
	} else if !c.hasPort(target, 9443) {
		t.Errorf("Service port %s targets %v, not the manager's webhook port (--webhook-port default 9443)", port, target)
	}
	selector, _, _ := unstructured.NestedStringMap(svc.Object, "spec", "selector")
	podLabels, _, _ := unstructured.NestedStringMap(inst.one(t, "Deployment", "").Object, "spec", "template", "metadata", "labels")
	for k, v := range selector {
		if podLabels[k] != v {
			t.Errorf("the Service selects %s=%s, the manager's pods do not carry it", k, v)
		}
	}
	// The rules name the installer's CRDs (the access kinds).
	var plurals []string
	for _, crd := range inst.all("CustomResourceDefinition") {
		if p, _, _ := unstructured.NestedString(crd.Object, "spec", "names", "plural"); p != "permissionsnapshots" {
			plurals = append(plurals, p)
		}
	}
	rules, _, _ := unstructured.NestedSlice(hook, "rules")
	for _, r := range rules {
		res, _, _ := unstructured.NestedStringSlice(r.(map[string]any), "resources")
		slices.Sort(res)
		slices.Sort(plurals)
		if !slices.Equal(res, plurals) {
			t.Errorf("the webhook's rules cover %v, the installer's access kinds are %v", res, plurals)
		}
	}
	// cert-manager: inject-ca-from names the installer's Certificate, whose
	// DNS names are the Service's and whose Secret the Deployment mounts.
	cert := inst.one(t, "Certificate", "")
	if a := got.GetAnnotations()["cert-manager.io/inject-ca-from"]; a != cert.GetNamespace()+"/"+cert.GetName() {
		t.Errorf("cert-manager.io/inject-ca-from is %q, the Certificate is %s/%s", a, cert.GetNamespace(), cert.GetName())
	}
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	if !slices.Contains(dnsNames, svc.GetName()+"."+svc.GetNamespace()+".svc") {
		t.Errorf("the Certificate's DNS names %v miss the Service's %s.%s.svc", dnsNames, svc.GetName(), svc.GetNamespace())
	}
	secret, _, _ := unstructured.NestedString(cert.Object, "spec", "secretName")
	if dir := c.secretMount(secret); dir == "" || c.flag("webhook-cert-dir") != dir {
		t.Errorf("the Deployment does not mount the Certificate's Secret %s at --webhook-cert-dir (%q)", secret, c.flag("webhook-cert-dir"))
	}
	if issuer, _, _ := unstructured.NestedString(cert.Object, "spec", "issuerRef", "name"); issuer != inst.one(t, "Issuer", "").GetName() {
		t.Errorf("the Certificate's issuer %s is not the installer's Issuer", issuer)
	}
}

// checkNothingLeft checks what `kubectl delete -f install.yaml` leaves: every
// object of the installer is gone, except that the Namespace may stay
// Terminating (envtest runs no namespace controller to finalize it; it must
// be deleting and hold nothing); the access kinds' API is gone with its
// CRDs (and so every PermissionSnapshot the manager wrote); no cluster-scoped
// object carries the installer's label. What the namespace controller would
// delete with the Namespace may stay in it: the manager's leader-election
// Lease. Both namespaces may keep the manager's Events (the leader election's
// and the tenant's), which the API server also expires by their TTL.
func checkNothingLeft(ctx context.Context, t *testing.T, dyn dynamic.Interface, disco discovery.CachedDiscoveryInterface, objs []*unstructured.Unstructured, ns string) {
	t.Helper()
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(disco)
	disco.Invalidate()
	for _, obj := range objs {
		gvk := obj.GroupVersionKind()
		m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
		if err != nil {
			t.Fatalf("%s: %v", gvk, err)
		}
		var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
		if m.Scope.Name() == meta.RESTScopeNameNamespace {
			ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
		}
		eventually(ctx, t, fmt.Sprintf("%s %s deleted", obj.GetKind(), obj.GetName()), func() error {
			got, err := ri.Get(ctx, obj.GetName(), metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return nil
			}
			if err != nil {
				return err
			}
			if obj.GetKind() == "Namespace" && got.GetDeletionTimestamp() != nil {
				return nil // Terminating: see above
			}
			return errors.New("still there")
		})
	}
	eventually(ctx, t, "the access.gatehouse.dev API gone", func() error {
		disco.Invalidate()
		groups, err := disco.ServerGroups()
		if err != nil {
			return err
		}
		for _, g := range groups.Groups {
			if g.Name == "access.gatehouse.dev" {
				return errors.New("still served")
			}
		}
		return nil
	})
	disco.Invalidate()
	lists, err := disco.ServerPreferredResources()
	if err != nil {
		t.Fatal(err)
	}
	for _, list := range lists {
		gv, _ := schema.ParseGroupVersion(list.GroupVersion)
		for _, r := range list.APIResources {
			if !slices.Contains(r.Verbs, "list") || strings.Contains(r.Name, "/") {
				continue
			}
			gvr := gv.WithResource(r.Name)
			if !r.Namespaced {
				items, err := dyn.Resource(gvr).List(ctx, metav1.ListOptions{LabelSelector: "app.kubernetes.io/name=gatehouse"})
				if err != nil {
					t.Fatalf("list %s: %v", gvr, err)
				}
				for _, it := range items.Items {
					if r.Kind == "Namespace" && it.GetName() == ns && it.GetDeletionTimestamp() != nil {
						continue // Terminating, and empty: checked below
					}
					t.Errorf("left behind: %s %s", r.Kind, it.GetName())
				}
				continue
			}
			for _, n := range []string{ns, tenant} {
				items, err := dyn.Resource(gvr).Namespace(n).List(ctx, metav1.ListOptions{})
				if err != nil {
					t.Fatalf("list %s in %s: %v", gvr, n, err)
				}
				for _, it := range items.Items {
					if r.Kind == "Event" || (n == ns && r.Kind == "Lease") {
						continue
					}
					t.Errorf("left behind in %s: %s %s", n, r.Kind, it.GetName())
				}
			}
		}
	}
}

// container is the manager container of the installer's Deployment.
type container struct {
	Name         string   `json:"name"`
	Image        string   `json:"image"`
	Args         []string `json:"args"`
	Env          []corev1.EnvVar
	Ports        []corev1.ContainerPort
	VolumeMounts []corev1.VolumeMount `json:"volumeMounts"`

	serviceAccount string
	volumes        []corev1.Volume
	grace          int64
}
