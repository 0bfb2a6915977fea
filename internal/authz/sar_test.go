package authz

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"

	authorizationv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/internal/store"
)

const sarHead = `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview",`

// sarBody is a review with spec as given.
func sarBody(spec string) string { return sarHead + `"spec":` + spec + `}` }

// raSpec is a spec asking whether user (with groups, a JSON array or "")
// may do verb on group/resource[/subresource] name in ns.
func raSpec(user, groups, ns, verb, group, resource, sub, name string) string {
	ra, _ := json.Marshal(authorizationv1.ResourceAttributes{Namespace: ns, Verb: verb, Group: group, Resource: resource, Subresource: sub, Name: name})
	s := `{"resourceAttributes":` + string(ra) + `,"user":` + quote(user)
	if groups != "" {
		s += `,"groups":` + groups
	}
	return s + `}`
}

func quote(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

// sarAnswer posts body and returns the status code and the decoded answer
// (status 200) or error message.
func sarAnswer(t *testing.T, h *Handler, body string) (int, authorizationv1.SubjectAccessReview, string) {
	t.Helper()
	w := do(h, "POST", "/subjectaccessreview", body)
	var out authorizationv1.SubjectAccessReview
	var e struct {
		Error string `json:"error"`
	}
	if w.Code != 200 {
		if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil {
			t.Fatalf("%d: error answer is not JSON: %v: %s", w.Code, err, w.Body)
		}
		return w.Code, out, e.Error
	}
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatalf("answer is not JSON: %v: %s", err, w.Body)
	}
	if out.APIVersion != "authorization.k8s.io/v1" || out.Kind != "SubjectAccessReview" {
		t.Errorf("answer type meta: %s", w.Body)
	}
	return w.Code, out, ""
}

