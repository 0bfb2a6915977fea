package cli

import (
	"fmt"
	"io"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/spf13/cobra"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// auditNow is the time --since and --until durations count back from; a
// variable for tests.
var auditNow = time.Now

// outputMarkdown is accepted by -o for the audit commands only.
const outputMarkdown = "markdown"

// Bounds of what a table cell quotes from a trail (a trail may hold
// anything a client sent: names are cut and control characters escaped).
const (
	auditNameMax   = 64
	auditReasonMax = 160
)

// auditFlags are the flags every audit question takes.
type auditFlags struct {
	tenant, since, until string
	subject, action      string
	resource, user       string
	markdown             bool
}

const auditLong = `Audit answers questions from Gatehouse audit trails: the JSON lines the
manager writes (--audit-log), files an HTTP sink receiver stored
(CloudEvents, one per line, or batch arrays), or a shared log stream:
lines that are not audit records are skipped (and counted on stderr).

FILE|DIR|- are trail files, directories (every regular file inside) or "-"
for standard input. Give the trails of every replica: an object change is
joined with the admission that let it in (who asked, their groups, the
GitOps source) whichever replica wrote each, and a snapshot served by
several replicas is shown once, with the replicas that served it. A change
whose admission is not in the trails has an unknown author (with its GitOps
source when known). Dry runs are never listed.

--since and --until take an RFC 3339 time (2026-11-30T10:00:00Z) or a
duration back from now (7d, 36h, 90m). Output: -o table (default),
-o markdown, -o json or -o yaml. Cells quote at most a bounded prefix of
each name, with control characters escaped.`

func newAuditCmd(e *env) *cobra.Command {
	var af auditFlags
	cmd := &cobra.Command{
		Use:   "audit QUESTION [flags] FILE|DIR|-...",
		Short: "Answer who changed what from audit trails (who granted, by user, changes, denials)",
		Long:  auditLong,
		Example: `  gatehouse audit who-granted --subject alice --action approve --resource purchaseorders trails/
  gatehouse audit by --user bob --since 7d replica-a.jsonl replica-b.jsonl
  gatehouse audit changes --tenant acme --since 2026-11-30T00:00:00Z --until 36h trails/
  kubectl logs deploy/gatehouse | gatehouse audit denied -`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if len(args) == 0 {
				return &exitError{code: ExitUsage, err: fmt.Errorf("audit needs a question: %s", auditQuestions), hint: true}
			}
			return &exitError{code: ExitUsage, err: fmt.Errorf("unknown question %s: want %s", audit.QuotePrefix(args[0], 24), auditQuestions), hint: true}
		},
		// -o markdown is accepted here (and only here) before the root's
		// check of --output.
		PersistentPreRunE: func(cmd *cobra.Command, args []string) error {
			switch e.output {
			case outputMarkdown:
				e.output, af.markdown = OutputTable, true
			case OutputTable, OutputJSON, OutputYAML:
			default:
				return usageError("--output must be table, markdown, json or yaml, not %s", audit.QuotePrefix(e.output, 24))
			}
			if pre := cmd.Root().PersistentPreRunE; pre != nil {
				return pre(cmd, args)
			}
			return nil
		},
	}
	pf := cmd.PersistentFlags()
	pf.StringVar(&af.tenant, "tenant", "", "only this tenant")
	pf.StringVar(&af.since, "since", "", "only from this time: RFC 3339 or a duration back from now (7d, 36h)")
	pf.StringVar(&af.until, "until", "", "only before this time: RFC 3339 or a duration back from now")

	whoGranted := &cobra.Command{
		Use:   "who-granted (--subject S | --action A | --resource R)... FILE|DIR|-...",
		Short: "Who made the changes that gave a subject an action on a resource, and when",
		Long: `Who-granted lists every served snapshot in which a subject gained a
permission (or full access), a wider field access or an approver role
matching --subject, --action and --resource, with the author of each object
change that snapshot served. The action of a field is the level gained
(read or write), of an approver role "approve".`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if af.subject == "" && af.action == "" && af.resource == "" {
				return usageError("who-granted needs --subject, --action or --resource")
			}
			return runAudit(e, af, args, auditWhoGranted)
		},
	}
	whoGranted.Flags().StringVar(&af.subject, "subject", "", "subject who gained it")
	whoGranted.Flags().StringVar(&af.action, "action", "", "action gained (read/write for fields, approve for approver roles)")
	whoGranted.Flags().StringVar(&af.resource, "resource", "", "resource (module) it is on")
	whoGranted.Flags().StringVar(&af.user, "user", "", "only grants one of whose changes this user made")

	by := &cobra.Command{
		Use:   "by --user U FILE|DIR|-...",
		Short: "What a user asked to change, admitted and denied",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			if af.user == "" {
				return usageError("by needs --user")
			}
			return runAudit(e, af, args, auditBy)
		},
	}
	by.Flags().StringVar(&af.user, "user", "", "Kubernetes user name")

	changes := &cobra.Command{
		Use:   "changes FILE|DIR|-...",
		Short: "Every object change (with its author and what it served), oldest first",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAudit(e, af, args, auditChanges)
		},
	}
	changes.Flags().StringVar(&af.user, "user", "", "only changes this user made")

	denied := &cobra.Command{
		Use:   "denied FILE|DIR|-...",
		Short: "Every denied change, with the reason (escalations, validation, quota)",
		Args:  cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runAudit(e, af, args, auditDenied)
		},
	}
	denied.Flags().StringVar(&af.user, "user", "", "only changes this user asked for")

	cmd.AddCommand(whoGranted, by, changes, denied)
	return cmd
}

