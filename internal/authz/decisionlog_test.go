package authz

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"
)

func TestDecisionLog(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewJSONHandler(&buf, nil))
	h, _ := newTestHandler(t, Options{
		DecisionLog: logger, DecisionLogSampleRate: 1,
		Authenticator:    StaticTokens{"tok-secret-123": {Name: "app"}},
		TenantAuthorizer: TenantsByCaller{"app": {tenant}},
	})
	do(h, "POST", base+"/access/v1/evaluation",
		`{"subject":{"id":"vic.viewer","properties":{"ssn":"123-45-6789"}},"action":{"name":"view"},"resource":{"type":"assets","id":"a1","properties":{"secret":"hunter2"}},"context":{"apiKey":"k-999"}}`,
		"Authorization", "Bearer tok-secret-123", "X-Request-ID", "r-1")
	line := buf.String()
	var rec map[string]any
	decodeJSON(t, []byte(line), &rec)
	if rec["decision"] != true || rec["subject"] != "vic.viewer" || rec["caller"] != "app" || rec["requestId"] != "r-1" || rec["role"] != "view-only" {
		t.Errorf("record %s", line)
	}
	for _, secret := range []string{"tok-secret-123", "123-45-6789", "hunter2", "k-999"} {
		if strings.Contains(line, secret) {
			t.Errorf("decision log contains %q: %s", secret, line)
		}
	}
	// Sampling: rate 0 logs nothing, a small rate logs some.
	buf.Reset()
	h0, _ := newTestHandler(t, Options{DecisionLog: logger, DecisionLogSampleRate: 0})
	for i := 0; i < 50; i++ {
		do(h0, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"}}`)
	}
	if buf.Len() != 0 {
		t.Errorf("rate 0 logged: %s", buf.String())
	}
	h5, _ := newTestHandler(t, Options{DecisionLog: logger, DecisionLogSampleRate: 0.5})
	for i := 0; i < 400; i++ {
		do(h5, "POST", base+"/access/v1/evaluation", `{"subject":{"id":"vic.viewer"},"action":{"name":"view"},"resource":{"type":"assets"}}`)
	}
	if n := strings.Count(buf.String(), "\n"); n < 100 || n > 300 {
		t.Errorf("rate 0.5 logged %d of 400", n)
	}
}