func TestSubjectAccessReview(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	const g = DefaultSARGroup
	// reason "" means any "gatehouse: ..." reason.
	cases := map[string]struct {
		spec            string
		allowed, denied bool
		reason          string
	}{
		"list is view":            {raSpec("vic.viewer", "", tenant, "list", g, "assets", "", ""), true, false, "gatehouse: Allowed"},
		"watch is view":           {raSpec("vic.viewer", "", tenant, "watch", g, "assets", "", "x1"), true, false, ""},
		"patch is edit: denied":   {raSpec("vic.viewer", "", tenant, "patch", g, "assets", "", "x1"), false, true, "gatehouse: NotPermitted"},
		"scope not matched":       {raSpec("tom.tech", "", tenant, "update", g, "assets", "", "x1"), false, true, ""},
		"create":                  {raSpec("bea.billing", "", tenant, "create", g, "invoices", "", ""), true, false, ""},
		"IdP group":               {raSpec("someone", `["acme-auditors"]`, tenant, "get", g, "workorders", "", "x1"), true, false, ""},
		"unknown subject":         {raSpec("stranger", "", tenant, "get", g, "assets", "", "x1"), false, false, "gatehouse: UnknownSubject"},
		"unknown module":          {raSpec("vic.viewer", "", tenant, "get", g, "pods", "", "x1"), false, false, "gatehouse: UnknownResource"},
		"unknown tenant":          {raSpec("vic.viewer", "", "elsewhere", "get", g, "assets", "", "x1"), false, false, "gatehouse: NoSnapshot"},
		"full access, any module": {raSpec("dana.director", "", tenant, "delete", g, "pods", "", "x1"), true, false, ""},

		// No opinion before any policy is consulted: a full-access
		// subject (dana.director, or the acme-admins IdP group) asks.
		"non-resource /healthz":       {`{"nonResourceAttributes":{"path":"/healthz","verb":"get"},"user":"dana.director"}`, false, false, reasonNonResource},
		"core pods/exec":              {raSpec("dana.director", "", tenant, "create", "", "pods", "exec", "p"), false, false, reasonGroup},
		"module group subresource":    {raSpec("dana.director", "", tenant, "update", g, "workorders", "status", "x1"), false, false, reasonSubresource},
		"core delete secrets":         {raSpec("someone", `["acme-admins"]`, tenant, "delete", "", "secrets", "", "s"), false, false, reasonGroup},
		"core impersonate users":      {raSpec("dana.director", "", "", "impersonate", "", "users", "", "admin"), false, false, reasonClusterScoped},
		"impersonate users in ns":     {raSpec("dana.director", "", tenant, "impersonate", "", "users", "", "admin"), false, false, reasonGroup},
		"impersonate in module group": {raSpec("dana.director", "", tenant, "impersonate", g, "assets", "", "x1"), false, false, reasonDangerousVerb},
		"escalate in module group":    {raSpec("dana.director", "", tenant, "escalate", g, "roles", "", ""), false, false, reasonDangerousVerb},
		"bind in module group":        {raSpec("dana.director", "", tenant, "bind", g, "roles", "", ""), false, false, reasonDangerousVerb},
		"use in module group":         {raSpec("dana.director", "", tenant, "use", g, "assets", "", ""), false, false, reasonDangerousVerb},
		"serviceaccounts/token":       {raSpec("dana.director", "", tenant, "create", "", "serviceaccounts", "token", "default"), false, false, reasonGroup},
		"apps deployments":            {raSpec("dana.director", "", tenant, "update", "apps", "deployments", "", "d"), false, false, reasonGroup},
		"gatehouse's own group":       {raSpec("dana.director", "", tenant, "update", "access.gatehouse.dev", "roles", "", "administrator"), false, false, reasonGroup},
		"group differs in case":       {raSpec("dana.director", "", tenant, "get", "Modules.Gatehouse.Dev", "assets", "", ""), false, false, reasonGroup},
		"wildcard verb":               {raSpec("dana.director", "", tenant, "*", g, "assets", "", ""), false, false, reasonWildcard},
		"wildcard resource":           {raSpec("dana.director", "", tenant, "get", g, "*", "", ""), false, false, reasonWildcard},
		"wildcard name":               {raSpec("dana.director", "", tenant, "get", g, "assets", "", "*"), false, false, reasonWildcard},
		"wildcard group":              {raSpec("dana.director", "", tenant, "get", "*", "assets", "", ""), false, false, reasonWildcard},
		"wildcard subresource":        {raSpec("dana.director", "", tenant, "get", g, "assets", "*", ""), false, false, reasonWildcard},
		"wildcard namespace":          {raSpec("dana.director", "", "*", "get", g, "assets", "", ""), false, false, reasonNotTenant},
		"cluster-scoped":              {raSpec("dana.director", "", "", "get", g, "assets", "", ""), false, false, reasonClusterScoped},
		"empty resource":              {raSpec("dana.director", "", tenant, "get", g, "", "", ""), false, false, reasonIncomplete},
		"empty verb":                  {raSpec("dana.director", "", tenant, "", g, "assets", "", ""), false, false, reasonIncomplete},
		"resource not a module name":  {raSpec("dana.director", "", tenant, "get", g, "9lives", "", ""), false, false, reasonNotModule},
		"verb not an action name":     {raSpec("dana.director", "", tenant, "get me", g, "assets", "", ""), false, false, reasonNotAction},
		"no user, admin group":        {raSpec("", `["acme-admins"]`, tenant, "get", g, "assets", "", ""), false, false, reasonNoUser},
		// uid and extra are not subject attributes.
		"extra groups ignored": {`{"resourceAttributes":{"namespace":"` + tenant + `","verb":"get","group":"` + g + `","resource":"assets"},"user":"stranger","uid":"dana.director","extra":{"groups":["acme-admins"],"unit":["/ca"]}}`, false, false, "gatehouse: UnknownSubject"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, out, msg := sarAnswer(t, h, sarBody(c.spec))
			if code != 200 {
				t.Fatalf("%d %s", code, msg)
			}
			st := out.Status
			if st.Allowed != c.allowed || st.Denied != c.denied || !strings.HasPrefix(st.Reason, "gatehouse: ") || (c.reason != "" && st.Reason != c.reason) {
				t.Errorf("got %+v, want allowed=%v denied=%v reason %q", st, c.allowed, c.denied, c.reason)
			}
		})
	}
}

