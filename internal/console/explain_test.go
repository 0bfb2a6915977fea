package console

import (
	"net/url"
	"strings"
	"testing"
)

// pageCase is one GET of a question page and what its answer must hold.
type pageCase struct {
	path     string
	code     int
	contains []string
	lacks    []string
}

func checkPages(t *testing.T, s *Server, tests map[string]pageCase) {
	t.Helper()
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			code, body := get(t, s, tc.path)
			if code != tc.code {
				t.Fatalf("GET %s: %d, want %d: %.600s", tc.path, code, tc.code, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("GET %s: no %q in %.4000s", tc.path, c, body)
				}
			}
			for _, c := range tc.lacks {
				if strings.Contains(body, c) {
					t.Errorf("GET %s: %q in %.4000s", tc.path, c, body)
				}
			}
			if strings.Contains(body, "<script>") {
				t.Errorf("GET %s: unescaped script tag", tc.path)
			}
		})
	}
}

const acme = "/t/acme-field-services/"

func TestExplainPage(t *testing.T) {
	s := newTestServer(t, samples)
	long := strings.Repeat("x", 300)
	checkPages(t, s, map[string]pageCase{
		"the form alone": {path: acme + "explain", code: 200,
			contains: []string{`<label for="q-subject">`, `id="q-subject"`, "Give subject, action, module to ask", `<option value="workorders">`}},
		"apprentice edits an assigned work order: allowed, fields partial": {
			path: acme + "explain?subject=alex.apprentice&action=edit&module=workorders&prop=assigneeIds%3Dalex.apprentice", code: 200,
			contains: []string{"<strong>Allowed</strong>", "<code>Allowed</code> — a permission matched",
				"role limited-technician via group calgary-apprentices: spec.permissions[0], scope ownOrAssigned",
				"<code>ownOrAssigned</code>", `<span class="lvl-partial">partial</span>`, "billingRate, margin",
				`value="assigneeIds=alex.apprentice"`, `href="/t/acme-field-services/people/alex.apprentice"`}},
		"someone else's work order: denied, scope": {
			path: acme + "explain?subject=alex.apprentice&action=edit&module=workorders&prop=assigneeIds%3Dtom.tech", code: 200,
			contains: []string{"<strong>Denied</strong>", "<code>ScopeNotMatched</code> — a grant exists, but its scope does not select this record"},
			lacks:    []string{"Granted by"}},
		"inherited permission": {
			path: acme + "explain?subject=tom.tech&action=view&module=assets", code: 200,
			contains: []string{"<strong>Allowed</strong>", "permission inherited through extends from field-base"}},
		"conditional grant": {
			path: acme + "explain?subject=tom.tech&action=create&module=purchaseorders&prop=amount%3D9000", code: 200,
			contains: []string{"<strong>Denied</strong>", "<code>ConditionFalse</code>"}},
		"IdP group": {
			path: acme + "explain?subject=zed&groups=acme-staff&action=create&module=workorders", code: 200,
			contains: []string{"<strong>Allowed</strong>", "via group requesters", `value="acme-staff"`}},
		"unknown subject is a decision": {path: acme + "explain?subject=nobody&action=view&module=workorders", code: 200,
			contains: []string{"<strong>Denied</strong>", "<code>UnknownSubject</code>"}},
		"unknown module is a decision": {path: acme + "explain?subject=tom.tech&action=view&module=rockets", code: 200,
			contains: []string{"<strong>Denied</strong>", "<code>UnknownResource</code>"}},
		"unknown action is a decision": {path: acme + "explain?subject=tom.tech&action=launch&module=workorders", code: 200,
			contains: []string{"<strong>Denied</strong>", "<code>UnknownAction</code>"}},
		"prop without =": {path: acme + "explain?subject=tom.tech&action=view&module=workorders&prop=amount", code: 400,
			contains: []string{"prop &#34;amount&#34;: want KEY=VALUE"}},
		"approval without step": {path: acme + "explain?subject=tom.tech&action=view&module=workorders&prop=approvals%3Dsam", code: 400,
			contains: []string{"prop &#34;approvals&#34;: &#34;sam&#34;: want STEP:BY"}},
		"non-canonical unit": {path: acme + "explain?subject=tom.tech&action=view&module=workorders&prop=unit%3D/ca/../on", code: 400,
			contains: []string{"prop: property unit: not a canonical unit path"}},
		"over-long prop, quoted short": {path: acme + "explain?subject=tom.tech&action=view&module=workorders&prop=note%3D" + long, code: 400,
			contains: []string{"prop: longer than 256 bytes: &#34;note=xxxx"}, lacks: []string{strings.Repeat("x", 41)}},
		"over-long subject": {path: acme + "explain?action=view&module=workorders&subject=" + long, code: 400,
			contains: []string{"subject: longer than 256 bytes"}, lacks: []string{strings.Repeat("x", 41)}},
		"too many props": {path: acme + "explain?subject=a&action=view&module=m" + strings.Repeat("&prop=a%3D1", 33), code: 400,
			contains: []string{"prop: more than 32 properties"}},
		"hostile subject and prop are escaped": {
			path: acme + "explain?subject=" + url.QueryEscape("<script>alert(1)</script>") + "&action=view&module=workorders&prop=" + url.QueryEscape("note=<script>alert(1)</script>"), code: 200,
			contains: []string{"&lt;script&gt;alert(1)&lt;/script&gt;", "<code>UnknownSubject</code>"}},
		"hostile malformed prop is escaped and cut": {
			path: acme + "explain?subject=a&action=view&module=m&prop=" + url.QueryEscape("<script>alert(1)</script>"+strings.Repeat("y", 100)), code: 400,
			contains: []string{"&#34;&lt;script&gt;alert(1)&lt;/script&gt;yyyyyyyyyyyyyyy&#34;…: want KEY=VALUE"}, lacks: []string{strings.Repeat("y", 41)}},
	})
}

