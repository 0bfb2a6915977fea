package metrics

import (
	"github.com/prometheus/client_golang/prometheus"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// AuditHTTPQueued is the number of records the HTTP audit sinks hold
	// that are neither delivered nor dropped yet (queued or in flight).
	AuditHTTPQueued = prometheus.NewGauge(prometheus.GaugeOpts{
		Namespace: "gatehouse",
		Name:      "audit_http_queued_records",
		Help:      "Audit records held by the HTTP sink, queued or in flight, not yet delivered or dropped.",
	})

	// AuditHTTPDelivered counts records the receiver acknowledged (2xx).
	AuditHTTPDelivered = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gatehouse",
		Name:      "audit_http_delivered_records_total",
		Help:      "Audit records the HTTP receiver acknowledged with a 2xx answer.",
	})

	// AuditHTTPDropped counts records the HTTP sink gave up on, by reason
	// (audit.DropReasons).
	AuditHTTPDropped = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse",
		Name:      "audit_http_dropped_records_total",
		Help:      "Audit records the HTTP sink dropped, by reason: full (buffer full), rejected (refused by the receiver), closed (still queued when the sink closed).",
	}, []string{"reason"})

	// AuditHTTPRetries counts requests the HTTP sink sent again after a
	// network error, 408, 429 or 5xx.
	AuditHTTPRetries = prometheus.NewCounter(prometheus.CounterOpts{
		Namespace: "gatehouse",
		Name:      "audit_http_retried_requests_total",
		Help:      "Requests of the HTTP audit sink retried after a network error, 408, 429 or 5xx answer.",
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(AuditHTTPQueued, AuditHTTPDelivered, AuditHTTPDropped, AuditHTTPRetries)
	// Every reason is exported from the start, at 0, so alerts on rate()
	// see the series before the first drop.
	for _, r := range audit.DropReasons {
		AuditHTTPDropped.WithLabelValues(r)
	}
}

// AuditCounters count the audit trail's and HTTP sink's events in the
// manager's registry (audit.Options.Counters, audit.HTTPOptions.Counters).
type AuditCounters struct{}

var _ audit.Counters = AuditCounters{}

// WriteFailed implements audit.Counters.
func (AuditCounters) WriteFailed(event string) { AuditErrors.WithLabelValues(event).Inc() }

// HTTPQueued implements audit.Counters.
func (AuditCounters) HTTPQueued(delta int) { AuditHTTPQueued.Add(float64(delta)) }

// HTTPDelivered implements audit.Counters.
func (AuditCounters) HTTPDelivered(n int) { AuditHTTPDelivered.Add(float64(n)) }

// HTTPDropped implements audit.Counters.
func (AuditCounters) HTTPDropped(reason string, n int) {
	AuditHTTPDropped.WithLabelValues(reason).Add(float64(n))
}

// HTTPRetried implements audit.Counters.
func (AuditCounters) HTTPRetried() { AuditHTTPRetries.Inc() }
