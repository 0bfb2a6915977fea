package cli

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// The recorded trails of testdata/audit are written by auditTrailFiles;
// TestAuditTrailFiles checks they are current (go test ./internal/cli
// -run AuditTrailFiles -update rewrites them).
const auditDir = "testdata/audit"

var auditT0 = time.Date(2026, 11, 30, 10, 0, 0, 0, time.UTC)

func at(d string) time.Time {
	dd, err := time.ParseDuration(d)
	if err != nil {
		panic(err)
	}
	return auditT0.Add(dd)
}

func people(first string, n int) []string {
	out := []string{first}
	for i := 1; i <= n; i++ {
		out = append(out, fmt.Sprintf("user%02d", i))
	}
	return out
}

var (
	argoSource = &audit.Source{Tool: "argocd", Application: "acme-access", TrackingID: "acme-access:access.gatehouse.dev/UserGroup:acme/field-techs",
		RepoURL: "https://git.example.com/acme/access.git", Path: "tenants/acme", Revision: "3f9c1e2d4b5a69788796a5b4c3d2e1f0a9b8c7d6", InitiatedBy: "automated"}
	argoUser = audit.User{Name: "system:serviceaccount:argocd:argocd-application-controller", Groups: []string{"system:serviceaccounts", "system:serviceaccounts:argocd", "system:authenticated"},
		ServiceAccount: "argocd/argocd-application-controller"}

	technician4 = audit.Object{Kind: "Role", Name: "technician", Change: audit.ChangeUpdated, UID: "u-tech", Generation: 4, SpecHash: "aaaa000000000004", Served: true}
	fieldTechs7 = audit.Object{Kind: "UserGroup", Name: "field-techs", Change: audit.ChangeUpdated, UID: "u-ft", Generation: 7, SpecHash: "bbbb000000000007", Served: true, Source: argoSource}
	auditor1    = audit.Object{Kind: "Role", Name: "auditor", Change: audit.ChangeCreated, UID: "u-aud", Generation: 1, SpecHash: "cccc000000000001", Served: true}
	inspectors1 = audit.Object{Kind: "Role", Name: "inspectors", Change: audit.ChangeCreated, UID: "u-insp", Generation: 1, SpecHash: "dddd000000000001", Served: true, Source: argoSource}

	approveDiff = &snapshot.Changes{ToRevision: "1a2b3c4d5e6f7a8b", Permissions: []snapshot.PermissionChange{
		{Change: snapshot.Gained, Kind: "permission", Resource: "purchaseorders", Action: "approve", Scope: "unitTree", Subjects: people("tom.tech", 41), Groups: []string{"technicians"}},
		{Change: snapshot.Lost, Kind: "permission", Resource: "purchaseorders", Action: "delete", Scope: "own", Subjects: []string{"tom.tech"}, Groups: []string{"technicians"}},
	}}
	fieldDiff = &snapshot.Changes{ToRevision: "5e6f7a8b9c0d1e2f",
		Fields:    []snapshot.FieldChange{{Resource: "purchaseorders", Field: "margin", From: "hidden", To: "read", Subjects: []string{"carol"}}},
		Approvals: []snapshot.ApprovalChange{{Change: snapshot.Gained, Resource: "purchaseorders", Step: "manager", Subjects: []string{"carol"}}},
	}
	auditorDiff = &snapshot.Changes{ToRevision: "9a8b7c6d5e4f3a2b", Permissions: []snapshot.PermissionChange{
		{Change: snapshot.Gained, Kind: "permission", Resource: "invoices", Action: "view", Subjects: []string{"dave"}, Groups: []string{"auditors"}},
	}}
	inspectorsDiff = &snapshot.Changes{ToRevision: "0f1e2d3c4b5a6978", Permissions: []snapshot.PermissionChange{
		{Change: snapshot.Gained, Kind: "fullAccess", Resource: "*", Action: "*", Subjects: []string{"erin"}, Groups: []string{"inspectors"}},
	}}
)

func admission(t time.Time, op string, u audit.User, o audit.Object, verdict, reason string, dry bool) audit.Record {
	return audit.Record{Type: audit.RecordType, Time: t, Replica: "replica-a", Tenant: "acme", Event: audit.EventAdmission,
		Objects: []audit.Object{o}, Admission: &audit.Admission{RequestUID: "req-" + o.Name + "-" + t.Format("150405"), Operation: op, User: u, Verdict: verdict, Reason: reason, DryRun: dry}}
}

