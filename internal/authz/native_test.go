package authz

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

func decodeJSON(t *testing.T, b []byte, v any) {
	t.Helper()
	if err := json.Unmarshal(b, v); err != nil {
		t.Fatalf("%v: %s", err, b)
	}
}

func TestFieldsEndpoint(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	w := do(h, "POST", base+"/v1/fields", `{"subject":{"id":"bea.billing"},"resource":{"type":"workorders"}}`)
	var out struct {
		Revision string
		snapshot.FieldAccessResult
	}
	decodeJSON(t, w.Body.Bytes(), &out)
	if w.Code != 200 || !out.Covered || out.Revision == "" {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	found := false
	for _, f := range out.Writable {
		found = found || f == "billingRate"
	}
	if !found {
		t.Errorf("billing clerk cannot write billingRate: %s", w.Body)
	}
	w = do(h, "POST", base+"/v1/fields", `{"subject":{"id":"bea.billing"}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "resource: required") {
		t.Errorf("missing resource: %d %s", w.Code, w.Body)
	}
	w = do(h, "POST", base+"/v1/fields", `{"subject":{"id":"bea.billing"},"action":{"name":"view"},"resource":{"type":"x"}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "action: unknown field") {
		t.Errorf("action on fields: %d %s", w.Code, w.Body)
	}
}

// /v1/fields fails closed like /v1/evaluation: a subject Check denies
// everything reads and writes nothing, with Check's reason; others get
// what their roles and groups give.
func TestFieldsEndpointFailsClosed(t *testing.T) {
	objs := sampleObjects(t)
	meta := func(n string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: n, Namespace: tenant} }
	objs.Groups = append(slices.Clone(objs.Groups),
		v1alpha1.UserGroup{ObjectMeta: meta("no-roles"), Spec: v1alpha1.UserGroupSpec{Members: []v1alpha1.SubjectID{"nora.noroles"}}},
		// Left out: it names a role that does not exist.
		v1alpha1.UserGroup{ObjectMeta: meta("broken"), Spec: v1alpha1.UserGroupSpec{Members: []v1alpha1.SubjectID{"gil.leftout"}, Roles: []v1alpha1.ObjectName{"ghost"}}})
	snap, problems := snapshot.Compile(tenant, objs)
	if len(problems) != 1 {
		t.Fatalf("problems: %v", problems)
	}
	h, st := newTestHandler(t, Options{})
	st.Set(tenant, &store.Entry{Snapshot: snap, CompiledAt: time.Now()})
	all := []string{"billingRate", "custom.warrantyCode", "margin", "status"}
	tests := map[string]struct {
		tenant   string
		subject  string // JSON
		res      string
		code     int
		reason   string
		def      v1alpha1.FieldAccess
		readable []string
		writable []string
	}{
		"normal subject (unchanged)": {subject: `{"id":"bea.billing"}`, def: "write",
			readable: all, writable: []string{"billingRate", "status"}},
		"full access": {subject: `{"id":"dana.director"}`, def: "write", readable: all, writable: all},
		"IdP-group subject: what its groups give": {subject: `{"id":"ivy","properties":{"groups":["acme-staff"]}}`, def: "write",
			readable: []string{"custom.warrantyCode", "status"}, writable: []string{}},
		"unknown subject":                   {subject: `{"id":"nobody.here"}`, reason: snapshot.ReasonUnknownSubject},
		"unknown subject, uncovered module": {subject: `{"id":"nobody.here"}`, res: "assets", reason: snapshot.ReasonUnknownSubject},
		"IdP groups no group selects":       {subject: `{"id":"ivy","properties":{"groups":["acme-nobody"]}}`, reason: snapshot.ReasonUnknownSubject},
		"known subject without roles":       {subject: `{"id":"nora.noroles"}`, reason: snapshot.ReasonNoRoles},
		"only in a left-out group":          {subject: `{"id":"gil.leftout"}`, reason: snapshot.ReasonNoRoles},
		"no snapshot":                       {tenant: "unserved", subject: `{"id":"bea.billing"}`, reason: snapshot.ReasonNoSnapshot},
		"empty subject ID":                  {subject: `{"id":""}`, code: 400},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			path := base
			if tc.tenant != "" {
				path = "/tenants/" + tc.tenant
			}
			res := tc.res
			if res == "" {
				res = "workorders"
			}
			w := do(h, "POST", path+"/v1/fields", `{"subject":`+tc.subject+`,"resource":{"type":"`+res+`"}}`)
			if tc.code != 0 {
				if w.Code != tc.code {
					t.Fatalf("%d %s, want %d", w.Code, w.Body, tc.code)
				}
				return
			}
			var out struct {
				Revision string
				snapshot.FieldAccessResult
			}
			decodeJSON(t, w.Body.Bytes(), &out)
			if w.Code != 200 || out.Reason != tc.reason {
				t.Fatalf("%d %s, want reason %q", w.Code, w.Body, tc.reason)
			}
			if tc.reason != "" {
				if !out.Covered || out.Default != v1alpha1.FieldHidden || out.Readable == nil || len(out.Readable) != 0 || out.Writable == nil || len(out.Writable) != 0 {
					t.Fatalf("%s: want covered, default hidden, nothing readable or writable", w.Body)
				}
				return
			}
			if !out.Covered || out.Default != tc.def || !slices.Equal(out.Readable, tc.readable) || !slices.Equal(out.Writable, tc.writable) {
				t.Fatalf("%s: want default %s, readable %v, writable %v", w.Body, tc.def, tc.readable, tc.writable)
			}
		})
	}
}

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

