// Package kubeauth authenticates and authorizes callers of the
// authorization endpoint with the Kubernetes API: a caller's bearer token is
// verified by a TokenReview, and the caller may query tenant ns only if
// Kubernetes RBAC allows it `get` on permissionsnapshots.access.gatehouse.dev
// in ns (a SubjectAccessReview). Granting an application's ServiceAccount a
// Role with that one rule in its own namespace is all a tenant needs; tenant
// A's application can never read tenant B's decisions.
//
// The SubjectAccessReview asks about the caller's whole identity: name,
// UID, groups and the extra information of its TokenReview (for a bound
// ServiceAccount token, e.g. the pod it was issued for), so an authorizer
// or admission webhook deciding on those sees them. With
// Options.Audiences (--authz-token-audiences), a token is accepted only if
// the TokenReview says it is valid for one of them, so tokens issued for
// other services (e.g. the API server's default audience) are refused.
//
// A TokenReview and a SubjectAccessReview cost an API server round trip
// each while decisions must take microseconds, and anyone can send tokens
// and tenant names; so each half, per kind of review:
//
//   - caches answers: accepted tokens and allowed tenants for PositiveTTL,
//     rejected and denied ones for NegativeTTL, in separate bounded caches
//     so that a flood of random tokens or tenant names can only evict other
//     rejected entries, never an accepted caller;
//   - coalesces identical concurrent reviews (the same token, or the same
//     identity and tenant) into one API call, which runs on its own
//     context bounded by Timeout, so a caller giving up does not cancel it
//     for the others, while each caller stops waiting when its own context
//     ends;
//   - remembers failures (API server errors, timeouts) per key and
//     answers ErrBackoff without calling again for ErrorBackoff, doubling
//     up to MaxErrorBackoff while the key keeps failing, reset by a
//     success;
//   - opens a circuit after CircuitThreshold consecutive failures of any
//     keys: uncached keys then get ErrBackoff at once, and a single probe
//     review per backoff interval decides when to close it, so a failing
//     API server is not hammered by a stream of new keys.
//
// Errors are not ErrUnauthenticated: the caller gets 503 and retries, and
// cached accepted callers keep working while the API server is down.
// Tokens are cached under their SHA-256 digest, never logged, and never
// kept in memory by this package beyond the call.
package kubeauth

import (
	"context"
	"crypto/sha256"
	"maps"
	"slices"
	"strconv"
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
	DefaultPositiveTTL      = 2 * time.Minute
	DefaultNegativeTTL      = 10 * time.Second
	DefaultMaxEntries       = 10_000
	DefaultTimeout          = 5 * time.Second
	DefaultErrorBackoff     = 250 * time.Millisecond
	DefaultMaxErrorBackoff  = 8 * time.Second
	DefaultCircuitThreshold = 10
)

// Options tune the caches and reviews. Zero values mean the defaults.
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
	// MaxEntries bounds each cache (default 10,000 entries): the
	// Authenticator and the TenantAuthorizer each keep accepted,
	// rejected and failed keys in three caches of that size.
	MaxEntries int
	// Audiences, when set, are sent with every TokenReview, and a token
	// must be valid for at least one of them.
	Audiences []string
	// Timeout bounds each review call (default 5 s). The call is shared
	// by all callers asking the same question meanwhile and is not
	// cancelled when they give up.
	Timeout time.Duration
	// ErrorBackoff is how long a key (a token, or a caller and tenant)
	// whose review failed gets ErrBackoff without a new review (default
	// 250 ms). It doubles on each further failure of the key up to
	// MaxErrorBackoff (default 8 s) and is forgotten on success or
	// MaxErrorBackoff after the interval ends. The circuit backs off the
	// same way.
	ErrorBackoff    time.Duration
	MaxErrorBackoff time.Duration
	// CircuitThreshold is how many consecutive reviews (of any keys) must
	// fail for the circuit to open (default 10; negative: never).
	CircuitThreshold int
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
	if o.ErrorBackoff <= 0 {
		o.ErrorBackoff = DefaultErrorBackoff
	}
	if o.MaxErrorBackoff <= 0 {
		o.MaxErrorBackoff = DefaultMaxErrorBackoff
	}
	o.MaxErrorBackoff = max(o.MaxErrorBackoff, o.ErrorBackoff)
	if o.CircuitThreshold == 0 {
		o.CircuitThreshold = DefaultCircuitThreshold
	}
	o.Audiences = slices.Clone(o.Audiences)
}

// Authenticator verifies bearer tokens with TokenReview.
type Authenticator struct {
	client kubernetes.Interface
	opts   Options
	r      *reviewer[[sha256.Size]byte, *authz.Caller]
}

// NewAuthenticator returns an Authenticator using client.
func NewAuthenticator(client kubernetes.Interface, opts Options) *Authenticator {
	opts.defaults()
	return &Authenticator{client: client, opts: opts,
		r: newReviewer[[sha256.Size]byte, *authz.Caller]("TokenReview", opts, func(k [sha256.Size]byte) string { return string(k[:]) })}
}

