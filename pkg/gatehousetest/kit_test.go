package gatehousetest_test

import (
	"context"
	"errors"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
	"github.com/gatehouse-dev/gatehouse/pkg/gatehousetest"
)

// The suite shares one API server, started by the first test that needs
// it, the way an app's envtest suite would: a bare envtest.Environment
// (no CRDs: the kit installs them).
var (
	envOnce sync.Once
	env     *envtest.Environment
	envCfg  *rest.Config
	envErr  error
)

func apiServer(t *testing.T) *rest.Config {
	t.Helper()
	envOnce.Do(func() {
		// In an app: KUBEBUILDER_ASSETS (setup-envtest); here bin/k8s.
		assets, err := testenv.AssetsDir()
		if err != nil {
			envErr = err
			return
		}
		env = &envtest.Environment{BinaryAssetsDirectory: assets}
		envCfg, envErr = env.Start()
	})
	if envErr != nil {
		t.Fatalf("envtest: %v", envErr)
	}
	return envCfg
}

func TestMain(m *testing.M) {
	code := m.Run()
	if env != nil {
		if err := env.Stop(); err != nil {
			code = 1
		}
	}
	os.Exit(code)
}

const samples = "../../config/samples"

// check asks the kit and fails the test unless the answer is want (and,
// when reason is not empty, has that reason).
func check(t *testing.T, kit *gatehousetest.Kit, tenant string, r gatehousetest.Request, want bool, reason string) {
	t.Helper()
	d, err := kit.Check(context.Background(), tenant, r)
	if err != nil {
		t.Fatal(err)
	}
	if d.Allowed != want || (reason != "" && d.Reason != reason) {
		t.Errorf("%s %s %s %v: got allowed=%v reason=%s, want allowed=%v reason=%s",
			r.Subject, r.Action, r.ResourceType, r.ResourceProperties, d.Allowed, d.Reason, want, reason)
	}
}

func editWorkOrder(subject, unit string) gatehousetest.Request {
	return gatehousetest.Request{Subject: subject, Action: "edit", ResourceType: "workorders",
		ResourceID: "1001", ResourceProperties: map[string]any{"unit": unit}}
}

