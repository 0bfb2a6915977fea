package authz

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
)

func TestDecisionLog(t *testing.T) {
	var buf bytes.Buffer
	trail := audit.NewTrail(audit.Options{}, audit.NewLines(&buf))
	h, _ := newTestHandler(t, Options{
		DecisionLog: trail, DecisionLogSampleRate: 1,
		Authenticator:    StaticTokens{"tok-secret-123": {Name: "app"}},
		TenantAuthorizer: TenantsByCaller{"app": {tenant}},
	})
	do(h, "POST", base+"/access/v1/evaluation",
		`{"subject":{"id":"vic.viewer","properties":{"ssn":"123-45-6789"}},"action":{"name":"view"},"resource":{"type":"assets","id":"a1","properties":{"secret":"hunter2"}},"context":{"apiKey":"k-999"}}`,
		"Authorization", "Bearer tok-secret-123", "X-Request-ID", "r-1")
	line := buf.String()
	var rec audit.Record
	decodeJSON(t, []byte(line), &rec)
	d := rec.Decision
	if rec.Type != audit.RecordType || rec.Event != audit.EventDecision || rec.Tenant != tenant || d == nil {
		t.Fatalf("record %s", line)
	}
	if !d.Allowed || d.Subject != "vic.viewer" || d.Caller != "app" || d.RequestID != "r-1" || d.Role != "view-only" ||
		d.Endpoint != "evaluation" || d.Revision == "" || d.Action != "view" || d.ResourceType != "assets" || d.LatencyMicros < 0 {
		t.Errorf("record %s", line)
	}
	for _, secret := range []string{"tok-secret-123", "123-45-6789", "hunter2", "k-999"} {
		if strings.Contains(line, secret) {
			t.Errorf("decision log contains %q: %s", secret, line)
		}
	}
	// A hostile request id is cut, not copied whole.
	buf.Reset()
	do(h, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"}}`,
		"Authorization", "Bearer tok-secret-123", "X-Request-ID", strings.Repeat("x", 4000))
	decodeJSON(t, buf.Bytes(), &rec)
	if n := len(rec.Decision.RequestID); n != maxRequestID {
		t.Errorf("request id of %d bytes kept, want %d", n, maxRequestID)
	}

	// Sampling: rate 0 logs nothing, a small rate logs some.
	buf.Reset()
	h0, _ := newTestHandler(t, Options{DecisionLog: trail, DecisionLogSampleRate: 0})
	for i := 0; i < 50; i++ {
		do(h0, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"}}`)
	}
	if buf.Len() != 0 {
		t.Errorf("rate 0 logged: %s", buf.String())
	}
	h5, _ := newTestHandler(t, Options{DecisionLog: trail, DecisionLogSampleRate: 0.5})
	for i := 0; i < 400; i++ {
		do(h5, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"}}`)
	}
	if n := strings.Count(buf.String(), "\n"); n < 100 || n > 300 {
		t.Errorf("rate 0.5 logged %d of 400", n)
	}
}

// failingSink refuses every record: a decision is answered all the same.
type failingSink struct{}

func (failingSink) Note(context.Context, audit.Record) error { return context.DeadlineExceeded }

func TestDecisionLogFailingSinkStillAnswers(t *testing.T) {
	h, _ := newTestHandler(t, Options{DecisionLog: failingSink{}, DecisionLogSampleRate: 1})
	w := do(h, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"}}`)
	if w.Code != 200 || !strings.Contains(w.Body.String(), `"decision":true`) {
		t.Errorf("answer with a failing decision sink: %d %s", w.Code, w.Body.String())
	}
}
