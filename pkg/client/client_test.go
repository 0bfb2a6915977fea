package client_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/authz"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
	"github.com/gatehouse-dev/gatehouse/pkg/client"
)

var (
	calgary = map[string]any{"unit": "/ca/ab/calgary"}
	wo42    = client.Resource{Type: "workorders", ID: "42", Properties: calgary}
	tom     = client.Subject{ID: "tom.tech"}
	edit    = client.Action{Name: "edit"}
	view    = client.Action{Name: "view"}
)

func newClient(t *testing.T, url string, opts ...client.Option) *client.Client {
	t.Helper()
	c, err := client.New(url, append([]client.Option{client.WithTenant(tenant)}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// recorder counts the requests that reach the server and keeps the last
// body and Authorization header.
type recorder struct {
	mu     sync.Mutex
	n      int
	bodies []string
	auth   []string
}

func (rc *recorder) wrap(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		b, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(b))
		rc.mu.Lock()
		rc.n++
		rc.bodies = append(rc.bodies, string(b))
		rc.auth = append(rc.auth, r.Header.Get("Authorization"))
		rc.mu.Unlock()
		next.ServeHTTP(w, r)
	})
}

func (rc *recorder) count() int {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return rc.n
}

func (rc *recorder) last() (body, auth string) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.n == 0 {
		return "", ""
	}
	return rc.bodies[rc.n-1], rc.auth[rc.n-1]
}

