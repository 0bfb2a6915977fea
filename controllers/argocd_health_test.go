package controllers_test

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	lua "github.com/yuin/gopher-lua"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/testenv"
)

// argoHealth runs config/argocd/health.lua on obj the way Argo CD does: obj
// as a Lua table in the global `obj`, the script's returned table read for
// status and message, with only the libraries Argo CD opens.
func argoHealth(obj map[string]any) (status, message string, err error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return "", "", err
	}
	script, err := os.ReadFile(filepath.Join(root, "config", "argocd", "health.lua"))
	if err != nil {
		return "", "", err
	}
	L := lua.NewState(lua.Options{SkipOpenLibs: true})
	defer L.Close()
	for _, lib := range []struct {
		name string
		open lua.LGFunction
	}{{lua.BaseLibName, lua.OpenBase}, {lua.TabLibName, lua.OpenTable}, {lua.StringLibName, lua.OpenString}, {lua.MathLibName, lua.OpenMath}} {
		L.Push(L.NewFunction(lib.open))
		L.Push(lua.LString(lib.name))
		L.Call(1, 0)
	}
	L.SetGlobal("obj", toLua(L, obj))
	if err := L.DoString(string(script)); err != nil {
		return "", "", err
	}
	hs, ok := L.Get(-1).(*lua.LTable)
	if !ok {
		return "", "", nil
	}
	return lua.LVAsString(hs.RawGetString("status")), lua.LVAsString(hs.RawGetString("message")), nil
}

// toLua converts decoded JSON as Argo CD's Lua VM does: objects and arrays
// become tables, numbers LNumber.
func toLua(L *lua.LState, v any) lua.LValue {
	switch v := v.(type) {
	case map[string]any:
		t := L.NewTable()
		for k, x := range v {
			t.RawSetString(k, toLua(L, x))
		}
		return t
	case []any:
		t := L.NewTable()
		for _, x := range v {
			t.Append(toLua(L, x))
		}
		return t
	case string:
		return lua.LString(v)
	case bool:
		return lua.LBool(v)
	case int64:
		return lua.LNumber(v)
	case float64:
		return lua.LNumber(v)
	default:
		return lua.LNil
	}
}

func TestArgoCDHealth(t *testing.T) {
	ready := func(status, reason, message string, gen int64) map[string]any {
		return map[string]any{"type": "Ready", "status": status, "reason": reason, "message": message, "observedGeneration": gen}
	}
	object := func(gen int64, status map[string]any) map[string]any {
		o := map[string]any{"metadata": map[string]any{"name": "x", "generation": gen}}
		if status != nil {
			o["status"] = status
		}
		return o
	}
	tests := map[string]struct {
		obj         map[string]any
		wantStatus  string
		wantMessage string
	}{
		"not compiled yet": {
			obj: object(1, nil), wantStatus: "Progressing", wantMessage: "Waiting for the Gatehouse operator",
		},
		"status without conditions": {
			obj: object(1, map[string]any{"observedGeneration": int64(1)}), wantStatus: "Progressing",
		},
		"served": {
			obj: object(2, map[string]any{"observedGeneration": int64(2), "revision": "sha256:abc",
				"conditions": []any{ready("True", "Compiled", "", 2)}}),
			wantStatus: "Healthy", wantMessage: "Served in snapshot revision sha256:abc",
		},
		"left out": {
			obj: object(3, map[string]any{"observedGeneration": int64(3),
				"conditions": []any{ready("False", "InvalidReference", `spec.roles[0]: Role "ghost" does not exist`, 3)}}),
			wantStatus: "Degraded", wantMessage: `InvalidReference: spec.roles[0]: Role "ghost" does not exist`,
		},
		"status of an older generation": {
			obj: object(4, map[string]any{"observedGeneration": int64(3),
				"conditions": []any{ready("True", "Compiled", "", 3)}}),
			wantStatus: "Progressing", wantMessage: "compile generation 4",
		},
		"Ready of an older generation": {
			obj: object(4, map[string]any{"observedGeneration": int64(4),
				"conditions": []any{ready("False", "Cycle", "", 3)}}),
			wantStatus: "Progressing",
		},
		"other conditions only": {
			obj: object(1, map[string]any{"observedGeneration": int64(1),
				"conditions": []any{map[string]any{"type": "Other", "status": "True"}}}),
			wantStatus: "Progressing",
		},
		"Ready unknown": {
			obj: object(1, map[string]any{"observedGeneration": int64(1),
				"conditions": []any{ready("Unknown", "Compiling", "", 1)}}),
			wantStatus: "Progressing",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			status, message, err := argoHealth(tc.obj)
			if err != nil {
				t.Fatal(err)
			}
			if status != tc.wantStatus || !strings.Contains(message, tc.wantMessage) {
				t.Errorf("got %s %q, want %s containing %q", status, message, tc.wantStatus, tc.wantMessage)
			}
		})
	}
}

