// Converting a /v1/plan answer into a Prisma `where` object.
//
// The filter nodes are those of internal/snapshot/plan.go: true, false,
// and, or, eq, lt, le, gt, ge, in, contains, under and cel (a condition
// that could not be translated). There is no "not" node (the server never
// negates: a missing property makes a predicate false, as in SQL).
//
// Failing closed: anything this converter does not understand (an unknown
// op or plan kind, a cel residue, a property without a column, a malformed
// node, a number JSON could not carry exactly) throws a PlanConversionError,
// never returns {} (which would match every record). A "never" plan and a
// "false" node convert to MATCH_NOTHING, { OR: [] }, which Prisma documents
// as matching no record; callers may also test isMatchNothing(where) and
// skip the query.

import { shortQuote } from "./errors.js";
import type { FilterValue, Plan, PlanFilter } from "./types.js";
import { unitProblem } from "./validate.js";

/** A Prisma where object (kept structural: no dependency on @prisma/client). */
export type PrismaWhere = { [key: string]: unknown };

/** The predicate nodes a column mapping function receives. */
export type PredicateFilter = Extract<PlanFilter, { property: string }>;

/**
 * Where a property lives: a field name ("ownerId"), a path through to-one
 * relations ("unit.path" → { unit: { path: ... } }), or a function building
 * the where of one predicate itself (e.g. assignees kept in a relation:
 * (f) => ({ assignees: { some: { userId: f.value } } })).
 */
export type ColumnMapping = string | ((node: PredicateFilter) => PrismaWhere);

export interface PrismaOptions {
  /** Plan property (ownerId, assigneeIds, unit, id, or a custom one such as amount) → Prisma field. */
  columns: Record<string, ColumnMapping>;
}

/** The where that matches no record (Prisma: an empty OR is false). */
export const MATCH_NOTHING: Readonly<PrismaWhere> = Object.freeze({ OR: Object.freeze([]) as unknown as [] });

/** Whether where is the match-nothing where of a never plan or a false filter. */
export function isMatchNothing(where: PrismaWhere): boolean {
  const keys = Object.keys(where);
  return keys.length === 1 && keys[0] === "OR" && Array.isArray(where.OR) && where.OR.length === 0;
}

/** The plan cannot be converted; the caller must not query (or must deny). */
export class PlanConversionError extends Error {
  /** Path of the offending node, e.g. "filter.children[1]". */
  readonly path: string;
  constructor(path: string, reason: string) {
    super(`gatehouse: plan: ${path}: ${reason}`);
    this.name = "PlanConversionError";
    this.path = path;
  }
}

const MAX_DEPTH = 64;
const RESERVED = new Set(["AND", "OR", "NOT"]);

