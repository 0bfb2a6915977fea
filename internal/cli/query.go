package cli

import (
	"errors"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/views"
)

// subjectFlags are the flags that describe a subject.
type subjectFlags struct {
	id     string
	groups []string
	props  []string
}

func (f *subjectFlags) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.id, "subject", "", "subject ID, as listed in UserGroup members (required)")
	cmd.Flags().StringArrayVar(&f.groups, "group", nil, "identity-provider group of the subject, matched against externalGroups (repeatable)")
	cmd.Flags().StringArrayVar(&f.props, "subject-prop", nil, "subject property KEY=VALUE, e.g. unit=/ca/ab or companies=a,b (repeatable)")
}

func (f *subjectFlags) subject() (snapshot.Subject, error) {
	if f.id == "" {
		return snapshot.Subject{}, usageError("--subject is required")
	}
	props, err := parseProps(f.props)
	if err != nil {
		return snapshot.Subject{}, err
	}
	sub, err := makeSubject(f.id, f.groups, props)
	if err != nil {
		return sub, usageError("%v", err)
	}
	return sub, nil
}

// resourceFlags are the flags that describe a record.
type resourceFlags struct {
	props []string
}

func (f *resourceFlags) addFlags(cmd *cobra.Command) {
	cmd.Flags().StringArrayVar(&f.props, "prop", nil, "record property KEY=VALUE, e.g. ownerId=bob, assigneeIds=a,b, amount=3000, approvals=step:by (repeatable)")
}

func (f *resourceFlags) resource(typeAndID string) (snapshot.Resource, error) {
	typ, id := splitResource(typeAndID)
	if typ == "" {
		return snapshot.Resource{}, usageError("resource: want TYPE or TYPE/ID, got %q", typeAndID)
	}
	props, err := parseProps(f.props)
	if err != nil {
		return snapshot.Resource{}, err
	}
	res, err := makeResource(typ, id, props)
	if err != nil {
		return res, usageError("%v", err)
	}
	return res, nil
}

// checkOutput is the output of gatehouse check.
type checkOutput struct {
	Tenant   string `json:"tenant"`
	Subject  string `json:"subject"`
	Action   string `json:"action"`
	Resource string `json:"resource"`
	snapshot.Decision
	Message string `json:"message"`
	// With --explain:
	Actions []string                    `json:"actions,omitempty"`
	Fields  *snapshot.FieldAccessResult `json:"fields,omitempty"`
}

func newCheckCmd(e *env) *cobra.Command {
	var (
		src      source
		sf       subjectFlags
		rf       resourceFlags
		action   string
		resource string
		explain  bool
	)
	cmd := &cobra.Command{
		Use:   "check -f DIR --subject ID --action ACTION --resource TYPE[/ID] [--prop K=V ...]",
		Short: "Decide one request and explain the decision",
		Long: `Check answers whether the subject may perform the action on the record,
with the reason code and the grant that allowed it. With --explain it also
lists every action the subject may perform on the record and its field access.

Exit code 0 when allowed, 1 when denied.`,
		Example: `  gatehouse check -f config/samples --subject tom.tech --action edit \
    --resource workorders/42 --prop unit=/ca/ab/calgary --explain
  gatehouse check -f config/samples --subject alice --group acme-staff \
    --action view --resource workorders/7 --prop ownerId=alice`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if action == "" || resource == "" {
				return usageError("--action and --resource are required")
			}
			sub, err := sf.subject()
			if err != nil {
				return err
			}
			res, err := rf.resource(resource)
			if err != nil {
				return err
			}
			b, err := src.one(e)
			if err != nil {
				return err
			}
			req := &snapshot.Request{Subject: sub, Action: action, Resource: res}
			d := b.snap.Check(req)
			out := checkOutput{Tenant: b.tenant, Subject: sub.ID, Action: action, Resource: resource, Decision: d, Message: views.ReasonText(d.Reason)}
			if explain {
				out.Actions = b.snap.Actions(sub, res)
				if out.Actions == nil {
					out.Actions = []string{}
				}
				f := b.snap.Fields(req)
				out.Fields = &f
			}
			if ok, err := e.structured(out); ok {
				if err == nil && !d.Allowed {
					return failed()
				}
				return err
			}
			printDecision(e, out, explain)
			if !d.Allowed {
				return failed()
			}
			return nil
		},
	}
	src.addFlags(cmd, "tenant to query (default: the only tenant of the manifests)")
	sf.addFlags(cmd)
	rf.addFlags(cmd)
	cmd.Flags().StringVar(&action, "action", "", "action, e.g. view or edit (required)")
	cmd.Flags().StringVar(&resource, "resource", "", "record as TYPE or TYPE/ID, e.g. workorders/42 (required)")
	cmd.Flags().BoolVar(&explain, "explain", false, "also list the subject's actions on the record and its field access")
	return cmd
}

