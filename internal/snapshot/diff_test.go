package snapshot_test

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func TestDiff(t *testing.T) {
	oldObjs := snapshot.Objects{
		Roles:  []v1alpha1.Role{role("tech", perm("workorders", "view", v1alpha1.ScopeOwn)), role("viewer", perm("assets", "view", ""))},
		Groups: []v1alpha1.UserGroup{group("techs", "tech", "a,b"), group("viewers", "viewer", "c")},
		FieldPolicies: []v1alpha1.FieldPolicy{fieldPolicy("wo", "workorders", "write",
			fieldRule("cost", "hidden", grant("read", "tech", "")))},
		ApprovalChains: []v1alpha1.ApprovalChain{chain("po", "workorders",
			v1alpha1.ApprovalStep{Name: "lead", Approvers: v1alpha1.Approvers{Roles: objNames("tech")}})},
	}
	newObjs := snapshot.Objects{
		Roles: []v1alpha1.Role{role("tech", perm("workorders", "view", v1alpha1.ScopeOwnOrAssigned)), role("viewer", perm("assets", "view", ""))},
		Groups: []v1alpha1.UserGroup{group("techs", "tech", "a"), group("viewers", "viewer", "c,d"),
			withRestriction(group("limited", "", "c"), "assets", v1alpha1.ScopeOwn)},
		FieldPolicies: []v1alpha1.FieldPolicy{fieldPolicy("wo", "workorders", "read",
			fieldRule("cost", "hidden", grant("write", "tech", "")))},
		ApprovalChains: []v1alpha1.ApprovalChain{chain("po", "workorders",
			v1alpha1.ApprovalStep{Name: "lead", Approvers: v1alpha1.Approvers{Roles: objNames("viewer")}})},
	}
	o, n := mustCompile(t, oldObjs), mustCompile(t, newObjs)
	ch := snapshot.Diff(o, n)
	if ch.FromRevision != o.Revision() || ch.ToRevision != n.Revision() || ch.Empty() {
		t.Fatalf("header %+v", ch)
	}
	type pc struct {
		change, kind, res, act, scope string
		subjects, groups              []string
	}
	var perms []pc
	for _, p := range ch.Permissions {
		perms = append(perms, pc{p.Change, p.Kind, p.Resource, p.Action, p.Scope, p.Subjects, p.Groups})
	}
	wantPerms := []pc{
		{snapshot.Gained, "permission", "assets", "view", "all", []string{"d"}, []string{"viewers"}},
		{snapshot.Gained, "restriction", "assets", "", "own", []string{"c"}, []string{"limited"}},
		{snapshot.Gained, "permission", "workorders", "view", "ownOrAssigned", []string{"a"}, []string{"techs"}},
		{snapshot.Lost, "permission", "workorders", "view", "own", []string{"a", "b"}, []string{"techs"}},
	}
	if !equalJSON(perms, wantPerms) {
		t.Fatalf("permissions:\n got %s\nwant %s", mustJSON(perms), mustJSON(wantPerms))
	}
	type fc struct {
		res, field string
		from, to   v1alpha1.FieldAccess
		subjects   []string
	}
	var fields []fc
	for _, f := range ch.Fields {
		fields = append(fields, fc{f.Resource, f.Field, f.From, f.To, f.Subjects})
	}
	// b leaves every group and d joins one: Fields serves a subject in no
	// group nothing, so b loses every field and d gains the defaults.
	wantFields := []fc{
		{"workorders", "*", "write", "read", []string{"c"}},
		{"workorders", "*", "write", "read", []string{"a"}},
		{"workorders", "*", "write", "hidden", []string{"b"}},
		{"workorders", "*", "hidden", "read", []string{"d"}},
		{"workorders", "cost", "read", "write", []string{"a"}},
		{"workorders", "cost", "read", "hidden", []string{"b"}},
	}
	// Two changes may share resource/field/from/to only if subjects differ;
	// merge for comparison.
	merged := map[string][]string{}
	for _, f := range fields {
		k := f.res + "/" + f.field + "/" + string(f.from) + ">" + string(f.to)
		merged[k] = append(merged[k], f.subjects...)
	}
	wantMerged := map[string][]string{}
	for _, f := range wantFields {
		k := f.res + "/" + f.field + "/" + string(f.from) + ">" + string(f.to)
		wantMerged[k] = append(wantMerged[k], f.subjects...)
	}
	for k := range merged {
		slices.Sort(merged[k])
		slices.Sort(wantMerged[k])
	}
	if !equalJSON(merged, wantMerged) {
		t.Fatalf("fields:\n got %s\nwant %s", mustJSON(merged), mustJSON(wantMerged))
	}
	wantApprovals := []snapshot.ApprovalChange{
		{Change: snapshot.Gained, Resource: "workorders", Step: "lead", Subjects: []string{"c", "d"}},
		{Change: snapshot.Lost, Resource: "workorders", Step: "lead", Subjects: []string{"a", "b"}},
	}
	if !equalJSON(ch.Approvals, wantApprovals) {
		t.Fatalf("approvals %s", mustJSON(ch.Approvals))
	}
	if d := snapshot.Diff(o, o); !d.Empty() {
		t.Fatalf("self diff not empty: %s", mustJSON(d))
	}
	// From nothing: everyone gained everything they have.
	d := snapshot.Diff(nil, o)
	if len(d.Permissions) != 2 || d.Permissions[0].Change != snapshot.Gained || d.FromRevision != "" {
		t.Fatalf("from nil: %s", mustJSON(d))
	}
	d = snapshot.Diff(o, nil)
	if len(d.Permissions) != 2 || d.Permissions[1].Change != snapshot.Lost {
		t.Fatalf("to nil: %s", mustJSON(d))
	}
	// Deterministic.
	if mustJSON(snapshot.Diff(o, n)) != mustJSON(ch) {
		t.Fatal("diff not deterministic")
	}
}