// TestSARExplicitMapping: Map answers subresources and other groups, Verbs
// lifts the ban on a dangerous verb, SARGroupNone leaves only Map.
func TestSARExplicitMapping(t *testing.T) {
	const g = DefaultSARGroup
	mapped, _ := newTestHandler(t, Options{SAR: SAROptions{
		Map: map[string]string{
			g + "/workorders/status": "workorders",
			"/configmaps":            "assets",
			"apps/deployments/scale": "projects",
		},
		Verbs: map[string]string{"escalate": "approve", "deletecollection": "archive"},
	}})
	only, _ := newTestHandler(t, Options{SAR: SAROptions{Group: SARGroupNone, Map: map[string]string{"/configmaps": "assets"}}})
	cases := map[string]struct {
		h               *Handler
		spec            string
		allowed, denied bool
		reason          string
	}{
		"subresource mapped, allowed": {mapped, raSpec("dana.director", "", tenant, "update", g, "workorders", "status", "x1"), true, false, ""},
		"subresource mapped, denied":  {mapped, raSpec("vic.viewer", "", tenant, "update", g, "workorders", "status", "x1"), false, true, ""},
		"subresource mapped, view":    {mapped, raSpec("vic.viewer", "", tenant, "get", g, "workorders", "status", "x1"), true, false, ""},
		"other subresource":           {mapped, raSpec("dana.director", "", tenant, "update", g, "workorders", "approval", "x1"), false, false, reasonSubresource},
		"core resource mapped":        {mapped, raSpec("vic.viewer", "", tenant, "list", "", "configmaps", "", ""), true, false, ""},
		"core resource mapped, deny":  {mapped, raSpec("vic.viewer", "", tenant, "update", "", "configmaps", "", "c"), false, true, "gatehouse: NotPermitted"},
		"core subresource not mapped": {mapped, raSpec("dana.director", "", tenant, "get", "", "configmaps", "status", ""), false, false, reasonGroup},
		"other group mapped":          {mapped, raSpec("dana.director", "", tenant, "update", "apps", "deployments", "scale", "d"), true, false, ""},
		"other group, unmapped res":   {mapped, raSpec("dana.director", "", tenant, "update", "apps", "deployments", "", "d"), false, false, reasonGroup},
		"group still maps":            {mapped, raSpec("vic.viewer", "", tenant, "get", g, "assets", "", ""), true, false, ""},
		"verb mapped: escalate":       {mapped, raSpec("dana.director", "", tenant, "escalate", g, "purchaseorders", "", "po1"), true, false, ""},
		"verb mapped: escalate, deny": {mapped, raSpec("vic.viewer", "", tenant, "escalate", g, "purchaseorders", "", "po1"), false, true, ""},
		"verb mapped: collection":     {mapped, raSpec("vic.viewer", "", tenant, "deletecollection", g, "assets", "", ""), false, true, "gatehouse: NotPermitted"},
		"verb mapped: collection, ok": {mapped, raSpec("dana.director", "", tenant, "deletecollection", g, "assets", "", ""), true, false, ""},
		"unmapped dangerous verb":     {mapped, raSpec("dana.director", "", tenant, "bind", g, "purchaseorders", "", ""), false, false, reasonDangerousVerb},
		"dangerous verb, mapped res":  {mapped, raSpec("dana.director", "", tenant, "impersonate", "", "configmaps", "", ""), false, false, reasonDangerousVerb},
		"wildcard beats mapping":      {mapped, raSpec("dana.director", "", tenant, "*", "", "configmaps", "", ""), false, false, reasonWildcard},
		"group none: group unmapped":  {only, raSpec("dana.director", "", tenant, "get", g, "assets", "", ""), false, false, reasonGroup},
		"group none: map still works": {only, raSpec("vic.viewer", "", tenant, "get", "", "configmaps", "", "c"), true, false, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, out, msg := sarAnswer(t, c.h, sarBody(c.spec))
			if code != 200 {
				t.Fatalf("%d %s", code, msg)
			}
			st := out.Status
			if st.Allowed != c.allowed || st.Denied != c.denied || !strings.HasPrefix(st.Reason, "gatehouse: ") || (c.reason != "" && st.Reason != c.reason) {
				t.Errorf("got %+v, want allowed=%v denied=%v reason %q", st, c.allowed, c.denied, c.reason)
			}
		})
	}
}

