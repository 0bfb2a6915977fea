package cli

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/views"
)

// diffOutput is the output of gatehouse diff (computed by internal/views,
// shared with the console).
type diffOutput = views.DiffOutput

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
	rev, path, ok, err := views.GitSpec(spec)
	if !ok {
		return readManifests(e, []string{spec}, tenant)
	}
	if err != nil {
		return nil, usageError("%v", err)
	}
	dir, err := os.MkdirTemp("", "gatehouse-diff-")
	if err != nil {
		return nil, err
	}
	defer func() { _ = os.RemoveAll(dir) }() // best-effort cleanup of a temp dir
	top, err := views.GitTop("")
	if err == nil {
		err = views.GitExtract(top, rev, path, dir)
	}
	if err != nil {
		return nil, usageError("%s: %v", spec, err)
	}
	set, err := readManifests(e, []string{filepath.Join(dir, path)}, tenant)
	if err != nil {
		return nil, err
	}
	views.NameGitFiles(set, dir, rev)
	return set, nil
}

// diffSets compiles every tenant of both sets and diffs them.
func diffSets(oldName, newName string, oldSet, newSet *manifest.Set) diffOutput {
	return views.DiffSets(oldName, newName, oldSet, newSet)
}

// grantWords describes a permission change's grant.
func grantWords(p snapshot.PermissionChange) string { return views.GrantWords(p) }

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
