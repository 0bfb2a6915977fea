package authz

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/gatehouse-dev/gatehouse/api/v1alpha1"
	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
	"github.com/gatehouse-dev/gatehouse/internal/store"
)

// The adversarial suite: every attack of issue [8 hardening], reproduced on
// loopback in bounded loops, with the outcome asserted: the server answers,
// memory stays bounded, nothing is allowed that should not be, and
// legitimate callers are still served. Figures (CPU per request, p99 under
// a flood) are in the benchmarks at the end, never asserted here.

// costlyTenant's only role runs a condition over a list property, the
// costliest thing a request can make a check do.
const costlyTenant = "costly-tenant"

const tagsCond = `resource.properties.tags.exists(t, t == "needle")`

// heavyCond walks the list eight times: about as costly per item as
// admission lets a condition be (a nested walk is rejected as too costly).
var heavyCond = strings.Repeat(tagsCond+" || ", 7) + tagsCond

func costlySnapshot(t testing.TB, cond string) *snapshot.Snapshot {
	t.Helper()
	meta := func(n string) metav1.ObjectMeta { return metav1.ObjectMeta{Name: n, Namespace: costlyTenant} }
	s, probs := snapshot.Compile(costlyTenant, snapshot.Objects{
		Roles: []v1alpha1.Role{{ObjectMeta: meta("tagger"), Spec: v1alpha1.RoleSpec{Permissions: []v1alpha1.Permission{{
			Resources: []v1alpha1.ModuleName{"workorders"}, Actions: []v1alpha1.ActionName{"view"},
			When: v1alpha1.CELExpression(cond),
		}}}}},
		Groups: []v1alpha1.UserGroup{{ObjectMeta: meta("taggers"), Spec: v1alpha1.UserGroupSpec{
			Roles: []v1alpha1.ObjectName{"tagger"}, Members: []v1alpha1.SubjectID{"mallory", "alice"},
		}}},
	})
	if len(probs) > 0 {
		t.Fatalf("costly tenant: %v", probs)
	}
	return s
}

// Callers of the suite: two identities, so that fairness has someone to be
// fair to.
var adversaryTokens = StaticTokens{
	"hostile-token": {Name: "mallory-app", Key: "mallory-app"},
	"legit-token":   {Name: "alice-app", Key: "alice-app"},
}

// adversarialServer serves the samples and the costly tenant on a real
// loopback listener with opts.
func adversarialServer(t testing.TB, cond string, opts Options, sopts ServerOptions) (*Handler, string) {
	t.Helper()
	st := store.New()
	st.Set(tenant, &store.Entry{Snapshot: sampleSnapshot(t), CompiledAt: time.Now()})
	st.Set(costlyTenant, &store.Entry{Snapshot: costlySnapshot(t, cond), CompiledAt: time.Now()})
	if opts.Authenticator == nil {
		opts.Authenticator = adversaryTokens
	}
	if opts.TenantAuthorizer == nil {
		opts.TenantAuthorizer = None{}
	}
	h, err := New(st, opts)
	if err != nil {
		t.Fatal(err)
	}
	sopts.AllowPlainHTTP = true
	srv, err := NewServer(h, sopts)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() { _ = srv.Serve(ln) }() // ErrServerClosed after Shutdown
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(ctx) // open hostile connections are closed below regardless
	})
	return h, ln.Addr().String()
}

// client posts JSON with a token, from a source address (127.0.0.x).
type client struct {
	http  *http.Client
	addr  string
	token string
}

func newClient(addr, token, source string) *client {
	d := &net.Dialer{Timeout: 5 * time.Second}
	if source != "" {
		d.LocalAddr = &net.TCPAddr{IP: net.ParseIP(source)}
	}
	return &client{addr: addr, token: token, http: &http.Client{
		Timeout:   30 * time.Second,
		Transport: &http.Transport{DialContext: d.DialContext, MaxIdleConnsPerHost: 64},
	}}
}

type answer struct {
	status int
	body   string
	retry  string
}