func TestEveryCall(t *testing.T) {
	ctx := context.Background()
	po := client.Resource{Type: "purchaseorders", ID: "po-9", Properties: map[string]any{
		"amount": 30000, "unit": "/ca/ab/calgary", "ownerId": "tom.tech",
		"approvals": []map[string]string{{"step": "supervisor", "by": "sam.supervisor"}},
	}}
	tests := map[string]struct {
		call  func(c *client.Client) (string, error)
		check string
	}{
		"evaluate allow": {func(c *client.Client) (string, error) {
			d, err := c.Evaluate(ctx, client.Request{Subject: tom, Action: edit, Resource: wo42})
			if err != nil {
				return "", err
			}
			return strconv.FormatBool(d.Allowed) + " " + d.Reason + " " + strings.Join(d.Fields.Readable, ","), nil
		}, "true Allowed custom.warrantyCode,status"},
		"evaluate deny with explain": {func(c *client.Client) (string, error) {
			d, err := c.Evaluate(ctx, client.Request{Subject: client.Subject{ID: "vic.viewer"}, Action: edit, Resource: wo42}, client.WithExplain())
			if err != nil {
				return "", err
			}
			return strconv.FormatBool(d.Allowed) + " " + d.Reason + " " + strconv.FormatBool(d.Explain != nil && d.Explain.Message != ""), nil
		}, "false NotPermitted true"},
		"allowed": {func(c *client.Client) (string, error) {
			ok, err := c.Allowed(ctx, client.Request{Subject: client.Subject{ID: "sam.supervisor"}, Action: edit, Resource: wo42})
			return strconv.FormatBool(ok), err
		}, "true"},
		"evaluations": {func(c *client.Client) (string, error) {
			ds, err := c.Evaluations(ctx, []client.Request{
				{Subject: tom, Action: edit, Resource: wo42},
				{Subject: tom, Action: client.Action{Name: "delete"}, Resource: wo42},
			})
			if err != nil || len(ds) != 2 {
				return "", err
			}
			return strconv.FormatBool(ds[0].Allowed) + " " + strconv.FormatBool(ds[1].Allowed) + " " + strconv.FormatBool(ds[0].Revision != ""), nil
		}, "true false true"},
		"evaluations deny_on_first_deny": {func(c *client.Client) (string, error) {
			ds, err := c.Evaluations(ctx, []client.Request{
				{Subject: tom, Action: edit, Resource: wo42},
				{Subject: tom, Action: client.Action{Name: "delete"}, Resource: wo42},
				{Subject: tom, Action: view, Resource: wo42},
			}, client.WithSemantic(client.DenyOnFirstDeny))
			return strconv.Itoa(len(ds)), err
		}, "2"},
		"search subjects": {func(c *client.Client) (string, error) {
			r, err := c.SearchSubjects(ctx, client.SubjectSearch{Action: client.Action{Name: "approve"}, Resource: client.Resource{Type: "purchaseorders", Properties: calgary}})
			if err != nil {
				return "", err
			}
			return ids(r.Results, func(s client.Subject) string { return s.ID }) + " " + strconv.Itoa(r.Total), nil
		}, "dana.director,sam.supervisor 2"},
		"search actions paged": {func(c *client.Client) (string, error) {
			q := client.ActionSearch{Subject: tom, Resource: wo42}
			acts, err := client.AllPages(ctx, func(ctx context.Context, p client.Page) (*client.Results[client.Action], error) {
				q.Page = client.Page{Token: p.Token, Limit: 2}
				return c.SearchActions(ctx, q)
			})
			return ids(acts, func(a client.Action) string { return a.Name }), err
		}, "assign,create,edit,view"},
		"search resources": {func(c *client.Client) (string, error) {
			r, err := c.SearchResources(ctx, client.ResourceSearch{Subject: tom, Action: view, Resource: client.Resource{Type: "workorders"},
				Candidates: []client.Resource{{ID: "1", Properties: calgary}, {ID: "2", Properties: map[string]any{"unit": "/ca/on"}}, {ID: "3", Properties: calgary}}})
			if err != nil {
				return "", err
			}
			return ids(r.Results, func(r client.Resource) string { return r.ID }), nil
		}, "1,3"},
		"fields": {func(c *client.Client) (string, error) {
			fa, err := c.Fields(ctx, tom, client.Resource{Type: "workorders"})
			if err != nil {
				return "", err
			}
			return strconv.FormatBool(fa.Covered) + " " + strings.Join(fa.Hidden, ","), nil
		}, "true billingRate,margin"},
		"plan with SQL": {func(c *client.Client) (string, error) {
			p, err := c.Plan(ctx, client.PlanRequest{Subject: tom, Action: view, ResourceType: "workorders", Columns: map[string]string{"unit": "unit_path"}, Placeholder: "question"})
			if err != nil {
				return "", err
			}
			return p.Kind + " " + p.Filter.Op + " " + p.SQL.Where, nil
		}, `conditional under ("unit_path" = ? OR "unit_path" LIKE ? ESCAPE '\')`},
		"plan never": {func(c *client.Client) (string, error) {
			p, err := c.Plan(ctx, client.PlanRequest{Subject: client.Subject{ID: "nobody"}, Action: view, ResourceType: "workorders"})
			if err != nil {
				return "", err
			}
			return p.Kind + " " + p.Reason, nil
		}, "never UnknownSubject"},
		"approval plan": {func(c *client.Client) (string, error) {
			p, err := c.ApprovalPlan(ctx, po)
			if err != nil {
				return "", err
			}
			return p.Chain + " " + p.Current + " " + strconv.Itoa(len(p.Steps)), nil
		}, "purchase-orders director 2"},
		"approval check": {func(c *client.Client) (string, error) {
			d, err := c.ApprovalCheck(ctx, tom, po)
			if err != nil {
				return "", err
			}
			return strconv.FormatBool(d.Allowed) + " " + d.Reason, nil
		}, "false NotEligible"},
		"discovery": {func(c *client.Client) (string, error) {
			d, err := c.Discovery(ctx)
			if err != nil {
				return "", err
			}
			return strings.TrimPrefix(d.Endpoints["gatehouse_plan_endpoint"], d.PolicyDecisionPoint), nil
		}, "/v1/plan"},
	}
	srv, _ := serve(t, authz.Options{}, nil)
	def, _ := serve(t, authz.Options{DefaultTenant: tenant}, nil)
	modes := map[string]*client.Client{"tenant path": newClient(t, srv.URL)}
	dc, err := client.New(def.URL)
	if err != nil {
		t.Fatal(err)
	}
	modes["default tenant"] = dc
	for name, tc := range tests {
		for mode, c := range modes {
			t.Run(name+"/"+mode, func(t *testing.T) {
				got, err := tc.call(c)
				if err != nil {
					t.Fatal(err)
				}
				if got != tc.check {
					t.Errorf("got %q, want %q", got, tc.check)
				}
			})
		}
	}
}

