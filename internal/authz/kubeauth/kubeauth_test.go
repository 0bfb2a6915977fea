package kubeauth

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	k8stesting "k8s.io/client-go/testing"

	"github.com/gatehouse-dev/gatehouse/internal/authz"
)

var errDown = errors.New("apiserver down")

// fakeCluster answers TokenReviews from a token table and SARs from a
// (user, namespace) table, counting calls; while fail is set, both fail
// with errDown.
func fakeCluster(tokens map[string]string, allowed map[[2]string]bool, fail *atomic.Bool) (*fake.Clientset, *atomic.Int32, *atomic.Int32) {
	cs := fake.NewClientset()
	var trs, sars atomic.Int32
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		trs.Add(1)
		if fail != nil && fail.Load() {
			return true, nil, errDown
		}
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		if user, ok := tokens[tr.Spec.Token]; ok {
			tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: user, Groups: []string{"g"}}, Audiences: tr.Spec.Audiences}
		}
		return true, tr, nil
	})
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sars.Add(1)
		if fail != nil && fail.Load() {
			return true, nil, errDown
		}
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
		ra := sar.Spec.ResourceAttributes
		if ra.Group != Group || ra.Resource != Resource || ra.Verb != Verb {
			return true, nil, errors.New("unexpected attributes")
		}
		sar.Status.Allowed = allowed[[2]string{sar.Spec.User, ra.Namespace}]
		return true, sar, nil
	})
	return cs, &trs, &sars
}

// fakeClock is a settable clock for the reviewers' caches and backoff.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newFakeClock() *fakeClock { return &fakeClock{t: time.Unix(1000, 0)} }

func (c *fakeClock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) add(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func callerFor(name string, groups ...string) *authz.Caller {
	c := &authz.Caller{Name: name, Groups: groups}
	c.Key = identityKey(c)
	return c
}

func TestAuthenticatorCaches(t *testing.T) {
	var fail atomic.Bool
	cs, trs, _ := fakeCluster(map[string]string{"good": "app-a"}, nil, &fail)
	clk := newFakeClock()
	a := NewAuthenticator(cs, Options{PositiveTTL: time.Minute, NegativeTTL: 5 * time.Second})
	a.r.now = clk.now
	ctx := context.Background()

	c, err := a.Authenticate(ctx, "good")
	if err != nil || c.Name != "app-a" || c.Key == "" {
		t.Fatalf("good token: %v %v", c, err)
	}
	for i := 0; i < 5; i++ {
		if _, err := a.Authenticate(ctx, "good"); err != nil {
			t.Fatal(err)
		}
	}
	if trs.Load() != 1 {
		t.Errorf("%d TokenReviews, want 1 (cached)", trs.Load())
	}
	for i := 0; i < 3; i++ {
		if _, err := a.Authenticate(ctx, "bad"); !errors.Is(err, authz.ErrUnauthenticated) {
			t.Fatalf("bad token: %v", err)
		}
	}
	if trs.Load() != 2 {
		t.Errorf("%d TokenReviews, want 2 (negative cached)", trs.Load())
	}
	if _, err := a.Authenticate(ctx, ""); !errors.Is(err, authz.ErrUnauthenticated) {
		t.Errorf("empty token: %v", err)
	}
	clk.add(6 * time.Second) // negative entry expired, positive not
	// Only the TokenReview count matters here, not the answers.
	_, _ = a.Authenticate(ctx, "bad")
	_, _ = a.Authenticate(ctx, "good")
	if trs.Load() != 3 {
		t.Errorf("%d TokenReviews after negative TTL, want 3", trs.Load())
	}
	clk.add(time.Minute)
	fail.Store(true)
	if _, err := a.Authenticate(ctx, "good"); err == nil || errors.Is(err, authz.ErrUnauthenticated) || errors.Is(err, ErrBackoff) || !errors.Is(err, errDown) {
		t.Errorf("API failure must be the API error, not ErrUnauthenticated: %v", err)
	}
	fail.Store(false)
	if _, err := a.Authenticate(ctx, "good"); !errors.Is(err, ErrBackoff) || errors.Is(err, authz.ErrUnauthenticated) {
		t.Errorf("right after a failure: %v, want ErrBackoff", err)
	}
	clk.add(DefaultErrorBackoff)
	if _, err := a.Authenticate(ctx, "good"); err != nil {
		t.Errorf("after recovery and the backoff: %v", err)
	}
}

func TestAuthenticatorAudiences(t *testing.T) {
	ctx := context.Background()
	// fakeCluster's TokenReview echoes the requested audiences: the token
	// is valid for them.
	cs, _, _ := fakeCluster(map[string]string{"good": "app-a"}, nil, nil)
	var sent [][]string
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sent = append(sent, a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview).Spec.Audiences)
		return false, nil, nil
	})
	a := NewAuthenticator(cs, Options{Audiences: []string{"gatehouse", "gatehouse-alt"}})
	if c, err := a.Authenticate(ctx, "good"); err != nil || c.Name != "app-a" {
		t.Errorf("token for our audience: %v %v", c, err)
	}
	if len(sent) != 1 || !reflect.DeepEqual(sent[0], []string{"gatehouse", "gatehouse-alt"}) {
		t.Errorf("TokenReview audiences %q, want ours", sent)
	}

	// A TokenReview saying the token is valid, but for other audiences.
	cs, trs, _ := fakeCluster(nil, nil, nil)
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		trs.Add(1)
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: "x"}, Audiences: []string{"other", "https://kubernetes.default.svc"}}
		return true, tr, nil
	})
	a = NewAuthenticator(cs, Options{Audiences: []string{"gatehouse"}})
	for i := 0; i < 3; i++ {
		if _, err := a.Authenticate(ctx, "good"); !errors.Is(err, authz.ErrUnauthenticated) {
			t.Errorf("token for another audience accepted: %v", err)
		}
	}
	if trs.Load() != 1 {
		t.Errorf("%d TokenReviews, want 1 (rejection cached)", trs.Load())
	}
	// Without Audiences, the API server's answer is taken as it is.
	if c, err := NewAuthenticator(cs, Options{}).Authenticate(ctx, "good"); err != nil || c.Name != "x" {
		t.Errorf("no audiences configured: %v %v", c, err)
	}
}

