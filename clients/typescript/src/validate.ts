// Client-side validation: refuses, before sending, what the server's decoder
// (internal/authz/decode.go, decode_tuple.go) would answer with a 400, with
// the same "field: reason" messages. Values are never echoed whole (at most
// a short quoted prefix).

import { shortQuote, validationError } from "./errors.js";

/** Server limits the client checks against (the server's defaults). */
export interface Limits {
  /** Items of any list and members of any generic object (default 1,000). */
  maxList: number;
  /** JSON nesting (default 32). */
  maxDepth: number;
  /** context.candidates of a resource search (default 1,000). */
  maxCandidates: number;
  /** evaluations of one request (default 1,000; larger batches are chunked). */
  maxBatch: number;
  /** Encoded request body in bytes (default 1 MiB). */
  maxBodyBytes: number;
}

export const defaultLimits: Readonly<Limits> = Object.freeze({
  maxList: 1000,
  maxDepth: 32,
  maxCandidates: 1000,
  maxBatch: 1000,
  maxBodyBytes: 1 << 20,
});

export type EndpointName =
  | "evaluation"
  | "evaluations"
  | "searchSubject"
  | "searchAction"
  | "searchResource"
  | "fields"
  | "plan"
  | "approvalsPlan"
  | "approvalsCheck";

type Part = "subject" | "action" | "resource";

interface Spec {
  fields: readonly string[];
  needs: readonly Part[];
}

const tuple = ["subject", "action", "resource", "context"] as const;

/** The top-level keys each endpoint accepts and the parts it needs (routes.go). */
export const endpointSpecs: Readonly<Record<EndpointName, Spec>> = {
  evaluation: { fields: tuple, needs: ["subject", "action", "resource"] },
  evaluations: { fields: [...tuple, "evaluations", "options"], needs: [] },
  searchSubject: { fields: [...tuple, "page"], needs: ["action", "resource"] },
  searchAction: { fields: ["subject", "resource", "context", "page"], needs: ["subject", "resource"] },
  searchResource: { fields: [...tuple, "page"], needs: ["subject", "action", "resource"] },
  fields: { fields: ["subject", "resource", "context"], needs: ["subject", "resource"] },
  plan: { fields: [...tuple, "columns", "placeholder", "argOffset"], needs: ["subject", "action", "resource"] },
  approvalsPlan: { fields: ["resource", "context"], needs: ["resource"] },
  approvalsCheck: { fields: ["subject", "resource", "context"], needs: ["subject", "resource"] },
};