func equalJSON(a, b any) bool { return mustJSON(a) == mustJSON(b) }

func TestWhoCanAndActions(t *testing.T) {
	s := mustCompile(t, snapshot.Objects{
		Roles: []v1alpha1.Role{
			role("owner-edit", perm("workorders", "view,edit", v1alpha1.ScopeOwnOrAssigned)),
			role("viewer", perm("workorders", "view", "")),
			role("big", permWhen("workorders", "approve", "", "subject.id == 'carol' && resource.properties.amount > 10")),
			fullAccess("admin"),
		},
		Groups: []v1alpha1.UserGroup{
			group("techs", "owner-edit", "alice,bob"),
			group("viewers", "viewer", "carol,dave"),
			group("approvers", "big", "carol,erin"),
			group("admins", "admin", "root,sup"),
			withRestriction(group("suppliers", "", "sup"), "workorders", v1alpha1.ScopeAssigned),
		},
	})
	rec := snapshot.Resource{Type: "workorders", OwnerID: "alice", AssigneeIDs: []string{"sup"}, Properties: map[string]any{"amount": 50}}
	subjects := func(gs []snapshot.Grantee) []string {
		var out []string
		for _, g := range gs {
			out = append(out, g.Subject)
			if g.Via == nil || g.Via.Role == "" {
				t.Fatalf("grantee without reason: %+v", g)
			}
		}
		return out
	}
	if got := subjects(s.WhoCan("edit", rec)); !slices.Equal(got, []string{"alice", "root", "sup"}) {
		t.Fatalf("edit: %v", got)
	}
	if got := subjects(s.WhoCan("view", rec)); !slices.Equal(got, []string{"alice", "carol", "dave", "root", "sup"}) {
		t.Fatalf("view: %v", got)
	}
	if got := subjects(s.WhoCan("approve", rec)); !slices.Equal(got, []string{"carol", "root", "sup"}) {
		t.Fatalf("approve: %v", got)
	}
	other := rec
	other.AssigneeIDs = nil
	if got := subjects(s.WhoCan("edit", other)); !slices.Equal(got, []string{"alice", "root"}) {
		t.Fatalf("edit, not assigned: %v", got)
	}
	// WhoCan agrees with Check for every known subject.
	for _, a := range []string{"view", "edit", "approve", "delete"} {
		allowed := map[string]bool{}
		for _, g := range s.WhoCan(a, rec) {
			allowed[g.Subject] = true
		}
		for _, id := range []string{"alice", "bob", "carol", "dave", "erin", "root", "sup"} {
			d := s.Check(&snapshot.Request{Subject: snapshot.Subject{ID: id}, Action: a, Resource: rec})
			if d.Allowed != allowed[id] {
				t.Fatalf("%s %s: check %v, whocan %v", id, a, d.Allowed, allowed[id])
			}
		}
	}
	if got := s.Actions(snapshot.Subject{ID: "carol"}, rec); !slices.Equal(got, []string{"approve", "view"}) {
		t.Fatalf("actions carol: %v", got)
	}
	if got := s.Actions(snapshot.Subject{ID: "root"}, rec); !slices.Equal(got, []string{"approve", "edit", "view"}) {
		t.Fatalf("actions root: %v", got)
	}
	if got := s.Actions(snapshot.Subject{ID: "nobody"}, rec); len(got) != 0 {
		t.Fatalf("actions nobody: %v", got)
	}
	var nilSnap *snapshot.Snapshot
	if nilSnap.WhoCan("view", rec) != nil || len(nilSnap.Actions(snapshot.Subject{ID: "a"}, rec)) != 0 {
		t.Fatal("nil snapshot answers")
	}
	b, _ := json.Marshal(s.WhoCan("edit", rec))
	if len(b) < 10 {
		t.Fatal("grantees not JSON-friendly")
	}
}