func compiled(t time.Time, replica, from, to string, diff *snapshot.Changes, objs ...audit.Object) audit.Record {
	return audit.Record{Type: audit.RecordType, Time: t, Replica: replica, Tenant: "acme", Event: audit.EventCompiled, FromRevision: from, ToRevision: to, Objects: objs, Diff: diff}
}

func cloudEvent(r audit.Record) map[string]any {
	return map[string]any{"specversion": "1.0", "id": r.ID(), "source": "gatehouse/" + r.Replica, "type": audit.RecordType,
		"time": r.Time, "datacontenttype": "application/json", "data": r}
}

func jsonLine(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b) + "\n"
}

// auditTrailFiles returns the recorded trails by path under testdata/audit.
func auditTrailFiles() map[string]string {
	alice := audit.User{Name: "alice", UID: "u-alice", Groups: []string{"acme-admins", "system:authenticated"}}
	bob := audit.User{Name: "bob", Groups: []string{"acme-editors", "system:authenticated"}}
	leftOut := audit.Object{Kind: "FieldPolicy", Name: "po-fields", Change: audit.ChangeLeftOut, UID: "u-fp", Generation: 2, SpecHash: "eeee000000000002"}
	superuser := audit.Object{Kind: "Role", Name: "superuser", Change: audit.ChangeCreated, Generation: 1, SpecHash: "ffff000000000001"}
	technician5 := technician4
	technician5.Generation, technician5.SpecHash = 5, "aaaa000000000005"

	// Replica A: JSON lines, with the webhook's admissions, on a stream
	// shared with other logs.
	var a strings.Builder
	a.WriteString(`{"level":"info","ts":"2026-11-30T09:59:00Z","msg":"starting manager"}` + "\n")
	a.WriteString(jsonLine(admission(at("2m3s"), "UPDATE", alice, technician4, audit.VerdictAdmitted, "", false)))
	a.WriteString(jsonLine(compiled(at("2m5s"), "replica-a", "0011223344556677", "1a2b3c4d5e6f7a8b", approveDiff, technician4, leftOut)))
	a.WriteString(jsonLine(admission(at("30m"), "CREATE", bob, superuser, audit.VerdictDenied,
		"escalation: bob may not grant fullAccess on * (he does not hold it)", false)))
	a.WriteString(jsonLine(admission(at("40m"), "UPDATE", bob, technician5, audit.VerdictAdmitted, "", true)))
	a.WriteString(jsonLine(admission(at("1h"), "UPDATE", argoUser, fieldTechs7, audit.VerdictAdmitted, "", false)))
	a.WriteString(jsonLine(compiled(at("1h2s"), "replica-a", "1a2b3c4d5e6f7a8b", "5e6f7a8b9c0d1e2f", fieldDiff, fieldTechs7)))
	a.WriteString("W1130 11:00:03.000000       1 reflector.go:561] watch of *v1.Role ended\n")
	a.WriteString(jsonLine(compiled(at("2h"), "replica-a", "5e6f7a8b9c0d1e2f", "9a8b7c6d5e4f3a2b", auditorDiff, auditor1)))

	// Replica B: CloudEvents lines from an HTTP sink receiver; the first
	// compile coalesced an earlier change (another FromRevision), one
	// event was delivered twice, one is of another type.
	var b strings.Builder
	ceApprove := jsonLine(cloudEvent(compiled(at("2m4s"), "replica-b", "ffeeddccbbaa9988", "1a2b3c4d5e6f7a8b", approveDiff, technician4, leftOut)))
	b.WriteString(ceApprove)
	b.WriteString(ceApprove)
	b.WriteString(jsonLine(map[string]any{"specversion": "1.0", "id": "x1", "source": "other", "type": "dev.example.other", "data": map[string]string{"type": "gatehouse.audit"}}))
	b.WriteString(jsonLine(cloudEvent(compiled(at("1h5s"), "replica-b", "1a2b3c4d5e6f7a8b", "5e6f7a8b9c0d1e2f", fieldDiff, fieldTechs7))))

	// A batch of replica B: the trail of a change from before the webhook
	// wrote admissions (Argo CD applied it).
	batch, err := json.MarshalIndent([]any{
		cloudEvent(compiled(at("2h1s"), "replica-b", "5e6f7a8b9c0d1e2f", "9a8b7c6d5e4f3a2b", auditorDiff, auditor1)),
		cloudEvent(compiled(at("3h"), "replica-b", "9a8b7c6d5e4f3a2b", "0f1e2d3c4b5a6978", inspectorsDiff, inspectors1)),
	}, "", "  ")
	if err != nil {
		panic(err)
	}

	// A hostile client: terminal escapes, HTML, a very long name.
	evil := "\x1b[31mmallory<script>alert(1)</script>\u202e" + strings.Repeat("A", 300)
	hostileObj := audit.Object{Kind: "Role", Name: "x\r\ny|z" + strings.Repeat("B", 200), Change: audit.ChangeCreated, Generation: 1}
	hostile := jsonLine(admission(at("4h"), "CREATE", audit.User{Name: evil, Groups: []string{"<b>g</b>\x07"}}, hostileObj, audit.VerdictDenied,
		"escalation:\n\x1b]0;pwned\x07 "+strings.Repeat("C", 400), false))

	long := jsonLine(admission(at("5h"), "CREATE", bob, superuser, audit.VerdictDenied, "x", false))
	malformed := `{"level":"debug","msg":"not audit"}` + "\n" +
		`{"type":"gatehouse.audit","time":"yesterday","event":"admission","tenant":"` + strings.Repeat("S", 100) + `"}` + "\n" + long
	return map[string]string{
		"trails/replica-a.jsonl":      a.String(),
		"trails/replica-b.jsonl":      b.String(),
		"trails/replica-b-batch.json": string(batch) + "\n",
		"hostile.jsonl":               hostile,
		"malformed.jsonl":             malformed,
		"batch-line.jsonl":            "[" + strings.TrimSuffix(jsonLine(cloudEvent(compiled(at("2m4s"), "replica-b", "ffeeddccbbaa9988", "1a2b3c4d5e6f7a8b", approveDiff, technician4))), "\n") + "]\n",
	}
}

