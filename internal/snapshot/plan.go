package snapshot

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/google/cel-go/cel"
	celast "github.com/google/cel-go/common/ast"
	"github.com/google/cel-go/common/operators"
	"github.com/google/cel-go/common/types"
	"github.com/google/cel-go/common/types/ref"
)

// PlanKind says whether a subject may act on all, none or some records.
type PlanKind string

// Plan kinds.
const (
	PlanAlways      PlanKind = "always"
	PlanNever       PlanKind = "never"
	PlanConditional PlanKind = "conditional"
)

// Filter operators.
const (
	OpTrue     = "true"     // every record
	OpFalse    = "false"    // no record
	OpAnd      = "and"      // all Children
	OpOr       = "or"       // any of Children
	OpEq       = "eq"       // Property == Value
	OpLt       = "lt"       // Property < Value
	OpLe       = "le"       // Property <= Value
	OpGt       = "gt"       // Property > Value
	OpGe       = "ge"       // Property >= Value
	OpIn       = "in"       // Property is one of Values
	OpContains = "contains" // the list Property contains Value
	OpUnder    = "under"    // the unit path Property is Value or below it
	OpCEL      = "cel"      // a CEL residue that could not be translated
)

// Filter is a boolean expression over record properties: the standard names
// (ownerId, assigneeIds, unit, facilityId, companyId, projectContacts), "id",
// and any property a CEL condition compares.
type Filter struct {
	// Op is one of the Op* constants.
	Op string `json:"op"`
	// Children are the operands of and/or.
	Children []*Filter `json:"children,omitempty"`
	// Property is the record property a predicate tests.
	Property string `json:"property,omitempty"`
	// Value is the operand of eq, lt, le, gt, ge, contains and under.
	Value any `json:"value,omitempty"`
	// Values are the operands of in.
	Values []any `json:"values,omitempty"`
	// Expr is the CEL residue of an OpCEL node (resource still unknown).
	Expr string `json:"expr,omitempty"`

	residue *residueCtx
}

// residueCtx lets Matches evaluate an untranslated condition.
type residueCtx struct {
	s      *Snapshot
	p      *profile
	sub    Subject
	action string
	cond   *condition
}

// Plan tells which records of a module a subject may act on.
type Plan struct {
	// Kind is always, never or conditional.
	Kind PlanKind `json:"kind"`
	// Filter selects the records when Kind is conditional.
	Filter *Filter `json:"filter,omitempty"`
	// Reason is the deny reason when Kind is never.
	Reason string `json:"reason,omitempty"`
}

var (
	fTrue  = &Filter{Op: OpTrue}
	fFalse = &Filter{Op: OpFalse}
)

// Plan computes which records of resourceType the subject may perform
// action on, as a filter an application can turn into a database query.
// It mirrors Check: for every record r, Plan(...).Matches(r) equals
// Check(...).Allowed with an empty context.
func (s *Snapshot) Plan(sub Subject, action, resourceType string) Plan {
	if s == nil {
		return Plan{Kind: PlanNever, Reason: ReasonNoSnapshot}
	}
	p, why := s.profileFor(&sub)
	if p == nil {
		return Plan{Kind: PlanNever, Reason: why}
	}
	if !p.hasRoles {
		return Plan{Kind: PlanNever, Reason: ReasonNoRoles}
	}
	ri, resKnown := s.resTab.get(resourceType)
	ai, actKnown := s.actTab.get(action)
	w := int(ai >> 6)
	bit := uint64(1) << (ai & 63)
	base := int(ri) * s.stride()
	var terms []*Filter
	for sc := 0; sc < nScopes; sc++ {
		if s.scopeBit(p.bits, base, sc, w, bit) {
			terms = append(terms, s.scopeFilter(1<<sc, p, &sub))
		}
	}
	r := s.rowOf(p.bits, ri)
	gs := p.rowGrants(r)
	for i := range gs {
		g := &gs[i]
		if g.cond == nil || !g.has(w, bit) {
			continue
		}
		terms = append(terms, and(s.scopeFilter(g.mask, p, &sub), s.condFilter(g.cond, p, &sub, action)))
	}
	if len(terms) == 0 {
		switch {
		case !resKnown:
			return Plan{Kind: PlanNever, Reason: ReasonUnknownResource}
		case !actKnown:
			return Plan{Kind: PlanNever, Reason: ReasonUnknownAction}
		}
		return Plan{Kind: PlanNever, Reason: ReasonNotPermitted}
	}
	f := or(terms...)
	if r.rN > 0 {
		parts := []*Filter{}
		for _, m := range p.rowRestrict(r) {
			parts = append(parts, s.scopeFilter(m, p, &sub))
		}
		f = and(append(parts, f)...)
	}
	switch f.Op {
	case OpTrue:
		return Plan{Kind: PlanAlways}
	case OpFalse:
		return Plan{Kind: PlanNever, Reason: ReasonScopeNotMatched}
	}
	return Plan{Kind: PlanConditional, Filter: f}
}

