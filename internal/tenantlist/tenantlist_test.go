package tenantlist

import (
	"context"
	"errors"
	"slices"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// TestFields checks that every access kind has its field, in the table's
// order, under the name problems give it.
func TestFields(t *testing.T) {
	snapshotKinds := map[string]string{
		accessv1.KindRole:          snapshot.KindRole,
		accessv1.KindUserGroup:     snapshot.KindUserGroup,
		accessv1.KindFieldPolicy:   snapshot.KindFieldPolicy,
		accessv1.KindApprovalChain: snapshot.KindApprovalChain,
	}
	if len(fields) != len(accessv1.AccessKinds) {
		t.Fatalf("%d fields for %d access kinds", len(fields), len(accessv1.AccessKinds))
	}
	for i, k := range accessv1.AccessKinds {
		if fields[i].kind != k.Kind {
			t.Errorf("field %d is %s, want %s", i, fields[i].kind, k.Kind)
		}
		if snapshotKinds[k.Kind] != k.Kind {
			t.Errorf("%s is %q in problems", k.Kind, snapshotKinds[k.Kind])
		}
	}
}

func TestList(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := accessv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	meta := func(ns, name string) metav1.ObjectMeta { return metav1.ObjectMeta{Namespace: ns, Name: name} }
	deleting := meta("t", "r-deleting")
	now := metav1.Now()
	deleting.DeletionTimestamp = &now
	deleting.Finalizers = []string{"example.com/hold"}
	objs := []client.Object{
		&accessv1.Role{ObjectMeta: meta("t", "r1")},
		&accessv1.Role{ObjectMeta: deleting},
		&accessv1.Role{ObjectMeta: meta("other", "r-other")},
		&accessv1.UserGroup{ObjectMeta: meta("t", "g1")},
		&accessv1.UserGroup{ObjectMeta: meta("t", "g2")},
		&accessv1.FieldPolicy{ObjectMeta: meta("t", "f1")},
		&accessv1.ApprovalChain{ObjectMeta: meta("other", "c-other")},
	}
	live := func(o accessv1.AccessObject) bool { return o.GetDeletionTimestamp() == nil }

	tests := map[string]struct {
		namespace string
		keep      func(accessv1.AccessObject) bool
		listErr   error
		want      []string // kind/name, kind by kind
		wantErr   bool
	}{
		"every object of the namespace": {
			namespace: "t",
			want:      []string{"Role/r-deleting", "Role/r1", "UserGroup/g1", "UserGroup/g2", "FieldPolicy/f1"},
		},
		"kept objects only": {
			namespace: "t", keep: live,
			want: []string{"Role/r1", "UserGroup/g1", "UserGroup/g2", "FieldPolicy/f1"},
		},
		"another namespace": {
			namespace: "other",
			want:      []string{"Role/r-other", "ApprovalChain/c-other"},
		},
		"an empty namespace": {namespace: "none"},
		"a failing list":     {namespace: "t", listErr: errors.New("boom"), wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			var seen []client.ListOption
			c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(objs...).WithInterceptorFuncs(interceptor.Funcs{
				List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
					seen = append(seen, opts...)
					if tc.listErr != nil {
						return tc.listErr
					}
					return c.List(ctx, list, opts...)
				},
			}).Build()
			got, err := List(context.Background(), c, tc.namespace, tc.keep, client.UnsafeDisableDeepCopy)
			if (err != nil) != tc.wantErr {
				t.Fatalf("err %v", err)
			}
			if err != nil {
				if len(Objects(&got)) != 0 {
					t.Error("objects returned with an error")
				}
				return
			}
			if len(seen) != 2*len(accessv1.AccessKinds) || !slices.Contains(seen, client.ListOption(client.UnsafeDisableDeepCopy)) {
				t.Errorf("list options %v", seen)
			}
			var names []string
			for _, o := range Objects(&got) {
				names = append(names, o.AccessKind()+"/"+o.GetName())
			}
			if !slices.Equal(names, tc.want) {
				t.Errorf("objects %v, want %v", names, tc.want)
			}
		})
	}
}

// TestObjectsPointIntoSlices checks that Objects does not copy: the
// controllers' status items point into the compiler's input.
func TestObjectsPointIntoSlices(t *testing.T) {
	objs := snapshot.Objects{
		Roles:          []accessv1.Role{{}},
		Groups:         []accessv1.UserGroup{{}},
		FieldPolicies:  []accessv1.FieldPolicy{{}},
		ApprovalChains: []accessv1.ApprovalChain{{}},
	}
	for _, o := range Objects(&objs) {
		o.SetName("x")
		o.AccessStatus().Revision = "r"
	}
	if objs.Roles[0].Name != "x" || objs.Groups[0].Name != "x" || objs.FieldPolicies[0].Name != "x" || objs.ApprovalChains[0].Name != "x" {
		t.Errorf("names not set through Objects: %+v", objs)
	}
	if objs.Roles[0].Status.Revision != "r" || objs.ApprovalChains[0].Status.Revision != "r" {
		t.Error("status not set through Objects")
	}
}
