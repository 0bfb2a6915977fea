package authz

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

var testLimits = limits{maxDepth: DefaultMaxDepth, maxBatch: 5}

func TestDecodeStrings(t *testing.T) {
	for _, in := range []string{
		`plain`, `tab\tnew\nline`, `quote\" back\\ slash\/`, `\u00e9\u4e2d`, `\ud83d\ude00 smile`,
		`lone \ud800 high`, `lone \udc00 low`, `\ud800\u0041`, `ctrl \b\f\r`, "raw ü ü 中",
		"bad \xff utf8", `\u0000nul`, `\uD83D\uDE00`,
	} {
		body := `{"subject":{"id":"` + in + `"}}`
		var r request
		if err := r.decode([]byte(body), epEvaluation, testLimits); err != nil {
			t.Errorf("%q: %v", in, err)
			continue
		}
		var want struct{ Subject struct{ ID string } }
		if err := json.Unmarshal([]byte(body), &want); err != nil {
			t.Fatalf("%q: encoding/json: %v", in, err)
		}
		if r.top.sub.ID != want.Subject.ID {
			t.Errorf("%q: got %q want %q", in, r.top.sub.ID, want.Subject.ID)
		}
	}
	for _, bad := range []string{`\x`, `\u12`, `\u12g4`, "a\x01b"} {
		body := `{"subject":{"id":"` + bad + `"}}`
		var r request
		if err := r.decode([]byte(body), epEvaluation, testLimits); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestDecodeNumbersAndLiterals(t *testing.T) {
	good := []string{`0`, `-0`, `1.5`, `-12e3`, `1E+2`, `1e-2`, `12345678901234568e13`, `5e-324`, `1.7976931348623157e308`, `true`, `false`, `null`, `[]`, `{}`, `[1,"a",{"b":null}]`}
	// 123456789012345678901234567890 is valid JSON that a float64 cannot
	// hold (see TestDecodeNumberPrecision).
	bad := []string{`01`, `1.`, `.5`, `-`, `1e`, `+1`, `1e400`, `tru`, `nul`, `[1,]`, `{"a":1,}`, `[1 2]`, `{"a" 1}`, `{1:2}`, `NaN`, `123456789012345678901234567890`}
	for _, v := range good {
		body := `{"context":{"v":` + v + `}}`
		var r request
		if err := r.decode([]byte(body), epEvaluation, testLimits); err != nil {
			t.Errorf("%s: %v", v, err)
			continue
		}
		var m map[string]any
		if err := json.Unmarshal([]byte(body), &m); err != nil {
			t.Fatalf("%s: %v", v, err)
		}
		if want := m["context"].(map[string]any)["v"]; !reflect.DeepEqual(r.top.ctx["v"], want) {
			t.Errorf("%s: got %#v want %#v", v, r.top.ctx["v"], want)
		}
	}
	for _, v := range bad {
		var r request
		if err := r.decode([]byte(`{"context":{"v":`+v+`}}`), epEvaluation, testLimits); err == nil {
			t.Errorf("%s accepted", v)
		}
	}
}

func TestDecodeStandardProperties(t *testing.T) {
	body := `{
	  "subject": {"type":"user","id":"u1","properties":{"groups":["g1","g2"],"unit":"/a/b","company":"c1","companies":["c2"],"facilities":["f1"],"department":"Sales","nested":{"k":[1,2]}}},
	  "action": {"name":"view","properties":{"method":"GET"}},
	  "resource": {"type":"workorders","id":"r1","properties":{"ownerId":"o","assigneeIds":["a1","a2"],"unit":"/a","facilityId":"f","companyId":"c","projectContacts":["p"],"approvals":[{"step":"s1","by":"b1"}],"amount":12.5}},
	  "context": {"time":"1985-10-26T01:22-07:00","minRevision":"abc"}
	}`
	var r request
	if err := r.decode([]byte(body), epEvaluation, testLimits); err != nil {
		t.Fatal(err)
	}
	tp := &r.top
	wantSub := snapshot.Subject{Type: "user", ID: "u1", Groups: []string{"g1", "g2"}, Unit: "/a/b", Company: "c1",
		Companies: []string{"c2"}, Facilities: []string{"f1"},
		Properties: map[string]any{"department": "Sales", "nested": map[string]any{"k": []any{1.0, 2.0}}}}
	if !reflect.DeepEqual(tp.sub, wantSub) {
		t.Errorf("subject %#v", tp.sub)
	}
	wantRes := snapshot.Resource{Type: "workorders", ID: "r1", OwnerID: "o", AssigneeIDs: []string{"a1", "a2"}, Unit: "/a",
		FacilityID: "f", CompanyID: "c", ProjectContacts: []string{"p"}, Approvals: []snapshot.Approval{{Step: "s1", By: "b1"}},
		Properties: map[string]any{"amount": 12.5}}
	if !reflect.DeepEqual(tp.res, wantRes) {
		t.Errorf("resource %#v", tp.res)
	}
	if tp.action != "view" || tp.minRevision != "abc" || !reflect.DeepEqual(tp.ctx, map[string]any{"time": "1985-10-26T01:22-07:00"}) {
		t.Errorf("action %q minRevision %q ctx %v", tp.action, tp.minRevision, tp.ctx)
	}
	// Reuse: a second decode into the same request must not leak values.
	if err := r.decode([]byte(`{"subject":{"id":"u2"},"action":{"name":"a"},"resource":{"type":"t"}}`), epEvaluation, testLimits); err != nil {
		t.Fatal(err)
	}
	if r.top.sub.Groups != nil || r.top.res.AssigneeIDs != nil || r.top.res.Properties != nil || r.top.ctx != nil || r.top.minRevision != "" {
		t.Errorf("stale values after reuse: %#v %#v", r.top.sub, r.top.res)
	}
}

func TestDecodeEvaluations(t *testing.T) {
	body := `{"subject":{"id":"u"},"action":{"name":"view"},"options":{"evaluations_semantic":"deny_on_first_deny","other":[1]},
	  "evaluations":[{"resource":{"type":"a","id":"1"}},{"action":{"name":"edit"},"resource":{"type":"a","id":"2"}}]}`
	var r request
	if err := r.decode([]byte(body), epEvaluations, testLimits); err != nil {
		t.Fatal(err)
	}
	if len(r.items) != 2 || r.semantic != semDenyOnFirstDeny || r.items[1].action != "edit" || r.items[0].has != hasResource {
		t.Errorf("%+v", r.items)
	}
	tooMany := `{"evaluations":[{},{},{},{},{},{}]}`
	if err := r.decode([]byte(tooMany), epEvaluations, testLimits); err == nil || !strings.Contains(err.Error(), "more than 5 evaluations") {
		t.Errorf("batch limit: %v", err)
	}
	err := r.decode([]byte(`{"evaluations":[{},{"subject":{"id":1}}]}`), epEvaluations, testLimits)
	if err == nil || err.Error() != "evaluations[1].subject.id: expected string, got number" {
		t.Errorf("item error path: %v", err)
	}
	err = r.decode([]byte(`{"options":{"evaluations_semantic":"first"}}`), epEvaluations, testLimits)
	if err == nil || !strings.HasPrefix(err.Error(), "options.evaluations_semantic") {
		t.Errorf("semantic: %v", err)
	}
	if err := r.decode([]byte(`{"evaluations":[]}`), epEvaluation, testLimits); err == nil {
		t.Error("evaluations accepted by the single evaluation endpoint")
	}
}

// Decoder benchmarks: the request decoder alone, reusing one pooled-style
// request as the handler does.

func benchDecode(b *testing.B, ep endpoint, bodies ...string) {
	raw := make([][]byte, len(bodies))
	n := 0
	for i, s := range bodies {
		raw[i] = []byte(s)
		n += len(s)
	}
	lim := limits{maxDepth: DefaultMaxDepth, maxBatch: DefaultMaxBatch}
	var r request
	for _, body := range raw {
		if err := r.decode(body, ep, lim); err != nil {
			b.Fatalf("%s: %v", body, err)
		}
	}
	b.SetBytes(int64(n / len(raw)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := r.decode(raw[i%len(raw)], ep, lim); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecodeEvaluation(b *testing.B) { benchDecode(b, epEvaluation, evalBodies...) }

func BenchmarkDecodeGeneric(b *testing.B) {
	benchDecode(b, epEvaluation, `{"subject":{"type":"user","id":"tom.tech","properties":{"department":"Sales","level":3,"tags":["a","b","c"]}},`+
		`"action":{"name":"create"},"resource":{"type":"purchaseorders","properties":{"amount":1200.5,"lines":[{"sku":"x-1","qty":2,"price":19.99},{"sku":"y-2","qty":1,"price":0.1}]}},`+
		`"context":{"time":"1985-10-26T01:22-07:00","ip":"10.0.0.1","geo":{"lat":51.0447,"lon":-114.0719},"scores":[1,2,3,4,5,6,7,8]}}`)
}

func BenchmarkDecodeBatch100(b *testing.B) { benchDecode(b, epEvaluations, batchBody(100)) }
