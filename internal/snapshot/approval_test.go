package snapshot_test

import (
	"slices"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

func approvalTenant(t *testing.T) *snapshot.Snapshot {
	two := int32(2)
	po := chain("po", "purchaseorders",
		v1alpha1.ApprovalStep{Name: "manager", When: "resource.properties.amount > 1000", Approvers: v1alpha1.Approvers{Roles: objNames("manager")}},
		v1alpha1.ApprovalStep{Name: "finance", When: "resource.properties.amount > 5000", Approvers: v1alpha1.Approvers{Groups: objNames("finance")}, Required: &two},
		v1alpha1.ApprovalStep{Name: "director", When: "resource.properties.amount > 20000", Approvers: v1alpha1.Approvers{Users: subjectIDs("dir1,dir2,dir3")}, RequireAll: true},
	)
	po.Spec.ForbidSelfApproval = true
	quotes := chain("quotes", "quotes", v1alpha1.ApprovalStep{Name: "contact", Approvers: v1alpha1.Approvers{Roles: objNames("manager")}})
	quotes.Spec.RequireProjectContact = true
	quotes.Spec.Action = "sign"
	return mustCompile(t, snapshot.Objects{
		Roles: []v1alpha1.Role{
			role("manager", perm("purchaseorders", "approve", ""), perm("quotes", "sign", "")),
			extends(role("senior-manager"), "manager"),
			role("approver", perm("purchaseorders", "approve", "")),
			role("viewer", perm("purchaseorders", "view", "")),
		},
		Groups: []v1alpha1.UserGroup{
			group("managers", "manager", "m1,m2"),
			group("seniors", "senior-manager", "m3"),
			group("finance", "approver", "f1,f2"),
			withMemberGroups(group("finance-all", "", "f3"), ""),
			group("finance-view", "viewer", "f4"),
			group("directors", "approver", "dir1,dir2"),
		},
		ApprovalChains: []v1alpha1.ApprovalChain{po, quotes},
	})
}

// f4 is named through no group of the finance step; finance membership
// alone without the approve permission is tested with f3 below.

func approvals(kv ...string) []snapshot.Approval {
	var out []snapshot.Approval
	for i := 0; i+1 < len(kv); i += 2 {
		out = append(out, snapshot.Approval{Step: kv[i], By: kv[i+1]})
	}
	return out
}

func poRecord(amount float64, owner string, ap ...snapshot.Approval) snapshot.Resource {
	return snapshot.Resource{Type: "purchaseorders", ID: "po-1", OwnerID: owner, Approvals: ap, Properties: map[string]any{"amount": amount}}
}

func TestCanApprove(t *testing.T) {
	s := approvalTenant(t)
	tests := map[string]struct {
		subject  string
		res      snapshot.Resource
		allowed  bool
		step     string
		complete bool
		reason   string
	}{
		"below every threshold: complete":                            {"m1", poRecord(500, "x"), false, "", true, snapshot.ReasonApprovalComplete},
		"manager step: manager may approve":                          {"m2", poRecord(3000, "x"), true, "manager", false, snapshot.ReasonAllowed},
		"manager step: extended role counts":                         {"m3", poRecord(3000, "x"), true, "manager", false, snapshot.ReasonAllowed},
		"manager step: finance may not":                              {"f1", poRecord(3000, "x"), false, "manager", false, snapshot.ReasonNotEligible},
		"self approval forbidden":                                    {"m1", poRecord(3000, "m1"), false, "manager", false, snapshot.ReasonNotEligible},
		"manager done: complete below 5000":                          {"m1", poRecord(3000, "x", approvals("manager", "m2")...), false, "", true, snapshot.ReasonApprovalComplete},
		"manager done: finance next":                                 {"f1", poRecord(8000, "x", approvals("manager", "m2")...), true, "finance", false, snapshot.ReasonAllowed},
		"ineligible approval does not count":                         {"m1", poRecord(8000, "x", approvals("manager", "f1")...), true, "manager", false, snapshot.ReasonAllowed},
		"owner's own approval does not count":                        {"m2", poRecord(3000, "m1", approvals("manager", "m1")...), true, "manager", false, snapshot.ReasonAllowed},
		"quorum of two: one is not enough":                           {"f1", poRecord(8000, "x", approvals("manager", "m2", "finance", "f1")...), false, "finance", false, snapshot.ReasonAlreadyApproved},
		"quorum of two: second approver":                             {"f2", poRecord(8000, "x", approvals("manager", "m2", "finance", "f1")...), true, "finance", false, snapshot.ReasonAllowed},
		"quorum counts distinct approvers":                           {"f1", poRecord(8000, "x", approvals("manager", "m2", "finance", "f1", "finance", "f1")...), false, "finance", false, snapshot.ReasonAlreadyApproved},
		"quorum met":                                                 {"f1", poRecord(8000, "x", approvals("manager", "m2", "finance", "f1", "finance", "f2")...), false, "", true, snapshot.ReasonApprovalComplete},
		"requireAll: listed user without permission is not eligible": {"dir3", poRecord(30000, "x", approvals("manager", "m2", "finance", "f1", "finance", "f2")...), false, "director", false, snapshot.ReasonNotEligible},
		"requireAll: first director":                                 {"dir1", poRecord(30000, "x", approvals("manager", "m2", "finance", "f1", "finance", "f2")...), true, "director", false, snapshot.ReasonAllowed},
		"requireAll: one of two is not enough":                       {"dir2", poRecord(30000, "x", approvals("manager", "m2", "finance", "f1", "finance", "f2", "director", "dir1")...), true, "director", false, snapshot.ReasonAllowed},
		"requireAll: all approved":                                   {"dir2", poRecord(30000, "x", approvals("manager", "m2", "finance", "f1", "finance", "f2", "director", "dir1", "director", "dir2")...), false, "", true, snapshot.ReasonApprovalComplete},
		"project contact required: contact":                          {"m2", snapshot.Resource{Type: "quotes", ProjectContacts: []string{"m2"}}, true, "contact", false, snapshot.ReasonAllowed},
		"project contact required: not contact":                      {"m1", snapshot.Resource{Type: "quotes", ProjectContacts: []string{"m2"}}, false, "contact", false, snapshot.ReasonNotEligible},
		"no chain":                                                   {"m1", snapshot.Resource{Type: "invoices"}, false, "", false, snapshot.ReasonNoApprovalChain},
		"unknown subject":                                            {"nobody", poRecord(3000, "x"), false, "manager", false, snapshot.ReasonNotEligible},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			d := s.CanApprove(snapshot.Subject{ID: tc.subject}, tc.res)
			want := snapshot.ApprovalDecision{Allowed: tc.allowed, Step: tc.step, Complete: tc.complete, Reason: tc.reason}
			if d != want {
				t.Fatalf("got %+v, want %+v", d, want)
			}
		})
	}
	var nilSnap *snapshot.Snapshot
	if d := nilSnap.CanApprove(snapshot.Subject{ID: "m1"}, poRecord(3000, "x")); d.Allowed || d.Reason != snapshot.ReasonNoSnapshot {
		t.Fatalf("nil snapshot: %+v", d)
	}
}

