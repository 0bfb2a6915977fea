package console

import (
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// newTrailServer returns a console over manifests of tenant acme with the
// audit trails given.
func newTrailServer(t *testing.T, trail ...string) *Server {
	t.Helper()
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "policy.yaml"), []byte("apiVersion: access.gatehouse.dev/v1alpha1\nkind: Role\nmetadata: {name: viewer, namespace: acme}\nspec: {permissions: [{resources: [a], actions: [view]}]}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := New(context.Background(), Options{
		Load:  func(context.Context) (*manifest.Set, error) { return manifest.Read([]string{dir}, manifest.Options{}) },
		Trail: trail,
		Now:   func() time.Time { return time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC) },
	})
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// writeTrail writes records as JSON lines.
func writeTrail(t *testing.T, records ...audit.Record) string {
	t.Helper()
	var b strings.Builder
	for _, r := range records {
		line, err := json.Marshal(r)
		if err != nil {
			t.Fatal(err)
		}
		b.Write(line)
		b.WriteByte('\n')
	}
	path := filepath.Join(t.TempDir(), "trail.jsonl")
	if err := os.WriteFile(path, []byte(b.String()), 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

func TestChanges(t *testing.T) {
	at := func(h, m int) time.Time { return time.Date(2026, 11, 30, h, m, 0, 0, time.UTC) }
	tech := audit.Object{Kind: "Role", Name: "technician", Change: audit.ChangeUpdated, UID: "u-tech", Generation: 4, SpecHash: "aaaa000000000004", Served: true}
	crew := audit.Object{Kind: "UserGroup", Name: "calgary-crew", Change: audit.ChangeUpdated, UID: "u-crew", Generation: 2, SpecHash: "bbbb000000000002", Served: true}
	hostile := audit.Object{Kind: "Role", Name: "<script>x</script>", Change: audit.ChangeCreated}
	gained := &snapshot.Changes{ToRevision: "1a2b3c4d5e6f7a8b", Permissions: []snapshot.PermissionChange{
		{Change: snapshot.Gained, Kind: "permission", Resource: "workorders", Action: "delete", Scope: "unitTree", Subjects: []string{"tom.tech", "tina.tech"}, Groups: []string{"calgary-crew"}}}}
	lost := &snapshot.Changes{ToRevision: "2b3c4d5e6f7a8b9c", Permissions: []snapshot.PermissionChange{
		{Change: snapshot.Lost, Kind: "permission", Resource: "workorders", Action: "edit", Scope: "unitTree", Subjects: []string{"tina.tech"}, Groups: []string{"calgary-crew"}}},
		Fields: []snapshot.FieldChange{{Resource: "workorders", Field: "status", From: "write", To: "hidden", Subjects: []string{"tina.tech"}}}}
	rec := func(tm time.Time, event string, o audit.Object, diff *snapshot.Changes, adm *audit.Admission) audit.Record {
		r := audit.Record{Type: audit.RecordType, Time: tm, Replica: "replica-a", Tenant: "acme", Event: event, Objects: []audit.Object{o}, Diff: diff, Admission: adm}
		if event == audit.EventCompiled {
			r.ToRevision = diff.ToRevision
		}
		return r
	}
	alice := audit.User{Name: "alice", Groups: []string{"acme-admins"}}
	trail := writeTrail(t,
		rec(at(10, 2), audit.EventAdmission, tech, nil, &audit.Admission{RequestUID: "r1", Operation: "UPDATE", User: alice, Verdict: audit.VerdictAdmitted}),
		rec(at(10, 3), audit.EventCompiled, tech, gained, nil),
		rec(at(11, 0), audit.EventAdmission, hostile, nil, &audit.Admission{RequestUID: "r2", Operation: "CREATE", User: audit.User{Name: "mallory"}, Verdict: audit.VerdictDenied, Reason: "escalation: <b>grants full access</b>"}),
		rec(at(12, 0), audit.EventCompiled, crew, lost, nil),
	)
	s := newTrailServer(t, trail)
	tests := map[string]struct {
		server   *Server
		query    string
		code     int
		contains []string
		lacks    []string
		order    []string
	}{
		"no trail explains --audit-log": {server: newTrailServer(t), code: 200, contains: []string{"--audit-log"}},
		"timeline newest first": {code: 200,
			contains: []string{"alice", "acme-admins", "Role technician", "+ gained", "delete workorders (scope unitTree)", "tom.tech, tina.tech",
				"− lost", "workorders.status", "Denied", "mallory", "&lt;script&gt;x&lt;/script&gt;", "&lt;b&gt;grants full access", "unknown author", "1a2b3c4d5e6f7a8b"},
			lacks: []string{"<script>x", "<b>grants"},
			order: []string{"UserGroup calgary-crew", "Denied", "Role technician"}},
		"by user":           {query: "?user=alice", code: 200, contains: []string{"Role technician"}, lacks: []string{"mallory", "UserGroup calgary-crew"}},
		"since":             {query: "?since=2026-11-30T11:30:00Z", code: 200, contains: []string{"calgary-crew"}, lacks: []string{"Role technician", "mallory"}},
		"until a date":      {query: "?until=2026-11-30", code: 200, contains: []string{"No changes in this range"}},
		"bad since":         {query: "?since=" + strings.Repeat("<i>", 30), code: 400, contains: []string{"since"}, lacks: []string{"<i>"}},
		"since after until": {query: "?since=2026-12-01&until=2026-11-01", code: 400, contains: []string{"since must be before until"}},
		"the CLI's recorded trails": {server: newTrailServer(t, filepath.Join("..", "cli", "testdata", "audit", "trails")), code: 200,
			contains: []string{"alice", "Role technician", "approve purchaseorders"}},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			srv := tc.server
			if srv == nil {
				srv = s
			}
			code, body := get(t, srv, "/t/acme/changes"+tc.query)
			if code != tc.code {
				t.Fatalf("%d, want %d: %.3000s", code, tc.code, body)
			}
			for _, c := range tc.contains {
				if !strings.Contains(body, c) {
					t.Errorf("no %q in %.5000s", c, body)
				}
			}
			for _, c := range tc.lacks {
				if strings.Contains(body, c) {
					t.Errorf("%q in the page", c)
				}
			}
			last := -1
			for _, c := range tc.order {
				i := strings.Index(body, c)
				if i < last {
					t.Errorf("%q out of order", c)
				}
				last = i
			}
		})
	}
}

