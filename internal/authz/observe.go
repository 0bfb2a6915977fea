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
	// ObserveRejected is called when a request is shed or stopped for a
	// limit, with the reason (one of RejectionReasons).
	ObserveRejected(reason string)
	// ObserveQueued is called when a request waited for a slot, with how
	// long it waited (whether or not it got one).
	ObserveQueued(waited time.Duration)
}

// rejection is why a request was shed or stopped.
type rejection uint8

const (
	rejectedQueueFull    rejection = iota // its flow's queue or the total queue was full
	rejectedQueueWait                     // no slot within QueueWait
	rejectedGone                          // the caller left while queued
	rejectedBytes                         // the byte budget of requests in flight was spent
	rejectedAuthFailures                  // its source failed authentication too often
	rejectedBudget                        // its conditions cost more than MaxRequestCost
)

// rejectionNames are the reasons an Observer receives, indexed by rejection.
var rejectionNames = [...]string{
	rejectedQueueFull:    "queue_full",
	rejectedQueueWait:    "queue_wait",
	rejectedGone:         "cancelled",
	rejectedBytes:        "bytes_in_flight",
	rejectedAuthFailures: "auth_failures",
	rejectedBudget:       "request_budget",
}

// RejectionReasons lists the reasons ObserveRejected receives, so that an
// Observer can create its series up front.
func RejectionReasons() []string {
	return append([]string(nil), rejectionNames[:]...)
}

// EndpointNames lists the endpoint names an Observer receives, so that it
// can create its series up front.
func EndpointNames() []string {
	names := make([]string, len(endpoints))
	for i := range endpoints {
		names[i] = endpoints[i].metric
	}
	return names
}

// statusWriter remembers the status a handler sends and frees the
// request's seat when the answer starts: the work is done by then, and a
// client that reads slowly must not hold a seat others wait for. It is
// pooled.
type statusWriter struct {
	http.ResponseWriter
	status int
	seats  *fairLimiter // the seat held, nil when none
}

// WriteHeader records the first status.
func (s *statusWriter) WriteHeader(code int) {
	if s.status == 0 {
		s.status = code
	}
	s.freeSeat()
	s.ResponseWriter.WriteHeader(code)
}

// Write records the implicit 200 of a body written without a header.
func (s *statusWriter) Write(b []byte) (int, error) {
	if s.status == 0 {
		s.status = http.StatusOK
	}
	s.freeSeat()
	return s.ResponseWriter.Write(b)
}

// freeSeat releases the seat once.
func (s *statusWriter) freeSeat() {
	if s.seats != nil {
		s.seats.release()
		s.seats = nil
	}
}

// tally counts one request's decisions for the Observer.
type tally struct{ allowed, denied int }

func (c *tally) count(allowed bool) {
	if allowed {
		c.allowed++
	} else {
		c.denied++
	}
}

// observeDecisions reports one request's decisions to the Observer.
func (h *Handler) observeDecisions(allowed, denied int) {
	if h.opts.Observer != nil {
		h.opts.Observer.ObserveDecisions(allowed, denied)
	}
}
