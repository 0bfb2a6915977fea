// Package installer_test is the installer's end-to-end test: the
// dist/install.yaml that `make build-installer` writes (rendered by the same
// hack/render-installer.sh), applied server-side to an envtest control plane,
// the manager run out of cluster with the Deployment's own flags and as the
// installer's ServiceAccount, the samples applied through the installer's
// webhook and answered by the authorization endpoint, and `kubectl delete`
// leaving nothing behind. Everything listens on loopback.
package installer_test

import (
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse-dev/gatehouse/internal/authz/kubeauth"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/webhook"
)

const (
	// image replaces controller:latest, as IMG does in `make build-installer`.
	image        = "registry.test/gatehouse:e2e"
	fieldManager = "gatehouse-installer-test"
	tenant       = "acme-field-services"
)

// TestInstaller is issue [11 proof] item 4. It needs kubectl (for
// `kubectl kustomize`, which renders the installer, and `kubectl delete`),
// like `make build-installer`; without it the test is skipped.
func TestInstaller(t *testing.T) {
	if testing.Short() {
		t.Skip("starts a control plane and the manager")
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	assets, err := testenv.AssetsDir()
	if err != nil {
		t.Fatal(err)
	}
	// kubectl from bin/k8s (a link `make envtest` makes) or the PATH.
	path := assets + string(os.PathListSeparator) + os.Getenv("PATH")
	kubectl, err := lookPath("kubectl", path)
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("kubectl not found (make envtest links it into bin/k8s): in CI a missing part fails the run")
		}
		t.Skip("kubectl not found: the installer is rendered with `kubectl kustomize`")
	}
	tmp := t.TempDir()
	// The manager is built first, outside the time bound: on a cold build
	// cache (and next to the other packages of `go test ./...`) compiling it
	// can take longer than the rest of the test.
	bin := filepath.Join(tmp, "manager")
	build := exec.Command("go", "build", "-o", bin, "./cmd/manager")
	build.Dir = root
	if out, err := build.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/manager: %v\n%s", err, out)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	t.Cleanup(cancel)
	start := time.Now()

	// 1. Render the installer exactly as `make build-installer` does.
	render := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "render-installer.sh"), image)
	render.Env = append(os.Environ(), "PATH="+path)
	render.Stderr = os.Stderr
	installYAML, err := render.Output()
	if err != nil {
		t.Fatalf("render the installer: %v", err)
	}
	installFile := filepath.Join(tmp, "install.yaml")
	if err := os.WriteFile(installFile, installYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, installYAML)
	inst := index(objs)
	deploy := inst.one(t, "Deployment", "")
	container := managerContainer(t, deploy)
	if container.Image != image {
		t.Fatalf("the Deployment's image is %q, want %q (IMG)", container.Image, image)
	}
	ns := deploy.GetNamespace()
	if inst.one(t, "Namespace", "").GetName() != ns {
		t.Fatalf("the installer's Namespace is not the Deployment's %s", ns)
	}

	// 2. A control plane without Gatehouse's CRDs: the installer brings them.
	// cert-manager is not part of envtest, so stand-in CRDs (open schemas)
	// let the API server store the installer's Issuer and Certificate; their
	// content is checked below against the Service and the Deployment, not
	// by cert-manager. Its CA injector and the Certificate's Secret are
	// played by the test (step 4).
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	env.CRDDirectoryPaths, env.ErrorIfCRDPathMissing = nil, false
	env.CRDs = certManagerStandIns()
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start the control plane: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop the control plane: %v", err)
		}
	})
	// The samples' expected warnings (objects applied before what they
	// reference) and deprecated kinds met by the sweep are not news here.
	cfg.WarningHandler = rest.NoWarnings{}
	clientset := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	disco := memory.NewMemCacheClient(discovery.NewDiscoveryClientForConfigOrDie(cfg))
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(disco)
	admin, err := env.ControlPlane.AddUser(envtest.User{Name: "installer-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	adminKubeconfig := writeKubeconfig(t, tmp, "admin.kubeconfig", admin.KubeConfig)
	kubectlRun := func(args ...string) string {
		t.Helper()
		cmd := exec.CommandContext(ctx, kubectl, append([]string{"--kubeconfig", adminKubeconfig}, args...)...)
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out)
		}
		return string(out)
	}

	// 3. Apply every object server-side, in the installer's order; each must
	// be accepted. The CRDs must be Established before anything uses them.
	for _, obj := range objs {
		applied := apply(ctx, t, dyn, mapper, obj)
		if applied.GetUID() == "" {
			t.Fatalf("%s %s: applied without a UID", obj.GetKind(), obj.GetName())
		}
		if obj.GetKind() == "CustomResourceDefinition" {
			waitEstablished(ctx, t, dyn, obj.GetName())
		}
	}
	t.Logf("installer: %d objects applied server-side (%s)", len(objs), time.Since(start).Round(time.Millisecond))
	mapper.Reset()
	checkWebhookConfiguration(ctx, t, dyn, inst, container)

	// 4. What the cluster would provide: the Certificate's Secret (the
	// webhook's serving certificate for the Service's DNS names, and for
	// 127.0.0.1, where the API server reaches it here) mounted at the
	// Deployment's --webhook-cert-dir, and cert-manager's CA injection.
	cert := inst.one(t, "Certificate", "")
	dnsNames, _, _ := unstructured.NestedStringSlice(cert.Object, "spec", "dnsNames")
	certDir := filepath.Join(tmp, "serving-certs")
	caPEM := writeServingCert(t, certDir, dnsNames)
	vwc := inst.one(t, "ValidatingWebhookConfiguration", "")
	webhookPort := freePort(t)
	// Deviation: the API server of envtest has no service network, so the
	// webhook's service reference (checked above) cannot be dialled; the
	// test points the configuration at the manager's port on loopback, with
	// the CA cert-manager's injector would have set as caBundle.
	redirect, _ := json.Marshal([]map[string]any{{
		"op": "replace", "path": "/webhooks/0/clientConfig",
		"value": map[string]any{
			"url":      fmt.Sprintf("https://127.0.0.1:%d%s", webhookPort, webhook.ValidatePath),
			"caBundle": caPEM,
		},
	}})
	vwcGVR := schema.GroupVersionResource{Group: "admissionregistration.k8s.io", Version: "v1", Resource: "validatingwebhookconfigurations"}
	if _, err := dyn.Resource(vwcGVR).Patch(ctx, vwc.GetName(), types.JSONPatchType, redirect, metav1.PatchOptions{FieldManager: "test-loopback"}); err != nil {
		t.Fatalf("point the webhook at loopback: %v", err)
	}

	// 5. The manager, out of cluster, as the installer's ServiceAccount (a
	// client certificate with the account's user name and groups: RBAC
	// matches ServiceAccounts by name), so the installer's RBAC is what it
	// gets.
	saUser := "system:serviceaccount:" + ns + ":" + container.serviceAccount
	user, err := env.ControlPlane.AddUser(envtest.User{
		Name:   saUser,
		Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + ns, "system:authenticated"},
	}, nil)
	if err != nil {
		t.Fatal(err)
	}
	managerKubeconfig := writeKubeconfig(t, tmp, "manager.kubeconfig", user.KubeConfig)
	args, addrs := managerArgs(t, container, certDir, webhookPort)
	t.Logf("manager: %s %s", bin, strings.Join(args, " "))
	manager := exec.Command(bin, args...)
	manager.Env = append(os.Environ(), "KUBECONFIG="+managerKubeconfig)
	for k, v := range container.env(ns) {
		manager.Env = append(manager.Env, k+"="+v)
	}
	logFile, err := os.Create(filepath.Join(tmp, "manager.log"))
	if err != nil {
		t.Fatal(err)
	}
	manager.Stdout, manager.Stderr = logFile, logFile
	manager.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := manager.Start(); err != nil {
		t.Fatal(err)
	}
	// exited is closed when the manager has exited, with its error in exitErr.
	exited := make(chan struct{})
	var exitErr error
	go func() { exitErr = manager.Wait(); close(exited) }()
	stopManager := func() {
		if manager.Process == nil {
			return
		}
		// As the kubelet stops the pod: SIGTERM, then SIGKILL after the
		// Deployment's terminationGracePeriodSeconds.
		grace := time.Duration(container.grace) * time.Second
		stopping := time.Now()
		_ = manager.Process.Signal(syscall.SIGTERM)
		select {
		case <-exited:
		case <-time.After(grace):
			_ = manager.Process.Kill()
			<-exited
		}
		manager.Process = nil
		if err := exitErr; err != nil {
			t.Errorf("the manager did not stop cleanly within the grace period (%s) of SIGTERM: %v", grace, err)
		} else {
			t.Logf("manager: stopped %s after SIGTERM", time.Since(stopping).Round(time.Millisecond))
		}
	}
	t.Cleanup(func() {
		stopManager()
		_ = logFile.Close()
		if t.Failed() {
			if log, err := os.ReadFile(logFile.Name()); err == nil {
				t.Logf("manager log:\n%s", tail(log, 60))
			}
		}
	})
	probe := "http://" + addrs["health-probe-bind-address"] + "/readyz"
	eventually(ctx, t, "the manager's /readyz", func() error {
		select {
		case <-exited:
			t.Fatalf("the manager exited: %v", exitErr)
		default:
		}
		return httpOK(ctx, probe)
	})
	t.Logf("manager: ready (%s)", time.Since(start).Round(time.Millisecond))

	// 6. The samples, applied by an admin through the installer's webhook.
	samples, err := testenv.Samples(filepath.Join(root, "config", "samples"))
	if err != nil {
		t.Fatal(err)
	}
	for _, obj := range samples {
		apply(ctx, t, dyn, mapper, obj)
	}
	metrics := "http://" + addrs["metrics-bind-address"] + "/metrics"
	eventually(ctx, t, "webhook requests in the manager's metrics", func() error {
		n, err := metricSum(ctx, metrics, `controller_runtime_webhook_requests_total{code="200",webhook="`+webhook.ValidatePath+`"}`)
		if err != nil {
			return err
		}
		if n < float64(len(samples)-1) { // every sample but the Namespace
			return fmt.Errorf("%v webhook requests answered, want %d", n, len(samples)-1)
		}
		return nil
	})
	// Answered only once the served snapshot has every sample: the
	// PermissionSnapshot Ready, and each access object Ready for its
	// generation in that snapshot's revision (the first compile may have
	// run while the samples were still being applied).
	psnap := schema.GroupVersionResource{Group: "access.gatehouse.dev", Version: "v1alpha1", Resource: "permissionsnapshots"}
	eventually(ctx, t, "the samples served in a Ready PermissionSnapshot", func() error {
		s, err := dyn.Resource(psnap).Namespace(tenant).Get(ctx, "current", metav1.GetOptions{})
		if err != nil {
			return err
		}
		if !ready(s) {
			return errors.New("PermissionSnapshot not Ready")
		}
		revision, _, _ := unstructured.NestedString(s.Object, "status", "revision")
		for _, obj := range samples {
			if obj.GetKind() == "Namespace" {
				continue
			}
			got := getLive(ctx, t, dyn, mapper, obj)
			observed, _, _ := unstructured.NestedInt64(got.Object, "status", "observedGeneration")
			rev, _, _ := unstructured.NestedString(got.Object, "status", "revision")
			if !ready(got) || observed != got.GetGeneration() || rev != revision {
				return fmt.Errorf("%s %s: not Ready in revision %s (status %v)", obj.GetKind(), obj.GetName(), revision, got.Object["status"])
			}
		}
		return nil
	})

	// Status is written by the elected leader only, so the objects' Ready
	// above also shows that the manager holds the lease, in the
	// installer's namespace (--leader-election-namespace defaults to the
	// Deployment's POD_NAMESPACE).
	leases, err := clientset.CoordinationV1().Leases(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(leases.Items) != 1 || leases.Items[0].Spec.HolderIdentity == nil || *leases.Items[0].Spec.HolderIdentity == "" {
		t.Fatalf("want the manager's held lease in %s, got %v", ns, leases.Items)
	}

	// 7. Decisions over the Deployment's TLS endpoint, from a tenant app
	// authenticated by its ServiceAccount token (TokenReview) and allowed
	// the tenant (SubjectAccessReview), against the samples' policy tests.
	token := tenantApp(ctx, t, clientset, tenant)
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(caPEM)
	httpClient := &http.Client{Timeout: 10 * time.Second, Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}}}
	endpoint := "https://" + addrs["authz-bind-address"] + "/tenants/" + tenant + "/access/v1/evaluation"
	cases := policyCases(t, filepath.Join(root, "config", "samples", "tests", "acme_test.yaml"))
	for _, c := range cases {
		allowed, reason := evaluate(ctx, t, httpClient, endpoint, token, c)
		if allowed != *c.Expect.Allowed || (c.Expect.Reason != nil && reason != *c.Expect.Reason) {
			t.Errorf("%s: got allowed=%v reason=%s, the policy test expects allowed=%v reason=%v", c.Name, allowed, reason, *c.Expect.Allowed, deref(c.Expect.Reason))
		}
	}
	t.Logf("endpoint: %d decisions of config/samples/tests answered as expected (%s)", len(cases), time.Since(start).Round(time.Millisecond))
	if t.Failed() {
		return
	}

	// 8. Uninstall: the samples, then the installer, with kubectl.
	if err := clientset.CoreV1().ServiceAccounts(tenant).Delete(ctx, "app", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := clientset.RbacV1().RoleBindings(tenant).Delete(ctx, "app-decisions", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	if err := clientset.RbacV1().Roles(tenant).Delete(ctx, "gatehouse-decisions", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	kubectlRun("delete", "-k", filepath.Join(root, "config", "samples"), "--wait=false")
	// --wait=false: envtest runs no namespace controller, so a deleted
	// Namespace stays Terminating and kubectl would wait for it forever.
	kubectlRun("delete", "-f", installFile, "--wait=false")
	// Deleting the Namespace stops the Deployment's pods.
	stopManager()
	checkNothingLeft(ctx, t, dyn, disco, objs, ns)
	t.Logf("uninstalled; total %s", time.Since(start).Round(time.Millisecond))
}

// apply server-side applies obj and returns what the API server stored.
func apply(ctx context.Context, t *testing.T, dyn dynamic.Interface, mapper meta.ResettableRESTMapper, obj *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	gvk := obj.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if meta.IsNoMatchError(err) {
		mapper.Reset()
		m, err = mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	}
	if err != nil {
		t.Fatalf("%s %s: %v", gvk.Kind, obj.GetName(), err)
	}
	data, err := json.Marshal(obj.Object)
	if err != nil {
		t.Fatal(err)
	}
	var ri dynamic.ResourceInterface = dyn.Resource(m.Resource)
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		ri = dyn.Resource(m.Resource).Namespace(obj.GetNamespace())
	}
	out, err := ri.Patch(ctx, obj.GetName(), types.ApplyPatchType, data, metav1.PatchOptions{FieldManager: fieldManager, Force: new(true)})
	if err != nil {
		t.Fatalf("server-side apply %s %s/%s: %v", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
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
	svc := inst.one(t, "Service", "")
	if svcRef["name"] != svc.GetName() || svcRef["namespace"] != svc.GetNamespace() {
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

func managerContainer(t *testing.T, deploy *unstructured.Unstructured) container {
	t.Helper()
	var spec struct {
		ServiceAccountName string          `json:"serviceAccountName"`
		Grace              *int64          `json:"terminationGracePeriodSeconds"`
		Containers         []container     `json:"containers"`
		Volumes            []corev1.Volume `json:"volumes"`
	}
	podSpec, _, _ := unstructured.NestedMap(deploy.Object, "spec", "template", "spec")
	data, _ := json.Marshal(podSpec)
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	for _, c := range spec.Containers {
		if c.Name == "manager" {
			c.serviceAccount, c.volumes, c.grace = spec.ServiceAccountName, spec.Volumes, 30 // the API's default
			if spec.Grace != nil {
				c.grace = *spec.Grace
			}
			return c
		}
	}
	t.Fatal("the Deployment has no manager container")
	return container{}
}

// flag returns the value of --name=value in the container's args.
func (c container) flag(name string) string {
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--"+name+"="); ok {
			return v
		}
	}
	return ""
}

func (c container) hasPort(target any, want int32) bool {
	for _, p := range c.Ports {
		if p.ContainerPort == want && (target == p.Name || fmt.Sprint(target) == strconv.Itoa(int(want))) {
			return true
		}
	}
	return false
}

// secretMount returns where the container mounts Secret name.
func (c container) secretMount(name string) string {
	for _, v := range c.volumes {
		if v.Secret == nil || v.Secret.SecretName != name {
			continue
		}
		for _, m := range c.VolumeMounts {
			if m.Name == v.Name {
				return m.MountPath
			}
		}
	}
	return ""
}

// env is the container's environment, with the downward API's namespace.
func (c container) env(ns string) map[string]string {
	out := map[string]string{}
	for _, e := range c.Env {
		switch {
		case e.ValueFrom != nil && e.ValueFrom.FieldRef != nil && e.ValueFrom.FieldRef.FieldPath == "metadata.namespace":
			out[e.Name] = ns
		case e.ValueFrom == nil:
			out[e.Name] = e.Value
		}
	}
	return out
}

// managerArgs are the Deployment's args with what running out of cluster
// needs changed, and the loopback addresses chosen for the listeners.
func managerArgs(t *testing.T, c container, certDir string, webhookPort int) ([]string, map[string]string) {
	t.Helper()
	addrs := map[string]string{}
	var args []string
	for _, a := range c.Args {
		name, value, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		switch {
		case name == "webhook-cert-dir":
			// Deviation: the mounted Secret's path is a directory of the test.
			value = certDir
		case strings.HasPrefix(value, ":"):
			// Deviation: the Deployment binds every interface of the pod;
			// here each listener gets a free port on loopback.
			value = "127.0.0.1:" + strconv.Itoa(freePort(t))
			addrs[name] = value
		}
		if !strings.Contains(a, "=") {
			args = append(args, a) // a boolean flag, as the Deployment sets it
			continue
		}
		args = append(args, "--"+name+"="+value)
	}
	// Deviations: the webhook server has no host flag (it listens on every
	// interface) and the endpoint defaults to :8443, so both get free ports;
	// the endpoint on loopback. TLS and TokenReview/SubjectAccessReview
	// stay on, as deployed.
	args = append(args, "--webhook-port="+strconv.Itoa(webhookPort))
	addrs["authz-bind-address"] = "127.0.0.1:" + strconv.Itoa(freePort(t))
	args = append(args, "--authz-bind-address="+addrs["authz-bind-address"])
	for _, want := range []string{"health-probe-bind-address", "metrics-bind-address"} {
		if addrs[want] == "" {
			t.Fatalf("the Deployment sets no --%s", want)
		}
	}
	return args, addrs
}

// tenantApp creates ServiceAccount "app" in ns, allowed to ask about ns
// (kubeauth's SubjectAccessReview), and returns a token for it.
func tenantApp(ctx context.Context, t *testing.T, cs kubernetes.Interface, ns string) string {
	t.Helper()
	if _, err := cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().Roles(ns).Create(ctx, &rbacv1.Role{
		ObjectMeta: metav1.ObjectMeta{Name: "gatehouse-decisions"},
		Rules:      []rbacv1.PolicyRule{{APIGroups: []string{kubeauth.Group}, Resources: []string{kubeauth.Resource}, Verbs: []string{kubeauth.Verb}}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	if _, err := cs.RbacV1().RoleBindings(ns).Create(ctx, &rbacv1.RoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "app-decisions"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "Role", Name: "gatehouse-decisions"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "app", Namespace: ns}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	// RBAC answers from an informer: wait until it has seen the binding.
	eventually(ctx, t, "RBAC allows the app", func() error {
		sar, err := cs.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{Spec: authzv1.SubjectAccessReviewSpec{
			User:               "system:serviceaccount:" + ns + ":app",
			ResourceAttributes: &authzv1.ResourceAttributes{Namespace: ns, Verb: kubeauth.Verb, Group: kubeauth.Group, Resource: kubeauth.Resource},
		}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if !sar.Status.Allowed {
			return errors.New("not yet allowed")
		}
		return nil
	})
	exp := int64(600)
	tr, err := cs.CoreV1().ServiceAccounts(ns).CreateToken(ctx, "app", &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return tr.Status.Token
}

// policyCase is a case of config/samples/tests that asks for one decision
// of a subject given by ID (the cases about fields and approvals, and those
// with request-supplied subject attributes, are left to `gatehouse test`).
type policyCase struct {
	Name     string          `json:"name"`
	Subject  json.RawMessage `json:"subject"`
	Action   string          `json:"action"`
	Resource json.RawMessage `json:"resource"`
	Context  map[string]any  `json:"context"`
	Expect   struct {
		Allowed *bool           `json:"allowed"`
		Reason  *string         `json:"reason"`
		Fields  json.RawMessage `json:"fields"`
	} `json:"expect"`
	subject  string
	resource map[string]any
}

func policyCases(t *testing.T, file string) []policyCase {
	t.Helper()
	data, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	var doc struct {
		Tenant string       `json:"tenant"`
		Cases  []policyCase `json:"cases"`
	}
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Tenant != tenant {
		t.Fatalf("%s tests tenant %s, the samples are %s", file, doc.Tenant, tenant)
	}
	var out []policyCase
	for _, c := range doc.Cases {
		if c.Action == "" || c.Expect.Allowed == nil || c.Context != nil || c.Expect.Fields != nil ||
			json.Unmarshal(c.Subject, &c.subject) != nil {
			continue
		}
		// A resource is {type, id, properties} or "TYPE[/ID]".
		var short string
		if json.Unmarshal(c.Resource, &short) == nil {
			typ, id, _ := strings.Cut(short, "/")
			c.resource = map[string]any{"type": typ, "id": id}
		} else if err := json.Unmarshal(c.Resource, &c.resource); err != nil {
			t.Fatalf("%s: resource: %v", c.Name, err)
		}
		if _, ok := c.resource["id"]; !ok {
			c.resource["id"] = ""
		}
		out = append(out, c)
	}
	if len(out) < 10 {
		t.Fatalf("only %d decision cases in %s", len(out), file)
	}
	return out
}

// evaluate asks the AuthZEN evaluation endpoint for c's decision.
func evaluate(ctx context.Context, t *testing.T, client *http.Client, endpoint, token string, c policyCase) (bool, string) {
	t.Helper()
	body, _ := json.Marshal(map[string]any{
		"subject":  map[string]any{"type": "user", "id": c.subject},
		"action":   map[string]any{"name": c.Action},
		"resource": c.resource,
	})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, endpoint, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("%s: %v", c.Name, err)
	}
	defer func() { _ = resp.Body.Close() }()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("%s: %s: %s", c.Name, resp.Status, data)
	}
	var answer struct {
		Decision bool `json:"decision"`
		Context  struct {
			Reason string `json:"reason"`
		} `json:"context"`
	}
	if err := json.Unmarshal(data, &answer); err != nil {
		t.Fatalf("%s: %v: %s", c.Name, err, data)
	}
	return answer.Decision, answer.Context.Reason
}

// writeServingCert writes a CA-signed serving certificate for dnsNames and
// 127.0.0.1 as tls.crt and tls.key into dir (the layout of cert-manager's
// Secret) and returns the CA in PEM.
func writeServingCert(t *testing.T, dir string, dnsNames []string) []byte {
	t.Helper()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	caTmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "gatehouse installer test CA"},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	leaf := &x509.Certificate{
		SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: dnsNames[0]},
		DNSNames: dnsNames, IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)},
		NotBefore: now.Add(-time.Hour), NotAfter: now.Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	}
	leafDER, err := x509.CreateCertificate(rand.Reader, leaf, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	keyDER, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	write := func(name, typ string, der []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("tls.crt", "CERTIFICATE", leafDER)
	write("tls.key", "EC PRIVATE KEY", keyDER)
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: caDER})
}

// certManagerStandIns are CRDs for cert-manager.io/v1 Issuer and
// Certificate with open schemas.
func certManagerStandIns() []*apiextensionsv1.CustomResourceDefinition {
	crd := func(kind, plural string) *apiextensionsv1.CustomResourceDefinition {
		open := true
		return &apiextensionsv1.CustomResourceDefinition{
			ObjectMeta: metav1.ObjectMeta{Name: plural + ".cert-manager.io"},
			Spec: apiextensionsv1.CustomResourceDefinitionSpec{
				Group: "cert-manager.io",
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
	return []*apiextensionsv1.CustomResourceDefinition{crd("Issuer", "issuers"), crd("Certificate", "certificates")}
}

// installer indexes the installer's objects by kind.
type installer map[string][]*unstructured.Unstructured

func index(objs []*unstructured.Unstructured) installer {
	out := installer{}
	for _, o := range objs {
		out[o.GetKind()] = append(out[o.GetKind()], o)
	}
	return out
}

func (i installer) all(kind string) []*unstructured.Unstructured { return i[kind] }

// one returns the only object of kind (or the one named name).
func (i installer) one(t *testing.T, kind, name string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range i[kind] {
		if name == "" || o.GetName() == name {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("the installer has %d %s objects, want one", len(found), kind)
	}
	return found[0]
}

func decodeAll(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var objs []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		obj := &unstructured.Unstructured{}
		if err := dec.Decode(&obj.Object); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatalf("the rendered installer: %v", err)
		}
		if len(obj.Object) > 0 {
			objs = append(objs, obj)
		}
	}
	if len(objs) == 0 {
		t.Fatal("the rendered installer is empty")
	}
	return objs
}

func writeKubeconfig(t *testing.T, dir, name string, kubeconfig func() ([]byte, error)) string {
	t.Helper()
	data, err := kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	file := filepath.Join(dir, name)
	if err := os.WriteFile(file, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return file
}

// eventually retries f until it succeeds or ctx ends.
func eventually(ctx context.Context, t *testing.T, what string, f func() error) {
	t.Helper()
	var err error
	for {
		if err = f(); err == nil {
			return
		}
		select {
		case <-ctx.Done():
			t.Fatalf("%s: %v (%v)", what, err, ctx.Err())
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func httpOK(ctx context.Context, url string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return errors.New(resp.Status)
	}
	return nil
}

// metricSum returns the value of the sample named exactly series.
func metricSum(ctx context.Context, url, series string) (float64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return 0, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer func() { _ = resp.Body.Close() }()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, err
	}
	for line := range strings.SplitSeq(string(data), "\n") {
		if v, ok := strings.CutPrefix(line, series+" "); ok {
			return strconv.ParseFloat(strings.TrimSpace(v), 64)
		}
	}
	return 0, nil
}

func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = l.Close() }()
	return l.Addr().(*net.TCPAddr).Port
}

func lookPath(name, path string) (string, error) {
	for dir := range strings.SplitSeq(path, string(os.PathListSeparator)) {
		file := filepath.Join(dir, name)
		if fi, err := os.Stat(file); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return file, nil
		}
	}
	return "", exec.ErrNotFound
}

func tail(b []byte, lines int) string {
	all := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(all) > lines {
		all = all[len(all)-lines:]
	}
	return strings.Join(all, "\n")
}

func deref(s *string) string {
	if s == nil {
		return "(any)"
	}
	return *s
}
