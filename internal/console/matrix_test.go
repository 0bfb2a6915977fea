package console

import (
	"strings"
	"testing"
)

// matrixYAML is a small tenant with one cell per level and scope kind,
// inheritance, and hostile free text (a condition, a display name and a
// description).
const matrixYAML = `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: root, namespace: acme}
spec: {fullAccess: true, displayName: "<b>Root</b>", description: "<script>alert(2)</script>"}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: supervisor, namespace: acme}
spec:
  permissions:
  - {resources: [workorders], actions: [approve], scope: unitTree}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: lead, namespace: acme}
spec:
  extends: [supervisor]
  permissions:
  - {resources: [workorders], actions: [view]}
  - {resources: [workorders], actions: [edit], scope: own}
  - {resources: [workorders], actions: [archive], scope: ownOrAssigned}
  - {resources: [workorders], actions: [share], scope: contact}
  - {resources: [workorders], actions: [export], scope: unit}
  - {resources: [workorders], actions: [create], scope: facility}
  - {resources: [workorders], actions: [comment], scope: company}
  - resources: [workorders]
    actions: [delete]
    when: 'resource.properties.note == "<script>alert(1)</script>"'
  - {resources: [invoices], actions: [view], scope: assigned}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: UserGroup
metadata: {name: leads, namespace: acme}
spec: {roles: [lead, root], members: [ann]}
`

// cell is the HTML of one matrix cell (the server renders it on one line).
func cell(level string, details ...string) string {
	s := `<td class="lvl-` + level + `">` + level
	for _, d := range details {
		s += "<br><small>" + d + "</small>"
	}
	return s + "</td>"
}

func TestMatrixPage(t *testing.T) {
	ys := newYAMLServer(t, matrixYAML)
	ss := newTestServer(t, samples)
	const wo = `<th scope="row">workorders</th>`
	tests := map[string]struct {
		s        *Server
		path     string
		code     int
		contains []string
		absent   []string
	}{
		"full, fullAccess": {s: ys, path: "/t/acme/matrix?role=root&module=workorders", code: 200,
			contains: []string{wo + `<th scope="row">view</th>` + cell("full", "fullAccess") + "</tr>"}},
		"full, scope all": {s: ys, path: "/t/acme/matrix?role=lead", code: 200,
			contains: []string{wo + `<th scope="row">view</th>` + cell("full") + "</tr>"}},
		"partial, own": {s: ys, path: "/t/acme/matrix?role=lead", code: 200,
			contains: []string{`<th scope="row">edit</th>` + cell("partial", "own")}},
		"partial, assigned": {s: ys, path: "/t/acme/matrix?role=lead", code: 200,
			contains: []string{`<th scope="row">invoices</th><th scope="row">view</th>` + cell("partial", "assigned")}},
		"partial, ownOrAssigned": {s: ys, path: "/t/acme/matrix?role=lead", code: 200,
			contains: []string{`<th scope="row">archive</th>` + cell("partial", "ownOrAssigned")}},
		"scoped per scope kind": {s: ys, path: "/t/acme/matrix?role=lead", code: 200,
			contains: []string{`<th scope="row">share</th>` + cell("scoped", "contact"), `<th scope="row">export</th>` + cell("scoped", "unit"),
				`<th scope="row">create</th>` + cell("scoped", "facility"), `<th scope="row">comment</th>` + cell("scoped", "company")}},
		"inherited via extends": {s: ys, path: "/t/acme/matrix?role=lead", code: 200,
			contains: []string{`<th scope="row">approve</th>` + cell("scoped", "unitTree, via extends supervisor")}},
		"conditional, with its text escaped": {s: ys, path: "/t/acme/matrix?role=lead", code: 200,
			contains: []string{`<th scope="row">delete</th>` + cell("conditional", "when: resource.properties.note == &#34;&lt;script&gt;alert(1)&lt;/script&gt;&#34;")}},
		"none": {s: ys, path: "/t/acme/matrix?role=supervisor&module=workorders", code: 200,
			contains: []string{`<th scope="row">view</th>` + cell("none") + "</tr>"}},
		"hostile display name and description escaped": {s: ys, path: "/t/acme/matrix", code: 200,
			contains: []string{`title="&lt;script&gt;alert(2)&lt;/script&gt;"`, `&lt;b&gt;Root&lt;/b&gt;`}, absent: []string{"<b>Root"}},
		"module filter": {s: ys, path: "/t/acme/matrix?module=invoices", code: 200,
			contains: []string{`<option value="invoices" selected>`, "1 module/action(s) × 3 role(s)", `href="/t/acme/matrix.csv?module=invoices"`},
			absent:   []string{wo}},
		"role filter": {s: ys, path: "/t/acme/matrix?role=lead", code: 200,
			contains: []string{`<option value="lead" selected>`, "× 1 role(s)", `href="/t/acme/matrix.csv?role=lead"`}},
		"legend and accessibility": {s: ys, path: "/t/acme/matrix", code: 200,
			contains: []string{"<caption>", `<th scope="col">Module</th>`, `<label for="matrix-module">`, `<label for="matrix-role">`,
				`<span class="lvl lvl-conditional">conditional</span>`, `aria-current="page"`}},
		"samples: limited-technician partial on workorders": {s: ss, path: "/t/acme-field-services/matrix?module=workorders&role=limited-technician", code: 200,
			contains: []string{`<th scope="row">view</th>` + cell("partial", "ownOrAssigned"), `<th scope="row">edit</th>` + cell("partial", "ownOrAssigned"),
				`<th scope="row">create</th>` + cell("full")}},
		"samples: technician": {s: ss, path: "/t/acme-field-services/matrix?module=purchaseorders&role=technician", code: 200,
			contains: []string{`<th scope="row">create</th>` + cell("conditional", "when: resource.properties.amount &lt;= 5000"),
				`<th scope="row">view</th>` + cell("partial", "own")}},
		"samples: inherited from the template": {s: ss, path: "/t/acme-field-services/matrix?module=assets&role=technician", code: 200,
			contains: []string{`<th scope="row">view</th>` + cell("full", "via extends field-base")}},
		"bad module": {s: ys, path: "/t/acme/matrix?module=" + strings.Repeat("%3Cscript%3E", 10), code: 400,
			contains: []string{"module: &#34;&lt;script&gt;"}, absent: []string{"<script>"}},
		"bad role":        {s: ys, path: "/t/acme/matrix?role=nobody", code: 400, contains: []string{"role: &#34;nobody&#34; is not a served role"}},
		"bad csv filter":  {s: ys, path: "/t/acme/matrix.csv?role=nobody", code: 400, contains: []string{"role: &#34;nobody&#34;"}},
		"unknown tenant":  {s: ys, path: "/t/nope/matrix", code: 404},
		"long bad module": {s: ys, path: "/t/acme/matrix?module=" + strings.Repeat("x", 500), code: 400, absent: []string{strings.Repeat("x", 41)}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, body := get(t, tc.s, tc.path)
			if code != tc.code {
				t.Fatalf("GET %s: %d, want %d: %.500s", tc.path, code, tc.code, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("GET %s: no %q in %.6000s", tc.path, c, body)
				}
			}
			for _, c := range append(tc.absent, "<script>") {
				if strings.Contains(body, c) {
					t.Errorf("GET %s: %q present", tc.path, c)
				}
			}
		})
	}
}

