package main

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"
	ctrl "sigs.k8s.io/controller-runtime"
)

// TestMetricsAuthFilter checks --metrics-secure's filter against a fake API
// server: 401 without or with a rejected token, 403 for a caller RBAC does
// not allow get on the path, 200 for one it allows (asked once per TTL),
// 405 for other methods. test/installer checks the same over HTTPS against
// a real API server and the installer's RBAC.
func TestMetricsAuthFilter(t *testing.T) {
	cs := fake.NewClientset()
	var sars []authzv1.SubjectAccessReviewSpec
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		switch tr.Spec.Token {
		case "reader", "other":
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{
				Username: "system:serviceaccount:monitoring:" + tr.Spec.Token, Groups: []string{"system:serviceaccounts"},
				Extra: map[string]authnv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"p"}},
			}}
		}
		return true, tr, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
		sars = append(sars, sar.Spec)
		sar.Status.Allowed = sar.Spec.User == "system:serviceaccount:monitoring:reader" &&
			sar.Spec.NonResourceAttributes != nil && sar.Spec.NonResourceAttributes.Path == "/metrics" &&
			sar.Spec.NonResourceAttributes.Verb == "get" && sar.Spec.ResourceAttributes == nil
		return true, sar, nil
	})
	clock := time.Unix(0, 0)
	var filter = metricsAuthFilter(ctrl.Log, cs, func() time.Time { return clock })
	h, err := filter(ctrl.Log, http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { _, _ = w.Write([]byte("ok")) }))
	if err != nil {
		t.Fatal(err)
	}
	do := func(method, auth string) int {
		req := httptest.NewRequest(method, "/metrics", nil)
		if auth != "" {
			req.Header.Set("Authorization", auth)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		return rec.Code
	}
	for _, tc := range []struct {
		name, method, auth string
		want               int
	}{
		{"no token", "GET", "", http.StatusUnauthorized},
		{"not bearer", "GET", "Basic cmVhZGVyOg==", http.StatusUnauthorized},
		{"empty bearer", "GET", "Bearer ", http.StatusUnauthorized},
		{"rejected token", "GET", "Bearer forged", http.StatusUnauthorized},
		{"not allowed", "GET", "Bearer other", http.StatusForbidden},
		{"allowed", "GET", "Bearer reader", http.StatusOK},
		{"allowed, lower-case scheme", "GET", "bearer reader", http.StatusOK},
		{"HEAD", "HEAD", "Bearer reader", http.StatusOK},
		{"POST", "POST", "Bearer reader", http.StatusMethodNotAllowed},
	} {
		if got := do(tc.method, tc.auth); got != tc.want {
			t.Errorf("%s: %d, want %d", tc.name, got, tc.want)
		}
	}
	// The SubjectAccessReview carries the whole identity.
	if len(sars) == 0 || len(sars[0].Groups) != 1 || len(sars[0].Extra["authentication.kubernetes.io/pod-name"]) != 1 {
		t.Errorf("SubjectAccessReviews %+v: want the caller's groups and extra", sars)
	}
	// Allowed: cached for the TTL, then asked again. Denied: never cached.
	n := len(sars)
	do("GET", "Bearer reader")
	do("GET", "Bearer other")
	do("GET", "Bearer other")
	if got := len(sars) - n; got != 2 {
		t.Errorf("%d SubjectAccessReviews, want 2 (the denied caller's, uncached)", got)
	}
	clock = clock.Add(metricsAllowTTL + time.Second)
	n = len(sars)
	if got := do("GET", "Bearer reader"); got != http.StatusOK || len(sars) != n+1 {
		t.Errorf("after the TTL: %d with %d new reviews, want 200 with 1", got, len(sars)-n)
	}
}

func TestMetricsOptions(t *testing.T) {
	plain := metricsOptions(":8080", false, "/certs")
	if plain.SecureServing || plain.FilterProvider != nil || plain.BindAddress != ":8080" || plain.CertDir != "" {
		t.Errorf("--metrics-secure=false: %+v, want plain HTTP without a filter", plain)
	}
	secure := metricsOptions(":8080", true, "/certs")
	if !secure.SecureServing || secure.FilterProvider == nil || len(secure.TLSOpts) == 0 || secure.CertDir != "/certs" {
		t.Errorf("--metrics-secure: %+v, want HTTPS with the filter", secure)
	}
}