func and(fs ...*Filter) *Filter { return junction(OpAnd, fs) }
func or(fs ...*Filter) *Filter  { return junction(OpOr, fs) }

// junction flattens and short-circuits constant children.
func junction(op string, fs []*Filter) *Filter {
	unit, zero := OpTrue, OpFalse
	if op == OpOr {
		unit, zero = OpFalse, OpTrue
	}
	var kids []*Filter
	for _, f := range fs {
		switch f.Op {
		case zero:
			return &Filter{Op: zero}
		case unit:
		case op:
			kids = append(kids, f.Children...)
		default:
			kids = append(kids, f)
		}
	}
	switch len(kids) {
	case 0:
		return &Filter{Op: unit}
	case 1:
		return kids[0]
	}
	return &Filter{Op: op, Children: kids}
}

func strValues(xs []string) []any {
	out := make([]any, len(xs))
	for i, x := range xs {
		out[i] = x
	}
	return out
}

// scopeFilter is the record filter of a scope mask (any of its scopes).
func (s *Snapshot) scopeFilter(mask uint16, p *profile, sub *Subject) *Filter {
	if mask&maskAll != 0 {
		return fTrue
	}
	a := &p.attr
	var terms []*Filter
	id := sub.ID
	for sc := scOwn; sc < nScopes; sc++ {
		if mask&(1<<sc) == 0 {
			continue
		}
		switch sc {
		case scOwn:
			terms = append(terms, &Filter{Op: OpEq, Property: PropOwnerID, Value: id})
		case scAssigned:
			terms = append(terms, &Filter{Op: OpContains, Property: PropAssigneeIDs, Value: id})
		case scContact:
			terms = append(terms, &Filter{Op: OpContains, Property: PropProjectContacts, Value: id})
		case scUnit, scUnitTree:
			units := a.units
			if !a.hasUnit {
				units = nil
				if sub.Unit != "" {
					units = []string{normUnit(sub.Unit)}
				}
			}
			for _, u := range units {
				if sc == scUnit {
					terms = append(terms, &Filter{Op: OpEq, Property: PropUnit, Value: u})
				} else {
					terms = append(terms, &Filter{Op: OpUnder, Property: PropUnit, Value: u})
				}
			}
		case scFacility:
			f := a.facilities
			if !a.hasFacilities {
				f = sub.Facilities
			}
			if len(f) > 0 {
				terms = append(terms, &Filter{Op: OpIn, Property: PropFacilityID, Values: strValues(f)})
			}
		case scCompany:
			var cs []string
			if a.hasCompany {
				cs = append(cs, a.company...)
			} else if sub.Company != "" {
				cs = append(cs, sub.Company)
			}
			if a.hasCompanies {
				cs = append(cs, a.companies...)
			} else {
				cs = append(cs, sub.Companies...)
			}
			slices.Sort(cs)
			cs = slices.Compact(cs)
			if i := slices.Index(cs, ""); i >= 0 {
				cs = slices.Delete(cs, i, i+1)
			}
			if len(cs) > 0 {
				terms = append(terms, &Filter{Op: OpIn, Property: PropCompanyID, Values: strValues(cs)})
			}
		}
	}
	return or(terms...)
}

