package audit_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func qt(min int) time.Time { return readT0.Add(time.Duration(min) * time.Minute) }

// queryTrail is two replicas' trails: alice's change to Role tech (admitted
// on replica A, compiled by both), bob's denied escalation and dry run, an
// Argo CD change compiled with no admission in the trail, carol's deletion.
func queryTrail() []audit.Record {
	src := &audit.Source{Tool: "argocd", Application: "acme-access", InitiatedBy: "automated"}
	tech := audit.Object{Kind: "Role", Name: "tech", Change: audit.ChangeUpdated, UID: "u1", Generation: 4, SpecHash: "h4", Served: true}
	groups := audit.Object{Kind: "UserGroup", Name: "techs", Change: audit.ChangeCreated, UID: "u2", Generation: 1, SpecHash: "g1", Served: true, Source: src}
	gone := audit.Object{Kind: "FieldPolicy", Name: "po", Change: audit.ChangeDeleted, UID: "u3", Generation: 3, SpecHash: "p3"}
	goneServed := gone
	goneServed.Generation, goneServed.SpecHash = 0, ""
	esc := audit.Object{Kind: "Role", Name: "root", Change: audit.ChangeCreated, Generation: 1, SpecHash: "r1"}
	adm := func(min int, user string, o audit.Object, verdict, reason string, dry bool) audit.Record {
		return audit.Record{Type: audit.RecordType, Time: qt(min), Replica: "a", Tenant: "acme", Event: audit.EventAdmission, Objects: []audit.Object{o},
			Admission: &audit.Admission{Operation: "UPDATE", User: audit.User{Name: user, Groups: []string{user + "-group"}}, Verdict: verdict, Reason: reason, DryRun: dry}}
	}
	comp := func(sec int, replica, from, to string, diff *snapshot.Changes, objs ...audit.Object) audit.Record {
		return audit.Record{Type: audit.RecordType, Time: qt(0).Add(time.Duration(sec) * time.Second), Replica: replica, Tenant: "acme", Event: audit.EventCompiled,
			FromRevision: from, ToRevision: to, Objects: objs, Diff: diff}
	}
	approve := &snapshot.Changes{Permissions: []snapshot.PermissionChange{
		{Change: snapshot.Gained, Kind: "permission", Resource: "purchaseorders", Action: "approve", Scope: "unitTree", Subjects: []string{"tom", "una"}},
		{Change: snapshot.Lost, Kind: "permission", Resource: "invoices", Action: "view", Subjects: []string{"tom"}},
	}}
	full := &snapshot.Changes{
		Permissions: []snapshot.PermissionChange{{Change: snapshot.Gained, Kind: "fullAccess", Resource: "*", Action: "*", Subjects: []string{"vic"}}},
		Approvals:   []snapshot.ApprovalChange{{Change: snapshot.Gained, Resource: "purchaseorders", Step: "cfo", Subjects: []string{"tom"}}},
	}
	fields := &snapshot.Changes{Fields: []snapshot.FieldChange{
		{Resource: "purchaseorders", Field: "margin", From: "hidden", To: "read", Subjects: []string{"tom"}},
		{Resource: "purchaseorders", Field: "price", From: "read", To: "write", Subjects: []string{"una"}},
		{Resource: "purchaseorders", Field: "cost", From: "write", To: "hidden", Subjects: []string{"tom"}},
	}}
	return []audit.Record{
		// Out of order on purpose: replica B's trail first.
		comp(62, "b", "r0", "r1", approve, tech),
		comp(3*60+1, "b", "r1", "r2", full, groups),
		adm(1, "alice", tech, audit.VerdictAdmitted, "", false),
		comp(61, "a", "r0b", "r1", approve, tech, audit.Object{Kind: "FieldPolicy", Name: "x", Change: audit.ChangeLeftOut}),
		adm(2, "bob", esc, audit.VerdictDenied, "escalation: bob may not grant fullAccess", false),
		adm(2, "bob", tech, audit.VerdictAdmitted, "", true),
		comp(3*60, "a", "r1", "r2", full, groups),
		adm(4, "carol", gone, audit.VerdictAdmitted, "", false),
		comp(4*60+1, "a", "r2", "r3", fields, goneServed),
		{Type: audit.RecordType, Time: qt(5), Tenant: "other", Event: audit.EventDecision, Decision: &audit.Decision{Subject: "tom"}},
	}
}

