package console

import (
	"net/url"
	"strings"
	"testing"
)

func TestPeoplePage(t *testing.T) {
	s := newTestServer(t, samples)
	checkPages(t, s, map[string]pageCase{
		"everyone": {path: acme + "people", code: 200,
			contains: []string{"8 of 8 known subject(s)", `<label for="q-people">`,
				`<a href="/t/acme-field-services/people/alex.apprentice">alex.apprentice</a>`,
				"calgary-branch",   // nested
				"acme-admins",      // IdP group of head-office
				"yes, full access", // dana.director
				"<code>company</code>: northern-pipe-supply",
				"(extends field-base)",
				"Groups mapped from IdP groups", "acme-staff"}},
		"filter by group": {path: acme + "people?q=calgary", code: 200,
			contains: []string{"4 of 8", ">alex.apprentice</a>", ">sam.supervisor</a>"}, lacks: []string{">dana.director</a>"}},
		"filter by role, any case": {path: acme + "people?q=BILLING", code: 200, contains: []string{"1 of 8", ">bea.billing</a>"}},
		"no match":                 {path: acme + "people?q=nobody", code: 200, contains: []string{"No known subject matches"}},
		"hostile filter":           {path: acme + "people?q=" + url.QueryEscape("<script>alert(1)</script>"), code: 200, contains: []string{"&lt;script&gt;alert(1)&lt;/script&gt;"}},
		"over-long filter":         {path: acme + "people?q=" + strings.Repeat("q", 300), code: 400, contains: []string{"q: longer than 256 bytes"}, lacks: []string{strings.Repeat("q", 41)}},
	})
}

func TestPersonPage(t *testing.T) {
	s := newTestServer(t, samples)
	checkPages(t, s, map[string]pageCase{
		"apprentice": {path: acme + "people/alex.apprentice", code: 200,
			contains: []string{"<h1>alex.apprentice</h1>", "calgary-apprentices", "calgary-branch", "limited-technician", "(extends field-base)",
				"yyc-depot, yyc-yard", `aria-current="page">People`,
				`<code>ownerId = &#34;alex.apprentice&#34; or assigneeIds contains &#34;alex.apprentice&#34;</code>`,
				"hidden: billingRate, margin",
				`href="/t/acme-field-services/explain?action=edit&amp;module=workorders&amp;subject=alex.apprentice"`},
			lacks: []string{">purchaseorders</th>", ">invoices</th>"}},
		"director: everything": {path: acme + "people/dana.director", code: 200,
			contains: []string{`<span class="lvl-full">yes</span>`, ">invoices</th>", "every record"}, lacks: []string{"where</span>"}},
		"IdP groups add a mapped group": {path: acme + "people/vic.viewer?groups=acme-staff", code: 200,
			contains: []string{"Mapped through IdP groups", "requesters", `value="acme-staff"`, "groups=acme-staff"}},
		"an IdP user who is listed nowhere": {path: acme + "people/zed?groups=acme-staff", code: 200,
			contains: []string{"<h1>zed</h1>", "requester", `<code>ownerId = &#34;zed&#34;</code>`}},
		"unknown subject": {path: acme + "people/nobody", code: 404,
			contains: []string{"No subject &#34;nobody&#34; in tenant &#34;acme-field-services&#34;: no UserGroup lists it in members."}},
		"unknown subject and IdP groups": {path: acme + "people/zed?groups=nope", code: 404, contains: []string{"or maps one of its IdP groups"}},
		"hostile subject": {path: acme + "people/" + url.PathEscape("<script>alert(1)</script>"+strings.Repeat("z", 60)), code: 404,
			contains: []string{"No subject &#34;&lt;script&gt;alert(1)&lt;/script&gt;zzz"}, lacks: []string{strings.Repeat("z", 41)}},
		"over-long groups": {path: acme + "people/tom.tech?groups=" + strings.Repeat("g", 300), code: 400, contains: []string{"groups: longer than 256 bytes"}},
	})
}

// TestPeopleYAMLTenant: nested groups two deep, a group reached only
// through an IdP group, fullAccess through extends, and a subject whose
// groups give no role.
func TestPeopleYAMLTenant(t *testing.T) {
	s := newYAMLServer(t, `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: root, namespace: acme}
spec: {fullAccess: true}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: boss, namespace: acme}
spec: {extends: [root]}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: reader, namespace: acme}
spec: {permissions: [{resources: [docs], actions: [view], scope: own}]}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: UserGroup
metadata: {name: team, namespace: acme}
spec: {members: [ann], roles: [reader]}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: UserGroup
metadata: {name: dept, namespace: acme}
spec: {memberGroups: [team], attributes: {unit: /x/y}}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: UserGroup
metadata: {name: company, namespace: acme}
spec: {memberGroups: [dept], externalGroups: [idp-all]}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: UserGroup
metadata: {name: bosses, namespace: acme}
spec: {members: [bob], roles: [boss]}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: UserGroup
metadata: {name: idle, namespace: acme}
spec: {members: [ida]}
`)
	checkPages(t, s, map[string]pageCase{
		"list": {path: "/t/acme/people", code: 200,
			contains: []string{"3 of 3", "company, dept", "idp-all", "yes, full access", "<code>unit</code>: /x/y", "(extends root)"}},
		"ann may view her own docs": {path: "/t/acme/people/ann", code: 200,
			contains: []string{"<code>ownerId = &#34;ann&#34;</code>", ">docs</th>"}},
		"ann explained": {path: "/t/acme/explain?subject=ann&action=view&module=docs&prop=ownerId%3Dann", code: 200,
			contains: []string{"<strong>Allowed</strong>", "via group team", "<code>own</code>"}},
		"ida has no roles": {path: "/t/acme/explain?subject=ida&action=view&module=docs", code: 200,
			contains: []string{"<code>NoRoles</code> — the subject&#39;s groups give no roles"}},
		"ida may do nothing": {path: "/t/acme/people/ida", code: 200, contains: []string{"Nothing: no role of ida"}},
		"who can view ann's doc": {path: "/t/acme/who-can?action=view&module=docs&prop=ownerId%3Dann", code: 200,
			contains: []string{"2 subject(s)", ">ann</a>", ">bob</a>"}},
		"no chain": {path: "/t/acme/approvers?module=docs", code: 200, contains: []string{"NoApprovalChain"}},
	})
}