func TestWhoCanPage(t *testing.T) {
	s := newTestServer(t, samples)
	checkPages(t, s, map[string]pageCase{
		"the form alone": {path: acme + "who-can", code: 200, contains: []string{`<label for="q-action">`, "Give action, module to ask"}},
		"edit a Calgary work order": {path: acme + "who-can?action=edit&module=workorders&prop=unit%3D/ca/ab/calgary", code: 200,
			contains: []string{"4 subject(s) may edit this workorders record", ">dana.director</a>", ">sam.supervisor</a>", ">tom.tech</a>", ">tina.tech</a>",
				"<code>technician.spec.permissions[0] scope unitTree</code>", "<code>fullAccess</code>",
				`href="/t/acme-field-services/explain?action=edit&amp;module=workorders&amp;prop=unit%3D%2Fca%2Fab%2Fcalgary&amp;subject=tom.tech"`},
			lacks: []string{">alex.apprentice</a>"}},
		"assigned elsewhere": {path: acme + "who-can?action=edit&module=workorders&prop=unit%3D/ca/on&prop=assigneeIds%3Dalex.apprentice", code: 200,
			contains: []string{"2 subject(s)", ">alex.apprentice</a>", "<code>limited-technician.spec.permissions[0] scope ownOrAssigned</code>"}},
		"unknown module: only full access": {path: acme + "who-can?action=view&module=rockets", code: 200,
			contains: []string{"1 subject(s)", ">dana.director</a>"}},
		"bad prop": {path: acme + "who-can?action=view&module=workorders&prop=nokey", code: 400, contains: []string{"want KEY=VALUE"}},
		"hostile module is escaped": {path: acme + "who-can?action=view&module=" + url.QueryEscape(`"><script>alert(1)</script>`), code: 200,
			contains: []string{"&lt;script&gt;"}},
	})
}

func TestApproversPage(t *testing.T) {
	s := newTestServer(t, samples)
	checkPages(t, s, map[string]pageCase{
		"the form alone": {path: acme + "approvers", code: 200, contains: []string{`<label for="q-module">`, "purchaseorders have chains"}},
		"1,500 in Calgary: the supervisor approves": {path: acme + "approvers?module=purchaseorders&prop=amount%3D1500&prop=unit%3D/ca/ab/calgary", code: 200,
			contains: []string{"purchase-orders", "waiting</span> on step supervisor", "supervisor (current)", ">sam.supervisor</a>"},
			lacks:    []string{"director (current)", ">dana.director</a>"}},
		"1,500 without a unit: nobody is eligible": {path: acme + "approvers?module=purchaseorders&prop=amount%3D1500", code: 200,
			contains: []string{"supervisor (current)", "nobody is eligible"}, lacks: []string{">sam.supervisor</a>"}},
		"500: no step applies": {path: acme + "approvers?module=purchaseorders&prop=amount%3D500&prop=unit%3D/ca/ab/calgary", code: 200,
			contains: []string{"No step applies", "complete</span>"}},
		"30,000: supervisor then director": {path: acme + "approvers?module=purchaseorders&prop=amount%3D30000&prop=unit%3D/ca/ab/calgary", code: 200,
			contains: []string{">sam.supervisor</a>", ">dana.director</a>", "director</th>"}},
		"the supervisor approved": {path: acme + "approvers?module=purchaseorders&prop=amount%3D1500&prop=unit%3D/ca/ab/calgary&prop=approvals%3Dsupervisor:sam.supervisor", code: 200,
			contains: []string{"sam.supervisor</a> (approved)", "complete</span>"}},
		"the owner may not approve his own": {path: acme + "approvers?module=purchaseorders&prop=amount%3D1500&prop=unit%3D/ca/ab/calgary&prop=ownerId%3Dsam.supervisor", code: 200,
			contains: []string{"nobody is eligible"}},
		"no chain":      {path: acme + "approvers?module=workorders", code: 200, contains: []string{"<code>NoApprovalChain</code> — no ApprovalChain covers the module"}},
		"bad approvals": {path: acme + "approvers?module=purchaseorders&prop=approvals%3D:x", code: 400, contains: []string{"want STEP:BY"}},
	})
}
