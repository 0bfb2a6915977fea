package metrics_test

import (
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/metrics"
)

// counter returns the value of the counter series of name with labels, -1
// when there is none.
func counter(t *testing.T, name string, labels map[string]string) float64 {
	t.Helper()
	if m := find(t, name, labels); m != nil {
		return m.GetCounter().GetValue()
	}
	return -1
}

func TestAuthzObserver(t *testing.T) {
	o := metrics.NewAuthzObserver([]string{"evaluation", "evaluations"})
	// Series exist before any request, so rates start at 0.
	if v := counter(t, "gatehouse_authz_requests_total", map[string]string{"endpoint": "evaluations", "code": "503"}); v != 0 {
		t.Fatalf("pre-created series: %v", v)
	}
	before := counter(t, "gatehouse_authz_requests_total", map[string]string{"endpoint": "evaluation", "code": "200"})
	o.ObserveRequest("evaluation", 200, 40*time.Microsecond)
	o.ObserveRequest("evaluation", 200, 60*time.Microsecond)
	o.ObserveRequest("evaluation", 418, time.Millisecond) // not pre-created
	o.ObserveRequest("later", 200, time.Millisecond)      // an endpoint without series
	o.ObserveDecisions(2, 1)
	o.ObserveDecisions(0, 3)

	for _, c := range []struct {
		name   string
		labels map[string]string
		want   float64
	}{
		{"gatehouse_authz_requests_total", map[string]string{"endpoint": "evaluation", "code": "200"}, before + 2},
		{"gatehouse_authz_requests_total", map[string]string{"endpoint": "evaluation", "code": "418"}, 1},
		{"gatehouse_authz_requests_total", map[string]string{"endpoint": "later", "code": "200"}, 1},
		{"gatehouse_authz_decisions_total", map[string]string{"decision": "allow"}, 2},
		{"gatehouse_authz_decisions_total", map[string]string{"decision": "deny"}, 4},
	} {
		if got := counter(t, c.name, c.labels); got != c.want {
			t.Errorf("%s%v = %v, want %v", c.name, c.labels, got, c.want)
		}
	}
	for _, m := range series(t, "gatehouse_authz_request_duration_seconds") {
		for _, l := range m.GetLabel() {
			if l.GetValue() == "evaluation" && m.GetHistogram().GetSampleCount() != 3 {
				t.Errorf("evaluation durations: %d samples, want 3", m.GetHistogram().GetSampleCount())
			}
		}
	}
}

func TestAuthzObserverAllocs(t *testing.T) {
	o := metrics.NewAuthzObserver([]string{"evaluation"})
	allocs := testing.AllocsPerRun(1000, func() {
		o.ObserveRequest("evaluation", 200, 50*time.Microsecond)
		o.ObserveDecisions(1, 0)
	})
	if allocs != 0 {
		t.Errorf("%.1f allocs per observed request, want 0", allocs)
	}
}

func TestAuthzObserverRejections(t *testing.T) {
	o := metrics.NewAuthzObserver(nil, "queue_full", "request_budget")
	if v := counter(t, "gatehouse_authz_rejected_total", map[string]string{"reason": "request_budget"}); v != 0 {
		t.Fatalf("pre-created series: %v", v)
	}
	o.ObserveRejected("queue_full")
	o.ObserveRejected("queue_full")
	o.ObserveRejected("later") // a reason without a pre-created series
	o.ObserveQueued(3 * time.Millisecond)
	for reason, want := range map[string]float64{"queue_full": 2, "later": 1, "request_budget": 0} {
		if got := counter(t, "gatehouse_authz_rejected_total", map[string]string{"reason": reason}); got != want {
			t.Errorf("rejected{reason=%q} = %v, want %v", reason, got, want)
		}
	}
	for _, m := range series(t, "gatehouse_authz_queue_wait_seconds") {
		if m.GetHistogram().GetSampleCount() != 1 {
			t.Errorf("queue waits: %d samples, want 1", m.GetHistogram().GetSampleCount())
		}
	}
}
