package dashboards

import (
	"fmt"
	"strings"
	"testing"
)

// dashboardJSON is a dashboard with one panel per expression, titled by
// the map's keys, and the job and namespace variables.
func dashboardJSON(panels map[string]string) []byte {
	var ps []string
	i := 0
	for title, expr := range panels {
		i++
		ps = append(ps, fmt.Sprintf(`{"type": "timeseries", "title": %q, "id": %d, "targets": [{"refId": "A", "expr": %q}]}`, title, i, expr))
	}
	return []byte(`{"title": "test", "schemaVersion": 41,
	  "templating": {"list": [
	    {"name": "datasource", "type": "datasource", "query": "prometheus"},
	    {"name": "job", "type": "query", "query": {"query": "label_values(gatehouse_tenants, job)"}},
	    {"name": "namespace", "type": "query", "query": "label_values(gatehouse_tenants{job=~\"$job\"}, namespace)"}]},
	  "panels": [{"type": "row", "title": "row", "collapsed": true, "panels": [` + strings.Join(ps, ",") + `]}]}`)
}

// TestCheckRejectsBadQueries checks that wrong expressions fail, against
// the manager's registry, with an error naming their panel.
func TestCheckRejectsBadQueries(t *testing.T) {
	cat := managerCatalogue(t)
	cases := []struct {
		title, expr, want string
	}{
		{"Unknown metric", `sum(rate(gatehouse_authz_verdicts_total{job=~"$job"}[$__rate_interval]))`, `metric "gatehouse_authz_verdicts_total" is not exposed`},
		{"Syntax error", `sum by (decision (rate(gatehouse_authz_decisions_total[$__rate_interval]))`, "does not parse"},
		{"Missing label", `sum(rate(gatehouse_authz_decisions_total{result="allow"}[5m]))`, `has no label "result"`},
		{"Grouping by a missing label", `sum by (tenant) (rate(gatehouse_authz_requests_total[5m]))`, `groups by label "tenant"`},
		{"Quantile without le", `histogram_quantile(0.99, sum by (endpoint) (rate(gatehouse_authz_request_duration_seconds_bucket[5m])))`, "without the label le"},
		{"Bucket of a counter", `rate(gatehouse_compiles_total_bucket[5m])`, "not exposed"},
		{"Undeclared variable", `gatehouse_tenants{job=~"$cluster"}`, "undeclared template variable $cluster"},
		{"Webhook verdict", `sum by (allowed) (rate(controller_runtime_webhook_requests_total[5m]))`, `groups by label "allowed"`},
		{"Matching on a missing label", `gatehouse_tenants * on (tenant) gatehouse_snapshot_left_out_objects`, `matches on label "tenant"`},
		{"Empty", ``, "empty expression"},
	}
	panels := map[string]string{}
	for _, c := range cases {
		panels[c.title] = c.expr
	}
	d, err := Load(dashboardJSON(panels))
	if err != nil {
		t.Fatal(err)
	}
	errs := Check(d, cat, targetLabels...)
	for _, c := range cases {
		prefix := fmt.Sprintf("panel %q target A: ", c.title)
		found := false
		for _, err := range errs {
			if strings.HasPrefix(err.Error(), prefix) && strings.Contains(err.Error(), c.want) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s: no error %q naming the panel; errors: %v", c.title, c.want, errs)
		}
	}
	if len(errs) != len(cases) {
		t.Errorf("want one error per bad panel (%d), got %d: %v", len(cases), len(errs), errs)
	}
}

// TestCheckAcceptsGoodQueries checks valid queries and variables pass:
// histogram suffixes, target labels, offsets, subqueries, binary matching.
func TestCheckAcceptsGoodQueries(t *testing.T) {
	cat := managerCatalogue(t)
	d, err := Load(dashboardJSON(map[string]string{
		"p99":       `histogram_quantile(0.99, sum by (le, endpoint) (rate(gatehouse_authz_request_duration_seconds_bucket{job=~"$job", namespace=~"${namespace}"}[$__rate_interval])))`,
		"avg":       `sum(rate(gatehouse_compile_duration_seconds_sum[5m])) / sum(rate(gatehouse_compile_duration_seconds_count[5m]))`,
		"offset":    `increase(gatehouse_compiles_total{result="changed"}[1h] offset 1d)`,
		"subquery":  `max_over_time(sum(gatehouse_tenants)[1h:5m])`,
		"matching":  `gatehouse_snapshot_left_out_objects / on (tenant, instance) group_left sum by (tenant, instance) (gatehouse_snapshot_objects)`,
		"by name":   `{__name__="gatehouse_tenants", pod!=""}`,
		"topk keep": `topk(3, gatehouse_snapshot_objects{kind="roles"})`,
	}))
	if err != nil {
		t.Fatal(err)
	}
	for _, err := range Check(d, cat, targetLabels...) {
		t.Error(err)
	}
}

// TestCheckVariables checks template variables' label_values queries.
func TestCheckVariables(t *testing.T) {
	cat := managerCatalogue(t)
	d, err := Load([]byte(`{"templating": {"list": [
	  {"name": "tenant", "type": "query", "query": "label_values(gatehouse_snapshot_objects, tenant)"},
	  {"name": "bad", "type": "query", "query": "label_values(gatehouse_tenants, tenant)"},
	  {"name": "gone", "type": "query", "query": {"query": "label_values(gatehouse_nothing, job)"}}]}}`))
	if err != nil {
		t.Fatal(err)
	}
	errs := Check(d, cat, targetLabels...)
	if len(errs) != 2 || !strings.Contains(errs[0].Error(), `template variable "bad"`) || !strings.Contains(errs[1].Error(), `template variable "gone"`) {
		t.Errorf("want errors for the variables bad and gone, got %v", errs)
	}
}
