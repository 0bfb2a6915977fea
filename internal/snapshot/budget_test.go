package snapshot_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// tagsCondition walks a list property: its cost grows with the list.
const tagsCondition = `resource.properties.tags.exists(t, t == "needle")`

func budgetTenant(t testing.TB, members int) *snapshot.Snapshot {
	var ids []string
	for i := range members {
		ids = append(ids, fmt.Sprintf("u%05d", i))
	}
	g := group("crew", "tagger", "")
	for _, id := range ids {
		g.Spec.Members = append(g.Spec.Members, v1alpha1.SubjectID(id))
	}
	return mustCompile(t, snapshot.Objects{
		Roles: []v1alpha1.Role{
			role("tagger", permWhen("workorders", "view", v1alpha1.ScopeAll, tagsCondition)),
		},
		Groups: []v1alpha1.UserGroup{g},
	})
}

// haystack is a tags list of n items without the needle.
func haystack(n int) []any {
	tags := make([]any, n)
	for i := range tags {
		tags[i] = fmt.Sprintf("tag-%d", i)
	}
	return tags
}

func tagsReq(id string, tags []any, b *snapshot.Budget) *snapshot.Request {
	r := req(id, "view", "workorders", snapshot.Resource{Properties: map[string]any{"tags": tags}})
	r.Budget = b
	return r
}

func TestBudget(t *testing.T) {
	s := budgetTenant(t, 10)
	tags := haystack(1000)
	one := snapshot.NewBudget(context.Background(), 1<<40, 0)
	if d := s.Check(tagsReq("u00001", tags, one)); d.Allowed || d.Reason != snapshot.ReasonConditionFalse {
		t.Fatalf("unlimited budget: %+v", d)
	}
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := map[string]struct {
		budget     *snapshot.Budget
		checks     int
		wantErr    error
		wantReason string
		// wantChecks is how many checks decide before the budget stops
		// them (-1: all).
		wantChecks int
	}{
		"nil budget never stops": {budget: nil, checks: 50, wantReason: snapshot.ReasonConditionFalse, wantChecks: -1},
		"no limits":              {budget: snapshot.NewBudget(context.Background(), 0, 0), checks: 50, wantReason: snapshot.ReasonConditionFalse, wantChecks: -1},
		"large enough":           {budget: snapshot.NewBudget(context.Background(), 1_000_000_000, time.Hour), checks: 50, wantReason: snapshot.ReasonConditionFalse, wantChecks: -1},
		"spent after three":      {budget: snapshot.NewBudget(context.Background(), 3*one.Spent()+1, 0), checks: 50, wantErr: snapshot.ErrBudgetExceeded, wantChecks: 3},
		"exactly three":          {budget: snapshot.NewBudget(context.Background(), 3*one.Spent(), 0), checks: 50, wantErr: snapshot.ErrBudgetExceeded, wantChecks: 3},
		"out of time":            {budget: snapshot.NewBudget(context.Background(), 0, time.Nanosecond), checks: 5, wantErr: snapshot.ErrBudgetExceeded, wantChecks: 0},
		"spent by the first":     {budget: snapshot.NewBudget(context.Background(), 2, 0), checks: 5, wantErr: snapshot.ErrBudgetExceeded, wantChecks: 0},
		"context already ended":  {budget: snapshot.NewBudget(cancelled, 0, 0), checks: 5, wantErr: context.Canceled, wantChecks: 0},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			decided := 0
			for i := range tc.checks {
				d := s.Check(tagsReq("u00001", tags, tc.budget))
				if d.Allowed {
					t.Fatalf("check %d allowed: %+v", i, d)
				}
				if d.Reason == snapshot.ReasonBudgetExceeded {
					break
				}
				if d.Reason != snapshot.ReasonConditionFalse {
					t.Fatalf("check %d: reason %s", i, d.Reason)
				}
				decided++
			}
			if !errors.Is(tc.budget.Err(), tc.wantErr) || (tc.wantErr == nil) != (tc.budget.Err() == nil) {
				t.Fatalf("Err() = %v, want %v", tc.budget.Err(), tc.wantErr)
			}
			want := tc.wantChecks
			if want < 0 {
				want = tc.checks
			}
			if decided != want {
				t.Fatalf("%d checks decided, want %d (one check costs %d)", decided, want, one.Spent())
			}
		})
	}
}