func TestApprovalEndpoints(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	po := `{"type":"purchaseorders","id":"po-9","properties":{"amount":30000,"unit":"/ca/ab/calgary","ownerId":"tom.tech","approvals":[{"step":"supervisor","by":"sam.supervisor"}]}}`
	w := do(h, "POST", base+"/v1/approvals/plan", `{"resource":`+po+`}`)
	var plan snapshot.ApprovalPlanResult
	decodeJSON(t, w.Body.Bytes(), &plan)
	if w.Code != 200 || plan.Chain != "purchase-orders" || plan.Current != "director" || len(plan.Steps) != 2 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	w = do(h, "POST", base+"/v1/approvals/check", `{"subject":{"id":"dana.director"},"resource":`+po+`}`)
	var d snapshot.ApprovalDecision
	decodeJSON(t, w.Body.Bytes(), &d)
	if !d.Allowed || d.Step != "director" {
		t.Errorf("director: %s", w.Body)
	}
	w = do(h, "POST", base+"/v1/approvals/check", `{"subject":{"id":"tom.tech"},"resource":`+po+`}`)
	d = snapshot.ApprovalDecision{}
	decodeJSON(t, w.Body.Bytes(), &d)
	if d.Allowed || d.Reason != snapshot.ReasonNotEligible {
		t.Errorf("owner: %s", w.Body)
	}
	w = do(h, "POST", base+"/v1/approvals/plan", `{"resource":{"type":"purchaseorders","properties":{"approvals":[{"step":"a","who":"b"}]}}}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "resource.properties.approvals[0].who: unknown field") {
		t.Errorf("bad approval: %d %s", w.Code, w.Body)
	}
}

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

func TestBatchLimit(t *testing.T) {
	h, _ := newTestHandler(t, Options{MaxBatch: 3})
	w := do(h, "POST", base+"/access/v1/evaluations", `{"subject":{"id":"a"},"action":{"name":"view"},"evaluations":[{"resource":{"type":"x"}},{"resource":{"type":"x"}},{"resource":{"type":"x"}},{"resource":{"type":"x"}}]}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "more than 3 evaluations") {
		t.Errorf("%d %s", w.Code, w.Body)
	}
}

