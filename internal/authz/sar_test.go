package authz

import (
	"encoding/json"
	"strings"
	"testing"
)

func TestSubjectAccessReview(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	sar := func(user, verb, resource, ns string, groups ...string) (int, map[string]any) {
		spec := map[string]any{"user": user, "groups": groups}
		if ns != "-" {
			spec["resourceAttributes"] = map[string]any{"namespace": ns, "verb": verb, "group": DefaultSARGroup, "resource": resource, "name": "x1"}
		} else {
			spec["nonResourceAttributes"] = map[string]any{"path": "/healthz", "verb": "get"}
		}
		b, _ := json.Marshal(map[string]any{"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})
		w := do(h, "POST", "/subjectaccessreview", string(b))
		var out map[string]any
		if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
			t.Errorf("%s %s %s: %d: answer is not JSON: %v: %s", user, verb, resource, w.Code, err, w.Body)
		}
		if w.Code == 200 && (out["apiVersion"] != "authorization.k8s.io/v1" || out["kind"] != "SubjectAccessReview") {
			t.Errorf("answer type meta: %s", w.Body)
		}
		st, _ := out["status"].(map[string]any)
		return w.Code, st
	}
	cases := []struct {
		user, verb, resource, ns string
		groups                   []string
		allowed, denied          bool
	}{
		{"vic.viewer", "list", "assets", tenant, nil, true, false},
		{"vic.viewer", "watch", "assets", tenant, nil, true, false},
		{"vic.viewer", "patch", "assets", tenant, nil, false, true},
		{"tom.tech", "update", "assets", tenant, nil, false, true}, // unitTree: record has no unit
		{"bea.billing", "create", "invoices", tenant, nil, true, false},
		{"someone", "get", "workorders", tenant, []string{"acme-auditors"}, true, false},
		{"stranger", "get", "assets", tenant, nil, false, false}, // unknown subject: no opinion
		{"vic.viewer", "get", "pods", tenant, nil, false, false}, // unmanaged module: no opinion
		{"vic.viewer", "get", "assets", "elsewhere", nil, false, false},
		{"vic.viewer", "get", "", "-", nil, false, false},
	}
	for _, c := range cases {
		code, st := sar(c.user, c.verb, c.resource, c.ns, c.groups...)
		allowed, _ := st["allowed"].(bool)
		denied, _ := st["denied"].(bool)
		if code != 200 || allowed != c.allowed || denied != c.denied || st["reason"] == "" {
			t.Errorf("%+v: %d %v", c, code, st)
		}
	}
	w := do(h, "POST", "/subjectaccessreview", `{"apiVersion":"v1","kind":"Pod"}`)
	if w.Code != 400 {
		t.Errorf("wrong kind: %d", w.Code)
	}
	w = do(h, "POST", "/subjectaccessreview", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":5}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "spec.user") {
		t.Errorf("bad field: %d %s", w.Code, w.Body)
	}
}