func TestSAROptionsValidate(t *testing.T) {
	cases := map[string]struct {
		o   SAROptions
		err string // "" means valid
	}{
		"zero value":           {SAROptions{}, ""},
		"own group":            {SAROptions{Group: "apps.example.com"}, ""},
		"group none":           {SAROptions{Group: SARGroupNone}, ""},
		"core-style group":     {SAROptions{Group: "apps"}, "DNS subdomain with a dot"},
		"uppercase group":      {SAROptions{Group: "Modules.example.com"}, "DNS subdomain"},
		"wildcard group":       {SAROptions{Group: "*"}, "DNS subdomain"},
		"gatehouse's group":    {SAROptions{Group: "access.gatehouse.dev"}, "Gatehouse's own"},
		"rbac group":           {SAROptions{Group: "rbac.authorization.k8s.io"}, "Kubernetes API group"},
		"kubernetes.io group":  {SAROptions{Group: "resource.kubernetes.io"}, "Kubernetes API group"},
		"map core resource":    {SAROptions{Map: map[string]string{"/pods/log": "assets"}}, ""},
		"map gatehouse group":  {SAROptions{Map: map[string]string{"access.gatehouse.dev/roles": "roles"}}, "Gatehouse's own"},
		"map without group":    {SAROptions{Map: map[string]string{"pods": "assets"}}, "want group/resource"},
		"map too deep":         {SAROptions{Map: map[string]string{"a.b/c/d/e": "assets"}}, "want group/resource"},
		"map wildcard":         {SAROptions{Map: map[string]string{"/pods/*": "assets"}}, "lowercase names"},
		"map empty resource":   {SAROptions{Map: map[string]string{"a.b/": "assets"}}, "lowercase names"},
		"map bad group":        {SAROptions{Map: map[string]string{"A_B/pods": "assets"}}, "invalid API group"},
		"map wildcard module":  {SAROptions{Map: map[string]string{"/pods": "*"}}, "not a module name"},
		"map empty module":     {SAROptions{Map: map[string]string{"/pods": ""}}, "not a module name"},
		"verb wildcard":        {SAROptions{Verbs: map[string]string{"*": "view"}}, "lowercase names"},
		"verb wildcard action": {SAROptions{Verbs: map[string]string{"get": "*"}}, "not an action name"},
		"verb mapped":          {SAROptions{Verbs: map[string]string{"impersonate": "edit"}}, ""},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := New(store.New(), Options{Authenticator: None{}, TenantAuthorizer: None{}, SAR: c.o})
			switch {
			case c.err == "" && err != nil:
				t.Errorf("unexpected error %v", err)
			case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
				t.Errorf("error %v, want one containing %q", err, c.err)
			}
		})
	}
	h, _ := newTestHandler(t, Options{})
	if h.opts.SAR.Group != DefaultSARGroup {
		t.Errorf("default group %q", h.opts.SAR.Group)
	}
}

