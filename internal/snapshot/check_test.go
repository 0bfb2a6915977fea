package snapshot_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func TestScopes(t *testing.T) {
	type tc struct {
		scope   v1alpha1.Scope
		attrs   []string // group attributes
		subject snapshot.Subject
		res     snapshot.Resource
		allowed bool
		reason  string
	}
	tests := map[string]tc{
		"all matches any record":               {scope: v1alpha1.ScopeAll, res: snapshot.Resource{}, allowed: true},
		"empty scope means all":                {scope: "", res: snapshot.Resource{}, allowed: true},
		"own: owner":                           {scope: v1alpha1.ScopeOwn, res: snapshot.Resource{OwnerID: "u1"}, allowed: true},
		"own: other owner":                     {scope: v1alpha1.ScopeOwn, res: snapshot.Resource{OwnerID: "u2"}, reason: snapshot.ReasonScopeNotMatched},
		"own: no owner is nobody's":            {scope: v1alpha1.ScopeOwn, res: snapshot.Resource{}, reason: snapshot.ReasonScopeNotMatched},
		"own: assignee is not owner":           {scope: v1alpha1.ScopeOwn, res: snapshot.Resource{AssigneeIDs: []string{"u1"}}, reason: snapshot.ReasonScopeNotMatched},
		"assigned: among assignees":            {scope: v1alpha1.ScopeAssigned, res: snapshot.Resource{AssigneeIDs: []string{"x", "u1"}}, allowed: true},
		"assigned: owner only":                 {scope: v1alpha1.ScopeAssigned, res: snapshot.Resource{OwnerID: "u1"}, reason: snapshot.ReasonScopeNotMatched},
		"ownOrAssigned: owner":                 {scope: v1alpha1.ScopeOwnOrAssigned, res: snapshot.Resource{OwnerID: "u1"}, allowed: true},
		"ownOrAssigned: assignee":              {scope: v1alpha1.ScopeOwnOrAssigned, res: snapshot.Resource{AssigneeIDs: []string{"u1"}}, allowed: true},
		"ownOrAssigned: stranger":              {scope: v1alpha1.ScopeOwnOrAssigned, res: snapshot.Resource{OwnerID: "x", AssigneeIDs: []string{"y"}}, reason: snapshot.ReasonScopeNotMatched},
		"contact: project contact":             {scope: v1alpha1.ScopeContact, res: snapshot.Resource{ProjectContacts: []string{"u1"}}, allowed: true},
		"contact: owner is not a contact":      {scope: v1alpha1.ScopeContact, res: snapshot.Resource{OwnerID: "u1"}, reason: snapshot.ReasonScopeNotMatched},
		"unit: same unit":                      {scope: v1alpha1.ScopeUnit, attrs: []string{"unit", "/ca/ab"}, res: snapshot.Resource{Unit: "/ca/ab"}, allowed: true},
		"unit: a root record, subject at root": {scope: v1alpha1.ScopeUnit, attrs: []string{"unit", "/"}, res: snapshot.Resource{Unit: "/"}, allowed: true},
		"unit: child unit is not the unit":     {scope: v1alpha1.ScopeUnit, attrs: []string{"unit", "/ca/ab"}, res: snapshot.Resource{Unit: "/ca/ab/calgary"}, reason: snapshot.ReasonScopeNotMatched},
		"unit: record without unit":            {scope: v1alpha1.ScopeUnit, attrs: []string{"unit", "/ca/ab"}, res: snapshot.Resource{}, reason: snapshot.ReasonScopeNotMatched},
		"unit: subject without unit":           {scope: v1alpha1.ScopeUnit, res: snapshot.Resource{Unit: "/ca/ab"}, reason: snapshot.ReasonScopeNotMatched},
		"unit: request unit when group has none": {scope: v1alpha1.ScopeUnit, subject: snapshot.Subject{Unit: "/ca/ab"},
			res: snapshot.Resource{Unit: "/ca/ab"}, allowed: true},
		"unit: group unit wins over request": {scope: v1alpha1.ScopeUnit, attrs: []string{"unit", "/us"}, subject: snapshot.Subject{Unit: "/ca/ab"},
			res: snapshot.Resource{Unit: "/ca/ab"}, reason: snapshot.ReasonScopeNotMatched},
		"unitTree: same unit":             {scope: v1alpha1.ScopeUnitTree, attrs: []string{"unit", "/ca/ab"}, res: snapshot.Resource{Unit: "/ca/ab"}, allowed: true},
		"unitTree: child unit":            {scope: v1alpha1.ScopeUnitTree, attrs: []string{"unit", "/ca/ab"}, res: snapshot.Resource{Unit: "/ca/ab/calgary"}, allowed: true},
		"unitTree: grandchild unit":       {scope: v1alpha1.ScopeUnitTree, attrs: []string{"unit", "/ca"}, res: snapshot.Resource{Unit: "/ca/ab/calgary"}, allowed: true},
		"unitTree: sibling prefix":        {scope: v1alpha1.ScopeUnitTree, attrs: []string{"unit", "/ca/ab"}, res: snapshot.Resource{Unit: "/ca/abc"}, reason: snapshot.ReasonScopeNotMatched},
		"unitTree: parent unit":           {scope: v1alpha1.ScopeUnitTree, attrs: []string{"unit", "/ca/ab"}, res: snapshot.Resource{Unit: "/ca"}, reason: snapshot.ReasonScopeNotMatched},
		"unitTree: root covers all":       {scope: v1alpha1.ScopeUnitTree, attrs: []string{"unit", "/"}, res: snapshot.Resource{Unit: "/us/tx"}, allowed: true},
		"unitTree: record without unit":   {scope: v1alpha1.ScopeUnitTree, attrs: []string{"unit", "/"}, res: snapshot.Resource{}, reason: snapshot.ReasonScopeNotMatched},
		"facility: one of subject's":      {scope: v1alpha1.ScopeFacility, attrs: []string{"facilities", "[f1,f2]"}, res: snapshot.Resource{FacilityID: "f2"}, allowed: true},
		"facility: other facility":        {scope: v1alpha1.ScopeFacility, attrs: []string{"facilities", "[f1,f2]"}, res: snapshot.Resource{FacilityID: "f3"}, reason: snapshot.ReasonScopeNotMatched},
		"facility: request facilities":    {scope: v1alpha1.ScopeFacility, subject: snapshot.Subject{Facilities: []string{"f3"}}, res: snapshot.Resource{FacilityID: "f3"}, allowed: true},
		"facility: empty record facility": {scope: v1alpha1.ScopeFacility, attrs: []string{"facilities", "[f1]"}, res: snapshot.Resource{}, reason: snapshot.ReasonScopeNotMatched},
		"company: subject's company":      {scope: v1alpha1.ScopeCompany, attrs: []string{"company", "acme"}, res: snapshot.Resource{CompanyID: "acme"}, allowed: true},
		"company: other company":          {scope: v1alpha1.ScopeCompany, attrs: []string{"company", "acme"}, res: snapshot.Resource{CompanyID: "globex"}, reason: snapshot.ReasonScopeNotMatched},
		"company: extra companies from request": {scope: v1alpha1.ScopeCompany, attrs: []string{"company", "acme"},
			subject: snapshot.Subject{Companies: []string{"globex"}}, res: snapshot.Resource{CompanyID: "globex"}, allowed: true},
		"company: group companies win over request": {scope: v1alpha1.ScopeCompany, attrs: []string{"company", "acme", "companies", "[initech]"},
			subject: snapshot.Subject{Companies: []string{"globex"}}, res: snapshot.Resource{CompanyID: "globex"}, reason: snapshot.ReasonScopeNotMatched},
		"company: group extra companies": {scope: v1alpha1.ScopeCompany, attrs: []string{"company", "acme", "companies", "[initech]"},
			res: snapshot.Resource{CompanyID: "initech"}, allowed: true},
		"company: request company ignored when group defines one": {scope: v1alpha1.ScopeCompany, attrs: []string{"company", "acme"},
			subject: snapshot.Subject{Company: "globex"}, res: snapshot.Resource{CompanyID: "globex"}, reason: snapshot.ReasonScopeNotMatched},
		"company: empty record company": {scope: v1alpha1.ScopeCompany, attrs: []string{"company", "acme"}, res: snapshot.Resource{}, reason: snapshot.ReasonScopeNotMatched},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			g := withAttrs(group("g", "r", "u1"), tc.attrs...)
			s := mustCompile(t, snapshot.Objects{
				Roles:  []v1alpha1.Role{role("r", perm("workorders", "view", tc.scope))},
				Groups: []v1alpha1.UserGroup{g},
			})
			rq := req("u1", "view", "workorders", tc.res)
			tc.subject.ID = "u1"
			rq.Subject = tc.subject
			d := s.Check(rq)
			if d.Allowed != tc.allowed {
				t.Fatalf("allowed = %v (%s), want %v", d.Allowed, d.Reason, tc.allowed)
			}
			if tc.allowed {
				if d.Matched == nil || d.Matched.Role != "r" || d.Matched.Group != "g" || d.Matched.Permission != 0 {
					t.Fatalf("matched = %+v", d.Matched)
				}
			} else if d.Reason != tc.reason {
				t.Fatalf("reason = %s, want %s", d.Reason, tc.reason)
			}
		})
	}
}

