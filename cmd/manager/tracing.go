package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/exporters/otlp/otlptrace/otlptracehttp"
	"go.opentelemetry.io/otel/sdk/resource"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/internal/version"
)

// tracingOptions are the OpenTelemetry tracing flags. Tracing is off
// unless an OTLP endpoint is given; off, nothing of OpenTelemetry runs
// (the handler and the controllers get a nil tracer).
type tracingOptions struct {
	endpoint string
	ratio    float64
	insecure bool
}

// tracingShutdownTimeout bounds the flush of the spans still queued when
// the manager stops.
const tracingShutdownTimeout = 5 * time.Second

func (o *tracingOptions) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.endpoint, "tracing-otlp-endpoint", "", "OTLP/HTTP collector traces are sent to, host:port or a URL (http(s)://host:port[/v1/traces]); empty (the default) turns tracing off. Traced: every authorization request (continuing the caller's W3C traceparent) and every tenant compile.")
	fs.Float64Var(&o.ratio, "tracing-sample-ratio", 1, "Fraction of the traces started here that are sampled (0 to 1). Parent based: a request whose traceparent says sampled (or not) is traced (or not) as its caller says.")
	fs.BoolVar(&o.insecure, "tracing-insecure", false, "Send traces to the collector over plain HTTP instead of HTTPS.")
}

// start builds the tracer provider the flags describe (OTLP over HTTP,
// batched, parent-based ratio sampling) and returns its tracer and a
// function flushing and stopping it. Off, the tracer is nil and stop does
// nothing.
func (o *tracingOptions) start() (trace.Tracer, func(), error) {
	if o.endpoint == "" {
		return nil, func() {}, nil
	}
	if o.ratio < 0 || o.ratio > 1 {
		return nil, nil, fmt.Errorf("--tracing-sample-ratio %v: want 0 to 1", o.ratio)
	}
	var opts []otlptracehttp.Option
	if strings.Contains(o.endpoint, "://") {
		opts = append(opts, otlptracehttp.WithEndpointURL(o.endpoint))
	} else {
		opts = append(opts, otlptracehttp.WithEndpoint(o.endpoint))
	}
	if o.insecure {
		opts = append(opts, otlptracehttp.WithInsecure())
	}
	// New does not connect: an unreachable collector costs the spans, not
	// the start-up.
	exp, err := otlptracehttp.New(context.Background(), opts...)
	if err != nil {
		return nil, nil, fmt.Errorf("--tracing-otlp-endpoint: %w", err)
	}
	res, err := resource.Merge(resource.Default(), resource.NewSchemaless(
		attribute.String("service.name", "gatehouse"),
		attribute.String("service.version", version.String()),
	))
	if err != nil && !errors.Is(err, resource.ErrPartialResource) {
		return nil, nil, err
	}
	tp := sdktrace.NewTracerProvider(
		sdktrace.WithBatcher(exp),
		sdktrace.WithResource(res),
		sdktrace.WithSampler(sdktrace.ParentBased(sdktrace.TraceIDRatioBased(o.ratio))),
	)
	stop := func() {
		ctx, cancel := context.WithTimeout(context.Background(), tracingShutdownTimeout)
		defer cancel()
		_ = tp.Shutdown(ctx) // spans not flushed in time are lost; nothing else to do at exit
	}
	return tp.Tracer("github.com/gatehouse-dev/gatehouse", trace.WithInstrumentationVersion(version.String())), stop, nil
}
