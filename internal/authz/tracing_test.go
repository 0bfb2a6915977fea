package authz

import (
	"net/http"
	"strings"
	"testing"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
)

const (
	// A caller's W3C trace context (the examples of the specification).
	testTraceID     = "4bf92f3577b34da6a3ce929d0e0e4736"
	testParentSpan  = "00f067aa0ba902b7"
	testTraceparent = "00-" + testTraceID + "-" + testParentSpan + "-01"
	testTracestate  = "congo=t61rcWkgMzE"
	testToken       = "secret-bearer-token-xyz"
)

// newTracedHandler returns a handler tracing into an in-memory exporter,
// with the parent-based sampler the manager uses (ratio 1 for roots).
func newTracedHandler(t testing.TB) (*Handler, *tracetest.InMemoryExporter) {
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	t.Cleanup(func() { _ = tp.Shutdown(t.Context()) })
	h, _ := newTestHandler(t, Options{Tracer: tp.Tracer("test")})
	return h, exp
}

func spanAttrs(s tracetest.SpanStub) map[attribute.Key]attribute.Value {
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		m[kv.Key] = kv.Value
	}
	return m
}

// checkNoSecrets fails when an attribute value carries the token or a
// value of the request's tuple.
func checkNoSecrets(t *testing.T, s tracetest.SpanStub, body string) {
	t.Helper()
	for _, kv := range s.Attributes {
		v := kv.Value.String()
		if strings.Contains(v, testToken) {
			t.Errorf("attribute %s carries the bearer token", kv.Key)
		}
		for _, secret := range []string{"tom.tech", "alex.apprentice", "wo-1", "/ca/ab/calgary", "workorders"} {
			if strings.Contains(body, secret) && strings.Contains(v, secret) {
				t.Errorf("attribute %s=%q carries request content %q", kv.Key, v, secret)
			}
		}
	}
}

func TestTracingEvaluationContinuesCallerTrace(t *testing.T) {
	h, exp := newTracedHandler(t)
	w := do(h, "POST", base+"/access/v1/evaluation", evalAllowBody,
		"traceparent", testTraceparent, "tracestate", testTracestate, "Authorization", "Bearer "+testToken)
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	s := spans[0]
	if s.Name != "evaluation" || s.SpanKind != trace.SpanKindServer {
		t.Errorf("span %q kind %v, want evaluation, server", s.Name, s.SpanKind)
	}
	if got := s.SpanContext.TraceID().String(); got != testTraceID {
		t.Errorf("trace ID %s, want the caller's %s", got, testTraceID)
	}
	if got := s.Parent.SpanID().String(); got != testParentSpan || !s.Parent.IsRemote() {
		t.Errorf("parent span %s (remote %v), want the caller's %s", got, s.Parent.IsRemote(), testParentSpan)
	}
	if got := s.SpanContext.TraceState().String(); got != testTracestate {
		t.Errorf("tracestate %q, want %q", got, testTracestate)
	}
	a := spanAttrs(s)
	want := map[attribute.Key]attribute.Value{
		TraceAttrTenant:   attribute.StringValue(tenant),
		TraceAttrEndpoint: attribute.StringValue("evaluation"),
		TraceAttrMethod:   attribute.StringValue("POST"),
		TraceAttrStatus:   attribute.IntValue(200),
		TraceAttrDecision: attribute.BoolValue(true),
		TraceAttrReason:   attribute.StringValue("Allowed"),
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("attribute %s = %v, want %v", k, a[k].String(), v.String())
		}
	}
	if _, ok := a[TraceAttrBatchSize]; ok {
		t.Errorf("a single evaluation has %s", TraceAttrBatchSize)
	}
	if len(a) != len(want) {
		t.Errorf("attributes %v, want exactly %v", s.Attributes, want)
	}
	checkNoSecrets(t, s, evalAllowBody)
}

func TestTracingDenyBatchAndErrors(t *testing.T) {
	h, exp := newTracedHandler(t)
	cases := []struct {
		name, path, body string
		status           int
		want             map[attribute.Key]attribute.Value
		absent           []attribute.Key
	}{
		{"deny", base + "/access/v1/evaluation", evalDenyBody, 200, map[attribute.Key]attribute.Value{
			TraceAttrDecision: attribute.BoolValue(false), TraceAttrReason: attribute.StringValue("ScopeNotMatched"),
		}, []attribute.Key{TraceAttrBatchSize}},
		{"batch", base + "/access/v1/evaluations", batchBody(3), 200, map[attribute.Key]attribute.Value{
			TraceAttrEndpoint: attribute.StringValue("evaluations"), TraceAttrBatchSize: attribute.IntValue(3),
		}, []attribute.Key{TraceAttrDecision, TraceAttrReason}},
		{"bad request", base + "/access/v1/evaluation", `{"subject":{"type":"user","id":"tom.tech"}}`, 400, map[attribute.Key]attribute.Value{
			TraceAttrStatus: attribute.IntValue(400), TraceAttrTenant: attribute.StringValue(tenant),
		}, []attribute.Key{TraceAttrDecision, TraceAttrReason}},
		{"no route", "/nowhere", `{}`, 404, map[attribute.Key]attribute.Value{
			TraceAttrEndpoint: attribute.StringValue("unknown"), TraceAttrStatus: attribute.IntValue(404),
		}, []attribute.Key{TraceAttrTenant}},
	}
	for _, c := range cases {
		exp.Reset()
		w := do(h, "POST", c.path, c.body, "traceparent", testTraceparent, "Authorization", "Bearer "+testToken)
		if w.Code != c.status {
			t.Fatalf("%s: status %d, want %d: %s", c.name, w.Code, c.status, w.Body)
		}
		spans := exp.GetSpans()
		if len(spans) != 1 {
			t.Fatalf("%s: %d spans, want 1", c.name, len(spans))
		}
		a := spanAttrs(spans[0])
		for k, v := range c.want {
			if a[k] != v {
				t.Errorf("%s: attribute %s = %v, want %v", c.name, k, a[k].String(), v.String())
			}
		}
		for _, k := range c.absent {
			if _, ok := a[k]; ok {
				t.Errorf("%s: unexpected attribute %s", c.name, k)
			}
		}
		if spans[0].SpanContext.TraceID().String() != testTraceID {
			t.Errorf("%s: not in the caller's trace", c.name)
		}
		checkNoSecrets(t, spans[0], c.body)
	}
}

