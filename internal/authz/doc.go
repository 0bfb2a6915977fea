// Package authz serves the tenants' permission snapshots to applications
// over HTTP(S): an http.Handler over a store.Store.
//
// # APIs
//
// Per tenant, under /tenants/{namespace} (POST JSON unless noted):
//
//	/access/v1/evaluation            AuthZEN 1.0 Access Evaluation
//	/access/v1/evaluations           AuthZEN 1.0 Access Evaluations (defaults, options.evaluations_semantic)
//	/access/v1/search/subject        who can (paged: page.token, page.limit → page.next_token)
//	/access/v1/search/action         what can the subject do on the record
//	/access/v1/search/resource       which of context.candidates the subject may act on
//	GET /.well-known/authzen-configuration   PDP metadata (also at /.well-known/authzen-configuration/tenants/{ns}, the RFC 8615 form)
//	/v1/fields                       readable/writable/hidden fields
//	/v1/plan                         list filter: AST, and a SQL WHERE fragment when "columns" maps properties to columns
//	/v1/approvals/plan               the record's approval steps and eligible approvers
//	/v1/approvals/check              may the subject approve the record now
//
// plus POST /subjectaccessreview, a Kubernetes authorization webhook,
// GET /openapi.json, the OpenAPI 3.1 contract of all of them (openapi.yaml,
// embedded; the tests validate every response they produce against it),
// and, with Options.DefaultTenant, the tenant routes at the root.
//
// An evaluation answers {"decision": bool, "context": {"reason",
// "revision", "fields": {"readable", "writable"}}}; fields appear when the
// decision is true and a FieldPolicy covers the resource type; ?explain=true
// adds the grant that decided (role, group, permission) or why nothing
// matched. A deny is a 200. Every answer carries the Gatehouse-Revision
// header, and X-Request-ID is echoed.
//
// Standard properties (subject.properties groups, unit, company, companies,
// facilities; resource.properties ownerId, assigneeIds, unit, facilityId,
// companyId, projectContacts, approvals) are decoded into snapshot.Subject
// and snapshot.Resource fields; other properties and the context go to
// maps visible to CEL. context.minRevision asks for a snapshot revision:
// revisions are content hashes, so the request waits (Options.MinRevisionWait)
// until the served revision equals it, else 503 with Retry-After.
//
// # Failing closed
//
// Unknown tenant: 404 for discovery, {"decision": false, "context":
// {"reason": "NoSnapshot"}} for evaluation. Malformed JSON, unknown fields,
// duplicate keys, wrong types, missing required parts: 400 with a message
// naming the field (e.g. "subject.id: expected string, got number"). Bodies
// over MaxBodyBytes: 413. Batches over MaxBatch: 400. Callers are
// authenticated (Authenticator: bearer token → Caller; 401) and authorized
// per tenant (TenantAuthorizer; 403) before anything else is looked at, so
// a caller cannot even learn whether another tenant exists. kubeauth
// implements both with TokenReview and SubjectAccessReview; None is the
// development mode.
//
// # Limits
//
// No caller can stall the handler, exhaust its memory or take more than
// its share (README, Limits; flags in BindFlags): bodies are read as they
// arrive from a byte budget (in all and per caller); requests work on a
// few seats (GOMAXPROCS-1) and queue fairly per (caller, tenant) flow
// beyond them, with 429 and Retry-After past a flow's queue or the queue
// wait, and long requests hand their seat on every 100 µs of work; every
// request has a condition budget (snapshot.Budget: cost units, condition
// time, the request's context), refused as a whole with 422 when spent;
// failed authentications are rate-limited per source address; Server
// bounds connections in all and per address.
//
// # Performance
//
// The evaluation path allocates nothing once warm: the request body is read
// into a pooled buffer, decoded by a hand-written scanner (jsonscan) whose
// strings alias that buffer (valid for the duration of the request only),
// checked against the immutable snapshot, and encoded by hand into a pooled
// buffer.
// Only request parts that need maps (custom properties and context, for
// CEL) allocate. See BENCHMARKS.md.
//
// # Mounting
//
// In the manager:
//
//	authn, tenants := kubeauth.New(kubernetes.NewForConfigOrDie(mgr.GetConfig()), kubeauth.Options{})
//	h, err := authz.New(st, authz.Options{Authenticator: authn, TenantAuthorizer: tenants,
//		DecisionLog: trail, DecisionLogSampleRate: 0.01}) // trail: an *audit.Trail
//	srv, err := authz.NewServer(h, authz.ServerOptions{Addr: ":8443", CertFile: certFile, KeyFile: keyFile})
//	err = mgr.Add(srv) // Server is a manager.Runnable that runs on every replica
//
// In `gatehouse serve --authn=none --insecure-http` (development), use
// authz.None{} for both security options and ServerOptions{AllowPlainHTTP:
// true}, then srv.Start(ctx).
package authz
