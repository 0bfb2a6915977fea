package dashboards

import (
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// dashboardDir holds the dashboards installed by config/grafana.
const dashboardDir = "../../config/grafana"

// targetLabels are the labels Prometheus attaches when it scrapes the
// manager, which the dashboard's variables filter on.
var targetLabels = []string{"job", "namespace", "instance", "pod"}

// TestDashboardQueriesMatchManagerRegistry parses every query of every
// dashboard in config/grafana with Prometheus's parser and checks each
// metric and label it uses against the manager's registry.
func TestDashboardQueriesMatchManagerRegistry(t *testing.T) {
	cat := managerCatalogue(t)
	var fams []string
	for name := range cat {
		fams = append(fams, name)
	}
	sort.Strings(fams)
	t.Logf("the manager's registry exposes %d families: %s", len(fams), strings.Join(fams, " "))
	files, err := filepath.Glob(filepath.Join(dashboardDir, "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no dashboards in %s (%v)", dashboardDir, err)
	}
	for _, file := range files {
		t.Run(filepath.Base(file), func(t *testing.T) {
			data, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			d, err := Load(data)
			if err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			if d.Panels == 0 || len(d.Queries) == 0 {
				t.Fatalf("%s: no panels or queries", file)
			}
			for _, err := range Check(d, cat, targetLabels...) {
				t.Errorf("%s: %v", file, err)
			}
			t.Logf("%s: %d panels, %d queries checked", file, d.Panels, len(d.Queries))
		})
	}
}

// TestDashboardCoversIssue checks that the dashboard keeps the panels the
// packaging issue asks for, each querying the metric it is about.
func TestDashboardCoversIssue(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(dashboardDir, "gatehouse-dashboard.json"))
	if err != nil {
		t.Fatal(err)
	}
	d, err := Load(data)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string][]string{
		"Decisions per second by result":                 {"gatehouse_authz_decisions_total"},
		"Latency p50 by endpoint":                        {"gatehouse_authz_request_duration_seconds_bucket"},
		"Latency p99 by endpoint":                        {"gatehouse_authz_request_duration_seconds_bucket"},
		"Shed or rejected requests":                      {"gatehouse_authz_rejected_total", "gatehouse_authz_requests_total"},
		"Compile duration p50/p99":                       {"gatehouse_compile_duration_seconds_bucket"},
		"Compiles per second by result":                  {"gatehouse_compiles_total"},
		"Left-out objects (top 10 tenants)":              {"gatehouse_snapshot_left_out_objects"},
		"Tenants served":                                 {"gatehouse_tenants"},
		"Audit write errors by event":                    {"gatehouse_audit_write_errors_total"},
		"Withheld compiles":                              {"gatehouse_audit_withheld_compiles_total"},
		"HTTP audit sink: dropped, retried, delivered":   {"gatehouse_audit_http_dropped_records_total"},
		"Webhook admissions by verdict":                  {"gatehouse_webhook_admissions_total", "controller_runtime_webhook_requests_total"},
		"Webhook latency p50/p99":                        {"controller_runtime_webhook_latency_seconds_bucket"},
		"Reconciles per second by controller and result": {"controller_runtime_reconcile_total"},
	}
	for title, metrics := range want {
		var exprs []string
		for _, q := range d.Queries {
			if strings.HasPrefix(q.Where, "panel \""+title+"\" ") {
				exprs = append(exprs, q.Expr)
			}
		}
		if len(exprs) == 0 {
			t.Errorf("no panel %q", title)
			continue
		}
		all := strings.Join(exprs, "\n")
		for _, m := range metrics {
			if !strings.Contains(all, m+"{") {
				t.Errorf("panel %q does not query %s", title, m)
			}
		}
	}
}

// TestKustomizationGeneratesDashboardConfigMap checks that config/grafana
// packs the dashboard into a ConfigMap the Grafana sidecar picks up.
func TestKustomizationGeneratesDashboardConfigMap(t *testing.T) {
	data, err := os.ReadFile(filepath.Join(dashboardDir, "kustomization.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	k := string(data)
	for _, want := range []string{"configMapGenerator:", "- gatehouse-dashboard.json", `grafana_dashboard: "1"`} {
		if !strings.Contains(k, want) {
			t.Errorf("kustomization.yaml lacks %q", want)
		}
	}
}
