package sqltest

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/pgtest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/tenantgen"
)

// columns maps every property a plan can filter on to the records table.
var columns = map[string]string{
	"id": "id", "ownerId": "owner_id", "assigneeIds": "assignee_ids", "projectContacts": "contacts",
	"unit": "unit_path", "facilityId": "facility_id", "companyId": "company_id",
	"amount": "amount", "status": "status", "code": "code", "urgent": "urgent", "priority": "priority", "reviewer": "reviewer",
}

// The table: one column per property, lists as text[]. code is compared
// with < and >=, so it is declared COLLATE "C" (byte order, as Check
// compares strings); the database is initialised with the C locale too.
const schema = `CREATE TABLE records (
	tenant text NOT NULL, module text NOT NULL, id text NOT NULL,
	owner_id text, assignee_ids text[], contacts text[], unit_path text, facility_id text, company_id text,
	amount numeric, status text, code text COLLATE "C", urgent boolean, priority integer, reviewer text,
	PRIMARY KEY (tenant, module, id))`

// extraUnits are record units beyond the generated tree: trailing slashes,
// sibling prefixes and the LIKE metacharacters of the unit filter.
var extraUnits = []string{"/ca/r1/", "/ca/r10", "/ca/r1x/site1", "/", "/mx/a_b%c\\d", "/mx/a_b%c\\d/site1",
	"/mx/axb%c\\d/site1", "/mx/a_bxc\\d", "/mx/a_b%cxd/site1", "/mx/a_b%c\\d2", "/us/r2/site9/deep"}

func objName(tenant, name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Namespace: tenant, Name: name}
}

func perm(modules, actions string, scope string, when string) v1alpha1.Permission {
	p := v1alpha1.Permission{Scope: v1alpha1.Scope(scope), When: v1alpha1.CELExpression(when)}
	for _, m := range strings.Split(modules, ",") {
		p.Resources = append(p.Resources, v1alpha1.ModuleName(m))
	}
	for _, a := range strings.Split(actions, ",") {
		p.Actions = append(p.Actions, v1alpha1.ActionName(a))
	}
	return p
}

func objNames(xs ...string) []v1alpha1.ObjectName {
	out := make([]v1alpha1.ObjectName, len(xs))
	for i, x := range xs {
		out[i] = v1alpha1.ObjectName(x)
	}
	return out
}

func members(users []tenantgen.User) []v1alpha1.SubjectID {
	out := make([]v1alpha1.SubjectID, len(users))
	for i, u := range users {
		out[i] = v1alpha1.SubjectID(u.ID)
	}
	return out
}

