package bench

import (
	"context"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot/snapshottest"
)

// The in-process benchmark bodies, shared by bench_test.go (go test
// -bench) and cmd/benchall (testing.Benchmark).

// BenchGatehouseCheck checks the decoded requests of the whole mix (scope
// path and CEL conditions).
func BenchGatehouseCheck(t *Tenant) func(b *testing.B) {
	reqs := snapshottest.PackRequests(t.Checks)
	for i := range reqs {
		reqs[i].Resource.Properties = t.Checks[i].Resource.Properties
	}
	return func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			t.Snap.Check(&reqs[i%len(reqs)])
		}
	}
}

// BenchGatehouseScope checks the decoded requests whose decision needs no
// CEL condition (the scope path, the headline of docs/benchmarks.md).
func BenchGatehouseScope(t *Tenant, reqs []snapshot.Request) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			t.Snap.Check(&reqs[i%len(reqs)])
		}
	}
}

// BenchNaive is tenantgen's naive reference walk.
func BenchNaive(t *Tenant) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r := &t.Reqs[i%len(t.Reqs)]
			t.Model.Allowed(r.Subject, r.Action, r.Record)
		}
	}
}

// BenchOPA evaluates the prepared allow query on pre-built inputs (the
// decoded request as OPA takes it: a map).
func BenchOPA(o *OPA, t *Tenant) func(b *testing.B) {
	inputs := make([]map[string]any, len(t.Reqs))
	for i, r := range t.Reqs {
		inputs[i] = OPAInput(r)
	}
	ctx := context.Background()
	return func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := o.Allow.Eval(ctx, rego.EvalInput(inputs[i%len(inputs)])); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// BenchCasbin enforces on pre-built objects; the subject's attributes are
// looked up per call, as an application would.
func BenchCasbin(c *Casbin, t *Tenant) func(b *testing.B) {
	objs := make([]*CasbinObject, len(t.Reqs))
	for i, r := range t.Reqs {
		objs[i] = CasbinObjectOf(r.Record)
	}
	return func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			r := &t.Reqs[i%len(t.Reqs)]
			if _, err := c.Check(r.Subject, r.Action, objs[i%len(objs)]); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// ListSubjects are up to n distinct subjects of the request mix, for "which
// work orders may this user view".
func ListSubjects(t *Tenant, n int) []string {
	seen := map[string]bool{}
	var out []string
	for _, r := range t.Reqs {
		if len(out) == n {
			break
		}
		if !seen[r.Subject] {
			seen[r.Subject] = true
			out = append(out, r.Subject)
		}
	}
	return out
}

// BenchPlan is Gatehouse's Plan for view on workorders.
func BenchPlan(t *Tenant, subjects []string) func(b *testing.B) {
	return func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			t.Snap.Plan(snapshot.Subject{ID: subjects[i%len(subjects)]}, "view", "workorders")
		}
	}
}

// BenchPartial is OPA's partial evaluation of the same question.
func BenchPartial(o *OPA, subjects []string) func(b *testing.B) {
	ctx := context.Background()
	return func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := o.ListFilter(ctx, subjects[i%len(subjects)], "view", "workorders"); err != nil {
				b.Fatal(err)
			}
		}
	}
}

// ListAgreement compares Plan and partial evaluation on what can be
// compared without a database: whether the answer is "no record" (Plan
// never, no residual query) for each subject. It returns how many
// subjects agree, and how many Plan said never / always / conditional.
func ListAgreement(ctx context.Context, o *OPA, t *Tenant, subjects []string) (agree, never, always, cond int, err error) {
	for _, s := range subjects {
		p := t.Snap.Plan(snapshot.Subject{ID: s}, "view", "workorders")
		qs, err := o.ListFilter(ctx, s, "view", "workorders")
		if err != nil {
			return 0, 0, 0, 0, err
		}
		opaNever := len(qs) == 0
		opaAlways := false
		for _, q := range qs {
			if len(q) == 0 {
				opaAlways = true
			}
		}
		switch p.Kind {
		case snapshot.PlanNever:
			never++
		case snapshot.PlanAlways:
			always++
		default:
			cond++
		}
		if (p.Kind == snapshot.PlanNever) == opaNever && (p.Kind == snapshot.PlanAlways) == opaAlways {
			agree++
		}
	}
	return agree, never, always, cond, nil
}

// BenchOPAParsed is BenchOPA with the inputs converted to OPA values
// beforehand (rego.EvalParsedInput): OPA's best case, without the
// conversion of a Go map that every caller holding JSON-like data pays.
func BenchOPAParsed(o *OPA, t *Tenant) func(b *testing.B) {
	inputs := make([]ast.Value, len(t.Reqs))
	for i, r := range t.Reqs {
		inputs[i] = mustValue(OPAInput(r))
	}
	ctx := context.Background()
	return func(b *testing.B) {
		b.ReportAllocs()
		for i := 0; i < b.N; i++ {
			if _, err := o.Allow.Eval(ctx, rego.EvalParsedInput(inputs[i%len(inputs)])); err != nil {
				b.Fatal(err)
			}
		}
	}
}