// Authenticate implements authz.Authenticator. The returned caller is
// shared with other requests of the same token: read-only.
func (a *Authenticator) Authenticate(ctx context.Context, token string) (*authz.Caller, error) {
	if token == "" {
		return nil, authz.ErrUnauthenticated
	}
	c, ok, err := a.r.get(ctx, sha256.Sum256([]byte(token)), func(ctx context.Context) (*authz.Caller, bool, error) {
		return a.review(ctx, token)
	})
	switch {
	case err != nil:
		return nil, err
	case !ok:
		return nil, authz.ErrUnauthenticated
	}
	return c, nil
}

// review asks the API server about token: (caller, true) if accepted.
func (a *Authenticator) review(ctx context.Context, token string) (*authz.Caller, bool, error) {
	tr, err := a.client.AuthenticationV1().TokenReviews().Create(ctx, &authnv1.TokenReview{
		Spec: authnv1.TokenReviewSpec{Token: token, Audiences: a.opts.Audiences},
	}, metav1.CreateOptions{})
	if err != nil {
		return nil, false, err
	}
	st := tr.Status
	if !st.Authenticated || st.User.Username == "" || (len(a.opts.Audiences) > 0 && !intersects(st.Audiences, a.opts.Audiences)) {
		return nil, false, nil
	}
	c := &authz.Caller{Name: st.User.Username, UID: st.User.UID, Groups: slices.Clone(st.User.Groups)}
	if len(st.User.Extra) > 0 {
		c.Extra = make(map[string][]string, len(st.User.Extra))
		for k, v := range st.User.Extra {
			c.Extra[k] = slices.Clone([]string(v))
		}
	}
	c.Key = identityKey(c)
	return c, true, nil
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
// name but different UIDs, groups or extra never share an authorization
// cache entry. Every string is length-prefixed and every list counted, so
// no two identities share a key; extra keys are sorted (the values keep
// their order, which another authorizer may care about).
func identityKey(c *authz.Caller) string {
	var b []byte
	str := func(s string) {
		b = strconv.AppendInt(b, int64(len(s)), 10)
		b = append(b, ':')
		b = append(b, s...)
	}
	count := func(n int) {
		b = strconv.AppendInt(b, int64(n), 10)
		b = append(b, '#')
	}
	str(c.Name)
	str(c.UID)
	count(len(c.Groups))
	for _, g := range c.Groups {
		str(g)
	}
	count(len(c.Extra))
	for _, k := range slices.Sorted(maps.Keys(c.Extra)) {
		str(k)
		count(len(c.Extra[k]))
		for _, v := range c.Extra[k] {
			str(v)
		}
	}
	return string(b)
}

// TenantAuthorizer checks with SubjectAccessReview that a caller may `get`
// permissionsnapshots in the tenant's namespace.
type TenantAuthorizer struct {
	client kubernetes.Interface
	opts   Options
	r      *reviewer[tenantKey, struct{}]
}

type tenantKey struct{ caller, tenant string }

// NewTenantAuthorizer returns a TenantAuthorizer using client.
func NewTenantAuthorizer(client kubernetes.Interface, opts Options) *TenantAuthorizer {
	opts.defaults()
	return &TenantAuthorizer{client: client, opts: opts,
		r: newReviewer[tenantKey, struct{}]("SubjectAccessReview", opts, func(k tenantKey) string {
			return strconv.Itoa(len(k.caller)) + ":" + k.caller + k.tenant
		})}
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
	_, ok, err := t.r.get(ctx, tenantKey{key, tenant}, func(ctx context.Context) (struct{}, bool, error) {
		ok, err := t.review(ctx, c, tenant)
		return struct{}{}, ok, err
	})
	return ok, err
}

// review asks the API server whether c may query tenant.
func (t *TenantAuthorizer) review(ctx context.Context, c *authz.Caller, tenant string) (bool, error) {
	var extra map[string]authzv1.ExtraValue
	if len(c.Extra) > 0 {
		extra = make(map[string]authzv1.ExtraValue, len(c.Extra))
		for k, v := range c.Extra {
			extra[k] = slices.Clone(v)
		}
	}
	sar, err := t.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, &authzv1.SubjectAccessReview{
		Spec: authzv1.SubjectAccessReviewSpec{
			User:   c.Name,
			UID:    c.UID,
			Groups: slices.Clone(c.Groups),
			Extra:  extra,
			ResourceAttributes: &authzv1.ResourceAttributes{
				Namespace: tenant, Verb: Verb, Group: Group, Resource: Resource,
			},
		},
	}, metav1.CreateOptions{})
	if err != nil {
		return false, err
	}
	return sar.Status.Allowed && !sar.Status.Denied, nil
}
