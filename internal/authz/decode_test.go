package authz

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

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

// fuzzLimits make the list cap reachable by the fuzzer.
var fuzzLimits = limits{maxDepth: 8, maxBatch: 5, maxList: 4}

// FuzzDecodeEvaluation checks that the decoder never panics, rejects every
// document encoding/json rejects, agrees with encoding/json on every
// document it accepts, and rejects a valid document only for a documented
// reason that an independent walk of the document (docFacts, schemaError)
// confirms: a wrong type or unknown field, a duplicate key, nesting deeper
// than maxDepth, a list or generic object longer than maxList, or a number
// a float64 does not hold exactly.
func FuzzDecodeEvaluation(f *testing.F) {
	for _, s := range []string{
		evalAllowBody, evalDenyBody,
		`{"subject":{"type":"user","id":"a\u00e9\ud83d\ude00","properties":{"groups":["x"],"k":{"n":[1,2.5e3,null,true]}}},"action":{"name":"view"},"resource":{"type":"t","properties":{"approvals":[{"step":"s","by":"b"}]}},"context":{"x":"y"}}`,
		`{"subject":null,"context":null}`, `{}`, `[]`, `{"subject":{"id":"a","id":"b"}}`, "{\"subject\":{\"id\":\"\xff\"}}",
		`{"subject":{"properties":{"approvals":[1,{"a":""}]}}}`,
		`{"context":{"a":[1,2,3,4,5],"b":5000.0000000000001,"c":1e-400,"d":-0,"e":{"a":{"b":1,"b":2}}}}`,
		`{"resource":{"properties":{"assigneeIds":["a","b","c","d","e"],"x":[[[[[[[[1]]]]]]]]}}}`,
		`{"action":{"properties":{"a":1,"a":123456789012345678901234567890}}}`,
		`1e1000`, `{"action":{"properties":{"a":1e999}}}`, `{"":{}}`, `{"context":{"a":[0e10000000000000000000,-0e-1]}}`,
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		var r request
		derr := r.decode(body, epEvaluation, fuzzLimits)
		if !json.Valid(body) {
			if derr == nil {
				t.Fatalf("accepted invalid JSON %q", body)
			}
			return
		}
		m := genericJSON(t, body)
		facts := docFacts(t, body, fuzzLimits)
		schema := schemaError(m)
		if derr == nil {
			if facts.dup || facts.deep || facts.long || facts.number != "" || schema != "" {
				t.Fatalf("accepted %q: %+v schema %q", body, facts, schema)
			}
			got, want := canonical(&r.top), normalize(m.(map[string]any))
			if !reflect.DeepEqual(got, want) {
				t.Fatalf("mismatch for %q:\n got %#v\nwant %#v", body, got, want)
			}
			return
		}
		if e := derr.Error(); len(e) > 1024 || !utf8.ValidString(e) {
			t.Fatalf("error %q for %q", e, body)
		}
		var why bool
		switch msg := derr.Msg; {
		case msg == "duplicate key":
			why = facts.dup
		case strings.HasPrefix(msg, "nesting deeper than"):
			why = facts.deep
		case strings.HasPrefix(msg, "more than ") && strings.HasSuffix(msg, " items"):
			why = facts.long
		case strings.HasPrefix(msg, "number "):
			why = facts.number != ""
		case msg == "unknown field" || strings.HasPrefix(msg, "expected "):
			// encoding/json keeps the last of duplicate keys, the
			// decoder stops at the first, so with duplicates the
			// schema of the map proves nothing.
			why = schema != "" || facts.dup
		}
		if !why {
			t.Fatalf("valid %q rejected without a documented reason: %v (facts %+v, schema %q)", body, derr, facts, schema)
		}
	})
}

// genericJSON decodes a valid document as encoding/json does into an
// interface value, except that a number out of float64's range becomes
// ±Inf instead of failing the whole document (the decoder checks only the
// numbers it keeps; docFacts says whether one is out of range).
func genericJSON(t *testing.T, body []byte) any {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var m any
	if err := dec.Decode(&m); err != nil {
		t.Fatalf("encoding/json rejects valid JSON: %v", err)
	}
	var conv func(v any) any
	conv = func(v any) any {
		switch v := v.(type) {
		case json.Number:
			f, _ := strconv.ParseFloat(string(v), 64)
			return f
		case map[string]any:
			for k, x := range v {
				v[k] = conv(x)
			}
		case []any:
			for i, x := range v {
				v[i] = conv(x)
			}
		}
		return v
	}
	return conv(m)
}

