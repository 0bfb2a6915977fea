// Applying a /v1/fields answer to a record: which of its fields the subject
// may read (or write). Field names are the FieldPolicy's, dotted for nested
// objects ("custom.warrantyCode").

import type { FieldsResponse } from "./types.js";

export type FieldMode = "read" | "write";

type Access = Pick<FieldsResponse, "covered" | "default" | "readable" | "writable" | "hidden">;

function isPlain(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;
}

function allowed(a: Access, name: string, mode: FieldMode): boolean | undefined {
  if (mode === "read" ? a.readable.includes(name) : a.writable.includes(name)) return true;
  if (a.readable.includes(name) || a.writable.includes(name) || a.hidden.includes(name)) return false;
  return undefined; // not listed by the policy
}

function byDefault(a: Access, mode: FieldMode): boolean {
  return mode === "read" ? a.default !== "hidden" : a.default === "write";
}

function walk(a: Access, obj: Record<string, unknown>, prefix: string, mode: FieldMode, out: Record<string, unknown>, denied: string[]): void {
  const listed = [...a.readable, ...a.writable, ...a.hidden];
  for (const [k, v] of Object.entries(obj)) {
    const name = prefix + k;
    const ok = allowed(a, name, mode);
    if (ok === true) {
      out[k] = v;
    } else if (ok === false) {
      denied.push(name);
    } else if (isPlain(v) && listed.some((f) => f.startsWith(`${name}.`))) {
      const sub: Record<string, unknown> = {};
      walk(a, v, `${name}.`, mode, sub, denied);
      // Nothing of it visible: leave the object out rather than show an empty one.
      if (Object.keys(sub).length > 0 || Object.keys(v).length === 0) out[k] = sub;
    } else if (byDefault(a, mode)) {
      out[k] = v;
    } else {
      denied.push(name);
    }
  }
}

function check(a: Access): void {
  if (!a || typeof a.covered !== "boolean" || !Array.isArray(a.readable) || !Array.isArray(a.writable) || !Array.isArray(a.hidden)) {
    throw new TypeError("gatehouse: maskFields needs a fields answer (client.fields)");
  }
}

/**
 * A copy of record with only the fields the subject may read (mode "read",
 * the default) or write (mode "write"). Not covered by a FieldPolicy: every
 * field. A subject denied everything (reason set): default hidden, so
 * nothing but fields explicitly readable.
 */
export function maskFields<T extends Record<string, unknown>>(record: T, access: Access, mode: FieldMode = "read"): Partial<T> {
  check(access);
  if (!access.covered) return { ...record };
  const out: Record<string, unknown> = {};
  walk(access, record, "", mode, out, []);
  return out as Partial<T>;
}

/**
 * The fields of record the subject may not read or write (dotted names),
 * e.g. to refuse an update that sets a field it may not write.
 */
export function forbiddenFields(record: Record<string, unknown>, access: Access, mode: FieldMode = "write"): string[] {
  check(access);
  if (!access.covered) return [];
  const denied: string[] = [];
  walk(access, record, "", mode, {}, denied);
  return denied;
}