func TestDenyReasons(t *testing.T) {
	objs := snapshot.Objects{
		Roles: []v1alpha1.Role{role("r", perm("workorders", "view,edit", v1alpha1.ScopeOwn),
			permWhen("invoices", "view", v1alpha1.ScopeAll, "resource.properties.amount < 100"))},
		Groups: []v1alpha1.UserGroup{group("g", "r", "u1"), group("empty", "", "u2")},
	}
	s := mustCompile(t, objs)
	tests := map[string]struct {
		snap   *snapshot.Snapshot
		req    *snapshot.Request
		reason string
	}{
		"nil snapshot":        {snap: nil, req: req("u1", "view", "workorders", snapshot.Resource{OwnerID: "u1"}), reason: snapshot.ReasonNoSnapshot},
		"nil request":         {snap: s, req: nil, reason: snapshot.ReasonInvalidRequest},
		"empty subject":       {snap: s, req: req("", "view", "workorders", snapshot.Resource{}), reason: snapshot.ReasonInvalidRequest},
		"unknown subject":     {snap: s, req: req("nobody", "view", "workorders", snapshot.Resource{OwnerID: "nobody"}), reason: snapshot.ReasonUnknownSubject},
		"member without role": {snap: s, req: req("u2", "view", "workorders", snapshot.Resource{OwnerID: "u2"}), reason: snapshot.ReasonNoRoles},
		"unknown resource":    {snap: s, req: req("u1", "view", "spaceships", snapshot.Resource{OwnerID: "u1"}), reason: snapshot.ReasonUnknownResource},
		"unknown action":      {snap: s, req: req("u1", "launch", "workorders", snapshot.Resource{OwnerID: "u1"}), reason: snapshot.ReasonUnknownAction},
		"known action not granted": {snap: s, req: req("u1", "edit", "invoices", snapshot.Resource{}),
			reason: snapshot.ReasonNotPermitted},
		"scope not matched": {snap: s, req: req("u1", "view", "workorders", snapshot.Resource{OwnerID: "x"}), reason: snapshot.ReasonScopeNotMatched},
		"condition false": {snap: s, req: req("u1", "view", "invoices", snapshot.Resource{Properties: map[string]any{"amount": 500}}),
			reason: snapshot.ReasonConditionFalse},
		"condition error (missing property) denies": {snap: s, req: req("u1", "view", "invoices", snapshot.Resource{}),
			reason: snapshot.ReasonConditionFalse},
		"condition with wrong type denies": {snap: s, req: req("u1", "view", "invoices", snapshot.Resource{Properties: map[string]any{"amount": "cheap"}}),
			reason: snapshot.ReasonConditionFalse},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := tc.snap.Check(tc.req)
			if d.Allowed || d.Reason != tc.reason || d.Matched != nil {
				t.Fatalf("got %+v, want deny %s", d, tc.reason)
			}
		})
	}
	// And the positive counterparts, so the table above cannot pass by
	// denying everything.
	for _, rq := range []*snapshot.Request{
		req("u1", "view", "workorders", snapshot.Resource{OwnerID: "u1"}),
		req("u1", "edit", "workorders", snapshot.Resource{OwnerID: "u1"}),
		req("u1", "view", "invoices", snapshot.Resource{Properties: map[string]any{"amount": 50}}),
		req("u1", "view", "invoices", snapshot.Resource{Properties: map[string]any{"amount": 50.5}}),
	} {
		if d := s.Check(rq); !d.Allowed {
			t.Errorf("%s %s: denied %s", rq.Action, rq.Resource.Type, d.Reason)
		}
	}
}

