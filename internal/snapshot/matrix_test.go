package snapshot_test

import (
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// TestRoleMatrix is the kind of role table field-service products publish:
// six roles × module/action pairs with full, partial (own or assigned
// records) or no access, checked for an owner, an assignee and a stranger.
func TestRoleMatrix(t *testing.T) {
	const (
		full    = "full"    // owner, assignee and stranger
		partial = "partial" // owner and assignee only
		own     = "own"     // owner only
		none    = "none"
	)
	objs := snapshot.Objects{
		Roles: []v1alpha1.Role{
			fullAccess("administrator"),
			role("limited-administrator",
				perm("workorders,requests,assets,purchaseorders,users", "view,create,edit,assign,export", ""),
				perm("workorders,requests", "archive", "")),
			role("technician",
				perm("workorders", "view,create,edit,assign", ""),
				perm("requests", "view,create", ""),
				perm("assets", "view,edit", ""),
				perm("purchaseorders", "view,create", v1alpha1.ScopeOwn)),
			extends(role("limited-technician",
				perm("workorders", "view,edit", v1alpha1.ScopeOwnOrAssigned),
				perm("requests", "view,create", v1alpha1.ScopeOwnOrAssigned)), "asset-viewer"),
			role("asset-viewer", perm("assets", "view", "")),
			role("view-only", perm("workorders,requests,assets,purchaseorders", "view", "")),
			role("requester",
				perm("requests", "create", ""),
				perm("requests", "view,edit", v1alpha1.ScopeOwn),
				perm("workorders", "view", v1alpha1.ScopeOwn)),
		},
	}
	roles := []string{"administrator", "limited-administrator", "technician", "limited-technician", "view-only", "requester"}
	for _, r := range roles {
		objs.Groups = append(objs.Groups, group(r+"s", r, "owner-"+r+",assignee-"+r+",stranger-"+r))
	}
	s := mustCompile(t, objs)

	type pair struct{ module, action string }
	matrix := map[pair][6]string{
		// administrator, limited-administrator, technician, limited-technician, view-only, requester
		{"workorders", "view"}:        {full, full, full, partial, full, own},
		{"workorders", "create"}:      {full, full, full, none, none, none},
		{"workorders", "edit"}:        {full, full, full, partial, none, none},
		{"workorders", "delete"}:      {full, none, none, none, none, none},
		{"workorders", "assign"}:      {full, full, full, none, none, none},
		{"workorders", "archive"}:     {full, full, none, none, none, none},
		{"workorders", "export"}:      {full, full, none, none, none, none},
		{"requests", "view"}:          {full, full, full, partial, full, own},
		{"requests", "create"}:        {full, full, full, partial, none, full},
		{"requests", "edit"}:          {full, full, none, none, none, own},
		{"requests", "delete"}:        {full, none, none, none, none, none},
		{"assets", "view"}:            {full, full, full, full, full, none},
		{"assets", "edit"}:            {full, full, full, none, none, none},
		{"assets", "delete"}:          {full, none, none, none, none, none},
		{"purchaseorders", "view"}:    {full, full, own, none, full, none},
		{"purchaseorders", "create"}:  {full, full, own, none, none, none},
		{"purchaseorders", "approve"}: {full, none, none, none, none, none},
		{"users", "view"}:             {full, full, none, none, none, none},
		{"users", "delete"}:           {full, none, none, none, none, none},
		{"settings", "edit"}:          {full, none, none, none, none, none},
	}
	for p, row := range matrix {
		for i, r := range roles {
			want := row[i]
			t.Run(p.module+"/"+p.action+"/"+r, func(t *testing.T) {
				check := func(who string) bool {
					res := snapshot.Resource{OwnerID: "owner-" + r, AssigneeIDs: []string{"assignee-" + r}}
					return s.Check(req(who+"-"+r, p.action, p.module, res)).Allowed
				}
				got := [3]bool{check("owner"), check("assignee"), check("stranger")}
				exp := map[string][3]bool{full: {true, true, true}, partial: {true, true, false}, own: {true, false, false}, none: {}}[want]
				if got != exp {
					t.Fatalf("owner/assignee/stranger = %v, want %s %v", got, want, exp)
				}
			})
		}
	}
}