// TestTracingUnsampledParent: a caller that does not sample its trace
// gets no span (parent-based sampling), and the answer is unchanged.
func TestTracingUnsampledParent(t *testing.T) {
	h, exp := newTracedHandler(t)
	w := do(h, "POST", base+"/access/v1/evaluation", evalAllowBody,
		"traceparent", "00-"+testTraceID+"-"+testParentSpan+"-00")
	if w.Code != 200 {
		t.Fatalf("status %d: %s", w.Code, w.Body)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans for an unsampled caller, want 0", n)
	}
	// No traceparent: a new root trace.
	do(h, "POST", base+"/access/v1/evaluation", evalAllowBody)
	spans := exp.GetSpans()
	if len(spans) != 1 || spans[0].Parent.IsValid() {
		t.Fatalf("spans %v, want one root span", spans)
	}
}

// TestTracingOffAllocs pins that with Options.Tracer nil a request
// carrying a traceparent costs what TestEvaluationAllocs allows (no
// allocation): the header is not parsed, no context or span is made.
func TestTracingOffAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects at random under the race detector")
	}
	h, _ := newTestHandler(t, Options{})
	if h.opts.Tracer != nil {
		t.Fatal("tracing is on by default")
	}
	measure := func(traced bool) float64 {
		rp := newReplay(base+"/access/v1/evaluation", evalAllowBody)
		if traced {
			rp.r.Header.Set("Traceparent", testTraceparent)
			rp.r.Header.Set("Tracestate", testTracestate)
		}
		w := &nopWriter{h: http.Header{}}
		rp.serve(h, w)
		if w.code != 200 {
			t.Fatalf("status %d %s", w.code, w.last)
		}
		return testing.AllocsPerRun(200, func() { rp.serve(h, w) })
	}
	baseline, withHeader := measure(false), measure(true)
	t.Logf("tracing off: %.1f allocs/op, %.1f with a traceparent", baseline, withHeader)
	if baseline != 0 || withHeader != baseline {
		t.Errorf("tracing off: %.1f allocs/op with a traceparent, %.1f without; want 0 for both", withHeader, baseline)
	}
}

// BenchmarkEvaluationTracingOff is BenchmarkEvaluationHandler with
// requests carrying a caller's traceparent and tracing off (the default):
// it must cost the same.
func BenchmarkEvaluationTracingOff(b *testing.B) {
	h, _ := newTestHandler(b, Options{})
	benchTraced(b, h, testTraceparent)
}

// BenchmarkEvaluationTracingOn traces every request (sampled, parent
// based) into a batching processor whose exporter drops the spans: the
// cost of tracing in the handler, without a collector's network cost.
func BenchmarkEvaluationTracingOn(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.AlwaysSample())))
	b.Cleanup(func() { _ = tp.Shutdown(b.Context()) })
	h, _ := newTestHandler(b, Options{Tracer: tp.Tracer("bench")})
	benchTraced(b, h, testTraceparent)
}

// BenchmarkEvaluationTracingUnsampled is tracing on for requests whose
// caller does not sample (traceparent flags 00), as most requests are with
// a low --tracing-sample-ratio: the header is parsed and a non-recording
// span is put in the request's context, nothing is exported.
func BenchmarkEvaluationTracingUnsampled(b *testing.B) {
	tp := sdktrace.NewTracerProvider(sdktrace.WithBatcher(tracetest.NewNoopExporter()),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(0.01))))
	b.Cleanup(func() { _ = tp.Shutdown(b.Context()) })
	h, _ := newTestHandler(b, Options{Tracer: tp.Tracer("bench")})
	benchTraced(b, h, "00-"+testTraceID+"-"+testParentSpan+"-00")
}

func benchTraced(b *testing.B, h *Handler, traceparent string) {
	reps := make([]*replay, len(evalBodies))
	for i, body := range evalBodies {
		reps[i] = newReplay(base+"/access/v1/evaluation", body)
		reps[i].r.Header.Set("Traceparent", traceparent)
	}
	w := &nopWriter{h: http.Header{}}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		reps[i%len(reps)].serve(h, w)
	}
	if w.code != 200 {
		b.Fatalf("status %d: %s", w.code, w.last)
	}
}
