package controllers

import (
	"context"
	"io"
	"testing"
	"time"

	"go.opentelemetry.io/otel/attribute"
	sdktrace "go.opentelemetry.io/otel/sdk/trace"
	"go.opentelemetry.io/otel/sdk/trace/tracetest"
	"go.opentelemetry.io/otel/trace"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	accessv1 "github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// newTracedReconciler is a TenantReconciler for calling compile directly
// (no manager, no API server), tracing into an in-memory exporter.
func newTracedReconciler(tracer trace.Tracer, limits snapshot.Limits) *TenantReconciler {
	return &TenantReconciler{
		store:          store.New(),
		audit:          audit.NewTrail(audit.Options{}, audit.NewLines(io.Discard)),
		readiness:      NewReadinessTracker(),
		elected:        make(chan struct{}), // never the leader: no Events
		limits:         limits,
		now:            time.Now,
		compiledTenant: func(string) {},
		tenants:        map[string]*tenantState{},
		tracer:         tracer,
	}
}

// tracedTenantObjects lists a tenant of two roles and two groups, one of
// them left out, from a fake client (which the reconciler also reads).
func tracedTenantObjects(t *testing.T, r *TenantReconciler, tenant string) *tenantObjects {
	t.Helper()
	scheme := runtime.NewScheme()
	if err := accessv1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	perm := []accessv1.Permission{{Resources: []accessv1.ModuleName{"workorders"}, Actions: []accessv1.ActionName{"view"}}}
	c := fake.NewClientBuilder().WithScheme(scheme).WithObjects(
		&accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "viewer", Generation: 1},
			Spec: accessv1.RoleSpec{Permissions: perm}},
		&accessv1.Role{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "editor", Generation: 1},
			Spec: accessv1.RoleSpec{Permissions: perm}},
		&accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "crew", Generation: 1},
			Spec: accessv1.UserGroupSpec{Members: []accessv1.SubjectID{"ann", "bob"}, Roles: []accessv1.ObjectName{"viewer"}}},
		// Grants a role that does not exist: left out.
		&accessv1.UserGroup{ObjectMeta: metav1.ObjectMeta{Namespace: tenant, Name: "broken", Generation: 1},
			Spec: accessv1.UserGroupSpec{Members: []accessv1.SubjectID{"cy"}, Roles: []accessv1.ObjectName{"missing"}}},
	).Build()
	r.client = c
	in, err := listTenant(context.Background(), c, tenant)
	if err != nil {
		t.Fatal(err)
	}
	return in
}

func compileSpanAttrs(t *testing.T, exp *tracetest.InMemoryExporter) (tracetest.SpanStub, map[attribute.Key]attribute.Value) {
	t.Helper()
	spans := exp.GetSpans()
	if len(spans) != 1 {
		t.Fatalf("%d spans, want 1", len(spans))
	}
	exp.Reset()
	m := map[attribute.Key]attribute.Value{}
	for _, kv := range spans[0].Attributes {
		m[kv.Key] = kv.Value
	}
	return spans[0], m
}

func TestCompileSpan(t *testing.T) {
	const tenant = "traced"
	exp := tracetest.NewInMemoryExporter()
	tp := sdktrace.NewTracerProvider(sdktrace.WithSyncer(exp))
	t.Cleanup(func() { _ = tp.Shutdown(context.Background()) })
	r := newTracedReconciler(tp.Tracer("test"), snapshot.DefaultLimits())
	in := tracedTenantObjects(t, r, tenant)

	// A caller's span (the reconcile's) is the compile's parent.
	ctx, parent := tp.Tracer("test").Start(context.Background(), "reconcile")
	if err := r.compile(ctx, tenant, in); err != nil {
		t.Fatal(err)
	}
	parent.End()
	spans := exp.GetSpans()
	if len(spans) != 2 || spans[0].Name != CompileSpanName {
		t.Fatalf("spans %v, want compile then reconcile", spans)
	}
	exp.Reset()
	s, a := spans[0], map[attribute.Key]attribute.Value{}
	for _, kv := range s.Attributes {
		a[kv.Key] = kv.Value
	}
	if s.Parent.SpanID() != parent.SpanContext().SpanID() {
		t.Errorf("compile span's parent %s, want the reconcile's %s", s.Parent.SpanID(), parent.SpanContext().SpanID())
	}
	rev := r.store.Get(tenant).Snapshot.Revision()
	want := map[attribute.Key]attribute.Value{
		TraceAttrTenant:                     attribute.StringValue(tenant),
		TraceAttrRevision:                   attribute.StringValue(rev),
		TraceAttrObjects:                    attribute.IntValue(4),
		TraceAttrObjects + ".roles":         attribute.IntValue(2),
		TraceAttrObjects + ".groups":        attribute.IntValue(2),
		TraceAttrCompiledRoles:              attribute.IntValue(2),
		TraceAttrCompiledGroups:             attribute.IntValue(1),
		TraceAttrLeftOut:                    attribute.IntValue(1),
		TraceAttrOutcome:                    attribute.StringValue(compileServed),
		TraceAttrServed:                     attribute.BoolValue(true),
		TraceAttrObjects + ".fieldPolicies": attribute.IntValue(0),
	}
	for k, v := range want {
		if a[k] != v {
			t.Errorf("attribute %s = %s, want %s", k, a[k].String(), v.String())
		}
	}
	if d, ok := a[TraceAttrDuration]; !ok || d.AsFloat64() < 0 {
		t.Errorf("attribute %s = %v", TraceAttrDuration, d.String())
	}

	// Nothing changed: no compile, no span.
	if err := r.compile(context.Background(), tenant, in); err != nil {
		t.Fatal(err)
	}
	if n := len(exp.GetSpans()); n != 0 {
		t.Errorf("%d spans for a skipped compile, want 0", n)
	}

	// A new generation with the same content: compiled, not served anew.
	in.items[0].obj.SetGeneration(2)
	if err := r.compile(context.Background(), tenant, in); err != nil {
		t.Fatal(err)
	}
	_, a = compileSpanAttrs(t, exp)
	if a[TraceAttrOutcome].AsString() != compileUnchanged || a[TraceAttrServed].AsBool() {
		t.Errorf("same content: outcome %s served %v, want %s, false", a[TraceAttrOutcome].String(), a[TraceAttrServed].AsBool(), compileUnchanged)
	}

	// Over the quota: withheld.
	small := snapshot.DefaultLimits()
	small.CompiledBytes = 1
	r2 := newTracedReconciler(tp.Tracer("test"), small)
	r2.client = r.client
	if err := r2.compile(context.Background(), tenant, in); err != nil {
		t.Fatal(err)
	}
	_, a = compileSpanAttrs(t, exp)
	if a[TraceAttrOutcome].AsString() != compileOverQuota || a[TraceAttrServed].AsBool() {
		t.Errorf("over quota: outcome %s served %v, want %s, false", a[TraceAttrOutcome].String(), a[TraceAttrServed].AsBool(), compileOverQuota)
	}
	if _, ok := a[TraceAttrRevision]; ok {
		t.Error("over quota: a revision, but none was compiled")
	}
}

// TestCompileUntraced: without a tracer compile works and makes no span.
func TestCompileUntraced(t *testing.T) {
	const tenant = "untraced"
	r := newTracedReconciler(nil, snapshot.DefaultLimits())
	if err := r.compile(context.Background(), tenant, tracedTenantObjects(t, r, tenant)); err != nil {
		t.Fatal(err)
	}
	if r.store.Get(tenant) == nil {
		t.Fatal("not served")
	}
}