// Audit questions.
const (
	auditQuestions  = "who-granted, by, changes or denied"
	auditWhoGranted = "who-granted"
	auditBy         = "by"
	auditChanges    = "changes"
	auditDenied     = "denied"
)

// auditOutput is the JSON (and YAML) output of the audit commands: one of
// the lists is set.
type auditOutput struct {
	Read       audit.ReadStats        `json:"read"`
	Grants     []*audit.Grant         `json:"grants,omitempty"`
	Changes    []*audit.Change        `json:"changes,omitempty"`
	Admissions []audit.AdmissionEntry `json:"admissions,omitempty"`
}

func runAudit(e *env, af auditFlags, paths []string, question string) error {
	now := auditNow()
	f := audit.Filter{Tenant: af.tenant, User: af.user, Subject: af.subject, Action: af.action, Resource: af.resource}
	var err error
	if f.Since, err = parseAuditTime("--since", af.since, now); err != nil {
		return err
	}
	if f.Until, err = parseAuditTime("--until", af.until, now); err != nil {
		return err
	}
	if !f.Since.IsZero() && !f.Until.IsZero() && !f.Since.Before(f.Until) {
		return usageError("--since must be before --until")
	}
	records, stats, err := audit.ReadPaths(paths, e.stdin)
	if err != nil {
		return &exitError{code: ExitUsage, err: err}
	}
	if stats.Skipped > 0 || stats.Duplicates > 0 {
		fmt.Fprintf(e.stderr, "gatehouse: audit: read %d records; skipped %d lines that are not audit records; dropped %d duplicates\n", stats.Records, stats.Skipped, stats.Duplicates)
	}
	ix := audit.NewIndex(records)
	out := auditOutput{Read: stats}
	switch question {
	case auditWhoGranted:
		out.Grants = ix.WhoGranted(f)
	case auditChanges:
		out.Changes = ix.Changes(f)
	case auditBy:
		out.Admissions = ix.Admissions(f)
	case auditDenied:
		out.Admissions = ix.Denied(f)
	}
	if ok, err := e.structured(out); ok {
		return err
	}
	t := newAuditTable(e.stdout, af.markdown)
	switch question {
	case auditWhoGranted:
		printGrants(t, out.Grants, f.Subject)
	case auditChanges:
		printChanges(t, out.Changes)
	case auditBy, auditDenied:
		printAdmissions(t, out.Admissions, question == auditDenied)
	}
	return t.flush()
}

