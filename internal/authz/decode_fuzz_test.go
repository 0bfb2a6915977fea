package authz

import (
	"bytes"
	"encoding/json"
	"reflect"
	"strconv"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/gatehouse-dev/gatehouse/internal/authz/jsonscan/jsonscantest"
)

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
			if !skipped && fs.number == "" && !jsonscantest.RefExact(t, string(v)) {
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
