package authz

import (
	"strings"
	"testing"
)

func TestSearchLimits(t *testing.T) {
	h, _ := newTestHandler(t, Options{MaxCandidates: 2, DefaultPageLimit: 1})
	body := `{"subject":{"id":"dana.director"},"action":{"name":"view"},"resource":{"type":"workorders"},"context":{"candidates":[{"id":"1"},{"id":"2"},{"id":"3"}]}}`
	w := do(h, "POST", base+"/access/v1/search/resource", body)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "more than 2 candidates") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
	body = `{"subject":{"id":"dana.director"},"action":{"name":"view"},"resource":{"type":"workorders"},"context":{"candidates":[{"id":"1"},{"id":"2"}]}}`
	w = do(h, "POST", base+"/access/v1/search/resource", body)
	var out struct {
		Results []map[string]string
		Page    struct {
			NextToken string `json:"next_token"`
		}
	}
	decodeJSON(t, w.Body.Bytes(), &out)
	if len(out.Results) != 1 || out.Page.NextToken == "" {
		t.Fatalf("page 1: %s", w.Body)
	}
	body2 := strings.Replace(body, `"resource":{"type":"workorders"}`, `"resource":{"type":"workorders"},"page":{"token":"`+out.Page.NextToken+`"}`, 1)
	w = do(h, "POST", base+"/access/v1/search/resource", body2)
	out.Results, out.Page.NextToken = nil, ""
	decodeJSON(t, w.Body.Bytes(), &out)
	if len(out.Results) != 1 || out.Results[0]["id"] != "2" || out.Page.NextToken != "" {
		t.Errorf("page 2: %s", w.Body)
	}
	w = do(h, "POST", base+"/access/v1/search/resource", `{"subject":{"id":"a"},"action":{"name":"view"},"resource":{"type":"workorders"},"context":{"candidates":[{"type":"invoices","id":"1"}]}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "context.candidates[0].type") {
		t.Errorf("type mismatch: %d %s", w.Code, w.Body)
	}
	w = do(h, "POST", base+"/access/v1/search/resource", `{"subject":{"id":"a"},"action":{"name":"view"},"resource":{"type":"workorders"},"context":{"candidates":[{"id":1}]}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "context.candidates[0].id: expected string") {
		t.Errorf("candidate error path: %d %s", w.Code, w.Body)
	}
}
