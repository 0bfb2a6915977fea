package authz

import (
	"bytes"
	"fmt"
	"mime"
	"net/http"
	"os"
	"regexp"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"sigs.k8s.io/yaml"
)

// The contract (openapi.yaml) is checked three ways: the route table and
// its operations agree (TestOpenAPIMatchesRouteTable), the document is
// served (TestOpenAPIServed), and every response the package's tests
// produce through do (helpers_test.go) and the end-to-end client
// (adversarial_test.go) is validated against it: status, required headers
// and body for the path, method and status, and for a 2xx answer to a POST
// the request body too. A response the contract does not describe is a
// violation; TestMain fails the run on any, naming the test's call site.

const contractURL = "mem://gatehouse/openapi.json"

// contract is the loaded document with its compiled schemas.
type contract struct {
	doc  map[string]any
	ops  []contractPath
	comp *jsonschema.Compiler

	mu         sync.Mutex
	schemas    map[string]*jsonschema.Schema // by JSON pointer
	checked    int                           // responses validated
	byStatus   map[int]int                   // of which, per status
	requests   int                           // request bodies validated
	violations []string
}

// contractPath is one path template of the document.
type contractPath struct {
	template string
	re       *regexp.Regexp
	ptr      string // JSON pointer of the path item
	item     map[string]any
}

var (
	theContract     *contract
	theContractErr  error
	theContractOnce sync.Once
)

// loadContract parses openapi.yaml once.
func loadContract() (*contract, error) {
	theContractOnce.Do(func() { theContract, theContractErr = newContract(openAPIYAML) })
	return theContract, theContractErr
}

func newContract(src []byte) (*contract, error) {
	j, err := yaml.YAMLToJSON(src)
	if err != nil {
		return nil, err
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(j))
	if err != nil {
		return nil, err
	}
	doc, ok := v.(map[string]any)
	if !ok || doc["openapi"] != "3.1.0" {
		return nil, fmt.Errorf("not an OpenAPI 3.1.0 document")
	}
	c := &contract{doc: doc, comp: jsonschema.NewCompiler(), schemas: map[string]*jsonschema.Schema{}}
	c.comp.DefaultDraft(jsonschema.Draft2020)
	if err := c.comp.AddResource(contractURL, doc); err != nil {
		return nil, err
	}
	paths, _ := doc["paths"].(map[string]any)
	for tmpl, item := range paths {
		segs := strings.Split(tmpl, "/")
		for i, seg := range segs {
			if strings.HasPrefix(seg, "{") && strings.HasSuffix(seg, "}") {
				segs[i] = "[^/]+"
			} else {
				segs[i] = regexp.QuoteMeta(seg)
			}
		}
		re := "^" + strings.Join(segs, "/") + "$"
		m, _ := item.(map[string]any)
		c.ops = append(c.ops, contractPath{template: tmpl, re: regexp.MustCompile(re), ptr: "/paths/" + escapePtr(tmpl), item: m})
	}
	// Literal paths before templates, then by template, so that matching
	// is deterministic.
	sort.Slice(c.ops, func(i, j int) bool {
		a, b := strings.Count(c.ops[i].template, "{"), strings.Count(c.ops[j].template, "{")
		if a != b {
			return a < b
		}
		return c.ops[i].template < c.ops[j].template
	})
	// Compile every schema now, so that a broken document fails at once.
	var walkErr error
	c.eachSchemaPtr(func(ptr string) {
		if _, err := c.schema(ptr); err != nil && walkErr == nil {
			walkErr = err
		}
	})
	return c, walkErr
}

func escapePtr(tok string) string {
	return strings.NewReplacer("~", "~0", "/", "~1").Replace(tok)
}

// eachSchemaPtr calls f with the pointer of every schema of
// components.schemas.
func (c *contract) eachSchemaPtr(f func(string)) {
	comps, _ := c.doc["components"].(map[string]any)
	schemas, _ := comps["schemas"].(map[string]any)
	for name := range schemas {
		f("/components/schemas/" + escapePtr(name))
	}
}

