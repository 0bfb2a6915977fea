package client

import (
	"context"
	"errors"
	"net/http"
)

// ErrNoSubject may be returned by a Middleware's build function when the
// request carries no identity: the middleware answers 401.
var ErrNoSubject = errors.New("gatehouse: no subject")

type decisionKey struct{}

// DecisionFrom returns the decision Middleware put in the request's
// context (nil outside Middleware), e.g. for its Fields.
func DecisionFrom(ctx context.Context) *Decision {
	d, _ := ctx.Value(decisionKey{}).(*Decision)
	return d
}

// MiddlewareOption configures Middleware.
type MiddlewareOption func(*middleware)

type middleware struct {
	deny    http.Handler
	onError func(w http.ResponseWriter, r *http.Request, err error)
	opts    []CallOption
}

// OnDeny serves denied requests (default: 403 with a JSON body naming the
// reason). The decision is in the request's context (DecisionFrom).
func OnDeny(h http.Handler) MiddlewareOption { return func(m *middleware) { m.deny = h } }

// OnError serves requests Gatehouse did not decide (default: 503, fail
// closed) and requests build could not describe (default: 401 for
// ErrNoSubject, else 403). It must not call the protected handler.
func OnError(f func(w http.ResponseWriter, r *http.Request, err error)) MiddlewareOption {
	return func(m *middleware) { m.onError = f }
}

// WithCallOptions adds call options (e.g. WithExplain) to every
// evaluation of the middleware.
func WithCallOptions(opts ...CallOption) MiddlewareOption {
	return func(m *middleware) { m.opts = append(m.opts, opts...) }
}

// Middleware authorizes every request with c: build describes the request
// as an evaluation, and the next handler runs only when Gatehouse allows
// it, with the decision in the request's context (DecisionFrom). A deny
// is answered 403 (or by OnDeny); when Gatehouse gave no decision (an
// error, a timeout, a malformed answer) the request is refused with 503,
// never let through.
func Middleware(c *Client, build func(r *http.Request) (Request, error), opts ...MiddlewareOption) func(http.Handler) http.Handler {
	m := &middleware{}
	for _, o := range opts {
		o(m)
	}
	return func(next http.Handler) http.Handler {
		return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			q, err := build(r)
			if err != nil {
				m.fail(w, r, err, true)
				return
			}
			d, err := c.Evaluate(r.Context(), q, m.opts...)
			if err != nil || d == nil {
				if err == nil {
					err = errors.New("gatehouse: no decision")
				}
				m.fail(w, r, err, false)
				return
			}
			r = r.WithContext(context.WithValue(r.Context(), decisionKey{}, d))
			if !d.Allowed {
				if m.deny != nil {
					m.deny.ServeHTTP(w, r)
					return
				}
				writeJSONError(w, http.StatusForbidden, "forbidden: "+d.Reason)
				return
			}
			next.ServeHTTP(w, r)
		})
	}
}

func (m *middleware) fail(w http.ResponseWriter, r *http.Request, err error, building bool) {
	if m.onError != nil {
		m.onError(w, r, err)
		return
	}
	var ve *ValidationError
	switch {
	case building && errors.Is(err, ErrNoSubject):
		w.Header().Set("WWW-Authenticate", "Bearer")
		writeJSONError(w, http.StatusUnauthorized, "unauthenticated")
	case building || errors.As(err, &ve):
		writeJSONError(w, http.StatusForbidden, "forbidden")
	default:
		w.Header().Set("Retry-After", "1")
		writeJSONError(w, http.StatusServiceUnavailable, "authorization unavailable")
	}
}

// writeJSONError writes {"error": msg}; msg is one of the fixed texts
// above or a decision reason code.
func writeJSONError(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	b, _ := jsonBody(map[string]string{"error": msg})
	w.Write(b)
}