var auditDays = regexp.MustCompile(`^([0-9]{1,5})d$`)

// parseAuditTime parses an RFC 3339 time or a duration back from now.
func parseAuditTime(flag, v string, now time.Time) (time.Time, error) {
	if v == "" {
		return time.Time{}, nil
	}
	if t, err := time.Parse(time.RFC3339, v); err == nil {
		return t, nil
	}
	if m := auditDays.FindStringSubmatch(v); m != nil {
		n, _ := strconv.Atoi(m[1])
		return now.Add(-time.Duration(n) * 24 * time.Hour), nil
	}
	if d, err := time.ParseDuration(v); err == nil && d >= 0 {
		return now.Add(-d), nil
	}
	return time.Time{}, usageError("%s: want an RFC 3339 time (2026-11-30T10:00:00Z) or a duration back from now (7d, 36h), not %s", flag, audit.QuotePrefix(v, 24))
}

// auditTable writes rows as aligned text (columns two spaces apart,
// aligned by characters: cells hold "→" and "…") or as a Markdown table.
type auditTable struct {
	w        io.Writer
	markdown bool
	rows     [][]string // the header first
}

func newAuditTable(w io.Writer, markdown bool) *auditTable {
	return &auditTable{w: w, markdown: markdown}
}

// row adds one row of already cleaned cells; the first row is the header.
func (t *auditTable) row(cells ...string) {
	t.rows = append(t.rows, cells)
}

func (t *auditTable) flush() error {
	if len(t.rows) < 2 {
		_, err := fmt.Fprintln(t.w, "no matching records")
		return err
	}
	var b strings.Builder
	if t.markdown {
		for i, cells := range t.rows {
			md := make([]string, len(cells))
			for j, c := range cells {
				md[j] = auditMarkdownEscape(c)
			}
			fmt.Fprintf(&b, "| %s |\n", strings.Join(md, " | "))
			if i == 0 {
				fmt.Fprintf(&b, "|%s\n", strings.Repeat("---|", len(cells)))
			}
		}
	} else {
		widths := make([]int, len(t.rows[0]))
		for _, cells := range t.rows {
			for j, c := range cells {
				widths[j] = max(widths[j], utf8.RuneCountInString(c))
			}
		}
		for _, cells := range t.rows {
			for j, c := range cells {
				b.WriteString(c)
				if j < len(cells)-1 {
					b.WriteString(strings.Repeat(" ", widths[j]-utf8.RuneCountInString(c)+2))
				}
			}
			b.WriteString("\n")
		}
	}
	_, err := io.WriteString(t.w, b.String())
	return err
}

// auditMarkdownEscape keeps a cell one cell of plain text: no table
// breaks, HTML or code spans.
var auditMarkdownEscape = strings.NewReplacer("|", `\|`, "<", "&lt;", ">", "&gt;", "&", "&amp;", "`", "\\`", "*", `\*`, "_", `\_`, "[", `\[`, "]", `\]`).Replace

// auditClean returns at most max runes of s (then "…") with control, format
// (e.g. bidirectional overrides) and invalid characters escaped, so that a
// cell never carries a terminal escape, a tab or a line break.
func auditClean(s string, max int) string {
	var b strings.Builder
	n := 0
	for i, r := range s {
		if n == max {
			b.WriteString("…")
			break
		}
		n++
		switch {
		case r == utf8.RuneError && len(s[i:]) > 0 && !strings.HasPrefix(s[i:], "\uFFFD"):
			fmt.Fprintf(&b, `\x%02x`, s[i])
		case unicode.IsControl(r) || unicode.Is(unicode.Cf, r) || r == '\u2028' || r == '\u2029':
			if r < 0x100 {
				fmt.Fprintf(&b, `\x%02x`, r)
			} else {
				fmt.Fprintf(&b, `\u%04x`, r)
			}
		default:
			b.WriteRune(r)
		}
	}
	return b.String()
}