func TestExtendsAndGroups(t *testing.T) {
	objs := snapshot.Objects{
		Roles: []v1alpha1.Role{
			role("base", perm("assets", "view", "")),
			extends(role("mid", perm("workorders", "view", "")), "base"),
			extends(role("top", perm("workorders", "edit", v1alpha1.ScopeOwn)), "mid"),
			role("reports", perm("reports", "export", "")),
		},
		Groups: []v1alpha1.UserGroup{
			group("techs", "top", "alice"),
			group("leads", "reports", ""),
			withMemberGroups(group("all-staff", "", ""), "leads"),
			withMemberGroups(group("outer", "reports", ""), "techs"),
		},
	}
	// leads has no members, but techs ⊂ outer.
	objs.Groups[1] = withMemberGroups(objs.Groups[1], "")
	s := mustCompile(t, objs)
	tests := map[string]struct {
		action, res string
		r           snapshot.Resource
		allowed     bool
		role, from  string
		group       string
		permIdx     int
	}{
		"own permission":               {"edit", "workorders", snapshot.Resource{OwnerID: "alice"}, true, "top", "", "techs", 0},
		"extended permission":          {"view", "workorders", snapshot.Resource{}, true, "top", "mid", "techs", 0},
		"transitively extended":        {"view", "assets", snapshot.Resource{}, true, "top", "base", "techs", 0},
		"via including group":          {"export", "reports", snapshot.Resource{}, true, "reports", "", "outer", 0},
		"extends does not widen scope": {"edit", "workorders", snapshot.Resource{OwnerID: "bob"}, false, "", "", "", 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := s.Check(req("alice", tc.action, tc.res, tc.r))
			if d.Allowed != tc.allowed {
				t.Fatalf("got %+v", d)
			}
			if !tc.allowed {
				return
			}
			m := d.Matched
			if m.Role != tc.role || m.From != tc.from || m.Group != tc.group || m.Permission != tc.permIdx {
				t.Fatalf("matched %+v", m)
			}
		})
	}
}