// describeMatch renders the grant of a decision.
func describeMatch(m *snapshot.Match) string { return views.DescribeMatch(m) }

func printDecision(e *env, out checkOutput, explain bool) {
	w := e.stdout
	if out.Allowed {
		fmt.Fprintf(w, "%s: %s may %s %s\n", e.paint(green, "allowed"), out.Subject, out.Action, out.Resource)
		fmt.Fprintf(w, "  granted by %s\n", describeMatch(out.Matched))
	} else {
		fmt.Fprintf(w, "%s: %s may not %s %s\n", e.paint(red, "denied"), out.Subject, out.Action, out.Resource)
		fmt.Fprintf(w, "  reason %s: %s\n", out.Reason, out.Message)
	}
	if !explain {
		return
	}
	fmt.Fprintf(w, "  actions on this record: %s\n", listOrNone(out.Actions))
	f := out.Fields
	if f == nil {
		return
	}
	if f.Reason != "" {
		fmt.Fprintf(w, "  fields: none readable or writable (reason %s)\n", f.Reason)
		return
	}
	if !f.Covered {
		fmt.Fprintln(w, "  fields: no FieldPolicy covers this module (every field writable)")
		return
	}
	fmt.Fprintf(w, "  fields (unlisted fields: %s):\n", f.Default)
	fmt.Fprintf(w, "    writable: %s\n", listOrNone(f.Writable))
	fmt.Fprintf(w, "    readable: %s\n", listOrNone(f.Readable))
	fmt.Fprintf(w, "    hidden:   %s\n", listOrNone(f.Hidden))
}

func listOrNone(xs []string) string {
	if len(xs) == 0 {
		return "(none)"
	}
	return strings.Join(xs, ", ")
}

// whoCanOutput is the output of gatehouse who-can.
type whoCanOutput struct {
	Tenant   string             `json:"tenant"`
	Action   string             `json:"action"`
	Resource string             `json:"resource"`
	Subjects []snapshot.Grantee `json:"subjects"`
}

func newWhoCanCmd(e *env) *cobra.Command {
	var (
		src source
		rf  resourceFlags
	)
	cmd := &cobra.Command{
		Use:   "who-can -f DIR ACTION TYPE[/ID] [--prop K=V ...]",
		Short: "List the known members who may perform an action on a record",
		Long: `Who-can lists the subjects listed in groups (directly or through
memberGroups) who may perform the action on the record described by --prop,
each with the grant that allows it. Only group attributes are known for
them: request-time properties and identity-provider groups are not, so
users reached only through externalGroups are not listed.`,
		Example: `  gatehouse who-can -f config/samples edit workorders --prop unit=/ca/ab/calgary
  gatehouse who-can -f config/samples approve purchaseorders --prop amount=3000 --prop unit=/ca/ab/calgary`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			res, err := rf.resource(args[1])
			if err != nil {
				return err
			}
			b, err := src.one(e)
			if err != nil {
				return err
			}
			out := whoCanOutput{Tenant: b.tenant, Action: args[0], Resource: args[1], Subjects: b.snap.WhoCan(args[0], res)}
			if out.Subjects == nil {
				out.Subjects = []snapshot.Grantee{}
			}
			if ok, err := e.structured(out); ok {
				return err
			}
			if len(out.Subjects) == 0 {
				fmt.Fprintf(e.stdout, "nobody may %s %s\n", out.Action, out.Resource)
				return nil
			}
			tw := tabwriter.NewWriter(e.stdout, 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "SUBJECT\tROLE\tGROUP\tGRANT")
			for _, g := range out.Subjects {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", g.Subject, g.Via.Role, g.Via.Group, grantText(g.Via))
			}
			return tw.Flush()
		},
	}
	src.addFlags(cmd, "tenant to query (default: the only tenant of the manifests)")
	rf.addFlags(cmd)
	return cmd
}