func TestTenantAuthorizerCaches(t *testing.T) {
	cs, _, sars := fakeCluster(nil, map[[2]string]bool{{"app-a", "tenant-a"}: true}, nil)
	clk := newFakeClock()
	z := NewTenantAuthorizer(cs, Options{PositiveTTL: time.Minute, NegativeTTL: 5 * time.Second})
	z.r.now = clk.now
	ctx := context.Background()
	a := callerFor("app-a", "g")
	for i := 0; i < 3; i++ {
		if ok, err := z.AuthorizeTenant(ctx, a, "tenant-a"); !ok || err != nil {
			t.Fatalf("own tenant: %v %v", ok, err)
		}
		if ok, err := z.AuthorizeTenant(ctx, a, "tenant-b"); ok || err != nil {
			t.Fatalf("other tenant: %v %v", ok, err)
		}
	}
	if sars.Load() != 2 {
		t.Errorf("%d SARs, want 2", sars.Load())
	}
	// Same name, other groups: a different identity, not a cache hit.
	b := callerFor("app-a", "g", "admins")
	_, _ = z.AuthorizeTenant(ctx, b, "tenant-a") // only the SAR count matters here
	if sars.Load() != 3 {
		t.Errorf("identity with other groups shared a cache entry")
	}
	clk.add(6 * time.Second)
	_, _ = z.AuthorizeTenant(ctx, a, "tenant-b")
	_, _ = z.AuthorizeTenant(ctx, a, "tenant-a")
	if sars.Load() != 4 {
		t.Errorf("%d SARs after negative TTL, want 4", sars.Load())
	}
}

