package authz

import (
	"net/http"
	"sync"
	"testing"
	"time"
)

// recordingObserver keeps what it was told.
type recordingObserver struct {
	mu        sync.Mutex
	requests  []string // "endpoint status"
	allowed   int
	denied    int
	durations []time.Duration
	rejected  []string
}

func (o *recordingObserver) ObserveRequest(endpoint string, status int, elapsed time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests = append(o.requests, endpoint+" "+itoa(status))
	o.durations = append(o.durations, elapsed)
}

func (o *recordingObserver) ObserveRejected(reason string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.rejected = append(o.rejected, reason)
}

func (o *recordingObserver) ObserveQueued(time.Duration) {}

func (o *recordingObserver) ObserveDecisions(allowed, denied int) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.allowed += allowed
	o.denied += denied
}

func TestObserver(t *testing.T) {
	tests := map[string]struct {
		method, path, body string
		header             []string
		wantRequest        string
		wantAllowed        int
		wantDenied         int
	}{
		"an allowed evaluation": {
			method: "POST", path: base + "/access/v1/evaluation", body: evalAllowBody,
			wantRequest: "evaluation 200", wantAllowed: 1,
		},
		"a denied evaluation": {
			method: "POST", path: base + "/access/v1/evaluation", body: evalDenyBody,
			wantRequest: "evaluation 200", wantDenied: 1,
		},
		"a batch counts every evaluation": {
			method: "POST", path: base + "/access/v1/evaluations",
			body:        `{"evaluations":[` + evalAllowBody + `,` + evalDenyBody + `,` + evalAllowBody + `]}`,
			wantRequest: "evaluations 200", wantAllowed: 2, wantDenied: 1,
		},
		"a batch stopped at the first deny counts what it evaluated": {
			method: "POST", path: base + "/access/v1/evaluations",
			body:        `{"evaluations":[` + evalAllowBody + `,` + evalDenyBody + `,` + evalAllowBody + `],"options":{"evaluations_semantic":"deny_on_first_deny"}}`,
			wantRequest: "evaluations 200", wantAllowed: 1, wantDenied: 1,
		},
		"malformed JSON": {
			method: "POST", path: base + "/access/v1/evaluation", body: `{"subject":`,
			wantRequest: "evaluation 400",
		},
		"a wrong method": {
			method: "GET", path: base + "/access/v1/evaluation",
			wantRequest: "evaluation 405",
		},
		"no such endpoint": {
			method: "POST", path: "/nowhere", body: `{}`,
			wantRequest: "unknown 404",
		},
		"discovery": {
			method: "GET", path: "/.well-known/authzen-configuration" + base,
			wantRequest: "discovery 200",
		},
		"fields": {
			method: "POST", path: base + "/v1/fields", body: `{"subject":{"type":"user","id":"tom.tech"},"resource":{"type":"workorders","id":"wo-1"}}`,
			wantRequest: "fields 200",
		},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			obs := &recordingObserver{}
			h, _ := newTestHandler(t, Options{Observer: obs})
			w := do(h, tc.method, tc.path, tc.body, tc.header...)
			if len(obs.requests) != 1 || obs.requests[0] != tc.wantRequest {
				t.Fatalf("observed %v, want [%s] (response %d %s)", obs.requests, tc.wantRequest, w.Code, w.Body)
			}
			if got := itoa(w.Code); obs.requests[0][len(obs.requests[0])-len(got):] != got {
				t.Errorf("observed %s, but the response was %d", obs.requests[0], w.Code)
			}
			if obs.durations[0] <= 0 {
				t.Errorf("duration %v", obs.durations[0])
			}
			if obs.allowed != tc.wantAllowed || obs.denied != tc.wantDenied {
				t.Errorf("decisions: %d allowed, %d denied; want %d, %d", obs.allowed, obs.denied, tc.wantAllowed, tc.wantDenied)
			}
		})
	}
}

// countingObserver does no work of its own, so the allocation count is the
// handler's.
type countingObserver struct{ n int }

func (o *countingObserver) ObserveRequest(string, int, time.Duration) { o.n++ }
func (o *countingObserver) ObserveDecisions(int, int)                 {}
func (o *countingObserver) ObserveRejected(string)                    {}
func (o *countingObserver) ObserveQueued(time.Duration)               {}

func TestObserverAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("sync.Pool drops objects at random under the race detector")
	}
	obs := &countingObserver{}
	h, _ := newTestHandler(t, Options{Observer: obs})
	rp := newReplay(base+"/access/v1/evaluation", evalAllowBody)
	w := &nopWriter{h: http.Header{}}
	rp.serve(h, w)
	if allocs := testing.AllocsPerRun(200, func() { rp.serve(h, w) }); allocs > 0 {
		t.Errorf("%.1f allocs per evaluation with an observer, want 0", allocs)
	}
	if obs.n < 200 {
		t.Errorf("observed %d requests", obs.n)
	}
}
