package metrics

import (
	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

// Reasons an HTTP audit sink drops records, the values of the "reason"
// label of AuditHTTPDropped. The set is fixed.
const (
	// AuditDropFull: the sink's buffer was full when the record was written.
	AuditDropFull = "full"
	// AuditDropRejected: the receiver refused the record's batch with a 4xx
	// that retrying cannot fix, or the record alone was too large (413).
	AuditDropRejected = "rejected"
	// AuditDropClosed: the sink was closed before the record was delivered.
	AuditDropClosed = "closed"
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
	// (full, rejected, closed).
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
	for _, r := range []string{AuditDropFull, AuditDropRejected, AuditDropClosed} {
		AuditHTTPDropped.WithLabelValues(r)
	}
}