func ids[T any](xs []T, f func(T) string) string {
	s := make([]string, len(xs))
	for i, x := range xs {
		s[i] = f(x)
	}
	return strings.Join(s, ",")
}

// rotatingAuth accepts the tokens in its set and records those it saw.
type rotatingAuth struct {
	mu    sync.Mutex
	valid map[string]bool
}

var appCaller = &authz.Caller{Name: "system:serviceaccount:acme:app", Key: "app"}

func (a *rotatingAuth) Authenticate(_ context.Context, token string) (*authz.Caller, error) {
	a.mu.Lock()
	defer a.mu.Unlock()
	if token != "" && a.valid[token] {
		return appCaller, nil
	}
	return nil, authz.ErrUnauthenticated
}

func (a *rotatingAuth) set(tokens ...string) {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.valid = map[string]bool{}
	for _, t := range tokens {
		a.valid[t] = true
	}
}

func TestTokenFileRotation(t *testing.T) {
	auth := &rotatingAuth{}
	auth.set("token-one")
	rec := &recorder{}
	srv, _ := serve(t, authz.Options{Authenticator: auth, TenantAuthorizer: authz.TenantsByCaller{appCaller.Name: {tenant}}}, rec.wrap)
	path := filepath.Join(t.TempDir(), "token")
	write := func(tok string) {
		t.Helper()
		if err := os.WriteFile(path, []byte(tok+"\n"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	write("token-one")
	c := newClient(t, srv.URL, client.WithTokenFile(path))
	q := client.Request{Subject: tom, Action: edit, Resource: wo42}
	steps := map[string]struct {
		order     int
		file      string
		keepMtime bool // the change is invisible to stat: found on the 401
		valid     []string
		wantAuth  string
		wantCalls int
	}{
		"initial token":             {0, "", false, nil, "Bearer token-one", 1},
		"rotated (new size)":        {1, "token-two-rotated", false, []string{"token-two-rotated"}, "Bearer token-two-rotated", 1},
		"rotated, same size, mtime": {2, "token-3-rotated-x", true, []string{"token-3-rotated-x"}, "Bearer token-3-rotated-x", 2},
	}
	ordered := make([]string, len(steps))
	for name, s := range steps {
		ordered[s.order] = name
	}
	for _, name := range ordered {
		s := steps[name]
		t.Run(name, func(t *testing.T) {
			if s.file != "" {
				fi, err := os.Stat(path)
				if err != nil {
					t.Fatal(err)
				}
				auth.set(s.valid...)
				write(s.file)
				if s.keepMtime {
					if err := os.Chtimes(path, fi.ModTime(), fi.ModTime()); err != nil {
						t.Fatal(err)
					}
				}
			}
			before := rec.count()
			d, err := c.Evaluate(context.Background(), q)
			if err != nil {
				t.Fatal(err)
			}
			if !d.Allowed {
				t.Errorf("deny: %s", d.Reason)
			}
			if _, auth := rec.last(); auth != s.wantAuth {
				t.Errorf("server saw %q, want %q", auth, s.wantAuth)
			}
			if n := rec.count() - before; n != s.wantCalls {
				t.Errorf("%d requests, want %d", n, s.wantCalls)
			}
		})
	}
	t.Run("static token refused is a typed 401", func(t *testing.T) {
		c := newClient(t, srv.URL, client.WithToken("stolen"))
		_, err := c.Evaluate(context.Background(), q)
		var e *client.Error
		if !errors.As(err, &e) || e.StatusCode != http.StatusUnauthorized {
			t.Fatalf("%v", err)
		}
	})
}

// otherSnapshot is the samples with one more member of calgary-crew: a
// new revision.
func otherSnapshot(t *testing.T) *snapshot.Snapshot {
	t.Helper()
	_, objs, err := samples()
	if err != nil {
		t.Fatal(err)
	}
	objs.Groups = append([]v1alpha1.UserGroup(nil), objs.Groups...)
	for i := range objs.Groups {
		if objs.Groups[i].Name == "calgary-crew" {
			g := objs.Groups[i].DeepCopy()
			g.Spec.Members = append(g.Spec.Members, "nia.newhire")
			objs.Groups[i] = *g
		}
	}
	snap, problems := snapshot.Compile(tenant, objs)
	if len(problems) > 0 {
		t.Fatal(problems)
	}
	return snap
}

func TestMinRevision(t *testing.T) {
	next := otherSnapshot(t)
	nia := client.Request{Subject: client.Subject{ID: "nia.newhire"}, Action: edit, Resource: wo42}
	t.Run("sent, 503 while waiting, then the new revision answers", func(t *testing.T) {
		var st *store.Store
		var n503 atomic.Int32
		rec := &recorder{}
		// Publishes the new snapshot once the server answered a 503.
		publish := func(h http.Handler) http.Handler {
			return rec.wrap(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				sw := &statusWriter{ResponseWriter: w}
				h.ServeHTTP(sw, r)
				if sw.status == http.StatusServiceUnavailable && n503.Add(1) == 1 {
					st.Set(tenant, &store.Entry{Snapshot: next, CompiledAt: time.Now()})
				}
			}))
		}
		srv, s := serve(t, authz.Options{MinRevisionWait: 10 * time.Millisecond}, publish)
		st = s
		c := newClient(t, srv.URL)
		d, err := c.Evaluate(context.Background(), nia, client.WithMinRevision(next.Revision()))
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed || d.Revision != next.Revision() || n503.Load() != 1 || rec.count() != 2 {
			t.Errorf("allowed %v revision %s, %d 503s, %d requests", d.Allowed, d.Revision, n503.Load(), rec.count())
		}
		if body, _ := rec.last(); !strings.Contains(body, `"minRevision":"`+next.Revision()+`"`) {
			t.Errorf("minRevision not sent: %s", body)
		}
	})
	t.Run("tracking remembers the latest revision and follows a newer one", func(t *testing.T) {
		rec := &recorder{}
		srv, st := serve(t, authz.Options{MinRevisionWait: 10 * time.Millisecond}, func(h http.Handler) http.Handler { return rec.wrap(dropRetryAfter(h)) })
		c := newClient(t, srv.URL, client.WithRevisionTracking(), client.WithRetry(client.RetryPolicy{BaseDelay: time.Millisecond}))
		first := st.Snapshot(tenant).Revision()
		if _, err := c.Evaluate(context.Background(), nia); err != nil {
			t.Fatal(err)
		}
		if c.Revision() != first {
			t.Fatalf("remembered %q, want %q", c.Revision(), first)
		}
		if _, err := c.Fields(context.Background(), tom, client.Resource{Type: "workorders"}); err != nil {
			t.Fatal(err)
		}
		if body, _ := rec.last(); !strings.Contains(body, first) {
			t.Errorf("tracked revision not sent: %s", body)
		}
		st.Set(tenant, &store.Entry{Snapshot: next, CompiledAt: time.Now()})
		d, err := c.Evaluate(context.Background(), nia)
		if err != nil {
			t.Fatal(err)
		}
		if !d.Allowed || c.Revision() != next.Revision() {
			t.Errorf("allowed %v, remembered %s", d.Allowed, c.Revision())
		}
	})
	t.Run("explicit revision never served: typed 503 after the bound", func(t *testing.T) {
		srv, _ := serve(t, authz.Options{MinRevisionWait: time.Millisecond}, dropRetryAfter)
		c := newClient(t, srv.URL, client.WithRetry(client.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond}))
		d, err := c.Evaluate(context.Background(), nia, client.WithMinRevision("0123456789abcdef"))
		var e *client.Error
		if d != nil || !errors.As(err, &e) || e.StatusCode != 503 || e.Field != "context.minRevision" || e.Attempts != 2 {
			t.Fatalf("%v %v", d, err)
		}
	})
}

