package authz

import (
	"net/http"
	"time"
)

// Observer is told about the endpoint's traffic, for metrics. Its methods
// run on the request path: they must be cheap, safe for concurrent use and
// must not block.
type Observer interface {
	// ObserveRequest is called once per request with the endpoint's name
	// (one of EndpointNames), the HTTP status sent and the time to answer.
	ObserveRequest(endpoint string, status int, elapsed time.Duration)
	// ObserveDecisions is called once per answered evaluation or
	// evaluations request with how many evaluations it allowed and denied.
	ObserveDecisions(allowed, denied int)
}

// endpointNames are the metric names of the endpoints, indexed by endpoint.
var endpointNames = [...]string{
	epEvaluation:     "evaluation",
	epEvaluations:    "evaluations",
	epSearchSubject:  "search_subject",
	epSearchAction:   "search_action",
	epSearchResource: "search_resource",
	epFields:         "fields",
	epPlan:           "plan",
	epApprovalPlan:   "approvals_plan",
	epApprovalCheck:  "approvals_check",
	epDiscovery:      "discovery",
	epSAR:            "subjectaccessreview",
	epUnknown:        "unknown",
}

// EndpointNames lists the endpoint names an Observer receives, so that it
// can create its series up front.
func EndpointNames() []string {
	return append([]string(nil), endpointNames[:]...)
}

// statusWriter remembers the status a handler sends. It is pooled and used
// only when an Observer is set.
type statusWriter struct {
	http.ResponseWriter
	status int
}

// WriteHeader records the first status.
func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.ResponseWriter.WriteHeader(code)
}

// Write records the implicit 200 of a body written without a header.
func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	return s.ResponseWriter.Write(b)
}

// observeDecisions reports one request's decisions to the Observer.
func (h *Handler) observeDecisions(allowed, denied int) {
	if h.opts.Observer != nil {
		h.opts.Observer.ObserveDecisions(allowed, denied)
	}
}
