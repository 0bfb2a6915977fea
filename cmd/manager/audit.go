package main

import (
	"context"
	"errors"
	"flag"
	"log/slog"
	"os"
	"time"

	"github.com/gatehouse-dev/gatehouse/internal/audit"
	"github.com/gatehouse-dev/gatehouse/internal/metrics"
	"github.com/gatehouse-dev/gatehouse/webhook"
)

// auditOptions are the flags of the audit trail: where records go and
// whether a change may be served before its record is delivered.
type auditOptions struct {
	log           string
	httpURL       string
	httpTokenFile string
	httpSpoolDir  string
	required      bool
	timeout       time.Duration
	argoCDNS      string
}

func (o *auditOptions) bindFlags(fs *flag.FlagSet) {
	fs.StringVar(&o.log, "audit-log", "-", "File the audit trail (one JSON line per record: served changes, admissions, sampled decisions) is appended to; - is standard output.")
	fs.StringVar(&o.httpURL, "audit-http-url", "", "Also send the audit trail as CloudEvents batches (application/cloudevents-batch+json) to this http(s) URL: batched, retried with backoff, bounded buffer.")
	fs.StringVar(&o.httpTokenFile, "audit-http-token-file", "", "Bearer token file for --audit-http-url, re-read on every request (e.g. a projected ServiceAccount token).")
	fs.StringVar(&o.httpSpoolDir, "audit-http-spool-dir", "", "Journal every record for --audit-http-url in this directory until it is delivered, so records survive restarts, crashes and kills (the next start sends them first). One directory per replica; it is locked.")
	fs.BoolVar(&o.required, "audit-required", false, "Fail closed: serve a compiled change, and admit a change in the webhook, only once its audit record is delivered to every sink; otherwise the last good snapshot keeps serving (counted in gatehouse_audit_withheld_compiles_total).")
	fs.DurationVar(&o.timeout, "audit-delivery-timeout", audit.DefaultDeliveryTimeout, "With --audit-required: the longest a compile waits for its record's delivery (admission waits at most 2s).")
	fs.StringVar(&o.argoCDNS, "argocd-namespace", webhook.DefaultArgoCDNamespace, "Argo CD's namespace: where the Applications named by tracking annotations live, read for the synced revision in admission records.")
}

// trail opens the sinks; close delivers what is queued, within a bound.
func (o *auditOptions) trail(replica string) (trail *audit.Trail, closeTrail func(), err error) {
	if o.timeout <= 0 {
		return nil, nil, errors.New("--audit-delivery-timeout: must be positive")
	}
	lines, err := audit.OpenFile(o.log)
	if err != nil {
		return nil, nil, err
	}
	sinks := []audit.Sink{lines}
	if o.httpURL != "" {
		httpSink, err := audit.NewHTTPSink(audit.HTTPOptions{URL: o.httpURL, Source: "/gatehouse/" + replica,
			BearerTokenFile: o.httpTokenFile, SpoolDir: o.httpSpoolDir, Counters: metrics.AuditCounters{}, Logger: slog.New(slog.NewJSONHandler(os.Stderr, nil)).With("logger", "audit-http")})
		if err != nil {
			_ = lines.Close(context.Background())
			return nil, nil, err
		}
		sinks = append(sinks, httpSink)
	} else if o.httpTokenFile != "" || o.httpSpoolDir != "" {
		_ = lines.Close(context.Background())
		return nil, nil, errors.New("--audit-http-token-file and --audit-http-spool-dir: need --audit-http-url")
	}
	trail = audit.NewTrail(audit.Options{Required: o.required, DeliveryTimeout: o.timeout, Counters: metrics.AuditCounters{}}, sinks...)
	return trail, func() {
		// On shutdown, queued records get a bounded time to be delivered
		// (within the pod's termination grace period).
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := trail.Close(ctx); err != nil {
			slog.Error("audit trail closed with records undelivered", "error", err.Error())
		}
	}, nil
}