// dropRetryAfter removes the server's Retry-After (1 s) to keep tests
// fast.
func dropRetryAfter(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(&statusWriter{ResponseWriter: w, dropRetryAfter: true}, r)
	})
}

type statusWriter struct {
	http.ResponseWriter
	status         int
	dropRetryAfter bool
}

func (w *statusWriter) WriteHeader(code int) {
	if w.dropRetryAfter {
		w.Header().Del("Retry-After")
	}
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (w *statusWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.WriteHeader(http.StatusOK)
	}
	return w.ResponseWriter.Write(b)
}

// fault is an answer the fault injector gives instead of the real
// handler's.
type fault struct {
	status     int
	retryAfter string
	body       string
}

// faults answers its faults in turn, then passes requests to the real
// handler; it counts all requests.
type faults struct {
	mu    sync.Mutex
	queue []fault
	n     int
}

func (f *faults) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f.mu.Lock()
		f.n++
		var ft *fault
		if len(f.queue) > 0 {
			ft = &f.queue[0]
			f.queue = f.queue[1:]
		}
		f.mu.Unlock()
		if ft == nil {
			h.ServeHTTP(w, r)
			return
		}
		if ft.retryAfter != "" {
			w.Header().Set("Retry-After", ft.retryAfter)
		}
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(ft.status)
		body := ft.body
		if body == "" {
			body = `{"error":"injected"}`
		}
		_, _ = io.WriteString(w, body)
	})
}

