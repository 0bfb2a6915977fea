package views

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// TenantDiff is the change of one tenant between two versions of the
// manifests.
type TenantDiff struct {
	Tenant string `json:"tenant"`
	// OldProblems and NewProblems count compile problems of each side
	// (objects with problems are left out of both snapshots).
	OldProblems int `json:"oldProblems"`
	NewProblems int `json:"newProblems"`
	snapshot.Changes
}

// Changed reports whether the tenant's access or its count of problems
// changed.
func (t TenantDiff) Changed() bool { return !t.Empty() || t.OldProblems != t.NewProblems }

// DiffOutput is the effective diff of two versions (gatehouse diff).
type DiffOutput struct {
	Old     string       `json:"old"`
	New     string       `json:"new"`
	Tenants []TenantDiff `json:"tenants"`
}

// DiffSets compiles every tenant of both sets (with the default limits)
// and diffs them, tenants sorted by name.
func DiffSets(oldName, newName string, oldSet, newSet *manifest.Set) DiffOutput {
	out := DiffOutput{Old: oldName, New: newName, Tenants: []TenantDiff{}}
	oldTenants, newTenants := oldSet.Tenants(), newSet.Tenants()
	tenants := append(slices.Clone(oldTenants), newTenants...)
	sort.Strings(tenants)
	tenants = slices.Compact(tenants)
	for _, t := range tenants {
		d := TenantDiff{Tenant: t}
		var oldSnap, newSnap *snapshot.Snapshot
		if slices.Contains(oldTenants, t) {
			var problems []snapshot.Problem
			oldSnap, problems = snapshot.Compile(t, oldSet.SnapshotObjects(t))
			d.OldProblems = len(problems)
		}
		if slices.Contains(newTenants, t) {
			var problems []snapshot.Problem
			newSnap, problems = snapshot.Compile(t, newSet.SnapshotObjects(t))
			d.NewProblems = len(problems)
		}
		d.Changes = snapshot.Diff(oldSnap, newSnap)
		out.Tenants = append(out.Tenants, d)
	}
	return out
}

// GrantWords describes a permission change's grant, e.g. "edit workorders
// (scope unitTree)".
func GrantWords(p snapshot.PermissionChange) string {
	switch p.Kind {
	case "fullAccess":
		return "full access"
	case "restriction":
		return fmt.Sprintf("restriction of %s to scope %s", p.Resource, p.Scope)
	}
	s := p.Action + " " + p.Resource
	if p.Scope != "" && p.Scope != "all" {
		s += " (scope " + p.Scope + ")"
	}
	if p.When != "" {
		s += " when " + p.When
	}
	return s
}

// GitSpec splits git:REV:PATH; ok is false when spec does not start with
// git:. PATH "" is ".".
func GitSpec(spec string) (rev, path string, ok bool, err error) {
	rest, ok := strings.CutPrefix(spec, "git:")
	if !ok {
		return "", "", false, nil
	}
	rev, path, found := strings.Cut(rest, ":")
	if !found || rev == "" {
		return "", "", true, fmt.Errorf("%s: want git:REV:PATH", spec)
	}
	if path == "" {
		path = "."
	}
	return rev, path, true, nil
}

// GitTop returns the top directory of the Git repository holding dir (""
// for the current directory).
func GitTop(dir string) (string, error) {
	cmd := exec.Command("git", "rev-parse", "--show-toplevel")
	cmd.Dir = dir
	top, err := cmd.Output()
	if err != nil {
		return "", errors.New("not in a git repository")
	}
	return strings.TrimSpace(string(top)), nil
}

// GitExtract writes the files of path at rev, in the repository whose top
// directory is top, into dir. Entries that would leave dir are skipped; a
// rev starting with "-" is refused (it would be an option of git).
func GitExtract(top, rev, path, dir string) error {
	if strings.HasPrefix(rev, "-") {
		return fmt.Errorf("revision %.40q: must not start with -", rev)
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command("git", "archive", "--format=tar", rev, "--", path)
	cmd.Dir = top
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		msg := strings.TrimSpace(stderr.String())
		if msg == "" {
			msg = err.Error()
		}
		return errors.New(msg)
	}
	tr := tar.NewReader(&out)
	for {
		h, err := tr.Next()
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		name := filepath.Clean(h.Name)
		if strings.HasPrefix(name, "..") || filepath.IsAbs(name) {
			continue
		}
		target := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			return err
		}
		if err := os.WriteFile(target, data, 0o644); err != nil {
			return err
		}
	}
}

// NameGitFiles names the files of a set read from dir (where GitExtract
// wrote rev) as git:REV:FILE rather than by the temporary directory.
func NameGitFiles(set *manifest.Set, dir, rev string) {
	for _, o := range set.Objects {
		if rel, err := filepath.Rel(dir, o.Doc.File); err == nil {
			o.Doc.File = "git:" + rev + ":" + filepath.ToSlash(rel)
		}
	}
}