func TestAuditTrailFiles(t *testing.T) {
	for name, want := range auditTrailFiles() {
		path := filepath.Join(auditDir, name)
		if *update {
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, []byte(want), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(path)
		if err != nil {
			t.Fatalf("%v (run go test ./internal/cli -run AuditTrailFiles -update)", err)
		}
		if string(got) != want {
			t.Errorf("%s is not what auditTrailFiles writes (run go test ./internal/cli -run AuditTrailFiles -update)", path)
		}
	}
}

// runAuditCmd runs gatehouse audit at a fixed now.
func runAuditCmd(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	defer func(old func() time.Time) { auditNow = old }(auditNow)
	auditNow = func() time.Time { return time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC) }
	return run(t, stdin, append([]string{"audit"}, args...)...)
}

func TestAuditTable(t *testing.T) {
	trails := filepath.Join(auditDir, "trails")
	cases := map[string]struct {
		args   []string
		stdin  string
		want   []string // exact lines of stdout
		stderr string   // substring of stderr
	}{
		"who-granted joins the admission of replica A with both replicas' compiles": {
			args: []string{"who-granted", "--subject", "tom.tech", "--action", "approve", "--resource", "purchaseorders", trails},
			want: []string{
				"TIME                  TENANT  AUTHOR                       CHANGE                         GRANTED                                                               SERVED",
				"2026-11-30T10:02:03Z  acme    alice (groups: acme-admins)  updated Role technician gen 4  → tom.tech and 41 others gained approve on purchaseorders (unitTree)  served rev 1a2b3c4d… by replica-a, replica-b",
			},
			stderr: "skipped 3 lines that are not audit records; dropped 1 duplicates",
		},
		"who-granted a field and an approver role, applied by Argo CD": {
			args: []string{"who-granted", "--subject", "carol", trails},
			want: []string{
				"TIME                  TENANT  AUTHOR                                                                                                   CHANGE                               GRANTED                                                          SERVED",
				"2026-11-30T11:00:00Z  acme    system:serviceaccount:argocd:argocd-application-controller via argocd acme-access@3f9c1e2d… (automated)  updated UserGroup field-techs gen 7  → carol gained read on field purchaseorders.margin (was hidden)  served rev 5e6f7a8b… by replica-a, replica-b",
				"2026-11-30T11:00:00Z  acme    system:serviceaccount:argocd:argocd-application-controller via argocd acme-access@3f9c1e2d… (automated)  updated UserGroup field-techs gen 7  → carol became approver of purchaseorders step manager           served rev 5e6f7a8b… by replica-a, replica-b",
			},
		},
		"who-granted with no admission in the trails: unknown author, GitOps source": {
			args: []string{"who-granted", "--subject", "erin", "--action", "delete", "--resource", "invoices", trails},
			want: []string{
				"TIME                  TENANT  AUTHOR                                                CHANGE                         GRANTED                    SERVED",
				"2026-11-30T13:00:00Z  acme    unknown via argocd acme-access@3f9c1e2d… (automated)  created Role inspectors gen 1  → erin gained full access  served rev 0f1e2d3c… by replica-b",
			},
		},
		"who-granted markdown": {
			args: []string{"who-granted", "--subject", "dave", "-o", "markdown", trails},
			want: []string{
				"| TIME | TENANT | AUTHOR | CHANGE | GRANTED | SERVED |",
				"|---|---|---|---|---|---|",
				"| 2026-11-30T12:00:00Z | acme | unknown | created Role auditor gen 1 | → dave gained view on invoices | served rev 9a8b7c6d… by replica-a, replica-b |",
			},
		},
		"who-granted nothing": {
			args: []string{"who-granted", "--subject", "tom.tech", "--action", "delete", filepath.Join(trails, "replica-a.jsonl")},
			want: []string{
				"no matching records",
			},
		},
		"by user: admitted and denied, not the dry run": {
			args: []string{"by", "--user", "bob", "--since", "2026-11-30T00:00:00Z", trails},
			want: []string{
				"TIME                  TENANT  USER                        VERDICT  OPERATION  OBJECT          RESULT",
				"2026-11-30T10:30:00Z  acme    bob (groups: acme-editors)  denied   CREATE     Role superuser  escalation: bob may not grant fullAccess on * (he does not hold it)",
			},
		},
		"by user in the last 13h is nothing": {
			args: []string{"by", "--user", "bob", "--since", "13h", trails},
			want: []string{
				"no matching records",
			},
		},
		"changes of a tenant in a time range": {
			args: []string{"changes", "--tenant", "acme", "--since", "2026-11-30T10:00:00Z", "--until", "2026-11-30T12:30:00Z", trails},
			want: []string{
				"TIME                  TENANT  AUTHOR                                                                                                   CHANGE                               SERVED                                        EFFECT",
				"2026-11-30T10:02:03Z  acme    alice (groups: acme-admins)                                                                              updated Role technician gen 4        served rev 1a2b3c4d… by replica-a, replica-b  1 gained, 1 lost",
				"2026-11-30T11:00:00Z  acme    system:serviceaccount:argocd:argocd-application-controller via argocd acme-access@3f9c1e2d… (automated)  updated UserGroup field-techs gen 7  served rev 5e6f7a8b… by replica-a, replica-b  1 gained, 0 lost, 1 field changes",
				"2026-11-30T12:00:00Z  acme    unknown                                                                                                  created Role auditor gen 1           served rev 9a8b7c6d… by replica-a, replica-b  1 gained, 0 lost",
			},
		},
		"denied markdown from stdin": {
			args:  []string{"denied", "-o", "markdown", "-"},
			stdin: auditTrailFiles()["trails/replica-a.jsonl"],
			want: []string{
				"| TIME | TENANT | USER | OPERATION | OBJECT | REASON |",
				"|---|---|---|---|---|---|",
				"| 2026-11-30T10:30:00Z | acme | bob (groups: acme-editors) | CREATE | Role superuser | escalation: bob may not grant fullAccess on \\* (he does not hold it) |",
			},
			stderr: "skipped 2 lines",
		},
		"a batch array on one line": {
			args: []string{"changes", filepath.Join(auditDir, "batch-line.jsonl")},
			want: []string{
				"TIME                  TENANT  AUTHOR   CHANGE                         SERVED                             EFFECT",
				"2026-11-30T10:02:04Z  acme    unknown  updated Role technician gen 4  served rev 1a2b3c4d… by replica-b  1 gained, 1 lost",
			},
		},
		"hostile names are cut and escaped": {
			args: []string{"denied", filepath.Join(auditDir, "hostile.jsonl")},
			want: []string{
				"TIME                  TENANT  USER                                                                                              OPERATION  OBJECT                                                                        REASON",
				"2026-11-30T14:00:00Z  acme    \\x1b[31mmallory<script>alert(1)</script>\\u202eAAAAAAAAAAAAAAAAAAAAAAAAAA… (groups: <b>g</b>\\x07)  CREATE     Role x\\x0d\\x0ay|zBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB…  escalation:\\x0a\\x1b]0;pwned\\x07 CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC…",
			},
		},
		"hostile names in markdown": {
			args: []string{"denied", "-o", "markdown", filepath.Join(auditDir, "hostile.jsonl")},
			want: []string{
				"| TIME | TENANT | USER | OPERATION | OBJECT | REASON |",
				"|---|---|---|---|---|---|",
				"| 2026-11-30T14:00:00Z | acme | \\x1b\\[31mmallory&lt;script&gt;alert(1)&lt;/script&gt;\\u202eAAAAAAAAAAAAAAAAAAAAAAAAAA… (groups: &lt;b&gt;g&lt;/b&gt;\\x07) | CREATE | Role x\\x0d\\x0ay\\|zBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBBB… | escalation:\\x0a\\x1b\\]0;pwned\\x07 CCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCCC… |",
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := runAuditCmd(t, tc.stdin, tc.args...)
			if code != ExitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			got := strings.Split(strings.TrimSuffix(stdout, "\n"), "\n")
			for i := range got {
				got[i] = strings.TrimRight(got[i], " ")
			}
			if strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("stdout:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tc.want, "\n"))
			}
			if !strings.Contains(stderr, tc.stderr) {
				t.Errorf("stderr %q does not contain %q", stderr, tc.stderr)
			}
			for _, r := range stdout {
				if r != '\n' && (r < ' ' || r == 0x7f || r == '\u202e') {
					t.Fatalf("stdout holds the control character %U", r)
				}
			}
		})
	}
}

