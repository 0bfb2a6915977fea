// Package helm_test tests the Helm chart charts/gatehouse: that it is what
// hack/gen-chart.sh generates from the current config/, that `helm lint`
// passes and every notable value renders, that its default values render
// the objects of hack/render-installer.sh (config/default) and its built-in
// rotation mode those of config/certrotation, and that its objects are
// accepted by a real API server (envtest). Helm is bin/helm, built from the
// Go module proxy by hack/helm.sh; kubectl (for `kubectl kustomize`) is
// bin/k8s/kubectl, which `make envtest` links.
package helm_test

import (
	"bytes"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/yaml"

	"github.com/gatehouse-dev/gatehouse/hack/genchart"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

const (
	// image as IMG gives it to hack/render-installer.sh, and as values.
	imageRepo = "registry.test/gatehouse"
	imageTag  = "e2e"
	image     = imageRepo + ":" + imageTag
)

func repoRoot(t *testing.T) string {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	return root
}

var (
	helmOnce sync.Once
	helmErr  error
)

// helm runs bin/helm (built by hack/helm.sh when missing or outdated) in
// the repository root and returns its standard output.
func helm(t *testing.T, args ...string) []byte {
	t.Helper()
	out, err := helmErrOut(t, args...)
	if err != nil {
		t.Fatalf("helm %s: %v", strings.Join(args, " "), err)
	}
	return out
}

func helmErrOut(t *testing.T, args ...string) ([]byte, error) {
	t.Helper()
	root := repoRoot(t)
	helmOnce.Do(func() {
		build := exec.Command("bash", filepath.Join(root, "hack", "helm.sh"), "--build-only")
		if out, err := build.CombinedOutput(); err != nil {
			helmErr = errors.New("build helm (run `hack/helm.sh --build-only`): " + err.Error() + "\n" + string(out))
		}
	})
	if helmErr != nil {
		t.Fatal(helmErr)
	}
	cmd := exec.Command(filepath.Join(root, "bin", "helm"), args...)
	cmd.Dir = root
	// Keep Helm off the user's configuration and caches.
	home := t.TempDir()
	cmd.Env = append(os.Environ(), "HELM_CACHE_HOME="+home, "HELM_CONFIG_HOME="+home, "HELM_DATA_HOME="+home)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, errors.New(err.Error() + "\n" + stderr.String() + string(out))
	}
	return out, nil
}

// kubectl returns bin/k8s/kubectl (or kubectl on the PATH).
func kubectl(t *testing.T) string {
	t.Helper()
	assets, err := testenv.AssetsDir()
	if err == nil {
		if file := filepath.Join(assets, "kubectl"); isExec(file) {
			return file
		}
	}
	file, err := exec.LookPath("kubectl")
	if err != nil {
		t.Fatal("kubectl not found in bin/k8s or on the PATH: run `make envtest`")
	}
	return file
}

func isExec(file string) bool {
	fi, err := os.Stat(file)
	return err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
}

// template renders the chart (with its CRDs) with set (key=value pairs).
func template(t *testing.T, set ...string) []*unstructured.Unstructured {
	t.Helper()
	args := []string{"template", "gatehouse", "charts/gatehouse", "--include-crds"}
	for _, s := range set {
		args = append(args, "--set", s)
	}
	return decodeAll(t, helm(t, args...))
}

func decodeAll(t *testing.T, data []byte) []*unstructured.Unstructured {
	t.Helper()
	objs, err := testenv.DecodeAll(data)
	if err != nil {
		t.Fatalf("decode: %v", err)
	}
	if len(objs) == 0 {
		t.Fatal("nothing rendered")
	}
	return objs
}

func key(o *unstructured.Unstructured) string {
	return o.GetKind() + "/" + o.GetNamespace() + "/" + o.GetName()
}

// find returns the only object of kind.
func find(t *testing.T, objs []*unstructured.Unstructured, kind string) *unstructured.Unstructured {
	t.Helper()
	var found []*unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == kind {
			found = append(found, o)
		}
	}
	if len(found) != 1 {
		t.Fatalf("%d %s objects rendered, want 1", len(found), kind)
	}
	return found[0]
}

// managerArgs returns the args of the Deployment's manager container.
func managerArgs(t *testing.T, objs []*unstructured.Unstructured) []string {
	t.Helper()
	return managerContainer(t, find(t, objs, "Deployment"))["args"].([]string)
}

func managerContainer(t *testing.T, deploy *unstructured.Unstructured) map[string]any {
	t.Helper()
	cs, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	for _, c := range cs {
		c := c.(map[string]any)
		if c["name"] == "manager" {
			var args []string
			for _, a := range c["args"].([]any) {
				args = append(args, a.(string))
			}
			out := map[string]any{}
			for k, v := range c {
				out[k] = v
			}
			out["args"] = args
			return out
		}
	}
	t.Fatal("no manager container")
	return nil
}

// TestChartInSync fails when the committed chart is not what
// hack/gen-chart.sh generates from the current config/.
func TestChartInSync(t *testing.T) {
	root := repoRoot(t)
	want, err := genchart.Generate(root, kubectl(t))
	if err != nil {
		t.Fatal(err)
	}
	got, err := genchart.Read(filepath.Join(root, "charts", "gatehouse"))
	if err != nil {
		t.Fatal(err)
	}
	var stale []string
	for name, data := range want {
		if !bytes.Equal(got[name], data) {
			stale = append(stale, name)
		}
	}
	for name := range got {
		if _, ok := want[name]; !ok {
			stale = append(stale, name+" (not generated)")
		}
	}
	slices.Sort(stale)
	if len(stale) > 0 {
		t.Fatalf("charts/gatehouse is not what config/ generates (run hack/gen-chart.sh and commit charts/): %s", strings.Join(stale, ", "))
	}
}

func TestLint(t *testing.T) {
	for _, set := range [][]string{
		nil,
		{"certificates.mode=builtIn"},
		{"sharding.shard=a", "sharding.default=true", "audit.http.url=https://audit.example/events", "audit.http.tokenFile=/var/run/audit/token", "audit.required=true"},
	} {
		args := []string{"lint", "--strict", "charts/gatehouse"}
		for _, s := range set {
			args = append(args, "--set", s)
		}
		out := helm(t, args...)
		if !bytes.Contains(out, []byte("0 chart(s) failed")) {
			t.Errorf("helm %s:\n%s", strings.Join(args, " "), out)
		}
	}
}

// yamlString is for error messages.
func yamlString(v any) string {
	data, _ := yaml.Marshal(v)
	return string(data)
}

func deepEqual(a, b any) bool { return reflect.DeepEqual(a, b) }