// grantText is the short form of a grant for tables.
func grantText(m *snapshot.Match) string { return views.GrantText(m) }

// planOutput is the output of gatehouse can-i-list.
type planOutput struct {
	Tenant   string        `json:"tenant"`
	Subject  string        `json:"subject"`
	Action   string        `json:"action"`
	Resource string        `json:"resource"`
	Plan     snapshot.Plan `json:"plan"`
	SQL      string        `json:"sql,omitempty"`
	Args     []any         `json:"args,omitempty"`
}

func newCanIListCmd(e *env) *cobra.Command {
	var (
		src     source
		sf      subjectFlags
		sql     bool
		columns []string
	)
	cmd := &cobra.Command{
		Use:   "can-i-list -f DIR --subject ID ACTION TYPE [--sql --column PROP=COLUMN ...]",
		Short: "Show which records a subject may act on (the query plan)",
		Long: `Can-i-list prints the plan for a list screen or an export: always (every
record), never (with the reason) or conditional with a filter over record
properties. With --sql the filter is rendered as a parameterized PostgreSQL
WHERE fragment; --column maps a property to its column (unmapped properties
and untranslatable conditions are errors rather than a broader filter).`,
		Example: `  gatehouse can-i-list -f config/samples --subject alex.apprentice view workorders
  gatehouse can-i-list -f config/samples --subject alex.apprentice view workorders \
    --sql --column ownerId=owner_id --column assigneeIds=assignee_ids`,
		Args: cobra.ExactArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			sub, err := sf.subject()
			if err != nil {
				return err
			}
			cols := map[string]string{}
			for _, c := range columns {
				k, v, ok := strings.Cut(c, "=")
				if !ok || k == "" || v == "" {
					return usageError("--column %q: want PROPERTY=COLUMN", c)
				}
				cols[k] = v
			}
			b, err := src.one(e)
			if err != nil {
				return err
			}
			p := b.snap.Plan(sub, args[0], args[1])
			out := planOutput{Tenant: b.tenant, Subject: sub.ID, Action: args[0], Resource: args[1], Plan: p}
			if sql {
				q, qargs, err := p.SQL(cols)
				var colErr *snapshot.ColumnError
				if errors.As(err, &colErr) {
					// A --column value that is not an identifier is a usage error.
					return usageError("--column %s", err)
				}
				if err != nil {
					return &exitError{code: ExitFailed, err: fmt.Errorf("SQL: %w", err)}
				}
				out.SQL, out.Args = q, qargs
			}
			if ok, err := e.structured(out); ok {
				return err
			}
			switch p.Kind {
			case snapshot.PlanAlways:
				fmt.Fprintf(e.stdout, "always: %s may %s every %s record\n", sub.ID, args[0], args[1])
			case snapshot.PlanNever:
				fmt.Fprintf(e.stdout, "never: %s may %s no %s record (%s)\n", sub.ID, args[0], args[1], p.Reason)
			default:
				fmt.Fprintf(e.stdout, "conditional: %s may %s the %s records where\n  %s\n", sub.ID, args[0], args[1], filterText(p.Filter))
			}
			if sql {
				fmt.Fprintf(e.stdout, "SQL: %s\n", out.SQL)
				for i, a := range out.Args {
					fmt.Fprintf(e.stdout, "  $%d = %s\n", i+1, valueText(a))
				}
			}
			return nil
		},
	}
	src.addFlags(cmd, "tenant to query (default: the only tenant of the manifests)")
	sf.addFlags(cmd)
	cmd.Flags().BoolVar(&sql, "sql", false, "render the plan as a SQL WHERE fragment")
	cmd.Flags().StringArrayVar(&columns, "column", nil, "PROPERTY=COLUMN for --sql, e.g. ownerId=owner_id (repeatable)")
	return cmd
}

// filterText renders a filter for people.
func filterText(f *snapshot.Filter) string { return views.FilterText(f) }

func valueText(v any) string { return views.ValueText(v) }
