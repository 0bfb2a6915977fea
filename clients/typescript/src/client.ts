import { GatehouseError, splitServerMessage, shortQuote, validationError } from "./errors.js";
import type {
  ActionResult,
  ApprovalsCheckRequest,
  ApprovalsCheckResponse,
  ApprovalsPlanRequest,
  ApprovalsPlanResponse,
  CandidateResource,
  Decision,
  DiscoveryResponse,
  EvaluationItem,
  EvaluationRequest,
  EvaluationResponse,
  EvaluationsRequest,
  EvaluationsResponse,
  FieldsRequest,
  FieldsResponse,
  PlanRequest,
  PlanResponse,
  ResourceResult,
  SearchActionRequest,
  SearchResourceRequest,
  SearchResponse,
  SearchSubjectRequest,
  SubjectResult,
} from "./types.js";
import { defaultLimits, tenantProblem, validateRequest, type EndpointName, type Limits } from "./validate.js";

/**
 * A bearer token, or a function returning one, called before every attempt
 * (e.g. re-reading a projected ServiceAccount token file, which the
 * kubelet rotates). After a 401 a function source is called once more and
 * the request retried once.
 */
export type TokenSource = string | (() => string | Promise<string>);

export interface GatehouseClientOptions {
  /** The server, e.g. "https://gatehouse.gatehouse-system:8443" (no tenant path). */
  baseUrl: string;
  /**
   * The tenant (Kubernetes namespace): requests go to /tenants/{tenant}/...
   * Leave it out to use the server's default tenant at the root.
   */
  tenant?: string;
  /** Bearer token or token source; leave out for a server run with --authn=none. */
  token?: TokenSource;
  /** fetch implementation (default globalThis.fetch). */
  fetch?: typeof globalThis.fetch;
  /** Retries after 429, 503 or a network error (default 3; 0 disables). */
  retries?: number;
  /** First backoff delay; doubles on every retry, with jitter (default 100 ms). */
  retryBaseDelayMs?: number;
  /**
   * Longest wait before a retry (default 5,000 ms). A Retry-After longer
   * than this is not waited for: the error is thrown at once.
   */
  retryMaxDelayMs?: number;
  /** Timeout of one attempt (default 10,000 ms). */
  timeoutMs?: number;
  /** The server's limits, if it runs with other than the defaults. */
  limits?: Partial<Limits>;
  /** Extra headers sent with every request. */
  headers?: Record<string, string>;
  /**
   * Revision tracking (monotonic reads): send the latest revision seen
   * (lastRevision) as context.minRevision on every call without one, so
   * that the client never gets an answer from an older snapshot after a
   * newer one while replicas converge. When the server no longer serves
   * the tracked revision (a 503 for context.minRevision naming another
   * revision), the client adopts the server's revision and retries at once
   * (at most twice per call). Default false.
   */
  trackRevisions?: boolean;
}

export interface CallOptions {
  /**
   * Read-your-writes: the snapshot revision the answer must come from
   * (e.g. a PermissionSnapshot's status.revision after a policy change).
   * Sent as context.minRevision; the server waits briefly for it, else 503
   * (retried like any 503).
   */
  minRevision?: string;
  /** Cancels the call (all attempts and backoff waits). */
  signal?: AbortSignal;
  /** Sent as X-Request-ID (echoed by the server and in its decision log). */
  requestId?: string;
  /** Overrides the client's retries for this call. */
  retries?: number;
}

export interface EvaluationOptions extends CallOptions {
  /** ?explain=true: the grant that decided, or why none matched. */
  explain?: boolean;
}

export interface PagingOptions extends CallOptions {
  /** Upper bound of pages fetched (default 100); more is an error, never a silent truncation. */
  maxPages?: number;
  /** page.limit of every page (server default 100, max 1,000). */
  pageLimit?: number;
}

type Method = EndpointName | "discovery";

