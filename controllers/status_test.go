package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func compileSmall(t *testing.T, extraRoles ...string) *snapshot.Snapshot {
	t.Helper()
	role := accessv1.Role{}
	role.Name = "viewer"
	role.Spec.Permissions = []accessv1.Permission{{Resources: []accessv1.ModuleName{"workorders"}, Actions: []accessv1.ActionName{"view"}}}
	group := accessv1.UserGroup{}
	group.Name = "crew"
	group.Spec.Members = []accessv1.SubjectID{"ann", "bob"}
	group.Spec.Roles = []accessv1.ObjectName{"viewer"}
	for _, r := range extraRoles {
		group.Spec.Roles = append(group.Spec.Roles, accessv1.ObjectName(r))
	}
	s, _ := snapshot.Compile("t", snapshot.Objects{Roles: []accessv1.Role{role}, Groups: []accessv1.UserGroup{group}})
	return s
}

func TestDesiredAccessStatusServed(t *testing.T) {
	var cur accessv1.AccessObjectStatus
	st := desiredAccessStatus(&cur, 3, "abc", nil)
	c := st.Conditions[0]
	if st.Revision != "abc" || st.ObservedGeneration != 3 || c.Status != metav1.ConditionTrue ||
		c.Reason != accessv1.ReasonCompiled || c.ObservedGeneration != 3 || !strings.Contains(c.Message, "abc") {
		t.Fatalf("unexpected status %+v", st)
	}
	if len(cur.Conditions) != 0 {
		t.Fatal("the current status was modified")
	}

	// Recomputing from the written status changes nothing: no write storm.
	again := desiredAccessStatus(&st, 3, "abc", nil)
	if again.Conditions[0] != c {
		t.Fatalf("a second computation differs: %+v vs %+v", again.Conditions[0], c)
	}
	// A new revision keeps the transition time (the status held).
	next := desiredAccessStatus(&st, 3, "def", nil)
	if !next.Conditions[0].LastTransitionTime.Equal(&c.LastTransitionTime) || next.Revision != "def" {
		t.Fatalf("new revision: %+v", next)
	}
}

func TestDesiredAccessStatusLeftOut(t *testing.T) {
	cur := accessv1.AccessObjectStatus{Revision: "old"}
	problems := []snapshot.Problem{
		{Kind: "Role", Name: "r", Field: "spec.permissions[2].when", Reason: accessv1.ReasonInvalidExpression, Message: "undeclared reference to 'x'"},
		{Kind: "Role", Name: "r", Field: "spec.extends[0]", Reason: accessv1.ReasonInvalidReference, Message: "no Role named ghost"},
	}
	st := desiredAccessStatus(&cur, 2, "abc", problems)
	c := st.Conditions[0]
	if st.Revision != "" {
		t.Errorf("a left-out object has revision %q", st.Revision)
	}
	if c.Status != metav1.ConditionFalse || c.Reason != accessv1.ReasonInvalidExpression {
		t.Errorf("condition %+v", c)
	}
	for _, want := range []string{"spec.permissions[2].when: undeclared reference to 'x'", "spec.extends[0]: no Role named ghost", "abc"} {
		if !strings.Contains(c.Message, want) {
			t.Errorf("message %q lacks %q", c.Message, want)
		}
	}
}

func TestProblemMessageIsBounded(t *testing.T) {
	p := snapshot.Problem{Field: "spec.x", Message: strings.Repeat("é", 10000)}
	msg := problemMessage([]snapshot.Problem{p}, "abc")
	if len(msg) > maxConditionMessage || !strings.HasSuffix(msg, "…") {
		t.Fatalf("message of %d bytes", len(msg))
	}
	if !strings.HasPrefix(msg, "spec.x: é") {
		t.Fatalf("message %q...", msg[:20])
	}
}