func cleanName(s string) string { return auditClean(s, auditNameMax) }

func auditTime(t time.Time) string { return t.UTC().Format(time.RFC3339) }

// shortRev abbreviates a revision (or commit).
func shortRev(rev string) string {
	if len(rev) > 8 {
		return cleanName(rev[:8]) + "…"
	}
	return cleanName(rev)
}

// userText is a user and their groups (system: groups left out).
func userText(u audit.User) string {
	s := cleanName(u.Name)
	var groups []string
	for _, g := range u.Groups {
		if !strings.HasPrefix(g, "system:") {
			groups = append(groups, cleanName(g))
		}
	}
	if len(groups) > 5 {
		groups = append(groups[:5], fmt.Sprintf("and %d more", len(groups)-5))
	}
	if len(groups) > 0 {
		s += " (groups: " + strings.Join(groups, ", ") + ")"
	}
	return s
}

// sourceText is where a GitOps tool applied an object from.
func sourceText(src *audit.Source) string {
	s := cleanName(src.Tool)
	if src.Application != "" {
		s += " " + cleanName(src.Application)
	}
	if src.Revision != "" {
		s += "@" + shortRev(src.Revision)
	}
	if src.InitiatedBy != "" {
		s += " (" + cleanName(src.InitiatedBy) + ")"
	}
	return s
}

// authorText is who made a change: the admission's user (via the GitOps
// tool that applied it), else the GitOps source, else unknown.
func authorText(c *audit.Change) string {
	s := "unknown"
	if c.Admission != nil {
		s = userText(c.Admission.User)
	}
	if c.Source != nil {
		s += " via " + sourceText(c.Source)
	}
	return s
}

// objectText is "updated Role technician gen 4".
func objectText(o audit.Object) string {
	s := cleanName(o.Change) + " " + cleanName(o.Kind) + " " + cleanName(o.Name)
	if o.Generation > 0 && o.Change != audit.ChangeDeleted {
		s += " gen " + strconv.FormatInt(o.Generation, 10)
	}
	return s
}

// servedText is "served rev 1a2b… by replica-a, replica-b".
func servedText(ss []*audit.Served) string {
	if len(ss) == 0 {
		return "not served"
	}
	s := ss[0]
	rev := "(dropped)"
	if s.ToRevision != "" {
		rev = "rev " + shortRev(s.ToRevision)
	}
	replicas := make([]string, len(s.Replicas))
	for i, r := range s.Replicas {
		replicas[i] = cleanName(orNone(r))
	}
	out := "served " + rev + " by " + strings.Join(replicas, ", ")
	if len(ss) > 1 {
		out += fmt.Sprintf(" (and %d more)", len(ss)-1)
	}
	return out
}

// subjectsText is "tom.tech and 41 others", naming first the subject asked
// about.
func subjectsText(subjects []string, first string) string {
	if len(subjects) == 0 {
		return "nobody known"
	}
	name := subjects[0]
	if first != "" && slices.Contains(subjects, first) {
		name = first
	}
	s := cleanName(name)
	switch len(subjects) {
	case 1:
	case 2:
		s += " and 1 other"
	default:
		s += fmt.Sprintf(" and %d others", len(subjects)-1)
	}
	return s
}