// at returns the value at a JSON pointer of the document.
func (c *contract) at(ptr string) (any, bool) {
	var v any = c.doc
	if ptr == "" {
		return v, true
	}
	for _, tok := range strings.Split(ptr[1:], "/") {
		tok = strings.NewReplacer("~1", "/", "~0", "~").Replace(tok)
		switch x := v.(type) {
		case map[string]any:
			var ok bool
			if v, ok = x[tok]; !ok {
				return nil, false
			}
		case []any:
			i, err := strconv.Atoi(tok)
			if err != nil || i < 0 || i >= len(x) {
				return nil, false
			}
			v = x[i]
		default:
			return nil, false
		}
	}
	return v, true
}

// deref follows $ref (local references only) from the object at ptr and
// returns the object and its pointer.
func (c *contract) deref(ptr string) (map[string]any, string, error) {
	for range 10 {
		v, ok := c.at(ptr)
		if !ok {
			return nil, ptr, fmt.Errorf("%s: not in the document", ptr)
		}
		m, ok := v.(map[string]any)
		if !ok {
			return nil, ptr, fmt.Errorf("%s: not an object", ptr)
		}
		ref, ok := m["$ref"].(string)
		if !ok {
			return m, ptr, nil
		}
		if !strings.HasPrefix(ref, "#/") {
			return nil, ptr, fmt.Errorf("%s: only local $ref: %s", ptr, ref)
		}
		ptr = ref[1:]
	}
	return nil, ptr, fmt.Errorf("%s: $ref loop", ptr)
}

// schema compiles (once) the schema at ptr.
func (c *contract) schema(ptr string) (*jsonschema.Schema, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s, ok := c.schemas[ptr]; ok {
		return s, nil
	}
	s, err := c.comp.Compile(contractURL + "#" + ptr)
	if err != nil {
		return nil, err
	}
	c.schemas[ptr] = s
	return s, nil
}

// operation finds the operation of method on path: its pointer, or why
// there is none ("" and the unmatched status the answer must have).
func (c *contract) operation(method, path string) (ptr string, unmatched string) {
	m := strings.ToLower(method)
	for i := range c.ops {
		p := &c.ops[i]
		if !p.re.MatchString(path) {
			continue
		}
		if _, ok := p.item[m]; ok {
			return p.ptr + "/" + m, ""
		}
		return "", "405"
	}
	return "", "404"
}

// exchange is one request and its answer, as a test saw it.
type exchange struct {
	method, path string // path without the query
	reqBody      []byte
	status       int
	header       http.Header
	body         []byte
}