// facts are what an independent walk (encoding/json's tokenizer) finds in
// a valid evaluation body that the decoder must reject.
type facts struct {
	dup    bool   // a key repeated in one object
	deep   bool   // nesting deeper than maxDepth
	long   bool   // a decoded list or generic object longer than maxList
	number string // a decoded number a float64 does not hold exactly
}

// typedKeys are the keys of the typed objects of an evaluation body that
// do not count towards the list cap of properties and context.
var typedKeys = map[string]map[string]bool{
	"subject.properties":  {"groups": true, "unit": true, "company": true, "companies": true, "facilities": true},
	"resource.properties": {"ownerId": true, "assigneeIds": true, "unit": true, "facilityId": true, "companyId": true, "projectContacts": true, "approvals": true},
	"context":             {"minRevision": true},
}

// docFacts walks a valid evaluation body. action.properties is checked for
// depth only: the decoder validates and discards it.
func docFacts(t *testing.T, body []byte, lim limits) facts {
	var fs facts
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	tok := func() json.Token {
		tk, err := dec.Token()
		if err != nil {
			t.Fatalf("tokenizer: %v", err)
		}
		return tk
	}
	// path is "" at the top, then subject, subject.properties, etc. for
	// the typed objects; generic marks values below them.
	var walk func(depth int, path string, generic, skipped bool)
	walk = func(depth int, path string, generic, skipped bool) {
		switch v := tok().(type) {
		case json.Delim:
			if depth+1 > lim.maxDepth {
				fs.deep = true
			}
			n := 0
			if v == '{' {
				seen := map[string]bool{}
				for dec.More() {
					k := tok().(string)
					if seen[k] && !skipped {
						fs.dup = true
					}
					seen[k] = true
					child, cgen, cskip := path+"."+k, generic, skipped
					switch {
					case generic || skipped:
					case path == "":
						child = k
					case path == "action" && k == "properties":
						cskip = true
					case typedKeys[path] != nil:
						// properties or context: standard keys
						// are typed, the rest generic.
						if typedKeys[path][k] {
							cgen = false
						} else {
							cgen = true
							n++
						}
					}
					if generic && !skipped {
						n++
					}
					walk(depth+1, child, cgen, cskip)
				}
			} else {
				child := path + "[]"
				for dec.More() {
					if !skipped {
						n++
					}
					walk(depth+1, child, generic, skipped)
				}
			}
			tok() // closing delimiter
			if n > lim.maxList {
				fs.long = true
			}
		case json.Number:
			if !skipped && fs.number == "" && !refExact(t, string(v)) {
				fs.number = string(v)
			}
		}
	}
	walk(0, "", false, false)
	return fs
}