// TestSARDecodeErrors: the body is decoded like an AuthZEN body; every
// rejection is a 400 whose message names the field.
func TestSARDecodeErrors(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	const ra = `"resourceAttributes":{"namespace":"` + tenant + `","verb":"get","group":"` + DefaultSARGroup + `","resource":"assets"}`
	spec := func(extra string) string { return sarBody(`{` + ra + `,"user":"vic.viewer"` + extra + `}`) }
	deep := strings.Repeat(`{"a":`, 40) + `1` + strings.Repeat(`}`, 40)
	var keys []string
	for i := 0; i <= DefaultMaxListItems; i++ {
		keys = append(keys, `"k`+itoa(i)+`":[]`)
	}
	manyKeys := strings.Join(keys, ",")
	cases := map[string]struct{ body, err string }{
		"duplicate user":            {spec(`,"user":"dana.director"`), "spec.user: duplicate key"},
		"case-variant User":         {spec(`,"User":"dana.director"`), "spec.User: unknown field"},
		"case-variant USER":         {spec(`,"USER":"dana.director"`), "spec.USER: unknown field"},
		"case-variant Verb":         {sarBody(`{"resourceAttributes":{"namespace":"` + tenant + `","verb":"get","Verb":"delete"},"user":"u"}`), "spec.resourceAttributes.Verb: unknown field"},
		"duplicate verb":            {sarBody(`{"resourceAttributes":{"verb":"get","verb":"delete"},"user":"u"}`), "spec.resourceAttributes.verb: duplicate key"},
		"duplicate attributes":      {sarBody(`{` + ra + `,` + ra + `}`), "spec.resourceAttributes: duplicate key"},
		"duplicate apiVersion":      {`{"apiVersion":"authorization.k8s.io/v1","apiVersion":"v1","kind":"SubjectAccessReview","spec":{}}`, "apiVersion: duplicate key"},
		"duplicate spec":            {sarBody(`{` + ra + `,"user":"a"},"spec":{"user":"b"}`), "spec: duplicate key"},
		"duplicate extra key":       {spec(`,"extra":{"a":["1"],"a":["2"]}`), "spec.extra.a: duplicate key"},
		"duplicate metadata key":    {sarHead + `"metadata":{"name":"a","name":"b"},"spec":{}}`, "metadata.name: duplicate key"},
		"unknown top-level":         {sarHead + `"spec":{},"Spec":{}}`, "Spec: unknown field"},
		"unknown in metadata":       {sarHead + `"metadata":{"creationTimestamp":null,"owner":"x"},"spec":{}}`, "metadata.owner: unknown field"},
		"unknown in spec":           {spec(`,"subject":"dana.director"`), "spec.subject: unknown field"},
		"unknown in attributes":     {sarBody(`{"resourceAttributes":{"namespace":"a","tenant":"b"}}`), "spec.resourceAttributes.tenant: unknown field"},
		"unknown in non-resource":   {sarBody(`{"nonResourceAttributes":{"path":"/","Path":"/x"}}`), "spec.nonResourceAttributes.Path: unknown field"},
		"unknown in fieldSelector":  {sarBody(`{"resourceAttributes":{"fieldSelector":{"raw":"a=b"}}}`), "spec.resourceAttributes.fieldSelector.raw: unknown field"},
		"unknown in requirement":    {sarBody(`{"resourceAttributes":{"labelSelector":{"requirements":[{"key":"a","operator":"In"},{"key":"b","op":"In"}]}}}`), "spec.resourceAttributes.labelSelector.requirements[1].op: unknown field"},
		"unknown in status":         {sarHead + `"spec":{},"status":{"allowed":false,"Allowed":true}}`, "status.Allowed: unknown field"},
		"user a number":             {spec(`,"uid":5`), "spec.uid: expected string, got number"},
		"user null":                 {sarBody(`{"user":null}`), "spec.user: expected string, got null"},
		"groups a string":           {spec(`,"groups":"acme-admins"`), "spec.groups: expected array, got string"},
		"group a number":            {spec(`,"groups":["a",1]`), "spec.groups[1]: expected string, got number"},
		"extra value a string":      {spec(`,"extra":{"scopes":"all"}`), "spec.extra.scopes: expected array, got string"},
		"extra item a number":       {spec(`,"extra":{"scopes":["a",1]}`), "spec.extra.scopes[1]: expected string, got number"},
		"too many groups":           {spec(`,"groups":[` + strings.Repeat(`"g",`, DefaultMaxListItems) + `"g"]`), "spec.groups: more than 1000 items"},
		"too many extra keys":       {spec(`,"extra":{` + manyKeys + `}`), "spec.extra: more than 1000 items"},
		"too many requirements":     {sarBody(`{"resourceAttributes":{"labelSelector":{"requirements":[` + strings.Repeat(`{},`, DefaultMaxListItems) + `{}]}}}`), "spec.resourceAttributes.labelSelector.requirements: more than 1000 items"},
		"extra an array":            {spec(`,"extra":[]`), "spec.extra: expected object, got array"},
		"attributes an array":       {sarBody(`{"resourceAttributes":[]}`), "spec.resourceAttributes: expected object, got array"},
		"verb a boolean":            {sarBody(`{"resourceAttributes":{"verb":true}}`), "spec.resourceAttributes.verb: expected string, got boolean"},
		"selector a string":         {sarBody(`{"resourceAttributes":{"labelSelector":"a=b"}}`), "spec.resourceAttributes.labelSelector: expected object, got string"},
		"requirement values":        {sarBody(`{"resourceAttributes":{"fieldSelector":{"requirements":[{"values":[1]}]}}}`), "spec.resourceAttributes.fieldSelector.requirements[0].values[0]: expected string, got number"},
		"status.allowed a string":   {sarHead + `"spec":{},"status":{"allowed":"false"}}`, "status.allowed: expected boolean, got string"},
		"metadata a string":         {sarHead + `"metadata":"x","spec":{}}`, "metadata: expected object, got string"},
		"spec null":                 {sarHead + `"spec":null}`, "spec: expected object, got null"},
		"apiVersion a number":       {`{"apiVersion":1}`, "apiVersion: expected string, got number"},
		"not an object":             {`[]`, "expected object, got array"},
		"empty body":                {` `, "empty request body"},
		"trailing data":             {spec(``) + `{}`, "data after the top-level value"},
		"malformed":                 {sarHead + `"spec":{"user":"a",}}`, "invalid JSON"},
		"nesting":                   {sarHead + `"metadata":{"labels":` + deep + `},"spec":{}}`, "metadata.labels: nesting deeper than 32"},
		"wrong apiVersion":          {`{"apiVersion":"authorization.k8s.io/v1beta1","kind":"SubjectAccessReview","spec":{` + ra + `}}`, "apiVersion: must be authorization.k8s.io/v1"},
		"wrong kind":                {`{"apiVersion":"authorization.k8s.io/v1","kind":"LocalSubjectAccessReview","spec":{` + ra + `}}`, "kind: must be SubjectAccessReview"},
		"no apiVersion":             {`{"kind":"SubjectAccessReview","spec":{` + ra + `}}`, "apiVersion: required"},
		"no kind":                   {`{"apiVersion":"authorization.k8s.io/v1","spec":{` + ra + `}}`, "kind: required"},
		"no spec":                   {sarHead + `"status":{"allowed":false}}`, "spec: required"},
		"no attributes":             {sarBody(`{"user":"dana.director"}`), "spec: one of resourceAttributes and nonResourceAttributes is required"},
		"null attributes":           {sarBody(`{"resourceAttributes":null,"user":"dana.director"}`), "spec: one of resourceAttributes and nonResourceAttributes is required"},
		"both attributes":           {sarBody(`{` + ra + `,"nonResourceAttributes":{"path":"/healthz","verb":"get"},"user":"dana.director"}`), "spec: resourceAttributes and nonResourceAttributes are mutually exclusive"},
		"escaped duplicate of user": {spec(`,"us\u0065r":"dana.director"`), "spec.user: duplicate key"},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			code, _, msg := sarAnswer(t, h, c.body)
			want := "invalid SubjectAccessReview: " + c.err
			if c.err == "empty request body" || strings.HasPrefix(c.err, "expected object") || strings.HasPrefix(c.err, "invalid JSON") || strings.HasPrefix(c.err, "data after") {
				if code != 400 || !strings.HasPrefix(msg, "invalid SubjectAccessReview: ") || !strings.Contains(msg, c.err) {
					t.Errorf("%d %q, want 400 containing %q", code, msg, c.err)
				}
				return
			}
			if code != 400 || msg != want {
				t.Errorf("%d %q, want 400 %q", code, msg, want)
			}
		})
	}
}