// check validates x against the contract; it returns the violations.
func (c *contract) check(x *exchange) []string {
	var bad []string
	fail := func(format string, args ...any) {
		bad = append(bad, fmt.Sprintf("%s %s → %d: ", x.method, x.path, x.status)+fmt.Sprintf(format, args...))
	}
	opPtr, unmatched := c.operation(x.method, x.path)
	status := strconv.Itoa(x.status)
	var respPtr string
	if opPtr == "" {
		if status != unmatched {
			fail("no operation in the contract (only %s is described for it)", unmatched)
			return bad
		}
		respPtr = "/x-gatehouse-unmatched/" + unmatched
	} else {
		respPtr = opPtr + "/responses/" + status
		if _, ok := c.at(respPtr); !ok {
			fail("status not in the contract for this operation")
			return bad
		}
	}
	resp, respPtr, err := c.deref(respPtr)
	if err != nil {
		fail("%v", err)
		return bad
	}
	// Headers.
	hdrs, _ := resp["headers"].(map[string]any)
	for name := range hdrs {
		h, hPtr, err := c.deref(respPtr + "/headers/" + escapePtr(name))
		if err != nil {
			fail("%v", err)
			continue
		}
		vals, present := x.header[http.CanonicalHeaderKey(name)]
		if !present {
			if req, _ := h["required"].(bool); req {
				fail("required header %s missing", name)
			}
			continue
		}
		if _, ok := h["schema"]; !ok || len(vals) == 0 {
			continue
		}
		sch, err := c.schema(hPtr + "/schema")
		if err != nil {
			fail("header %s: %v", name, err)
			continue
		}
		var v any = vals[0]
		if s, _ := h["schema"].(map[string]any); s["type"] == "integer" {
			n, err := strconv.Atoi(vals[0])
			if err != nil {
				fail("header %s: %q is not an integer", name, vals[0])
				continue
			}
			v = n
		}
		if err := sch.Validate(v); err != nil {
			fail("header %s: %v", name, err)
		}
	}
	// Body.
	content, _ := resp["content"].(map[string]any)
	ct := x.header.Get("Content-Type")
	mt, _, _ := mime.ParseMediaType(ct)
	media, ok := content[mt].(map[string]any)
	if len(content) > 0 && !ok {
		fail("Content-Type %q not in the contract", ct)
		return bad
	}
	if ok && x.method != http.MethodHead {
		if _, has := media["schema"]; has {
			if msg := c.validateJSON(respPtr+"/content/"+escapePtr(mt)+"/schema", x.body); msg != "" {
				fail("response body: %s: %s", msg, x.body)
			}
		}
	}
	// A request that succeeded must have been a valid one: its path
	// parameters and its body.
	if opPtr != "" && x.status/100 == 2 {
		for _, msg := range c.checkPathParams(x.path) {
			fail("path parameter accepted but not valid: %s", msg)
		}
	}
	if opPtr != "" && x.status/100 == 2 && len(x.reqBody) > 0 {
		if _, ok := c.at(opPtr + "/requestBody"); ok {
			rb, rbPtr, err := c.deref(opPtr + "/requestBody")
			if err != nil {
				fail("%v", err)
				return bad
			}
			content, _ := rb["content"].(map[string]any)
			if _, ok := content["application/json"]; ok {
				if msg := c.validateJSON(rbPtr+"/content/application~1json/schema", x.reqBody); msg != "" {
					fail("request body accepted but not valid: %s: %s", msg, x.reqBody)
				}
				c.mu.Lock()
				c.requests++
				c.mu.Unlock()
			}
		}
	}
	return bad
}

// checkPathParams validates the path parameters of the path item path
// matches against their schemas.
func (c *contract) checkPathParams(path string) []string {
	var bad []string
	for i := range c.ops {
		p := &c.ops[i]
		if !p.re.MatchString(path) {
			continue
		}
		segs, vals := strings.Split(p.template, "/"), strings.Split(path, "/")
		params, _ := p.item["parameters"].([]any)
		for j := range params {
			prm, prmPtr, err := c.deref(p.ptr + "/parameters/" + strconv.Itoa(j))
			if err != nil {
				bad = append(bad, err.Error())
				continue
			}
			for k, seg := range segs {
				if prm["in"] != "path" || seg != "{"+fmt.Sprint(prm["name"])+"}" {
					continue
				}
				sch, err := c.schema(prmPtr + "/schema")
				if err != nil {
					bad = append(bad, err.Error())
				} else if err := sch.Validate(vals[k]); err != nil {
					bad = append(bad, fmt.Sprintf("%s=%q: %v", seg, vals[k], err))
				}
			}
		}
		break
	}
	return bad
}

// validateJSON validates a JSON text against the schema at ptr ("" when
// valid).
func (c *contract) validateJSON(ptr string, b []byte) string {
	sch, err := c.schema(ptr)
	if err != nil {
		return err.Error()
	}
	v, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
	if err != nil {
		return "not JSON: " + err.Error()
	}
	if err := sch.Validate(v); err != nil {
		return strings.ReplaceAll(err.Error(), "\n", "; ")
	}
	return ""
}

