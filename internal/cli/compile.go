package cli

import (
	"fmt"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/manifest"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// compileProblem is a Problem with the position of the offending field.
type compileProblem struct {
	Pos string `json:"pos,omitempty"`
	snapshot.Problem
}

// compileTenantResult is the compile result of one tenant.
type compileTenantResult struct {
	Tenant   string           `json:"tenant"`
	Revision string           `json:"revision"`
	Counts   snapshot.Counts  `json:"counts"`
	Problems []compileProblem `json:"problems"`
}

// compileResult is the output of gatehouse compile.
type compileResult struct {
	Tenants  []compileTenantResult `json:"tenants"`
	Problems int                   `json:"problems"`
}

func newCompileCmd(e *env) *cobra.Command {
	var src source
	cmd := &cobra.Command{
		Use:   "compile -f DIR|FILE|- ...",
		Short: "Compile manifests and report every problem with file:line",
		Long: `Compile reads the manifests, compiles each tenant exactly as the operator
does, prints a summary per tenant (revision, counts) and every problem with
its file:line, object, field, reason and message.

Objects with problems would be left out on a cluster (and so would objects
depending on them). Exit code 1 when there is any problem.`,
		Example: `  gatehouse compile -f config/samples
  kustomize build overlays/prod | gatehouse compile -f -`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			set, err := src.readLean(e)
			if err != nil {
				return err
			}
			res := compileSet(e, set, src.tenant)
			if len(res.Tenants) == 0 {
				return usageError("no Gatehouse objects found in %s", src.where())
			}
			if ok, err := e.structured(res); ok {
				if err == nil && res.Problems > 0 {
					return failed()
				}
				return err
			}
			for _, t := range res.Tenants {
				c := t.Counts
				fmt.Fprintf(e.stdout, "%s %s: revision %s: %d roles, %d groups, %d subjects, %d field policies, %d approval chains\n",
					e.paint(bold, "tenant"), t.Tenant, t.Revision, c.Roles, c.Groups, c.Subjects, c.FieldPolicies, c.ApprovalChains)
				for _, p := range t.Problems {
					obj := p.Kind + " " + p.Name
					if p.Field != "" {
						obj += " " + p.Field
					}
					msg := strings.ReplaceAll(p.Message, "\n", "\n      ")
					fmt.Fprintf(e.stdout, "  %s: %s: %s: %s\n", p.Pos, obj, e.paint(red, p.Reason), msg)
				}
			}
			switch res.Problems {
			case 0:
				fmt.Fprintln(e.stdout, e.paint(green, "no problems"))
				return nil
			case 1:
				fmt.Fprintln(e.stdout, e.paint(red, "1 problem"))
			default:
				fmt.Fprintln(e.stdout, e.paint(red, fmt.Sprintf("%d problems", res.Problems)))
			}
			return failed()
		},
	}
	src.addFlags(cmd, "tenant of objects without a namespace (default: a kustomization's namespace, else \"default\")")
	return cmd
}

// compileSet compiles every tenant of the set (concurrently) and locates
// the problems; defTenant is the --tenant flag.
func compileSet(e *env, set *manifest.Set, defTenant string) compileResult {
	var res compileResult
	tenants := set.Tenants()
	builds := compileAll(set, tenants, snapshot.DefaultLimits())
	pf := &problemFinder{e: e, set: set, defTenant: defTenant}
	for i, tenant := range tenants {
		b := builds[i]
		builds[i] = nil
		t := compileTenantResult{Tenant: tenant, Revision: b.snap.Revision(), Counts: b.snap.Counts(), Problems: []compileProblem{}}
		if len(b.problems) > 0 {
			find := pf.finder(tenant)
			for _, p := range b.problems {
				cp := compileProblem{Problem: p}
				if o := find(p.Kind, p.Name); o != nil {
					cp.Pos = o.FieldPos(p.Field)
				}
				t.Problems = append(t.Problems, cp)
			}
		}
		res.Problems += len(t.Problems)
		res.Tenants = append(res.Tenants, t)
	}
	return res
}
