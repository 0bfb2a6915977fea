package cli

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

const samples = "../../config/samples"

// run runs the command line in-process.
func run(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errb bytes.Buffer
	code = Run(args, strings.NewReader(stdin), &out, &errb)
	return out.String(), errb.String(), code
}

// goldenCases cover every command's output; regenerate with
// go test ./internal/cli -update and review the diff by eye.
var goldenCases = []struct {
	name  string
	args  []string
	stdin string
	code  int
}{
	{"compile_samples", []string{"compile", "-f", samples}, "", 0},
	{"compile_samples_json", []string{"compile", "-f", samples, "-o", "json"}, "", 0},
	{"compile_problems", []string{"compile", "-f", "testdata/problems"}, "", 1},
	{"compile_stdin", []string{"compile", "-f", "-", "--tenant", "piped"}, "apiVersion: access.gatehouse.dev/v1alpha1\nkind: Role\nmetadata: {name: r}\nspec:\n  permissions:\n  - {resources: [a], actions: [view], scope: nearby}\n", 1},
	{"compile_unknown_field", []string{"compile", "-f", "testdata/bad/unknown.yaml"}, "", 2},
	{"compile_bad_yaml", []string{"compile", "-f", "testdata/bad/syntax.yaml"}, "", 2},
	{"compile_missing_file", []string{"compile", "-f", "testdata/nope"}, "", 2},
	{"compile_no_files", []string{"compile"}, "", 2},
	{"test_samples", []string{"test", "-f", samples, samples + "/tests", "-v"}, "", 0},
	{"test_failures", []string{"test", "-f", samples, "testdata/failing_test.yaml"}, "", 1},
	{"test_invalid", []string{"test", "-f", samples, "testdata/invalid_test.yaml"}, "", 2},
	{"check_allowed", []string{"check", "-f", samples, "--subject", "tom.tech", "--action", "edit", "--resource", "workorders/42", "--prop", "unit=/ca/ab/calgary/north", "--explain"}, "", 0},
	{"check_denied", []string{"check", "-f", samples, "--tenant", "acme-field-services", "--subject", "sue.supplier", "--action", "view", "--resource", "purchaseorders/7", "--prop", "companyId=globex-valves", "--subject-prop", "company=globex-valves"}, "", 1},
	{"check_unknown_explain", []string{"check", "-f", samples, "--subject", "nobody.here", "--action", "view", "--resource", "workorders/7", "--explain"}, "", 1},
	{"check_external_group_json", []string{"check", "-f", samples, "--subject", "alice", "--group", "acme-staff", "--action", "view", "--resource", "workorders/7", "--prop", "ownerId=alice", "-o", "json"}, "", 0},
	{"check_missing_flags", []string{"check", "-f", samples, "--subject", "tom.tech"}, "", 2},
	{"check_unknown_tenant", []string{"check", "-f", samples, "--tenant", "globex", "--subject", "tom.tech", "--action", "view", "--resource", "workorders"}, "", 2},
	{"who_can", []string{"who-can", "-f", samples, "edit", "workorders/42", "--prop", "unit=/ca/ab/calgary", "--prop", "ownerId=bea.billing"}, "", 0},
	{"who_can_approve", []string{"who-can", "-f", samples, "approve", "purchaseorders", "--prop", "unit=/ca/bc", "--prop", "amount=3000"}, "", 0},
	{"can_i_list", []string{"can-i-list", "-f", samples, "--subject", "alex.apprentice", "view", "workorders"}, "", 0},
	{"can_i_list_sql", []string{"can-i-list", "-f", samples, "--subject", "tom.tech", "create", "purchaseorders", "--sql", "--column", "amount=amount_cents"}, "", 0},
	{"can_i_list_never", []string{"can-i-list", "-f", samples, "--subject", "vic.viewer", "edit", "workorders"}, "", 0},
	{"can_i_list_sql_unmapped", []string{"can-i-list", "-f", samples, "--subject", "sue.supplier", "view", "purchaseorders", "--sql"}, "", 1},
	{"matrix_text", []string{"matrix", "-f", samples}, "", 0},
	{"matrix_csv", []string{"matrix", "-f", samples, "--format", "csv"}, "", 0},
	{"matrix_markdown", []string{"matrix", "-f", samples, "--format", "markdown"}, "", 0},
	{"diff_text", []string{"diff", samples, "testdata/diff-new"}, "", 0},
	{"diff_markdown", []string{"diff", samples, "testdata/diff-new", "--format", "markdown"}, "", 0},
	{"diff_none", []string{"diff", samples, samples}, "", 0},
	{"diff_tenant_added", []string{"diff", "testdata/problems/ok.yaml", "testdata/problems"}, "", 0},
	{"bad_output", []string{"compile", "-f", samples, "-o", "xml"}, "", 2},
	{"unknown_command", []string{"frobnicate"}, "", 2},
	{"unknown_flag", []string{"compile", "--frobnicate"}, "", 2},
	{"wrong_args", []string{"who-can", "-f", samples, "edit"}, "", 2},
	{"help", []string{"--help"}, "", 0},
	{"help_test", []string{"test", "--help"}, "", 0},
}

