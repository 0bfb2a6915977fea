package cli

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// TestFromRealCluster applies the samples to a real API server (envtest)
// and reads them back through a kubeconfig, as kubectl gatehouse does. It
// takes a few seconds, so it runs only when KUBEBUILDER_ASSETS is set (make
// test sets it) and not with -short; the fake-client tests cover the rest.
func TestFromRealCluster(t *testing.T) {
	if testing.Short() || os.Getenv("KUBEBUILDER_ASSETS") == "" {
		t.Skip("envtest: set KUBEBUILDER_ASSETS (make test does) to run")
	}
	env, err := testenv.New()
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	ctx := context.Background()
	objs, err := testenv.Samples(samples)
	if err != nil {
		t.Fatal(err)
	}
	core := kubernetes.NewForConfigOrDie(cfg)
	dyn := dynamic.NewForConfigOrDie(cfg)
	for _, o := range objs {
		if o.GetKind() == "Namespace" {
			ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: o.GetName()}}
			if _, err := core.CoreV1().Namespaces().Create(ctx, ns, metav1.CreateOptions{}); err != nil {
				t.Fatal(err)
			}
			continue
		}
		plural := map[string]string{"Role": "accessroles", "UserGroup": "usergroups", "FieldPolicy": "fieldpolicies", "ApprovalChain": "approvalchains"}[o.GetKind()]
		gvr := schema.FromAPIVersionAndKind(o.GetAPIVersion(), o.GetKind()).GroupVersion().WithResource(plural)
		if _, err := dyn.Resource(gvr).Namespace(o.GetNamespace()).Create(ctx, o, metav1.CreateOptions{}); err != nil {
			t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
		}
	}

	user, err := env.AddUser(envtest.User{Name: "admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	kubeconfig, err := user.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(path, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}

	var res compileResult
	decode(t, &res, 0, "compile", "--from-cluster", "--kubeconfig", path)
	if len(res.Tenants) != 1 || res.Tenants[0].Tenant != "acme-field-services" || res.Tenants[0].Counts.Roles != 9 || res.Tenants[0].Counts.Groups != 9 {
		t.Fatalf("compile from the cluster: %+v", res)
	}
	stdout, stderr, code := run(t, "", "diff", "--kubeconfig", path, "cluster:acme-field-services", samples)
	if code != 0 || stdout != "no access changes\n" {
		t.Errorf("diff cluster vs files: %d %s%s", code, stdout, stderr)
	}
	stdout, stderr, code = run(t, "", "test", "--from-cluster", "--kubeconfig", path, samples+"/tests")
	if code != 0 || !strings.HasSuffix(stdout, " passed, 0 failed\n") {
		t.Errorf("policy tests against the cluster: %d %s%s", code, stdout, stderr)
	}

	// The console reads the cluster too, and reads it again.
	cctx, cancel := context.WithCancel(ctx)
	var cout, cerr syncBuffer
	done := make(chan int)
	go func() {
		done <- RunContext(cctx, []string{"console", "--from-cluster", "--kubeconfig", path, "--listen", "127.0.0.1:0", "--cluster-interval", "100ms"}, nil, &cout, &cerr)
	}()
	addr := regexp.MustCompile(`on (http://\S+)/ `)
	waitFor(t, "the console to listen", func() bool { return addr.MatchString(cerr.String()) })
	url := addr.FindStringSubmatch(cerr.String())[1]
	matrix := func() string {
		resp, err := http.Get(url + "/t/acme-field-services/matrix.csv")
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return string(body)
	}
	if m := matrix(); !strings.Contains(m, "supplier") || !strings.Contains(m, "limited-technician") {
		t.Fatalf("the console's matrix from the cluster: %.500s", m)
	}
	roles := schema.GroupVersionResource{Group: "access.gatehouse.dev", Version: "v1alpha1", Resource: "accessroles"}
	if err := dyn.Resource(roles).Namespace("acme-field-services").Delete(ctx, "supplier", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the console to read the deletion", func() bool { return !strings.Contains(matrix(), "supplier") })
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("console exit %d: %s", code, cerr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the console did not stop")
	}
}