func TestApprovalPlan(t *testing.T) {
	s := approvalTenant(t)
	p := s.ApprovalPlan(poRecord(30000, "m1", approvals("manager", "m2", "finance", "f1", "finance", "m2")...))
	if p.Chain != "po" || p.Action != "approve" || p.Complete || p.Current != "finance" {
		t.Fatalf("plan %+v", p)
	}
	type step struct {
		name               string
		required           int
		eligible, approved []string
		done               bool
	}
	var got []step
	for _, st := range p.Steps {
		got = append(got, step{st.Name, st.Required, st.Eligible, st.ApprovedBy, st.Done})
	}
	want := []step{
		{"manager", 1, []string{"m2", "m3"}, []string{"m2"}, true}, // m1 owns the record
		{"finance", 2, []string{"f1", "f2"}, []string{"f1"}, false},
		{"director", 2, []string{"dir1", "dir2"}, []string{}, false},
	}
	if len(got) != len(want) {
		t.Fatalf("steps %+v", got)
	}
	for i := range want {
		g, w := got[i], want[i]
		if g.name != w.name || g.required != w.required || g.done != w.done || !slices.Equal(g.eligible, w.eligible) || !slices.Equal(g.approved, w.approved) {
			t.Fatalf("step %d: got %+v, want %+v", i, g, w)
		}
	}
	if p := s.ApprovalPlan(poRecord(10, "x")); !p.Complete || len(p.Steps) != 0 {
		t.Fatalf("small PO: %+v", p)
	}
	if p := s.ApprovalPlan(snapshot.Resource{Type: "invoices"}); p.Reason != snapshot.ReasonNoApprovalChain {
		t.Fatalf("no chain: %+v", p)
	}
	// A step whose condition cannot be evaluated (no amount) applies:
	// skipping it would approve by default.
	if p := s.ApprovalPlan(snapshot.Resource{Type: "purchaseorders"}); p.Complete || p.Current != "manager" || len(p.Steps) != 3 {
		t.Fatalf("no amount: %+v", p)
	}
}
