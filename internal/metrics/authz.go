package metrics

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// AuthzRequests counts the authorization endpoint's requests by
	// endpoint and HTTP status code.
	AuthzRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse",
		Name:      "authz_requests_total",
		Help:      "Requests to the authorization endpoint, by endpoint (evaluation, evaluations, fields, ...) and HTTP status code.",
	}, []string{"endpoint", "code"})

	// AuthzDuration observes the time to answer a request, by endpoint.
	AuthzDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Namespace: "gatehouse",
		Name:      "authz_request_duration_seconds",
		Help:      "Time from the request's arrival at the handler to the end of the answer, by endpoint.",
		// 25 µs to ~0.8 s: a check answers in microseconds, a request
		// waiting for context.minRevision in up to seconds.
		Buckets: prometheus.ExponentialBuckets(0.000025, 2, 16),
	}, []string{"endpoint"})

	// AuthzDecisions counts evaluated decisions (a batch counts each of its
	// evaluations), by result.
	AuthzDecisions = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse",
		Name:      "authz_decisions_total",
		Help:      "Evaluations answered by the AuthZEN evaluation and evaluations endpoints, by decision (allow or deny).",
	}, []string{"decision"})

	// AuthzRejected counts requests shed or stopped for a limit, by reason
	// (queue_full, queue_wait, cancelled, bytes_in_flight, auth_failures,
	// request_budget).
	AuthzRejected = prometheus.NewCounterVec(prometheus.CounterOpts{
		Namespace: "gatehouse",
		Name:      "authz_rejected_total",
		Help:      "Requests to the authorization endpoint refused by a limit (429, or 422 for request_budget), by reason.",
	}, []string{"reason"})

	// AuthzQueueWait observes how long requests waited for a slot when
	// every slot was taken.
	AuthzQueueWait = prometheus.NewHistogram(prometheus.HistogramOpts{
		Namespace: "gatehouse",
		Name:      "authz_queue_wait_seconds",
		Help:      "Time requests waited in the fair queue for a slot (only requests that queued), whether or not they got one.",
		Buckets:   prometheus.ExponentialBuckets(0.0001, 2, 14),
	})
)

func init() {
	ctrlmetrics.Registry.MustRegister(AuthzRequests, AuthzDuration, AuthzDecisions, AuthzRejected, AuthzQueueWait)
}

// commonCodes are the statuses the endpoint sends; their series are resolved
// up front so that observing a request does not allocate.
var commonCodes = [...]int{200, 400, 401, 403, 404, 405, 413, 415, 422, 429, 500, 503}

// AuthzObserver records the authorization endpoint's traffic in the metrics
// above. It implements authz.Observer without importing it (the evaluator
// and endpoint packages know nothing of Prometheus).
type AuthzObserver struct {
	endpoints         map[string]*endpointSeries
	allowed, rejected prometheus.Counter
	reasons           map[string]prometheus.Counter
}

type endpointSeries struct {
	name     string
	duration prometheus.Observer
	codes    [len(commonCodes)]prometheus.Counter
}

// NewAuthzObserver returns an observer with the series of endpoints (from
// authz.EndpointNames) created, so that they read 0 before the first
// request instead of being absent.
func NewAuthzObserver(endpoints []string, reasons ...string) *AuthzObserver {
	o := &AuthzObserver{
		reasons:   make(map[string]prometheus.Counter, len(reasons)),
		endpoints: make(map[string]*endpointSeries, len(endpoints)),
		allowed:   AuthzDecisions.WithLabelValues("allow"),
		rejected:  AuthzDecisions.WithLabelValues("deny"),
	}
	for _, name := range endpoints {
		s := &endpointSeries{name: name, duration: AuthzDuration.WithLabelValues(name)}
		for i, code := range commonCodes {
			s.codes[i] = AuthzRequests.WithLabelValues(name, strconv.Itoa(code))
		}
		o.endpoints[name] = s
	}
	for _, r := range reasons {
		o.reasons[r] = AuthzRejected.WithLabelValues(r)
	}
	return o
}

// ObserveRejected counts a refused request.
func (o *AuthzObserver) ObserveRejected(reason string) {
	if c, ok := o.reasons[reason]; ok {
		c.Inc()
		return
	}
	AuthzRejected.WithLabelValues(reason).Inc()
}

// ObserveQueued observes a queue wait.
func (o *AuthzObserver) ObserveQueued(waited time.Duration) {
	AuthzQueueWait.Observe(waited.Seconds())
}

// ObserveRequest counts one request and observes its duration.
func (o *AuthzObserver) ObserveRequest(endpoint string, status int, elapsed time.Duration) {
	s, ok := o.endpoints[endpoint]
	if !ok {
		// An endpoint added without its series: still counted.
		AuthzRequests.WithLabelValues(endpoint, strconv.Itoa(status)).Inc()
		AuthzDuration.WithLabelValues(endpoint).Observe(elapsed.Seconds())
		return
	}
	s.duration.Observe(elapsed.Seconds())
	for i, code := range commonCodes {
		if code == status {
			s.codes[i].Inc()
			return
		}
	}
	AuthzRequests.WithLabelValues(s.name, strconv.Itoa(status)).Inc()
}

// ObserveDecisions counts one request's allowed and denied evaluations.
func (o *AuthzObserver) ObserveDecisions(allowed, denied int) {
	if allowed > 0 {
		o.allowed.Add(float64(allowed))
	}
	if denied > 0 {
		o.rejected.Add(float64(denied))
	}
}