func (c *client) post(ctx context.Context, path, body string) (answer, error) {
	req, err := http.NewRequestWithContext(ctx, "POST", "http://"+c.addr+path, strings.NewReader(body))
	if err != nil {
		return answer{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	if c.token != "" {
		req.Header.Set("Authorization", "Bearer "+c.token)
	}
	resp, err := c.http.Do(req)
	if err != nil {
		return answer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err == nil {
		checkContract("POST", path, []byte(body), resp.StatusCode, resp.Header, b)
	}
	return answer{status: resp.StatusCode, body: string(b), retry: resp.Header.Get("Retry-After")}, err
}

// mustServeLegit asserts that a legitimate request is answered correctly.
func mustServeLegit(t *testing.T, c *client) {
	t.Helper()
	a, err := c.post(context.Background(), base+"/access/v1/evaluation", evalAllowBody)
	if err != nil || a.status != 200 || !strings.Contains(a.body, `"decision":true`) {
		t.Fatalf("legitimate request: %v %d %s", err, a.status, a.body)
	}
}

// liveHeap is the live heap after a collection.
func liveHeap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// eventually polls cond every 10 ms for at most d.
func eventually(d time.Duration, cond func() bool) bool {
	for end := time.Now().Add(d); time.Now().Before(end); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return true
		}
	}
	return cond()
}

// rawConn opens a connection from source and writes head (and body bytes).
func rawConn(t *testing.T, addr, source, data string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: 5 * time.Second, LocalAddr: &net.TCPAddr{IP: net.ParseIP(source)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if _, err := io.WriteString(c, data); err != nil {
		t.Fatalf("write: %v", err)
	}
	return c
}

func postHead(token string, contentLength int) string {
	return fmt.Sprintf("POST %s/access/v1/evaluation HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer %s\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n", base, token, contentLength)
}

// Attack: thousands of connections claim a 1 MiB body and send one byte.
// The buffer used to be sized from Content-Length before any byte arrived
// (2,000 connections held ~2 GB); now a body holds what it received.
func TestAdversarialClaimedLengths(t *testing.T) {
	// A long read timeout: on a loaded machine opening 400 connections
	// may take longer than the default 10 s.
	h, addr := adversarialServer(t, tagsCond, Options{}, ServerOptions{ReadTimeout: time.Minute})
	legit := newClient(addr, "legit-token", "127.0.0.1")
	mustServeLegit(t, legit)
	before := liveHeap()
	const conns = 400
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for range conns {
		open = append(open, rawConn(t, addr, "127.0.0.2", postHead("hostile-token", 1<<20)+"{"))
	}
	// Every connection is being read: each holds its first chunk (but
	// the few that got a pooled buffer, which exists anyway).
	if !eventually(30*time.Second, func() bool { return h.bytes.inUse() >= (conns-8)*bodyChunk }) {
		t.Fatalf("only %d bytes reserved by %d readers", h.bytes.inUse(), conns)
	}
	grown := int64(liveHeap()) - int64(before)
	t.Logf("%d connections claiming 1 MiB each: live heap +%d KiB, %d KiB reserved", conns, grown>>10, h.bytes.inUse()>>10)
	if grown > 64<<20 { // pre-sizing would hold 400 MiB
		t.Fatalf("live heap grew by %d MiB for %d one-byte bodies", grown>>20, conns)
	}
	mustServeLegit(t, legit)
	for _, c := range open {
		c.Close()
	}
	open = nil
	if !eventually(10*time.Second, func() bool { return h.bytes.inUse() == 0 }) {
		t.Fatalf("%d bytes still reserved after every connection closed", h.bytes.inUse())
	}
}

// Attack: connections that really send large bodies and stall. One caller
// can hold at most its share of the bytes in flight; beyond it, 429; other
// callers keep their own share.
func TestAdversarialBytesInFlight(t *testing.T) {
	h, addr := adversarialServer(t, tagsCond, Options{MaxBytesInFlight: 32 << 20, MaxBytesPerCaller: 4 << 20}, ServerOptions{})
	legit := newClient(addr, "legit-token", "127.0.0.1")
	before := liveHeap()
	chunk := strings.Repeat(" ", 512<<10)
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for range 32 {
		open = append(open, rawConn(t, addr, "127.0.0.2", postHead("hostile-token", 1<<20)+"{"+chunk))
	}
	// A refusal is answered at once, mid-body; the bodies held get no
	// answer until they end, so every connection is read at once, each
	// up to a deadline.
	var refused atomic.Int64
	var wg sync.WaitGroup
	for _, c := range open {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			resp, err := http.ReadResponse(bufio.NewReader(c), nil)
			if err != nil {
				return // held: still waiting for the rest of its body
			}
			if resp.StatusCode != http.StatusTooManyRequests || resp.Header.Get("Retry-After") == "" {
				t.Errorf("refused body: %d %v", resp.StatusCode, resp.Header)
			}
			refused.Add(1)
		})
	}
	wg.Wait()
	if refused.Load() == 0 {
		t.Fatal("32 half-sent 1 MiB bodies of one caller were all buffered (share 4 MiB)")
	}
	if used := h.bytes.inUse(); used > 4<<20 {
		t.Fatalf("one caller holds %d bytes, share 4 MiB", used)
	}
	t.Logf("%d of 32 stalled 1 MiB bodies refused; live heap +%d KiB", refused.Load(), (int64(liveHeap())-int64(before))>>10)
	mustServeLegit(t, legit)
}