// TestSARLongValues: a 100 KB key or value never comes back whole.
func TestSARLongValues(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	long := strings.Repeat("k", 100<<10)
	cases := map[string]struct{ body, field string }{
		"unknown key in spec":     {sarBody(`{"` + long + `":1}`), `spec["` + long[:32] + `"…]: unknown field`},
		"unknown top-level key":   {sarHead + `"` + long + `":1}`, `["` + long[:32] + `"…]: unknown field`},
		"duplicate extra key":     {sarBody(`{"extra":{"` + long + `":[],"` + long + `":[]}}`), `spec.extra["` + long[:32] + `"…]: duplicate key`},
		"extra value wrong type":  {sarBody(`{"extra":{"` + long + `":1}}`), `spec.extra["` + long[:32] + `"…]: expected array, got number`},
		"extra value item type":   {sarBody(`{"extra":{"` + long + `":["a",{}]}}`), `spec.extra["` + long[:32] + `"…][1]: expected string, got object`},
		"multibyte key cut whole": {sarBody(`{"a` + strings.Repeat("é", 50<<10) + `":1}`), `spec["a` + strings.Repeat("é", 15) + `"…]: unknown field`},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			w := do(h, "POST", "/subjectaccessreview", c.body)
			if w.Code != 400 || w.Body.Len() > 200 {
				t.Fatalf("%d, %d bytes: %.300s", w.Code, w.Body.Len(), w.Body)
			}
			var e struct{ Error string }
			if err := json.Unmarshal(w.Body.Bytes(), &e); err != nil || e.Error != "invalid SubjectAccessReview: "+c.field {
				t.Errorf("%v %q, want %q", err, e.Error, c.field)
			}
		})
	}
}

