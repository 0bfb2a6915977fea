// Package installer_test is the installer's end-to-end test: the
// dist/install.yaml that `make build-installer` writes (rendered by the same
// hack/render-installer.sh), applied server-side to an envtest control plane,
// the manager run out of cluster with the Deployment's own flags and as the
// installer's ServiceAccount, the samples applied through the installer's
// webhook and answered by the authorization endpoint, and `kubectl delete`
// leaving nothing behind. Everything listens on loopback.
package installer_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/restmapper"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

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

	// 1. Render the installer exactly as `make build-installer` does, and
	// with config/default's optional parts (network policies, Prometheus)
	// included, as uncommenting them gives: the latter is what is applied,
	// and it must hold every object of the former unchanged.
	renderInstaller := func(optional string) []byte {
		render := exec.CommandContext(ctx, "bash", filepath.Join(root, "hack", "render-installer.sh"), image)
		render.Env = append(os.Environ(), "PATH="+path, "INSTALLER_OPTIONAL="+optional)
		render.Stderr = os.Stderr
		out, err := render.Output()
		if err != nil {
			t.Fatalf("render the installer (optional parts %q): %v", optional, err)
		}
		return out
	}
	installYAML := renderInstaller(optionalParts)
	installFile := filepath.Join(tmp, "install.yaml")
	if err := os.WriteFile(installFile, installYAML, 0o600); err != nil {
		t.Fatal(err)
	}
	objs := decodeAll(t, installYAML)
	checkOptionalParts(t, decodeAll(t, renderInstaller("")), objs)
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
	// cert-manager and Prometheus Operator are not part of envtest, so
	// stand-in CRDs (open schemas) let the API server store the installer's
	// Issuer, Certificate and ServiceMonitor; their
	// content is checked below against the Service and the Deployment, not
	// by cert-manager. Its CA injector and the Certificate's Secret are
	// played by the test (step 4).
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	env.CRDDirectoryPaths, env.ErrorIfCRDPathMissing = nil, false
	env.CRDs = standInCRDs()
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
	checkPodSecurity(ctx, t, clientset, deploy)
	checkAvailability(t, inst, deploy, container)
	checkNetworkPolicies(ctx, t, dyn, inst, deploy, container)
	checkServiceMonitor(t, inst, container)

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
	// The metrics, as Prometheus scrapes them with the installer's
	// ServiceMonitor and example binding: over HTTPS, verified, with a
	// token RBAC allows get on /metrics (and refused without).
	metrics := "https://" + addrs["metrics-bind-address"] + "/metrics"
	scrape := checkSecureMetrics(ctx, t, clientset, inst, caPEM, metrics)
	eventually(ctx, t, "webhook requests in the manager's metrics", func() error {
		n, err := metricSum(ctx, scrape, metrics, `controller_runtime_webhook_requests_total{code="200",webhook="`+webhook.ValidatePath+`"}`)
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
	if err := clientset.CoreV1().Namespaces().Delete(ctx, scraperNamespace, metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	checkNothingLeft(ctx, t, dyn, disco, objs, ns)
	t.Logf("uninstalled; total %s", time.Since(start).Round(time.Millisecond))
}