// record validates x and keeps its violations, with the test's call site,
// for TestMain.
func (c *contract) record(x *exchange) {
	bad := c.check(x)
	site := callSite()
	c.mu.Lock()
	defer c.mu.Unlock()
	c.checked++
	if c.byStatus == nil {
		c.byStatus = map[int]int{}
	}
	c.byStatus[x.status]++
	for _, b := range bad {
		c.violations = append(c.violations, site+": "+b)
	}
}

// callSite is the first frame outside the request helpers.
func callSite() string {
	pc := make([]uintptr, 16)
	n := runtime.Callers(3, pc)
	frames := runtime.CallersFrames(pc[:n])
	for {
		f, more := frames.Next()
		file := f.File[strings.LastIndexByte(f.File, '/')+1:]
		if file != "openapi_test.go" && file != "helpers_test.go" && !strings.HasPrefix(f.Function, "net/http") {
			return file + ":" + strconv.Itoa(f.Line)
		}
		if !more {
			return "?"
		}
	}
}

// checkContract validates one exchange of a test against the contract.
// The test helpers call it for every answer they see.
func checkContract(method, path string, reqBody []byte, status int, header http.Header, body []byte) {
	c, err := loadContract()
	if err != nil {
		return // TestOpenAPIDocument reports it
	}
	if i := strings.IndexByte(path, '?'); i >= 0 {
		path = path[:i]
	}
	c.record(&exchange{method: method, path: path, reqBody: reqBody, status: status, header: header, body: body})
}

func TestMain(m *testing.M) {
	code := m.Run()
	if c, err := loadContract(); err == nil {
		c.mu.Lock()
		fmt.Fprintf(os.Stderr, "openapi.yaml: %d responses (by status %v) and %d accepted requests validated, %d violations\n", c.checked, c.byStatus, c.requests, len(c.violations))
		for _, v := range c.violations {
			fmt.Fprintln(os.Stderr, "  "+v)
		}
		if len(c.violations) > 0 && code == 0 {
			code = 1
		}
		c.mu.Unlock()
	}
	os.Exit(code)
}

// TestOpenAPIDocument checks that the document parses and every schema
// compiles.
func TestOpenAPIDocument(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	// Every $ref anywhere resolves.
	var walk func(ptr string, v any)
	walk = func(ptr string, v any) {
		switch v := v.(type) {
		case map[string]any:
			if ref, ok := v["$ref"].(string); ok {
				if _, ok := c.at(strings.TrimPrefix(ref, "#")); !ok || !strings.HasPrefix(ref, "#/") {
					t.Errorf("%s: $ref %s does not resolve", ptr, ref)
				}
			}
			for k, x := range v {
				walk(ptr+"/"+escapePtr(k), x)
			}
		case []any:
			for i, x := range v {
				walk(ptr+"/"+strconv.Itoa(i), x)
			}
		}
	}
	walk("", c.doc)
	// Operation ids are unique, and every operation describes the
	// answers any request can get (authentication comes first) and the
	// headers of every answer.
	ids := map[string]string{}
	for _, p := range c.ops {
		for m, op := range p.item {
			o, ok := op.(map[string]any)
			if !ok || m == "parameters" {
				continue
			}
			where := m + " " + p.template
			id, _ := o["operationId"].(string)
			if prev, dup := ids[id]; dup || id == "" {
				t.Errorf("%s: operationId %q missing or also used by %s", where, id, prev)
			}
			ids[id] = where
			responses, _ := o["responses"].(map[string]any)
			for _, st := range []string{"200", "401", "429", "503"} {
				if _, ok := responses[st]; !ok {
					t.Errorf("%s: no %s response", where, st)
				}
			}
			for st := range responses {
				r, _, err := c.deref(p.ptr + "/" + m + "/responses/" + st)
				if err != nil {
					t.Error(err)
					continue
				}
				hdrs, _ := r["headers"].(map[string]any)
				if hdrs[RevisionHeader] == nil || hdrs["Cache-Control"] == nil {
					t.Errorf("%s %s: the response does not describe %s and Cache-Control", where, st, RevisionHeader)
				}
			}
		}
	}
}