// Every kind of the API group has a health check in config/argocd, so a new
// kind cannot be forgotten.
func TestArgoCDHealthCoversEveryKind(t *testing.T) {
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "config", "argocd", "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var kust struct {
		ConfigMapGenerator []struct {
			Files []string `json:"files"`
		} `json:"configMapGenerator"`
	}
	if err := yaml.Unmarshal(raw, &kust); err != nil {
		t.Fatal(err)
	}
	var covered []string
	for _, g := range kust.ConfigMapGenerator {
		for _, f := range g.Files {
			key, file, _ := strings.Cut(f, "=")
			if file != "health.lua" {
				t.Errorf("%s runs %s, not health.lua", key, file)
			}
			covered = append(covered, strings.TrimPrefix(key, "resource.customizations.health."+accessv1.GroupVersion.Group+"_"))
		}
	}
	s := runtime.NewScheme()
	if err := accessv1.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	for kind := range s.KnownTypes(accessv1.GroupVersion) {
		if strings.HasSuffix(kind, "List") || kind == "WatchEvent" || strings.HasSuffix(kind, "Options") || kind == "Status" || kind == "APIGroup" || kind == "APIResourceList" {
			continue
		}
		if !slices.Contains(covered, kind) {
			t.Errorf("no Argo CD health check for %s", kind)
		}
	}
}

var _ = Describe("Argo CD health", Ordered, func() {
	const tenant = "argo"
	var r *replica

	BeforeAll(func() {
		createNamespace(tenant)
		r = startReplica(replicaOptions{name: "argo"})
	})
	AfterAll(func() {
		r.stop()
	})

	// health runs the script on the object as stored; g is the polling
	// function's Gomega, so a missing object retries instead of failing.
	health := func(g Gomega, kind, name string) (string, string) {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(accessv1.GroupVersion.WithKind(kind))
		g.Expect(k8s.Get(ctx, client.ObjectKey{Namespace: tenant, Name: name}, u)).To(Succeed())
		status, message, err := argoHealth(u.Object)
		g.Expect(err).NotTo(HaveOccurred())
		return status, message
	}

	It("reports served objects Healthy and left-out ones Degraded with the reason", func() {
		Expect(k8s.Create(ctx, &accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "viewer"},
			Spec: accessv1.RoleSpec{Permissions: []accessv1.Permission{{Resources: []accessv1.ModuleName{"workorders"}, Actions: []accessv1.ActionName{"view"}}}}})).To(Succeed())
		Expect(k8s.Create(ctx, &accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "crew"},
			Spec: accessv1.UserGroupSpec{Members: []accessv1.SubjectID{"ann"}, Roles: []accessv1.ObjectName{"viewer"}}})).To(Succeed())
		Expect(k8s.Create(ctx, &accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "ghosts"},
			Spec: accessv1.UserGroupSpec{Members: []accessv1.SubjectID{"bob"}, Roles: []accessv1.ObjectName{"ghost"}}})).To(Succeed())

		Eventually(func(g Gomega) {
			for _, o := range [][2]string{{"Role", "viewer"}, {"UserGroup", "crew"}, {"PermissionSnapshot", accessv1.SnapshotObjectName}} {
				status, message := health(g, o[0], o[1])
				g.Expect(status).To(Equal("Healthy"), "%s %s: %s", o[0], o[1], message)
				g.Expect(message).To(ContainSubstring(r.revision(tenant)))
			}
			status, message := health(g, "UserGroup", "ghosts")
			g.Expect(status).To(Equal("Degraded"))
			g.Expect(message).To(HavePrefix("InvalidReference: spec.roles[0]"))
		}, wait).Should(Succeed())
	})
})
