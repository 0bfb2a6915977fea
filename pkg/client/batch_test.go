package client_test

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os/exec"
	"strconv"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/authz"
	"github.com/gatehouse-dev/gatehouse/pkg/client"
)

// batch is n evaluations that cycle through subjects, actions and units,
// so that neighbours decide differently.
func batch(n int) []client.Request {
	subjects := []string{"dana.director", "tom.tech", "vic.viewer", "alex.apprentice", "sam.supervisor", "nobody"}
	actions := []string{"view", "edit", "delete", "archive"}
	units := []string{"/ca/ab/calgary", "/ca/on/toronto", "/ca"}
	qs := make([]client.Request, n)
	for i := range qs {
		qs[i] = client.Request{
			Subject: client.Subject{ID: subjects[i%len(subjects)]},
			Action:  client.Action{Name: actions[(i/2)%len(actions)]},
			Resource: client.Resource{Type: "workorders", ID: strconv.Itoa(i),
				Properties: map[string]any{"unit": units[(i/3)%len(units)], "ownerId": subjects[(i+1)%len(subjects)]}},
		}
	}
	return qs
}

func TestEvaluationsChunking(t *testing.T) {
	rec := &recorder{}
	srv, _ := serve(t, authz.Options{MaxBatch: 4}, rec.wrap)
	ctx := context.Background()
	qs := batch(23)
	one := newClient(t, srv.URL)
	want := make([]bool, len(qs))
	for i, q := range qs {
		d, err := one.Evaluate(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		want[i] = d.Allowed
	}
	tests := map[string]struct {
		opts      []client.Option
		semantic  string
		wantCalls int
		wantN     int // decisions returned; 0: len(qs)
	}{
		"WithMaxBatch":                    {opts: []client.Option{client.WithMaxBatch(4)}, wantCalls: 6},
		"smaller chunks":                  {opts: []client.Option{client.WithMaxBatch(3)}, wantCalls: 8},
		"one chunk would be refused":      {opts: []client.Option{client.WithMaxBatch(23)}, wantCalls: 1, wantN: -1},
		"deny_on_first_deny across chunk": {opts: []client.Option{client.WithMaxBatch(4)}, semantic: client.DenyOnFirstDeny},
		"permit_on_first_permit":          {opts: []client.Option{client.WithMaxBatch(4)}, semantic: client.PermitOnFirstPermit},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			c := newClient(t, srv.URL, tc.opts...)
			before := rec.count()
			var opts []client.CallOption
			if tc.semantic != "" {
				opts = append(opts, client.WithSemantic(tc.semantic))
			}
			ds, err := c.Evaluations(ctx, qs, opts...)
			if tc.wantN == -1 {
				if err == nil || !strings.Contains(err.Error(), "evaluations: more than 4 evaluations") {
					t.Fatalf("the server's 400 expected: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			n := len(qs)
			if tc.semantic != "" {
				// The decisions end at the first deny (permit).
				stopAt := tc.semantic != client.DenyOnFirstDeny
				n = len(qs)
				for i, a := range want {
					if a == stopAt {
						n = i + 1
						break
					}
				}
				tc.wantCalls = (n + 3) / 4
			}
			if len(ds) != n {
				t.Fatalf("%d decisions, want %d", len(ds), n)
			}
			for i := range ds {
				if ds[i].Allowed != want[i] {
					t.Errorf("evaluation %d: %v, want %v", i, ds[i].Allowed, want[i])
				}
			}
			if got := rec.count() - before; got != tc.wantCalls {
				t.Errorf("%d requests, want %d", got, tc.wantCalls)
			}
		})
	}
}

func TestMaxBatchFromDiscovery(t *testing.T) {
	rec := &recorder{}
	// A server advertising gatehouse_max_batch (the handler does not
	// yet): the client learns the limit from its discovery document.
	advertise := func(h http.Handler) http.Handler {
		return rec.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if !strings.HasSuffix(r.URL.Path, "authzen-configuration") {
				h.ServeHTTP(w, r)
				return
			}
			rw := httptest.NewRecorder()
			h.ServeHTTP(rw, r)
			var m map[string]any
			if err := json.Unmarshal(rw.Body.Bytes(), &m); err != nil {
				t.Error(err)
			}
			m["gatehouse_max_batch"] = 5
			_ = json.NewEncoder(w).Encode(m)
		}))
	}
	srv, _ := serve(t, authz.Options{MaxBatch: 5}, advertise)
	c := newClient(t, srv.URL)
	d, err := c.Discovery(context.Background())
	if err != nil || d.MaxBatch != 5 {
		t.Fatalf("%v %v", d, err)
	}
	before := rec.count()
	ds, err := c.Evaluations(context.Background(), batch(12))
	if err != nil || len(ds) != 12 || rec.count()-before != 3 {
		t.Fatalf("%d decisions, %d requests: %v", len(ds), rec.count()-before, err)
	}
}

