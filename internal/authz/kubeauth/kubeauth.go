// Package kubeauth authenticates and authorizes callers of the
// authorization endpoint with the Kubernetes API: a caller's bearer token is
// verified by a TokenReview, and the caller may query tenant ns only if
// Kubernetes RBAC allows it `get` on permissionsnapshots.access.gatehouse.dev
// in ns (a SubjectAccessReview). Granting an application's ServiceAccount a
// Role with that one rule in its own namespace is all a tenant needs; tenant
// A's application can never read tenant B's decisions.
//
// Both answers are cached (positive and negative, with their own TTLs, in
// bounded caches) because a TokenReview and a SubjectAccessReview cost an
// API server round trip each, while decisions must take microseconds.
// Tokens are cached under their SHA-256 digest, never logged, and never
// kept in memory by this package beyond the call.
package kubeauth

import (
	"context"
	"crypto/sha256"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	authzv1 "k8s.io/api/authorization/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/gatehouse-dev/gatehouse/internal/authz"
)

// The permission that lets a caller query a tenant.
const (
	Group    = "access.gatehouse.dev"
	Resource = "permissionsnapshots"
	Verb     = "get"
)

// Defaults of Options.
const (
	DefaultPositiveTTL = 2 * time.Minute
	DefaultNegativeTTL = 10 * time.Second
	DefaultMaxEntries  = 10_000
	DefaultTimeout     = 5 * time.Second
)

// Options tune the caches and reviews.
type Options struct {
	// PositiveTTL is how long an accepted token or an allowed tenant is
	// remembered (default 2 min). It bounds how long a revoked token or
	// removed RoleBinding keeps working.
	PositiveTTL time.Duration
	// NegativeTTL is how long a rejected token or a denied tenant is
	// remembered (default 10 s): short, so a freshly created RoleBinding
	// takes effect quickly, but long enough to absorb a client retrying
	// with a bad token.
	NegativeTTL time.Duration
	// MaxEntries bounds each cache (default 10,000 entries).
	MaxEntries int
	// Audiences, when set, are sent with every TokenReview, and a token
	// must be valid for at least one of them.
	Audiences []string
	// Timeout bounds each review call (default 5 s).
	Timeout time.Duration
}

func (o *Options) defaults() {
	if o.PositiveTTL <= 0 {
		o.PositiveTTL = DefaultPositiveTTL
	}
	if o.NegativeTTL <= 0 {
		o.NegativeTTL = DefaultNegativeTTL
	}
	if o.MaxEntries <= 0 {
		o.MaxEntries = DefaultMaxEntries
	}
	if o.Timeout <= 0 {
		o.Timeout = DefaultTimeout
	}
}

// Authenticator verifies bearer tokens with TokenReview.
type Authenticator struct {
	client kubernetes.Interface
	opts   Options
	cache  *ttlCache[[sha256.Size]byte, *authz.Caller] // nil value: rejected
}

// NewAuthenticator returns an Authenticator using client.
func NewAuthenticator(client kubernetes.Interface, opts Options) *Authenticator {
	opts.defaults()
	return &Authenticator{client: client, opts: opts, cache: newTTLCache[[sha256.Size]byte, *authz.Caller](opts.MaxEntries)}
}

// Authenticate implements authz.Authenticator.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*authz.Caller, error) {
	if token == "" {
		return nil, authz.ErrUnauthenticated
	}
	key := sha256.Sum256([]byte(token))
	if c, ok := a.cache.get(key); ok {
		if c == nil {
			return nil, authz.ErrUnauthenticated
		}
		return c, nil
	}
	ctx, cancel := context.WithTimeout(ctx, a.opts.Timeout)
	defer cancel()
	tr, err := a.client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: a.opts.Audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		// The error text comes from the API server and never contains
		// the token.
		return nil, fmt.Errorf("kubeauth: TokenReview: %w", err)
	}
	st := tr.Status
	if !st.Authenticated || st.User.Username == "" || (len(a.opts.Audiences) > 0 && !intersects(st.Audiences, a.opts.Audiences)) {
		a.cache.put(key, nil, a.opts.NegativeTTL)
		return nil, authz.ErrUnauthenticated
	}
	c := &authz.Caller{Name: st.User.Username, UID: st.User.UID, Groups: slices.Clone(st.User.Groups)}
	c.Key = identityKey(c)
	a.cache.put(key, c, a.opts.PositiveTTL)
	return c, nil
}

