package cli

import (
	"archive/tar"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// tenantDiff is the change of one tenant.
type tenantDiff struct {
	Tenant string `json:"tenant"`
	// OldProblems and NewProblems count compile problems of each side
	// (objects with problems are left out of both snapshots).
	OldProblems int `json:"oldProblems"`
	NewProblems int `json:"newProblems"`
	snapshot.Changes
}

// diffOutput is the output of gatehouse diff.
type diffOutput struct {
	Old     string       `json:"old"`
	New     string       `json:"new"`
	Tenants []tenantDiff `json:"tenants"`
}

func newDiffCmd(e *env) *cobra.Command {
	var (
		format  string
		tenant  string
		cluster clusterFlags
	)
	cmd := &cobra.Command{
		Use:   "diff OLD NEW",
		Short: "Show who gains or loses which permission, field access or approval role",
		Long: `Diff compiles two versions of the manifests and reports, per tenant, who
gains or loses which permission (module, action, scope, condition), full
access or restriction, whose access to which field changes, and who becomes
or stops being a named approver of which step.

OLD and NEW are files, directories, git:REV:PATH (read with git archive
from the repository of the current directory, PATH relative to its top
directory, e.g. git:main:config/samples) or cluster:NAMESPACE (the live
objects; cluster: alone for every namespace), e.g. to see what applying a
change would do.
With --format markdown the output suits a pull-request comment.`,
		Example: `  gatehouse diff git:main:config/samples config/samples
  gatehouse diff old/ new/ --format markdown
  kubectl gatehouse diff cluster:acme-field-services config/samples`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			if format != "text" && format != "markdown" {
				return usageError("--format must be text or markdown, not %q", format)
			}
			oldSet, err := readSide(e, args[0], tenant, cluster)
			if err != nil {
				return err
			}
			newSet, err := readSide(e, args[1], tenant, cluster)
			if err != nil {
				return err
			}
			out := diffSets(args[0], args[1], oldSet, newSet)
			if ok, err := e.structured(out); ok {
				return err
			}
			if format == "markdown" {
				printDiffMarkdown(e, out)
			} else {
				printDiffText(e, out)
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&format, "format", "text", "text or markdown")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("text", "markdown"))
	cmd.Flags().StringVar(&tenant, "tenant", "", "tenant of objects without a namespace (default: a kustomization's namespace, else \"default\")")
	cluster.addFlags(cmd)
	return cmd
}

// readSide reads a directory, a file, git:REV:PATH or cluster:NAMESPACE.
func readSide(e *env, spec, tenant string, cluster clusterFlags) (*manifest.Set, error) {
	if ns, ok := clusterNamespace(spec); ok {
		return readCluster(e.ctx, cluster, ns)
	}
	rest, ok := strings.CutPrefix(spec, "git:")
	if !ok {
		return readManifests(e, []string{spec}, tenant)
	}
	rev, path, ok := strings.Cut(rest, ":")
	if !ok || rev == "" {
		return nil, usageError("%s: want git:REV:PATH", spec)
	}
	if path == "" {
		path = "."
	}
	dir, err := os.MkdirTemp("", "gatehouse-diff-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }() // best-effort cleanup of a temp dir
	if err := gitExtract(rev, path, dir); err != nil {
		return nil, usageError("%s: %v", spec, err)
	}
	set, err := readManifests(e, []string{filepath.Join(dir, path)}, tenant)
	if err != nil {
		return nil, err
	}
	// Name files as git:REV:FILE rather than by the temporary directory.
	for _, o := range set.Objects {
		if rel, err := filepath.Rel(dir, o.Doc.File); err == nil {
			o.Doc.File = "git:" + rev + ":" + filepath.ToSlash(rel)
		}
	}
	return set, nil
}

// gitExtract writes the files of path at rev into dir.
func gitExtract(rev, path, dir string) error {
	top, err := exec.Command("git", "rev-parse", "--show-toplevel").Output()
	if err != nil {
		return errors.New("not in a git repository")
	}
	var out, stderr bytes.Buffer
	cmd := exec.Command("git", "archive", "--format=tar", rev, "--", path)
	cmd.Dir = strings.TrimSpace(string(top))
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

// diffSets compiles every tenant of both sets and diffs them.
func diffSets(oldName, newName string, oldSet, newSet *manifest.Set) diffOutput {
	out := diffOutput{Old: oldName, New: newName, Tenants: []tenantDiff{}}
	tenants := append(oldSet.Tenants(), newSet.Tenants()...)
	sort.Strings(tenants)
	for i, t := range tenants {
		if i > 0 && tenants[i-1] == t {
			continue
		}
		d := tenantDiff{Tenant: t}
		var oldSnap, newSnap *snapshot.Snapshot
		if contains(oldSet.Tenants(), t) {
			b := compileTenant(oldSet, t)
			oldSnap, d.OldProblems = b.snap, len(b.problems)
		}
		if contains(newSet.Tenants(), t) {
			b := compileTenant(newSet, t)
			newSnap, d.NewProblems = b.snap, len(b.problems)
		}
		d.Changes = snapshot.Diff(oldSnap, newSnap)
		out.Tenants = append(out.Tenants, d)
	}
	return out
}

// grantWords describes a permission change's grant.
func grantWords(p snapshot.PermissionChange) string {
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

func sign(change string) string {
	if change == snapshot.Gained {
		return "+"
	}
	return "-"
}

func printDiffText(e *env, out diffOutput) {
	w := e.stdout
	changed := false
	for _, t := range out.Tenants {
		if t.Empty() && t.OldProblems == t.NewProblems {
			continue
		}
		changed = true
		fmt.Fprintf(w, "%s %s: revision %s → %s\n", e.paint(bold, "tenant"), t.Tenant, orNone(t.FromRevision), orNone(t.ToRevision))
		if t.NewProblems > 0 || t.OldProblems > 0 {
			fmt.Fprintf(w, "  compile problems: %d → %d (objects with problems are left out; see gatehouse compile)\n", t.OldProblems, t.NewProblems)
		}
		for _, p := range t.Permissions {
			line := fmt.Sprintf("  %s %s %s: %s (via %s)", sign(p.Change), p.Change, grantWords(p), strings.Join(p.Subjects, ", "), strings.Join(p.Groups, ", "))
			fmt.Fprintln(w, colorChange(e, p.Change, line))
		}
		for _, f := range t.Fields {
			fmt.Fprintf(w, "  ~ field %s.%s: %s → %s: %s\n", f.Resource, f.Field, f.From, f.To, strings.Join(f.Subjects, ", "))
		}
		for _, a := range t.Approvals {
			verb := "became approver of"
			if a.Change == snapshot.Lost {
				verb = "no longer approver of"
			}
			line := fmt.Sprintf("  %s %s %s step %s: %s", sign(a.Change), verb, a.Resource, a.Step, strings.Join(a.Subjects, ", "))
			fmt.Fprintln(w, colorChange(e, a.Change, line))
		}
	}
	if !changed {
		fmt.Fprintln(w, "no access changes")
	}
}

func colorChange(e *env, change, s string) string {
	if change == snapshot.Gained {
		return e.paint(green, s)
	}
	return e.paint(red, s)
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}

func printDiffMarkdown(e *env, out diffOutput) {
	w := e.stdout
	fmt.Fprintf(w, "### Gatehouse access changes\n\n`%s` → `%s`\n", out.Old, out.New)
	changed := false
	for _, t := range out.Tenants {
		if t.Empty() && t.OldProblems == t.NewProblems {
			continue
		}
		changed = true
		fmt.Fprintf(w, "\n#### Tenant `%s`\n\n", t.Tenant)
		if t.NewProblems > 0 {
			fmt.Fprintf(w, "> **Warning:** %d compile problem(s) in the new version; objects with problems are left out. Run `gatehouse compile`.\n\n", t.NewProblems)
		}
		if len(t.Permissions) > 0 {
			fmt.Fprintln(w, "| | Permission | Subjects | Via groups |")
			fmt.Fprintln(w, "|---|---|---|---|")
			for _, p := range t.Permissions {
				fmt.Fprintf(w, "| %s | %s | %s | %s |\n", mdSign(p.Change), mdEscape(grantWords(p)), mdEscape(strings.Join(p.Subjects, ", ")), mdEscape(strings.Join(p.Groups, ", ")))
			}
			fmt.Fprintln(w)
		}
		if len(t.Fields) > 0 {
			fmt.Fprintln(w, "| Field | From | To | Subjects |")
			fmt.Fprintln(w, "|---|---|---|---|")
			for _, f := range t.Fields {
				fmt.Fprintf(w, "| `%s.%s` | %s | %s | %s |\n", f.Resource, f.Field, f.From, f.To, mdEscape(strings.Join(f.Subjects, ", ")))
			}
			fmt.Fprintln(w)
		}
		if len(t.Approvals) > 0 {
			fmt.Fprintln(w, "| | Approver of | Step | Subjects |")
			fmt.Fprintln(w, "|---|---|---|---|")
			for _, a := range t.Approvals {
				fmt.Fprintf(w, "| %s | %s | %s | %s |\n", mdSign(a.Change), a.Resource, a.Step, mdEscape(strings.Join(a.Subjects, ", ")))
			}
			fmt.Fprintln(w)
		}
	}
	if !changed {
		fmt.Fprintln(w, "\nNo access changes.")
	}
}

func mdSign(change string) string {
	if change == snapshot.Gained {
		return "➕ gained"
	}
	return "➖ lost"
}

func mdEscape(s string) string {
	return strings.NewReplacer("|", `\|`, "\n", " ").Replace(s)
}