func (f *faults) set(q ...fault) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.queue, f.n = q, 0
}

func (f *faults) count() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.n
}

func TestRetries(t *testing.T) {
	past := time.Now().Add(-time.Hour).UTC().Format(http.TimeFormat)
	tests := map[string]struct {
		faults     []fault
		policy     client.RetryPolicy
		ctxTimeout time.Duration
		wantCalls  int
		wantStatus int // 0: success
	}{
		"429 then success":                     {faults: []fault{{status: 429, retryAfter: "0"}}, wantCalls: 2},
		"503 twice (HTTP date) then success":   {faults: []fault{{status: 503, retryAfter: past}, {status: 503}}, wantCalls: 3},
		"400 is not retried":                   {faults: []fault{{status: 400, body: `{"error":"subject.id: required"}`}}, wantCalls: 1, wantStatus: 400},
		"403 is not retried":                   {faults: []fault{{status: 403}}, wantCalls: 1, wantStatus: 403},
		"404 is not retried":                   {faults: []fault{{status: 404}}, wantCalls: 1, wantStatus: 404},
		"500 is not retried":                   {faults: []fault{{status: 500}}, wantCalls: 1, wantStatus: 500},
		"gives up after MaxAttempts":           {faults: []fault{{status: 503}, {status: 503}, {status: 503}, {status: 503}}, policy: client.RetryPolicy{MaxAttempts: 3}, wantCalls: 3, wantStatus: 503},
		"Retry-After past MaxElapsed":          {faults: []fault{{status: 429, retryAfter: "3600"}}, wantCalls: 1, wantStatus: 429},
		"Retry-After past the ctx deadline":    {faults: []fault{{status: 503, retryAfter: "30"}}, policy: client.RetryPolicy{MaxElapsed: time.Hour}, ctxTimeout: 5 * time.Second, wantCalls: 1, wantStatus: 503},
		"retries disabled with MaxAttempts 1":  {faults: []fault{{status: 429}}, policy: client.RetryPolicy{MaxAttempts: 1}, wantCalls: 1, wantStatus: 429},
		"bounded even when every answer fails": {faults: []fault{{status: 429}, {status: 429}, {status: 429}, {status: 429}, {status: 429}, {status: 429}}, wantCalls: 4, wantStatus: 429},
	}
	f := &faults{}
	srv, _ := serve(t, authz.Options{}, f.wrap)
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			p := tc.policy
			if p.BaseDelay == 0 {
				p.BaseDelay, p.MaxDelay = time.Millisecond, 4*time.Millisecond
			}
			c := newClient(t, srv.URL, client.WithRetry(p))
			f.set(tc.faults...)
			ctx := context.Background()
			if tc.ctxTimeout > 0 {
				var cancel context.CancelFunc
				ctx, cancel = context.WithTimeout(ctx, tc.ctxTimeout)
				defer cancel()
			}
			d, err := c.Evaluate(ctx, client.Request{Subject: tom, Action: edit, Resource: wo42})
			if f.count() != tc.wantCalls {
				t.Errorf("%d requests, want %d", f.count(), tc.wantCalls)
			}
			if tc.wantStatus == 0 {
				if err != nil || !d.Allowed {
					t.Fatalf("%v %v", d, err)
				}
				return
			}
			var e *client.Error
			if d != nil || !errors.As(err, &e) || e.StatusCode != tc.wantStatus || e.Attempts != tc.wantCalls {
				t.Fatalf("decision %v, error %v", d, err)
			}
		})
	}
	t.Run("ctx canceled while waiting", func(t *testing.T) {
		c := newClient(t, srv.URL, client.WithRetry(client.RetryPolicy{MaxElapsed: time.Hour}))
		f.set(fault{status: 503, retryAfter: "30"})
		ctx, cancel := context.WithCancel(context.Background())
		time.AfterFunc(20*time.Millisecond, cancel)
		d, err := c.Evaluate(ctx, client.Request{Subject: tom, Action: edit, Resource: wo42})
		if d != nil || !errors.Is(err, context.Canceled) {
			t.Fatalf("%v %v", d, err)
		}
	})
}

