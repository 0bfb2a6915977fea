package authz

import (
	"net/http"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/propagation"
	"go.opentelemetry.io/otel/trace"
)

// Attributes of the span of an authorization request (Options.Tracer).
// They never carry tokens, subject or resource properties, or context
// values: only what routing and the answer say.
const (
	// TraceAttrTenant is the tenant (namespace) the path names; absent
	// when no route matched.
	TraceAttrTenant = "gatehouse.tenant"
	// TraceAttrEndpoint is the endpoint's name, as the Observer gets it
	// (one of EndpointNames); also the span's name.
	TraceAttrEndpoint = "gatehouse.endpoint"
	// TraceAttrDecision and TraceAttrReason are the decision and its
	// reason code of a single evaluation answered 200.
	TraceAttrDecision = "gatehouse.decision"
	TraceAttrReason   = "gatehouse.reason"
	// TraceAttrBatchSize is the number of evaluations of a batch request.
	TraceAttrBatchSize = "gatehouse.batch.size"
	// TraceAttrStatus is the HTTP status sent (OpenTelemetry semantic
	// conventions), TraceAttrMethod the request's method.
	TraceAttrStatus = "http.response.status_code"
	TraceAttrMethod = "http.request.method"
)

// traceContext reads the caller's W3C trace context (traceparent and
// tracestate headers).
var traceContext propagation.TraceContext

// reqTrace is the span of one request being traced, and what serve tells
// it about the answer before the request's state goes back to the pool.
// It exists only when Options.Tracer is set and the span records.
type reqTrace struct {
	span    trace.Span
	name    string // the endpoint's
	tenant  string // "": no route
	method  string
	decided bool // a single evaluation was decided
	allowed bool
	reason  string
	batch   int // evaluations of a batch request; -1: not a batch
	// attrs holds the span's attributes, set once when it ends (each
	// SetAttributes call grows the span's slice).
	attrs [7]attribute.KeyValue
}

// serverSpan are the options of a request's span, made once.
var serverSpan = []trace.SpanStartOption{trace.WithSpanKind(trace.SpanKindServer)}

// startTrace starts the span of request r, continuing the caller's trace
// context, and returns r with the span in its context. The returned
// reqTrace is nil when the span does not record (not sampled): nothing
// more is spent on it.
func (h *Handler) startTrace(r *http.Request) (*reqTrace, *http.Request) {
	rt, ok := h.match(r.URL.Path)
	if !ok {
		rt = route{ep: epUnknown}
	}
	name := endpoints[rt.ep].metric
	ctx := traceContext.Extract(r.Context(), propagation.HeaderCarrier(r.Header))
	ctx, span := h.opts.Tracer.Start(ctx, name, serverSpan...)
	r = r.WithContext(ctx)
	if !span.IsRecording() {
		return nil, r
	}
	return &reqTrace{span: span, name: name, tenant: rt.tenant, method: r.Method, batch: -1}, r
}

// record notes the answer of endpoint ep from the request's state, once
// the endpoint has served it.
func (t *reqTrace) record(ep endpoint, st *state) {
	switch {
	case ep == epEvaluations && len(st.req.items) > 0:
		t.batch = len(st.req.items)
	case ep == epEvaluation || ep == epEvaluations:
		if st.dec.d.Reason != "" {
			t.decided, t.allowed, t.reason = true, st.dec.d.Allowed, st.dec.d.Reason
		}
	}
}

// end ends the span with the status sent (0: nothing written, which
// net/http answers 200).
func (t *reqTrace) end(status int) {
	if status == 0 {
		status = http.StatusOK
	}
	a := append(t.attrs[:0], attribute.String(TraceAttrEndpoint, t.name), attribute.String(TraceAttrMethod, t.method),
		attribute.Int(TraceAttrStatus, status))
	if t.tenant != "" {
		a = append(a, attribute.String(TraceAttrTenant, t.tenant))
	}
	if status == http.StatusOK && t.decided {
		a = append(a, attribute.Bool(TraceAttrDecision, t.allowed), attribute.String(TraceAttrReason, t.reason))
	}
	if t.batch >= 0 {
		a = append(a, attribute.Int(TraceAttrBatchSize, t.batch))
	}
	t.span.SetAttributes(a...)
	if status >= 500 {
		// Server spans are errors for 5xx only (semantic conventions):
		// a 4xx is the caller's.
		t.span.SetStatus(codes.Error, http.StatusText(status))
	}
	t.span.End()
}