// contractRoutes lists the method and path template of every route the
// handler serves, from the route table: the tenant form, its RFC 8615
// discovery form and the default tenant's root form of tenant routes, and
// root routes as they are.
func contractRoutes() map[string]endpoint {
	routes := map[string]endpoint{}
	for i, e := range endpoints {
		ep := endpoint(i)
		methods := []string{"post"}
		if e.get {
			methods = []string{"get", "head"}
		}
		var paths []string
		switch {
		case e.rootPath != "":
			paths = []string{e.rootPath}
		case e.path != "":
			paths = []string{tenantsPrefix + "{tenant}/" + e.path, "/" + e.path}
			if e.path == wellKnownAuthZEN {
				paths = append(paths, "/"+wellKnownAuthZEN+tenantsPrefix+"{tenant}")
			}
		}
		for _, p := range paths {
			for _, m := range methods {
				routes[m+" "+p] = ep
			}
		}
	}
	return routes
}

// TestOpenAPIMatchesRouteTable checks that the route table and the
// contract agree both ways, including the discovery parameters.
func TestOpenAPIMatchesRouteTable(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	routes := contractRoutes()
	inDoc := map[string]bool{}
	for _, p := range c.ops {
		for m := range p.item {
			switch m {
			case "get", "head", "post", "put", "delete", "patch", "options", "trace":
				inDoc[m+" "+p.template] = true
			}
		}
	}
	for r, ep := range routes {
		if !inDoc[r] {
			t.Errorf("route %s (%s) is not in openapi.yaml", r, endpoints[ep].metric)
		}
	}
	for r := range inDoc {
		if _, ok := routes[r]; !ok {
			t.Errorf("openapi.yaml has %s, which the route table does not serve", r)
		}
	}
	// Every route the table serves is matched by the handler at the
	// path the contract gives it.
	h, _ := newTestHandler(t, Options{DefaultTenant: tenant})
	for r, ep := range routes {
		path := strings.ReplaceAll(r[strings.IndexByte(r, ' ')+1:], "{tenant}", tenant)
		if rt, ok := h.match(path); !ok || rt.ep != ep {
			t.Errorf("%s: the handler routes %s to %v, %v", r, path, rt, ok)
		}
	}
	// The discovery document's members are the table's parameters, the
	// PDP and the batch limit.
	d, _, err := c.deref("/components/schemas/Discovery")
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"policy_decision_point", "gatehouse_max_batch"}
	for _, e := range endpoints {
		if e.discovery != "" {
			want = append(want, e.discovery)
		}
	}
	props, _ := d["properties"].(map[string]any)
	var got []string
	for k := range props {
		got = append(got, k)
	}
	sort.Strings(got)
	sort.Strings(want)
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Discovery schema members %v, route table %v", got, want)
	}
}