// TestSamples applies config/samples, checks decisions they imply, then
// changes a role and deletes a group and sees the decisions follow.
func TestSamples(t *testing.T) {
	ctx := context.Background()
	kit := gatehousetest.StartTest(t, apiServer(t), gatehousetest.Options{})
	const tenant = "acme-field-services"
	if err := kit.ApplyFiles(ctx, tenant, samples); err != nil {
		t.Fatal(err)
	}
	rev1, err := kit.WaitForRevision(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	check(t, kit, tenant, editWorkOrder("tom.tech", "/ca/ab/calgary"), true, "Allowed")
	check(t, kit, tenant, editWorkOrder("tom.tech", "/ca/ab/calgary/north"), true, "Allowed")
	check(t, kit, tenant, editWorkOrder("tom.tech", "/ca/bc/vancouver"), false, "ScopeNotMatched")
	check(t, kit, tenant, gatehousetest.Request{Subject: "tom.tech", Action: "archive", ResourceType: "workorders",
		ResourceProperties: map[string]any{"unit": "/ca/ab/calgary"}}, false, "NotPermitted")
	check(t, kit, tenant, gatehousetest.Request{Subject: "tom.tech", Action: "create", ResourceType: "purchaseorders",
		ResourceProperties: map[string]any{"amount": 9000}}, false, "ConditionFalse")
	check(t, kit, tenant, gatehousetest.Request{Subject: "new.hire", Action: "create", ResourceType: "workorders",
		SubjectProperties: map[string]any{"groups": []string{"acme-staff"}}}, true, "Allowed")
	check(t, kit, tenant, editWorkOrder("mallory", "/ca/ab/calgary"), false, "UnknownSubject")

	// Technicians lose edit: the decision flips in the next revision.
	err = kit.Apply(ctx, tenant, []byte(`
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata:
  name: technician
spec:
  displayName: Technician
  extends: [field-base]
  permissions:
  - resources: [workorders]
    actions: [view, create, assign]
    scope: unitTree
`))
	if err != nil {
		t.Fatal(err)
	}
	rev2, err := kit.WaitForRevision(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if rev2 == rev1 {
		t.Fatalf("revision %s did not change with the role", rev1)
	}
	check(t, kit, tenant, editWorkOrder("tom.tech", "/ca/ab/calgary"), false, "NotPermitted")
	check(t, kit, tenant, gatehousetest.Request{Subject: "tom.tech", Action: "view", ResourceType: "workorders",
		ResourceProperties: map[string]any{"unit": "/ca/ab/calgary"}}, true, "Allowed")

	// A deletion is waited for too: tom.tech's only group goes.
	crew := &accessv1.UserGroup{}
	crew.Namespace, crew.Name = tenant, "calgary-crew"
	if err := kit.Client.Delete(ctx, crew); err != nil {
		t.Fatal(err)
	}
	// calgary-branch includes calgary-crew: it is left out now, and
	// WaitForRevision says so with the revision.
	rev3, err := kit.WaitForRevision(ctx, tenant)
	var lo *gatehousetest.LeftOutError
	if !errors.As(err, &lo) || len(lo.Objects) != 1 || lo.Objects[0].Name != "calgary-branch" || lo.Revision != rev3 {
		t.Fatalf("WaitForRevision after the deletion: %q, %v; want calgary-branch left out", rev3, err)
	}
	if rev3 == rev2 {
		t.Fatalf("revision %s did not change with the deletion", rev2)
	}
	check(t, kit, tenant, gatehousetest.Request{Subject: "tom.tech", Action: "view", ResourceType: "workorders"}, false, "UnknownSubject")
}

// TestApplyErrors: malformed input is refused with an error naming the
// document, and nothing of it is applied.
func TestApplyErrors(t *testing.T) {
	ctx := context.Background()
	kit := gatehousetest.StartTest(t, apiServer(t), gatehousetest.Options{})
	const tenant = "bad-yaml"
	first := `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata:
  name: first
spec:
  fullAccess: true
`
	for _, tc := range []struct{ name, doc, want string }{
		{"syntax", "kind: Role\nmetadata: {name: x\n", "document 2"},
		{"no kind", "apiVersion: v1\nmetadata: {name: x}\n", "document 2: no kind"},
		{"no name", "apiVersion: access.gatehouse.dev/v1alpha1\nkind: Role\nspec: {}\n", "no metadata.name"},
		{"tab indent", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n\tname: x\n", "document 2"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := kit.Apply(ctx, tenant, []byte(first+"---\n"+tc.doc))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("Apply: %v, want an error with %q", err, tc.want)
			}
			var r accessv1.Role
			if err := kit.Client.Get(ctx, client.ObjectKey{Namespace: tenant, Name: "first"}, &r); !apierrors.IsNotFound(err) {
				t.Errorf("document 1 applied (%v)", err)
			}
		})
	}
	// Decoded fine, refused by the API server: the error names the object.
	err := kit.Apply(ctx, tenant, []byte("apiVersion: access.gatehouse.dev/v1alpha1\nkind: Role\nmetadata: {name: bad}\nspec: {permissions: [{resources: [x], actions: [view], scope: everywhere}]}\n"))
	if err == nil || !strings.Contains(err.Error(), "Role bad-yaml/bad") {
		t.Errorf("Apply of an invalid Role: %v", err)
	}
	err = kit.Apply(ctx, tenant, []byte("apiVersion: example.com/v1\nkind: Widget\nmetadata: {name: w}\n"))
	if err == nil || !strings.Contains(err.Error(), "Widget") {
		t.Errorf("Apply of an unknown kind: %v", err)
	}
	if err := kit.ApplyFiles(ctx, tenant, "testdata/missing.yaml"); err == nil {
		t.Error("ApplyFiles of a missing file: no error")
	}
}