const paths: Record<Method, string> = {
  evaluation: "access/v1/evaluation",
  evaluations: "access/v1/evaluations",
  searchSubject: "access/v1/search/subject",
  searchAction: "access/v1/search/action",
  searchResource: "access/v1/search/resource",
  fields: "v1/fields",
  plan: "v1/plan",
  approvalsPlan: "v1/approvals/plan",
  approvalsCheck: "v1/approvals/check",
  discovery: ".well-known/authzen-configuration",
};

interface Sent<T> {
  data: T;
  revision: string;
}

interface InternalOptions extends CallOptions {
  query?: string;
  /** The body's context.minRevision is the tracked revision (replaceable on 503). */
  tracked?: boolean;
  /** false: a 503 for context.minRevision is not retried (pinned chunks). */
  retryMinRevision?: boolean;
}

const RETRYABLE = new Set([429, 503]);

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function badResponse(what: string, revision?: string): GatehouseError {
  return new GatehouseError({ kind: "response", reason: `unexpected answer: ${what}`, ...(revision ? { revision } : {}) });
}

function isStringArray(v: unknown): v is string[] {
  return Array.isArray(v) && v.every((x) => typeof x === "string");
}

/** Checks one decision object; anything but the documented shape is an error, never an allow. */
function checkDecision(v: unknown, where: string): Decision {
  if (!isObject(v) || typeof v.decision !== "boolean" || !isObject(v.context) || typeof v.context.reason !== "string") {
    throw badResponse(`${where} is not a decision`);
  }
  const f = v.context.fields;
  if (f !== undefined && (!isObject(f) || !isStringArray(f.readable) || !isStringArray(f.writable))) {
    throw badResponse(`${where}.context.fields is malformed`);
  }
  return v as unknown as Decision;
}

function checkSearch<T>(v: unknown, item: (x: unknown) => boolean): SearchResponse<T> {
  if (!isObject(v) || !Array.isArray(v.results) || !v.results.every(item) || !isObject(v.page) || typeof v.page.next_token !== "string") {
    throw badResponse("not a search result");
  }
  return v as unknown as SearchResponse<T>;
}

/** Parses Retry-After (delta-seconds or an HTTP date) into milliseconds. */
export function parseRetryAfter(h: string | null, now = Date.now()): number | undefined {
  if (h === null) return undefined;
  const s = h.trim();
  if (/^\d+$/.test(s)) return Number(s) * 1000;
  const t = Date.parse(s);
  if (Number.isNaN(t)) return undefined;
  return Math.max(0, t - now);
}

function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * A client of one Gatehouse tenant. Every method either returns the
 * server's answer (checked against its documented shape) or throws a
 * GatehouseError: an error is never a decision, so callers deny on catch.
 */
export class GatehouseClient {
  readonly #base: string;
  readonly #fetch: typeof globalThis.fetch;
  readonly #token: TokenSource | undefined;
  readonly #retries: number;
  readonly #baseDelay: number;
  readonly #maxDelay: number;
  readonly #timeout: number;
  readonly #headers: Record<string, string>;
  readonly limits: Readonly<Limits>;
  readonly #track: boolean;
  readonly #maxBatchSet: boolean;
  #learnedMaxBatch: number | undefined;
  #lastRevision: string | undefined;
  #required: string | undefined;