function typeName(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function plainKey(k: string): boolean {
  return k.length > 0 && k.length <= 32 && /^[A-Za-z0-9_-]+$/.test(k);
}

/** Appends key k to path p as the server names it: .k, or ["k…"]. */
export function pathKey(p: string, k: string): string {
  if (plainKey(k)) return p ? `${p}.${k}` : k;
  return `${p}[${shortQuote(k)}]`;
}

const fail = (field: string, reason: string): never => {
  throw validationError(field, reason);
};

class Checker {
  constructor(readonly lim: Limits) {}

  expect(v: unknown, field: string, want: "string" | "object"): void {
    const got = typeName(v);
    if (want === "object" ? !isObject(v) : got !== want) fail(field, `expected ${want}, got ${got}`);
  }

  string(v: unknown, field: string): string {
    this.expect(v, field, "string");
    return v as string;
  }

  nullableString(v: unknown, field: string): void {
    if (v !== null) this.string(v, field);
  }

  nullableStrings(v: unknown, field: string): void {
    if (v === null) return;
    if (!Array.isArray(v)) fail(field, `expected array, got ${typeName(v)}`);
    const a = v as unknown[];
    if (a.length > this.lim.maxList) fail(field, `more than ${this.lim.maxList} items`);
    a.forEach((x, i) => this.string(x, `${field}[${i}]`));
  }

  unit(v: unknown, field: string): void {
    if (v === null || v === "") return; // an empty unit is no unit
    const why = unitProblem(this.string(v, field));
    if (why) fail(field, why);
  }

  nonNegInt(v: unknown, field: string): void {
    if (typeof v !== "number") fail(field, `expected number, got ${typeName(v)}`);
    if (!Number.isSafeInteger(v) || (v as number) < 0) fail(field, "expected a non-negative integer");
  }

  /** Checks keys of obj against allowed, naming an unknown one. */
  keys(obj: Record<string, unknown>, field: string, allowed: readonly string[]): void {
    for (const k of Object.keys(obj)) {
      if (obj[k] === undefined) continue; // JSON.stringify drops it
      if (!allowed.includes(k)) fail(pathKey(field, k), "unknown field");
    }
  }

  /** A generic JSON value (custom property, context entry). */
  json(v: unknown, field: string, depth: number): void {
    if (depth > this.lim.maxDepth) fail(field, `nesting deeper than ${this.lim.maxDepth}`);
    switch (typeof v) {
      case "string":
      case "boolean":
        return;
      case "number":
        if (!Number.isFinite(v)) fail(field, "expected a finite number (NaN and Infinity are not JSON)");
        return;
      case "object":
        break;
      default:
        fail(field, `${typeof v} is not a JSON value`);
    }
    if (v === null) return;
    if (Array.isArray(v)) {
      if (v.length > this.lim.maxList) fail(field, `more than ${this.lim.maxList} items`);
      v.forEach((x, i) => {
        if (x === undefined) fail(`${field}[${i}]`, "undefined is not a JSON value");
        this.json(x, `${field}[${i}]`, depth + 1);
      });
      return;
    }
    if (typeof (v as { toJSON?: unknown }).toJSON === "function") return; // Date and the like: a string
    const o = v as Record<string, unknown>;
    const ks = Object.keys(o);
    if (ks.length > this.lim.maxList) fail(field, `more than ${this.lim.maxList} items`);
    for (const k of ks) {
      if (o[k] === undefined) continue;
      this.json(o[k], pathKey(field, k), depth + 1);
    }
  }

  genericMembers(o: Record<string, unknown>, field: string, standard: readonly string[], depth: number): void {
    let n = 0;
    for (const k of Object.keys(o)) {
      if (standard.includes(k) || o[k] === undefined) continue;
      if (++n > this.lim.maxList) fail(field, `more than ${this.lim.maxList} items`);
      this.json(o[k], pathKey(field, k), depth + 1);
    }
  }

  subject(v: unknown): void {
    this.expect(v, "subject", "object");
    const s = v as Record<string, unknown>;
    this.keys(s, "subject", ["type", "id", "properties"]);
    if (s.type !== undefined) this.string(s.type, "subject.type");
    if (s.id !== undefined) this.string(s.id, "subject.id");
    const p = s.properties;
    if (p === undefined || p === null) return;
    const f = "subject.properties";
    this.expect(p, f, "object");
    const o = p as Record<string, unknown>;
    if (o.groups !== undefined) this.nullableStrings(o.groups, `${f}.groups`);
    if (o.unit !== undefined) {
      this.nullableString(o.unit, `${f}.unit`);
      this.unit(o.unit, `${f}.unit`);
    }
    if (o.company !== undefined) this.nullableString(o.company, `${f}.company`);
    if (o.companies !== undefined) this.nullableStrings(o.companies, `${f}.companies`);
    if (o.facilities !== undefined) this.nullableStrings(o.facilities, `${f}.facilities`);
    this.genericMembers(o, f, ["groups", "unit", "company", "companies", "facilities"], 3);
  }

  action(v: unknown): void {
    this.expect(v, "action", "object");
    const a = v as Record<string, unknown>;
    this.keys(a, "action", ["name", "properties"]);
    if (a.name !== undefined) this.string(a.name, "action.name");
    if (a.properties !== undefined && a.properties !== null) {
      this.expect(a.properties, "action.properties", "object");
      this.json(a.properties, "action.properties", 2);
    }
  }

  resource(v: unknown, base: string, depth: number): void {
    this.expect(v, base, "object");
    const r = v as Record<string, unknown>;
    this.keys(r, base, ["type", "id", "properties"]);
    if (r.type !== undefined) this.string(r.type, `${base}.type`);
    if (r.id !== undefined) this.string(r.id, `${base}.id`);
    const p = r.properties;
    if (p === undefined || p === null) return;
    const f = `${base}.properties`;
    this.expect(p, f, "object");
    const o = p as Record<string, unknown>;
    for (const k of ["ownerId", "facilityId", "companyId"]) {
      if (o[k] !== undefined) this.nullableString(o[k], `${f}.${k}`);
    }
    for (const k of ["assigneeIds", "projectContacts"]) {
      if (o[k] !== undefined) this.nullableStrings(o[k], `${f}.${k}`);
    }
    if (o.unit !== undefined) {
      this.nullableString(o.unit, `${f}.unit`);
      this.unit(o.unit, `${f}.unit`);
    }
    if (o.approvals !== undefined && o.approvals !== null) {
      const af = `${f}.approvals`;
      if (!Array.isArray(o.approvals)) fail(af, `expected array, got ${typeName(o.approvals)}`);
      const list = o.approvals as unknown[];
      if (list.length > this.lim.maxList) fail(af, `more than ${this.lim.maxList} items`);
      list.forEach((a, i) => {
        const ai = `${af}[${i}]`;
        this.expect(a, ai, "object");
        const ao = a as Record<string, unknown>;
        this.keys(ao, ai, ["step", "by"]);
        this.string(ao.step, `${ai}.step`);
        this.string(ao.by, `${ai}.by`);
      });
    }
    this.genericMembers(
      o,
      f,
      ["ownerId", "assigneeIds", "unit", "facilityId", "companyId", "projectContacts", "approvals"],
      depth + 1,
    );
  }

  context(v: unknown, field: string, candidates: boolean): void {
    this.expect(v, field, "object");
    const c = v as Record<string, unknown>;
    if (c.minRevision !== undefined) this.string(c.minRevision, `${field}.minRevision`);
    let n = 0;
    for (const k of Object.keys(c)) {
      if (k === "minRevision" || c[k] === undefined) continue;
      if (k === "candidates" && candidates) continue;
      if (++n > this.lim.maxList) fail(field, `more than ${this.lim.maxList} items`);
      this.json(c[k], pathKey(field, k), 2);
    }
  }

  /** subject, action, resource, context of a tuple (top level or a batch item). */
  tuple(t: Record<string, unknown>, prefix: string, candidates: boolean): void {
    const at = (f: string) => (prefix ? `${prefix}.${f}` : f);
    try {
      if (t.subject !== undefined && t.subject !== null) this.subject(t.subject);
      if (t.action !== undefined && t.action !== null) this.action(t.action);
      if (t.resource !== undefined && t.resource !== null) this.resource(t.resource, "resource", 1);
      if (t.context !== undefined && t.context !== null) this.context(t.context, "context", candidates);
    } catch (e) {
      if (prefix && e instanceof Error && "field" in e) {
        // Re-throw with the item's prefix, as the server names it.
        const ge = e as unknown as { field?: string; reason: string };
        throw validationError(at(ge.field ?? ""), ge.reason);
      }
      throw e;
    }
  }
}

function present(t: Record<string, unknown>, k: string): boolean {
  return t[k] !== undefined && t[k] !== null;
}

/** The first missing required part, as the server's checkTuple names it. */
export function missingPart(t: Record<string, unknown>, needs: readonly Part[]): string | undefined {
  const sub = t.subject as { id?: unknown } | undefined | null;
  const act = t.action as { name?: unknown } | undefined | null;
  const res = t.resource as { type?: unknown } | undefined | null;
  if (needs.includes("subject")) {
    if (!present(t, "subject")) return "subject: required";
    if (!sub?.id) return "subject.id: required";
  }
  if (needs.includes("action")) {
    if (!present(t, "action")) return "action: required";
    if (!act?.name) return "action.name: required";
  }
  if (needs.includes("resource")) {
    if (!present(t, "resource")) return "resource: required";
    if (!res?.type) return "resource.type: required";
  }
  return undefined;
}

function throwMissing(msg: string, prefix = ""): never {
  const i = msg.indexOf(": ");
  throw validationError(prefix + msg.slice(0, i), msg.slice(i + 2));
}

const semantics = ["execute_all", "deny_on_first_deny", "permit_on_first_permit"];

/**
 * Validates a request body for an endpoint; throws a GatehouseError
 * (kind "validation") naming the first field the server would reject.
 */
export function validateRequest(ep: EndpointName, body: unknown, lim: Limits = defaultLimits): void {
  const c = new Checker(lim);
  if (!isObject(body)) fail("", `expected a request object, got ${typeName(body)}`);
  const b = body as Record<string, unknown>;
  const spec = endpointSpecs[ep];
  c.keys(b, "", spec.fields);
  c.tuple(b, "", ep === "searchResource");

  switch (ep) {
    case "evaluations": {
      const items = b.evaluations;
      if (items !== undefined && items !== null && !Array.isArray(items)) {
        fail("evaluations", `expected array, got ${typeName(items)}`);
      }
      const list = (items ?? []) as unknown[];
      if (b.options !== undefined && b.options !== null) {
        c.expect(b.options, "options", "object");
        const sem = (b.options as Record<string, unknown>).evaluations_semantic;
        if (sem !== undefined) {
          c.string(sem, "options.evaluations_semantic");
          if (!semantics.includes(sem as string)) {
            fail("options.evaluations_semantic", "must be one of execute_all, deny_on_first_deny, permit_on_first_permit");
          }
        }
      }
      const topRev = (b.context as { minRevision?: string } | null | undefined)?.minRevision;
      let minRev = topRev;
      list.forEach((it, i) => {
        const p = `evaluations[${i}]`;
        c.expect(it, p, "object");
        const item = it as Record<string, unknown>;
        c.keys(item, p, ["subject", "action", "resource", "context"]);
        c.tuple(item, p, false);
        const mr = (item.context as { minRevision?: string } | null | undefined)?.minRevision;
        if (mr) {
          if (minRev && mr !== minRev) fail(`${p}.context.minRevision`, "conflicts with another minRevision of the request");
          minRev = mr;
        }
        // Fill from the defaults, then the tuple must be complete.
        const filled: Record<string, unknown> = { ...item };
        for (const k of ["subject", "action", "resource", "context"]) {
          if (!present(filled, k) && present(b, k)) filled[k] = b[k];
        }
        const miss = missingPart(filled, ["subject", "action", "resource"]);
        if (miss) throwMissing(miss, `${p}.`);
      });
      if (list.length === 0) {
        const miss = missingPart(b, ["subject", "action", "resource"]);
        if (miss) throwMissing(miss);
      }
      break;
    }
    case "searchResource": {
      const ctx = b.context as Record<string, unknown> | null | undefined;
      const cands = ctx?.candidates;
      if (!Array.isArray(cands)) {
        fail("context.candidates", "required; Gatehouse filters candidate records the caller sends. To list records without candidates, ask for a filter with plan (POST .../v1/plan)");
      }
      const list = cands as unknown[];
      if (list.length > lim.maxCandidates) fail("context.candidates", `more than ${lim.maxCandidates} candidates`);
      const typ = (b.resource as { type?: unknown } | null | undefined)?.type;
      list.forEach((r, i) => {
        const p = `context.candidates[${i}]`;
        c.resource(r, p, 2);
        const t = (r as { type?: unknown }).type;
        if (t !== undefined && t !== "" && t !== typ) fail(`${p}.type`, "must equal resource.type");
      });
      break;
    }
    case "plan": {
      if (b.columns !== undefined && b.columns !== null) {
        c.expect(b.columns, "columns", "object");
        const cols = b.columns as Record<string, unknown>;
        for (const k of Object.keys(cols).sort()) {
          const f = pathKey("columns", k);
          if (cols[k] === undefined) continue;
          const why = identProblem(c.string(cols[k], f));
          if (why) fail(f, `not an SQL identifier: ${why}`);
        }
      }
      if (b.placeholder !== undefined) {
        c.string(b.placeholder, "placeholder");
        // The server looks at it only when columns ask for SQL.
        const sql = b.columns !== undefined && b.columns !== null;
        if (sql && !["", "dollar", "question"].includes(b.placeholder as string)) fail("placeholder", 'must be "dollar" or "question"');
      }
      if (b.argOffset !== undefined) c.nonNegInt(b.argOffset, "argOffset");
      break;
    }
  }
  if (present(b, "page")) {
    c.expect(b.page, "page", "object");
    const pg = b.page as Record<string, unknown>;
    c.keys(pg, "page", ["token", "next_token", "limit", "properties"]);
    if (pg.token !== undefined) c.string(pg.token, "page.token");
    if (pg.limit !== undefined) c.nonNegInt(pg.limit, "page.limit");
  }
  if (ep !== "evaluations") {
    const miss = missingPart(b, spec.needs);
    if (miss) throwMissing(miss);
  }
}

/**
 * Says why u is not a canonical unit path, or returns "" (snapshot.ValidUnit):
 * "/" or "/" followed by non-empty segments, no trailing "/", no "." or ".."
 * segment, no control character, at most 1,024 bytes.
 */
export function unitProblem(u: string): string {
  if (u === "") return "not a canonical unit path (empty)";
  if (new TextEncoder().encode(u).length > 1024) return "not a canonical unit path (longer than 1024 bytes)";
  if (u[0] !== "/") return 'not a canonical unit path (does not start with "/")';
  if (u === "/") return "";
  // eslint-disable-next-line no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(u)) return "not a canonical unit path (a NUL or control character)";
  if (/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/.test(u)) return "not a canonical unit path (not valid UTF-8)";
  const segs = u.slice(1).split("/");
  for (let i = 0; i < segs.length; i++) {
    const s = segs[i];
    if (s === "" && i === segs.length - 1) return 'not a canonical unit path (a trailing "/")';
    if (s === "") return 'not a canonical unit path (an empty segment, "//")';
    if (s === ".") return 'not a canonical unit path (a "." segment)';
    if (s === "..") return 'not a canonical unit path (a ".." segment)';
  }
  return "";
}

/** Says why c is not "name" or "table.name" as /v1/plan accepts it (plansql.go), or "". */
export function identProblem(c: string): string {
  if (c === "") return "it is empty";
  let start = 0;
  let parts = 1;
  for (let i = 0; i < c.length; i++) {
    const ch = c[i] as string;
    if (ch === ".") {
      if (i === start) return "it has an empty part";
      if (++parts > 2) return "it has more than two dot-separated parts";
      start = i + 1;
      continue;
    }
    if (/[A-Za-z_]/.test(ch)) {
      // fine
    } else if (/[0-9$]/.test(ch)) {
      if (i === start) return `a part starts with a digit or '$' (byte ${i})`;
    } else {
      return `byte ${i} is not an ASCII letter, digit, '_', '$' or a '.' between two parts`;
    }
    if (i - start >= 63) return "a part is longer than 63 bytes";
  }
  if (start === c.length) return "it has an empty part";
  return "";
}

/** Validates a tenant name (a Kubernetes namespace: an RFC 1123 label). */
export function tenantProblem(t: string): string {
  if (t.length === 0 || t.length > 63) return "must be 1 to 63 characters";
  if (!/^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/.test(t)) return "must be a Kubernetes namespace name (lowercase letters, digits and '-')";
  return "";
}