// withDiffRoots lets /diff of s read roots, as -f does for the CLI.
func withDiffRoots(s *Server, roots ...string) { s.opts.Roots = roots }

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
}

const diffOld = `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: tech, namespace: acme}
spec: {permissions: [{resources: [workorders], actions: [view]}]}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: UserGroup
metadata: {name: crew, namespace: acme}
spec: {members: [tom, "<img src=x>"], roles: [tech]}
`

func TestDiff(t *testing.T) {
	s := newTestServer(t, samples)
	if code, body := get(t, s, "/diff?old=a&new=b"); code != 200 || !strings.Contains(body, "disabled") {
		t.Fatalf("without roots: %d %.1000s", code, body)
	}
	root := t.TempDir()
	writeFile(t, filepath.Join(root, "old", "policy.yaml"), diffOld)
	writeFile(t, filepath.Join(root, "new", "policy.yaml"), strings.Replace(diffOld, "actions: [view]", "actions: [view, delete]", 1))
	outside := t.TempDir()
	writeFile(t, filepath.Join(outside, "policy.yaml"), diffOld)
	withDiffRoots(s, root)

	checkPages(t, s, map[string]pageCase{
		"two directories": {path: diffPath(filepath.Join(root, "old"), filepath.Join(root, "new")), code: 200,
			contains: []string{"Tenant acme", "+ gained", "delete workorders", "&lt;img src=x&gt;, tom"}, lacks: []string{"<img"}},
		"no change":            {path: diffPath(filepath.Join(root, "old"), filepath.Join(root, "old")), code: 200, contains: []string{"No access changes"}},
		"outside the roots":    {path: diffPath(outside, filepath.Join(root, "new")), code: 400, contains: []string{"old &#34;", "not inside"}},
		"dot dot":              {path: diffPath(filepath.Join(root, "old"), root+"/new/../../x"), code: 400, contains: []string{"new &#34;"}},
		"relative dot dot":     {path: diffPath("../../config/samples", filepath.Join(root, "new")), code: 400, contains: []string{"old &#34;"}},
		"absolute elsewhere":   {path: diffPath("/etc", filepath.Join(root, "new")), code: 400, contains: []string{"old &#34;/etc&#34;"}},
		"cluster":              {path: diffPath("cluster:acme", filepath.Join(root, "new")), code: 400, contains: []string{"old &#34;cluster:acme&#34;"}},
		"missing new":          {path: diffPath(filepath.Join(root, "old"), ""), code: 400, contains: []string{"new: missing"}},
		"git option injection": {path: diffPath("git:--output=/tmp/x:old", filepath.Join(root, "new")), code: 400, contains: []string{"not a git revision"}},
		"git dot dot":          {path: diffPath("git:HEAD:../x", filepath.Join(root, "new")), code: 400, contains: []string{"old &#34;"}},
	})
}

// diffPath is the /diff page comparing old with new.
func diffPath(old, new string) string { return "/diff?old=" + urlQuery(old) + "&new=" + urlQuery(new) }

func urlQuery(s string) string {
	return strings.NewReplacer("%", "%25", "&", "%26", "+", "%2B", "#", "%23", " ", "%20").Replace(s)
}

func TestDiffGit(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Fatal("git is needed (the project is a Git repository): ", err)
	}
	repo := t.TempDir()
	git := func(args ...string) {
		t.Helper()
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	git("init", "-q")
	writeFile(t, filepath.Join(repo, "policy", "policy.yaml"), diffOld)
	git("add", ".")
	git("commit", "-q", "-m", "old")
	writeFile(t, filepath.Join(repo, "policy", "policy.yaml"), strings.Replace(diffOld, "members: [tom, ", "members: [", 1))
	git("commit", "-q", "-am", "new")
	writeFile(t, filepath.Join(repo, "secret", "policy.yaml"), diffOld)
	git("add", ".")
	git("commit", "-q", "-m", "outside")

	s := newTestServer(t, samples)
	withDiffRoots(s, filepath.Join(repo, "policy"))
	checkPages(t, s, map[string]pageCase{
		"two revisions":                {path: diffPath("git:HEAD~2:policy", "git:HEAD:policy"), code: 200, contains: []string{"− lost", "view workorders", "tom"}},
		"a revision and the directory": {path: diffPath("git:HEAD~2:policy", filepath.Join(repo, "policy")), code: 200, contains: []string{"− lost"}},
		"a path outside the roots":     {path: diffPath("git:HEAD:secret", filepath.Join(repo, "policy")), code: 400, contains: []string{"old &#34;git:HEAD:secret&#34;"}},
		"an unknown revision":          {path: diffPath("git:no-such-rev:policy", filepath.Join(repo, "policy")), code: 400, contains: []string{"no-such-rev"}},
	})
}