func TestMemberGroupsTransitive(t *testing.T) {
	s := mustCompile(t, snapshot.Objects{
		Roles: []v1alpha1.Role{role("r", perm("assets", "view", ""))},
		Groups: []v1alpha1.UserGroup{
			group("inner", "", "u1"),
			withMemberGroups(group("middle", "", ""), "inner"),
			withMemberGroups(group("outer", "r", ""), "middle"),
			group("unrelated", "", "u2"),
		},
	})
	if d := s.Check(req("u1", "view", "assets", snapshot.Resource{})); !d.Allowed || d.Matched.Group != "outer" {
		t.Fatalf("u1: %+v", d)
	}
	if d := s.Check(req("u2", "view", "assets", snapshot.Resource{})); d.Allowed || d.Reason != snapshot.ReasonNoRoles {
		t.Fatalf("u2: %+v", d)
	}
	if got := s.Counts(); got.Subjects != 2 || got.Groups != 4 || got.Roles != 1 {
		t.Fatalf("counts %+v", got)
	}
}

func TestRestrictions(t *testing.T) {
	objs := snapshot.Objects{
		Roles: []v1alpha1.Role{
			role("buyer", perm("purchaseorders,invoices", "view,edit", ""), perm("workorders", "view", "")),
			fullAccess("admin"),
		},
		Groups: []v1alpha1.UserGroup{
			withRestriction(withAttrs(group("suppliers", "buyer", "sup,sup-admin"), "company", "globex"), "purchaseorders,invoices", v1alpha1.ScopeCompany),
			group("staff", "buyer", "sup,staff"),
			group("admins", "admin", "sup-admin,admin"),
			withRestriction(group("own-only", "", "staff2"), "*", v1alpha1.ScopeOwn),
			group("staff2", "buyer", "staff2"),
		},
	}
	s := mustCompile(t, objs)
	tests := map[string]struct {
		subject, action, res string
		r                    snapshot.Resource
		allowed              bool
		reason               string
	}{
		"supplier: own company PO":        {"sup", "view", "purchaseorders", snapshot.Resource{CompanyID: "globex"}, true, ""},
		"supplier: other company PO":      {"sup", "view", "purchaseorders", snapshot.Resource{CompanyID: "acme"}, false, snapshot.ReasonRestricted},
		"supplier: PO without company":    {"sup", "view", "purchaseorders", snapshot.Resource{}, false, snapshot.ReasonRestricted},
		"supplier: unrestricted module":   {"sup", "view", "workorders", snapshot.Resource{}, true, ""},
		"staff: not restricted":           {"staff", "view", "purchaseorders", snapshot.Resource{CompanyID: "acme"}, true, ""},
		"full access is still restricted": {"sup-admin", "delete", "invoices", snapshot.Resource{CompanyID: "acme"}, false, snapshot.ReasonRestricted},
		"full access within restriction":  {"sup-admin", "delete", "invoices", snapshot.Resource{CompanyID: "globex"}, true, ""},
		"full access unrestricted":        {"admin", "delete", "invoices", snapshot.Resource{CompanyID: "acme"}, true, ""},
		"wildcard restriction: own":       {"staff2", "view", "workorders", snapshot.Resource{OwnerID: "staff2"}, true, ""},
		"wildcard restriction: not own":   {"staff2", "view", "workorders", snapshot.Resource{OwnerID: "x"}, false, snapshot.ReasonRestricted},
		"restriction does not grant":      {"staff2", "edit", "workorders", snapshot.Resource{OwnerID: "staff2"}, false, snapshot.ReasonNotPermitted},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := s.Check(req(tc.subject, tc.action, tc.res, tc.r))
			if d.Allowed != tc.allowed || (!tc.allowed && d.Reason != tc.reason) {
				t.Fatalf("got %+v, want allowed=%v %s", d, tc.allowed, tc.reason)
			}
		})
	}
}