func TestGolden(t *testing.T) {
	for _, c := range goldenCases {
		t.Run(c.name, func(t *testing.T) {
			stdout, stderr, code := run(t, c.stdin, c.args...)
			if code != c.code {
				t.Errorf("exit code %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, stdout, stderr)
			}
			got := "$ gatehouse " + strings.Join(c.args, " ") + "\n" + stdout
			if stderr != "" {
				got += "--- stderr\n" + stderr
			}
			golden(t, c.name, got)
		})
	}
}

// golden compares got with testdata/NAME.golden (or rewrites it).
func golden(t *testing.T, name, got string) {
	t.Helper()
	path := filepath.Join("testdata", name+".golden")
	if *update {
		if err := os.WriteFile(path, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./internal/cli -update)", err)
	}
	if string(want) != got {
		t.Errorf("output differs from %s (run go test ./internal/cli -update and review):\n--- want\n%s\n--- got\n%s", path, want, got)
	}
}

// TestSamplesPolicy runs the samples' policy tests: make test fails when the
// samples stop behaving as config/samples/tests says.
func TestSamplesPolicy(t *testing.T) {
	stdout, stderr, code := run(t, "", "test", "-f", samples, samples+"/tests")
	if code != 0 || stderr != "" {
		t.Fatalf("gatehouse test: exit %d\n%s%s", code, stdout, stderr)
	}
	if !strings.HasSuffix(stdout, " passed, 0 failed\n") {
		t.Errorf("last line: %q", stdout)
	}
}

// decode runs a command with -o json and decodes its output.
func decode(t *testing.T, v any, wantCode int, args ...string) {
	t.Helper()
	stdout, stderr, code := run(t, "", append(args, "-o", "json")...)
	if code != wantCode {
		t.Fatalf("%v: exit %d, want %d\n%s%s", args, code, wantCode, stdout, stderr)
	}
	if err := json.Unmarshal([]byte(stdout), v); err != nil {
		t.Fatalf("%v: %v\n%s", args, err, stdout)
	}
}

// TestCheckDecisions asserts decisions of the samples explicitly, from
// docs/semantics.md, independently of the goldens.
func TestCheckDecisions(t *testing.T) {
	cases := []struct {
		name    string
		args    []string
		allowed bool
		reason  string
		role    string
	}{
		{"technician in unit tree", []string{"--subject", "tom.tech", "--action", "edit", "--resource", "workorders/1", "--prop", "unit=/ca/ab/calgary/north"}, true, "Allowed", "technician"},
		{"unit path boundary", []string{"--subject", "tom.tech", "--action", "edit", "--resource", "workorders/1", "--prop", "unit=/ca/ab/calgaryeast"}, false, "ScopeNotMatched", ""},
		{"amount condition as number", []string{"--subject", "tom.tech", "--action", "create", "--resource", "purchaseorders", "--prop", "amount=5001"}, false, "ConditionFalse", ""},
		{"amount under limit", []string{"--subject", "tom.tech", "--action", "create", "--resource", "purchaseorders", "--prop", "amount=4999.5"}, true, "Allowed", "technician"},
		{"assigned limited technician", []string{"--subject", "alex.apprentice", "--action", "edit", "--resource", "workorders/1", "--prop", "unit=/ca/on", "--prop", "assigneeIds=tom.tech,alex.apprentice"}, true, "Allowed", "limited-technician"},
		{"supplier restricted", []string{"--subject", "sue.supplier", "--action", "view", "--resource", "purchaseorders/1", "--prop", "companyId=globex"}, false, "Restricted", ""},
		{"supplier own company", []string{"--subject", "sue.supplier", "--action", "view", "--resource", "purchaseorders/1", "--prop", "companyId=northern-pipe-supply"}, true, "Allowed", "supplier"},
		{"external admin group", []string{"--subject", "ivy", "--group", "acme-admins", "--action", "purge", "--resource", "anything/1"}, true, "Allowed", "administrator"},
		{"unknown subject", []string{"--subject", "ivy", "--action", "view", "--resource", "workorders/1"}, false, "UnknownSubject", ""},
		{"requester own", []string{"--subject", "bob", "--group", "acme-staff", "--action", "view", "--resource", "workorders/1", "--prop", "ownerId=bob"}, true, "Allowed", "requester"},
		{"requester other", []string{"--subject", "bob", "--group", "acme-staff", "--action", "view", "--resource", "workorders/1", "--prop", "ownerId=alice"}, false, "ScopeNotMatched", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out checkOutput
			code := 1
			if c.allowed {
				code = 0
			}
			decode(t, &out, code, append([]string{"check", "-f", samples}, c.args...)...)
			if out.Allowed != c.allowed || out.Reason != c.reason {
				t.Errorf("got allowed=%v reason=%s, want %v %s", out.Allowed, out.Reason, c.allowed, c.reason)
			}
			if c.role != "" && (out.Matched == nil || out.Matched.Role != c.role) {
				t.Errorf("matched %+v, want role %s", out.Matched, c.role)
			}
		})
	}
}

