package snapshot_test

import (
	"encoding/json"
	"errors"
	"fmt"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

var planColumns = map[string]string{
	"ownerId": "owner_id", "assigneeIds": "assignee_ids", "unit": "unit_path", "facilityId": "facility_id",
	"companyId": "company_id", "projectContacts": "contacts", "amount": "amount", "status": "status", "id": "id",
}

func planTenant(t testing.TB) *snapshot.Snapshot {
	return mustCompile(t, snapshot.Objects{
		Roles: []v1alpha1.Role{
			role("own", perm("workorders", "view", v1alpha1.ScopeOwnOrAssigned)),
			role("unit", perm("workorders", "view", v1alpha1.ScopeUnitTree), perm("assets", "view", v1alpha1.ScopeUnit)),
			role("fac", perm("workorders", "edit", v1alpha1.ScopeFacility), perm("invoices", "view", v1alpha1.ScopeCompany)),
			role("cheap", permWhen("purchaseorders", "approve", v1alpha1.ScopeAll, "resource.properties.amount < subject.properties.limit && subject.id != ''")),
			role("status", permWhen("purchaseorders", "view", v1alpha1.ScopeOwn, "resource.properties.status in ['open', 'new'] || 1000 >= resource.properties.amount")),
			role("residue", permWhen("purchaseorders", "edit", v1alpha1.ScopeAll, "resource.properties.status.startsWith('dr')")),
			role("never", permWhen("purchaseorders", "delete", v1alpha1.ScopeAll, "subject.id == 'someone-else'")),
			role("contact", perm("projects", "view", v1alpha1.ScopeUnitTree), perm("projects", "edit", v1alpha1.ScopeContact)),
			role("viewall", perm("reports", "view", "")),
		},
		Groups: []v1alpha1.UserGroup{
			withAttrs(group("g1", "own,unit,fac,cheap,status,residue,never,contact,viewall", "u1,u2"),
				"unit", "/ca/ab", "facilities", "[f1,f2]", "company", "acme", "companies", "[globex]", "limit", "[ignored]"),
			withRestriction(withAttrs(group("supplier", "own,fac,viewall", "s1"), "company", "initech", "facilities", "[f9]"), "reports", v1alpha1.ScopeCompany),
			withAttrs(group("limits", "", "u1"), "level", "3"),
		},
	})
}

func TestPlanKindsAndSQL(t *testing.T) {
	s := planTenant(t)
	tests := map[string]struct {
		subject     snapshot.Subject
		action, res string
		kind        snapshot.PlanKind
		where       string
		args        []any
		sqlErr      string
	}{
		"always":                 {subject: snapshot.Subject{ID: "u1"}, action: "view", res: "reports", kind: snapshot.PlanAlways, where: "TRUE"},
		"never: no permission":   {subject: snapshot.Subject{ID: "u1"}, action: "delete", res: "reports", kind: snapshot.PlanNever, where: "FALSE"},
		"never: unknown subject": {subject: snapshot.Subject{ID: "zz"}, action: "view", res: "reports", kind: snapshot.PlanNever, where: "FALSE"},
		"never: condition false for this subject": {subject: snapshot.Subject{ID: "u1"}, action: "delete", res: "purchaseorders", kind: snapshot.PlanNever, where: "FALSE"},
		"own or assigned and unit tree": {subject: snapshot.Subject{ID: "u1"}, action: "view", res: "workorders", kind: snapshot.PlanConditional,
			where: `("owner_id" = $1 OR $2 = ANY("assignee_ids") OR ("unit_path" = $3 OR "unit_path" LIKE $4 ESCAPE '\'))`,
			args:  []any{"u1", "u1", "/ca/ab", "/ca/ab/%"}},
		"unit": {subject: snapshot.Subject{ID: "u1"}, action: "view", res: "assets", kind: snapshot.PlanConditional,
			where: `"unit_path" = $1`, args: []any{"/ca/ab"}},
		"facility": {subject: snapshot.Subject{ID: "u1"}, action: "edit", res: "workorders", kind: snapshot.PlanConditional,
			where: `"facility_id" IN ($1, $2)`, args: []any{"f1", "f2"}},
		"company with extra companies": {subject: snapshot.Subject{ID: "u1"}, action: "view", res: "invoices", kind: snapshot.PlanConditional,
			where: `"company_id" IN ($1, $2)`, args: []any{"acme", "globex"}},
		"CEL translated with subject folded in": {subject: snapshot.Subject{ID: "s1"}, action: "view", res: "reports", kind: snapshot.PlanConditional,
			where: `"company_id" IN ($1)`, args: []any{"initech"}},
		"CEL comparison and in-list": {subject: snapshot.Subject{ID: "u1"}, action: "view", res: "purchaseorders", kind: snapshot.PlanConditional,
			where: `("owner_id" = $1 AND ("status" IN ($2, $3) OR "amount" <= $4))`, args: []any{"u1", "open", "new", int64(1000)}},
		"CEL residue cannot become SQL": {subject: snapshot.Subject{ID: "u1"}, action: "edit", res: "purchaseorders", kind: snapshot.PlanConditional,
			sqlErr: "cannot be translated to SQL"},
		"contact edits": {subject: snapshot.Subject{ID: "u2"}, action: "edit", res: "projects", kind: snapshot.PlanConditional,
			where: `$1 = ANY("contacts")`, args: []any{"u2"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := s.Plan(tc.subject, tc.action, tc.res)
			if p.Kind != tc.kind {
				t.Fatalf("kind %s (%s), want %s; filter %s", p.Kind, p.Reason, tc.kind, mustJSON(p.Filter))
			}
			where, args, err := p.SQL(planColumns)
			if tc.sqlErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.sqlErr) {
					t.Fatalf("err %v, want %q", err, tc.sqlErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if where != tc.where || !reflect.DeepEqual(args, tc.args) {
				t.Fatalf("where %q args %#v\nwant  %q args %#v", where, args, tc.where, tc.args)
			}
		})
	}
	// Unmapped columns fail loudly instead of widening the filter.
	p := s.Plan(snapshot.Subject{ID: "u1"}, "view", "workorders")
	if _, _, err := p.SQL(map[string]string{"ownerId": "owner_id"}); err == nil || !strings.Contains(err.Error(), "assigneeIds") {
		t.Fatalf("unmapped column: %v", err)
	}
	where, args, err := p.SQL(planColumns, snapshot.SQLPlaceholder(func(int) string { return "?" }), snapshot.SQLArgOffset(2))
	if err != nil || strings.Contains(where, "$") || len(args) != 4 {
		t.Fatalf("placeholder option: %q %v %v", where, args, err)
	}
	where, _, _ = p.SQL(planColumns, snapshot.SQLArgOffset(2))
	if !strings.HasPrefix(where, `("owner_id" = $3`) {
		t.Fatalf("offset: %q", where)
	}
}

// TestPlanSQLColumnNames: column names are SQL identifiers, emitted quoted;
// anything else is refused with an error that names the mapping key and not
// the value.
func TestPlanSQLColumnNames(t *testing.T) {
	s := planTenant(t)
	cond := s.Plan(snapshot.Subject{ID: "u1"}, "view", "workorders")
	always := s.Plan(snapshot.Subject{ID: "u1"}, "view", "reports")
	if cond.Kind != snapshot.PlanConditional || always.Kind != snapshot.PlanAlways {
		t.Fatalf("kinds %s %s", cond.Kind, always.Kind)
	}
	part63 := strings.Repeat("a", 63)
	valid := map[string]struct{ column, where string }{
		"plain":               {"unit", `"unit"`},
		"qualified":           {"t.unit", `"t"."unit"`},
		"mixed case and $":    {"Org_Unit$2", `"Org_Unit$2"`},
		"leading underscore":  {"_u", `"_u"`},
		"63-byte parts":       {part63 + "." + part63, `"` + part63 + `"."` + part63 + `"`},
		"schema-like and dig": {"s1.u_2", `"s1"."u_2"`},
	}
	for name, tc := range valid {
		t.Run("valid/"+name, func(t *testing.T) {
			cols := map[string]string{"ownerId": "owner_id", "assigneeIds": "w.assignee_ids", "unit": tc.column}
			where, args, err := cond.SQL(cols)
			if err != nil {
				t.Fatal(err)
			}
			want := `("owner_id" = $1 OR $2 = ANY("w"."assignee_ids") OR (` + tc.where + ` = $3 OR ` + tc.where + ` LIKE $4 ESCAPE '\'))`
			if where != want || len(args) != 4 {
				t.Fatalf("where %s args %v\nwant  %s", where, args, want)
			}
		})
	}
	hostile := map[string]struct{ column, reason string }{
		"statement":         {"x; DROP TABLE t", "byte 1 is not an ASCII letter"},
		"double quote":      {`a"b`, "byte 1 is not"},
		"space":             {"a b", "byte 1 is not"},
		"comment":           {"--", "byte 0 is not"},
		"block comment":     {"a/**/", "byte 1 is not"},
		"empty":             {"", "it is empty"},
		"empty middle part": {"a..b", "it has an empty part"},
		"leading dot":       {".a", "it has an empty part"},
		"trailing dot":      {"a.", "it has an empty part"},
		"three parts":       {"a.b.c", "more than two dot-separated parts"},
		"64-byte part":      {strings.Repeat("a", 64), "a part is longer than 63 bytes"},
		"64-byte 2nd part":  {"t." + strings.Repeat("b", 64), "a part is longer than 63 bytes"},
		"non-ASCII":         {"ünï", "byte 0 is not"},
		"NUL":               {"a\x00b", "byte 1 is not"},
		"leading digit":     {"1a", "a part starts with a digit or '$' (byte 0)"},
		"leading $":         {"t.$a", "a part starts with a digit or '$' (byte 2)"},
		"expression":        {"lower(unit)", "byte 5 is not"},
		"single quote":      {"a'b", "byte 1 is not"},
		"backtick":          {"`a`", "byte 0 is not"},
		"tab":               {"a\tb", "byte 1 is not"},
	}
	for name, tc := range hostile {
		t.Run("hostile/"+name, func(t *testing.T) {
			cols := map[string]string{"ownerId": "owner_id", "assigneeIds": "assignee_ids", "unit": tc.column}
			// Refused whatever the plan's kind: a mapping is judged the same
			// for every subject.
			for _, p := range []snapshot.Plan{cond, always, {Kind: snapshot.PlanNever}} {
				where, args, err := p.SQL(cols)
				var ce *snapshot.ColumnError
				if !errors.As(err, &ce) {
					t.Fatalf("%s plan: where %q args %v err %v, want a *ColumnError", p.Kind, where, args, err)
				}
				if where != "" || args != nil || ce.Property != "unit" || !strings.Contains(ce.Reason, tc.reason) {
					t.Fatalf("%s plan: where %q, %+v, want property unit and reason %q", p.Kind, where, ce, tc.reason)
				}
				msg := err.Error()
				if !strings.Contains(msg, `property "unit" is not an SQL identifier: `+ce.Reason) {
					t.Fatalf("message %q", msg)
				}
				if len(tc.column) > 1 && strings.Contains(msg, tc.column) {
					t.Fatalf("message %q repeats the column", msg)
				}
			}
		})
	}
	// Of several bad columns the smallest key is named, whatever the map
	// order; a hostile key is quoted and cut.
	cols := map[string]string{"unit": "a b", "id": "x;", "amount": "ok", "zz": ""}
	for range 20 {
		if _, _, err := cond.SQL(cols); err == nil || err.(*snapshot.ColumnError).Property != "id" {
			t.Fatalf("smallest key: %v", err)
		}
	}
	key := "k\"; DROP TABLE t; --" + strings.Repeat("x", 100)
	_, _, err := always.SQL(map[string]string{key: "a b"})
	if err == nil || strings.Contains(err.Error(), "xxxxxxxxxx"+"xxxxxxxxxx") || !strings.Contains(err.Error(), `property "k\"; DROP TABLE t; --xxxxxxxxxxxx"… is not`) {
		t.Fatalf("hostile key: %v", err)
	}
	// An unmapped property and a residue are still reported as before.
	if _, _, err := cond.SQL(map[string]string{"ownerId": "owner_id"}); err == nil || errors.As(err, new(*snapshot.ColumnError)) {
		t.Fatalf("unmapped: %v", err)
	}
}

func mustJSON(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// TestPlanAgreesWithCheck is the property: for random subjects, actions
// and records, Plan's filter selects exactly the records Check allows.
func TestPlanAgreesWithCheck(t *testing.T) {
	s := planTenant(t)
	r := rand.New(rand.NewPCG(42, 7))
	ids := []string{"u1", "u2", "s1", "zz", ""}
	units := []string{"", "/ca", "/ca/ab", "/ca/ab/", "/ca/ab/calgary", "/ca/abc", "/us"}
	facs := []string{"", "f1", "f2", "f9", "f3"}
	comps := []string{"", "acme", "globex", "initech", "other"}
	statuses := []any{nil, "open", "new", "closed", "draft", 3}
	amounts := []any{nil, 10, 999.5, 1000, 1000.0, 4999, 5000, int64(20000), "12", true}
	modules := []string{"workorders", "assets", "invoices", "purchaseorders", "projects", "reports", "unknown"}
	actionsList := []string{"view", "view", "edit", "approve", "delete", "archive"}
	pickIDs := func() []string {
		var out []string
		for i := r.IntN(3); i > 0; i-- {
			out = append(out, ids[r.IntN(len(ids))])
		}
		return out
	}
	checked, allowed := 0, 0
	for i := 0; i < 3000; i++ {
		sub := snapshot.Subject{ID: ids[r.IntN(len(ids)-1)]}
		if r.IntN(5) == 0 {
			sub.Unit, sub.Company = units[r.IntN(len(units))], comps[r.IntN(len(comps))]
			sub.Properties = map[string]any{"limit": amounts[r.IntN(len(amounts))]}
		}
		action, module := actionsList[r.IntN(len(actionsList))], modules[r.IntN(len(modules))]
		plan := s.Plan(sub, action, module)
		for j := 0; j < 10; j++ {
			res := snapshot.Resource{Type: module, ID: fmt.Sprint(j), OwnerID: ids[r.IntN(len(ids))], AssigneeIDs: pickIDs(),
				ProjectContacts: pickIDs(), Unit: units[r.IntN(len(units))], FacilityID: facs[r.IntN(len(facs))],
				CompanyID: comps[r.IntN(len(comps))], Properties: map[string]any{}}
			// Bias records towards the subject so both answers are common.
			if r.IntN(3) == 0 {
				res.OwnerID = sub.ID
			}
			if r.IntN(3) == 0 {
				res.AssigneeIDs = append(res.AssigneeIDs, sub.ID)
			}
			if v := statuses[r.IntN(len(statuses))]; v != nil {
				res.Properties["status"] = v
			}
			if v := amounts[r.IntN(len(amounts))]; v != nil {
				res.Properties["amount"] = v
			}
			d := s.Check(&snapshot.Request{Subject: sub, Action: action, Resource: res})
			if got := plan.Matches(res); got != d.Allowed {
				t.Fatalf("subject %+v %s %s record %+v: check %+v, plan %v (%s)", sub, action, module, res, d, got, mustJSON(plan))
			}
			checked++
			if d.Allowed {
				allowed++
			}
		}
	}
	// The property is only meaningful if both answers occur often.
	if allowed < checked/20 || allowed > checked*19/20 {
		t.Fatalf("degenerate sample: %d of %d allowed", allowed, checked)
	}
}
