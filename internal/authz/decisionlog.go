package authz

import (
	"context"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"strings"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/snapshot"
)

// decisionLog writes sampled, structured decision records. A record names
// who asked (caller), about whom (subject id), what (action, resource type
// and id), the decision, its reason and the revision that decided it. It
// never contains tokens, property values or context values: those may be
// personal data or secrets an application put in a request.
type decisionLog struct {
	l    *slog.Logger
	rate float64
}

func newDecisionLog(l *slog.Logger, rate float64) *decisionLog {
	if rate > 1 {
		rate = 1
	}
	if l == nil || rate <= 0 {
		return nil
	}
	return &decisionLog{l: l, rate: rate}
}

// sampled draws whether to log one decision. Sampling is random rather
// than every-Nth so that periodic client patterns cannot hide from it.
func (d *decisionLog) sampled() bool {
	return d != nil && (d.rate >= 1 || rand.Float64() < d.rate)
}

func (d *decisionLog) decision(r *http.Request, tenant string, c *Caller, q *snapshot.Request, dec *snapshot.Decision, rev string, start time.Time) {
	if !d.sampled() {
		return
	}
	// Request strings alias the pooled request buffer (see view); copy
	// them, since a slog handler may keep records after this returns.
	attrs := []slog.Attr{
		slog.String("tenant", tenant),
		slog.String("caller", c.Name),
		slog.String("subject", strings.Clone(q.Subject.ID)),
		slog.String("action", strings.Clone(q.Action)),
		slog.String("resourceType", strings.Clone(q.Resource.Type)),
		slog.String("resourceId", strings.Clone(q.Resource.ID)),
		slog.Bool("decision", dec.Allowed),
		slog.String("reason", dec.Reason),
		slog.String("revision", rev),
		slog.Duration("elapsed", time.Since(start)),
	}
	if dec.Matched != nil {
		attrs = append(attrs, slog.String("role", dec.Matched.Role), slog.String("group", dec.Matched.Group))
	}
	if id := r.Header.Get("X-Request-ID"); id != "" {
		attrs = append(attrs, slog.String("requestId", id))
	}
	d.l.LogAttrs(context.Background(), slog.LevelInfo, "decision", attrs...)
}