func TestMatrixCells(t *testing.T) {
	var out matrixOutput
	decode(t, &out, 0, "matrix", "-f", samples)
	cell := map[string]string{}
	for _, r := range out.Rows {
		for role, v := range r.Access {
			cell[r.Module+"/"+r.Action+"/"+role] = v
		}
	}
	want := map[string]string{
		"workorders/edit/administrator":         AccessFull,    // fullAccess
		"workorders/edit/technician":            AccessPartial, // unitTree
		"workorders/edit/limited-technician":    AccessPartial, // ownOrAssigned
		"workorders/create/limited-technician":  AccessFull,    // scope all
		"workorders/view/requester":             AccessPartial, // own
		"workorders/edit/view-only":             AccessNone,
		"purchaseorders/create/technician":      AccessPartial, // amount <= 5000
		"purchaseorders/view/supplier":          AccessFull,    // restrictions are not part of a role
		"purchaseorders/approve/billing-clerk":  AccessNone,
		"assets/view/technician":                AccessFull, // inherited from field-base
		"invoices/export/limited-administrator": AccessPartial,
	}
	for k, v := range want {
		if cell[k] != v {
			t.Errorf("%s = %q, want %q", k, cell[k], v)
		}
	}
	if len(out.Roles) != 9 {
		t.Errorf("roles = %v", out.Roles)
	}
}