func TestFullAccessAndWildcards(t *testing.T) {
	s := mustCompile(t, snapshot.Objects{
		Roles: []v1alpha1.Role{
			fullAccess("admin"),
			role("viewer", perm("*", "view", "")),
			role("wo-all", perm("workorders", "*", v1alpha1.ScopeOwn)),
			extends(role("inherits-admin"), "admin"),
		},
		Groups: []v1alpha1.UserGroup{group("a", "admin", "admin"), group("v", "viewer", "viewer"), group("w", "wo-all", "w"), group("i", "inherits-admin", "i")},
	})
	tests := map[string]struct {
		subject, action, res string
		r                    snapshot.Resource
		allowed              bool
	}{
		"admin: anything":                    {"admin", "delete", "workorders", snapshot.Resource{}, true},
		"admin: unknown resource and action": {"admin", "launch", "spaceships", snapshot.Resource{}, true},
		"inherited full access":              {"i", "launch", "spaceships", snapshot.Resource{}, true},
		"viewer: known resource":             {"viewer", "view", "workorders", snapshot.Resource{}, true},
		"viewer: resource unknown to tenant": {"viewer", "view", "spaceships", snapshot.Resource{}, true},
		"viewer: other action":               {"viewer", "edit", "workorders", snapshot.Resource{}, false},
		"action wildcard: known action":      {"w", "edit", "workorders", snapshot.Resource{OwnerID: "w"}, true},
		"action wildcard: unknown action":    {"w", "launch", "workorders", snapshot.Resource{OwnerID: "w"}, true},
		"action wildcard keeps scope":        {"w", "launch", "workorders", snapshot.Resource{OwnerID: "x"}, false},
		"action wildcard keeps resource":     {"w", "edit", "assets", snapshot.Resource{OwnerID: "w"}, false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := s.Check(req(tc.subject, tc.action, tc.res, tc.r))
			if d.Allowed != tc.allowed {
				t.Fatalf("got %+v, want %v", d, tc.allowed)
			}
			if d.Allowed && strings.HasPrefix(name, "admin") && (d.Matched == nil || !d.Matched.FullAccess || d.Matched.Permission != -1) {
				t.Fatalf("matched %+v", d.Matched)
			}
		})
	}
}