// costlyBatch is a batch whose items all inherit a top-level resource with
// a list of n tags, so that every item runs the condition over the list.
func costlyBatch(items, tags int) string {
	var b strings.Builder
	b.WriteString(`{"subject":{"type":"user","id":"mallory"},"action":{"name":"view"},"resource":{"type":"workorders","properties":{"tags":[`)
	for i := range tags {
		if i > 0 {
			b.WriteByte(',')
		}
		fmt.Fprintf(&b, `"t%d"`, i)
	}
	b.WriteString(`]}},"evaluations":[`)
	for i := range items {
		if i > 0 {
			b.WriteByte(',')
		}
		b.WriteString(`{}`)
	}
	b.WriteString(`]}`)
	return b.String()
}

// Attack: one request that makes thousands of condition evaluations over
// long lists (minutes of CPU before). The request stops at its budget with
// 422 and no partial answer; lists past the cap are a 400.
func TestAdversarialCostlyRequests(t *testing.T) {
	_, addr := adversarialServer(t, tagsCond, Options{}, ServerOptions{})
	hostile := newClient(addr, "hostile-token", "127.0.0.2")
	costly := "/tenants/" + costlyTenant + "/access/v1/evaluations"
	tests := map[string]struct {
		body       string
		wantStatus int
		wantBody   string
	}{
		"batch over the budget": {costlyBatch(1000, 1000), 422, "condition budget"},
		"list over the cap":     {costlyBatch(1, 1001), 400, "resource.properties.tags"},
		"small batch is served": {costlyBatch(3, 10), 200, `"decision":false`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			a, err := hostile.post(context.Background(), costly, tc.body)
			if err != nil {
				t.Fatal(err)
			}
			if a.status != tc.wantStatus || !strings.Contains(a.body, tc.wantBody) {
				t.Fatalf("got %d %.200s, want %d containing %q", a.status, a.body, tc.wantStatus, tc.wantBody)
			}
			if tc.wantStatus != 200 && strings.Contains(a.body, "decision") {
				t.Fatalf("refused request answered decisions: %.200s", a.body)
			}
			if len(a.body) > 512 && tc.wantStatus != 200 {
				t.Fatalf("error of %d bytes", len(a.body))
			}
		})
	}
	mustServeLegit(t, newClient(addr, "legit-token", "127.0.0.1"))
}