func TestTTLCacheBounded(t *testing.T) {
	c := newTTLCache[int, int](100, nil)
	for i := 0; i < 1000; i++ {
		c.put(i, i, time.Hour)
		if c.len() > 100 {
			t.Fatalf("cache grew to %d", c.len())
		}
	}
	if v, ok := c.get(999); !ok || v != 999 {
		t.Errorf("latest entry missing")
	}
}

// blockUntil returns a channel closed once hook has been called n times,
// and the hook.
func blockUntil(n int32) (<-chan struct{}, func()) {
	ch := make(chan struct{})
	var calls atomic.Int32
	return ch, func() {
		if calls.Add(1) == n {
			close(ch)
		}
	}
}

func TestAuthenticateCoalesces(t *testing.T) {
	const n = 50
	cs := fake.NewClientset()
	var trs atomic.Int32
	allWaiting, hook := blockUntil(n)
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		trs.Add(1)
		// Answer only once every caller waits for an answer, so that
		// none of them can find it cached.
		select {
		case <-allWaiting:
		case <-time.After(5 * time.Second):
		}
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: "app-a"}}
		return true, tr, nil
	})
	a := NewAuthenticator(cs, Options{})
	a.r.waiting = hook
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for range n {
		wg.Go(func() {
			c, err := a.Authenticate(context.Background(), "same-token")
			if err == nil && c.Name != "app-a" {
				err = fmt.Errorf("caller %q", c.Name)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if trs.Load() != 1 {
		t.Errorf("%d concurrent Authenticate calls with one token made %d TokenReviews, want 1", n, trs.Load())
	}
}

func TestAuthorizeTenantCoalesces(t *testing.T) {
	const n = 50
	cs := fake.NewClientset()
	var sars atomic.Int32
	allWaiting, hook := blockUntil(2 * n)
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sars.Add(1)
		select {
		case <-allWaiting:
		case <-time.After(5 * time.Second):
		}
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
		sar.Status.Allowed = sar.Spec.ResourceAttributes.Namespace == "tenant-a"
		return true, sar, nil
	})
	z := NewTenantAuthorizer(cs, Options{})
	z.r.waiting = hook
	var wg sync.WaitGroup
	errs := make(chan error, 2*n)
	for i := range 2 * n {
		// Half ask about tenant-a, half about tenant-b, each with its
		// own but equal Caller.
		tenant := []string{"tenant-a", "tenant-b"}[i%2]
		wg.Go(func() {
			ok, err := z.AuthorizeTenant(context.Background(), callerFor("app-a", "g"), tenant)
			if err == nil && ok != (tenant == "tenant-a") {
				err = fmt.Errorf("%s: %v", tenant, ok)
			}
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Error(err)
		}
	}
	if sars.Load() != 2 {
		t.Errorf("%d concurrent AuthorizeTenant calls for 2 tenants made %d SubjectAccessReviews, want 2", 2*n, sars.Load())
	}
}

func TestAuthenticateBacksOffPerToken(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	cs, trs, _ := fakeCluster(map[string]string{"good": "app-a", "other": "app-b"}, nil, &fail)
	clk := newFakeClock()
	a := NewAuthenticator(cs, Options{PositiveTTL: time.Second, ErrorBackoff: 250 * time.Millisecond, MaxErrorBackoff: 2 * time.Second, CircuitThreshold: -1})
	a.r.now = clk.now
	ctx := context.Background()
	call := func(token string) error { _, err := a.Authenticate(ctx, token); return err }

	if err := call("good"); !errors.Is(err, errDown) || errors.Is(err, ErrBackoff) || trs.Load() != 1 {
		t.Fatalf("first failure: %v (%d calls)", err, trs.Load())
	}
	// Each interval: no call until it ends, then one failing call.
	for i, backoff := range []time.Duration{250, 500, 1000, 2000, 2000} {
		backoff *= time.Millisecond
		want := trs.Load()
		clk.add(backoff - time.Millisecond)
		for range 3 {
			if err := call("good"); !errors.Is(err, ErrBackoff) || !errors.Is(err, errDown) || errors.Is(err, authz.ErrUnauthenticated) {
				t.Fatalf("interval %d: within the backoff: %v", i, err)
			}
		}
		if trs.Load() != want {
			t.Fatalf("interval %d: TokenReview within the backoff of %s", i, backoff)
		}
		clk.add(time.Millisecond)
		if err := call("good"); !errors.Is(err, errDown) || errors.Is(err, ErrBackoff) {
			t.Fatalf("interval %d: after the backoff of %s: %v", i, backoff, err)
		}
		if trs.Load() != want+1 {
			t.Fatalf("interval %d: %d TokenReviews after the backoff, want %d", i, trs.Load(), want+1)
		}
	}
	// Another token is not held back by this one's failures.
	want := trs.Load() + 1
	if err := call("other"); !errors.Is(err, errDown) || errors.Is(err, ErrBackoff) || trs.Load() != want {
		t.Errorf("other token: %v (%d calls, want %d)", err, trs.Load(), want)
	}

	// A success resets the backoff: after the positive entry expires,
	// a new failure backs off for ErrorBackoff again, not 4 s.
	fail.Store(false)
	clk.add(2 * time.Second)
	if err := call("good"); err != nil {
		t.Fatalf("recovered: %v", err)
	}
	clk.add(time.Second)
	fail.Store(true)
	_ = call("good")
	clk.add(250 * time.Millisecond)
	want = trs.Load() + 1
	if err := call("good"); errors.Is(err, ErrBackoff) || trs.Load() != want {
		t.Errorf("backoff not reset by success: %v", err)
	}
	// A key that stops failing for MaxErrorBackoff after its interval
	// starts over too.
	clk.add(500*time.Millisecond + 2*time.Second)
	_ = call("good")
	clk.add(250 * time.Millisecond)
	want = trs.Load() + 1
	if err := call("good"); errors.Is(err, ErrBackoff) || trs.Load() != want {
		t.Errorf("backoff not forgotten: %v", err)
	}
}

func TestAuthorizeTenantBacksOff(t *testing.T) {
	var fail atomic.Bool
	fail.Store(true)
	cs, _, sars := fakeCluster(nil, map[[2]string]bool{{"app-a", "tenant-a"}: true}, &fail)
	clk := newFakeClock()
	z := NewTenantAuthorizer(cs, Options{CircuitThreshold: -1})
	z.r.now = clk.now
	ctx := context.Background()
	c := callerFor("app-a", "g")
	if _, err := z.AuthorizeTenant(ctx, c, "tenant-a"); !errors.Is(err, errDown) {
		t.Fatalf("failing SAR: %v", err)
	}
	fail.Store(false)
	if ok, err := z.AuthorizeTenant(ctx, c, "tenant-a"); ok || !errors.Is(err, ErrBackoff) || sars.Load() != 1 {
		t.Errorf("within the backoff: %v %v (%d SARs)", ok, err, sars.Load())
	}
	// Another tenant, or another identity, is another key.
	if ok, err := z.AuthorizeTenant(ctx, c, "tenant-b"); ok || err != nil || sars.Load() != 2 {
		t.Errorf("other tenant: %v %v (%d SARs)", ok, err, sars.Load())
	}
	clk.add(DefaultErrorBackoff)
	if ok, err := z.AuthorizeTenant(ctx, c, "tenant-a"); !ok || err != nil || sars.Load() != 3 {
		t.Errorf("after the backoff: %v %v (%d SARs)", ok, err, sars.Load())
	}
}

func TestCircuitOpensAfterConsecutiveFailures(t *testing.T) {
	var fail atomic.Bool
	cs, trs, _ := fakeCluster(map[string]string{"good": "app-a"}, nil, &fail)
	clk := newFakeClock()
	a := NewAuthenticator(cs, Options{CircuitThreshold: 3, ErrorBackoff: 100 * time.Millisecond, MaxErrorBackoff: time.Second})
	a.r.now = clk.now
	ctx := context.Background()
	token := 0
	random := func() error { token++; _, err := a.Authenticate(ctx, fmt.Sprint("random-", token)); return err }
	expect := func(what string, wantErr error, wantCalls int32) {
		t.Helper()
		if err := random(); !errors.Is(err, wantErr) || (wantErr != ErrBackoff && errors.Is(err, ErrBackoff)) {
			t.Fatalf("%s: %v, want %v", what, err, wantErr)
		}
		if trs.Load() != wantCalls {
			t.Fatalf("%s: %d TokenReviews, want %d", what, trs.Load(), wantCalls)
		}
	}

	if _, err := a.Authenticate(ctx, "good"); err != nil {
		t.Fatal(err)
	}
	fail.Store(true)
	for i := range int32(3) {
		expect("failing, circuit closed", errDown, 2+i)
	}
	for range 10 {
		expect("circuit open", ErrBackoff, 4)
	}
	if c, err := a.Authenticate(ctx, "good"); err != nil || c.Name != "app-a" {
		t.Errorf("cached caller while the circuit is open: %v %v", c, err)
	}
	clk.add(100 * time.Millisecond)
	expect("probe", errDown, 5)
	expect("reopened", ErrBackoff, 5)
	clk.add(199 * time.Millisecond)
	expect("reopened for twice as long", ErrBackoff, 5)
	clk.add(time.Millisecond)
	expect("second probe", errDown, 6)
	fail.Store(false)
	clk.add(399 * time.Millisecond)
	expect("reopened for 400ms", ErrBackoff, 6)
	clk.add(time.Millisecond)
	expect("successful probe", authz.ErrUnauthenticated, 7)
	expect("closed", authz.ErrUnauthenticated, 8)
}

func TestCircuitSingleProbe(t *testing.T) {
	c := circuit{threshold: 2, min: time.Second, max: 4 * time.Second, probeTimeout: 5 * time.Second}
	now := time.Unix(1000, 0)
	c.failure(now, false)
	if _, ok := c.allow(now); !ok {
		t.Fatal("opened below the threshold")
	}
	c.failure(now, false)
	if _, ok := c.allow(now); ok {
		t.Fatal("not open at the threshold")
	}
	// Failures of reviews begun before it opened neither extend nor grow it.
	c.failure(now.Add(500*time.Millisecond), false)
	now = now.Add(time.Second)
	probe, ok := c.allow(now)
	if !probe || !ok {
		t.Fatalf("no probe after the interval: %v %v", probe, ok)
	}
	if _, ok := c.allow(now); ok {
		t.Error("a second review went ahead while the probe is under way")
	}
	if probe, ok := c.allow(now.Add(5 * time.Second)); !probe || !ok {
		t.Error("no new probe after the probe timed out")
	}
	c.failure(now.Add(5*time.Second), true)
	if _, ok := c.allow(now.Add(7*time.Second - time.Millisecond)); ok {
		t.Error("a failed probe did not reopen it for twice the interval")
	}
	if probe, _ := c.allow(now.Add(7 * time.Second)); !probe {
		t.Error("no probe after twice the interval")
	}
	c.success()
	if probe, ok := c.allow(now.Add(7 * time.Second)); probe || !ok {
		t.Error("not closed by a success")
	}
	off := circuit{threshold: -1}
	for range 100 {
		off.failure(now, false)
	}
	if _, ok := off.allow(now); !ok {
		t.Error("a disabled circuit opened")
	}
}

func TestCallerLeavingDoesNotCancelSharedReview(t *testing.T) {
	cs := fake.NewClientset()
	var trs atomic.Int32
	entered, release := make(chan struct{}, 1), make(chan struct{})
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		trs.Add(1)
		entered <- struct{}{}
		<-release
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: "app-a"}}
		return true, tr, nil
	})
	a := NewAuthenticator(cs, Options{})
	bothWaiting, hook := blockUntil(2)
	a.r.waiting = hook

	ctx, cancel := context.WithCancel(context.Background())
	first := make(chan error, 1)
	go func() { _, err := a.Authenticate(ctx, "tok"); first <- err }()
	<-entered
	second := make(chan error, 1)
	go func() {
		c, err := a.Authenticate(context.Background(), "tok")
		if err == nil && c.Name != "app-a" {
			err = fmt.Errorf("caller %q", c.Name)
		}
		second <- err
	}()
	<-bothWaiting
	cancel()
	select {
	case err := <-first:
		if !errors.Is(err, context.Canceled) || errors.Is(err, authz.ErrUnauthenticated) {
			t.Errorf("first caller: %v, want context.Canceled", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first caller did not return when its context ended")
	}
	select {
	case err := <-second:
		t.Fatalf("the second caller returned before the review ended: %v", err)
	default:
	}
	close(release)
	if err := <-second; err != nil {
		t.Errorf("second caller: %v", err)
	}
	if _, err := a.Authenticate(context.Background(), "tok"); err != nil || trs.Load() != 1 {
		t.Errorf("the shared review's answer was not cached: %v, %d TokenReviews", err, trs.Load())
	}
}

func TestSharedReviewContextIsDetached(t *testing.T) {
	type ctxKey struct{}
	opts := Options{Timeout: 3 * time.Second}
	opts.defaults()
	r := newReviewer[string, int]("test review", opts, func(k string) string { return k })
	ctx, cancel := context.WithCancel(context.WithValue(context.Background(), ctxKey{}, "v"))
	ctx, cancelT := context.WithTimeout(ctx, time.Second) // shorter than Timeout
	defer cancelT()
	got := make(chan context.Context, 1)
	release := make(chan struct{})
	done := make(chan error, 1)
	go func() {
		_, _, err := r.get(ctx, "k", func(rctx context.Context) (int, bool, error) {
			got <- rctx
			<-release
			return 1, true, nil
		})
		done <- err
	}()
	rctx := <-got
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) && !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("caller: %v", err)
	}
	if rctx.Err() != nil {
		t.Errorf("the shared review's context ended with its first caller's: %v", rctx.Err())
	}
	if rctx.Value(ctxKey{}) != "v" {
		t.Error("the shared review's context lost the caller's values")
	}
	if d, ok := rctx.Deadline(); !ok || time.Until(d) > opts.Timeout || time.Until(d) < opts.Timeout-time.Second {
		t.Errorf("the shared review's deadline is %v away, want Timeout (%v)", time.Until(d), opts.Timeout)
	}
	close(release)
	if v, ok, err := r.get(context.Background(), "k", nil); v != 1 || !ok || err != nil {
		t.Errorf("answer not cached: %v %v %v", v, ok, err)
	}

	// A caller already gone starts no review.
	if _, _, err := r.get(ctx, "k2", func(context.Context) (int, bool, error) {
		t.Error("review started for a caller already gone")
		return 0, false, nil
	}); !errors.Is(err, context.Canceled) {
		t.Errorf("caller already gone: %v", err)
	}

	// Timeout bounds the shared review, and its timing out is a failure.
	opts = Options{Timeout: 20 * time.Millisecond}
	opts.defaults()
	r = newReviewer[string, int]("test review", opts, func(k string) string { return k })
	start := time.Now()
	_, _, err := r.get(context.Background(), "k", func(rctx context.Context) (int, bool, error) {
		<-rctx.Done()
		return 0, false, rctx.Err()
	})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > 2*time.Second {
		t.Errorf("review past Timeout: %v after %v", err, time.Since(start))
	}
	if _, _, err := r.get(context.Background(), "k", nil); !errors.Is(err, ErrBackoff) {
		t.Errorf("timed-out review not backed off: %v", err)
	}
}