func TestExternalGroups(t *testing.T) {
	s := mustCompile(t, snapshot.Objects{
		Roles: []v1alpha1.Role{role("viewer", perm("assets", "view", "")), role("editor", perm("assets", "edit", ""))},
		Groups: []v1alpha1.UserGroup{
			withExternal(group("sso-viewers", "viewer", ""), "idp-view"),
			withExternal(group("sso-editors", "editor", "bob"), "idp-edit"),
			withMemberGroups(withExternal(group("parent", "editor", ""), ""), "sso-viewers"),
			withRestriction(withExternal(group("sso-contractors", "", ""), "idp-contractor"), "assets", v1alpha1.ScopeOwn),
		},
	})
	tests := map[string]struct {
		id      string
		groups  []string
		action  string
		r       snapshot.Resource
		allowed bool
		reason  string
	}{
		"unknown subject via IdP group":             {"carol", []string{"idp-view"}, "view", snapshot.Resource{}, true, ""},
		"IdP group includes parent group's roles":   {"carol", []string{"idp-view"}, "edit", snapshot.Resource{}, true, ""},
		"unknown IdP group":                         {"carol", []string{"idp-other"}, "view", snapshot.Resource{}, false, snapshot.ReasonUnknownSubject},
		"known member plus IdP group":               {"bob", []string{"idp-view"}, "view", snapshot.Resource{}, true, ""},
		"known member keeps own groups":             {"bob", []string{"idp-other"}, "edit", snapshot.Resource{}, true, ""},
		"IdP restriction applies to known member":   {"bob", []string{"idp-contractor"}, "edit", snapshot.Resource{OwnerID: "x"}, false, snapshot.ReasonRestricted},
		"IdP restriction satisfied":                 {"bob", []string{"idp-contractor"}, "edit", snapshot.Resource{OwnerID: "bob"}, true, ""},
		"IdP-only member without roles":             {"dave", []string{"idp-contractor"}, "edit", snapshot.Resource{}, false, snapshot.ReasonNoRoles},
		"several IdP groups combine (uncached set)": {"erin", []string{"idp-edit", "idp-contractor"}, "edit", snapshot.Resource{OwnerID: "erin"}, true, ""},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			for i := 0; i < 2; i++ { // the second time hits the request-time cache
				d := s.Check(&snapshot.Request{Subject: snapshot.Subject{ID: tc.id, Groups: tc.groups}, Action: tc.action,
					Resource: withType(tc.r, "assets")})
				if d.Allowed != tc.allowed || (!tc.allowed && d.Reason != tc.reason) {
					t.Fatalf("got %+v, want %v %s", d, tc.allowed, tc.reason)
				}
			}
		})
	}
}