// Attack: the client leaves while its request works. The work stops
// instead of running to the end.
func TestAdversarialClientLeaves(t *testing.T) {
	obs := &recordingObserver{}
	// Limits out of the way: only the client leaving can stop it.
	h, addr := adversarialServer(t, heavyCond, Options{Observer: obs, MaxRequestCost: 1 << 50, MaxConditionTime: time.Hour}, ServerOptions{WriteTimeout: time.Hour})
	hostile := newClient(addr, "hostile-token", "127.0.0.2")
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() {
		_, err := hostile.post(ctx, "/tenants/"+costlyTenant+"/access/v1/evaluations", costlyBatch(1000, 1000))
		errc <- err
	}()
	// The batch needs 1,000 x 8,000 steps (seconds); leave once it is
	// under way (holding a seat).
	if !eventually(20*time.Second, func() bool { n, _ := h.seats.load(); return n > 0 }) {
		t.Fatal("the batch never started")
	}
	cancel()
	if err := <-errc; err == nil {
		t.Fatal("the batch finished before the client left; make it costlier")
	}
	finished := eventually(30*time.Second, func() bool {
		obs.mu.Lock()
		defer obs.mu.Unlock()
		return len(obs.requests) > 0
	})
	if !finished {
		t.Fatal("the handler kept working for 30 s after its client left")
	}
	obs.mu.Lock()
	got := obs.requests[0]
	obs.mu.Unlock()
	if got != "evaluations 503" {
		t.Fatalf("abandoned request recorded as %q, want evaluations 503 (cancelled)", got)
	}
}

// Attack: one caller floods. Beyond the seats and its queue it gets 429
// with Retry-After; another caller's requests are all served meanwhile,
// because freed seats go to queued flows in turn.
func TestAdversarialFloodIsFair(t *testing.T) {
	obs := &recordingObserver{}
	_, addr := adversarialServer(t, tagsCond, Options{Observer: obs, MaxInFlight: 2, MaxQueuePerFlow: 4, MaxQueue: 64, QueueWait: 5 * time.Second}, ServerOptions{})
	hostile := newClient(addr, "hostile-token", "127.0.0.2")
	legit := newClient(addr, "legit-token", "127.0.0.1")
	costly := "/tenants/" + costlyTenant + "/access/v1/evaluations"
	flood := costlyBatch(50, 1000) // 50k steps a request: milliseconds each
	var shed, served, stopped atomic.Int64
	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 24 {
		wg.Go(func() {
			for range 400 {
				select {
				case <-stop:
					return
				default:
				}
				a, err := hostile.post(context.Background(), costly, flood)
				switch {
				case err != nil:
					t.Errorf("flood: %v", err)
					return
				case a.status == 429:
					if a.retry == "" {
						t.Errorf("429 without Retry-After")
					}
					shed.Add(1)
				case a.status == 200:
					served.Add(1)
				case a.status == 422:
					// Out of condition time on a loaded machine:
					// stopped, which is fine for a flooder.
					stopped.Add(1)
				default:
					t.Errorf("flood: %d %.100s", a.status, a.body)
				}
			}
		})
	}
	// The flood is under way (shedding) before the legitimate caller
	// starts, however slowly the goroutines start on a loaded machine.
	if !eventually(20*time.Second, func() bool { return shed.Load() > 0 }) {
		close(stop)
		wg.Wait()
		t.Fatalf("24 flooding connections on 2 seats and a queue of 4 were never shed (%d served, %d stopped)", served.Load(), stopped.Load())
	}
	for i := range 30 {
		a, err := legit.post(context.Background(), base+"/access/v1/evaluation", evalAllowBody)
		if err != nil || a.status != 200 || !strings.Contains(a.body, `"decision":true`) {
			t.Errorf("legitimate request %d during the flood: %v %d %.100s", i, err, a.status, a.body)
		}
	}
	close(stop)
	wg.Wait()
	t.Logf("flood: %d served, %d shed, %d stopped at their budget; 30 legitimate requests served", served.Load(), shed.Load(), stopped.Load())
	obs.mu.Lock()
	defer obs.mu.Unlock()
	if len(obs.rejected) == 0 {
		t.Fatal("no rejection observed")
	}
}