func TestAuditJSON(t *testing.T) {
	trails := filepath.Join(auditDir, "trails")
	type check func(t *testing.T, out auditOutput)
	cases := map[string]struct {
		args  []string
		check check
	}{
		"who-granted": {
			args: []string{"who-granted", "--subject", "tom.tech", "--action", "approve", "--resource", "purchaseorders", "-o", "json", trails},
			check: func(t *testing.T, out auditOutput) {
				if out.Read.Records != 11 || out.Read.Skipped != 3 || out.Read.Duplicates != 1 {
					t.Errorf("read %+v, want 11 records, 3 skipped, 1 duplicate", out.Read)
				}
				if len(out.Grants) != 1 {
					t.Fatalf("%d grants, want 1", len(out.Grants))
				}
				g := out.Grants[0]
				if g.Permission == nil || g.Permission.Scope != "unitTree" || len(g.Permission.Subjects) != 42 {
					t.Errorf("permission %+v", g.Permission)
				}
				s := g.Served
				if s.ToRevision != "1a2b3c4d5e6f7a8b" || !s.Time.Equal(at("2m4s")) || strings.Join(s.Replicas, ",") != "replica-a,replica-b" ||
					strings.Join(s.FromRevisions, ",") != "ffeeddccbbaa9988,0011223344556677" {
					t.Errorf("served %+v", s)
				}
				if len(g.Changes) != 1 || g.Changes[0].Admission == nil || g.Changes[0].Admission.User.Name != "alice" ||
					g.Changes[0].AdmissionReplica != "replica-a" || g.Changes[0].Object.Generation != 4 {
					t.Errorf("changes %+v", g.Changes)
				}
			},
		},
		"changes by an unknown author keep the GitOps source": {
			args: []string{"changes", "-o", "json", "--since", "2026-11-30T12:30:00Z", trails},
			check: func(t *testing.T, out auditOutput) {
				if len(out.Changes) != 1 {
					t.Fatalf("%d changes, want 1", len(out.Changes))
				}
				c := out.Changes[0]
				if c.Admission != nil || c.Source == nil || c.Source.Tool != "argocd" || c.Object.Name != "inspectors" || len(c.Served) != 1 {
					t.Errorf("change %+v", c)
				}
			},
		},
		"by bob: the denial, never the dry run": {
			args: []string{"by", "--user", "bob", "-o", "json", trails},
			check: func(t *testing.T, out auditOutput) {
				if len(out.Admissions) != 1 || out.Admissions[0].Verdict != audit.VerdictDenied || !strings.HasPrefix(out.Admissions[0].Reason, "escalation:") {
					t.Errorf("admissions %+v", out.Admissions)
				}
			},
		},
		"denied keeps the hostile values whole, escaped by JSON": {
			args: []string{"denied", "-o", "json", filepath.Join(auditDir, "hostile.jsonl")},
			check: func(t *testing.T, out auditOutput) {
				if len(out.Admissions) != 1 || !strings.HasPrefix(out.Admissions[0].User.Name, "\x1b[31mmallory") {
					t.Errorf("admissions %+v", out.Admissions)
				}
			},
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := runAuditCmd(t, "", tc.args...)
			if code != ExitOK {
				t.Fatalf("exit %d, stderr:\n%s", code, stderr)
			}
			if strings.ContainsRune(stdout, 0x1b) {
				t.Error("JSON output holds a raw escape character")
			}
			var out auditOutput
			dec := json.NewDecoder(bytes.NewReader([]byte(stdout)))
			if err := dec.Decode(&out); err != nil {
				t.Fatalf("%v in:\n%s", err, stdout)
			}
			tc.check(t, out)
		})
	}
}