// condFilter partially evaluates a condition with the subject known and the
// record unknown, and translates what is left.
func (s *Snapshot) condFilter(c *condition, p *profile, sub *Subject, action string) *Filter {
	vars := map[string]any{"subject": subjectMap(p, sub), "action": map[string]any{"name": action}}
	known, val, rest := c.residual(vars)
	if known {
		if val {
			return fTrue
		}
		return fFalse
	}
	if f, ok := translate(rest.NativeRep().Expr()); ok {
		return f
	}
	txt, err := cel.AstToString(rest)
	if err != nil {
		txt = c.src
	}
	return &Filter{Op: OpCEL, Expr: txt, residue: &residueCtx{s: s, p: p, sub: *sub, action: action, cond: c}}
}

var cmpOps = map[string]string{
	operators.Equals: OpEq, operators.Less: OpLt, operators.LessEquals: OpLe,
	operators.Greater: OpGt, operators.GreaterEquals: OpGe,
}

var flipped = map[string]string{OpEq: OpEq, OpLt: OpGt, OpLe: OpGe, OpGt: OpLt, OpGe: OpLe}

// translate maps the CEL subset with a two-valued meaning (no negation, no
// !=: an error or missing property is simply false there and in SQL) to a
// Filter.
func translate(e celast.Expr) (*Filter, bool) {
	switch e.Kind() {
	case celast.LiteralKind:
		if b, ok := e.AsLiteral().(types.Bool); ok {
			if b {
				return fTrue, true
			}
			return fFalse, true
		}
		return nil, false
	case celast.SelectKind:
		// A bare property used as a bool, e.g. resource.properties.urgent.
		if prop, ok := property(e); ok {
			return &Filter{Op: OpEq, Property: prop, Value: true}, true
		}
		return nil, false
	case celast.CallKind:
	default:
		return nil, false
	}
	call := e.AsCall()
	args := call.Args()
	switch fn := call.FunctionName(); fn {
	case operators.LogicalAnd, operators.LogicalOr:
		var kids []*Filter
		for _, a := range args {
			k, ok := translate(a)
			if !ok {
				return nil, false
			}
			kids = append(kids, k)
		}
		if fn == operators.LogicalAnd {
			return and(kids...), true
		}
		return or(kids...), true
	case operators.In:
		prop, ok := property(args[0])
		if !ok || args[1].Kind() != celast.ListKind {
			return nil, false
		}
		var vals []any
		for _, el := range args[1].AsList().Elements() {
			v, ok := literal(el)
			if !ok {
				return nil, false
			}
			vals = append(vals, v)
		}
		if len(vals) == 0 {
			return fFalse, true
		}
		return &Filter{Op: OpIn, Property: prop, Values: vals}, true
	default:
		op, ok := cmpOps[fn]
		if !ok || len(args) != 2 {
			return nil, false
		}
		if prop, ok := property(args[0]); ok {
			if v, ok := literal(args[1]); ok {
				return &Filter{Op: op, Property: prop, Value: v}, true
			}
		}
		if prop, ok := property(args[1]); ok {
			if v, ok := literal(args[0]); ok {
				return &Filter{Op: flipped[op], Property: prop, Value: v}, true
			}
		}
	}
	return nil, false
}

// property recognises resource.properties.X, resource.properties["X"] and
// resource.id.
func property(e celast.Expr) (string, bool) {
	var operand celast.Expr
	var name string
	switch e.Kind() {
	case celast.SelectKind:
		sel := e.AsSelect()
		if sel.IsTestOnly() {
			return "", false
		}
		operand, name = sel.Operand(), sel.FieldName()
	case celast.CallKind:
		c := e.AsCall()
		if c.FunctionName() != operators.Index || len(c.Args()) != 2 || c.Args()[1].Kind() != celast.LiteralKind {
			return "", false
		}
		str, ok := c.Args()[1].AsLiteral().(types.String)
		if !ok {
			return "", false
		}
		operand, name = c.Args()[0], string(str)
	default:
		return "", false
	}
	if operand.Kind() == celast.IdentKind && operand.AsIdent() == "resource" {
		if name == "id" {
			return "id", true
		}
		return "", false
	}
	if operand.Kind() == celast.SelectKind {
		in := operand.AsSelect()
		if !in.IsTestOnly() && in.FieldName() == "properties" && in.Operand().Kind() == celast.IdentKind && in.Operand().AsIdent() == "resource" {
			return name, true
		}
	}
	return "", false
}

