package console

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
)

// post serves one form POST from a loopback client.
func post(t testing.TB, s http.Handler, path string, form url.Values) (int, http.Header, string) {
	t.Helper()
	r := httptest.NewRequest(http.MethodPost, "http://127.0.0.1:8099"+path, strings.NewReader(form.Encode()))
	r.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	w := httptest.NewRecorder()
	s.ServeHTTP(w, r)
	return w.Code, w.Header(), w.Body.String()
}

const whatIfPath = "/t/acme-field-services/what-if"

const technicianYAML = `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata:
  name: technician
spec:
  extends: [field-base]
  permissions:
  - resources: [workorders]
    actions: [view, create, edit, assign]
    scope: unitTree
`

func TestWhatIf(t *testing.T) {
	s := newTestServer(t, samples)
	many := url.Values{}
	for range 201 {
		many.Add("set", "Role/technician/workorders/delete/all")
	}
	tests := map[string]struct {
		form     url.Values
		code     int
		contains []string
		lacks    []string
	}{
		"a toggle grants delete on workorders to the technicians": {
			form: url.Values{"set": {"Role/technician/workorders/delete/unitTree"}}, code: 200,
			contains: []string{"+ gained", "delete workorders (scope unitTree)", "tina.tech, tom.tech", "calgary-crew", "Changed: Role technician",
				`type="hidden" name="set" value="Role/technician/workorders/delete/unitTree"`,
				// the cell now toggles back
				`value="Role/technician/workorders/delete/none"`},
		},
		"a removal is a loss": {
			form: url.Values{"set": {"Role/technician/workorders/assign/none"}}, code: 200,
			contains: []string{"− lost", "assign workorders (scope unitTree)", "tina.tech, tom.tech"},
		},
		"the last edit of a cell wins": {
			form: url.Values{"set": {"Role/technician/workorders/delete/all", "Role/technician/workorders/delete/none"}}, code: 200,
			contains: []string{"No object changed", "No access changed"},
		},
		"a field grant": {
			form: url.Values{"set": {"FieldPolicy/workorder-fields/margin/technician/read"}}, code: 200,
			contains: []string{"workorders.margin", "hidden", "read", "tina.tech, tom.tech"},
		},
		"a YAML edit drops a permission": {
			form: url.Values{"object": {"Role/technician"}, "yaml": {technicianYAML}}, code: 200,
			contains: []string{"− lost", "edit assets", "create purchaseorders"},
		},
		"a YAML edit that does not compile shows its problem": {
			form: url.Values{"object": {"Role/technician"}, "yaml": {technicianYAML + `  - resources: [assets]
    actions: [view]
    when: "resource.properties.amount <"
`}}, code: 200,
			contains: []string{"does not compile", "InvalidExpression", "spec.permissions[1].when"},
		},
		"hostile text is escaped": {
			form: url.Values{"object": {"Role/technician"}, "yaml": {technicianYAML + `  - resources: [assets]
    actions: [view]
    when: "'<script>alert(1)</script>' == resource.properties.x"
`}}, code: 200,
			contains: []string{"&lt;script&gt;"}, lacks: []string{"<script>alert"},
		},
		"wrong kind": {
			form: url.Values{"object": {"Role/technician"}, "yaml": {strings.Replace(technicianYAML, "kind: Role", "kind: UserGroup", 1)}}, code: 400,
			contains: []string{"kind is &#34;UserGroup&#34;, want Role"},
		},
		"wrong name": {
			form: url.Values{"object": {"Role/technician"}, "yaml": {strings.Replace(technicianYAML, "name: technician", "name: admin", 1)}}, code: 400,
			contains: []string{"metadata.name is &#34;admin&#34;"},
		},
		"wrong namespace": {
			form: url.Values{"object": {"Role/technician"}, "yaml": {strings.Replace(technicianYAML, "name: technician", "name: technician\n  namespace: other", 1)}}, code: 400,
			contains: []string{"metadata.namespace"},
		},
		"an unknown field": {
			form: url.Values{"object": {"Role/technician"}, "yaml": {technicianYAML + "  bogus: 1\n"}}, code: 400,
			contains: []string{"bogus"},
		},
		"an unknown object": {
			form: url.Values{"object": {"Role/nobody"}}, code: 400, contains: []string{"no such object"},
		},
		"a bad edit is quoted short": {
			form: url.Values{"set": {"Role/technician/workorders/delete/" + strings.Repeat("<b>", 50)}}, code: 400,
			contains: []string{"set: edit"}, lacks: []string{strings.Repeat("&lt;b&gt;", 20), "<b>"},
		},
		"too many edits": {form: many, code: 400, contains: []string{"201 edits, at most 200"}},
		"oversized yaml": {
			form: url.Values{"object": {"Role/technician"}, "yaml": {technicianYAML + "# " + strings.Repeat("x", 1<<20) + "\n"}}, code: 400,
			contains: []string{"at most"},
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, _, body := post(t, s, whatIfPath, tc.form)
			if code != tc.code {
				t.Fatalf("POST: %d, want %d: %.3000s", code, tc.code, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("no %q in %.6000s", c, section(body))
				}
			}
			for _, c := range tc.lacks {
				if strings.Contains(body, c) {
					t.Errorf("%q in the answer", c)
				}
			}
		})
	}
}