  constructor(opts: GatehouseClientOptions) {
    if (!opts || typeof opts.baseUrl !== "string" || !/^https?:\/\//.test(opts.baseUrl)) {
      throw validationError("baseUrl", "must be an http(s) URL");
    }
    let base = opts.baseUrl.replace(/\/+$/, "");
    if (opts.tenant !== undefined) {
      const why = tenantProblem(opts.tenant);
      if (why) throw validationError("tenant", `${why}: ${shortQuote(String(opts.tenant))}`);
      base += `/tenants/${opts.tenant}`;
    }
    this.#base = base;
    const f = opts.fetch ?? globalThis.fetch;
    if (typeof f !== "function") throw validationError("fetch", "no fetch implementation (Node 18+ or pass one)");
    this.#fetch = f;
    if (opts.token !== undefined && typeof opts.token !== "string" && typeof opts.token !== "function") {
      throw validationError("token", "must be a string or a function");
    }
    this.#token = opts.token;
    this.#retries = nonNeg(opts.retries, 3, "retries");
    this.#baseDelay = nonNeg(opts.retryBaseDelayMs, 100, "retryBaseDelayMs");
    this.#maxDelay = nonNeg(opts.retryMaxDelayMs, 5000, "retryMaxDelayMs");
    this.#timeout = nonNeg(opts.timeoutMs, 10_000, "timeoutMs");
    this.#headers = { ...(opts.headers ?? {}) };
    this.limits = Object.freeze({ ...defaultLimits, ...(opts.limits ?? {}) });
    this.#maxBatchSet = opts.limits?.maxBatch !== undefined;
    this.#track = opts.trackRevisions === true;
  }

  /**
   * The batch size evaluations are chunked to: limits.maxBatch when set,
   * else the server's gatehouse_max_batch once discovery() has read it,
   * else 1,000.
   */
  get maxBatch(): number {
    return this.#maxBatchSet ? this.limits.maxBatch : (this.#learnedMaxBatch ?? this.limits.maxBatch);
  }

  /** The latest Gatehouse-Revision this client has seen (undefined before any answer). */
  get lastRevision(): string | undefined {
    return this.#lastRevision;
  }

  /** The revision set with requireRevision and not yet seen. */
  get requiredRevision(): string | undefined {
    return this.#required;
  }

  /**
   * Read-your-writes for every following call: send context.minRevision =
   * rev until an answer comes from that revision. (Revisions are content
   * hashes, not counters: once the server has served rev, a later policy
   * change has another revision, so the requirement is dropped as soon as
   * rev has been seen instead of pinning every later call to it.)
   */
  requireRevision(rev: string | undefined): void {
    if (rev !== undefined && (typeof rev !== "string" || rev === "")) {
      throw validationError("minRevision", "must be a non-empty string");
    }
    this.#required = rev === this.#lastRevision ? undefined : rev;
  }

  // ---- AuthZEN ------------------------------------------------------------

  /** One access evaluation. A deny is an answer (decision false), not an error. */
  async evaluation(req: EvaluationRequest, opts: EvaluationOptions = {}): Promise<EvaluationResponse> {
    const { body, tracked } = this.#prepare(req, opts);
    validateRequest("evaluation", body, this.limits);
    const r = await this.#send("evaluation", body, { ...opts, tracked, ...(opts.explain ? { query: "explain=true" } : {}) });
    const d = checkDecision(r.data, "the answer");
    return { ...d, revision: r.revision || d.context.revision || "" };
  }

  /** True only when the server answered decision: true; throws on any error. */
  async check(req: EvaluationRequest, opts: CallOptions = {}): Promise<boolean> {
    const d = await this.evaluation(req, opts);
    return d.decision === true;
  }