func TestMatrixCSV(t *testing.T) {
	ys := newYAMLServer(t, matrixYAML)
	ss := newTestServer(t, samples)
	tests := map[string]struct {
		s    *Server
		path string
		want string
	}{
		"module and role": {s: ys, path: "/t/acme/matrix.csv?module=invoices&role=lead",
			want: "module,action,lead\ninvoices,view,partial\n"},
		"module": {s: ys, path: "/t/acme/matrix.csv?module=invoices",
			want: "module,action,root,supervisor,lead\ninvoices,view,full,none,partial\n"},
		"samples, workorders": {s: ss, path: "/t/acme-field-services/matrix.csv?module=workorders&role=limited-technician",
			want: "module,action,limited-technician\nworkorders,view,partial\nworkorders,create,full\nworkorders,edit,partial\n" +
				"workorders,archive,none\nworkorders,assign,none\nworkorders,share,none\nworkorders,export,none\n"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, body := get(t, tc.s, tc.path)
			if code != 200 || body != tc.want {
				t.Errorf("GET %s: %d\n%s\nwant:\n%s", tc.path, code, body, tc.want)
			}
		})
	}
	// The whole CSV has the CLI's shape: module, action, a column per role.
	_, body := get(t, ss, "/t/acme-field-services/matrix.csv")
	lines := strings.Split(strings.TrimSpace(body), "\n")
	if lines[0] != "module,action,administrator,field-base,limited-administrator,technician,limited-technician,view-only,requester,billing-clerk,supplier" || len(lines) != 39 {
		t.Errorf("CSV header %q, %d lines", lines[0], len(lines))
	}
}

// TestMatrixCachedPerLoad: the matrix is computed once per loaded tenant,
// and a reload shows the new policy.
func TestMatrixCachedPerLoad(t *testing.T) {
	s := newYAMLServer(t, matrixYAML)
	t1 := s.State().Tenant("acme")
	a1, err := s.tenantMatrix(t1)
	if err != nil {
		t.Fatal(err)
	}
	if a2, _ := s.tenantMatrix(t1); a2 != a1 {
		t.Error("computed twice for one load")
	}
	if err := s.Reload(t.Context()); err != nil {
		t.Fatal(err)
	}
	if a3, _ := s.tenantMatrix(s.State().Tenant("acme")); a3 == a1 {
		t.Error("a reload kept the previous matrix")
	}
}