// TestOpenAPIServed checks GET and HEAD /openapi.json: the embedded
// document as JSON, to authenticated callers only.
func TestOpenAPIServed(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	w := do(h, "GET", "/openapi.json", "", "X-Request-ID", "r-1")
	if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "application/json" || w.Header().Get("X-Request-Id") != "r-1" {
		t.Fatalf("GET: %d %v", w.Code, w.Header())
	}
	want, err := yaml.YAMLToJSON(openAPIYAML)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(w.Body.Bytes(), want) {
		t.Error("GET /openapi.json is not openapi.yaml")
	}
	if w := do(h, "HEAD", "/openapi.json", ""); w.Code != http.StatusOK {
		t.Errorf("HEAD: %d", w.Code)
	}
	if w := do(h, "POST", "/openapi.json", "{}"); w.Code != http.StatusMethodNotAllowed || w.Header().Get("Allow") != "GET, HEAD" {
		t.Errorf("POST: %d %v", w.Code, w.Header())
	}
	if w := do(h, "GET", base+"/openapi.json", ""); w.Code != http.StatusNotFound {
		t.Errorf("under a tenant: %d", w.Code)
	}
	// Default tenant: still the document, not a tenant route.
	hd, _ := newTestHandler(t, Options{DefaultTenant: tenant})
	if w := do(hd, "GET", "/openapi.json", ""); w.Code != http.StatusOK {
		t.Errorf("with a default tenant: %d", w.Code)
	}
	// Authenticated like every endpoint.
	ha, _ := newTestHandler(t, Options{Authenticator: StaticTokens{"t": {Name: "app", Key: "app"}}})
	if w := do(ha, "GET", "/openapi.json", ""); w.Code != http.StatusUnauthorized {
		t.Errorf("without a token: %d", w.Code)
	}
	if w := do(ha, "GET", "/openapi.json", "", "Authorization", "Bearer t"); w.Code != http.StatusOK {
		t.Errorf("with a token: %d", w.Code)
	}
}

// TestOpenAPIRejectsUndescribed checks that the validator itself catches a
// status, a body and a header the contract does not describe, so that
// passing tests mean something.
func TestOpenAPIRejectsUndescribed(t *testing.T) {
	c, err := loadContract()
	if err != nil {
		t.Fatal(err)
	}
	okHdr := http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}, RevisionHeader: {""}}
	cases := []struct {
		name string
		x    exchange
	}{
		{"undeclared status", exchange{method: "POST", path: base + "/access/v1/evaluation", status: 418, header: okHdr, body: []byte(`{"error":"x"}`)}},
		{"wrong body", exchange{method: "POST", path: base + "/access/v1/evaluation", status: 200, header: okHdr, body: []byte(`{"decision":"yes"}`)}},
		{"extra member", exchange{method: "POST", path: base + "/v1/fields", status: 400, header: okHdr, body: []byte(`{"error":"x","detail":1}`)}},
		{"missing revision header", exchange{method: "POST", path: base + "/v1/plan", status: 400, header: http.Header{"Content-Type": {"application/json"}, "Cache-Control": {"no-store"}}, body: []byte(`{"error":"x"}`)}},
		{"429 without Retry-After", exchange{method: "POST", path: base + "/v1/plan", status: 429, header: okHdr, body: []byte(`{"error":"x"}`)}},
		{"unknown path answered 200", exchange{method: "POST", path: "/nowhere", status: 200, header: okHdr, body: []byte(`{}`)}},
		{"invalid request accepted", exchange{method: "POST", path: base + "/access/v1/evaluation", reqBody: []byte(`{"subject":{"id":""}}`), status: 200, header: okHdr,
			body: []byte(`{"decision":false,"context":{"reason":"NoSnapshot"}}`)}},
		{"invalid tenant accepted", exchange{method: "GET", path: "/tenants/Bad_Name/.well-known/authzen-configuration", status: 200, header: okHdr,
			body: []byte(`{"policy_decision_point":"x"}`)}},
		{"not JSON", exchange{method: "GET", path: "/openapi.json", status: 200, header: okHdr, body: []byte(`openapi: 3.1.0`)}},
	}
	for _, tc := range cases {
		if bad := c.check(&tc.x); len(bad) == 0 {
			t.Errorf("%s: accepted", tc.name)
		}
	}
	good := exchange{method: "POST", path: base + "/access/v1/evaluation", reqBody: []byte(`{"subject":{"id":"a"},"action":{"name":"view"},"resource":{"type":"t"}}`),
		status: 200, header: okHdr, body: []byte(`{"decision":false,"context":{"reason":"NoSnapshot"}}`)}
	if bad := c.check(&good); len(bad) > 0 {
		t.Errorf("valid exchange refused: %v", bad)
	}
}