func TestMinRevision(t *testing.T) {
	h, st := newTestHandler(t, Options{MinRevisionWait: 100 * time.Millisecond})
	cur := sampleSnapshot(t)
	eval := func(rev string) (int, http.Header, string) {
		w := do(h, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"},"context":{"minRevision":"`+rev+`"}}`)
		return w.Code, w.Header(), w.Body.String()
	}
	if code, _, body := eval(cur.Revision()); code != 200 {
		t.Fatalf("current revision: %d %s", code, body)
	}
	code, hdr, body := eval("0000000000000000")
	if code != 503 || hdr.Get("Retry-After") == "" || hdr.Get(RevisionHeader) != cur.Revision() {
		t.Fatalf("unknown revision: %d %v %s", code, hdr, body)
	}
	// A new snapshot arriving while the request waits is used.
	objs := sampleObjects(t)
	objs.Roles = append([]v1alpha1.Role(nil), objs.Roles...)
	objs.Roles = objs.Roles[1:] // drop administrator
	next, _ := snapshot.Compile(tenant, objs)
	h2, st2 := newTestHandler(t, Options{MinRevisionWait: 5 * time.Second})
	_ = st
	go func() {
		time.Sleep(50 * time.Millisecond)
		st2.Set(tenant, &store.Entry{Snapshot: next, CompiledAt: time.Now()})
	}()
	w := do(h2, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"dana.director"},"action":{"name":"view"},"resource":{"type":"invoices"},"context":{"minRevision":"`+next.Revision()+`"}}`)
	if w.Code != 200 || w.Header().Get(RevisionHeader) != next.Revision() {
		t.Errorf("waited: %d %v %s", w.Code, w.Header(), w.Body)
	}
	// Conflicting minRevisions in one batch.
	w = do(h2, "POST", base+"/access/v1/evaluations", `{"context":{"minRevision":"a"},"evaluations":[{"context":{"minRevision":"b"}}]}`)
	if w.Code != 400 || !strings.Contains(w.Body.String(), "conflicts") {
		t.Errorf("conflict: %d %s", w.Code, w.Body)
	}
}

type failingAuth struct{ err error }

func (f failingAuth) Authenticate(context.Context, string) (*Caller, error) { return nil, f.err }

type failingTenants struct{}

func (failingTenants) AuthorizeTenant(context.Context, *Caller, string) (bool, error) {
	return false, errors.New("down")
}

func TestCallerAuthentication(t *testing.T) {
	app := &Caller{Name: "app-a"}
	h, _ := newTestHandler(t, Options{
		Authenticator:    StaticTokens{"secret-a": app},
		TenantAuthorizer: TenantsByCaller{"app-a": {tenant}},
	})
	eval := `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"}}`
	cases := []struct {
		path, auth string
		status     int
	}{
		{base + "/access/v1/evaluation", "", 401},
		{base + "/access/v1/evaluation", "Bearer wrong", 401},
		{base + "/access/v1/evaluation", "Basic c2VjcmV0LWE=", 401},
		{base + "/access/v1/evaluation", "Bearer secret-a", 200},
		{base + "/access/v1/evaluation", "bearer secret-a", 200},
		{"/tenants/other/access/v1/evaluation", "Bearer secret-a", 403},
		{"/tenants/other/.well-known/authzen-configuration", "Bearer secret-a", 403},
	}
	for _, c := range cases {
		method := "POST"
		if strings.HasSuffix(c.path, "configuration") {
			method = "GET"
		}
		w := do(h, method, c.path, eval, "Authorization", c.auth)
		if w.Code != c.status {
			t.Errorf("%s %q: %d %s", c.path, c.auth, w.Code, w.Body)
		}
		if c.status == 401 && w.Header().Get("WWW-Authenticate") == "" {
			t.Errorf("401 without WWW-Authenticate")
		}
		if strings.Contains(w.Body.String(), "secret") {
			t.Errorf("token echoed: %s", w.Body)
		}
	}
	h2, _ := newTestHandler(t, Options{Authenticator: failingAuth{errors.New("apiserver down")}})
	if w := do(h2, "POST", base+"/access/v1/evaluation", eval, "Authorization", "Bearer x"); w.Code != 503 || w.Header().Get("Retry-After") == "" {
		t.Errorf("authn unavailable: %d", w.Code)
	}
	h3, _ := newTestHandler(t, Options{TenantAuthorizer: failingTenants{}})
	if w := do(h3, "POST", base+"/access/v1/evaluation", eval); w.Code != 503 {
		t.Errorf("tenant authz unavailable: %d", w.Code)
	}
	if _, err := New(store.New(), Options{}); err == nil {
		t.Error("New without security accepted")
	}
}

func TestDecisionLog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	h, _ := newTestHandler(t, Options{
		DecisionLog: logger, DecisionLogSampleRate: 1,
		Authenticator:    StaticTokens{"tok-secret-123": {Name: "app"}},
		TenantAuthorizer: TenantsByCaller{"app": {tenant}},
	})
	do(h, "POST", base+"/access/v1/evaluation",
		`{"subject":{"id":"vic.viewer","properties":{"ssn":"123-45-6789"}},"action":{"name":"view"},"resource":{"type":"assets","id":"a1","properties":{"secret":"hunter2"}},"context":{"apiKey":"k-999"}}`,
		"Authorization", "Bearer tok-secret-123", "X-Request-ID", "r-1")
	line := buf.String()
	var rec map[string]any
	decodeJSON(t, []byte(line), &rec)
	if rec["decision"] != true || rec["subject"] != "vic.viewer" || rec["caller"] != "app" || rec["requestId"] != "r-1" || rec["role"] != "view-only" {
		t.Errorf("record %s", line)
	}
	for _, secret := range []string{"tok-secret-123", "123-45-6789", "hunter2", "k-999"} {
		if strings.Contains(line, secret) {
			t.Errorf("decision log contains %q: %s", secret, line)
		}
	}
	// Sampling: rate 0 logs nothing, a small rate logs some.
	buf.Reset()
	h0, _ := newTestHandler(t, Options{DecisionLog: logger, DecisionLogSampleRate: 0})
	for i := 0; i < 50; i++ {
		do(h0, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"}}`)
	}
	if buf.Len() != 0 {
		t.Errorf("rate 0 logged: %s", buf.String())
	}
	h5, _ := newTestHandler(t, Options{DecisionLog: logger, DecisionLogSampleRate: 0.5})
	for i := 0; i < 400; i++ {
		do(h5, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"}}`)
	}
	if n := strings.Count(buf.String(), "\n"); n < 100 || n > 300 {
		t.Errorf("rate 0.5 logged %d of 400", n)
	}
}
