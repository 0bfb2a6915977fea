package views

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

const diffBase = `apiVersion: access.gatehouse.dev/v1alpha1
kind: Role
metadata: {name: tech, namespace: acme}
spec: {permissions: [{resources: [workorders], actions: [view]}]}
---
apiVersion: access.gatehouse.dev/v1alpha1
kind: UserGroup
metadata: {name: crew, namespace: acme}
spec: {members: [tom], roles: [tech]}
`

func readYAML(t *testing.T, files map[string]string) *manifest.Set {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	set, err := manifest.Read([]string{dir}, manifest.Options{})
	if err != nil {
		t.Fatal(err)
	}
	return set
}

func TestDiffSets(t *testing.T) {
	tests := map[string]struct {
		old, new map[string]string
		want     []string // tenant: change words
		changed  bool
	}{
		"no change": {old: map[string]string{"a.yaml": diffBase}, new: map[string]string{"a.yaml": diffBase}},
		"an action gained": {old: map[string]string{"a.yaml": diffBase},
			new:     map[string]string{"a.yaml": strings.Replace(diffBase, "[view]", "[view, delete]", 1)},
			want:    []string{"acme: gained delete workorders tom"},
			changed: true},
		"a member removed": {old: map[string]string{"a.yaml": diffBase},
			new:     map[string]string{"a.yaml": strings.Replace(diffBase, "[tom]", "[]", 1)},
			want:    []string{"acme: lost view workorders tom"},
			changed: true},
		"a tenant added": {old: map[string]string{"a.yaml": diffBase},
			new:     map[string]string{"a.yaml": diffBase, "b.yaml": strings.ReplaceAll(diffBase, "acme", "beta")},
			want:    []string{"beta: gained view workorders tom"},
			changed: true},
		"a problem counted": {old: map[string]string{"a.yaml": diffBase},
			new:     map[string]string{"a.yaml": strings.Replace(diffBase, "actions: [view]}", `actions: [view], when: "resource.x <"}`, 1)},
			want:    []string{"acme: lost view workorders tom"},
			changed: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out := DiffSets("old", "new", readYAML(t, tc.old), readYAML(t, tc.new))
			var got []string
			changed := false
			for _, td := range out.Tenants {
				changed = changed || td.Changed()
				for _, p := range td.Permissions {
					got = append(got, td.Tenant+": "+p.Change+" "+GrantWords(p)+" "+strings.Join(p.Subjects, ","))
				}
			}
			if changed != tc.changed || strings.Join(got, "\n") != strings.Join(tc.want, "\n") {
				t.Errorf("changed %v, got %q, want %v %q", changed, got, tc.changed, tc.want)
			}
		})
	}
}

func TestDiffGrantWords(t *testing.T) {
	for want, p := range map[string]snapshot.PermissionChange{
		"full access":                          {Kind: "fullAccess"},
		"restriction of invoices to scope own": {Kind: "restriction", Resource: "invoices", Scope: "own"},
		"edit workorders":                      {Kind: "permission", Action: "edit", Resource: "workorders", Scope: "all"},
		"edit workorders (scope unit) when x":  {Kind: "permission", Action: "edit", Resource: "workorders", Scope: "unit", When: "x"},
	} {
		if got := GrantWords(p); got != want {
			t.Errorf("%+v: %q, want %q", p, got, want)
		}
	}
}

func TestDiffGitSpecAndExtract(t *testing.T) {
	for spec, want := range map[string]string{
		"dir":          "not git",
		"git:HEAD:a/b": "HEAD a/b",
		"git:HEAD:":    "HEAD .",
		"git::x":       "error",
		"git:HEAD":     "error",
	} {
		rev, path, ok, err := GitSpec(spec)
		got := rev + " " + path
		switch {
		case !ok:
			got = "not git"
		case err != nil:
			got = "error"
		}
		if got != want {
			t.Errorf("GitSpec(%q) = %q, want %q", spec, got, want)
		}
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git")
	}
	repo := t.TempDir()
	run := func(args ...string) {
		cmd := exec.Command("git", append([]string{"-c", "user.name=t", "-c", "user.email=t@example.com", "-c", "commit.gpgsign=false"}, args...)...)
		cmd.Dir = repo
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Fatalf("git %v: %v\n%s", args, err, out)
		}
	}
	run("init", "-q")
	if err := os.MkdirAll(filepath.Join(repo, "p"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(repo, "p", "a.yaml"), []byte(diffBase), 0o600); err != nil {
		t.Fatal(err)
	}
	run("add", ".")
	run("commit", "-q", "-m", "one")
	top, err := GitTop(filepath.Join(repo, "p"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := GitExtract(top, "HEAD", "p", dir); err != nil {
		t.Fatal(err)
	}
	set, err := manifest.Read([]string{filepath.Join(dir, "p")}, manifest.Options{})
	if err != nil || len(set.Objects) != 2 {
		t.Fatalf("read back: %v %d", err, len(set.Objects))
	}
	NameGitFiles(set, dir, "HEAD")
	if f := set.Objects[0].Doc.File; f != "git:HEAD:p/a.yaml" {
		t.Errorf("file %q", f)
	}
	if err := GitExtract(top, "--output=/tmp/x", "p", t.TempDir()); err == nil {
		t.Error("an option as revision was run")
	}
}