  /**
   * A batch of evaluations, answered in request order. Batches above the
   * server's maximum (limits.maxBatch) are sent in chunks with the same
   * defaults and options, every chunk after the first pinned to the first
   * chunk's revision (one consistent snapshot; if the snapshot changes in
   * between, the batch is restarted once). deny_on_first_deny and
   * permit_on_first_permit stop at the first chunk that stopped.
   */
  async evaluations(req: EvaluationsRequest, opts: EvaluationOptions = {}): Promise<EvaluationsResponse> {
    if (!isObject(req)) throw validationError("", "expected a request object");
    const full = this.#withMinRevision(req, opts);
    validateRequest("evaluations", full, this.limits);
    const items = (req.evaluations ?? []) as EvaluationItem[];
    if (items.length === 0) {
      throw validationError("evaluations", "empty; send at least one evaluation (or use evaluation)");
    }
    const sem = req.options?.evaluations_semantic ?? "execute_all";
    const userRev = itemRevision(full);
    const n = this.maxBatch;
    const query = opts.explain ? { query: "explain=true" } : {};
    for (let restart = 0; ; restart++) {
      const out: Decision[] = [];
      let pin = userRev;
      let revision = "";
      let ourPin = false;
      try {
        for (let i = 0; i < items.length; i += n) {
          const chunk = items.slice(i, i + n);
          const body: Record<string, unknown> = { ...full, evaluations: chunk };
          // The first chunk may carry the tracked revision; later ones are pinned to the first's.
          const tracked = !pin && i === 0 && this.#track && this.#lastRevision !== undefined;
          const rev = pin ?? (tracked ? this.#lastRevision : undefined);
          if (rev) body.context = { ...((full.context as object | null | undefined) ?? {}), minRevision: rev };
          ourPin = pin !== userRev;
          const r = await this.#send("evaluations", body, { ...opts, ...query, tracked, retryMinRevision: !ourPin });
          if (!isObject(r.data) || !Array.isArray(r.data.evaluations)) throw badResponse("no evaluations array", r.revision);
          const got = r.data.evaluations.map((d, j) => checkDecision(d, `evaluations[${i + j}]`));
          if (got.length > chunk.length) throw badResponse("more decisions than evaluations", r.revision);
          const last = got[got.length - 1];
          const stopped =
            got.length < chunk.length ||
            (last !== undefined &&
              ((sem === "deny_on_first_deny" && !last.decision) || (sem === "permit_on_first_permit" && last.decision)));
          if (got.length < chunk.length) {
            // Only a short-circuit semantic may stop early, and on the right decision.
            const ok =
              last !== undefined &&
              ((sem === "deny_on_first_deny" && !last.decision) || (sem === "permit_on_first_permit" && last.decision));
            if (!ok) throw badResponse("fewer decisions than evaluations", r.revision);
          }
          out.push(...got);
          revision = r.revision;
          if (stopped) break;
          pin ||= r.revision || undefined;
        }
        return { evaluations: out, revision };
      } catch (e) {
        // The snapshot changed between chunks we pinned: start over once.
        const pinnedByUs = ourPin && e instanceof GatehouseError && e.status === 503 && e.field === "context.minRevision";
        if (!pinnedByUs || restart >= 1) throw e;
      }
    }
  }

  /** Who may perform the action on the resource (one page). */
  async searchSubject(req: SearchSubjectRequest, opts: CallOptions = {}): Promise<SearchResponse<SubjectResult>> {
    return this.#search<SubjectResult>("searchSubject", req, opts, (x) => isObject(x) && typeof x.id === "string" && typeof x.type === "string");
  }

  /** What the subject may do on the resource (one page). */
  async searchAction(req: SearchActionRequest, opts: CallOptions = {}): Promise<SearchResponse<ActionResult>> {
    return this.#search<ActionResult>("searchAction", req, opts, (x) => isObject(x) && typeof x.name === "string");
  }

  /** Which of context.candidates the subject may act on (one page; at most limits.maxCandidates candidates). */
  async searchResource(req: SearchResourceRequest, opts: CallOptions = {}): Promise<SearchResponse<ResourceResult>> {
    return this.#search<ResourceResult>("searchResource", req, opts, (x) => isObject(x) && typeof x.id === "string" && typeof x.type === "string");
  }

  /** Every subject (all pages, pinned to one revision). */
  async searchSubjectAll(req: SearchSubjectRequest, opts: PagingOptions = {}): Promise<SubjectResult[]> {
    return this.#all<SubjectResult>((page, o) => this.searchSubject({ ...req, page }, o), opts);
  }

  /** Every action (all pages, pinned to one revision). */
  async searchActionAll(req: SearchActionRequest, opts: PagingOptions = {}): Promise<ActionResult[]> {
    return this.#all<ActionResult>((page, o) => this.searchAction({ ...req, page }, o), opts);
  }

  /**
   * The allowed candidates among any number of them, in candidate order:
   * sent in chunks of limits.maxCandidates, every page pinned to one
   * revision.
   */
  async searchResourceAll(req: SearchResourceRequest, opts: PagingOptions = {}): Promise<ResourceResult[]> {
    const cands = (isObject(req) && isObject(req.context) ? req.context.candidates : undefined) as CandidateResource[] | undefined;
    if (!Array.isArray(cands)) throw validationError("context.candidates", "required");
    const n = this.limits.maxCandidates;
    return this.#all<ResourceResult>(async (page, o, chunk) => {
      const part = cands.slice(chunk * n, chunk * n + n);
      return this.searchResource({ ...req, context: { ...req.context, candidates: part }, page }, o);
    }, opts, Math.max(1, Math.ceil(cands.length / n)));
  }

  // ---- Gatehouse ----------------------------------------------------------

  /** Readable, writable and hidden fields of the module for the subject. */
  async fields(req: FieldsRequest, opts: CallOptions = {}): Promise<FieldsResponse> {
    const r = await this.#post("fields", req, opts);
    const v = r.data;
    if (isObject(v) && v.covered === false) {
      // Not covered by a FieldPolicy: the lists are null, every field writable.
      for (const k of ["readable", "writable", "hidden"]) v[k] ??= [];
    }
    if (
      !isObject(v) ||
      typeof v.covered !== "boolean" ||
      !["write", "read", "hidden"].includes(v.default as string) ||
      !isStringArray(v.readable) ||
      !isStringArray(v.writable) ||
      !isStringArray(v.hidden)
    ) {
      throw badResponse("not a fields answer", r.revision);
    }
    return { ...(v as unknown as FieldsResponse), revision: r.revision || String(v.revision ?? "") };
  }

  /** The list filter of the records the subject may act on (see planToPrismaWhere). */
  async plan(req: PlanRequest, opts: CallOptions = {}): Promise<PlanResponse> {
    const r = await this.#post("plan", req, opts);
    const v = r.data;
    if (!isObject(v) || !["always", "never", "conditional"].includes(v.kind as string)) {
      throw badResponse("not a plan", r.revision);
    }
    if (v.kind === "conditional" && !isObject(v.filter)) throw badResponse("a conditional plan without a filter", r.revision);
    return { ...(v as unknown as PlanResponse), revision: r.revision || String(v.revision ?? "") };
  }

  /** The record's applicable approval steps with their eligible approvers. */
  async approvalsPlan(req: ApprovalsPlanRequest, opts: CallOptions = {}): Promise<ApprovalsPlanResponse> {
    const r = await this.#post("approvalsPlan", req, opts);
    const v = r.data;
    if (!isObject(v) || !Array.isArray(v.steps) || typeof v.complete !== "boolean") {
      throw badResponse("not an approval plan", r.revision);
    }
    return { ...(v as unknown as ApprovalsPlanResponse), revision: r.revision || String(v.revision ?? "") };
  }

  /** May the subject approve the record now. */
  async approvalsCheck(req: ApprovalsCheckRequest, opts: CallOptions = {}): Promise<ApprovalsCheckResponse> {
    const r = await this.#post("approvalsCheck", req, opts);
    const v = r.data;
    if (!isObject(v) || typeof v.allowed !== "boolean" || typeof v.reason !== "string" || typeof v.complete !== "boolean") {
      throw badResponse("not an approval decision", r.revision);
    }
    return { ...(v as unknown as ApprovalsCheckResponse), revision: r.revision || String(v.revision ?? "") };
  }

  /** The tenant's AuthZEN PDP metadata (404 GatehouseError for an unknown tenant). */
  async discovery(opts: Omit<CallOptions, "minRevision"> = {}): Promise<DiscoveryResponse> {
    const r = await this.#send("discovery", undefined, opts);
    const v = r.data;
    if (!isObject(v) || typeof v.policy_decision_point !== "string") throw badResponse("not PDP metadata", r.revision);
    const mb = v.gatehouse_max_batch;
    if (typeof mb === "number" && Number.isSafeInteger(mb) && mb > 0) this.#learnedMaxBatch = mb;
    return v as unknown as DiscoveryResponse;
  }

  // ---- internals ----------------------------------------------------------

  async #post(ep: EndpointName, req: unknown, opts: CallOptions): Promise<Sent<unknown>> {
    const { body, tracked } = this.#prepare(req, opts);
    validateRequest(ep, body, this.limits);
    return this.#send(ep, body, { ...opts, tracked });
  }

  /** #withMinRevision, then the tracked revision when the call has none. */
  #prepare(req: unknown, opts: CallOptions): { body: Record<string, unknown>; tracked: boolean } {
    const body = this.#withMinRevision(req, opts);
    if (!this.#track || this.#lastRevision === undefined || itemRevision(body) !== undefined) return { body, tracked: false };
    const ctx = body.context;
    return { body: { ...body, context: { ...(isObject(ctx) ? ctx : {}), minRevision: this.#lastRevision } }, tracked: true };
  }

  async #search<T>(ep: EndpointName, req: unknown, opts: CallOptions, item: (x: unknown) => boolean): Promise<SearchResponse<T>> {
    const r = await this.#post(ep, req, opts);
    const s = checkSearch<T>(r.data, item);
    return { ...s, context: { ...(isObject(s.context) ? s.context : {}), revision: r.revision || String(s.context?.revision ?? "") } };
  }

  async #all<T>(
    page: (p: { token?: string; limit?: number }, o: InternalOptions, chunk: number) => Promise<SearchResponse<T>>,
    opts: PagingOptions,
    chunks = 1,
  ): Promise<T[]> {
    const maxPages = opts.maxPages ?? 100;
    const userRev = opts.minRevision;
    for (let restart = 0; ; restart++) {
      const out: T[] = [];
      let pin = userRev;
      let pages = 0;
      let ourPin = false;
      try {
        for (let c = 0; c < chunks; c++) {
          let token = "";
          do {
            if (++pages > maxPages) {
              throw new GatehouseError({ kind: "response", reason: `more than ${maxPages} pages (raise maxPages)` });
            }
            const p: { token?: string; limit?: number } = {};
            if (token) p.token = token;
            if (opts.pageLimit !== undefined) p.limit = opts.pageLimit;
            ourPin = pin !== userRev;
            const o: InternalOptions = { ...opts, retryMinRevision: !ourPin };
            if (pin) o.minRevision = pin;
            const r = await page(p, o, c);
            out.push(...r.results);
            pin ||= r.context.revision || undefined;
            if (r.page.next_token && r.page.next_token === token) throw badResponse("the same page token twice");
            token = r.page.next_token;
          } while (token);
        }
        return out;
      } catch (e) {
        // The snapshot changed between pages we pinned: start over once.
        const pinnedByUs = ourPin && e instanceof GatehouseError && e.status === 503 && e.field === "context.minRevision";
        if (!pinnedByUs || restart >= 1) throw e;
      }
    }
  }

  /** Returns req with context.minRevision from the call, the request or requireRevision. */
  #withMinRevision(req: unknown, opts: CallOptions): Record<string, unknown> {
    if (!isObject(req)) throw validationError("", "expected a request object");
    const ctx = req.context;
    const inReq = isObject(ctx) ? ctx.minRevision : undefined;
    let rev = opts.minRevision;
    if (rev !== undefined && (typeof rev !== "string" || rev === "")) throw validationError("minRevision", "must be a non-empty string");
    if (rev !== undefined && inReq !== undefined && inReq !== rev) {
      throw validationError("context.minRevision", "conflicts with the call's minRevision");
    }
    if (rev === undefined && inReq === undefined && this.#required && itemRevision(req) === undefined) {
      rev = this.#required;
    }
    if (rev === undefined || rev === inReq) return req;
    return { ...req, context: { ...(isObject(ctx) ? ctx : {}), minRevision: rev } };
  }

  #observe(rev: string | null): void {
    if (!rev) return;
    this.#lastRevision = rev;
    if (this.#required === rev) this.#required = undefined;
  }

  async #bearer(refresh: boolean): Promise<string | undefined> {
    const t = this.#token;
    if (t === undefined) return undefined;
    let v: unknown = t;
    if (typeof t === "function") {
      try {
        v = await t();
      } catch (e) {
        throw new GatehouseError({ kind: "validation", field: "token", reason: `the token source failed${refresh ? " (refresh)" : ""}`, cause: e });
      }
    }
    if (typeof v !== "string" || v.trim() === "") throw validationError("token", "the token source returned no token");
    return v.trim();
  }

  async #send(ep: Method, body: unknown, opts: InternalOptions): Promise<Sent<unknown>> {
    const url = `${this.#base}/${paths[ep]}${opts.query ? `?${opts.query}` : ""}`;
    let payload: string | undefined;
    const encode = (b: unknown) => {
      payload = JSON.stringify(b);
      const size = new TextEncoder().encode(payload).length;
      if (size > this.limits.maxBodyBytes) {
        throw validationError("", `request body larger than ${this.limits.maxBodyBytes} bytes`);
      }
    };
    if (body !== undefined) encode(body);
    let replaced = 0;
    const retries = nonNeg(opts.retries, this.#retries, "retries");
    const signal = opts.signal;
    let refreshed = false;
    let retried = 0;
    for (let attempt = 1; ; attempt++) {
      if (signal?.aborted) throw aborted(signal, attempt - 1);
      const headers: Record<string, string> = { Accept: "application/json", ...this.#headers };
      if (payload !== undefined) headers["Content-Type"] = "application/json";
      const tok = await this.#bearer(refreshed);
      if (tok !== undefined) headers.Authorization = `Bearer ${tok}`;
      if (opts.requestId) headers["X-Request-ID"] = opts.requestId;
      const timeout = AbortSignal.timeout(this.#timeout);
      const sig = signal ? anySignal([signal, timeout]) : timeout;
      let res: Response;
      let text: string;
      try {
        res = await this.#fetch(url, {
          method: body === undefined ? "GET" : "POST",
          headers,
          ...(payload !== undefined ? { body: payload } : {}),
          signal: sig,
          redirect: "error",
        });
        text = await res.text();
      } catch (e) {
        if (signal?.aborted) throw aborted(signal, attempt);
        const err = new GatehouseError({
          kind: "network",
          reason: timeout.aborted ? `no answer within ${this.#timeout} ms` : `request failed: ${(e as Error)?.message ?? String(e)}`,
          attempts: attempt,
          cause: e,
          ...(opts.requestId ? { requestId: opts.requestId } : {}),
        });
        if (retried >= retries) throw err;
        retried++;
        await this.#wait(this.#backoff(retried), signal, attempt);
        continue;
      }
      const rev = res.headers.get("Gatehouse-Revision");
      this.#observe(rev);
      if (res.status >= 200 && res.status < 300) {
        let data: unknown;
        try {
          data = JSON.parse(text);
        } catch (e) {
          throw new GatehouseError({ kind: "response", reason: "the answer is not JSON", cause: e, attempts: attempt, ...(rev ? { revision: rev } : {}) });
        }
        if (isObject(data) && typeof data.revision === "string") this.#observe(data.revision);
        return { data, revision: rev ?? "" };
      }
      const retryAfterMs = parseRetryAfter(res.headers.get("Retry-After"));
      const err = httpError(res.status, text, rev, retryAfterMs, attempt, opts.requestId);
      if (res.status === 401 && typeof this.#token === "function" && !refreshed) {
        refreshed = true; // the token may have rotated: read it again, once
        continue;
      }
      const minRev503 = res.status === 503 && err.field === "context.minRevision";
      if (minRev503 && opts.tracked && rev && isObject(body) && replaced < 2) {
        // The tracked revision is superseded: adopt the one the server serves.
        const ctx = body.context;
        if (isObject(ctx) && ctx.minRevision !== rev) {
          replaced++;
          body = { ...body, context: { ...ctx, minRevision: rev } };
          encode(body);
          continue;
        }
      }
      if (!RETRYABLE.has(res.status) || retried >= retries || (minRev503 && opts.retryMinRevision === false)) throw err;
      const delay = Math.max(retryAfterMs ?? 0, this.#backoff(retried + 1));
      if (delay > this.#maxDelay) throw err; // Retry-After beyond what we may wait
      retried++;
      await this.#wait(delay, signal, attempt);
    }
  }

  /** Exponential backoff with "equal jitter": half fixed, half random. */
  #backoff(retry: number): number {
    const exp = Math.min(this.#maxDelay, this.#baseDelay * 2 ** (retry - 1));
    return exp / 2 + Math.random() * (exp / 2);
  }

  async #wait(ms: number, signal: AbortSignal | undefined, attempts: number): Promise<void> {
    try {
      await sleep(ms, signal);
    } catch {
      throw aborted(signal as AbortSignal, attempts);
    }
  }
}