// TestBudgetStopsWhoCan: a who-can walk over many members, each running
// the condition, stops at the budget instead of walking them all.
func TestBudgetStopsWhoCan(t *testing.T) {
	s := budgetTenant(t, 2000)
	res := snapshot.Resource{Type: "workorders", Properties: map[string]any{"tags": append(haystack(100), "needle")}}
	if all := s.WhoCan("view", res); len(all) != 2000 {
		t.Fatalf("unbounded who-can: %d subjects, want 2000", len(all))
	}
	b := snapshot.NewBudget(context.Background(), 50_000, 0)
	got := s.Within(b).WhoCan("view", res)
	if !errors.Is(b.Err(), snapshot.ErrBudgetExceeded) {
		t.Fatalf("Err() = %v after %d subjects", b.Err(), len(got))
	}
	if len(got) >= 2000 || b.Spent() > 50_000 {
		t.Fatalf("walked %d subjects, spent %d of 50000", len(got), b.Spent())
	}
}

// TestBudgetContextInterruptsCondition: a context that ends while one long
// comprehension runs stops it mid-way.
func TestBudgetContextInterruptsCondition(t *testing.T) {
	s := budgetTenant(t, 1)
	tags := haystack(200_000) // far past any list cap: the per-check limit alone would allow this
	ctx, cancel := context.WithTimeout(context.Background(), time.Millisecond)
	defer cancel()
	<-ctx.Done()
	b := snapshot.NewBudget(ctx, 0, 0)
	// Ended before: the condition does not start. Ending during the run:
	// the comprehension stops within 256 steps.
	if d := s.Check(tagsReq("u00000", tags, b)); d.Reason != snapshot.ReasonBudgetExceeded || !errors.Is(b.Err(), context.DeadlineExceeded) {
		t.Fatalf("ended context: %+v, Err %v", d, b.Err())
	}
	live, stop := context.WithCancel(context.Background())
	b = snapshot.NewBudget(live, 0, 0)
	done := make(chan snapshot.Decision)
	go func() {
		// Each check runs MaxEvalSteps steps; loop (bounded) until the
		// cancellation lands, wherever it lands.
		for range 10_000 {
			if d := s.Check(tagsReq("u00000", tags, b)); d.Reason != snapshot.ReasonConditionFalse {
				done <- d
				return
			}
		}
		done <- snapshot.Decision{}
	}()
	time.Sleep(time.Millisecond)
	stop()
	select {
	case d := <-done:
		if d.Allowed || d.Reason != snapshot.ReasonBudgetExceeded || !errors.Is(b.Err(), context.Canceled) {
			t.Fatalf("interrupted check: %+v, Err %v", d, b.Err())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("a cancelled check kept running")
	}
	// Mid-way: a time limit crossed inside one comprehension stops it
	// within 256 steps of the 1,000.
	b = snapshot.NewBudget(context.Background(), 1<<40, time.Nanosecond)
	if d := s.Check(tagsReq("u00000", haystack(1000), b)); d.Reason != snapshot.ReasonBudgetExceeded || b.Spent() > 1+256 {
		t.Fatalf("time limit: %+v after %d units", d, b.Spent())
	}
}

// BenchmarkWorstConditionCost measures one evaluation of a list-walking
// condition at the decoder's list cap (1,000 items): CPU per check and the
// CEL cost charged, from which the request budget's worst case follows.
func BenchmarkWorstConditionCost(b *testing.B) {
	s := budgetTenant(b, 1)
	tags := haystack(1000)
	bud := snapshot.NewBudget(context.Background(), 0, 0)
	var cost int64
	for b.Loop() {
		bud.Reset(context.Background(), 1<<62, 0)
		s.Check(tagsReq("u00000", tags, bud))
		cost = bud.Spent()
	}
	b.ReportMetric(float64(cost), "cost/op")
}

func TestConditionPatternsMustBeLiterals(t *testing.T) {
	tests := map[string]struct {
		when    string
		wantErr bool
	}{
		"literal pattern":           {when: `resource.properties.code.matches("^[A-Z]{3}$")`},
		"global form, literal":      {when: `matches(resource.properties.code, "^x")`},
		"pattern from the record":   {when: `resource.properties.blob.matches(resource.properties.re)`, wantErr: true},
		"global form, from context": {when: `matches(resource.properties.code, context.re)`, wantErr: true},
		"built pattern":             {when: `resource.properties.code.matches("^" + subject.id)`, wantErr: true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			_, probs := snapshot.Compile("t", snapshot.Objects{Roles: []v1alpha1.Role{role("r", permWhen("workorders", "view", v1alpha1.ScopeAll, tc.when))}})
			if got := len(probs) > 0; got != tc.wantErr {
				t.Fatalf("problems %v, want error %v", probs, tc.wantErr)
			}
			if tc.wantErr && !strings.Contains(probs[0].Message, "string literal") {
				t.Fatalf("message %q", probs[0].Message)
			}
		})
	}
}
