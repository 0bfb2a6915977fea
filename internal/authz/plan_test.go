package authz

import (
	"strings"
	"testing"
)

func TestPlanEndpoint(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	w := do(h, "POST", base+"/v1/plan", `{"subject":{"id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders"},
		"columns":{"unit":"w.unit_path","ownerId":"w.owner_id","assigneeIds":"w.assignee_ids"},"argOffset":2}`)
	var out struct {
		Kind   string
		Filter map[string]any
		SQL    *struct {
			Where string
			Args  []any
		}
		SQLError string
	}
	decodeJSON(t, w.Body.Bytes(), &out)
	if w.Code != 200 || out.Kind != "conditional" || out.Filter == nil || out.SQL == nil {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	if !strings.Contains(out.SQL.Where, `"w"."unit_path"`) || !strings.Contains(out.SQL.Where, "$3") || len(out.SQL.Args) == 0 {
		t.Errorf("sql %+v", out.SQL)
	}
	// Unmapped property: the plan is still returned with the reason.
	w = do(h, "POST", base+"/v1/plan", `{"subject":{"id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders"},"columns":{},"placeholder":"question"}`)
	out.SQL, out.SQLError = nil, ""
	decodeJSON(t, w.Body.Bytes(), &out)
	if w.Code != 200 || out.SQL != nil || out.SQLError == "" {
		t.Errorf("unmapped: %d %s", w.Code, w.Body)
	}
	w = do(h, "POST", base+"/v1/plan", `{"subject":{"id":"dana.director"},"action":{"name":"view"},"resource":{"type":"workorders"}}`)
	if !strings.Contains(w.Body.String(), `"kind":"always"`) {
		t.Errorf("admin plan: %s", w.Body)
	}
	w = do(h, "POST", base+"/v1/plan", `{"subject":{"id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders"},"columns":{},"placeholder":"colon"}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "placeholder") {
		t.Errorf("bad placeholder: %d %s", w.Code, w.Body)
	}
	w = do(h, "POST", base+"/v1/plan", `{"subject":{"id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders"},"columns":{"unit":5}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "columns.unit: expected string") {
		t.Errorf("bad column: %d %s", w.Code, w.Body)
	}
}

// TestPlanEndpointColumnNames: a column that is not an SQL identifier is the
// caller's mistake, a 400 naming columns.<property> without repeating the
// value; valid names come back quoted.
func TestPlanEndpointColumnNames(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	const head = `{"subject":{"id":"tom.tech"},"action":{"name":"view"},"resource":{"type":"workorders"},"columns":`
	w := do(h, "POST", base+"/v1/plan", head+`{"unit":"W.Unit_Path$2","ownerId":"owner_id","assigneeIds":"w.assignee_ids"}}`)
	var out struct {
		Kind string
		SQL  *struct{ Where string }
	}
	decodeJSON(t, w.Body.Bytes(), &out)
	if w.Code != 200 || out.SQL == nil || out.SQL.Where != `("W"."Unit_Path$2" = $1 OR "W"."Unit_Path$2" LIKE $2 ESCAPE '\')` {
		t.Fatalf("valid names: %d %s", w.Code, w.Body)
	}
	hostile := map[string]struct{ columns, want, value string }{
		"statement":    {`{"unit":"x; DROP TABLE t"}`, `columns.unit: not an SQL identifier: byte 1 is not an ASCII letter`, "DROP"},
		"double quote": {`{"unit":"a\"b"}`, `columns.unit: not an SQL identifier: byte 1 is not`, `a"b`},
		"space":        {`{"unit":"a b"}`, `columns.unit: not an SQL identifier: byte 1 is not`, "a b"},
		"comment":      {`{"unit":"--"}`, `columns.unit: not an SQL identifier: byte 0 is not`, "--"},
		"empty":        {`{"unit":""}`, `columns.unit: not an SQL identifier: it is empty`, ""},
		"empty part":   {`{"unit":"a..b"}`, `columns.unit: not an SQL identifier: it has an empty part`, "a..b"},
		"64-byte part": {`{"unit":"` + strings.Repeat("u", 64) + `"}`, `columns.unit: not an SQL identifier: a part is longer than 63 bytes`, strings.Repeat("u", 40)},
		"non-ASCII":    {`{"unit":"ünï"}`, `columns.unit: not an SQL identifier: byte 0 is not`, "ünï"},
		"NUL":          {`{"unit":"a\u0000b"}`, `columns.unit: not an SQL identifier: byte 1 is not`, "\x00"},
		"three parts":  {`{"unit":"a.b.c"}`, `columns.unit: not an SQL identifier: it has more than two dot-separated parts`, "a.b.c"},
		// Checked whether or not the plan uses the property.
		"unused property": {`{"unit":"unit","ownerId":"owner_id","assigneeIds":"ids","amount":"amount)"}`, `columns.amount: not an SQL identifier: byte 6 is not`, "amount)"},
		// A hostile key is rendered as a short escaped path element.
		"hostile key": {`{"unit":"unit","a b; DROP TABLE t; --` + strings.Repeat("k", 80) + `":"1"}`,
			`columns["a b; DROP TABLE t; --kkkkkkkkkkk"…]: not an SQL identifier: a part starts with a digit or '$' (byte 0)`, strings.Repeat("k", 20)},
	}
	for name, tc := range hostile {
		t.Run(name, func(t *testing.T) {
			w := do(h, "POST", base+"/v1/plan", head+tc.columns+`}`)
			var e struct{ Error string }
			decodeJSON(t, w.Body.Bytes(), &e)
			if w.Code != 400 || !strings.HasPrefix(e.Error, tc.want) {
				t.Fatalf("%d %s, want 400 with %q", w.Code, w.Body, tc.want)
			}
			if tc.value != "" && strings.Contains(e.Error, tc.value) {
				t.Fatalf("the answer repeats the value: %s", w.Body)
			}
		})
	}
	// An admin's plan is always; a bad mapping is still refused.
	w = do(h, "POST", base+"/v1/plan", `{"subject":{"id":"dana.director"},"action":{"name":"view"},"resource":{"type":"workorders"},"columns":{"unit":"a b"}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "columns.unit: not an SQL identifier") {
		t.Errorf("always plan, bad column: %d %s", w.Code, w.Body)
	}
}