// TestPlanMatchesEvaluate checks the client's filter evaluation against
// the server's decisions: for every record, Plan.Matches equals Evaluate.
func TestPlanMatchesEvaluate(t *testing.T) {
	srv, _ := serve(t, authz.Options{}, nil)
	c := newClient(t, srv.URL)
	ctx := context.Background()
	var records []map[string]any
	for i, unit := range []string{"/ca/ab/calgary", "/ca/ab/calgary/north", "/ca/on/toronto", "/ca", "/ca/ab/calgaryx"} {
		for j, owner := range []string{"alex.apprentice", "tom.tech", "bea.billing"} {
			assignee := "alex.apprentice"
			if (i+j)%2 == 1 {
				assignee = "someone.else"
			}
			records = append(records, map[string]any{"id": strconv.Itoa(i*10 + j), "unit": unit, "ownerId": owner, "assigneeIds": []any{assignee}})
		}
	}
	for _, who := range []string{"dana.director", "sam.supervisor", "tom.tech", "alex.apprentice", "vic.viewer", "bea.billing", "nobody"} {
		for _, act := range []string{"view", "edit", "archive"} {
			t.Run(who+"/"+act, func(t *testing.T) {
				p, err := c.Plan(ctx, client.PlanRequest{Subject: client.Subject{ID: who}, Action: client.Action{Name: act}, ResourceType: "workorders"})
				if err != nil {
					t.Fatal(err)
				}
				for _, rec := range records {
					got, err := p.Matches(rec)
					if err != nil {
						t.Fatal(err)
					}
					d, err := c.Evaluate(ctx, client.Request{Subject: client.Subject{ID: who}, Action: client.Action{Name: act},
						Resource: client.Resource{Type: "workorders", ID: rec["id"].(string), Properties: rec}})
					if err != nil {
						t.Fatal(err)
					}
					if got != d.Allowed {
						t.Errorf("record %v: plan %v, evaluate %v (%s)", rec, got, d.Allowed, d.Reason)
					}
				}
			})
		}
	}
}

func TestFilterMatches(t *testing.T) {
	tests := map[string]struct {
		f    client.Filter
		rec  map[string]any
		want bool
		err  bool
	}{
		"eq int vs float":     {client.Filter{Op: "eq", Property: "n", Value: 3.0}, map[string]any{"n": 3}, true, false},
		"lt":                  {client.Filter{Op: "lt", Property: "n", Value: 3.0}, map[string]any{"n": int64(2)}, true, false},
		"ge string":           {client.Filter{Op: "ge", Property: "s", Value: "b"}, map[string]any{"s": "a"}, false, false},
		"type mismatch":       {client.Filter{Op: "gt", Property: "s", Value: 1.0}, map[string]any{"s": "a"}, false, false},
		"missing":             {client.Filter{Op: "eq", Property: "x", Value: "a"}, map[string]any{}, false, false},
		"in":                  {client.Filter{Op: "in", Property: "s", Values: []any{"a", "b"}}, map[string]any{"s": "b"}, true, false},
		"contains []string":   {client.Filter{Op: "contains", Property: "l", Value: "b"}, map[string]any{"l": []string{"a", "b"}}, true, false},
		"under":               {client.Filter{Op: "under", Property: "unit", Value: "/ca/ab"}, map[string]any{"unit": "/ca/ab/calgary"}, true, false},
		"under sibling":       {client.Filter{Op: "under", Property: "unit", Value: "/ca/ab"}, map[string]any{"unit": "/ca/abc"}, false, false},
		"cel is an error":     {client.Filter{Op: "cel", Expr: "resource.x"}, map[string]any{}, false, true},
		"or short-circuits":   {client.Filter{Op: "or", Children: []*client.Filter{{Op: "true"}, {Op: "cel"}}}, nil, true, false},
		"and with cel errors": {client.Filter{Op: "and", Children: []*client.Filter{{Op: "true"}, {Op: "cel"}}}, nil, false, true},
		"unknown op":          {client.Filter{Op: "near", Property: "s"}, map[string]any{"s": "a"}, false, true},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := tc.f.Matches(tc.rec)
			if (err != nil) != tc.err || got != tc.want {
				t.Errorf("%v %v", got, err)
			}
		})
	}
}