function itemRevision(req: Record<string, unknown>): string | undefined {
  const ctx = req.context;
  if (isObject(ctx) && typeof ctx.minRevision === "string") return ctx.minRevision;
  if (Array.isArray(req.evaluations)) {
    for (const it of req.evaluations) {
      if (isObject(it) && isObject(it.context) && typeof it.context.minRevision === "string") return it.context.minRevision;
    }
  }
  return undefined;
}

function nonNeg(v: number | undefined, def: number, field: string): number {
  if (v === undefined) return def;
  if (typeof v !== "number" || !Number.isFinite(v) || v < 0) throw validationError(field, "must be a non-negative number");
  return v;
}

function aborted(signal: AbortSignal, attempts: number): GatehouseError {
  return new GatehouseError({ kind: "aborted", reason: "the call was aborted", cause: signal.reason, attempts });
}

function anySignal(signals: AbortSignal[]): AbortSignal {
  const any = (AbortSignal as unknown as { any?: (s: AbortSignal[]) => AbortSignal }).any;
  if (any) return any(signals);
  const c = new AbortController();
  for (const s of signals) {
    if (s.aborted) {
      c.abort(s.reason);
      break;
    }
    s.addEventListener("abort", () => c.abort(s.reason), { once: true });
  }
  return c.signal;
}

function httpError(
  status: number,
  text: string,
  revision: string | null,
  retryAfterMs: number | undefined,
  attempts: number,
  requestId: string | undefined,
): GatehouseError {
  let msg: string | undefined;
  try {
    const v: unknown = JSON.parse(text);
    if (isObject(v) && typeof v.error === "string") msg = v.error;
  } catch {
    // not JSON (a proxy's page): keep a short prefix only
  }
  const { field, reason } = msg !== undefined ? splitServerMessage(msg) : { field: undefined, reason: `HTTP ${status}: ${shortQuote(text.slice(0, 64))}` };
  return new GatehouseError({
    kind: "http",
    status,
    ...(field ? { field } : {}),
    reason,
    ...(revision ? { revision } : {}),
    ...(retryAfterMs !== undefined ? { retryAfterMs } : {}),
    attempts,
    ...(requestId ? { requestId } : {}),
  });
}