// extraObjects adds what the generated tenant lacks for coverage: roles
// whose conditions translate (every comparison operator, in-lists, a bare
// boolean, subject values folded in, resource.id), in every scope, and
// groups with restrictions, one of them with a unit holding LIKE's
// metacharacters.
func extraObjects(m *tenantgen.Model, objs *tenantgen.Objects) {
	t := m.Tenant
	roles := []v1alpha1.Role{
		{ObjectMeta: objName(t, "pg-amount"), Spec: v1alpha1.RoleSpec{Permissions: []v1alpha1.Permission{
			perm("purchaseorders,invoices", "view,approve", "all", "resource.properties.amount >= 2000 && resource.properties.amount <= 8000.5"),
			perm("invoices", "edit", "company", "resource.properties.amount > 500 || 100 > resource.properties.amount"),
		}}},
		{ObjectMeta: objName(t, "pg-status"), Spec: v1alpha1.RoleSpec{Permissions: []v1alpha1.Permission{
			perm("workorders", "edit,assign", "facility", "resource.properties.status in ['open', 'new', 'on_hold']"),
			perm("contracts", "view", "own", "resource.properties.status == 'closed'"),
		}}},
		{ObjectMeta: objName(t, "pg-urgent"), Spec: v1alpha1.RoleSpec{Permissions: []v1alpha1.Permission{
			perm("workorders,requests", "view,share", "unit", "resource.properties.urgent"),
			perm("assets", "edit,export", "unitTree", "resource.properties.urgent == false"),
		}}},
		{ObjectMeta: objName(t, "pg-code"), Spec: v1alpha1.RoleSpec{Permissions: []v1alpha1.Permission{
			perm("documents", "view,comment", "company", "resource.properties.code < 'M' || resource.properties.code >= 'x'"),
		}}},
		{ObjectMeta: objName(t, "pg-limit"), Spec: v1alpha1.RoleSpec{Permissions: []v1alpha1.Permission{
			perm("purchaseorders", "approve,edit", "ownOrAssigned", "resource.properties.amount < subject.properties.limit"),
		}}},
		{ObjectMeta: objName(t, "pg-priority"), Spec: v1alpha1.RoleSpec{Permissions: []v1alpha1.Permission{
			perm("schedules,quotes", "view,edit", "contact", "resource.properties.priority > 1 && 4 >= resource.properties.priority"),
			perm("schedules", "export", "assigned", "resource.properties.priority < 2 || resource.properties.priority in [4, 5]"),
		}}},
		{ObjectMeta: objName(t, "pg-reviewer"), Spec: v1alpha1.RoleSpec{Permissions: []v1alpha1.Permission{
			perm("quotes", "approve,share", "all", "resource.properties.reviewer == subject.id || resource.id in ['quotes-1', 'quotes-2', 'quotes-3']"),
			perm("meters,checklists", "view,edit", "unitTree", ""),
			perm("meters", "delete", "unit", ""),
			perm("checklists", "delete", "facility", "resource.properties.urgent && resource.properties.amount < 6000"),
		}}},
	}
	objs.Roles = append(objs.Roles, roles...)
	all := []string{"pg-amount", "pg-status", "pg-urgent", "pg-code", "pg-limit", "pg-priority", "pg-reviewer"}
	attrs := func(unit, company string, facs ...string) map[string]v1alpha1.AttributeValue {
		return map[string]v1alpha1.AttributeValue{"unit": v1alpha1.StringAttribute(unit),
			"company": v1alpha1.StringAttribute(company), "facilities": v1alpha1.ListAttribute(facs...)}
	}
	groups := []v1alpha1.UserGroup{
		{ObjectMeta: objName(t, "pg-cond"), Spec: v1alpha1.UserGroupSpec{Roles: objNames(all...),
			Members: members(m.Users[0:20]), Attributes: attrs("/ca/r1", "acme", "fac-01", "fac-02")}},
		{ObjectMeta: objName(t, "pg-restricted"), Spec: v1alpha1.UserGroupSpec{
			Roles:   objNames("pg-amount", "pg-status", "pg-urgent", "pg-reviewer", "technician", "view-only"),
			Members: members(m.Users[20:35]), Attributes: attrs("/us/r2", "supplier-07", "fac-07"),
			Restrictions: []v1alpha1.Restriction{
				{Resources: []v1alpha1.ModuleName{"purchaseorders", "invoices"}, Scope: "ownOrAssigned"},
				{Resources: []v1alpha1.ModuleName{"workorders", "meters"}, Scope: "unitTree"},
				{Resources: []v1alpha1.ModuleName{"documents", "assets"}, Scope: "facility"},
				{Resources: []v1alpha1.ModuleName{"checklists"}, Scope: "company"},
			}}},
		{ObjectMeta: objName(t, "pg-like"), Spec: v1alpha1.UserGroupSpec{
			Roles:   objNames("pg-urgent", "pg-reviewer", "administrator"),
			Members: members(m.Users[35:45]), Attributes: attrs("/mx/a_b%c\\d", "acme", "fac-03"),
			Restrictions: []v1alpha1.Restriction{
				{Resources: []v1alpha1.ModuleName{"workorders", "locations"}, Scope: "unitTree"},
				{Resources: []v1alpha1.ModuleName{"projects"}, Scope: "contact"},
			}}},
	}
	objs.Groups = append(objs.Groups, groups...)
}

type tenant struct {
	name    string
	model   *tenantgen.Model
	snap    *snapshot.Snapshot
	records map[string][]snapshot.Resource // by module
	// restricted: subject ID -> modules a group of theirs restricts.
	restricted map[string]map[string]bool
	subjects   []snapshot.Subject
}

