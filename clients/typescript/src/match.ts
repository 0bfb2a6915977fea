// Evaluating a plan on a record in memory, with the meaning of the server's
// Plan.Matches (internal/snapshot/filter.go): a missing property or a type
// mismatch makes a predicate false. A cel node cannot be evaluated here and
// throws (fail closed): check such records with client.evaluations.

import { PlanConversionError } from "./prisma.js";
import type { Plan, PlanFilter, Resource } from "./types.js";

const standard = new Set(["ownerId", "assigneeIds", "unit", "facilityId", "companyId", "projectContacts"]);

function propertyValue(res: Resource, name: string): unknown {
  if (name === "id") return res.id ?? "";
  const p = res.properties ?? {};
  const v = (p as Record<string, unknown>)[name];
  if (standard.has(name) && (v === "" || v === null)) return undefined;
  return v ?? undefined;
}

function equal(a: unknown, b: unknown): boolean {
  if (typeof a === "number" || typeof b === "number") return typeof a === "number" && typeof b === "number" && a === b;
  if (typeof a === "string" || typeof a === "boolean") return a === b;
  return false;
}

function compare(a: unknown, b: unknown): number | undefined {
  if (typeof a === "number" && typeof b === "number") {
    if (Number.isNaN(a) || Number.isNaN(b)) return undefined;
    return a < b ? -1 : a > b ? 1 : 0;
  }
  if (typeof a === "string" && typeof b === "string") return a < b ? -1 : a > b ? 1 : 0;
  return undefined;
}

function unitMatch(pre: string, u: string): boolean {
  if (pre === u) return true;
  if (!u.startsWith(pre)) return false;
  return pre === "/" || u[pre.length] === "/";
}

/** Whether the plan allows the record (always: true, never: false). */
export function planMatches(plan: Plan, record: Resource): boolean {
  switch (plan.kind) {
    case "always":
      return true;
    case "never":
      return false;
    case "conditional":
      if (!plan.filter) throw new PlanConversionError("filter", "a conditional plan without a filter");
      return filterMatches(plan.filter, record, "filter");
  }
  throw new PlanConversionError("kind", "unknown plan kind");
}

function filterMatches(f: PlanFilter, res: Resource, path: string): boolean {
  switch (f.op) {
    case "true":
      return true;
    case "false":
      return false;
    case "and":
      return f.children.every((k, i) => filterMatches(k, res, `${path}.children[${i}]`));
    case "or":
      return f.children.some((k, i) => filterMatches(k, res, `${path}.children[${i}]`));
    case "cel":
      throw new PlanConversionError(path, "a cel condition cannot be evaluated by the client");
  }
  const v = propertyValue(res, f.property);
  if (v === undefined) return false;
  switch (f.op) {
    case "eq":
      return equal(v, f.value);
    case "lt":
    case "le":
    case "gt":
    case "ge": {
      const c = compare(v, f.value);
      if (c === undefined) return false;
      return f.op === "lt" ? c < 0 : f.op === "le" ? c <= 0 : f.op === "gt" ? c > 0 : c >= 0;
    }
    case "in":
      return (f.values ?? []).some((x) => equal(v, x));
    case "contains":
      return Array.isArray(v) && v.some((x) => equal(x, f.value));
    case "under":
      return typeof v === "string" && v !== "" && typeof f.value === "string" && unitMatch(f.value, v);
  }
  throw new PlanConversionError(`${path}.op`, "unknown filter op");
}