func TestExtraReachesSubjectAccessReview(t *testing.T) {
	cs := fake.NewClientset()
	extras := map[string]map[string][]string{
		"tok-1": {"authentication.kubernetes.io/pod-name": {"p1"}, "authentication.kubernetes.io/node-name": {"n1"}},
		"tok-2": {"authentication.kubernetes.io/pod-name": {"p2"}, "authentication.kubernetes.io/node-name": {"n1"}},
	}
	var returned []*authnv1.TokenReview
	cs.PrependReactor("create", "tokenreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		tr := a.(k8stesting.CreateAction).GetObject().(*authnv1.TokenReview)
		extra := map[string]authnv1.ExtraValue{}
		for k, v := range extras[tr.Spec.Token] {
			extra[k] = append(authnv1.ExtraValue(nil), v...)
		}
		tr.Status = authnv1.TokenReviewStatus{Authenticated: true, User: authnv1.UserInfo{Username: "app-a", Groups: []string{"g"}, Extra: extra}}
		returned = append(returned, tr)
		return true, tr, nil
	})
	var sarExtras []map[string]authzv1.ExtraValue
	cs.PrependReactor("create", "subjectaccessreviews", func(a k8stesting.Action) (bool, runtime.Object, error) {
		sar := a.(k8stesting.CreateAction).GetObject().(*authzv1.SubjectAccessReview)
		sarExtras = append(sarExtras, sar.Spec.Extra)
		sar.Status.Allowed = slices.Equal(sar.Spec.Extra["authentication.kubernetes.io/pod-name"], authzv1.ExtraValue{"p1"})
		return true, sar, nil
	})
	authn, tenants := New(cs, Options{})
	ctx := context.Background()

	c1, err := authn.Authenticate(ctx, "tok-1")
	if err != nil || !reflect.DeepEqual(c1.Extra, extras["tok-1"]) {
		t.Fatalf("caller's Extra: %v %v", c1, err)
	}
	// The Caller does not share the TokenReview's maps or slices.
	returned[0].Status.User.Extra["authentication.kubernetes.io/pod-name"][0] = "changed"
	returned[0].Status.User.Extra["added"] = nil
	if !reflect.DeepEqual(c1.Extra, extras["tok-1"]) {
		t.Errorf("Extra not cloned: %v", c1.Extra)
	}
	if ok, err := tenants.AuthorizeTenant(ctx, c1, "tenant-a"); !ok || err != nil {
		t.Errorf("pod p1: %v %v", ok, err)
	}
	want := map[string]authzv1.ExtraValue{"authentication.kubernetes.io/pod-name": {"p1"}, "authentication.kubernetes.io/node-name": {"n1"}}
	if len(sarExtras) != 1 || !reflect.DeepEqual(sarExtras[0], want) {
		t.Errorf("SubjectAccessReview extra %v, want %v", sarExtras, want)
	}

	// Same name, UID and groups, other Extra: another identity.
	c2, err := authn.Authenticate(ctx, "tok-2")
	if err != nil || c2.Key == c1.Key {
		t.Fatalf("tok-2: %v %v (key equal: %v)", c2, err, c2.Key == c1.Key)
	}
	if ok, err := tenants.AuthorizeTenant(ctx, c2, "tenant-a"); ok || err != nil || len(sarExtras) != 2 {
		t.Errorf("pod p2 shared pod p1's answer: %v %v (%d SARs)", ok, err, len(sarExtras))
	}
	// The same identity built again (another map) is the same key.
	c3 := &authz.Caller{Name: "app-a", Groups: []string{"g"}, Extra: map[string][]string{}}
	c3.Extra["authentication.kubernetes.io/node-name"] = []string{"n1"}
	c3.Extra["authentication.kubernetes.io/pod-name"] = []string{"p1"}
	if ok, err := tenants.AuthorizeTenant(ctx, c3, "tenant-a"); !ok || err != nil || len(sarExtras) != 2 {
		t.Errorf("same identity, new Caller: %v %v (%d SARs, want 2)", ok, err, len(sarExtras))
	}
}