// countingAuth counts the reviews a caller's requests cause.
type countingAuth struct {
	StaticTokens
	TenantsByCaller
	authn, authz atomic.Int64
}

func (c *countingAuth) Authenticate(ctx context.Context, token string) (*Caller, error) {
	c.authn.Add(1)
	return c.StaticTokens.Authenticate(ctx, token)
}

func (c *countingAuth) AuthorizeTenant(ctx context.Context, caller *Caller, t string) (bool, error) {
	c.authz.Add(1)
	return c.TenantsByCaller.AuthorizeTenant(ctx, caller, t)
}

// Attack: random tokens and random tenant names, each of which used to
// cost a TokenReview or a SubjectAccessReview. After a source's burst of
// failures it gets 429 without any review; other sources are unaffected.
func TestAdversarialAuthAmplification(t *testing.T) {
	auth := &countingAuth{StaticTokens: adversaryTokens, TenantsByCaller: TenantsByCaller{"mallory-app": {costlyTenant}, "alice-app": {tenant}}}
	const burst = 5
	_, addr := adversarialServer(t, tagsCond, Options{Authenticator: auth, TenantAuthorizer: auth, FailedAuthRate: 1, FailedAuthBurst: burst}, ServerOptions{})
	tests := map[string]struct {
		token, path string
		reviews     *atomic.Int64
		failure     int
	}{
		"random tokens":       {token: "guess-%d", path: base + "/access/v1/evaluation", reviews: &auth.authn, failure: 401},
		"random tenant names": {token: "hostile-token", path: "/tenants/tenant-%d/access/v1/evaluation", reviews: &auth.authz, failure: 403},
	}
	source := 2
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			source++
			c := newClient(addr, "", fmt.Sprintf("127.0.0.%d", source))
			start, began := tc.reviews.Load(), time.Now()
			failures, limited := 0, 0
			for i := range 200 {
				c.token = tc.token
				if strings.Contains(c.token, "%d") {
					c.token = fmt.Sprintf(c.token, i)
				}
				path := tc.path
				if strings.Contains(path, "%d") {
					path = fmt.Sprintf(path, i)
				}
				a, err := c.post(context.Background(), path, evalAllowBody)
				if err != nil {
					t.Fatal(err)
				}
				switch a.status {
				case tc.failure:
					failures++
				case 429:
					limited++
				default:
					t.Fatalf("attempt %d: %d %s", i, a.status, a.body)
				}
			}
			// The burst, plus one refill per second the loop took.
			allowed := int64(burst) + int64(time.Since(began).Seconds()) + 1
			if reviews := tc.reviews.Load() - start; reviews > allowed {
				t.Fatalf("200 attempts caused %d reviews, want at most %d", reviews, allowed)
			}
			if limited == 0 {
				t.Fatalf("no 429 in 200 failing attempts (%d failures)", failures)
			}
			mustServeLegit(t, newClient(addr, "legit-token", "127.0.0.1"))
		})
	}
}

// Attack: one source opens thousands of idle connections. It holds at
// most its share; another source still connects and is served.
func TestAdversarialConnections(t *testing.T) {
	_, addr := adversarialServer(t, tagsCond, Options{}, ServerOptions{MaxConnections: 500, MaxConnectionsPerSource: 50})
	var open []net.Conn
	defer func() {
		for _, c := range open {
			c.Close()
		}
	}()
	for range 200 {
		open = append(open, rawConn(t, addr, "127.0.0.9", ""))
	}
	// Connections past the share are closed by the server: their reads
	// end at once; the 50 held time out.
	var closed atomic.Int64
	var wg sync.WaitGroup
	for _, c := range open {
		wg.Go(func() {
			_ = c.SetReadDeadline(time.Now().Add(3 * time.Second))
			if _, err := c.Read(make([]byte, 1)); err == io.EOF || isReset(err) {
				closed.Add(1)
			}
		})
	}
	wg.Wait()
	if closed := closed.Load(); closed < 150 {
		t.Fatalf("only %d of 200 connections past a share of 50 were closed", closed)
	}
	mustServeLegit(t, newClient(addr, "legit-token", "127.0.0.1"))
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "reset")
}

