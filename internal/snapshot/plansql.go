package snapshot

import (
	"fmt"
	"strconv"
	"strings"
	"unicode/utf8"
)

// Rendering a Plan as a parameterized SQL WHERE fragment.

// SQLOption tunes SQL rendering.
type SQLOption func(*sqlOpts)

type sqlOpts struct {
	placeholder func(n int) string
	offset      int
}

// SQLPlaceholder sets the placeholder style, e.g. func(int) string { return "?" }
// for MySQL; the default is PostgreSQL's $1, $2, ...
func SQLPlaceholder(f func(n int) string) SQLOption { return func(o *sqlOpts) { o.placeholder = f } }

// SQLArgOffset numbers placeholders after n arguments the caller already has.
func SQLArgOffset(n int) SQLOption { return func(o *sqlOpts) { o.offset = n } }

// SQL renders the plan as a parameterized WHERE fragment. columns maps
// filter properties to column names: "name" or "qualifier.name" (a table,
// alias or schema, then the column), each part an SQL identifier of ASCII
// letters, digits, '_' and '$' that does not start with a digit or '$', at
// most 63 bytes (PostgreSQL's limit; it would cut a longer name). Every
// part is emitted double-quoted ("t"."org_unit"), so names are matched
// exactly, case included: PostgreSQL folds unquoted names to lower case,
// hence a column created as OrgUnit without quotes is orgunit and must be
// mapped so. Expressions, spaces, quotes, comments, non-ASCII letters and
// empty parts are refused with a *ColumnError, whichever properties the
// plan uses and whatever its kind, so a mapping is judged the same for
// every subject. Values are always placeholders.
//
// The dialect is PostgreSQL's (double-quoted identifiers, list properties
// assigneeIds and projectContacts as arrays with = ANY); MySQL reads
// double quotes as identifiers only with sql_mode ANSI_QUOTES.
//
// It fails on an unmapped property or a CEL residue it cannot translate,
// rather than return a broader filter.
func (p Plan) SQL(columns map[string]string, opts ...SQLOption) (string, []any, error) {
	o := sqlOpts{placeholder: func(n int) string { return "$" + strconv.Itoa(n) }}
	for _, f := range opts {
		f(&o)
	}
	if err := checkColumns(columns); err != nil {
		return "", nil, err
	}
	switch p.Kind {
	case PlanAlways:
		return "TRUE", nil, nil
	case PlanNever:
		return "FALSE", nil, nil
	}
	if p.Filter == nil {
		return "FALSE", nil, nil
	}
	r := &sqlRenderer{cols: columns, o: o}
	var sb strings.Builder
	if err := r.render(&sb, p.Filter); err != nil {
		return "", nil, err
	}
	return sb.String(), r.args, nil
}

type sqlRenderer struct {
	cols map[string]string
	o    sqlOpts
	args []any
}

func (r *sqlRenderer) arg(v any) string {
	r.args = append(r.args, v)
	return r.o.placeholder(r.o.offset + len(r.args))
}

func (r *sqlRenderer) col(prop string) (string, error) {
	c, ok := r.cols[prop]
	if !ok || c == "" {
		return "", fmt.Errorf("snapshot: plan filters on property %q but no column is mapped for it", prop)
	}
	return quoteIdent(c), nil
}

// ColumnError is the error of Plan.SQL for a column mapping whose value is
// not an SQL identifier. It names the mapping key, never the value.
type ColumnError struct {
	// Property is the mapping key.
	Property string
	// Reason says what is wrong, e.g. "it has an empty part".
	Reason string
}

func (e *ColumnError) Error() string {
	return "snapshot: the column mapped for property " + shortQuote(e.Property) + " is not an SQL identifier: " + e.Reason
}

// maxIdentPart is the longest identifier part Plan.SQL accepts, in bytes:
// PostgreSQL's NAMEDATALEN-1 (it silently cuts longer names).
const maxIdentPart = 63

// checkColumns validates every column of a mapping; of several bad ones it
// reports the smallest key, so the error does not depend on map order.
func checkColumns(columns map[string]string) error {
	var bad *ColumnError
	for k, c := range columns {
		if bad != nil && k >= bad.Property {
			continue
		}
		if why := identProblem(c); why != "" {
			bad = &ColumnError{Property: k, Reason: why}
		}
	}
	if bad != nil {
		return bad
	}
	return nil
}

