package authz

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

type failingAuth struct{ err error }

func (f failingAuth) Authenticate(context.Context, string) (*Caller, error) { return nil, f.err }

type failingTenants struct{}

func (failingTenants) AuthorizeTenant(context.Context, *Caller, string) (bool, error) {
	return false, errors.New("down")
}

func TestCallerAuthentication(t *testing.T) {
	app := &Caller{Name: "app-a"}
	h, _ := newTestHandler(t, Options{
		Authenticator:    StaticTokens{"secret-a": app},
		TenantAuthorizer: TenantsByCaller{"app-a": {tenant}},
	})
	eval := `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"}}`
	cases := []struct {
		path, auth string
		status     int
	}{
		{base + "/access/v1/evaluation", "", 401},
		{base + "/access/v1/evaluation", "Bearer wrong", 401},
		{base + "/access/v1/evaluation", "Basic c2VjcmV0LWE=", 401},
		{base + "/access/v1/evaluation", "Bearer secret-a", 200},
		{base + "/access/v1/evaluation", "bearer secret-a", 200},
		{"/tenants/other/access/v1/evaluation", "Bearer secret-a", 403},
		{"/tenants/other/.well-known/authzen-configuration", "Bearer secret-a", 403},
	}
	for _, c := range cases {
		method := "POST"
		if strings.HasSuffix(c.path, "configuration") {
			method = "GET"
		}
		w := do(h, method, c.path, eval, "Authorization", c.auth)
		if w.Code != c.status {
			t.Errorf("%s %q: %d %s", c.path, c.auth, w.Code, w.Body)
		}
		if c.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
		if strings.Contains(w.Body.String(), "secret") {
			t.Errorf("token echoed: %s", w.Body)
		}
	}
	h2, _ := newTestHandler(t, Options{Authenticator: failingAuth{errors.New("apiserver down")}})
	if w := do(h2, "POST", base+"/access/v1/evaluation", eval, "Authorization", "Bearer x"); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("authn unavailable: %d", w.Code)
	}
	h3, _ := newTestHandler(t, Options{TenantAuthorizer: failingTenants{}})
	if w := do(h3, "POST", base+"/access/v1/evaluation", eval); w.Code != 503 {
		t.Errorf("tenant authz unavailable: %d", w.Code)
	}
	if _, err := New(store.New(), Options{}); err == nil {
		t.Error("New without security accepted")
	}
}
