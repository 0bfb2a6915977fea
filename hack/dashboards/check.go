// Package dashboards checks Grafana dashboards against a metrics catalogue:
// every PromQL expression of a panel or template variable is parsed with
// Prometheus's own parser, and every metric it selects must be in the
// catalogue with the labels its matchers and groupings use. The test of this
// package builds the catalogue from the Gatehouse manager's registry and
// checks config/grafana.
//
// It is a module of its own so that the Prometheus server (the parser's
// module) does not become a dependency of Gatehouse's main module.
package dashboards

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"

	"github.com/prometheus/prometheus/promql/parser"
)

// Metric types of a Family.
const (
	Counter   = "counter"
	Gauge     = "gauge"
	Histogram = "histogram"
	Summary   = "summary"
	Untyped   = "untyped"
)

// Family is a metric family a registry exposes: its type and label names.
type Family struct {
	Type   string
	Labels map[string]bool
}

// Catalogue maps a metric family's name to the family.
type Catalogue map[string]Family

// Query is one PromQL expression of a dashboard.
type Query struct {
	// Where names the panel (or template variable) and the target.
	Where string
	// Expr is the expression as written, template variables unexpanded.
	Expr string
	// Variable is true for a template variable's query, which may be a
	// Grafana function (label_values, query_result) rather than PromQL.
	Variable bool
}

// Dashboard is what Check needs of a Grafana dashboard.
type Dashboard struct {
	Title   string
	Queries []Query
	// Variables maps the template variables to their type (query,
	// datasource, interval, custom, ...).
	Variables map[string]string
	// Panels counts the panels that are not rows.
	Panels int
}

type jsonPanel struct {
	Type    string      `json:"type"`
	Title   string      `json:"title"`
	Panels  []jsonPanel `json:"panels"`
	Targets []struct {
		RefID string `json:"refId"`
		Expr  string `json:"expr"`
	} `json:"targets"`
}

// Load reads a dashboard's JSON model.
func Load(data []byte) (*Dashboard, error) {
	var raw struct {
		Title      string      `json:"title"`
		Panels     []jsonPanel `json:"panels"`
		Templating struct {
			List []struct {
				Name  string          `json:"name"`
				Type  string          `json:"type"`
				Query json.RawMessage `json:"query"`
			} `json:"list"`
		} `json:"templating"`
	}
	if err := json.Unmarshal(data, &raw); err != nil {
		return nil, err
	}
	d := &Dashboard{Title: raw.Title, Variables: map[string]string{}}
	for _, v := range raw.Templating.List {
		d.Variables[v.Name] = v.Type
		if v.Type != "query" {
			continue
		}
		// The query is a string in old models, {"query": "..."} in new ones.
		var q string
		if err := json.Unmarshal(v.Query, &q); err != nil {
			var obj struct {
				Query string `json:"query"`
			}
			if err := json.Unmarshal(v.Query, &obj); err != nil {
				return nil, fmt.Errorf("template variable %q: query is neither a string nor an object: %v", v.Name, err)
			}
			q = obj.Query
		}
		d.Queries = append(d.Queries, Query{Where: fmt.Sprintf("template variable %q", v.Name), Expr: q, Variable: true})
	}
	var walk func([]jsonPanel)
	walk = func(ps []jsonPanel) {
		for _, p := range ps {
			if p.Type == "row" {
				walk(p.Panels) // a collapsed row holds its panels
				continue
			}
			d.Panels++
			for i, t := range p.Targets {
				ref := t.RefID
				if ref == "" {
					ref = fmt.Sprint("#", i)
				}
				d.Queries = append(d.Queries, Query{Where: fmt.Sprintf("panel %q target %s", p.Title, ref), Expr: t.Expr})
			}
		}
	}
	walk(raw.Panels)
	return d, nil
}

// variableRef matches $name, ${name} and ${name:format}.
var variableRef = regexp.MustCompile(`\$(?:\{(\w+)(?::\w+)?\}|(\w+))`)