func TestWhoCanAndPlan(t *testing.T) {
	var who whoCanOutput
	decode(t, &who, 0, "who-can", "-f", samples, "edit", "workorders/9", "--prop", "unit=/ca/ab/calgary")
	var got []string
	for _, g := range who.Subjects {
		got = append(got, g.Subject)
	}
	// Technicians, the supervisor and full access; not the apprentice (own or
	// assigned only), the auditor, billing or the supplier.
	if want := "dana.director sam.supervisor tina.tech tom.tech"; strings.Join(got, " ") != want {
		t.Errorf("who-can edit = %v, want %s", got, want)
	}

	var plan planOutput
	decode(t, &plan, 0, "can-i-list", "-f", samples, "--subject", "vic.viewer", "view", "purchaseorders")
	if plan.Plan.Kind != "always" {
		t.Errorf("vic.viewer view purchaseorders: %+v", plan.Plan)
	}
	decode(t, &plan, 0, "can-i-list", "-f", samples, "--subject", "sue.supplier", "view", "purchaseorders", "--sql", "--column", "companyId=company_id")
	if plan.Plan.Kind != "conditional" || plan.SQL != `"company_id" IN ($1)` || len(plan.Args) != 1 || plan.Args[0] != "northern-pipe-supply" {
		t.Errorf("sue.supplier plan: %+v", plan)
	}
	// A column that is not an SQL identifier is a usage error naming the
	// property, never pasted into SQL.
	_, stderr, code := run(t, "", "can-i-list", "-f", samples, "--subject", "sue.supplier", "view", "purchaseorders", "--sql", "--column", "companyId=id; DROP TABLE t")
	if code != ExitUsage || !strings.Contains(stderr, `"companyId"`) || strings.Contains(stderr, "DROP") {
		t.Errorf("bad column: exit %d, stderr %q", code, stderr)
	}
}

func TestDiffFacts(t *testing.T) {
	var out diffOutput
	decode(t, &out, 0, "diff", samples, "testdata/diff-new")
	if len(out.Tenants) != 1 {
		t.Fatalf("tenants: %+v", out.Tenants)
	}
	d := out.Tenants[0]
	found := map[string]bool{}
	for _, p := range d.Permissions {
		found[p.Change+" "+p.Action+" "+p.Resource+" "+p.Scope+" "+strings.Join(p.Subjects, ",")] = true
	}
	for _, f := range d.Fields {
		found[string(f.From)+"->"+string(f.To)+" "+f.Field+" "+strings.Join(f.Subjects, ",")] = true
	}
	for _, a := range d.Approvals {
		found[a.Change+" approver "+a.Step+" "+strings.Join(a.Subjects, ",")] = true
	}
	for _, want := range []string{
		"lost edit workorders unitTree tina.tech",            // removed from calgary-crew
		"lost edit workorders ownOrAssigned alex.apprentice", // limited-technician scope changed
		"read->hidden margin bea.billing",                    // billing clerk loses margin
		"gained approver director bea.billing",               // added to the director step
		"write->hidden status tina.tech",                     // in no group any more: no fields
	} {
		if !found[want] {
			t.Errorf("missing change %q in %v", want, found)
		}
	}
}

func TestDiffGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	if err := exec.Command("git", "rev-parse", "HEAD:config/samples/roles.yaml").Run(); err != nil {
		t.Skip("not in the gatehouse repository")
	}
	stdout, stderr, code := run(t, "", "diff", "git:HEAD:config/samples", "git:HEAD:config/samples")
	if code != 0 || stdout != "no access changes\n" {
		t.Errorf("git diff: exit %d\n%s%s", code, stdout, stderr)
	}
	_, stderr, code = run(t, "", "diff", "git:no-such-rev:config/samples", samples)
	if code != 2 || !strings.Contains(stderr, "no-such-rev") {
		t.Errorf("bad rev: exit %d %s", code, stderr)
	}
}