func TestServerErrors(t *testing.T) {
	srv, _ := serve(t, authz.Options{}, nil)
	c := newClient(t, srv.URL)
	ctx := context.Background()
	tests := map[string]struct {
		call        func() error
		status      int
		field       string
		reasonStart string
	}{
		"column not an identifier": {func() error {
			_, err := c.Plan(ctx, client.PlanRequest{Subject: tom, Action: view, ResourceType: "workorders", Columns: map[string]string{"unit": "unit path; drop"}})
			return err
		}, 400, "columns.unit", "not an SQL identifier"},
		"wrong property type": {func() error {
			_, err := c.Evaluate(ctx, client.Request{Subject: client.Subject{ID: "tom.tech", Properties: map[string]any{"unit": 5}}, Action: edit, Resource: wo42})
			return err
		}, 400, "subject.properties.unit", "expected string"},
		"invalid page token": {func() error {
			_, err := c.SearchActions(ctx, client.ActionSearch{Subject: tom, Resource: wo42, Page: client.Page{Token: "!!"}})
			return err
		}, 400, "page.token", "invalid"},
		"unknown tenant discovery": {func() error {
			other, err := c.ForTenant("no-such-tenant")
			if err != nil {
				return err
			}
			_, err = other.Discovery(ctx)
			return err
		}, 404, "", "unknown tenant"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			err := tc.call()
			var e *client.Error
			if !errors.As(err, &e) {
				t.Fatalf("%T %v", err, err)
			}
			if e.StatusCode != tc.status || e.Field != tc.field || !strings.HasPrefix(e.Reason, tc.reasonStart) || e.Revision == "" && tc.status == 400 {
				t.Errorf("%+v", e)
			}
		})
	}
}