// apiServerBody is a review as kube-apiserver's webhook authorizer sends it
// (TypeMeta first, metadata.creationTimestamp null, status.allowed false,
// selectors since Kubernetes 1.31, the extra of a service account token).
const apiServerBody = `{"kind":"SubjectAccessReview","apiVersion":"authorization.k8s.io/v1","metadata":{"creationTimestamp":null},` +
	`"spec":{"resourceAttributes":{"namespace":"acme-field-services","verb":"list","group":"modules.gatehouse.dev","version":"v1","resource":"workorders",` +
	`"fieldSelector":{"requirements":[{"key":"metadata.name","operator":"In","values":["42"]}],"rawSelector":"metadata.name=42"},` +
	`"labelSelector":{"rawSelector":"tier=gold","requirements":[{"key":"tier","operator":"Exists"}]}},` +
	`"user":"dana@acme.example","groups":["acme-admins","system:authenticated"],` +
	`"extra":{"authentication.kubernetes.io/credential-id":["JTI=0d1e"],"scopes":null},"uid":"6f1c2a"},` +
	`"status":{"allowed":false}}`

func TestSARAPIServerBody(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	w := do(h, "POST", "/subjectaccessreview", apiServerBody)
	if w.Code != 200 {
		t.Fatalf("%d %s", w.Code, w.Body)
	}
	var out map[string]any
	if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
		t.Fatal(err)
	}
	want := map[string]any{"allowed": true, "reason": "gatehouse: Allowed"}
	if out["apiVersion"] != "authorization.k8s.io/v1" || out["kind"] != "SubjectAccessReview" || !reflect.DeepEqual(out["status"], want) {
		t.Errorf("answer %s", w.Body)
	}
	if w.Header().Get(RevisionHeader) != sampleSnapshot(t).Revision() {
		t.Errorf("revision header %q", w.Header().Get(RevisionHeader))
	}
	// The same body decodes to what encoding/json makes of it.
	var got, ref authorizationv1.SubjectAccessReview
	if _, err := decodeSAR([]byte(apiServerBody), DefaultMaxDepth, &got); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal([]byte(apiServerBody), &ref); err != nil {
		t.Fatal(err)
	}
	ref.ObjectMeta = metav1.ObjectMeta{}
	if !reflect.DeepEqual(got, ref) {
		t.Errorf("decoded\n%+v\nwant\n%+v", got, ref)
	}
}