func TestAuditErrors(t *testing.T) {
	trails := filepath.Join(auditDir, "trails")
	cases := map[string]struct {
		args   []string
		code   int
		stderr string // exact first line of stderr
	}{
		"bad --since": {
			args:   []string{"by", "--user", "bob", "--since", "last tuesday at noon, more or less", trails},
			code:   ExitUsage,
			stderr: `gatehouse: --since: want an RFC 3339 time (2026-11-30T10:00:00Z) or a duration back from now (7d, 36h), not "last tuesday at noon, mo"…`,
		},
		"negative --until": {
			args:   []string{"changes", "--until", "-3h", trails},
			code:   ExitUsage,
			stderr: `gatehouse: --until: want an RFC 3339 time (2026-11-30T10:00:00Z) or a duration back from now (7d, 36h), not "-3h"`,
		},
		"since after until": {
			args:   []string{"changes", "--since", "1d", "--until", "2d", trails},
			code:   ExitUsage,
			stderr: "gatehouse: --since must be before --until",
		},
		"who-granted without a question": {
			args:   []string{"who-granted", trails},
			code:   ExitUsage,
			stderr: "gatehouse: who-granted needs --subject, --action or --resource",
		},
		"by without --user": {
			args:   []string{"by", trails},
			code:   ExitUsage,
			stderr: "gatehouse: by needs --user",
		},
		"no trail": {
			args:   []string{"denied"},
			code:   ExitUsage,
			stderr: "gatehouse: requires at least 1 arg(s), only received 0",
		},
		"missing file": {
			args:   []string{"denied", filepath.Join(auditDir, "nope.jsonl")},
			code:   ExitUsage,
			stderr: "gatehouse: audit: stat testdata/audit/nope.jsonl: no such file or directory",
		},
		"malformed line names file:line, quotes a short prefix": {
			args:   []string{"denied", filepath.Join(auditDir, "malformed.jsonl")},
			code:   ExitUsage,
			stderr: `gatehouse: audit: testdata/audit/malformed.jsonl:2: malformed audit record (invalid field value): "{\"type\":\"gatehouse.audit\",\"time\":\"yester"…`,
		},
		"no question": {
			args:   []string{},
			code:   ExitUsage,
			stderr: "gatehouse: audit needs a question: who-granted, by, changes or denied",
		},
		"unknown question": {
			args:   []string{"who-changed", trails},
			code:   ExitUsage,
			stderr: `gatehouse: unknown question "who-changed": want who-granted, by, changes or denied`,
		},
		"bad output": {
			args:   []string{"denied", "-o", "csv", trails},
			code:   ExitUsage,
			stderr: `gatehouse: --output must be table, markdown, json or yaml, not "csv"`,
		},
	}
	for name, tc := range cases {
		t.Run(name, func(t *testing.T) {
			stdout, stderr, code := runAuditCmd(t, "", tc.args...)
			if code != tc.code {
				t.Fatalf("exit %d, want %d; stderr:\n%s", code, tc.code, stderr)
			}
			if stdout != "" {
				t.Errorf("stdout %q", stdout)
			}
			if first, _, _ := strings.Cut(stderr, "\n"); first != tc.stderr {
				t.Errorf("stderr:\n%s\nwant first line:\n%s", first, tc.stderr)
			}
		})
	}
}