func intersects(a, b []string) bool {
	for _, x := range a {
		if slices.Contains(b, x) {
			return true
		}
	}
	return false
}

// identityKey encodes the whole identity, so that two callers with the same
// name but different groups never share an authorization cache entry.
func identityKey(c *authz.Caller) string {
	var b strings.Builder
	b.WriteString(c.Name)
	b.WriteByte(0)
	b.WriteString(c.UID)
	for _, g := range c.Groups {
		b.WriteByte(0)
		b.WriteString(g)
	}
	return b.String()
}

// TenantAuthorizer checks with SubjectAccessReview that a caller may `get`
// permissionsnapshots in the tenant's namespace.
type TenantAuthorizer struct {
	client kubernetes.Interface
	opts   Options
	cache  *ttlCache[tenantKey, bool]
}

type tenantKey struct{ caller, tenant string }

// NewTenantAuthorizer returns a TenantAuthorizer using client.
func NewTenantAuthorizer(client kubernetes.Interface, opts Options) *TenantAuthorizer {
	opts.defaults()
	return &TenantAuthorizer{client: client, opts: opts, cache: newTTLCache[tenantKey, bool](opts.MaxEntries)}
}

// New returns both halves sharing one client and options.
func New(client kubernetes.Interface, opts Options) (*Authenticator, *TenantAuthorizer) {
	return NewAuthenticator(client, opts), NewTenantAuthorizer(client, opts)
}

// AuthorizeTenant implements authz.TenantAuthorizer.
func (t *TenantAuthorizer) AuthorizeTenant(ctx context.Context, c *authz.Caller, tenant string) (bool, error) {
	if c == nil || tenant == "" {
		return false, nil
	}
	key := c.Key
	if key == "" {
		key = identityKey(c)
	}
	k := tenantKey{key, tenant}
	if ok, hit := t.cache.get(k); hit {
		return ok, nil
	}
	ctx, cancel := context.WithTimeout(ctx, t.opts.Timeout)
	defer cancel()
	sar, err := t.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{
			User:   c.Name,
			UID:    c.UID,
			Groups: c.Groups,
			ResourceAttributes: &authzv1.ResourceAttributes{
				Namespace: tenant, Verb: Verb, Group: Group, Resource: Resource,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, fmt.Errorf("kubeauth: SubjectAccessReview: %w", err)
	}
	allowed := sar.Status.Allowed && !sar.Status.Denied
	ttl := t.opts.NegativeTTL
	if allowed {
		ttl = t.opts.PositiveTTL
	}
	t.cache.put(k, allowed, ttl)
	return allowed, nil
}

// ttlCache is a bounded map with per-entry expiry. When full, expired
// entries are swept first; if none expired, a tenth of the entries are
// dropped at random (map iteration order), which keeps the cost O(1)
// amortized without the bookkeeping of an LRU.
type ttlCache[K comparable, V any] struct {
	mu  sync.Mutex
	m   map[K]ttlEntry[V]
	max int
	now func() time.Time
}

type ttlEntry[V any] struct {
	v   V
	exp time.Time
}

func newTTLCache[K comparable, V any](max int) *ttlCache[K, V] {
	return &ttlCache[K, V]{m: make(map[K]ttlEntry[V]), max: max, now: time.Now}
}

func (c *ttlCache[K, V]) get(k K) (V, bool) {
	c.mu.Lock()
	e, ok := c.m[k]
	c.mu.Unlock()
	if !ok || !c.now().Before(e.exp) {
		var zero V
		return zero, false
	}
	return e.v, true
}

func (c *ttlCache[K, V]) put(k K, v V, ttl time.Duration) {
	now := c.now()
	c.mu.Lock()
	defer c.mu.Unlock()
	if _, ok := c.m[k]; !ok && len(c.m) >= c.max {
		for key, e := range c.m {
			if !now.Before(e.exp) {
				delete(c.m, key)
			}
		}
		if len(c.m) >= c.max {
			drop := max(1, c.max/10)
			for key := range c.m {
				delete(c.m, key)
				if drop--; drop == 0 {
					break
				}
			}
		}
	}
	c.m[k] = ttlEntry[V]{v: v, exp: now.Add(ttl)}
}

func (c *ttlCache[K, V]) len() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.m)
}