// sarMirror is what FuzzDecodeSAR compares with: a SubjectAccessReview
// whose metadata is kept raw (decodeSAR checks its keys and skips its
// values).
type sarMirror struct {
	metav1.TypeMeta
	Metadata json.RawMessage                           `json:"metadata"`
	Spec     authorizationv1.SubjectAccessReviewSpec   `json:"spec"`
	Status   authorizationv1.SubjectAccessReviewStatus `json:"status"`
}

// FuzzDecodeSAR: decodeSAR never panics, and whatever it accepts is valid
// JSON that encoding/json decodes to the same review, with metadata keys
// of ObjectMeta only.
func FuzzDecodeSAR(f *testing.F) {
	f.Add([]byte(apiServerBody))
	f.Add([]byte(sarBody(raSpec("vic.viewer", `["a","b"]`, tenant, "get", DefaultSARGroup, "assets", "", "x1"))))
	f.Add([]byte(sarBody(`{"nonResourceAttributes":{"path":"/healthz","verb":"get"},"user":"u","extra":{"a":[],"b":null},"groups":null}`)))
	f.Add([]byte(sarBody(`{"user":"a","user":"b"}`)))
	f.Add([]byte(sarBody(`{"User":"\u00e9\ud800x"}`)))
	f.Add([]byte(`{"metadata":null,"status":null,"spec":{"resourceAttributes":{"labelSelector":{"requirements":[]},"fieldSelector":null}}}`))
	f.Fuzz(func(t *testing.T, body []byte) {
		var sar authorizationv1.SubjectAccessReview
		_, err := decodeSAR(body, DefaultMaxDepth, &sar)
		if err != nil {
			if len(err.Error()) > 200 {
				t.Fatalf("error of %d bytes", len(err.Error()))
			}
			return
		}
		if !json.Valid(body) {
			t.Fatalf("accepted invalid JSON %q", body)
		}
		var ref sarMirror
		if err := json.Unmarshal(body, &ref); err != nil {
			t.Fatalf("accepted %q, encoding/json: %v", body, err)
		}
		got := sarMirror{TypeMeta: sar.TypeMeta, Spec: sar.Spec, Status: sar.Status}
		ref.Metadata = nil
		if !reflect.DeepEqual(got, ref) {
			t.Fatalf("%q:\ndecodeSAR     %+v\nencoding/json %+v", body, got, ref)
		}
		var meta map[string]json.RawMessage
		if err := json.Unmarshal(body, &struct {
			Metadata *map[string]json.RawMessage `json:"metadata"`
		}{&meta}); err != nil {
			t.Fatalf("metadata: %v", err)
		}
		for k := range meta {
			if sarMetaFields.index(k) < 0 {
				t.Fatalf("accepted metadata key %q", k)
			}
		}
	})
}

func TestParseSARPairs(t *testing.T) {
	cases := map[string]struct {
		in   string
		want map[string]string
		err  bool
	}{
		"empty":      {"", map[string]string{}, false},
		"entries":    {" /configmaps=assets, modules.gatehouse.dev/workorders/status = workorders ,", map[string]string{"/configmaps": "assets", "modules.gatehouse.dev/workorders/status": "workorders"}, false},
		"verbs":      {"deletecollection=archive,escalate=approve", map[string]string{"deletecollection": "archive", "escalate": "approve"}, false},
		"no equals":  {"/configmaps", nil, true},
		"empty key":  {"=assets", nil, true},
		"empty side": {"/configmaps=", nil, true},
		"twice":      {"a=b,a=c", nil, true},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			got, err := ParseSARPairs(c.in)
			if (err != nil) != c.err || (!c.err && !reflect.DeepEqual(got, c.want)) {
				t.Errorf("%v %v, want %v (error %v)", got, err, c.want, c.err)
			}
		})
	}
}