func TestIdentityKeyUnambiguous(t *testing.T) {
	distinct := []*authz.Caller{
		{Name: "a"},
		{Name: "a", UID: "b"},
		{Name: "a\x00b"},
		{Name: "a\x00", UID: "b"},
		{Name: "a", UID: "\x00b"},
		{Name: "a", Groups: []string{"b", "c"}},
		{Name: "a", Groups: []string{"b\x00c"}},
		{Name: "a", Groups: []string{"b"}, Extra: map[string][]string{"c": nil}},
		{Name: "a", Groups: []string{"b"}, Extra: map[string][]string{"c": {""}}},
		{Name: "a", Extra: map[string][]string{"b": {"c"}}},
		{Name: "a", Extra: map[string][]string{"b": {"c", "d"}}},
		{Name: "a", Extra: map[string][]string{"b": {"d", "c"}}},
		{Name: "a", Extra: map[string][]string{"b": {"c"}, "d": nil}},
		{Name: "a", Extra: map[string][]string{"b": {"c", "1:d"}}},
		{Name: "1:a"},
		{Name: "", UID: "1:a"},
	}
	seen := map[string]int{}
	for i, c := range distinct {
		k := identityKey(c)
		if j, ok := seen[k]; ok {
			t.Errorf("identities %d and %d share the key %q", j, i, k)
		}
		seen[k] = i
	}
	// Deterministic whatever the map order.
	c := &authz.Caller{Name: "a", Extra: map[string][]string{}}
	for i := range 20 {
		c.Extra[fmt.Sprint("k", i)] = []string{fmt.Sprint(i)}
	}
	k := identityKey(c)
	for range 20 {
		if identityKey(c) != k {
			t.Fatal("identityKey depends on map order")
		}
	}
	if identityKey(&authz.Caller{Name: "a"}) != identityKey(&authz.Caller{Name: "a", Extra: map[string][]string{}}) {
		t.Error("nil and empty Extra differ")
	}
}

