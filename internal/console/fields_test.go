package console

import (
	"strings"
	"testing"
)

const fieldsYAML = matrixYAML + `---
apiVersion: access.gatehouse.dev/v1alpha1
kind: FieldPolicy
metadata: {name: invoice-fields, namespace: acme}
spec:
  resource: invoices
  default: read
  fields:
  - name: amount
    grants:
    - {roles: [supervisor], access: write}
  - name: custom.costCenter
    default: hidden
`

func TestFieldsPage(t *testing.T) {
	ys := newYAMLServer(t, fieldsYAML)
	ss := newTestServer(t, samples)
	// A row: role, then each field (sorted), then the other fields.
	row := func(role string, access ...string) string {
		s := `<tr><th scope="row">` + role + `</th>`
		for _, a := range access {
			class := map[string]string{"write": "lvl-full", "read": "lvl-partial", "hidden": "lvl-none"}[a]
			s += `<td class="` + class + `">` + a + `</td>`
		}
		return s + "</tr>"
	}
	tests := map[string]struct {
		s        *Server
		path     string
		code     int
		contains []string
		absent   []string
	}{
		// config/samples: billingRate is read by default, hidden for the
		// field crews and the requester, written by the billing clerk.
		"samples: technician hidden billingRate and margin": {s: ss, path: "/t/acme-field-services/fields", code: 200,
			contains: []string{
				`<th scope="col"><code>billingRate</code></th><th scope="col"><code>custom.warrantyCode</code></th><th scope="col"><code>margin</code></th><th scope="col"><code>status</code></th><th scope="col">other fields</th>`,
				row("technician", "hidden", "read", "hidden", "write", "write"),
				row("limited-technician", "hidden", "read", "hidden", "write", "write"),
				row("billing-clerk", "write", "read", "read", "write", "write"),
				row("limited-administrator", "read", "write", "read", "write", "write"),
				row("requester", "hidden", "read", "hidden", "read", "write"),
				row("administrator", "write", "write", "write", "write", "write"),
				"FieldPolicy workorder-fields", "<caption>"}},
		"yaml: custom field, grant through extends, policy default": {s: ys, path: "/t/acme/fields?module=invoices", code: 200,
			contains: []string{row("supervisor", "write", "hidden", "read"), row("lead", "write", "hidden", "read"),
				row("root", "write", "write", "write"), `<option value="invoices" selected>`, `<label for="fields-module">`}},
		"bad module": {s: ys, path: "/t/acme/fields?module=workorders", code: 400,
			contains: []string{"module: &#34;workorders&#34; is not a module a field policy covers"}},
		"hostile module cut and escaped": {s: ys, path: "/t/acme/fields?module=" + strings.Repeat("%3Cscript%3E", 10), code: 400,
			contains: []string{"module: &#34;&lt;script&gt;"}},
		"no field policy": {s: newYAMLServer(t, matrixYAML), path: "/t/acme/fields", code: 200,
			contains: []string{"No field policy covers a module"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, body := get(t, tc.s, tc.path)
			if code != tc.code {
				t.Fatalf("GET %s: %d, want %d: %.500s", tc.path, code, tc.code, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("GET %s: no %q in %.8000s", tc.path, c, body)
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
