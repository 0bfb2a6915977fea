package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/authz"
	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/pkg/client"
)

const tenant = "acme-field-services"

// gatehouse serves the real authorization endpoint over config/samples on
// a loopback port, as gatehouse serve does.
func gatehouse(t *testing.T) *httptest.Server {
	t.Helper()
	set, err := manifest.Read([]string{filepath.Join("..", "..", "config", "samples")}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	snap, problems := snapshot.Compile(tenant, set.SnapshotObjects(tenant))
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	st := store.New()
	st.Set(tenant, &store.Entry{Snapshot: snap, CompiledAt: time.Now()})
	h, err := authz.New(st, authz.Options{Authenticator: authz.None{}, TenantAuthorizer: authz.None{}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(h)
	t.Cleanup(srv.Close)
	return srv
}

// startApp runs the service against Gatehouse at url.
func startApp(t *testing.T, url string) *httptest.Server {
	t.Helper()
	gh, err := client.New(url, client.WithTenant(tenant), client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
	if err != nil {
		t.Fatal(err)
	}
	app := httptest.NewServer(newApp(gh, sampleOrders()))
	t.Cleanup(app.Close)
	return app
}

func call(t *testing.T, app *httptest.Server, method, path, user, body string) (int, string) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, app.URL+path, rd)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.Header.Set("X-User", user)
	}
	resp, err := app.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, strings.TrimSpace(string(b))
}

func TestWorkOrders(t *testing.T) {
	app := startApp(t, gatehouse(t).URL)
	tests := map[string]struct {
		method, path, user, body string
		wantCode                 int
		want                     string // a JSON value the answer must equal
		wantIDs                  string // for lists: the ids, comma-separated
	}{
		"allow, fields masked": {method: "GET", path: "/workorders/1", user: "tom.tech", wantCode: 200,
			want: `{"assigneeIds":["tom.tech"],"id":"1","ownerId":"sam.supervisor","status":"open","title":"Replace compressor","unit":"/ca/ab/calgary"}`},
		"allow, every field": {method: "GET", path: "/workorders/1", user: "bea.billing", wantCode: 200,
			want: `{"assigneeIds":["tom.tech"],"billingRate":95,"id":"1","margin":0.3,"ownerId":"sam.supervisor","status":"open","title":"Replace compressor","unit":"/ca/ab/calgary"}`},
		"deny: another unit":  {method: "GET", path: "/workorders/3", user: "tom.tech", wantCode: 403, want: `{"error":"forbidden: ScopeNotMatched"}`},
		"deny: not assigned":  {method: "GET", path: "/workorders/1", user: "alex.apprentice", wantCode: 403, want: `{"error":"forbidden: ScopeNotMatched"}`},
		"unknown user":        {method: "GET", path: "/workorders/1", user: "mallory", wantCode: 403, want: `{"error":"forbidden: UnknownSubject"}`},
		"no user":             {method: "GET", path: "/workorders/1", wantCode: 401, want: `{"error":"unauthenticated"}`},
		"no such work order":  {method: "GET", path: "/workorders/99", user: "tom.tech", wantCode: 404, want: `{"error":"no such work order"}`},
		"list: unit tree":     {method: "GET", path: "/workorders", user: "tom.tech", wantCode: 200, wantIDs: "1,2,4"},
		"list: own, assigned": {method: "GET", path: "/workorders", user: "alex.apprentice", wantCode: 200, wantIDs: "2,4"},
		"list: everything":    {method: "GET", path: "/workorders", user: "dana.director", wantCode: 200, wantIDs: "1,2,3,4"},
		"list: nothing":       {method: "GET", path: "/workorders", user: "sue.supplier", wantCode: 200, wantIDs: ""},
		"edit a writable field": {method: "PATCH", path: "/workorders/1", user: "tom.tech", body: `{"status":"done"}`, wantCode: 200,
			want: `{"assigneeIds":["tom.tech"],"id":"1","ownerId":"sam.supervisor","status":"done","title":"Replace compressor","unit":"/ca/ab/calgary"}`},
		"edit a hidden field": {method: "PATCH", path: "/workorders/1", user: "tom.tech", body: `{"billingRate":1}`, wantCode: 403, want: `{"error":"billingRate: not writable"}`},
		"edit denied":         {method: "PATCH", path: "/workorders/1", user: "vic.viewer", body: `{"status":"done"}`, wantCode: 403, want: `{"error":"forbidden: NotPermitted"}`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, body := call(t, app, tc.method, tc.path, tc.user, tc.body)
			if code != tc.wantCode {
				t.Fatalf("%d %s", code, body)
			}
			switch {
			case tc.want != "":
				if !jsonEqual(t, body, tc.want) {
					t.Errorf("got %s\nwant %s", body, tc.want)
				}
			case tc.method == "GET" && tc.path == "/workorders":
				var list []map[string]any
				if err := json.Unmarshal([]byte(body), &list); err != nil {
					t.Fatal(err)
				}
				ids := make([]string, len(list))
				for i, wo := range list {
					ids[i], _ = wo["id"].(string)
					if _, leaked := wo["margin"]; leaked && tc.user == "tom.tech" {
						t.Errorf("margin shown to %s", tc.user)
					}
				}
				if got := strings.Join(ids, ","); got != tc.wantIDs {
					t.Errorf("ids %s, want %s", got, tc.wantIDs)
				}
			}
		})
	}
}

func jsonEqual(t *testing.T, a, b string) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal([]byte(a), &x); err != nil {
		return false
	}
	if err := json.Unmarshal([]byte(b), &y); err != nil {
		t.Fatal(err)
	}
	xs, _ := json.Marshal(x)
	ys, _ := json.Marshal(y)
	return string(xs) == string(ys)
}

// TestFailClosed: with Gatehouse unreachable or broken, nothing is
// served.
func TestFailClosed(t *testing.T) {
	broken := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusInternalServerError)
		_, _ = io.WriteString(w, `{"decision":true,"kind":"always"}`)
	}))
	t.Cleanup(broken.Close)
	down := httptest.NewServer(http.NotFoundHandler())
	down.Close()
	for name, url := range map[string]string{"500": broken.URL, "down": down.URL} {
		t.Run(name, func(t *testing.T) {
			app := startApp(t, url)
			for _, path := range []string{"/workorders/1", "/workorders"} {
				if code, body := call(t, app, "GET", path, "dana.director", ""); code != http.StatusServiceUnavailable {
					t.Errorf("%s: %d %s", path, code, body)
				}
			}
		})
	}
}

// TestWhere checks the SQL a database-backed version would run.
func TestWhere(t *testing.T) {
	gh, err := client.New(gatehouse(t).URL, client.WithTenant(tenant))
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct{ where, args string }{
		"alex.apprentice": {`("w"."owner_id" = $1 OR $2 = ANY("w"."assignee_ids"))`, `["alex.apprentice","alex.apprentice"]`},
		"dana.director":   {"TRUE", "null"},
		"sue.supplier":    {"FALSE", "null"},
	}
	for who, tc := range tests {
		t.Run(who, func(t *testing.T) {
			w, args, err := where(context.Background(), gh, who)
			if err != nil {
				t.Fatal(err)
			}
			a, _ := json.Marshal(args)
			if w != tc.where || string(a) != tc.args {
				t.Errorf("%s %s", w, a)
			}
		})
	}
}