function nothing(): PrismaWhere {
  return { OR: [] };
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

/**
 * Converts a plan (the answer of client.plan, or any { kind, filter }) to a
 * Prisma where: {} for always, MATCH_NOTHING ({ OR: [] }) for never, the
 * filter's translation for conditional. Throws PlanConversionError rather
 * than return anything broader than the plan.
 */
export function planToPrismaWhere(plan: Plan, opts: PrismaOptions): PrismaWhere {
  if (!isObject(plan)) throw new PlanConversionError("plan", "not a plan object");
  if (!opts || !isObject(opts.columns)) throw new PlanConversionError("columns", "a column mapping is required");
  switch (plan.kind) {
    case "always":
      return {};
    case "never":
      return nothing();
    case "conditional":
      if (!isObject(plan.filter)) throw new PlanConversionError("filter", "a conditional plan without a filter");
      return convert(plan.filter as PlanFilter, opts.columns, "filter", 0);
    default:
      throw new PlanConversionError("kind", `unknown plan kind ${shortQuote(String(plan.kind))}`);
  }
}

function convert(f: PlanFilter, columns: Record<string, ColumnMapping>, path: string, depth: number): PrismaWhere {
  if (depth > MAX_DEPTH) throw new PlanConversionError(path, `nested deeper than ${MAX_DEPTH} levels`);
  if (!isObject(f)) throw new PlanConversionError(path, "not a filter node");
  const op = (f as { op?: unknown }).op;
  switch (op) {
    case "true":
      return {};
    case "false":
      return nothing();
    case "and":
    case "or": {
      const kids = (f as { children?: unknown }).children;
      if (!Array.isArray(kids) || kids.length === 0) {
        throw new PlanConversionError(`${path}.children`, `${op} without children`);
      }
      const conv = kids.map((k, i) => convert(k as PlanFilter, columns, `${path}.children[${i}]`, depth + 1));
      return op === "and" ? { AND: conv } : { OR: conv };
    }
    case "cel":
      throw new PlanConversionError(
        path,
        `condition ${shortQuote(String((f as { expr?: unknown }).expr ?? ""))} has no database translation; check such records with evaluations or searchResource`,
      );
    case "eq":
    case "lt":
    case "le":
    case "gt":
    case "ge":
    case "in":
    case "contains":
    case "under":
      return predicate(f as PredicateFilter, columns, path);
    default:
      throw new PlanConversionError(`${path}.op`, `unknown filter op ${shortQuote(String(op))}`);
  }
}

function scalar(v: unknown, path: string, ordered: boolean): FilterValue {
  switch (typeof v) {
    case "string":
      return v;
    case "number":
      if (!Number.isFinite(v)) throw new PlanConversionError(path, "not a finite number");
      if (Number.isInteger(v) && !Number.isSafeInteger(v)) {
        throw new PlanConversionError(path, "an integer beyond 2^53 (JSON.parse lost its exact value)");
      }
      return v;
    case "boolean":
      if (ordered) throw new PlanConversionError(path, "a boolean cannot be ordered");
      return v;
  }
  throw new PlanConversionError(path, `expected a string, number or boolean, got ${v === null ? "null" : typeof v}`);
}

function predicate(f: PredicateFilter, columns: Record<string, ColumnMapping>, path: string): PrismaWhere {
  const prop = (f as { property?: unknown }).property;
  if (typeof prop !== "string" || prop === "") throw new PlanConversionError(`${path}.property`, "missing");
  const col = Object.prototype.hasOwnProperty.call(columns, prop) ? columns[prop] : undefined;
  if (col === undefined) {
    throw new PlanConversionError(`${path}.property`, `no column is mapped for property ${shortQuote(prop)}`);
  }
  // Check the operands before handing the node to anyone.
  let cond: Record<string, unknown>;
  switch (f.op) {
    case "eq":
      cond = { equals: scalar(f.value, `${path}.value`, false) };
      break;
    case "lt":
    case "le":
    case "gt":
    case "ge": {
      const key = { lt: "lt", le: "lte", gt: "gt", ge: "gte" }[f.op];
      cond = { [key]: scalar(f.value, `${path}.value`, true) };
      break;
    }
    case "in": {
      const vals = (f as { values?: unknown }).values ?? [];
      if (!Array.isArray(vals)) throw new PlanConversionError(`${path}.values`, "not a list");
      if (vals.length === 0) return nothing();
      cond = { in: vals.map((v, i) => scalar(v, `${path}.values[${i}]`, false)) };
      break;
    }
    case "contains":
      cond = { has: scalar(f.value, `${path}.value`, false) };
      break;
    case "under": {
      const u = f.value;
      if (typeof u !== "string") throw new PlanConversionError(`${path}.value`, "a unit must be a string");
      const why = unitProblem(u);
      if (why) throw new PlanConversionError(`${path}.value`, why);
      if (typeof col === "function") return checked(col(f), path);
      // The unit itself or below it on a segment boundary.
      if (u === "/") return field(col, { startsWith: "/" }, path);
      return { OR: [field(col, { equals: u }, path), field(col, { startsWith: `${u}/` }, path)] };
    }
    default:
      throw new PlanConversionError(`${path}.op`, "unknown filter op");
  }
  if (typeof col === "function") return checked(col(f), path);
  return field(col, cond, path);
}

function checked(w: unknown, path: string): PrismaWhere {
  if (!isObject(w) || Object.keys(w).length === 0) {
    // {} would match every record.
    throw new PlanConversionError(path, "the column function returned no condition");
  }
  return w;
}

function field(col: unknown, cond: Record<string, unknown>, path: string): PrismaWhere {
  if (typeof col !== "string") throw new PlanConversionError(path, "a column must be a field name or a function");
  const parts = col.split(".");
  for (const p of parts) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(p) || RESERVED.has(p)) {
      throw new PlanConversionError(path, `column ${shortQuote(col)} is not a Prisma field path`);
    }
  }
  let w: PrismaWhere = { [parts[parts.length - 1] as string]: cond };
  for (let i = parts.length - 2; i >= 0; i--) w = { [parts[i] as string]: w };
  return w;
}