func newTenant(t *testing.T, i int, perTenant int) *tenant {
	name := fmt.Sprintf("pg-tenant-%d", i)
	m := tenantgen.Generate(tenantgen.Config{Seed: uint64(100 + i), Tenant: name, Users: 300, Roles: 40, Groups: 60,
		FieldPolicies: 1, SecondGroupPercent: 25})
	o := m.Objects()
	extraObjects(m, &o)
	s, probs := snapshot.Compile(name, snapshot.Objects(o))
	if len(probs) > 0 {
		t.Fatalf("tenant %s: %v", name, probs)
	}
	tn := &tenant{name: name, model: m, snap: s, records: map[string][]snapshot.Resource{}, restricted: map[string]map[string]bool{}}
	for _, g := range o.Groups {
		for _, mem := range g.Spec.Members {
			for _, r := range g.Spec.Restrictions {
				for _, mod := range r.Resources {
					if tn.restricted[string(mem)] == nil {
						tn.restricted[string(mem)] = map[string]bool{}
					}
					tn.restricted[string(mem)][string(mod)] = true
				}
			}
		}
	}
	r := rand.New(rand.NewPCG(uint64(i), 0xda7a))

	// Subjects: the members of the extra groups, random users (with and
	// without a limit and extra companies in the request), holders of an
	// IdP group only, and an unknown subject.
	for _, u := range m.Users[:45] {
		tn.subjects = append(tn.subjects, snapshot.Subject{ID: u.ID})
	}
	for k := 0; k < 15; k++ {
		u := m.Users[45+r.IntN(len(m.Users)-45)]
		sub := snapshot.Subject{ID: u.ID}
		if k%3 == 0 {
			sub.Companies = []string{fmt.Sprintf("supplier-%02d", r.IntN(40)), "acme"}
		}
		tn.subjects = append(tn.subjects, sub)
	}
	for k := range tn.subjects {
		if k%2 == 0 { // the others leave pg-limit's condition false
			tn.subjects[k].Properties = map[string]any{"limit": []any{1500, 4000.5, int64(9000)}[k%3]}
		}
	}
	ext := 0
	for _, g := range m.Groups {
		if len(g.ExternalGroups) > 0 && ext < 3 {
			tn.subjects = append(tn.subjects, snapshot.Subject{ID: fmt.Sprintf("ext-%d", ext), Groups: g.ExternalGroups})
			ext++
		}
	}
	tn.subjects = append(tn.subjects, snapshot.Subject{ID: "nobody-known"})

	// Records, biased towards the subjects so both answers are common.
	units := append(slices.Clone(m.Units), extraUnits...)
	pickUser := func() string {
		if r.IntN(2) == 0 {
			return tn.subjects[r.IntN(len(tn.subjects))].ID
		}
		return m.Users[r.IntN(len(m.Users))].ID
	}
	pickUsers := func() []string {
		switch r.IntN(5) {
		case 0:
			return nil
		case 1:
			return []string{}
		}
		out := make([]string, 1+r.IntN(3))
		for k := range out {
			out[k] = pickUser()
		}
		return out
	}
	statuses := []string{"open", "new", "on_hold", "closed", "draft", "Open", "on hold"}
	codes := []string{"Alpha", "alpha", "Mike", "mike", "M", "L", "Lima", "x", "x-ray", "X-ray", "Zulu", "zulu", "éclair", "Éclair", "", "wz"}
	for n := 0; n < perTenant; n++ {
		mod := tenantgen.Modules[n%len(tenantgen.Modules)]
		res := snapshot.Resource{Type: mod, ID: fmt.Sprintf("%s-%d", mod, n/len(tenantgen.Modules)),
			Properties: map[string]any{}}
		if r.IntN(20) != 0 {
			res.OwnerID = pickUser()
		}
		res.AssigneeIDs = pickUsers()
		res.ProjectContacts = pickUsers()
		if r.IntN(20) != 0 {
			res.Unit = units[r.IntN(len(units))]
		}
		if r.IntN(20) != 0 {
			res.FacilityID = fmt.Sprintf("fac-%02d", r.IntN(12))
		}
		switch x := r.IntN(20); {
		case x < 10:
			res.CompanyID = "acme"
		case x < 18:
			res.CompanyID = fmt.Sprintf("supplier-%02d", r.IntN(40))
		case x < 19:
			res.CompanyID = "other"
		}
		if r.IntN(10) != 0 {
			a := float64(r.IntN(12000))
			if r.IntN(4) == 0 {
				a += 0.5
			}
			switch r.IntN(30) { // the bounds of the conditions
			case 0:
				a = 2000
			case 1:
				a = 8000.5
			case 2:
				a = 500
			case 3:
				a = 100
			case 4:
				a = 4000.5
			}
			res.Properties["amount"] = a
		}
		if r.IntN(10) != 0 {
			res.Properties["status"] = statuses[r.IntN(len(statuses))]
		}
		if r.IntN(10) != 0 {
			res.Properties["code"] = codes[r.IntN(len(codes))]
		}
		if r.IntN(10) != 0 {
			res.Properties["urgent"] = r.IntN(2) == 0
		}
		if r.IntN(10) != 0 {
			res.Properties["priority"] = int64(r.IntN(6))
		}
		if r.IntN(3) == 0 {
			res.Properties["reviewer"] = pickUser()
		}
		tn.records[mod] = append(tn.records[mod], res)
	}
	return tn
}

