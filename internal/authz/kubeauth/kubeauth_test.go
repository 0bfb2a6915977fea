package kubeauth

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/gatehouse-dev/gatehouse/internal/authz"
)

// fakeCluster answers TokenReviews from a token table and SARs from a
// (user, namespace) table, counting calls.
func fakeCluster(tokens map[string]string, allowed map[[2]string]bool, fail *atomic.Bool) (*fake.Clientset, *atomic.Int32, *atomic.Int32) {
	cs := fake.NewClientset()
	var trs, sars atomic.Int32
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		trs.Add(1)
		if fail != nil && fail.Load() {
			return true, nil, errors.New("apiserver down")
		}
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		if user, ok := tokens[tr.Spec.Token]; ok {
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: user, Groups: []string{"g"}}, Audiences: tr.Spec.Audiences}
		}
		return true, tr, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sars.Add(1)
		if fail != nil && fail.Load() {
			return true, nil, errors.New("apiserver down")
		}
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		if ra.Group != Group || ra.Resource != Resource || ra.Verb != Verb {
			return true, nil, errors.New("unexpected attributes")
		}
		sar.Status.Allowed = allowed[[2]string{sar.Spec.User, ra.Namespace}]
		return true, sar, nil
	})
	return cs, &trs, &sars
}

func TestAuthenticatorCaches(t *testing.T) {
	var fail atomic.Bool
	cs, trs, _ := fakeCluster(map[string]string{"good": "app-a"}, nil, &fail)
	now := time.Unix(1000, 0)
	a := NewAuthenticator(cs, Options{PositiveTTL: time.Minute, NegativeTTL: 5 * time.Second})
	a.cache.now = func() time.Time { return now }
	ctx := context.Background()

	c, err := a.Authenticate(ctx, "good")
	if err != nil || c.Name != "app-a" || c.Key == "" {
		t.Fatalf("good token: %v %v", c, err)
	}
	for i := 0; i < 5; i++ {
		if _, err := a.Authenticate(ctx, "good"); err != nil {
			t.Fatal(err)
		}
	}
	if trs.Load() != 1 {
		t.Errorf("%d TokenReviews, want 1 (cached)", trs.Load())
	}
	for i := 0; i < 3; i++ {
		if _, err := a.Authenticate(ctx, "bad"); !errors.Is(err, authz.ErrUnauthenticated) {
			t.Fatalf("bad token: %v", err)
		}
	}
	if trs.Load() != 2 {
		t.Errorf("%d TokenReviews, want 2 (negative cached)", trs.Load())
	}
	if _, err := a.Authenticate(ctx, ""); !errors.Is(err, authz.ErrUnauthenticated) {
		t.Errorf("empty token: %v", err)
	}
	now = now.Add(6 * time.Second) // negative entry expired, positive not
	// Only the TokenReview count matters here, not the answers.
	_, _ = a.Authenticate(ctx, "bad")
	_, _ = a.Authenticate(ctx, "good")
	if trs.Load() != 3 {
		t.Errorf("%d TokenReviews after negative TTL, want 3", trs.Load())
	}
	now = now.Add(time.Minute)
	fail.Store(true)
	if _, err := a.Authenticate(ctx, "good"); err == nil || errors.Is(err, authz.ErrUnauthenticated) {
		t.Errorf("API failure must be an error other than ErrUnauthenticated: %v", err)
	}
	fail.Store(false)
	if _, err := a.Authenticate(ctx, "good"); err != nil {
		t.Errorf("after recovery: %v (errors must not be cached)", err)
	}
}

func TestAuthenticatorAudiences(t *testing.T) {
	cs, _, _ := fakeCluster(map[string]string{"good": "app-a"}, nil, nil)
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: "x"}, Audiences: []string{"other"}}
		return true, tr, nil
	})
	a := NewAuthenticator(cs, Options{Audiences: []string{"gatehouse"}})
	if _, err := a.Authenticate(context.Background(), "good"); !errors.Is(err, authz.ErrUnauthenticated) {
		t.Errorf("token for another audience accepted: %v", err)
	}
}

func TestTenantAuthorizerCaches(t *testing.T) {
	cs, _, sars := fakeCluster(nil, map[[2]string]bool{{"app-a", "tenant-a"}: true}, nil)
	now := time.Unix(1000, 0)
	z := NewTenantAuthorizer(cs, Options{PositiveTTL: time.Minute, NegativeTTL: 5 * time.Second})
	z.cache.now = func() time.Time { return now }
	ctx := context.Background()
	a := &authz.Caller{Name: "app-a", Groups: []string{"g"}}
	a.Key = identityKey(a)
	for i := 0; i < 3; i++ {
		if ok, err := z.AuthorizeTenant(ctx, a, "tenant-a"); !ok || err != nil {
			t.Fatalf("own tenant: %v %v", ok, err)
		}
		if ok, err := z.AuthorizeTenant(ctx, a, "tenant-b"); ok || err != nil {
			t.Fatalf("other tenant: %v %v", ok, err)
		}
	}
	if sars.Load() != 2 {
		t.Errorf("%d SARs, want 2", sars.Load())
	}
	// Same name, other groups: a different identity, not a cache hit.
	b := &authz.Caller{Name: "app-a", Groups: []string{"g", "admins"}}
	b.Key = identityKey(b)
	_, _ = z.AuthorizeTenant(ctx, b, "tenant-a") // only the SAR count matters here
	if sars.Load() != 3 {
		t.Errorf("identity with other groups shared a cache entry")
	}
	now = now.Add(6 * time.Second)
	_, _ = z.AuthorizeTenant(ctx, a, "tenant-b")
	_, _ = z.AuthorizeTenant(ctx, a, "tenant-a")
	if sars.Load() != 4 {
		t.Errorf("%d SARs after negative TTL, want 4", sars.Load())
	}
}

func TestTTLCacheBounded(t *testing.T) {
	c := newTTLCache[int, int](100)
	for i := 0; i < 1000; i++ {
		c.put(i, i, time.Hour)
		if c.len() > 100 {
			t.Fatalf("cache grew to %d", c.len())
		}
	}
	if v, ok := c.get(999); !ok || v != 999 {
		t.Errorf("latest entry missing")
	}
}