func withType(r snapshot.Resource, ty string) snapshot.Resource { r.Type = ty; return r }

func TestCELConditions(t *testing.T) {
	s := mustCompile(t, snapshot.Objects{
		Roles: []v1alpha1.Role{role("r",
			permWhen("purchaseorders", "approve", "", "resource.properties.amount < subject.properties.limit"),
			permWhen("workorders", "view", v1alpha1.ScopeOwn, "context.channel == 'mobile'"),
			permWhen("assets", "view", "", "'techs' in subject.groups && action.name == 'view' && resource.id.startsWith('A-')"),
			permWhen("meters", "view", "", "subject.properties.level >= 3"),
			permWhen("parts", "view", "", "resource.properties.urgent"),
		)},
		Groups: []v1alpha1.UserGroup{withAttrs(group("techs", "r", "u1"), "limit", "5000")},
	})
	// limit is a string attribute; a request number for the same key is
	// ignored because snapshot attributes win.
	po := func(amount any, limit any) *snapshot.Request {
		r := req("u1", "approve", "purchaseorders", snapshot.Resource{Properties: map[string]any{"amount": amount}})
		r.Subject.Properties = map[string]any{"limit": limit}
		return r
	}
	tests := map[string]struct {
		rq      *snapshot.Request
		allowed bool
	}{
		"string limit vs number amount is an error: deny": {po(100, 9999), false},
		"context condition true": {func() *snapshot.Request {
			r := req("u1", "view", "workorders", snapshot.Resource{OwnerID: "u1"})
			r.Context = map[string]any{"channel": "mobile"}
			return r
		}(), true},
		"context condition false": {req("u1", "view", "workorders", snapshot.Resource{OwnerID: "u1"}), false},
		"scope still applies with condition": {func() *snapshot.Request {
			r := req("u1", "view", "workorders", snapshot.Resource{OwnerID: "x"})
			r.Context = map[string]any{"channel": "mobile"}
			return r
		}(), false},
		"subject groups and resource id": {req("u1", "view", "assets", snapshot.Resource{ID: "A-1"}), true},
		"resource id mismatch":           {req("u1", "view", "assets", snapshot.Resource{ID: "B-1"}), false},
		"request property used when group lacks it": {func() *snapshot.Request {
			r := req("u1", "view", "meters", snapshot.Resource{})
			r.Subject.Properties = map[string]any{"level": 3}
			return r
		}(), true},
		"dyn bool property true": {req("u1", "view", "parts", snapshot.Resource{Properties: map[string]any{"urgent": true}}), true},
		"dyn non-bool denies":    {req("u1", "view", "parts", snapshot.Resource{Properties: map[string]any{"urgent": "yes"}}), false},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := s.Check(tc.rq)
			if d.Allowed != tc.allowed {
				t.Fatalf("got %+v, want %v", d, tc.allowed)
			}
			if d.Allowed && d.Matched.When == "" {
				t.Fatalf("matched has no condition: %+v", d.Matched)
			}
		})
	}
}

func TestCELRuntimeCostLimit(t *testing.T) {
	// Estimated within limits for lists of AssumedSize items, but the
	// request sends a far larger list: the runtime limit stops it and
	// the request is denied.
	s := mustCompile(t, snapshot.Objects{
		Roles:  []v1alpha1.Role{role("r", permWhen("assets", "view", "", "resource.properties.tags.all(x, x.size() < 10)"))},
		Groups: []v1alpha1.UserGroup{group("g", "r", "u1")},
	})
	small := make([]any, 10)
	for i := range small {
		small[i] = "ok"
	}
	if d := s.Check(req("u1", "view", "assets", snapshot.Resource{Properties: map[string]any{"tags": small}})); !d.Allowed {
		t.Fatalf("small list: %+v", d)
	}
	huge := make([]any, 200_000)
	for i := range huge {
		huge[i] = "ok"
	}
	if d := s.Check(req("u1", "view", "assets", snapshot.Resource{Properties: map[string]any{"tags": huge}})); d.Allowed {
		t.Fatalf("huge list allowed: %+v", d)
	}
}

