package cli

import (
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/views"
)

// Access levels of the role matrix: the coarse levels of views.Level.
const (
	AccessFull    = string(views.Full)    // every record, unconditionally
	AccessPartial = string(views.Partial) // only some records: a scope or a condition
	AccessNone    = string(views.None)
)

// matrixRow is one module/action of the role matrix.
type matrixRow struct {
	Module string            `json:"module"`
	Action string            `json:"action"`
	Access map[string]string `json:"access"`
}

// matrixOutput is the output of gatehouse matrix.
type matrixOutput struct {
	Tenant string      `json:"tenant"`
	Roles  []string    `json:"roles"`
	Rows   []matrixRow `json:"rows"`
}

func newMatrixCmd(e *env) *cobra.Command {
	var (
		src    source
		format string
	)
	cmd := &cobra.Command{
		Use:   "matrix -f DIR [--format text|csv|markdown]",
		Short: "Print the role × module/action table (full / partial / none)",
		Long: `Matrix prints, for every compiled role and every module/action the
tenant's objects name, whether a holder of the role alone may act on
every record (full: scope all without condition, or fullAccess), only on some
(partial: a scope such as own, unitTree or company, or a condition), or none.

It is computed with the compiler itself: each role is given to a synthetic
member of a one-role group (with a placeholder unit, company and facility),
and the query plan of every module/action decides the level. Group
restrictions are not part of a role, so they do not show here.`,
		Example: `  gatehouse matrix -f config/samples
  gatehouse matrix -f config/samples --format markdown > docs/roles.md`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			switch format {
			case "text", "csv", "markdown":
			default:
				return usageError("--format must be text, csv or markdown, not %q", format)
			}
			b, err := src.one(e)
			if err != nil {
				return err
			}
			m, err := views.RoleLevels(b.tenant, b.objs, b.snap)
			if err != nil {
				return err
			}
			out := coarseMatrix(m)
			if ok, err := e.structured(out); ok {
				return err
			}
			if format == "csv" {
				return m.WriteCSV(e.stdout, true)
			}
			return printMatrix(e, out, format)
		},
	}
	src.addFlags(cmd, "tenant to tabulate (default: the only tenant of the manifests)")
	cmd.Flags().StringVar(&format, "format", "text", "table format: text, csv or markdown")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("text", "csv", "markdown"))
	return cmd
}

// coarseMatrix is the output of a views.RoleLevels, in its coarse levels.
func coarseMatrix(m views.LevelMatrix) matrixOutput {
	out := matrixOutput{Tenant: m.Tenant, Roles: m.RoleNames(), Rows: []matrixRow{}}
	for _, r := range m.Rows {
		row := matrixRow{Module: r.Module, Action: r.Action, Access: map[string]string{}}
		for i, c := range r.Cells {
			row.Access[out.Roles[i]] = string(c.Level.Coarse())
		}
		out.Rows = append(out.Rows, row)
	}
	return out
}

func printMatrix(e *env, out matrixOutput, format string) error {
	switch format {
	case "markdown":
		fmt.Fprintf(e.stdout, "| Module | Action | %s |\n", strings.Join(out.Roles, " | "))
		fmt.Fprintf(e.stdout, "|---|---|%s\n", strings.Repeat(":---:|", len(out.Roles)))
		for _, r := range out.Rows {
			cells := make([]string, len(out.Roles))
			for i, role := range out.Roles {
				cells[i] = r.Access[role]
			}
			fmt.Fprintf(e.stdout, "| %s | %s | %s |\n", r.Module, r.Action, strings.Join(cells, " | "))
		}
		fmt.Fprintln(e.stdout)
		fmt.Fprintln(e.stdout, "full: every record; partial: only some records (a scope such as own, assigned or unitTree, or a condition); none: no record.")
		return nil
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "MODULE\tACTION\t%s\n", strings.Join(out.Roles, "\t"))
	for _, r := range out.Rows {
		cells := make([]string, len(out.Roles))
		for i, role := range out.Roles {
			cells[i] = r.Access[role]
			if cells[i] == AccessNone {
				cells[i] = "-"
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\n", r.Module, r.Action, strings.Join(cells, "\t"))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintln(e.stdout, "\nfull: every record; partial: only some records (scope or condition); -: none")
	return nil
}
