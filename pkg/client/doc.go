// Package client is a Go client of Gatehouse's authorization endpoint
// (the AuthZEN 1.0 evaluation, evaluations and search APIs, and
// Gatehouse's fields, plan and approval APIs). It depends on the standard
// library only.
//
//	c, err := client.New("https://gatehouse.gatehouse-system:8443",
//		client.WithTenant("acme-field-services"),
//		client.WithTokenFile("/var/run/secrets/gatehouse/token"))
//	d, err := c.Evaluate(ctx, client.Request{
//		Subject:  client.Subject{ID: "tom.tech"},
//		Action:   client.Action{Name: "edit"},
//		Resource: client.Resource{Type: "workorders", ID: "42", Properties: map[string]any{"unit": "/ca/ab/calgary"}},
//	})
//	if err != nil { /* no decision: fail closed */ }
//	if d.Allowed { ... }
//
// # Failing closed
//
// Every method that returns a decision (Evaluate, Evaluations,
// ApprovalCheck) returns a non-nil error and no decision whenever the
// server did not answer one: a transport error, a status other than 200,
// a body that is not the expected JSON or lacks the decision. An error is
// never turned into a decision, allow or deny: callers must treat any
// error as "not allowed". Middleware answers 503 then.
//
// # Tenants
//
// WithTenant selects a tenant: requests go to /tenants/{tenant}/... .
// Without it the client calls the root paths, which a server started with
// a default tenant (authz.Options.DefaultTenant, gatehouse serve) answers
// for that tenant. ForTenant derives a client for another tenant sharing
// the configuration and connections.
//
// # Credentials
//
// WithToken sends a fixed bearer token. WithTokenFile reads the token from
// a file, as a projected ServiceAccount token is mounted, and reads it
// again when the file's modification time or size changes (checked on
// every request, and at least every 30 s regardless); a 401 answer makes
// the client read the file once more and retry once if the token changed.
//
// # Read your writes
//
// Snapshot revisions are content hashes: the server answers a request
// carrying context.minRevision only from exactly that revision, waiting a
// bounded time for it, else 503 with Retry-After. WithMinRevision(rev)
// sends it for one call (take rev from the PermissionSnapshot status after
// a policy write); it is retried like any 503 and never dropped.
// WithRevisionTracking makes the client remember the revision of the last
// answer (the Gatehouse-Revision header) and send it on every call, so
// that a caller never sees an older snapshot after a newer one while the
// replicas behind a Service converge. Since a remembered revision can be
// superseded by a newer one (and the server would then wait for a
// revision it no longer serves), a tracked revision answered by a 503
// is replaced by the revision the server reports and the call retried.
//
// # Retries
//
// 429 and 503 answers are retried with exponential backoff and full
// jitter, waiting at least the server's Retry-After (seconds or an HTTP
// date), at most RetryPolicy.MaxAttempts attempts within
// RetryPolicy.MaxElapsed, and never past the context's deadline. No other
// status is retried (400, 403, 404, 413, 422 are final), and neither are
// transport errors.
package client
