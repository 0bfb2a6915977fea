package authz

import (
	"context"
	"errors"
)

// Caller is the authenticated identity of whoever calls the API (an
// application, a gateway, the Kubernetes API server), as opposed to the
// subject of an authorization question.
type Caller struct {
	// Name is the user name, e.g. system:serviceaccount:shop:frontend.
	Name string
	// UID is the user's UID when the authenticator knows it.
	UID string
	// Groups are the caller's groups, e.g. system:serviceaccounts:shop.
	Groups []string
	// Extra is the authenticator's additional information about the
	// caller (Kubernetes UserInfo.Extra, e.g. the pod name and node of a
	// bound ServiceAccount token), or nil. Authorizers that ask another
	// authority about the caller pass it on, since that authority may
	// decide on it. Callers are shared between requests: read-only.
	Extra map[string][]string
	// Key identifies the caller's whole identity (name, UID, groups and
	// extra) for caches; authenticators fill it once per identity so
	// authorizers can key caches on it without building strings per
	// request.
	Key string
}

// Authenticator turns a bearer token into a caller. token is "" when the
// request had no bearer token. Implementations return an error wrapping
// ErrUnauthenticated for missing or invalid credentials, and any other
// error when they could not decide (the request then gets 503, not 401).
// Implementations must never log tokens.
type Authenticator interface {
	Authenticate(ctx context.Context, token string) (*Caller, error)
}

// TenantAuthorizer decides whether a caller may query a tenant (namespace).
// An error means it could not decide; the request is then refused with 503.
type TenantAuthorizer interface {
	AuthorizeTenant(ctx context.Context, caller *Caller, tenant string) (bool, error)
}

// ErrUnauthenticated is returned (wrapped) by Authenticators for missing or
// invalid credentials.
var ErrUnauthenticated = errors.New("authz: missing or invalid credentials")

// None is the development security mode (`--authn=none`): every request is
// accepted as the anonymous caller and may query every tenant. Never use it
// where the port is reachable by anything but the developer.
type None struct{}

var anonymous = &Caller{Name: "system:anonymous", Groups: []string{"system:unauthenticated"}, Key: "system:anonymous"}

// Authenticate returns the anonymous caller, whatever the token.
func (None) Authenticate(context.Context, string) (*Caller, error) { return anonymous, nil }

// AuthorizeTenant allows every tenant.
func (None) AuthorizeTenant(context.Context, *Caller, string) (bool, error) { return true, nil }

// StaticTokens authenticates callers by a fixed token table, for tests and
// simple static setups. (A map lookup is not constant-time; production
// installations use kubeauth.)
type StaticTokens map[string]*Caller

// Authenticate looks the token up.
func (s StaticTokens) Authenticate(_ context.Context, token string) (*Caller, error) {
	if token == "" {
		return nil, ErrUnauthenticated
	}
	if c, ok := s[token]; ok {
		return c, nil
	}
	return nil, ErrUnauthenticated
}

// TenantsByCaller authorizes callers (by Caller.Name) for fixed tenant
// lists, for tests and static setups.
type TenantsByCaller map[string][]string

// AuthorizeTenant reports whether tenant is in the caller's list.
func (t TenantsByCaller) AuthorizeTenant(_ context.Context, c *Caller, tenant string) (bool, error) {
	for _, x := range t[c.Name] {
		if x == tenant {
			return true, nil
		}
	}
	return false, nil
}