func TestDesiredSnapshotStatus(t *testing.T) {
	s := compileSmall(t)
	at := time.Date(2026, 1, 2, 3, 4, 5, 600, time.UTC)
	var cur accessv1.PermissionSnapshotStatus
	st := desiredSnapshotStatus(&cur, 1, "", s, at, nil)
	want := accessv1.SnapshotCounts{Roles: 1, Groups: 1, Subjects: 2}
	if st.Revision != s.Revision() || st.Counts != want || st.LeftOut != nil || st.ObservedGeneration != 1 || st.Shard != "" {
		t.Fatalf("status %+v", st)
	}
	if !st.CompiledAt.Time.Equal(at.Truncate(time.Second)) {
		t.Errorf("compiledAt %v", st.CompiledAt)
	}
	if c := st.Conditions[0]; c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "1 roles, 1 groups, 2 subjects") {
		t.Errorf("condition %+v", c)
	}

	// Another replica, compiling the same revision later, keeps compiledAt.
	later := desiredSnapshotStatus(&st, 1, "", s, at.Add(time.Hour), nil)
	if !later.CompiledAt.Equal(st.CompiledAt) {
		t.Errorf("compiledAt moved to %v for the same revision", later.CompiledAt)
	}

	// A shard taking the tenant over after the old one released it names
	// itself, is Ready again and keeps compiledAt.
	released := *st.DeepCopy()
	released.Conditions[0].Status, released.Conditions[0].Reason = metav1.ConditionFalse, accessv1.ReasonNotInShard
	moved := desiredSnapshotStatus(&released, 1, "b", s, at.Add(time.Hour), nil)
	if moved.Shard != "b" || moved.Conditions[0].Status != metav1.ConditionTrue || moved.Conditions[0].Reason != accessv1.ReasonCompiled {
		t.Errorf("after the move: shard %q, condition %+v", moved.Shard, moved.Conditions[0])
	}
	if !moved.CompiledAt.Equal(st.CompiledAt) {
		t.Errorf("compiledAt moved to %v with the tenant", moved.CompiledAt)
	}

	// Left-out objects are listed, the snapshot is still Ready.
	problems := []snapshot.Problem{{Kind: "UserGroup", Name: "g", Field: "spec.roles[0]", Reason: accessv1.ReasonInvalidReference, Message: "m"}}
	s2 := compileSmall(t, "ghost")
	bad := desiredSnapshotStatus(&st, 1, "", s2, at.Add(time.Hour), problems)
	if len(bad.LeftOut) != 1 || bad.LeftOut[0].Reason != accessv1.ReasonInvalidReference {
		t.Errorf("leftOut %+v", bad.LeftOut)
	}
	if !bad.CompiledAt.Time.Equal(at.Add(time.Hour).Truncate(time.Second)) {
		t.Errorf("compiledAt %v for a new revision", bad.CompiledAt)
	}
	if c := bad.Conditions[0]; c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "1 objects left out") {
		t.Errorf("condition %+v", c)
	}
}

func TestDesiredSnapshotStatusCapsLeftOut(t *testing.T) {
	s := compileSmall(t)
	problems := make([]snapshot.Problem, maxLeftOut+10)
	for i := range problems {
		problems[i] = snapshot.Problem{Kind: "Role", Name: strings.Repeat("r", i%50+1), Reason: accessv1.ReasonInvalidSpec}
	}
	st := desiredSnapshotStatus(&accessv1.PermissionSnapshotStatus{}, 1, "", s, time.Now(), problems)
	if len(st.LeftOut) != maxLeftOut {
		t.Fatalf("%d leftOut entries, want the schema's maximum %d", len(st.LeftOut), maxLeftOut)
	}
}

func TestSummarizeDiff(t *testing.T) {
	d := &snapshot.Changes{
		Permissions: []snapshot.PermissionChange{
			{Change: snapshot.Gained, Kind: "permission", Resource: "workorders", Action: "delete", Scope: "unitTree", Subjects: []string{"a", "b"}},
			{Change: snapshot.Lost, Kind: "permission", Resource: "assets", Action: "view", Scope: "all", When: "resource.properties.amount < 10", Subjects: []string{"c"}},
			{Change: snapshot.Gained, Kind: "fullAccess", Subjects: []string{"d"}},
			{Change: snapshot.Gained, Kind: "restriction", Resource: "invoices", Scope: "company", Subjects: []string{"s1", "s2", "s3", "s4", "s5", "s6", "s7"}},
		},
		Fields:    []snapshot.FieldChange{{Resource: "workorders", Field: "margin", From: "read", To: "hidden", Subjects: []string{"a"}}},
		Approvals: []snapshot.ApprovalChange{{Change: snapshot.Lost, Resource: "purchaseorders", Step: "director", Subjects: []string{"e"}}},
	}
	got := summarizeDiff(d)
	for _, want := range []string{
		"gained workorders:delete (unitTree) for a, b",
		"lost assets:view when resource.properties.amount < 10 for c",
		"gained full access for d",
		"gained restriction of invoices to company for s1, s2, s3, s4, s5 +2 more",
		"field workorders.margin read→hidden for a",
		"e no longer approver of purchaseorders step director",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("summary lacks %q:\n%s", want, got)
		}
	}
	if summarizeDiff(&snapshot.Changes{}) != "no subject's access changed" {
		t.Error("empty diff")
	}
	if !strings.Contains(summarizeDiff(nil), "no diff") {
		t.Error("nil diff")
	}
}

