package controllers

import (
	"context"
	"time"

	"go.opentelemetry.io/otel/attribute"
	"go.opentelemetry.io/otel/codes"
	"go.opentelemetry.io/otel/trace"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// CompileSpanName is the name of the span of a tenant compile
// (Options.Tracer).
const CompileSpanName = "compile"

// Attributes of a compile span. The tenant key is the one the
// authorization endpoint's spans use.
const (
	TraceAttrTenant   = "gatehouse.tenant"
	TraceAttrRevision = "gatehouse.revision"
	// TraceAttrObjects is the number of access objects compiled, the
	// TraceAttrObjects+"."+kind ones (roles, groups, fieldPolicies,
	// approvalChains) the input objects of each kind.
	TraceAttrObjects = "gatehouse.objects"
	// TraceAttrCompiled* are what the snapshot holds (snapshot.Counts).
	TraceAttrCompiledRoles    = "gatehouse.compiled.roles"
	TraceAttrCompiledGroups   = "gatehouse.compiled.groups"
	TraceAttrCompiledSubjects = "gatehouse.compiled.subjects"
	// TraceAttrLeftOut is the number of objects left out for problems.
	TraceAttrLeftOut = "gatehouse.left_out"
	// TraceAttrDuration is the compiler's time in milliseconds (the span
	// also covers the audit record and the swap).
	TraceAttrDuration = "gatehouse.compile.duration_ms"
	// TraceAttrOutcome is one of the compile* outcomes, TraceAttrServed
	// whether the compiled snapshot is now served.
	TraceAttrOutcome = "gatehouse.compile.outcome"
	TraceAttrServed  = "gatehouse.compile.served"
)

// Outcomes of a compile (TraceAttrOutcome).
const (
	// compileServed: a new revision is served.
	compileServed = "served"
	// compileUnchanged: same revision as the one served, which stays.
	compileUnchanged = "unchanged"
	// compileOverQuota: withheld, the tenant is over its compiled-size
	// quota; the last good snapshot keeps serving.
	compileOverQuota = "withheld_quota"
	// compileAuditWithheld: withheld, its audit record was not delivered
	// (--audit-required).
	compileAuditWithheld = "withheld_audit"
)

// compileSpan is the span of one tenant compile; nil (tracing off) does
// nothing.
type compileSpan struct {
	span trace.Span
}

// traceCompile starts the span of a compile of tenant's objects in, a
// child of ctx's span; without a tracer it returns ctx and nil.
func (r *TenantReconciler) traceCompile(ctx context.Context, tenant string, in *tenantObjects) (context.Context, *compileSpan) {
	if r.tracer == nil {
		return ctx, nil
	}
	ctx, span := r.tracer.Start(ctx, CompileSpanName, trace.WithAttributes(
		attribute.String(TraceAttrTenant, tenant),
		attribute.Int(TraceAttrObjects, len(in.items)),
		attribute.Int(TraceAttrObjects+".roles", len(in.objs.Roles)),
		attribute.Int(TraceAttrObjects+".groups", len(in.objs.Groups)),
		attribute.Int(TraceAttrObjects+".fieldPolicies", len(in.objs.FieldPolicies)),
		attribute.Int(TraceAttrObjects+".approvalChains", len(in.objs.ApprovalChains)),
	))
	return ctx, &compileSpan{span: span}
}

// end ends the span with the compile's outcome: the compiler's time, the
// snapshot compiled (nil when over quota), how many objects it left out,
// and the error compile returns.
func (c *compileSpan) end(outcome string, took time.Duration, snap *snapshot.Snapshot, leftOut int, err error) {
	if c == nil {
		return
	}
	attrs := []attribute.KeyValue{
		attribute.String(TraceAttrOutcome, outcome),
		attribute.Bool(TraceAttrServed, outcome == compileServed),
		attribute.Float64(TraceAttrDuration, float64(took.Microseconds())/1000),
		attribute.Int(TraceAttrLeftOut, leftOut),
	}
	if snap != nil {
		n := snap.Counts()
		attrs = append(attrs,
			attribute.String(TraceAttrRevision, snap.Revision()),
			attribute.Int(TraceAttrCompiledRoles, n.Roles),
			attribute.Int(TraceAttrCompiledGroups, n.Groups),
			attribute.Int(TraceAttrCompiledSubjects, n.Subjects))
	}
	c.span.SetAttributes(attrs...)
	if err != nil {
		c.span.RecordError(err)
		c.span.SetStatus(codes.Error, "change withheld")
	}
	c.span.End()
}