// auditGrantText is "tom.tech and 41 others gained approve on purchaseorders (unitTree)".
func auditGrantText(g *audit.Grant, subject string) string {
	who := subjectsText(g.Subjects(), subject)
	switch {
	case g.Permission != nil:
		p := g.Permission
		if p.Kind == "fullAccess" {
			return who + " gained full access"
		}
		s := who + " gained " + cleanName(p.Action) + " on " + cleanName(p.Resource)
		if p.Scope != "" && p.Scope != "all" {
			s += " (" + cleanName(p.Scope) + ")"
		}
		if p.When != "" {
			s += " when " + auditClean(p.When, auditReasonMax)
		}
		return s
	case g.Field != nil:
		f := g.Field
		return fmt.Sprintf("%s gained %s on field %s.%s (was %s)", who, cleanName(string(f.To)), cleanName(f.Resource), cleanName(f.Field), cleanName(string(f.From)))
	case g.Approval != nil:
		return who + " became approver of " + cleanName(g.Approval.Resource) + " step " + cleanName(g.Approval.Step)
	}
	return who
}

func printGrants(t *auditTable, grants []*audit.Grant, subject string) {
	t.row("TIME", "TENANT", "AUTHOR", "CHANGE", "GRANTED", "SERVED")
	for _, g := range grants {
		granted := "→ " + auditGrantText(g, subject)
		served := servedText([]*audit.Served{g.Served})
		if len(g.Changes) == 0 {
			t.row(auditTime(g.Time), cleanName(g.Tenant), "unknown", "-", granted, served)
		}
		for _, c := range g.Changes {
			t.row(auditTime(c.Time), cleanName(g.Tenant), authorText(c), objectText(c.Object), granted, served)
		}
	}
}

// diffSummary counts what a served snapshot changed for subjects.
func diffSummary(ss []*audit.Served) string {
	if len(ss) == 0 || ss[0].Diff == nil {
		return "-"
	}
	d := ss[0].Diff
	count := func(change string) (n int) {
		for _, p := range d.Permissions {
			if p.Change == change {
				n++
			}
		}
		for _, a := range d.Approvals {
			if a.Change == change {
				n++
			}
		}
		return n
	}
	if d.Empty() {
		return "no access change"
	}
	s := fmt.Sprintf("%d gained, %d lost", count(snapshot.Gained), count(snapshot.Lost))
	if len(d.Fields) > 0 {
		s += fmt.Sprintf(", %d field changes", len(d.Fields))
	}
	return s
}

func printChanges(t *auditTable, changes []*audit.Change) {
	t.row("TIME", "TENANT", "AUTHOR", "CHANGE", "SERVED", "EFFECT")
	for _, c := range changes {
		t.row(auditTime(c.Time), cleanName(c.Key.Tenant), authorText(c), objectText(c.Object), servedText(c.Served), diffSummary(c.Served))
	}
}

func printAdmissions(t *auditTable, entries []audit.AdmissionEntry, deniedOnly bool) {
	if deniedOnly {
		t.row("TIME", "TENANT", "USER", "OPERATION", "OBJECT", "REASON")
	} else {
		t.row("TIME", "TENANT", "USER", "VERDICT", "OPERATION", "OBJECT", "RESULT")
	}
	for _, a := range entries {
		user := userText(a.User)
		if a.Object.Source != nil {
			user += " via " + sourceText(a.Object.Source)
		}
		obj := cleanName(a.Object.Kind) + " " + cleanName(a.Object.Name)
		if a.Object.Generation > 0 && a.Verdict == audit.VerdictAdmitted && a.Object.Change != audit.ChangeDeleted {
			obj += " gen " + strconv.FormatInt(a.Object.Generation, 10)
		}
		reason := auditClean(a.Reason, auditReasonMax)
		if deniedOnly {
			t.row(auditTime(a.Time), cleanName(a.Tenant), user, cleanName(a.Operation), obj, reason)
			continue
		}
		result := reason
		if a.Verdict == audit.VerdictAdmitted {
			result = servedText(a.Served)
			if a.Object.Change == audit.ChangeUnchanged {
				result = "unchanged spec"
			}
		}
		t.row(auditTime(a.Time), cleanName(a.Tenant), user, cleanName(a.Verdict), cleanName(a.Operation), obj, result)
	}
}
