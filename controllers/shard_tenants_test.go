package controllers

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
)

// TestShardTenants checks what readiness waits for: the tenants present at
// start that the shard serves, never another shard's.
func TestShardTenants(t *testing.T) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := accessv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	ns := func(name, shard string) client.Object {
		o := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
		if shard != "" {
			o.Labels = map[string]string{ShardLabel: shard}
		}
		return o
	}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		ns("t-a", "a"), ns("t-b", "b"), ns("t-plain", ""), ns("t-typo", "zz"),
		&accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "t-a", Name: "r"}},
		&accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: "t-b", Name: "g"}},
		&accessv1.FieldPolicy{ObjectMeta: metav1.ObjectMeta{Namespace: "t-plain", Name: "f"}},
		&accessv1.ApprovalChain{ObjectMeta: metav1.ObjectMeta{Namespace: "t-typo", Name: "c"}},
		// Objects whose namespace is not known (yet): nobody waits for them.
		&accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: "t-gone", Name: "r"}},
	).Build()

	tests := map[string]struct {
		shard Shard
		want  []string
	}{
		"unsharded waits for every tenant": {Shard{}, []string{"t-a", "t-b", "t-gone", "t-plain", "t-typo"}},
		"default shard a":                  {Shard{Name: "a", Default: true}, []string{"t-a", "t-plain"}},
		"shard a":                          {Shard{Name: "a"}, []string{"t-a"}},
		"shard b":                          {Shard{Name: "b"}, []string{"t-b"}},
		"a shard with no tenants":          {Shard{Name: "c"}, nil},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := shardTenants(context.Background(), c, tc.shard)
			if err != nil {
				t.Fatal(err)
			}
			if len(got) != len(tc.want) {
				t.Errorf("tenants %v, want %v", got, tc.want)
			}
			for _, tenant := range tc.want {
				if !got[tenant] {
					t.Errorf("tenants %v lack %s", got, tenant)
				}
			}
		})
	}
}