// Attack: request values that come back in errors. An error carries at most
// a short, escaped prefix of any value, and the right field path.
func TestAdversarialErrorsAreShort(t *testing.T) {
	h, _ := newTestHandler(t, Options{MinRevisionWait: time.Millisecond})
	huge := strings.Repeat(`k\u2028\"<`, 25_000) // JSON escapes: the key holds U+2028, a quote and <
	tests := map[string]struct {
		path, body string
		status     int
		wantPath   string
	}{
		"huge minRevision": {base + "/access/v1/evaluation",
			`{"subject":{"id":"a"},"action":{"name":"view"},"resource":{"type":"workorders"},"context":{"minRevision":"` + huge + `"}}`, 503, "context.minRevision"},
		"huge unknown key":     {base + "/access/v1/evaluation", `{"` + huge + `":1}`, 400, `"k`},
		"huge property key":    {base + "/access/v1/evaluation", `{"resource":{"type":"t","properties":{"` + huge + `":1e400}}}`, 400, "resource.properties"},
		"number out of range":  {base + "/access/v1/evaluation", `{"resource":{"type":"t","properties":{"amount":1e400}}}`, 400, "resource.properties.amount"},
		"duplicate nested key": {base + "/access/v1/evaluation", `{"context":{"a":{"b":1,"b":2}}}`, 400, "context.a.b: duplicate key"},
		"batch limit":          {base + "/access/v1/evaluations", `{"evaluations":[` + strings.TrimSuffix(strings.Repeat(`{},`, 1001), ",") + `]}`, 400, "evaluations: more than 1000"},
		"huge tenant in path":  {"/tenants/" + strings.Repeat("x", 100_000) + "/access/v1/evaluation", `{}`, 404, "no such endpoint"},
		"huge SAR user key":    {"/subjectaccessreview", `{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"` + huge + `":"x"}}`, 400, "spec"},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := do(h, "POST", tc.path, tc.body)
			body := w.Body.String()
			if w.Code != tc.status || !strings.Contains(body, tc.wantPath) {
				t.Fatalf("got %d %.300s, want %d naming %s", w.Code, body, tc.status, tc.wantPath)
			}
			if len(body) > 200 {
				t.Fatalf("error of %d bytes for a %d-byte request: %.300s", len(body), len(tc.body), body)
			}
			if strings.Contains(body, "\u2028") || !json.Valid(w.Body.Bytes()) {
				t.Fatalf("unescaped request text in %q", body)
			}
		})
	}
}

// Attack: a number just past a condition's threshold that a float64 rounds
// onto it. technician may create purchase orders up to 5,000
// (amount <= 5000); 5000.0000000000001 would compare equal to 5000.
func TestAdversarialInexactNumbers(t *testing.T) {
	h, _ := newTestHandler(t, Options{})
	po := func(amount string) string {
		return `{"subject":{"type":"user","id":"tom.tech"},"action":{"name":"create"},"resource":{"type":"purchaseorders","properties":{"amount":` + amount + `}}}`
	}
	tests := map[string]struct {
		amount   string
		status   int
		decision string
	}{
		"at the threshold":              {"5000", 200, `"decision":true`},
		"below it":                      {"4999.99", 200, `"decision":true`},
		"above it":                      {"5000.01", 200, `"decision":false`},
		"above it by less than a float": {"5000.0000000000001", 400, "resource.properties.amount"},
		"a huge integer":                {"9007199254740993", 400, "resource.properties.amount"},
		"as a string, compared as one":  {`"5000.0000000000001"`, 200, `"decision":false`},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			w := do(h, "POST", base+"/access/v1/evaluation", po(tc.amount))
			if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.decision) {
				t.Fatalf("amount %s: %d %s, want %d with %s", tc.amount, w.Code, w.Body, tc.status, tc.decision)
			}
		})
	}
}