func TestCheckConcurrent(t *testing.T) {
	s := mustCompile(t, snapshot.Objects{
		Roles:  []v1alpha1.Role{role("r", perm("assets", "view", v1alpha1.ScopeOwn))},
		Groups: []v1alpha1.UserGroup{withExternal(group("g", "r", "u1"), "idp"), withExternal(group("h", "", ""), "idp2")},
	})
	done := make(chan bool)
	for w := 0; w < 4; w++ {
		go func() {
			ok := true
			for i := 0; i < 500; i++ {
				d := s.Check(&snapshot.Request{Subject: snapshot.Subject{ID: "u9", Groups: []string{"idp", "idp2"}}, Action: "view",
					Resource: snapshot.Resource{Type: "assets", OwnerID: "u9"}})
				ok = ok && d.Allowed
			}
			done <- ok
		}()
	}
	for w := 0; w < 4; w++ {
		if !<-done {
			t.Fatal("concurrent check denied")
		}
	}
}

// TestManyActions covers the three block layouts: up to 32 actions (one
// cache line), up to 63 (one word per scope) and more (several words).
func TestManyActions(t *testing.T) {
	for _, n := range []int{150, 40} {
		t.Run(fmt.Sprint(n), func(t *testing.T) { testManyActions(t, n) })
	}
}

func testManyActions(t *testing.T, n int) {
	var acts []string
	for i := 0; i < n; i++ {
		acts = append(acts, fmt.Sprintf("act%03d", i))
	}
	if n < 150 {
		// keep the names the checks below use
		acts = append(acts[:n-3], "act120", "act140", "act149")
	}
	top := min(100, n-3)
	s := mustCompile(t, snapshot.Objects{
		Roles: []v1alpha1.Role{
			role("r", perm("assets", strings.Join(acts[:top], ","), ""), perm("assets", "act140", v1alpha1.ScopeOwn),
				permWhen("assets", "act120", "", "resource.properties.ok == true")),
			role("w", perm("parts", "*", v1alpha1.ScopeAssigned)),
		},
		Groups: []v1alpha1.UserGroup{group("g", "r,w", "u1")},
	})
	for i, a := range acts {
		want := i < top
		if d := s.Check(req("u1", a, "assets", snapshot.Resource{})); d.Allowed != want {
			t.Fatalf("%s: %+v", a, d)
		}
	}
	if d := s.Check(req("u1", "act140", "assets", snapshot.Resource{OwnerID: "u1"})); !d.Allowed || d.Matched.Permission != 1 {
		t.Fatalf("act140 own: %+v", d)
	}
	if d := s.Check(req("u1", "act140", "assets", snapshot.Resource{OwnerID: "x"})); d.Allowed {
		t.Fatalf("act140 other: %+v", d)
	}
	if d := s.Check(req("u1", "act120", "assets", snapshot.Resource{Properties: map[string]any{"ok": true}})); !d.Allowed || d.Matched.Permission != 2 {
		t.Fatalf("act120: %+v", d)
	}
	for _, a := range []string{"act000", "act149", "unknown-action"} {
		if d := s.Check(req("u1", a, "parts", snapshot.Resource{AssigneeIDs: []string{"u1"}})); !d.Allowed {
			t.Fatalf("wildcard %s: %+v", a, d)
		}
	}
	if p := s.Plan(snapshot.Subject{ID: "u1"}, "act140", "assets"); p.Kind != snapshot.PlanConditional || p.Filter.Op != snapshot.OpEq {
		t.Fatalf("plan %+v", p)
	}
	if got := s.Actions(snapshot.Subject{ID: "u1"}, snapshot.Resource{Type: "assets", OwnerID: "u1"}); len(got) != top+1 {
		t.Fatalf("actions: %d", len(got))
	}
}