func nullable(s string) any {
	if s == "" {
		return nil
	}
	return s
}

func load(ctx context.Context, t *testing.T, conn *pgx.Conn, tn *tenant) int {
	var rows [][]any
	for _, mod := range tenantgen.Modules {
		for _, res := range tn.records[mod] {
			p := res.Properties
			rows = append(rows, []any{tn.name, mod, res.ID, nullable(res.OwnerID), res.AssigneeIDs, res.ProjectContacts,
				nullable(res.Unit), nullable(res.FacilityID), nullable(res.CompanyID),
				p["amount"], p["status"], p["code"], p["urgent"], p["priority"], p["reviewer"]})
		}
	}
	n, err := conn.CopyFrom(ctx, pgx.Identifier{"records"}, []string{"tenant", "module", "id", "owner_id", "assignee_ids", "contacts",
		"unit_path", "facility_id", "company_id", "amount", "status", "code", "urgent", "priority", "reviewer"}, pgx.CopyFromRows(rows))
	if err != nil {
		t.Fatalf("loading %s: %v", tn.name, err)
	}
	return int(n)
}

// A style renders a plan and wraps it in the tenant and module filter.
type style struct {
	name  string
	query func(p snapshot.Plan, tenant, module string) (string, []any, error)
}

var styles = []style{
	{"$n after 2 arguments", func(p snapshot.Plan, tenant, module string) (string, []any, error) {
		where, args, err := p.SQL(columns, snapshot.SQLArgOffset(2))
		q := "SELECT id FROM records WHERE tenant = $1 AND module = $2 AND (" + where + ")"
		return q, append([]any{tenant, module}, args...), err
	}},
	{"$n first, offset 0", func(p snapshot.Plan, tenant, module string) (string, []any, error) {
		where, args, err := p.SQL(columns)
		n := len(args)
		q := fmt.Sprintf("SELECT id FROM records WHERE (%s) AND tenant = $%d AND module = $%d", where, n+1, n+2)
		return q, append(args, tenant, module), err
	}},
	// pgx's named arguments: the caller's placeholder function, numbered
	// after three arguments of its own.
	{"@pN named after 3 arguments", func(p snapshot.Plan, tenant, module string) (string, []any, error) {
		where, args, err := p.SQL(columns, snapshot.SQLPlaceholder(func(n int) string { return "@p" + strconv.Itoa(n) }), snapshot.SQLArgOffset(3))
		q := "SELECT id FROM records WHERE tenant = @p1 AND module = @p2 AND @p3::boolean AND (" + where + ")"
		named := pgx.NamedArgs{"p1": tenant, "p2": module, "p3": true}
		for i, a := range args {
			named["p"+strconv.Itoa(i+4)] = a
		}
		return q, []any{named}, err
	}},
	// Positional ? (MySQL, database/sql drivers): PostgreSQL has no such
	// placeholder, so they are numbered in order, as such a driver binds
	// them. The fragment holds no other '?' (columns are identifiers,
	// values are placeholders).
	{"? positional", func(p snapshot.Plan, tenant, module string) (string, []any, error) {
		where, args, err := p.SQL(columns, snapshot.SQLPlaceholder(func(int) string { return "?" }), snapshot.SQLArgOffset(7))
		q := "SELECT id FROM records WHERE tenant = ? AND module = ? AND (" + where + ")"
		all := append([]any{tenant, module}, args...)
		parts := strings.Split(q, "?")
		if len(parts)-1 != len(all) {
			return "", nil, fmt.Errorf("%d '?' for %d arguments in %s", len(parts)-1, len(all), q)
		}
		var sb strings.Builder
		for i, s := range parts {
			if i > 0 {
				sb.WriteString("$" + strconv.Itoa(i))
			}
			sb.WriteString(s)
		}
		return sb.String(), all, err
	}},
}