func literal(e celast.Expr) (any, bool) {
	if e.Kind() != celast.LiteralKind {
		return nil, false
	}
	switch v := e.AsLiteral().(type) {
	case types.String:
		return string(v), true
	case types.Int:
		return int64(v), true
	case types.Uint:
		return uint64(v), true
	case types.Double:
		return float64(v), true
	case types.Bool:
		return bool(v), true
	}
	var _ ref.Val
	return nil, false
}

// Matches evaluates the plan's filter on a record, with the same meaning as
// Check (an application can use it to filter records in memory).
func (p Plan) Matches(res Resource) bool {
	switch p.Kind {
	case PlanAlways:
		return true
	case PlanConditional:
		return p.Filter != nil && p.Filter.Matches(&res)
	}
	return false
}

// Matches evaluates the filter on one record. A missing property or a type
// mismatch makes a predicate false, as in CEL and SQL.
func (f *Filter) Matches(res *Resource) bool {
	switch f.Op {
	case OpTrue:
		return true
	case OpAnd:
		for _, k := range f.Children {
			if !k.Matches(res) {
				return false
			}
		}
		return true
	case OpOr:
		for _, k := range f.Children {
			if k.Matches(res) {
				return true
			}
		}
		return false
	case OpCEL:
		r := f.residue
		if r == nil {
			return false
		}
		act := newActivation(r.p, &r.sub, r.action, res, nil)
		ok := r.cond.eval(act, nil)
		act.release()
		return ok
	}
	v, ok := propertyValue(res, f.Property)
	if !ok {
		return false
	}
	switch f.Op {
	case OpEq:
		return equalValues(v, f.Value)
	case OpLt, OpLe, OpGt, OpGe:
		c, ok := compareValues(v, f.Value)
		if !ok {
			return false
		}
		switch f.Op {
		case OpLt:
			return c < 0
		case OpLe:
			return c <= 0
		case OpGt:
			return c > 0
		}
		return c >= 0
	case OpIn:
		for _, x := range f.Values {
			if equalValues(v, x) {
				return true
			}
		}
	case OpContains:
		switch list := v.(type) {
		case []string:
			s, _ := f.Value.(string)
			return slices.Contains(list, s)
		case []any:
			for _, x := range list {
				if equalValues(x, f.Value) {
					return true
				}
			}
		}
	case OpUnder:
		u, ok1 := v.(string)
		pre, ok2 := f.Value.(string)
		return ok1 && ok2 && u != "" && unitMatch(pre, u, true)
	}
	return false
}

func propertyValue(res *Resource, name string) (any, bool) {
	switch name {
	case "id":
		return res.ID, true
	case PropOwnerID:
		if res.OwnerID != "" {
			return res.OwnerID, true
		}
	case PropAssigneeIDs:
		if res.AssigneeIDs != nil {
			return res.AssigneeIDs, true
		}
	case PropUnit:
		if res.Unit != "" {
			return res.Unit, true
		}
	case PropFacilityID:
		if res.FacilityID != "" {
			return res.FacilityID, true
		}
	case PropCompanyID:
		if res.CompanyID != "" {
			return res.CompanyID, true
		}
	case PropProjectContacts:
		if res.ProjectContacts != nil {
			return res.ProjectContacts, true
		}
	}
	v, ok := res.Properties[name]
	return v, ok && v != nil
}

func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case int:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case float32:
		return float64(n), true
	case float64:
		return n, true
	}
	return 0, false
}

func equalValues(a, b any) bool {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		return ok && fa == fb
	}
	switch x := a.(type) {
	case string:
		y, ok := b.(string)
		return ok && x == y
	case bool:
		y, ok := b.(bool)
		return ok && x == y
	}
	return false
}

func compareValues(a, b any) (int, bool) {
	if fa, ok := toFloat(a); ok {
		fb, ok := toFloat(b)
		if !ok || fa != fa || fb != fb { // NaN compares false in CEL
			return 0, false
		}
		switch {
		case fa < fb:
			return -1, true
		case fa > fb:
			return 1, true
		}
		return 0, true
	}
	if x, ok := a.(string); ok {
		if y, ok := b.(string); ok {
			return strings.Compare(x, y), true
		}
	}
	return 0, false
}

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