// TestLeftOut: an object the webhook would refuse is applied, left out by
// the compiler, and WaitForRevision says so.
func TestLeftOut(t *testing.T) {
	ctx := context.Background()
	kit := gatehousetest.StartTest(t, apiServer(t), gatehousetest.Options{})
	const tenant = "left-out"
	err := kit.Apply(ctx, tenant, []byte(`
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: viewer}
spec:
  permissions: [{resources: [docs], actions: [view]}]
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: orphan}
spec:
  extends: [no-such-role]
`))
	if err != nil {
		t.Fatal(err)
	}
	rev, err := kit.WaitForRevision(ctx, tenant)
	var lo *gatehousetest.LeftOutError
	if !errors.As(err, &lo) {
		t.Fatalf("WaitForRevision: %v, want a LeftOutError", err)
	}
	if rev == "" || lo.Revision != rev || len(lo.Objects) == 0 || lo.Objects[0].Name != "orphan" || lo.Objects[0].Reason != accessv1.ReasonInvalidReference {
		t.Errorf("revision %q, %+v", rev, lo)
	}
	t.Log(err)
}

// TestRestart: a second kit on the same API server (CRDs already there)
// serves the tenants present at once, and Stop leaves no goroutine of
// Gatehouse or of the manager behind.
func TestRestart(t *testing.T) {
	ctx := context.Background()
	cfg := apiServer(t)
	const tenant = "restart"
	first, err := gatehousetest.Start(ctx, cfg, gatehousetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if err := first.ApplyFiles(ctx, tenant, samples+"/roles.yaml", samples+"/usergroups.yaml"); err != nil {
		t.Fatal(err)
	}
	rev, err := first.WaitForRevision(ctx, tenant)
	if err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Fatal(err)
	}
	if err := first.Stop(); err != nil {
		t.Errorf("second Stop: %v", err)
	}

	second, err := gatehousetest.Start(ctx, cfg, gatehousetest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	// Start returned: the tenant is served, no waiting needed.
	d, err := second.Check(ctx, tenant, editWorkOrder("tom.tech", "/ca/ab/calgary"))
	if err != nil || !d.Allowed || d.Revision != rev {
		t.Errorf("after restart: %+v, %v; want allowed in revision %s", d, err, rev)
	}
	if got, err := second.WaitForRevision(ctx, tenant); err != nil || got != rev {
		t.Errorf("WaitForRevision after restart: %q, %v; want %s", got, err, rev)
	}
	if len(kitGoroutines()) == 0 {
		t.Fatal("no goroutine of the running kit found: the leak check below would see nothing")
	}
	if err := second.Stop(); err != nil {
		t.Fatal(err)
	}
	if _, err := second.Check(ctx, tenant, editWorkOrder("tom.tech", "/ca/ab/calgary")); err == nil {
		t.Error("the endpoint answers after Stop")
	}

	var left []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		if left = kitGoroutines(); len(left) == 0 || time.Now().After(deadline) {
			break
		}
	}
	for _, g := range left {
		t.Errorf("goroutine left after Stop:\n%s", g)
	}
}

// kitGoroutines returns the stacks of the goroutines of a kit's manager,
// controllers, informers and endpoint.
func kitGoroutines() []string {
	ours := []string{
		"gatehouse-dev/gatehouse/controllers.",
		"gatehouse-dev/gatehouse/internal/",
		"gatehouse-dev/gatehouse/pkg/gatehousetest.",
		"sigs.k8s.io/controller-runtime/pkg/manager.",
		"sigs.k8s.io/controller-runtime/pkg/internal/controller.",
		"sigs.k8s.io/controller-runtime/pkg/cache.",
		"k8s.io/client-go/tools/cache.",
	}
	buf := make([]byte, 1<<22)
	buf = buf[:runtime.Stack(buf, true)]
	var out []string
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, o := range ours {
			if strings.Contains(g, o) {
				out = append(out, g)
				break
			}
		}
	}
	return out
}