func TestImport(t *testing.T) {
	dir := t.TempDir()
	stdout, stderr, code := run(t, "", "import", "--users", "testdata/users.csv", "--out", dir, "--tenant", "acme-field-services")
	if code != 0 {
		t.Fatalf("exit %d: %s%s", code, stdout, stderr)
	}
	if !strings.Contains(stderr, `department "Calgary Crew"`) {
		t.Errorf("no note about the split department: %q", stderr)
	}
	data, err := os.ReadFile(filepath.Join(dir, "usergroups.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	golden(t, "import_usergroups", string(data))

	// The output is valid input: it compiles with the samples' roles.
	roles := filepath.Join(samples, "roles.yaml")
	var res compileResult
	decode(t, &res, 0, "compile", "-f", roles, "-f", dir, "--tenant", "acme-field-services")
	if res.Problems != 0 || res.Tenants[0].Counts.Groups != 6 || res.Tenants[0].Counts.Subjects != 7 {
		t.Errorf("imported groups: %+v", res)
	}
	// The apprentice keeps only the limited-technician role.
	var out checkOutput
	decode(t, &out, 1, "check", "-f", roles, "-f", dir, "--tenant", "acme-field-services",
		"--subject", "alex.apprentice", "--action", "edit", "--resource", "workorders/1", "--prop", "unit=/ca/ab/calgary")
	if out.Reason != "ScopeNotMatched" {
		t.Errorf("apprentice: %+v", out)
	}

	// Deterministic: a second run writes the same bytes.
	dir2 := t.TempDir()
	if _, _, code := run(t, "", "import", "--users", "testdata/users.csv", "--out", dir2, "--tenant", "acme-field-services"); code != 0 {
		t.Fatal("second import failed")
	}
	data2, _ := os.ReadFile(filepath.Join(dir2, "usergroups.yaml"))
	if !bytes.Equal(data, data2) {
		t.Error("import output is not deterministic")
	}
}

func TestImportErrors(t *testing.T) {
	cases := []struct{ csv, want string }{
		{"user,department\n,Ops\n", "-:2: user is empty"},
		{"user,team\nbob,Ops\n", `unknown column "team"`},
		{"user,unit\nbob,/ca\n", "column department is required"},
		{"user,department,unit\nbob,Ops,ca/ab\n", `-:2: unit "ca/ab" must be a path`},
		{"", "empty CSV"},
	}
	for _, c := range cases {
		_, stderr, code := run(t, c.csv, "import", "--users", "-", "--out", t.TempDir())
		if code != 2 || !strings.Contains(stderr, c.want) {
			t.Errorf("csv %q: exit %d, stderr %q, want %q", c.csv, code, stderr, c.want)
		}
	}
}

func TestCompletion(t *testing.T) {
	for _, shell := range []string{"bash", "zsh", "fish"} {
		stdout, stderr, code := run(t, "", "completion", shell)
		if code != 0 || !strings.Contains(stdout, "gatehouse") {
			t.Errorf("completion %s: exit %d %s", shell, code, stderr)
		}
	}
}

func TestParseProps(t *testing.T) {
	props, err := parseProps([]string{"ownerId=42", "assigneeIds=a, b", "amount=3000", "rate=1.5", "urgent=true", "approvals=supervisor:sam,director:dana", "note=x=y"})
	if err != nil {
		t.Fatal(err)
	}
	res, err := makeResource("purchaseorders", "1", props)
	if err != nil {
		t.Fatal(err)
	}
	if res.OwnerID != "42" || strings.Join(res.AssigneeIDs, "|") != "a|b" || len(res.Approvals) != 2 || res.Approvals[1].By != "dana" {
		t.Errorf("resource: %+v", res)
	}
	if res.Properties["amount"] != int64(3000) || res.Properties["rate"] != 1.5 || res.Properties["urgent"] != true || res.Properties["note"] != "x=y" {
		t.Errorf("properties: %#v", res.Properties)
	}
	if _, err := parseProps([]string{"novalue"}); err == nil {
		t.Error("KEY without =VALUE accepted")
	}
	if _, err := parseProps([]string{"approvals=sam"}); err == nil {
		t.Error("approval without step accepted")
	}
	// Units are canonical here as at the endpoint: never compared as written.
	for _, unit := range []string{"/ca/ab/calgary/../../on", "/ca//ab", "ca/ab", "/ca/ab/"} {
		if _, err := makeResource("workorders", "1", map[string]any{"unit": unit}); err == nil || !strings.Contains(err.Error(), "unit") {
			t.Errorf("resource unit %q: %v", unit, err)
		}
		if _, err := makeSubject("tom", nil, map[string]any{"unit": unit}); err == nil {
			t.Errorf("subject unit %q accepted", unit)
		}
	}
	if res, err := makeResource("workorders", "1", map[string]any{"unit": "/ca/ab"}); err != nil || res.Unit != "/ca/ab" {
		t.Errorf("canonical unit: %+v %v", res, err)
	}
}

func TestColour(t *testing.T) {
	defer func(f func(io.Writer) bool) { isTerminal = f }(isTerminal)
	isTerminal = func(io.Writer) bool { return true }
	args := []string{"check", "-f", samples, "--subject", "tom.tech", "--action", "view", "--resource", "assets/1"}

	t.Setenv("NO_COLOR", "")
	stdout, _, _ := run(t, "", args...)
	if !strings.Contains(stdout, green+"allowed"+reset) {
		t.Errorf("no colour on a terminal: %q", stdout)
	}
	stdout, _, _ = run(t, "", append(args, "--no-color")...)
	if strings.Contains(stdout, "\x1b[") {
		t.Errorf("colour with --no-color: %q", stdout)
	}
	t.Setenv("NO_COLOR", "1")
	stdout, _, _ = run(t, "", args...)
	if strings.Contains(stdout, "\x1b[") {
		t.Errorf("colour with NO_COLOR: %q", stdout)
	}
	isTerminal = isCharDevice
	t.Setenv("NO_COLOR", "")
	stdout, _, _ = run(t, "", args...)
	if strings.Contains(stdout, "\x1b[") {
		t.Errorf("colour into a buffer: %q", stdout)
	}
}

func TestKubectlPluginName(t *testing.T) {
	defer func(s string) { commandUse = s }(commandUse)
	commandUse = "kubectl gatehouse"
	stdout, _, code := run(t, "", "--help")
	if code != 0 || !strings.Contains(stdout, "kubectl gatehouse [command]") {
		t.Errorf("help as a kubectl plugin: %d\n%s", code, stdout)
	}
	_, stderr, _ := run(t, "", "bogus")
	if !strings.Contains(stderr, "Run 'kubectl gatehouse --help'") {
		t.Errorf("hint: %s", stderr)
	}
}

func TestImportSplitNames(t *testing.T) {
	csvData := "region,user,role,unit\nWest,ann,technician,/ca/ab\nWest,bob,technician,/ca/bc\nWest,cat,,/ca/bc\nWest,ann,view-only,/ca/ab\n"
	dir := t.TempDir()
	_, stderr, code := run(t, csvData, "import", "--users", "-", "--out", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	set, err := readManifests(&env{}, []string{dir}, "t")
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, o := range set.Objects {
		g := o.UserGroup.Spec
		got[o.Name] = fmt.Sprint(g.Members, g.Roles, g.MemberGroups, g.Attributes["unit"].Values)
	}
	want := map[string]string{
		"west":                      "[] [] [west-no-roles west-technician west-technician-view-only] []",
		"west-no-roles":             "[cat] [] [] [/ca/bc]",
		"west-technician":           "[bob] [technician] [] [/ca/bc]",
		"west-technician-view-only": "[ann] [technician view-only] [] [/ca/ab]",
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("groups:\n got %v\nwant %v", got, want)
	}
	// Same roles, different units: the second group gets a number.
	dir = t.TempDir()
	_, stderr, code = run(t, "user,department,unit,role\na,Ops,/x,r\nb,Ops,/y,r\n", "import", "--users", "-", "--out", dir)
	data, _ := os.ReadFile(filepath.Join(dir, "usergroups.yaml"))
	if code != 0 || !strings.Contains(string(data), "name: ops-r\n") || !strings.Contains(string(data), "name: ops-r-2\n") {
		t.Errorf("exit %d %s\n%s", code, stderr, data)
	}
}

func TestFlagValueCompletion(t *testing.T) {
	stdout, _, code := run(t, "", "__complete", "matrix", "--format", "")
	if code != 0 || !strings.Contains(stdout, "markdown\n") {
		t.Errorf("matrix --format completion: %d %q", code, stdout)
	}
	stdout, _, _ = run(t, "", "__complete", "compile", "-o", "")
	if !strings.Contains(stdout, "json\n") {
		t.Errorf("--output completion: %q", stdout)
	}
}
