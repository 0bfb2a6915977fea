package authz

import (
	"context"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// DecisionSink receives sampled decision records; *audit.Trail is one (its
// Note never waits for delivery).
type DecisionSink interface {
	Note(ctx context.Context, r audit.Record) error
}

// decisionLog writes sampled decision records to the audit trail's sinks.
// A record names who asked (caller), about whom (subject id), what (action,
// resource type and id), the decision, its reason, the revision that decided
// it and the latency. It never contains tokens, property values or context
// values: those may be personal data or secrets an application put in a
// request.
type decisionLog struct {
	sink DecisionSink
	rate float64
	now  func() time.Time
	// names are the endpoints' names (endpointSpec.metric), copied at
	// construction: reading the endpoints table from a handler the table
	// refers to would be an initialization cycle.
	names [epUnknown + 1]string
}

func newDecisionLog(sink DecisionSink, rate float64) *decisionLog {
	if rate > 1 {
		rate = 1
	}
	if sink == nil || rate <= 0 {
		return nil
	}
	d := &decisionLog{sink: sink, rate: rate, now: time.Now}
	for ep := range d.names {
		d.names[ep] = endpoints[ep].metric
	}
	return d
}

// sampled draws whether to log one decision. Sampling is random rather
// than every-Nth so that periodic client patterns cannot hide from it.
func (d *decisionLog) sampled() bool {
	return d != nil && (d.rate >= 1 || rand.Float64() < d.rate)
}

func (d *decisionLog) decision(r *http.Request, ep endpoint, tenant string, c *Caller, q *snapshot.Request, dec *snapshot.Decision, rev string, start time.Time) {
	if !d.sampled() {
		return
	}
	now := d.now()
	// Request strings alias the pooled request buffer (see view); copy
	// them, since a sink may keep records after this returns.
	rec := &audit.Decision{
		Endpoint:      d.names[ep],
		Caller:        c.Name,
		Subject:       strings.Clone(q.Subject.ID),
		Action:        strings.Clone(q.Action),
		ResourceType:  strings.Clone(q.Resource.Type),
		ResourceID:    strings.Clone(q.Resource.ID),
		Allowed:       dec.Allowed,
		Reason:        dec.Reason,
		Revision:      rev,
		LatencyMicros: now.Sub(start).Microseconds(),
		RequestID:     clipHeader(r.Header.Get("X-Request-ID")),
	}
	if dec.Matched != nil {
		rec.Role, rec.Group = dec.Matched.Role, dec.Matched.Group
	}
	// A full or failing sink is counted by the trail; the answer goes out
	// regardless.
	_ = d.sink.Note(r.Context(), audit.Record{Time: now.UTC(), Tenant: tenant, Event: audit.EventDecision, Decision: rec})
}

// maxRequestID bounds the caller's request id copied into a record.
const maxRequestID = 128

func clipHeader(v string) string {
	if len(v) > maxRequestID {
		v = v[:maxRequestID]
	}
	return strings.Clone(v)
}