func TestRejectedFloodKeepsAcceptedCallers(t *testing.T) {
	var fail atomic.Bool
	cs, trs, sars := fakeCluster(map[string]string{"good": "app-a"}, map[[2]string]bool{{"app-a", "tenant-a"}: true}, &fail)
	const max = 50
	authn, tenants := New(cs, Options{MaxEntries: max, CircuitThreshold: -1})
	ctx := context.Background()
	c, err := authn.Authenticate(ctx, "good")
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := tenants.AuthorizeTenant(ctx, c, "tenant-a"); !ok || err != nil {
		t.Fatal(ok, err)
	}
	check := func(what string) {
		t.Helper()
		tr, sar := trs.Load(), sars.Load()
		if _, err := authn.Authenticate(ctx, "good"); err != nil {
			t.Errorf("%s: good token: %v", what, err)
		}
		if ok, err := tenants.AuthorizeTenant(ctx, c, "tenant-a"); !ok || err != nil {
			t.Errorf("%s: own tenant: %v %v", what, ok, err)
		}
		if trs.Load() != tr || sars.Load() != sar {
			t.Errorf("%s evicted the accepted caller: %d TokenReviews and %d SARs more", what, trs.Load()-tr, sars.Load()-sar)
		}
	}
	for i := range 20 * max {
		if _, err := authn.Authenticate(ctx, fmt.Sprint("random-", i)); !errors.Is(err, authz.ErrUnauthenticated) {
			t.Fatal(err)
		}
		if ok, err := tenants.AuthorizeTenant(ctx, c, fmt.Sprint("tenant-", i)); ok || err != nil {
			t.Fatal(ok, err)
		}
	}
	check("a flood of rejected tokens and denied tenants")
	fail.Store(true)
	for i := range 20 * max {
		_, _ = authn.Authenticate(ctx, fmt.Sprint("failing-", i))
		_, _ = tenants.AuthorizeTenant(ctx, c, fmt.Sprint("failing-", i))
	}
	check("a flood of failing reviews")
	for _, n := range []int{authn.r.rejected.len(), authn.r.failed.len(), tenants.r.rejected.len(), tenants.r.failed.len()} {
		if n > max {
			t.Errorf("a cache grew to %d entries", n)
		}
	}
}