// schemaError is an independent statement of the evaluation body's types
// over encoding/json's generic form: the first violation, or "".
func schemaError(m any) string {
	// Violations are named by path with a leading "@" (the path of the
	// document itself is empty).
	isStr := func(v any) bool { _, ok := v.(string); return ok }
	isStrOrNull := func(v any) bool { return v == nil || isStr(v) }
	isStrList := func(v any) bool {
		if v == nil {
			return true
		}
		l, ok := v.([]any)
		for _, x := range l {
			ok = ok && isStr(x)
		}
		return ok
	}
	top, ok := m.(map[string]any)
	if !ok {
		return "@body"
	}
	for part, v := range top {
		if v == nil {
			if part == "subject" || part == "action" || part == "resource" || part == "context" {
				continue
			}
			return "@" + part
		}
		obj, ok := v.(map[string]any)
		if !ok {
			return "@" + part
		}
		var props map[string]any
		switch part {
		case "subject", "resource":
			for k, x := range obj {
				switch k {
				case "type", "id":
					if !isStr(x) {
						return "@" + part + "." + k
					}
				case "properties":
					if x == nil {
						continue
					}
					if props, ok = x.(map[string]any); !ok {
						return "@" + part + ".properties"
					}
				default:
					return "@" + part + "." + k
				}
			}
		case "action":
			for k, x := range obj {
				switch k {
				case "name":
					if !isStr(x) {
						return "@action.name"
					}
				case "properties":
					if _, ok := x.(map[string]any); !ok && x != nil {
						return "@action.properties"
					}
				default:
					return "action." + k
				}
			}
		case "context":
			if x, ok := obj["minRevision"]; ok && !isStr(x) {
				return "@context.minRevision"
			}
		default:
			return "@" + part
		}
		for k, x := range props {
			ok := true
			switch part + "." + k {
			case "subject.unit", "subject.company", "resource.ownerId", "resource.unit", "resource.facilityId", "resource.companyId":
				ok = isStrOrNull(x)
			case "subject.groups", "subject.companies", "subject.facilities", "resource.assigneeIds", "resource.projectContacts":
				ok = isStrList(x)
			case "resource.approvals":
				if x == nil {
					break
				}
				l, isList := x.([]any)
				ok = isList
				for _, a := range l {
					am, isObj := a.(map[string]any)
					ok = ok && isObj
					for ak, av := range am {
						ok = ok && (ak == "step" || ak == "by") && isStr(av)
					}
				}
			}
			if !ok {
				return "@" + part + ".properties." + k
			}
		}
	}
	return ""
}

// FuzzDecodeEvaluations runs the batch decoder and the handler's batch
// path on arbitrary input: no panics, and only 200/400/413 answers.
func FuzzDecodeEvaluations(f *testing.F) {
	f.Add([]byte(`{"subject":{"id":"tom.tech"},"action":{"name":"view"},"evaluations":[{"resource":{"type":"assets"}},{"resource":{"type":"workorders","properties":{"unit":"/ca"}}}]}`))
	f.Add([]byte(`{"evaluations":[{"subject":{"id":"a"},"action":{"name":"b"},"resource":{"type":"c"},"context":{"minRevision":"x"}}],"options":{"evaluations_semantic":"permit_on_first_permit"}}`))
	h, _ := newTestHandler(f, Options{MinRevisionWait: 1})
	f.Fuzz(func(t *testing.T, body []byte) {
		var r request
		err := r.decode(body, epEvaluations, fuzzLimits)
		switch valid := json.Valid(body); {
		case err == nil && !valid:
			t.Fatalf("accepted invalid JSON %q", body)
		case err != nil && valid && (strings.HasPrefix(err.Msg, "invalid") || strings.HasPrefix(err.Msg, "unexpected end")):
			t.Fatalf("valid JSON %q rejected as invalid: %v", body, err)
		case err != nil && len(err.Error()) > 1024:
			t.Fatalf("error of %d bytes for %q", len(err.Error()), body)
		}
		w := do(h, "POST", base+"/access/v1/evaluations", string(body))
		switch w.Code {
		case 200, 400, 413, 503:
		default:
			t.Fatalf("status %d for %q", w.Code, body)
		}
		if w.Code == 200 && !json.Valid(w.Body.Bytes()) {
			t.Fatalf("invalid JSON response %q", w.Body)
		}
	})
}

// FuzzAppendString checks the encoder against encoding/json: the output is
// valid JSON that decodes to what encoding/json's output decodes to.
func FuzzAppendString(f *testing.F) {
	for _, s := range []string{"", "a", "\"\\/", "\x00\x1f\u2028\u2029", "\xff\xfe", "é中😀", "<>&"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		out := appendString(nil, s)
		var got, want string
		if err := json.Unmarshal(out, &got); err != nil {
			t.Fatalf("invalid JSON %q for %q", out, s)
		}
		ref, _ := json.Marshal(s)
		if err := json.Unmarshal(ref, &want); err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		if got != want {
			t.Fatalf("%q: got %q want %q", s, got, want)
		}
	})
}

