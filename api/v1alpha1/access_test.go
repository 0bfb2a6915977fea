package v1alpha1_test

import (
	"testing"

	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"

	v1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// TestAccessKinds checks the table of access kinds against the types: every
// kind is in it once, its constructors make the kind the scheme knows by
// that name, and its list's items are the list's own.
func TestAccessKinds(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := v1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	cases := map[string]struct {
		obj    runtime.Object  // an object of the kind, of the type New must return
		nilObj v1.AccessObject // a nil pointer of that type
		status func(runtime.Object) *v1.AccessObjectStatus
	}{
		v1.KindRole: {&v1.Role{}, (*v1.Role)(nil),
			func(o runtime.Object) *v1.AccessObjectStatus { return &o.(*v1.Role).Status }},
		v1.KindUserGroup: {&v1.UserGroup{}, (*v1.UserGroup)(nil),
			func(o runtime.Object) *v1.AccessObjectStatus { return &o.(*v1.UserGroup).Status }},
		v1.KindFieldPolicy: {&v1.FieldPolicy{}, (*v1.FieldPolicy)(nil),
			func(o runtime.Object) *v1.AccessObjectStatus { return &o.(*v1.FieldPolicy).Status }},
		v1.KindApprovalChain: {&v1.ApprovalChain{}, (*v1.ApprovalChain)(nil),
			func(o runtime.Object) *v1.AccessObjectStatus { return &o.(*v1.ApprovalChain).Status }},
	}
	if len(v1.AccessKinds) != len(cases) {
		t.Errorf("%d access kinds in the table, want %d", len(v1.AccessKinds), len(cases))
	}
	for _, k := range v1.AccessKinds {
		if _, ok := cases[k.Kind]; !ok {
			t.Errorf("table has %q, which is not an access kind", k.Kind)
		}
	}
	if _, ok := v1.LookupAccessKind("PermissionSnapshot"); ok {
		t.Error("PermissionSnapshot found as an access kind")
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			k, ok := v1.LookupAccessKind(name)
			if !ok || k.Kind != name {
				t.Fatalf("lookup: %q, %v", k.Kind, ok)
			}
			obj := k.New()
			if gvk := kindOf(t, scheme, obj); gvk != v1.GroupVersion.WithKind(name).String() {
				t.Errorf("New makes %s", gvk)
			}
			if gvk := kindOf(t, scheme, tc.obj); gvk != v1.GroupVersion.WithKind(name).String() {
				t.Fatalf("case object is a %s", gvk)
			}
			if obj.AccessKind() != name {
				t.Errorf("AccessKind() = %q", obj.AccessKind())
			}
			// A nil pointer knows its kind too: admission identifies
			// objects by it before reading them.
			if tc.nilObj.AccessKind() != name {
				t.Errorf("nil pointer's AccessKind() = %q", tc.nilObj.AccessKind())
			}
			if obj.AccessStatus() != tc.status(obj) {
				t.Error("AccessStatus() does not point to the object's status")
			}
			list := k.NewList()
			if gvk := kindOf(t, scheme, list); gvk != v1.GroupVersion.WithKind(name+"List").String() {
				t.Errorf("NewList makes %s", gvk)
			}

			// Items come out in order, pointing into the list.
			a, b := k.New(), k.New()
			a.SetName("a")
			b.SetName("b")
			if err := meta.SetList(list, []runtime.Object{a, b}); err != nil {
				t.Fatal(err)
			}
			items := list.AccessItems()
			if len(items) != 2 || items[0].GetName() != "a" || items[1].GetName() != "b" {
				t.Fatalf("items %v", items)
			}
			items[1].SetName("renamed")
			items[1].AccessStatus().Revision = "r1"
			stored, err := meta.ExtractList(list)
			if err != nil {
				t.Fatal(err)
			}
			if got := stored[1].(metav1.Object).GetName(); got != "renamed" {
				t.Errorf("items are copies: the list's second item is named %q", got)
			}
			if got := tc.status(stored[1]).Revision; got != "r1" {
				t.Errorf("statuses are copies: revision %q", got)
			}
			if n := len(k.NewList().AccessItems()); n != 0 {
				t.Errorf("a new list has %d items", n)
			}
		})
	}
}

func kindOf(t *testing.T, scheme *runtime.Scheme, obj runtime.Object) string {
	t.Helper()
	gvks, _, err := scheme.ObjectKinds(obj)
	if err != nil || len(gvks) != 1 {
		t.Fatalf("%T: %v %v", obj, gvks, err)
	}
	return gvks[0].String()
}