func TestSummarizeDiffStopsAtTheNoteLimit(t *testing.T) {
	d := &snapshot.Changes{}
	for i := range 10000 {
		d.Permissions = append(d.Permissions, snapshot.PermissionChange{Change: snapshot.Gained, Kind: "permission",
			Resource: "module", Action: strings.Repeat("x", i%20+1), Subjects: []string{"someone"}})
	}
	if got := summarizeDiff(d); len(got) > 2*maxEventNote {
		t.Fatalf("summary of %d bytes for a huge diff", len(got))
	}
}

func TestEventFor(t *testing.T) {
	rec := &audit.Record{FromRevision: "old", ToRevision: "new"}
	typ, reason, note := eventFor(audit.Object{Kind: "Role", Name: "r", Change: audit.ChangeUpdated, Generation: 2, Served: true}, rec, "gained x")
	if typ != "Normal" || reason != accessv1.ReasonCompiled || note != "Role r (generation 2) updated, served in revision new (was old): gained x" {
		t.Errorf("served: %s %s %q", typ, reason, note)
	}
	typ, reason, note = eventFor(audit.Object{Kind: "UserGroup", Name: "g", Change: audit.ChangeLeftOut, Generation: 1,
		Problems: []snapshot.Problem{{Field: "spec.roles[0]", Reason: accessv1.ReasonInvalidReference, Message: "no Role named r"}}}, rec, "")
	if typ != "Warning" || reason != accessv1.ReasonInvalidReference ||
		note != "UserGroup g (generation 1) left out of revision new (was old) after a change to an object it depends on: spec.roles[0]: no Role named r" {
		t.Errorf("left out: %s %s %q", typ, reason, note)
	}
	typ, reason, note = eventFor(audit.Object{Kind: "Role", Name: "r", Change: audit.ChangeDeleted}, rec, "lost y")
	if typ != "Normal" || reason != "ObjectDeleted" || note != "Role r deleted; serving revision new (was old): lost y" {
		t.Errorf("deleted: %s %s %q", typ, reason, note)
	}
	_, _, note = eventFor(audit.Object{Kind: "Role", Name: "r", Change: audit.ChangeCreated, Served: true}, rec, strings.Repeat("z", 5000))
	if len(note) > maxEventNote {
		t.Errorf("note of %d bytes", len(note))
	}
}

func TestChangedObjects(t *testing.T) {
	mk := func(kind, name string, gen int64) accessItem {
		r := &accessv1.Role{}
		r.Name, r.UID, r.Generation = name, types.UID("uid-"+kindName(kind, name)), gen
		return accessItem{key: objectKey{kind, name}, obj: r, status: &r.Status}
	}
	prev := &tenantState{
		versions: map[objectKey]objectVersion{
			{"Role", "same"}:     {"uid-Role/same", 1},
			{"Role", "edited"}:   {"uid-Role/edited", 1},
			{"Role", "gone"}:     {"uid-Role/gone", 1},
			{"UserGroup", "dep"}: {"uid-UserGroup/dep", 1},
			{"UserGroup", "fix"}: {"uid-UserGroup/fix", 1},
		},
		leftOut: map[objectKey]bool{{"UserGroup", "fix"}: true},
	}
	in := &tenantObjects{items: []accessItem{
		mk("Role", "edited", 2), mk("Role", "new", 1), mk("Role", "same", 1),
		mk("UserGroup", "dep", 1), mk("UserGroup", "fix", 1),
	}}
	byObject := map[objectKey][]snapshot.Problem{{"UserGroup", "dep"}: {{Reason: accessv1.ReasonInvalidReference}}}
	got := changedObjects(prev, in, byObject)
	var summary []string
	for _, o := range got {
		summary = append(summary, o.Kind+"/"+o.Name+"="+o.Change)
	}
	want := "Role/edited=updated Role/new=created UserGroup/dep=leftOut UserGroup/fix=restored Role/gone=deleted"
	if strings.Join(summary, " ") != want {
		t.Fatalf("changes\n got %s\nwant %s", strings.Join(summary, " "), want)
	}

	// Without a previous compile every object is new.
	for _, o := range changedObjects(nil, in, byObject) {
		if o.Change != audit.ChangeCreated {
			t.Errorf("%s/%s: %s", o.Kind, o.Name, o.Change)
		}
	}
}

func kindName(kind, name string) string { return kind + "/" + name }