// identProblem says why c is not "name" or "qualifier.name" with each part
// [A-Za-z_][A-Za-z0-9_$]* of at most maxIdentPart bytes, or "" if it is.
// It describes the problem by position only.
func identProblem(c string) string {
	if c == "" {
		return "it is empty"
	}
	start, parts := 0, 1
	for i := 0; i < len(c); i++ {
		switch ch := c[i]; {
		case ch == '.':
			if i == start {
				return "it has an empty part"
			}
			if parts++; parts > 2 {
				return "it has more than two dot-separated parts"
			}
			start = i + 1
			continue
		case 'a' <= ch && ch <= 'z', 'A' <= ch && ch <= 'Z', ch == '_':
		case '0' <= ch && ch <= '9', ch == '$':
			if i == start {
				return "a part starts with a digit or '$' (byte " + strconv.Itoa(i) + ")"
			}
		default:
			return "byte " + strconv.Itoa(i) + " is not an ASCII letter, digit, '_', '$' or a '.' between two parts"
		}
		if i-start >= maxIdentPart {
			return "a part is longer than " + strconv.Itoa(maxIdentPart) + " bytes"
		}
	}
	if start == len(c) {
		return "it has an empty part"
	}
	return ""
}

// quoteIdent double-quotes each part of a column identProblem accepted
// (its parts hold no quote to escape).
func quoteIdent(c string) string {
	return `"` + strings.ReplaceAll(c, ".", `"."`) + `"`
}

// shortQuote quotes an untrusted string for an error message: at most 32
// bytes of it (not splitting a UTF-8 sequence), then "…" if it was cut.
func shortQuote(s string) string {
	const limit = 32
	if len(s) <= limit {
		return strconv.Quote(s)
	}
	n := limit
	for n > limit-utf8.UTFMax && !utf8.RuneStart(s[n]) {
		n--
	}
	if !utf8.RuneStart(s[n]) {
		n = limit
	}
	return strconv.Quote(s[:n]) + "…"
}

func escapeLike(s string) string {
	return strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`).Replace(s)
}

func (r *sqlRenderer) render(sb *strings.Builder, f *Filter) error {
	switch f.Op {
	case OpTrue:
		sb.WriteString("TRUE")
		return nil
	case OpFalse:
		sb.WriteString("FALSE")
		return nil
	case OpAnd, OpOr:
		sep := " AND "
		if f.Op == OpOr {
			sep = " OR "
		}
		sb.WriteString("(")
		for i, k := range f.Children {
			if i > 0 {
				sb.WriteString(sep)
			}
			if err := r.render(sb, k); err != nil {
				return err
			}
		}
		sb.WriteString(")")
		return nil
	case OpCEL:
		return fmt.Errorf("snapshot: condition %q cannot be translated to SQL; filter such records in the application with Plan.Matches", f.Expr)
	}
	c, err := r.col(f.Property)
	if err != nil {
		return err
	}
	switch f.Op {
	case OpEq:
		fmt.Fprintf(sb, "%s = %s", c, r.arg(f.Value))
	case OpLt:
		fmt.Fprintf(sb, "%s < %s", c, r.arg(f.Value))
	case OpLe:
		fmt.Fprintf(sb, "%s <= %s", c, r.arg(f.Value))
	case OpGt:
		fmt.Fprintf(sb, "%s > %s", c, r.arg(f.Value))
	case OpGe:
		fmt.Fprintf(sb, "%s >= %s", c, r.arg(f.Value))
	case OpIn:
		ph := make([]string, len(f.Values))
		for i, v := range f.Values {
			ph[i] = r.arg(v)
		}
		fmt.Fprintf(sb, "%s IN (%s)", c, strings.Join(ph, ", "))
	case OpContains:
		fmt.Fprintf(sb, "%s = ANY(%s)", r.arg(f.Value), c)
	case OpUnder:
		u, _ := f.Value.(string)
		pattern := escapeLike(u) + "/%"
		if u == "/" {
			pattern = "/%"
		}
		fmt.Fprintf(sb, "(%s = %s OR %s LIKE %s ESCAPE '\\')", c, r.arg(u), c, r.arg(pattern))
	default:
		return fmt.Errorf("snapshot: unknown filter operator %q", f.Op)
	}
	return nil
}