// Grafana's built-in variables that stand for a duration or a number.
var builtins = map[string]string{
	"__rate_interval": "5m",
	"__interval":      "1m",
	"__range":         "6h",
	"__interval_ms":   "60000",
	"__range_s":       "21600",
	"__range_ms":      "21600000",
}

// Expand substitutes the template variables of expr: Grafana's built-in
// durations by a duration, interval variables by a duration, the others by
// a label value. A variable the dashboard does not declare is an error.
func (d *Dashboard) Expand(expr string) (string, error) {
	var unknown []string
	out := variableRef.ReplaceAllStringFunc(expr, func(m string) string {
		sub := variableRef.FindStringSubmatch(m)
		name := sub[1] + sub[2]
		if v, ok := builtins[name]; ok {
			return v
		}
		typ, ok := d.Variables[name]
		switch {
		case !ok:
			unknown = append(unknown, m)
			return m
		case typ == "interval":
			return "5m"
		default:
			return "value"
		}
	})
	if len(unknown) > 0 {
		return "", fmt.Errorf("undeclared template variable %s", strings.Join(unknown, ", "))
	}
	return out, nil
}

// labelValues matches Grafana's label_values(selector, label) and
// label_values(label); queryResult matches query_result(expr).
var (
	labelValues = regexp.MustCompile(`^\s*label_values\(\s*(?:(.*),\s*)?([a-zA-Z_]\w*)\s*\)\s*$`)
	queryResult = regexp.MustCompile(`^\s*query_result\((.*)\)\s*$`)
)

// Check checks every query of d against cat. targetLabels are the labels
// Prometheus adds when it scrapes (job, namespace...): matchers and
// groupings may use them with any metric. The errors name the panel or
// variable.
func Check(d *Dashboard, cat Catalogue, targetLabels ...string) []error {
	var errs []error
	for _, q := range d.Queries {
		for _, err := range checkQuery(d, q, cat, targetLabels) {
			errs = append(errs, fmt.Errorf("%s: %w", q.Where, err))
		}
	}
	return errs
}

func checkQuery(d *Dashboard, q Query, cat Catalogue, targetLabels []string) []error {
	if strings.TrimSpace(q.Expr) == "" {
		return []error{fmt.Errorf("empty expression")}
	}
	expr, err := d.Expand(q.Expr)
	if err != nil {
		return []error{err}
	}
	var label string // the label label_values lists
	if q.Variable {
		if m := labelValues.FindStringSubmatch(expr); m != nil {
			if m[1] == "" {
				// label_values(label) lists a label of any metric.
				return nil
			}
			expr, label = m[1], m[2]
		} else if m := queryResult.FindStringSubmatch(expr); m != nil {
			expr = m[1]
		}
	}
	node, err := parser.NewParser(parser.Options{}).ParseExpr(expr)
	if err != nil {
		return []error{fmt.Errorf("%q (expanded %q) does not parse: %v", q.Expr, expr, err)}
	}
	c := checker{cat: cat, target: targetLabels}
	labels := c.check(node)
	if label != "" && !labels[label] {
		c.errs = append(c.errs, fmt.Errorf("label_values lists label %q, which %s lacks (it has %s)", label, expr, names(labels)))
	}
	return c.errs
}

type checker struct {
	cat    Catalogue
	target []string
	errs   []error
}