// section is the result region of a what-if page (or the page).
func section(body string) string {
	if i := strings.Index(body, `id="whatif-result"`); i >= 0 {
		return body[i:]
	}
	return body
}

func TestWhatIfPage(t *testing.T) {
	s := newTestServer(t, samples)
	code, body := get(t, s, whatIfPath+"?object=UserGroup/calgary-crew")
	if code != 200 {
		t.Fatalf("%d %.2000s", code, body)
	}
	for _, want := range []string{
		`<script src="/assets/whatif.js" defer></script>`, `aria-live="polite"`, `<label for="whatif-yaml">`,
		`<caption>`, `scope="col"`, `value="UserGroup/calgary-crew" selected`, "members:", "- tom.tech",
		// technician grants workorders with scope unitTree: a new grant there uses it too
		`value="Role/technician/workorders/delete/unitTree"`,
		`value="FieldPolicy/workorder-fields/margin/technician/read"`,
		`formaction="/t/acme-field-services/what-if/download?format=patch"`,
	} {
		if !strings.Contains(body, want) {
			t.Errorf("no %q", want)
		}
	}
	if strings.Contains(body, "onclick") || strings.Contains(body, "style=") {
		t.Error("inline handler or style")
	}
	if code, body := get(t, s, "/assets/whatif.js"); code != 200 || !strings.Contains(body, "aria-busy") {
		t.Errorf("whatif.js: %d", code)
	}
}

func TestWhatIfDownload(t *testing.T) {
	s := newTestServer(t, samples)
	form := url.Values{"set": {"Role/technician/workorders/delete/unitTree", "FieldPolicy/workorder-fields/margin/technician/read"}}
	tests := map[string]struct {
		query    string
		code     int
		contains []string
		check    func(t *testing.T, body string)
	}{
		"yaml parses back": {code: 200, contains: []string{"kind: Role", "name: technician", "delete", "kind: FieldPolicy"},
			check: func(t *testing.T, body string) {
				set := &manifest.Set{}
				if err := set.Add("download.yaml", []byte(body), "acme-field-services"); err != nil {
					t.Fatal(err)
				}
				if len(set.Objects) != 2 || set.Objects[0].Role == nil || set.Objects[1].FieldPolicy == nil {
					t.Fatalf("objects: %+v", set.Objects)
				}
			}},
		"patch":      {query: "?format=patch", code: 200, contains: []string{"--- a/Role/technician.yaml", "+++ b/Role/technician.yaml", "@@ -", "+    - delete", "--- a/FieldPolicy/workorder-fields.yaml"}},
		"bad format": {query: "?format=zip", code: 400},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, h, body := post(t, s, whatIfPath+"/download"+tc.query, form)
			if code != tc.code {
				t.Fatalf("%d, want %d: %.2000s", code, tc.code, body)
			}
			if code != 200 {
				return
			}
			if !strings.HasPrefix(h.Get("Content-Disposition"), "attachment;") {
				t.Errorf("Content-Disposition %q", h.Get("Content-Disposition"))
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("no %q in %s", c, body)
				}
			}
			if tc.check != nil {
				tc.check(t, body)
			}
		})
	}
}