// coverage names what a filter exercises: the scope it comes from or the
// operator of a condition.
func coverage(f *snapshot.Filter, seen map[string]int) {
	switch f.Op {
	case snapshot.OpAnd, snapshot.OpOr:
		seen[f.Op]++
		for _, k := range f.Children {
			coverage(k, seen)
		}
		return
	}
	key := f.Op + " " + f.Property
	switch key {
	case "eq ownerId":
		key = "scope own"
	case "contains assigneeIds":
		key = "scope assigned"
	case "contains projectContacts":
		key = "scope contact"
	case "eq unit":
		key = "scope unit"
	case "under unit":
		key = "scope unitTree"
	case "in facilityId":
		key = "scope facility"
	case "in companyId":
		key = "scope company"
	}
	seen[key]++
}

// TestPlanSQLOnPostgres runs every plan's WHERE fragment on PostgreSQL
// and checks it selects exactly the records Check allows: several
// generated tenants, thousands of records, every scope, restriction and
// translatable condition, four placeholder styles and argument offsets.
func TestPlanSQLOnPostgres(t *testing.T) {
	start := time.Now()
	srv := pgtest.Start(t)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	conn, err := pgx.Connect(ctx, srv.DSN)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close(context.Background()) }()
	if _, err := conn.Exec(ctx, schema); err != nil {
		t.Fatal(err)
	}
	startup := time.Since(start)

	const tenants, perTenant = 3, 4000
	var ts []*tenant
	nrecords := 0
	for i := 0; i < tenants; i++ {
		tn := newTenant(t, i, perTenant)
		nrecords += load(ctx, t, conn, tn)
		ts = append(ts, tn)
	}
	if _, err := conn.Exec(ctx, "ANALYZE records"); err != nil {
		t.Fatal(err)
	}

	type pending struct {
		tn          *tenant
		sub         snapshot.Subject
		action, mod string
		style       string
		sql         string
		want        []string
		plan        snapshot.Plan
		got         []string
	}
	var (
		plans, comparisons, queries, allowed, checks int
		kinds                                        = map[snapshot.PlanKind]int{}
		seen                                         = map[string]int{}
		restrictedPlans, partialPlans, residues      int
		batch                                        = &pgx.Batch{}
		queued                                       []*pending
		mismatches                                   int
	)
	flush := func() {
		if len(queued) == 0 {
			return
		}
		if err := conn.SendBatch(ctx, batch).Close(); err != nil {
			t.Fatalf("batch: %v", err)
		}
		for _, q := range queued {
			comparisons++
			if !slices.Equal(q.got, q.want) {
				mismatches++
				if mismatches <= 5 {
					extra, missing := diff(q.got, q.want)
					t.Errorf("%s %+v %s %s (%s): SQL selects %d records, Check allows %d; SQL only %v, Check only %v\nsql: %s\nfilter: %s",
						q.tn.name, q.sub, q.action, q.mod, q.style, len(q.got), len(q.want), extra, missing, q.sql, mustJSON(q.plan.Filter))
				}
			}
		}
		batch, queued = &pgx.Batch{}, nil
	}

	for _, tn := range ts {
		for _, sub := range tn.subjects {
			for _, mod := range tenantgen.Modules {
				for _, action := range tenantgen.Actions {
					p := tn.snap.Plan(sub, action, mod)
					plans++
					kinds[p.Kind]++
					var want []string
					for _, res := range tn.records[mod] {
						checks++
						if tn.snap.Check(&snapshot.Request{Subject: sub, Action: action, Resource: res}).Allowed {
							want = append(want, res.ID)
						}
					}
					slices.Sort(want)
					allowed += len(want)
					switch p.Kind {
					case snapshot.PlanAlways, snapshot.PlanNever:
						// TRUE or FALSE: no need for the database.
						where, args, err := p.SQL(columns)
						exp, n := "TRUE", len(tn.records[mod])
						if p.Kind == snapshot.PlanNever {
							exp, n = "FALSE", 0
						}
						comparisons++
						if err != nil || where != exp || args != nil || len(want) != n {
							mismatches++
							t.Errorf("%s %+v %s %s: %s plan renders %q %v %v; Check allows %d of %d", tn.name, sub, action, mod,
								p.Kind, where, args, err, len(want), len(tn.records[mod]))
						}
						if p.Kind == snapshot.PlanAlways {
							seen["scope all"]++
						}
						continue
					}
					if _, _, err := p.SQL(columns); err != nil && strings.Contains(err.Error(), "cannot be translated to SQL") {
						// A CEL residue (pg-limit for a subject without a
						// limit): the application filters with Matches.
						residues++
						comparisons++
						var got []string
						for _, res := range tn.records[mod] {
							if p.Matches(res) {
								got = append(got, res.ID)
							}
						}
						slices.Sort(got)
						if !slices.Equal(got, want) {
							mismatches++
							t.Errorf("%s %+v %s %s: Matches selects %d records, Check allows %d", tn.name, sub, action, mod, len(got), len(want))
						}
						continue
					}
					coverage(p.Filter, seen)
					if tn.restricted[sub.ID][mod] {
						restrictedPlans++
					}
					if len(want) > 0 && len(want) < len(tn.records[mod]) {
						partialPlans++
					}
					for _, st := range styles {
						q, args, err := st.query(p, tn.name, mod)
						if err != nil {
							t.Fatalf("%s %+v %s %s (%s): %v; filter %s", tn.name, sub, action, mod, st.name, err, mustJSON(p.Filter))
						}
						pd := &pending{tn: tn, sub: sub, action: action, mod: mod, style: st.name, sql: q, want: want, plan: p, got: []string{}}
						batch.Queue(q, args...).Query(func(rows pgx.Rows) error {
							ids, err := pgx.CollectRows(rows, pgx.RowTo[string])
							if err != nil {
								return fmt.Errorf("%s: %w", q, err)
							}
							slices.Sort(ids)
							pd.got = append(pd.got, ids...)
							return nil
						})
						queued = append(queued, pd)
						queries++
					}
					if len(queued) >= 400 {
						flush()
					}
				}
			}
		}
	}
	flush()
	elapsed := time.Since(start)
	t.Logf("%s on 127.0.0.1:%d (startup %s)", srv.Version, srv.Port, startup.Round(time.Millisecond))
	t.Logf("%d tenants, %d records, %d plans (always %d, never %d, conditional %d), %d Check calls (%d allowed), %d SQL queries in %d styles, %d comparisons, %d mismatches, %s",
		tenants, nrecords, plans, kinds[snapshot.PlanAlways], kinds[snapshot.PlanNever], kinds[snapshot.PlanConditional],
		checks, allowed, queries, len(styles), comparisons, mismatches, elapsed.Round(time.Millisecond))
	t.Logf("conditional plans: %d restricted, %d selecting some but not all records, %d with a CEL residue (compared with Plan.Matches); filter coverage %v",
		restrictedPlans, partialPlans, residues, seen)

	// The comparison only proves something if it covered every scope,
	// operator and restriction, with mixed answers.
	if nrecords < 10000 {
		t.Errorf("only %d records", nrecords)
	}
	for _, k := range []string{"scope all", "scope own", "scope assigned", "scope contact", "scope unit", "scope unitTree",
		"scope facility", "scope company", "and", "or",
		"lt amount", "le amount", "gt amount", "ge amount", "in status", "eq status", "lt code", "ge code",
		"eq urgent", "gt priority", "le priority", "lt priority", "in priority", "eq reviewer", "in id"} {
		if seen[k] == 0 {
			t.Errorf("no conditional plan used %q", k)
		}
	}
	if kinds[snapshot.PlanAlways] == 0 || kinds[snapshot.PlanNever] == 0 || kinds[snapshot.PlanConditional] < 1000 {
		t.Errorf("plan kinds %v", kinds)
	}
	if restrictedPlans < 100 || partialPlans < 1000 {
		t.Errorf("%d restricted and %d partial conditional plans: too few", restrictedPlans, partialPlans)
	}
}

func diff(got, want []string) (extra, missing []string) {
	for _, g := range got {
		if _, ok := slices.BinarySearch(want, g); !ok {
			extra = append(extra, g)
		}
	}
	for _, w := range want {
		if _, ok := slices.BinarySearch(got, w); !ok {
			missing = append(missing, w)
		}
	}
	const limit = 5
	if len(extra) > limit {
		extra = extra[:limit]
	}
	if len(missing) > limit {
		missing = missing[:limit]
	}
	return extra, missing
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		return err.Error()
	}
	return string(b)
}