// check checks node and returns the labels its series may carry: the labels
// of the metrics it selects, as aggregations leave them, and the target
// labels.
func (c *checker) check(node parser.Node) map[string]bool {
	out := map[string]bool{}
	for _, l := range c.target {
		out[l] = true
	}
	add := func(set map[string]bool) {
		for l := range set {
			out[l] = true
		}
	}
	switch n := node.(type) {
	case *parser.VectorSelector:
		add(c.selector(n))
	case *parser.AggregateExpr:
		if n.Param != nil {
			c.check(n.Param)
		}
		inner := c.check(n.Expr)
		for _, l := range n.Grouping {
			if !inner[l] {
				c.errs = append(c.errs, fmt.Errorf("%s groups by label %q, which its metrics lack (they have %s)", n.Op, l, names(inner)))
			}
		}
		switch {
		case n.Without, keepsLabels[n.Op.String()]:
			add(inner)
		default:
			for _, l := range n.Grouping {
				out[l] = true
			}
		}
	case *parser.BinaryExpr:
		lhs, rhs := c.check(n.LHS), c.check(n.RHS)
		if vm := n.VectorMatching; vm != nil {
			// on(...) labels must be on both sides, ignoring(...) and
			// group_left/right(...) labels on one.
			for _, l := range vm.MatchingLabels {
				if vm.On && (!lhs[l] || !rhs[l]) || !vm.On && !lhs[l] && !rhs[l] {
					c.errs = append(c.errs, fmt.Errorf("%s matches on label %q, which its metrics lack (left: %s; right: %s)", n.Op, l, names(lhs), names(rhs)))
				}
			}
			for _, l := range vm.Include {
				if !lhs[l] && !rhs[l] {
					c.errs = append(c.errs, fmt.Errorf("%s includes label %q, which its metrics lack (left: %s; right: %s)", n.Op, l, names(lhs), names(rhs)))
				}
			}
		}
		both := lhs
		for l := range rhs {
			both[l] = true
		}
		add(both)
	case *parser.Call:
		for i, arg := range n.Args {
			labels := c.check(arg)
			if n.Func.Name == "histogram_quantile" && i == 1 && !labels["le"] {
				c.errs = append(c.errs, fmt.Errorf("histogram_quantile over series without the label le (they have %s)", names(labels)))
			}
			add(labels)
		}
	default:
		for child := range parser.ChildrenIter(node) {
			add(c.check(child))
		}
	}
	return out
}

// keepsLabels are the aggregations whose result keeps the labels of the
// series they select, whatever they group by.
var keepsLabels = map[string]bool{"topk": true, "bottomk": true, "limitk": true, "limit_ratio": true}

// selector checks a vector selector and returns its metric's labels.
func (c *checker) selector(vs *parser.VectorSelector) map[string]bool {
	name := vs.Name
	for _, m := range vs.LabelMatchers {
		if m.Name == "__name__" && name == "" {
			name = m.Value
		}
	}
	labels, ok := c.lookup(name)
	if !ok {
		c.errs = append(c.errs, fmt.Errorf("metric %q is not exposed by the registry", name))
		return nil
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == "__name__" || labels[m.Name] || slices.Contains(c.target, m.Name) {
			continue
		}
		c.errs = append(c.errs, fmt.Errorf("metric %q has no label %q (it has %s)", name, m.Name, names(labels)))
	}
	return labels
}

// lookup finds the family of a series name: the family itself, or the
// _bucket, _sum and _count series of a histogram (_sum and _count of a
// summary). A _bucket series has the extra label le.
func (c *checker) lookup(name string) (map[string]bool, bool) {
	if f, ok := c.cat[name]; ok {
		return f.Labels, true
	}
	for _, suffix := range []string{"_bucket", "_sum", "_count"} {
		base, found := strings.CutSuffix(name, suffix)
		if !found {
			continue
		}
		f, ok := c.cat[base]
		if !ok || (f.Type != Histogram && !(f.Type == Summary && suffix != "_bucket")) {
			continue
		}
		labels := map[string]bool{}
		for l := range f.Labels {
			labels[l] = true
		}
		if suffix == "_bucket" {
			labels["le"] = true
		}
		return labels, true
	}
	return nil, false
}

func names(set map[string]bool) string {
	var ls []string
	for l := range set {
		ls = append(ls, l)
	}
	if len(ls) == 0 {
		return "no labels"
	}
	sort.Strings(ls)
	return strings.Join(ls, ", ")
}