// canonical rebuilds the generic JSON form of a decoded tuple, as
// normalize shapes encoding/json's.
func canonical(t *tuple) map[string]any {
	out := map[string]any{}
	if t.has&hasSubject != 0 {
		s := map[string]any{}
		put(s, "type", t.sub.Type)
		put(s, "id", t.sub.ID)
		p := map[string]any{}
		for k, v := range t.sub.Properties {
			p[k] = v
		}
		put(p, "unit", t.sub.Unit)
		put(p, "company", t.sub.Company)
		putList(p, "groups", t.sub.Groups)
		putList(p, "companies", t.sub.Companies)
		putList(p, "facilities", t.sub.Facilities)
		if len(p) > 0 {
			s["properties"] = p
		}
		out["subject"] = s
	}
	if t.has&hasAction != 0 {
		a := map[string]any{}
		put(a, "name", t.action)
		out["action"] = a
	}
	if t.has&hasResource != 0 {
		r := map[string]any{}
		put(r, "type", t.res.Type)
		put(r, "id", t.res.ID)
		p := map[string]any{}
		for k, v := range t.res.Properties {
			p[k] = v
		}
		put(p, "ownerId", t.res.OwnerID)
		put(p, "unit", t.res.Unit)
		put(p, "facilityId", t.res.FacilityID)
		put(p, "companyId", t.res.CompanyID)
		putList(p, "assigneeIds", t.res.AssigneeIDs)
		putList(p, "projectContacts", t.res.ProjectContacts)
		if t.res.Approvals != nil {
			l := []any{}
			for _, a := range t.res.Approvals {
				m := map[string]any{}
				put(m, "step", a.Step)
				put(m, "by", a.By)
				l = append(l, m)
			}
			p["approvals"] = l
		}
		if len(p) > 0 {
			r["properties"] = p
		}
		out["resource"] = r
	}
	if t.has&hasContext != 0 {
		c := map[string]any{}
		for k, v := range t.ctx {
			c[k] = v
		}
		put(c, "minRevision", t.minRevision)
		out["context"] = c
	}
	return out
}

func put(m map[string]any, k, v string) {
	if v != "" {
		m[k] = v
	}
}

func putList(m map[string]any, k string, v []string) {
	if v != nil {
		l := make([]any, len(v))
		for i, x := range v {
			l[i] = x
		}
		m[k] = l
	}
}

// normalize drops what the typed decoder cannot distinguish from absence:
// null parts and properties, empty strings in typed string fields, and
// action properties (accepted and ignored).
func normalize(m map[string]any) map[string]any {
	out := map[string]any{}
	typed := map[string][]string{
		"subject":  {"type", "id"},
		"action":   {"name"},
		"resource": {"type", "id"},
	}
	typedProps := map[string][]string{
		"subject":  {"unit", "company", "groups", "companies", "facilities"},
		"resource": {"ownerId", "unit", "facilityId", "companyId", "assigneeIds", "projectContacts", "approvals"},
	}
	for part, v := range m {
		if v == nil {
			continue
		}
		obj, _ := v.(map[string]any)
		n := map[string]any{}
		for k, x := range obj {
			n[k] = x
		}
		for _, k := range typed[part] {
			if n[k] == "" || (n[k] == nil) {
				delete(n, k)
			}
		}
		if part == "action" {
			delete(n, "properties")
		}
		if part == "context" {
			if n["minRevision"] == "" {
				delete(n, "minRevision")
			}
		}
		if p, ok := n["properties"]; ok {
			if p == nil {
				delete(n, "properties")
			} else {
				pm := map[string]any{}
				for k, x := range p.(map[string]any) {
					pm[k] = x
				}
				for _, k := range typedProps[part] {
					if pm[k] == nil || pm[k] == "" {
						delete(pm, k)
					}
				}
				// approvals is a typed list of resources only; in
				// subject.properties it is a generic value.
				if ap, ok := pm["approvals"].([]any); ok && part == "resource" {
					l := []any{}
					for _, a := range ap {
						am := map[string]any{}
						for k, x := range a.(map[string]any) {
							if x != "" {
								am[k] = x
							}
						}
						l = append(l, am)
					}
					pm["approvals"] = l
				}
				if len(pm) == 0 {
					delete(n, "properties")
				} else {
					n["properties"] = pm
				}
			}
		}
		out[part] = n
	}
	return out
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
