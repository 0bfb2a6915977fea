package console

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
)

// samples is config/samples, relative to this package.
var samples = filepath.Join("..", "..", "config", "samples")

// newTestServer returns a console over the manifests at paths.
func newTestServer(t testing.TB, paths ...string) *Server {
	t.Helper()
	s, err := New(context.Background(), Options{
		Load:   func(context.Context) (*manifest.Set, error) { return manifest.Read(paths, manifest.Options{}) },
		Source: strings.Join(paths, ", "),
		Now:    func() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// newYAMLServer returns a console over one manifest file with content yaml.
func newYAMLServer(t testing.TB, yaml string) *Server {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return newTestServer(t, dir)
}

// get serves one GET from a loopback client and returns the status and body.
func get(t testing.TB, s http.Handler, path string) (int, string) {
	t.Helper()
	return do(t, s, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8099"+path, nil))
}

func do(t testing.TB, s http.Handler, r *http.Request) (int, string) {
	t.Helper()
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	body, _ := io.ReadAll(w.Result().Body)
	return w.Code, string(body)
}

func TestHomeAndOverview(t *testing.T) {
	s := newTestServer(t, samples)
	tests := map[string]struct {
		path     string
		code     int
		contains []string
	}{
		"home lists the tenant": {path: "/", code: 200,
			contains: []string{`<a href="/t/acme-field-services/">acme-field-services</a>`, "<caption>"}},
		"overview": {path: "/t/acme-field-services/", code: 200,
			contains: []string{"Revision", "Roles", `aria-current="page"`, "Nothing is left out"}},
		"unknown tenant": {path: "/t/nobody/", code: 404, contains: []string{"No tenant &#34;nobody&#34;"}},
		"a hostile tenant name is cut and escaped": {path: "/t/" + strings.Repeat("%3Cscript%3E", 20) + "/", code: 404,
			contains: []string{"No tenant &#34;&lt;script&gt;"}},
		"unknown page":  {path: "/nope", code: 404},
		"assets served": {path: "/assets/console.css", code: 200, contains: []string{"--full"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, body := get(t, s, tc.path)
			if code != tc.code {
				t.Fatalf("GET %s: %d, want %d: %.300s", tc.path, code, tc.code, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("GET %s: no %q in %.2000s", tc.path, c, body)
				}
			}
			if strings.Contains(body, "<script>") {
				t.Errorf("GET %s: unescaped script tag", tc.path)
			}
		})
	}
}

func TestOverviewLeftOut(t *testing.T) {
	s := newYAMLServer(t, `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: bad, namespace: acme}
spec:
  permissions:
  - resources: [workorders]
    actions: [view]
    when: "resource.properties.amount <"
`)
	code, body := get(t, s, "/t/acme/")
	if code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	for _, want := range []string{"Role bad", "spec.permissions[0].when", "InvalidExpression", "policy.yaml:"} {
		if !strings.Contains(body, want) {
			t.Errorf("overview lacks %q: %.3000s", want, body)
		}
	}
}

func TestRefusesForeignHostsAndCrossOriginPosts(t *testing.T) {
	s := newTestServer(t, samples)
	tests := map[string]struct {
		host, method, origin string
		code                 int
	}{
		"loopback v4":              {host: "127.0.0.1:8099", method: "GET", code: 200},
		"localhost":                {host: "localhost:8099", method: "GET", code: 200},
		"loopback v6":              {host: "[::1]:8099", method: "GET", code: 200},
		"DNS rebinding":            {host: "evil.example:8099", method: "GET", code: http.StatusMisdirectedRequest},
		"a LAN address":            {host: "192.168.1.10:8099", method: "GET", code: http.StatusMisdirectedRequest},
		"cross-origin post":        {host: "127.0.0.1:8099", method: "POST", origin: "http://evil.example", code: http.StatusForbidden},
		"same-origin post reaches": {host: "127.0.0.1:8099", method: "POST", origin: "http://127.0.0.1:8099", code: http.StatusMethodNotAllowed},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			r := httptest.NewRequest(tc.method, "http://"+tc.host+"/", nil)
			r.Host = tc.host
			if tc.origin != "" {
				r.Header.Set("Origin", tc.origin)
			}
			code, body := do(t, s, r)
			if code != tc.code {
				t.Errorf("%d, want %d: %.200s", code, tc.code, body)
			}
		})
	}
}

func TestSecurityHeaders(t *testing.T) {
	s := newTestServer(t, samples)
	w := httptest.NewRecorder()
	s.ServeHTTP(w, httptest.NewRequest(http.MethodGet, "http://127.0.0.1:8099/", nil))
	for _, h := range []string{"Content-Security-Policy", "X-Content-Type-Options", "X-Frame-Options", "Referrer-Policy"} {
		if w.Header().Get(h) == "" {
			t.Errorf("no %s header", h)
		}
	}
	if csp := w.Header().Get("Content-Security-Policy"); strings.Contains(csp, "unsafe-inline") {
		t.Errorf("CSP allows inline code: %s", csp)
	}
}

func TestReloadKeepsTheLastGoodVersion(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "policy.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(s), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("apiVersion: access.gatehouse.dev/v1alpha1\nkind: Role\nmetadata: {name: viewer, namespace: acme}\nspec: {permissions: [{resources: [a], actions: [view]}]}\n")
	s := newTestServer(t, dir)
	write("kind: [broken\n")
	if err := s.Reload(context.Background()); err == nil {
		t.Fatal("a broken file reloaded")
	}
	code, body := get(t, s, "/t/acme/")
	if code != 200 || !strings.Contains(body, "The last reload failed") {
		t.Fatalf("after a failed reload: %d %.500s", code, body)
	}
}

func TestListenLoopback(t *testing.T) {
	for addr, ok := range map[string]bool{"127.0.0.1:0": true, "localhost:0": true, "0.0.0.0:0": false, ":0": false, "10.0.0.1:0": false, "nonsense": false} {
		l, err := ListenLoopback(addr)
		if (err == nil) != ok {
			t.Errorf("ListenLoopback(%q): %v", addr, err)
		}
		if l != nil {
			_ = l.Close()
		}
	}
}
