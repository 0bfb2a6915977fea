package authz

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestEvaluationAllowDeny(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	rev := sampleSnapshot(t).Revision()
	cases := []struct {
		name, body string
		want       bool
		reason     string
	}{
		{"technician views own-unit work order",
			`{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders","id":"wo-1","properties":{"unit":"/ca/ab/calgary/north"}}}`,
			true, "Allowed"},
		{"technician outside unit",
			`{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders","id":"wo-2","properties":{"unit":"/ca/bc"}}}`,
			false, "ScopeNotMatched"},
		{"unknown subject",
			`{"subject":{"type":"user","id":"mallory"},"action":{"name":"view"},"resource":{"type":"workorders","id":"1"}}`,
			false, "UnknownSubject"},
		{"idp group selects requesters",
			`{"subject":{"type":"user","id":"new.hire","properties":{"groups":["acme-staff"]}},"action":{"name":"create"},"resource":{"type":"workorders"}}`,
			true, "Allowed"},
		{"CEL condition on amount",
			`{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"create"},"resource":{"type":"purchaseorders","properties":{"amount":9000}}}`,
			false, "ConditionFalse"},
		{"CEL condition true",
			`{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"create"},"resource":{"type":"purchaseorders","properties":{"amount":4999.5}}}`,
			true, "Allowed"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := do(h, "POST", base+"/access/v1/evaluation", c.body, "X-Request-ID", "req-1")
			if w.Code != 200 {
				t.Fatalf("status %d: %s", w.Code, w.Body)
			}
			if got := w.Header().Get("X-Request-ID"); got != "req-1" {
				t.Errorf("X-Request-ID = %q", got)
			}
			if got := w.Header().Get(RevisionHeader); got != rev {
				t.Errorf("revision header = %q, want %q", got, rev)
			}
			var out struct {
				Decision *bool `json:"decision"`
				Context  struct {
					Reason   string `json:"reason"`
					Revision string `json:"revision"`
				} `json:"context"`
			}
			if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
				t.Fatalf("%v: %s", err, w.Body)
			}
			if out.Decision == nil || *out.Decision != c.want || out.Context.Reason != c.reason || out.Context.Revision != rev {
				t.Errorf("got %s", w.Body)
			}
		})
	}
}

func TestEvaluationFieldsAndExplain(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	body := `{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders","id":"wo-1","properties":{"unit":"/ca/ab/calgary"}}}`
	w := do(h, "POST", base+"/access/v1/evaluation?explain=true", body)
	var out struct {
		Context struct {
			Fields *struct {
				Readable []string `json:"readable"`
				Writable []string `json:"writable"`
			} `json:"fields"`
			Explain map[string]any `json:"explain"`
		} `json:"context"`
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err, w.Body)
	}
	if out.Context.Fields == nil {
		t.Fatalf("no fields: %s", w.Body)
	}
	for _, f := range out.Context.Fields.Readable {
		if f == "billingRate" || f == "margin" {
			t.Errorf("technician can read %s: %s", f, w.Body)
		}
	}
	if out.Context.Explain["role"] != "technician" || out.Context.Explain["group"] != "calgary-crew" {
		t.Errorf("explain = %v", out.Context.Explain)
	}
	// Uncovered resource: no fields.
	w = do(h, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"assets"}}`)
	if strings.Contains(w.Body.String(), "fields") {
		t.Errorf("fields for uncovered resource: %s", w.Body)
	}
	// Deny with explain says why.
	w = do(h, "POST", base+"/access/v1/evaluation?explain=true", `{"subject":{"id":"vic.viewer"},"action":{"name":"delete"},"resource":{"type":"workorders"}}`)
	if !strings.Contains(w.Body.String(), `"explain":{"message":`) {
		t.Errorf("deny explain: %s", w.Body)
	}
}

func TestEvaluationErrors(t *testing.T) {
	h, _ := newTestHandler(t, Options{MaxBodyBytes: 4096})
	cases := []struct {
		name, body string
		status     int
		msg        string
	}{
		{"wrong type", `{"subject":{"id":5},"action":{"name":"view"},"resource":{"type":"x"}}`, 400, "subject.id: expected string, got number"},
		{"unknown top-level", `{"subject":{"id":"a"},"action":{"name":"view"},"resource":{"type":"x"},"extra":1}`, 400, "extra: unknown field"},
		{"unknown nested", `{"subject":{"id":"a","role":"x"},"action":{"name":"view"},"resource":{"type":"x"}}`, 400, "subject.role: unknown field"},
		{"missing subject", `{"action":{"name":"view"},"resource":{"type":"x"}}`, 400, "subject: required"},
		{"missing id", `{"subject":{"type":"user"},"action":{"name":"view"},"resource":{"type":"x"}}`, 400, "subject.id: required"},
		{"missing action name", `{"subject":{"id":"a"},"action":{},"resource":{"type":"x"}}`, 400, "action.name: required"},
		{"action as string", `{"subject":{"id":"a"},"action":"view","resource":{"type":"x"}}`, 400, "action: expected object, got string"},
		{"bad standard property", `{"subject":{"id":"a"},"action":{"name":"view"},"resource":{"type":"x","properties":{"ownerId":7}}}`, 400, "resource.properties.ownerId: expected string, got number"},
		{"bad group list", `{"subject":{"id":"a","properties":{"groups":["x",1]}},"action":{"name":"view"},"resource":{"type":"x"}}`, 400, "subject.properties.groups[1]: expected string, got number"},
		{"duplicate key", `{"subject":{"id":"a","id":"b"},"action":{"name":"view"},"resource":{"type":"x"}}`, 400, "subject.id: duplicate key"},
		{"malformed", `{"subject":`, 400, "unexpected end of JSON input"},
		{"trailing data", `{"subject":{"id":"a"},"action":{"name":"view"},"resource":{"type":"x"}} {}`, 400, "data after the top-level value"},
		{"empty", ``, 400, "empty request body"},
		{"too deep", `{"subject":{"id":"a"},"action":{"name":"view"},"resource":{"type":"x"},"context":{"a":` + strings.Repeat("[", 40) + strings.Repeat("]", 40) + `}}`, 400, "nesting deeper than 32"},
		{"too large", `{"subject":{"id":"` + strings.Repeat("a", 5000) + `"}}`, 413, "larger than 4096 bytes"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			w := do(h, "POST", base+"/access/v1/evaluation", c.body)
			if w.Code != c.status || !strings.Contains(w.Body.String(), c.msg) {
				t.Errorf("got %d %s, want %d %q", w.Code, w.Body, c.status, c.msg)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error == "" {
				t.Errorf("error body not JSON: %s", w.Body)
			}
			if _, ok := w.Header()[RevisionHeader]; !ok {
				t.Errorf("no %s header", RevisionHeader)
			}
		})
	}
}

func TestUnknownTenantDenies(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	w := do(h, "POST", "/tenants/nobody/access/v1/evaluation", `{"subject":{"id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"assets"}}`)
	if w.Code != 200 || w.Body.String() != `{"decision":false,"context":{"reason":"NoSnapshot"}}` {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
	if _, ok := w.Header()[RevisionHeader]; !ok {
		t.Error("no revision header")
	}
}