func TestValidation(t *testing.T) {
	rec := &recorder{}
	srv, _ := serve(t, authz.Options{}, rec.wrap)
	c := newClient(t, srv.URL, client.WithMaxBatch(3), client.WithChunking(false))
	ctx := context.Background()
	long := strings.Repeat("x", 200)
	ok := client.Request{Subject: tom, Action: edit, Resource: wo42}
	tests := map[string]struct {
		call  func() error
		field string
	}{
		"empty subject id": {func() error {
			_, err := c.Evaluate(ctx, client.Request{Action: edit, Resource: wo42})
			return err
		}, "subject.id"},
		"empty action": {func() error {
			_, err := c.Allowed(ctx, client.Request{Subject: tom, Resource: wo42})
			return err
		}, "action.name"},
		"empty resource type": {func() error {
			_, err := c.Evaluate(ctx, client.Request{Subject: tom, Action: edit, Resource: client.Resource{ID: "42"}})
			return err
		}, "resource.type"},
		"batch item": {func() error {
			_, err := c.Evaluations(ctx, []client.Request{ok, {Subject: tom, Resource: wo42}})
			return err
		}, "evaluations[1].action.name"},
		"batch over the limit": {func() error {
			_, err := c.Evaluations(ctx, []client.Request{ok, ok, ok, ok})
			return err
		}, "evaluations"},
		"semantic": {func() error {
			_, err := c.Evaluations(ctx, []client.Request{ok}, client.WithSemantic(long))
			return err
		}, "options.evaluations_semantic"},
		"placeholder": {func() error {
			_, err := c.Plan(ctx, client.PlanRequest{Subject: tom, Action: view, ResourceType: "workorders", Placeholder: long})
			return err
		}, "placeholder"},
		"plan resource type": {func() error {
			_, err := c.Plan(ctx, client.PlanRequest{Subject: tom, Action: view})
			return err
		}, "resource.type"},
		"candidate type": {func() error {
			_, err := c.SearchResources(ctx, client.ResourceSearch{Subject: tom, Action: view, Resource: client.Resource{Type: "workorders"}, Candidates: []client.Resource{{Type: long}}})
			return err
		}, "context.candidates[0].type"},
		"search subjects action": {func() error {
			_, err := c.SearchSubjects(ctx, client.SubjectSearch{Resource: wo42})
			return err
		}, "action.name"},
		"fields subject": {func() error {
			_, err := c.Fields(ctx, client.Subject{}, wo42)
			return err
		}, "subject.id"},
		"approval check resource": {func() error {
			_, err := c.ApprovalCheck(ctx, tom, client.Resource{})
			return err
		}, "resource.type"},
		"approval plan resource": {func() error {
			_, err := c.ApprovalPlan(ctx, client.Resource{})
			return err
		}, "resource.type"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			before := rec.count()
			err := tc.call()
			var ve *client.ValidationError
			if !errors.As(err, &ve) || ve.Field != tc.field {
				t.Fatalf("%v", err)
			}
			if len(err.Error()) > 200 || len(ve.Value) > 24 {
				t.Errorf("echoes too much of the value: %s", err)
			}
			if rec.count() != before {
				t.Error("the request was sent")
			}
		})
	}
	if _, err := client.New(srv.URL, client.WithTenant("Not_A_Namespace")); err == nil {
		t.Error("bad tenant accepted")
	}
}

func TestNeverAllowOnError(t *testing.T) {
	tests := map[string]fault{
		"500 claiming an allow":   {status: 500, body: `{"decision":true}`},
		"502 from a proxy":        {status: 502, body: `<html>bad gateway</html>`},
		"200 garbage":             {status: 200, body: `<html>ok</html>`},
		"200 without a decision":  {status: 200, body: `{"context":{"reason":"Allowed"}}`},
		"200 decision not a bool": {status: 200, body: `{"decision":"true"}`},
		"200 empty":               {status: 200, body: ` `},
		"200 truncated":           {status: 200, body: `{"decision":true`},
	}
	f := &faults{}
	srv, _ := serve(t, authz.Options{}, f.wrap)
	c := newClient(t, srv.URL, client.WithRetry(client.RetryPolicy{MaxAttempts: 1}))
	ctx := context.Background()
	q := client.Request{Subject: tom, Action: edit, Resource: wo42}
	reached := false
	protected := client.Middleware(c, func(*http.Request) (client.Request, error) { return q, nil })(
		http.HandlerFunc(func(http.ResponseWriter, *http.Request) { reached = true }))
	for name, ft := range tests {
		t.Run(name, func(t *testing.T) {
			f.set(ft)
			if d, err := c.Evaluate(ctx, q); d != nil || err == nil {
				t.Errorf("Evaluate: %v %v", d, err)
			}
			f.set(ft)
			if ok, err := c.Allowed(ctx, q); ok || err == nil {
				t.Errorf("Allowed: %v %v", ok, err)
			}
			f.set(ft, ft)
			if ds, err := c.Evaluations(ctx, []client.Request{q, q}); ds != nil || err == nil {
				t.Errorf("Evaluations: %v %v", ds, err)
			}
			f.set(fault{status: ft.status, body: strings.ReplaceAll(ft.body, `"decision"`, `"allowed"`)})
			if d, err := c.ApprovalCheck(ctx, tom, client.Resource{Type: "purchaseorders"}); d != nil || err == nil {
				t.Errorf("ApprovalCheck: %v %v", d, err)
			}
			f.set(ft)
			reached = false
			w := httptest.NewRecorder()
			protected.ServeHTTP(w, httptest.NewRequest("GET", "/", nil))
			if reached || w.Code != http.StatusServiceUnavailable {
				t.Errorf("middleware: reached %v, status %d", reached, w.Code)
			}
		})
	}
}