func TestQueryChanges(t *testing.T) {
	ix := audit.NewIndex(queryTrail())
	cases := map[string]struct {
		filter audit.Filter
		want   []string // name author replicas
	}{
		"all":                          {want: []string{"tech alice a,b", "techs argocd a,b", "po carol a"}},
		"by user":                      {filter: audit.Filter{User: "alice"}, want: []string{"tech alice a,b"}},
		"dry runs never count":         {filter: audit.Filter{User: "bob"}},
		"time range":                   {filter: audit.Filter{Since: qt(2), Until: qt(4)}, want: []string{"techs argocd a,b"}},
		"until is exclusive":           {filter: audit.Filter{Until: qt(1)}},
		"other tenant":                 {filter: audit.Filter{Tenant: "other"}},
		"changes granting tom":         {filter: audit.Filter{Subject: "tom"}, want: []string{"tech alice a,b", "techs argocd a,b", "po carol a"}},
		"changes granting vic approve": {filter: audit.Filter{Subject: "vic", Action: "approve", Resource: "invoices"}, want: []string{"techs argocd a,b"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, c := range ix.Changes(tc.filter) {
				var reps []string
				for _, s := range c.Served {
					reps = append(reps, strings.Join(s.Replicas, ","))
				}
				got = append(got, c.Object.Name+" "+c.Author()+" "+strings.Join(reps, ";"))
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	// The deletion joins its admission (with a generation) and the
	// compile's object (without).
	c := ix.Changes(audit.Filter{User: "carol"})
	if len(c) != 1 || len(c[0].Served) != 1 || c[0].Served[0].ToRevision != "r3" {
		t.Errorf("carol's deletion: %+v", c)
	}
	// The merged compile of both replicas: first served by B, both
	// FromRevisions kept.
	s := ix.Changes(audit.Filter{User: "alice"})[0].Served[0]
	if !s.Time.Equal(qt(1).Add(time.Second)) || strings.Join(s.FromRevisions, ",") != "r0b,r0" || len(s.Objects) != 2 {
		t.Errorf("served %+v", s)
	}
}

func TestQueryWhoGranted(t *testing.T) {
	ix := audit.NewIndex(queryTrail())
	cases := map[string]struct {
		filter audit.Filter
		want   []string // what, authors, revision
	}{
		"approve on purchaseorders":    {filter: audit.Filter{Subject: "tom", Action: "approve", Resource: "purchaseorders"}, want: []string{"perm approve alice r1", "approval cfo argocd r2"}},
		"full access matches any":      {filter: audit.Filter{Subject: "vic", Action: "delete", Resource: "invoices"}, want: []string{"perm * argocd r2"}},
		"losses are not grants":        {filter: audit.Filter{Subject: "tom", Action: "view", Resource: "invoices"}},
		"field read":                   {filter: audit.Filter{Subject: "tom", Action: "read"}, want: []string{"field margin carol r3"}},
		"field write":                  {filter: audit.Filter{Action: "write", Resource: "purchaseorders"}, want: []string{"perm * argocd r2", "field price carol r3"}},
		"a narrowed field is no grant": {filter: audit.Filter{Subject: "tom", Resource: "purchaseorders", Since: qt(4)}, want: []string{"field margin carol r3"}},
		"by user":                      {filter: audit.Filter{Subject: "tom", User: "alice"}, want: []string{"perm approve alice r1"}},
		"unknown subject":              {filter: audit.Filter{Subject: "zed"}},
		"time range":                   {filter: audit.Filter{Subject: "tom", Since: qt(3), Until: qt(4)}, want: []string{"approval cfo argocd r2"}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			var got []string
			for _, g := range ix.WhoGranted(tc.filter) {
				var what string
				switch {
				case g.Permission != nil:
					what = "perm " + g.Permission.Action
				case g.Field != nil:
					what = "field " + g.Field.Field
				case g.Approval != nil:
					what = "approval " + g.Approval.Step
				}
				var authors []string
				for _, c := range g.Changes {
					authors = append(authors, c.Author())
				}
				got = append(got, what+" "+strings.Join(authors, ",")+" "+g.Served.ToRevision)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
}

func TestQueryAdmissions(t *testing.T) {
	ix := audit.NewIndex(queryTrail())
	cases := map[string]struct {
		denied bool
		filter audit.Filter
		want   []string
	}{
		"all, no dry run":       {want: []string{"alice admitted tech", "bob denied root", "carol admitted po"}},
		"by bob":                {filter: audit.Filter{User: "bob"}, want: []string{"bob denied root"}},
		"denied":                {denied: true, want: []string{"bob denied root"}},
		"denied since minute 3": {denied: true, filter: audit.Filter{Since: qt(3)}},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			list := ix.Admissions(tc.filter)
			if tc.denied {
				list = ix.Denied(tc.filter)
			}
			var got []string
			for _, a := range list {
				got = append(got, a.User.Name+" "+a.Verdict+" "+a.Object.Name)
			}
			if strings.Join(got, "|") != strings.Join(tc.want, "|") {
				t.Errorf("got %q, want %q", got, tc.want)
			}
		})
	}
	if a := ix.Admissions(audit.Filter{User: "alice"}); len(a) != 1 || len(a[0].Served) != 1 || strings.Join(a[0].Served[0].Replicas, ",") != "a,b" {
		t.Errorf("alice's admission is not joined to its compile: %+v", a)
	}
}

// A replica's clock may run ahead of the webhook's: the admission, written
// after the compile it caused, still joins it.
func TestQueryAdmissionAfterServed(t *testing.T) {
	o := audit.Object{Kind: "Role", Name: "tech", Change: audit.ChangeUpdated, UID: "u1", Generation: 2, SpecHash: "h2"}
	ix := audit.NewIndex([]audit.Record{
		{Type: audit.RecordType, Time: qt(1), Replica: "b", Tenant: "acme", Event: audit.EventCompiled, ToRevision: "r1", Objects: []audit.Object{o}},
		{Type: audit.RecordType, Time: qt(2), Replica: "a", Tenant: "acme", Event: audit.EventAdmission, Objects: []audit.Object{o},
			Admission: &audit.Admission{Operation: "UPDATE", User: audit.User{Name: "alice"}, Verdict: audit.VerdictAdmitted}},
	})
	c := ix.Changes(audit.Filter{})
	if len(c) != 1 || c[0].Author() != "alice" || len(c[0].Served) != 1 || !c[0].Time.Equal(qt(2)) {
		t.Errorf("changes %+v", c)
	}
}

// The API server may call the webhook more than once for one request (an
// update tried on stale cached state is tried again on fresh state; a call
// lost in transit is retried): the reader lists the request once, as its
// last review decided, and counts the reviews.
func TestQueryAdmissionReviewedTwice(t *testing.T) {
	obj := audit.Object{Kind: "UserGroup", Name: "admins", Change: audit.ChangeUpdated, UID: "g1", Generation: 2, SpecHash: "h2"}
	review := func(sec int, uid, verdict string) audit.Record {
		tenant := "acme"
		if uid == "req-other-tenant" {
			uid, tenant = "req-1", "globex" // a forged or corrupted trail
		}
		return audit.Record{Type: audit.RecordType, Time: qt(1).Add(time.Duration(sec) * time.Second), Replica: "a", Tenant: tenant, Event: audit.EventAdmission,
			Objects: []audit.Object{obj}, Admission: &audit.Admission{Operation: "UPDATE", RequestUID: uid, User: audit.User{Name: "mallory"}, Verdict: verdict}}
	}
	cases := map[string]struct {
		trail       []audit.Record
		want        string // user verdict reviews, one per request
		wantDenied  int
		wantChanges int
	}{
		"denied twice is one attempt": {
			trail: []audit.Record{review(0, "req-1", audit.VerdictDenied), review(1, "req-1", audit.VerdictDenied)},
			want:  "mallory denied 2", wantDenied: 1,
		},
		"denied on stale state, then admitted": {
			trail:       []audit.Record{review(0, "req-1", audit.VerdictDenied), review(1, "req-1", audit.VerdictAdmitted)},
			want:        "mallory admitted 2",
			wantChanges: 1,
		},
		"three reviews": {
			trail: []audit.Record{review(0, "req-1", audit.VerdictDenied), review(1, "req-1", audit.VerdictDenied), review(2, "req-1", audit.VerdictDenied)},
			want:  "mallory denied 3", wantDenied: 1,
		},
		"two requests stay two": {
			trail: []audit.Record{review(0, "req-1", audit.VerdictDenied), review(1, "req-2", audit.VerdictDenied)},
			want:  "mallory denied 0|mallory denied 0", wantDenied: 2,
		},
		"the same UID in another tenant is another request": {
			trail: []audit.Record{review(0, "req-1", audit.VerdictDenied), review(1, "req-other-tenant", audit.VerdictAdmitted)},
			want:  "mallory denied 0|mallory admitted 0", wantDenied: 1, wantChanges: 1,
		},
		"records without a request UID are not merged": {
			trail: []audit.Record{review(0, "", audit.VerdictDenied), review(1, "", audit.VerdictDenied)},
			want:  "mallory denied 0|mallory denied 0", wantDenied: 2,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			ix := audit.NewIndex(tc.trail)
			var got []string
			for _, a := range ix.Admissions(audit.Filter{}) {
				got = append(got, fmt.Sprintf("%s %s %d", a.User.Name, a.Verdict, a.Reviews))
				if a.Reviews > 0 && !a.Time.Equal(qt(1)) {
					t.Errorf("the request's time is %v, want its first review's %v", a.Time, qt(1))
				}
			}
			if strings.Join(got, "|") != tc.want {
				t.Errorf("admissions %q, want %q", got, tc.want)
			}
			if n := len(ix.Denied(audit.Filter{})); n != tc.wantDenied {
				t.Errorf("%d denied, want %d", n, tc.wantDenied)
			}
			if n := len(ix.Changes(audit.Filter{})); n != tc.wantChanges {
				t.Errorf("%d changes, want %d", n, tc.wantChanges)
			}
		})
	}
}
