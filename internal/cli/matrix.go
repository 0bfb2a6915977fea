package cli

import (
	"encoding/csv"
	"fmt"
	"sort"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Access levels of the role matrix.
const (
	AccessFull    = "full"    // every record, unconditionally
	AccessPartial = "partial" // only some records: a scope or a condition
	AccessNone    = "none"
)

// matrixPrefix names the synthetic groups and subjects of the matrix.
const matrixPrefix = "gatehouse-matrix"

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
			out, err := roleMatrix(b)
			if err != nil {
				return err
			}
			if ok, err := e.structured(out); ok {
				return err
			}
			return printMatrix(e, out, format)
		},
	}
	src.addFlags(cmd, "tenant to tabulate (default: the only tenant of the manifests)")
	cmd.Flags().StringVar(&format, "format", "text", "table format: text, csv or markdown")
	_ = cmd.RegisterFlagCompletionFunc("format", fixedCompletion("text", "csv", "markdown"))
	return cmd
}

// matrixColumns lists the module/actions the tenant's objects name, modules
// sorted, actions in the order they first appear.
func matrixColumns(objs snapshot.Objects) (modules []string, actions map[string][]string) {
	actions = map[string][]string{}
	add := func(module, action string) {
		if _, ok := actions[module]; !ok {
			modules = append(modules, module)
			actions[module] = nil
		}
		if action != "" && !contains(actions[module], action) {
			actions[module] = append(actions[module], action)
		}
	}
	var wildActions []string // actions granted on "*"
	for _, r := range objs.Roles {
		for _, p := range r.Spec.Permissions {
			for _, m := range p.Resources {
				for _, a := range p.Actions {
					switch {
					case m == "*" && a != "*":
						if !contains(wildActions, string(a)) {
							wildActions = append(wildActions, string(a))
						}
					case m != "*" && a != "*":
						add(string(m), string(a))
					case m != "*":
						add(string(m), "")
					}
				}
			}
		}
	}
	for _, c := range objs.ApprovalChains {
		add(string(c.Spec.Resource), string(c.Spec.EffectiveAction()))
	}
	for _, fp := range objs.FieldPolicies {
		add(string(fp.Spec.Resource), "")
	}
	for _, m := range modules {
		for _, a := range wildActions {
			add(m, a)
		}
	}
	sort.Strings(modules)
	return modules, actions
}

// roleMatrix computes the matrix of a compiled tenant.
func roleMatrix(b *tenantBuild) (matrixOutput, error) {
	out := matrixOutput{Tenant: b.tenant, Roles: []string{}, Rows: []matrixRow{}}
	objs := b.objs
	// A copy with one synthetic group per compiled role.
	synth := objs
	synth.Groups = append([]v1alpha1.UserGroup(nil), objs.Groups...)
	for _, r := range objs.Roles {
		if !b.snap.HasRole(r.Name) || contains(out.Roles, r.Name) {
			continue
		}
		g := v1alpha1.UserGroup{}
		g.Name = matrixPrefix + "-" + r.Name
		if b.snap.HasGroup(g.Name) {
			return out, fmt.Errorf("group %s exists: it is reserved for the matrix", g.Name)
		}
		g.Spec.Members = []v1alpha1.SubjectID{v1alpha1.SubjectID(matrixPrefix + ":" + r.Name)}
		g.Spec.Roles = []v1alpha1.ObjectName{v1alpha1.ObjectName(r.Name)}
		g.Spec.Attributes = map[string]v1alpha1.AttributeValue{
			snapshot.AttrUnit:       v1alpha1.StringAttribute("/" + matrixPrefix),
			snapshot.AttrCompany:    v1alpha1.StringAttribute(matrixPrefix),
			snapshot.AttrFacilities: v1alpha1.ListAttribute(matrixPrefix),
		}
		synth.Groups = append(synth.Groups, g)
		out.Roles = append(out.Roles, r.Name)
	}
	s, problems := snapshot.Compile(b.tenant, synth)
	if len(problems) > len(b.problems) {
		return out, fmt.Errorf("matrix: synthetic groups did not compile: %v", problems)
	}
	modules, actions := matrixColumns(objs)
	for _, m := range modules {
		for _, a := range actions[m] {
			row := matrixRow{Module: m, Action: a, Access: map[string]string{}}
			for _, role := range out.Roles {
				sub := snapshot.Subject{ID: matrixPrefix + ":" + role}
				switch s.Plan(sub, a, m).Kind {
				case snapshot.PlanAlways:
					row.Access[role] = AccessFull
				case snapshot.PlanConditional:
					row.Access[role] = AccessPartial
				default:
					row.Access[role] = AccessNone
				}
			}
			out.Rows = append(out.Rows, row)
		}
	}
	return out, nil
}

func printMatrix(e *env, out matrixOutput, format string) error {
	switch format {
	case "csv":
		w := csv.NewWriter(e.stdout)
		_ = w.Write(append([]string{"module", "action"}, out.Roles...))
		for _, r := range out.Rows {
			rec := []string{r.Module, r.Action}
			for _, role := range out.Roles {
				rec = append(rec, r.Access[role])
			}
			_ = w.Write(rec)
		}
		w.Flush()
		return w.Error()
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