func TestMiddleware(t *testing.T) {
	f := &faults{}
	srv, _ := serve(t, authz.Options{}, f.wrap)
	c := newClient(t, srv.URL, client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
	build := func(r *http.Request) (client.Request, error) {
		user := r.Header.Get("X-User")
		if user == "" {
			return client.Request{}, client.ErrNoSubject
		}
		return client.Request{Subject: client.Subject{ID: user}, Action: client.Action{Name: "edit"}, Resource: wo42}, nil
	}
	next := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		d := client.DecisionFrom(r.Context())
		_, _ = w.Write([]byte("ok " + strings.Join(d.Fields.Readable, ",")))
	})
	deny := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusNotFound) // hide the record
		_, _ = w.Write([]byte(client.DecisionFrom(r.Context()).Reason))
	})
	tests := map[string]struct {
		user     string
		fault    *fault
		opts     []client.MiddlewareOption
		wantCode int
		wantBody string
	}{
		"allow":            {user: "tom.tech", wantCode: 200, wantBody: "ok custom.warrantyCode,status"},
		"deny":             {user: "vic.viewer", wantCode: 403, wantBody: `{"error":"forbidden: NotPermitted"}`},
		"deny handler":     {user: "vic.viewer", opts: []client.MiddlewareOption{client.OnDeny(deny)}, wantCode: 404, wantBody: "NotPermitted"},
		"no subject":       {wantCode: 401, wantBody: `{"error":"unauthenticated"}`},
		"gatehouse 500":    {user: "tom.tech", fault: &fault{status: 500, body: `{"decision":true}`}, wantCode: 503, wantBody: `{"error":"authorization unavailable"}`},
		"gatehouse 429":    {user: "tom.tech", fault: &fault{status: 429}, wantCode: 503, wantBody: `{"error":"authorization unavailable"}`},
		"gatehouse broken": {user: "tom.tech", fault: &fault{status: 200, body: `{}`}, wantCode: 503, wantBody: `{"error":"authorization unavailable"}`},
		"custom error": {user: "tom.tech", fault: &fault{status: 503}, opts: []client.MiddlewareOption{client.OnError(func(w http.ResponseWriter, _ *http.Request, err error) {
			w.WriteHeader(http.StatusBadGateway)
		})}, wantCode: 502},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			f.set()
			if tc.fault != nil {
				f.set(*tc.fault)
			}
			h := client.Middleware(c, build, tc.opts...)(next)
			r := httptest.NewRequest("GET", "/workorders/42", nil)
			if tc.user != "" {
				r.Header.Set("X-User", tc.user)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.wantCode || strings.TrimSpace(w.Body.String()) != tc.wantBody {
				t.Errorf("%d %s", w.Code, w.Body)
			}
		})
	}
}

// TestStandardLibraryOnly keeps the package cheap to import: everything it
// depends on, transitively, is the standard library or planfilter (the
// filter rules it shares with the server, standard library only itself).
func TestStandardLibraryOnly(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", "-f", `{{if not .Standard}}{{.ImportPath}}{{end}}`, ".").Output()
	if err != nil {
		t.Fatal("go list:", err)
	}
	allowed := map[string]bool{
		"github.com/gatehouse-dev/gatehouse/pkg/client":     true,
		"github.com/gatehouse-dev/gatehouse/pkg/planfilter": true,
	}
	for _, imp := range strings.Fields(string(out)) {
		if !allowed[imp] {
			t.Errorf("depends on %s", imp)
		}
	}
}
