package authz

import (
	"encoding/json"
	"net/http"
	"os"
	"strings"
	"testing"
)

func TestRoutingAndMethods(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	eval := `{"subject":{"id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"assets"}}`
	cases := []struct {
		method, path, body string
		status             int
	}{
		{"GET", base + "/access/v1/evaluation", "", http.StatusMethodNotAllowed},
		{"POST", base + "/access/v1/nope", eval, http.StatusNotFound},
		{"POST", "/tenants/Bad_Name/access/v1/evaluation", eval, http.StatusNotFound},
		{"POST", "/access/v1/evaluation", eval, http.StatusNotFound}, // no default tenant
		{"POST", "/tenants/", eval, http.StatusNotFound},
		{"POST", base + "/.well-known/authzen-configuration", "", http.StatusMethodNotAllowed},
		{"GET", base + "/.well-known/authzen-configuration", "", http.StatusOK},
		{"GET", "/.well-known/authzen-configuration/tenants/" + tenant, "", http.StatusOK},
		{"GET", "/tenants/other/.well-known/authzen-configuration", "", http.StatusNotFound},
	}
	for _, c := range cases {
		w := do(h, c.method, c.path, c.body)
		if w.Code != c.status {
			t.Errorf("%s %s: %d %s, want %d", c.method, c.path, w.Code, w.Body, c.status)
		}
	}
	r := do(h, "POST", base+"/access/v1/evaluation", eval, "Content-Type", "text/plain")
	if r.Code != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain: %d", r.Code)
	}
}

func TestDefaultTenant(t *testing.T) {
	h, _ := newTestHandler(t, Options{DefaultTenant: tenant, BaseURL: "https://pdp.example.com/"})
	w := do(h, "POST", "/access/v1/evaluation", `{"subject":{"id":"dana.director"},"action":{"name":"delete"},"resource":{"type":"invoices"}}`)
	if w.Code != 200 || !strings.HasPrefix(w.Body.String(), `{"decision":true`) {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
	w = do(h, "GET", "/.well-known/authzen-configuration", "")
	var md map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &md); err != nil {
		t.Fatal(err)
	}
	if md["policy_decision_point"] != "https://pdp.example.com" || md["access_evaluation_endpoint"] != "https://pdp.example.com/access/v1/evaluation" {
		t.Errorf("metadata %v", md)
	}
	w = do(h, "GET", base+"/.well-known/authzen-configuration", "")
	md = nil
	if err := json.Unmarshal(w.Body.Bytes(), &md); err != nil {
		t.Fatalf("tenant metadata: %v: %s", err, w.Body)
	}
	if md["policy_decision_point"] != "https://pdp.example.com"+base || md["search_resource_endpoint"] != "https://pdp.example.com"+base+"/access/v1/search/resource" {
		t.Errorf("tenant metadata %v", md)
	}
}

// TestDocListsEveryRoute keeps the package documentation's list of APIs in
// step with the route table.
func TestDocListsEveryRoute(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	for ep, e := range endpoints {
		p := e.path
		if p == "" {
			p = e.rootPath
		}
		if p != "" && !strings.Contains(string(doc), "/"+strings.TrimPrefix(p, "/")) {
			t.Errorf("doc.go does not list %s (endpoint %d)", p, ep)
		}
	}
}

// TestRouteTable checks that every endpoint's entry is complete: a metric
// name of its own, a path, and for the endpoints with a JSON body the keys
// they accept and their handler.
func TestRouteTable(t *testing.T) {
	metrics := map[string]bool{}
	for i, e := range endpoints {
		ep := endpoint(i)
		if e.metric == "" || metrics[e.metric] {
			t.Errorf("endpoint %d: metric name %q missing or repeated", ep, e.metric)
		}
		metrics[e.metric] = true
		switch ep {
		case epUnknown:
			continue
		case epDiscovery, epSAR, epOpenAPI:
			// Served before a body is read (Handler.serve).
		default:
			if e.get || e.fields == 0 || e.serve == nil {
				t.Errorf("%s: a POST endpoint needs accepted fields and serve", e.metric)
			}
		}
		if e.path == "" && e.rootPath == "" {
			t.Errorf("%s: no path", e.metric)
		}
	}
}

// The discovery document advertises the batch limit, by which clients
// split larger batches.
func TestDiscoveryAdvertisesMaxBatch(t *testing.T) {
	for _, max := range []int{0, 7} {
		h, _ := newTestHandler(t, Options{MaxBatch: max})
		w := do(h, "GET", base+"/.well-known/authzen-configuration", "")
		var doc map[string]any
		decodeJSON(t, w.Body.Bytes(), &doc)
		want := float64(max)
		if max == 0 {
			want = DefaultMaxBatch
		}
		if doc["gatehouse_max_batch"] != want {
			t.Errorf("MaxBatch %d: gatehouse_max_batch = %v, want %v", max, doc["gatehouse_max_batch"], want)
		}
	}
}
