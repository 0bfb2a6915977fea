// Package metrics holds Gatehouse's Prometheus metrics. They are registered
// in controller-runtime's registry, so the manager's /metrics endpoint serves
// them next to the controller and workqueue metrics.
//
// Per-tenant series carry a "tenant" label; DropTenant deletes them when a
// tenant is no longer served, so a cluster with churning namespaces does not
// accumulate dead series.
package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// Snapshot object kinds, the values of the "kind" label of SnapshotObjects.
const (
	KindRoles          = "roles"
	KindGroups         = "groups"
	KindSubjects       = "subjects"
	KindFieldPolicies  = "fieldPolicies"
	KindApprovalChains = "approvalChains"
)

var (
	// CompileDuration observes how long compiling one tenant takes (listing
	// from the cache excluded).
	CompileDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "gatehouse",
		Name:      "compile_duration_seconds",
		Help:      "Time to compile one tenant's access objects into a permission snapshot.",
		// 0.5 ms to ~16 s: small tenants compile in a millisecond, the
		// 100,000-user benchmark tenant in seconds.
		Buckets: prometheus.ExponentialBuckets(0.0005, 2, 16),
	})

	// Compiles counts compiles, by whether they changed the served revision.
	Compiles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse",
		Name:      "compiles_total",
		Help:      "Compiles of tenant snapshots, by result: changed (a new revision is served) or unchanged.",
	}, []string{"result"})

	// SnapshotObjects is the size of each tenant's served snapshot.
	SnapshotObjects = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gatehouse",
		Name:      "snapshot_objects",
		Help:      "Objects in the tenant's served snapshot, by kind (roles, groups, subjects, fieldPolicies, approvalChains).",
	}, []string{"tenant", "kind"})

	// LeftOutObjects counts the objects left out of each tenant's snapshot.
	LeftOutObjects = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gatehouse",
		Name:      "snapshot_left_out_objects",
		Help:      "Access objects left out of the tenant's served snapshot because of problems.",
	}, []string{"tenant"})

	// LastCompile is when each tenant's served snapshot was compiled.
	LastCompile = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Namespace: "gatehouse",
		Name:      "snapshot_last_compile_timestamp_seconds",
		Help:      "Unix time of the last compile of the tenant's snapshot.",
	}, []string{"tenant"})

	// Tenants is the number of tenants served.
	Tenants = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gatehouse",
		Name:      "tenants",
		Help:      "Tenants served a permission snapshot.",
	})

	// AuditErrors counts audit records a sink could not take or deliver,
	// by event (compiled, admission, decision…).
	AuditErrors = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse",
		Name:      "audit_write_errors_total",
		Help:      "Audit records a sink could not take or deliver, by event.",
	}, []string{"event"})

	// Admissions counts the validating webhook's reviews by verdict
	// (admitted, denied), access kind and operation: a rise in denied
	// updates is an escalation or a broken pipeline to look at. No tenant
	// label: the audit trail names tenants and users.
	Admissions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse",
		Name:      "webhook_admissions_total",
		Help:      "Changes to access objects reviewed by the validating webhook, by verdict (admitted, denied), kind and operation.",
	}, []string{"verdict", "kind", "operation"})

	// AuditWithheld counts compiles not served because their audit record
	// was not delivered (--audit-required).
	AuditWithheld = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gatehouse",
		Name:      "audit_withheld_compiles_total",
		Help:      "Compiles not served because their audit record was not delivered (--audit-required).",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(CompileDuration, Compiles, SnapshotObjects, LeftOutObjects,
		LastCompile, Tenants, AuditErrors, AuditWithheld, Admissions)
}

// ObserveCompile records one compile of tenant: its duration, whether it
// changed the served revision, and, when it did, the new snapshot's size,
// left-out objects and compile time.
func ObserveCompile(tenant string, took time.Duration, changed bool, s *snapshot.Snapshot, leftOut int, at time.Time) {
	CompileDuration.Observe(took.Seconds())
	LastCompile.WithLabelValues(tenant).Set(float64(at.UnixNano()) / 1e9)
	if !changed {
		Compiles.WithLabelValues("unchanged").Inc()
		return
	}
	Compiles.WithLabelValues("changed").Inc()
	c := s.Counts()
	SnapshotObjects.WithLabelValues(tenant, KindRoles).Set(float64(c.Roles))
	SnapshotObjects.WithLabelValues(tenant, KindGroups).Set(float64(c.Groups))
	SnapshotObjects.WithLabelValues(tenant, KindSubjects).Set(float64(c.Subjects))
	SnapshotObjects.WithLabelValues(tenant, KindFieldPolicies).Set(float64(c.FieldPolicies))
	SnapshotObjects.WithLabelValues(tenant, KindApprovalChains).Set(float64(c.ApprovalChains))
	LeftOutObjects.WithLabelValues(tenant).Set(float64(leftOut))
}

// SetTenants sets the number of tenants served.
func SetTenants(n int) { Tenants.Set(float64(n)) }

// DropTenant deletes every series of tenant.
func DropTenant(tenant string) {
	l := prometheus.Labels{"tenant": tenant}
	SnapshotObjects.DeletePartialMatch(l)
	LeftOutObjects.DeletePartialMatch(l)
	LastCompile.DeletePartialMatch(l)
}
