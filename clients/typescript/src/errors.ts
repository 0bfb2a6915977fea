/**
 * Where an error came from:
 * - "validation": the client refused the request before sending it (the
 *   server would have answered 400/413); status is 0.
 * - "http": the server answered with an error status (status is set).
 * - "network": no answer (connection refused, reset, timeout); status 0.
 * - "response": the server answered 2xx with a body that is not the
 *   documented shape; treated as an error, never as a decision.
 * - "aborted": the caller's AbortSignal fired.
 */
export type GatehouseErrorKind = "validation" | "http" | "network" | "response" | "aborted";

export interface GatehouseErrorInit {
  kind: GatehouseErrorKind;
  status?: number;
  field?: string;
  reason: string;
  revision?: string;
  requestId?: string;
  retryAfterMs?: number;
  attempts?: number;
  cause?: unknown;
}

/**
 * Every failure of the client. A GatehouseError is never a decision: a
 * caller that catches it must deny.
 */
export class GatehouseError extends Error {
  readonly kind: GatehouseErrorKind;
  /** HTTP status (0 when no answer or refused client-side). */
  readonly status: number;
  /** The request field at fault, e.g. "subject.id" or "columns.unit" (undefined when none). */
  readonly field: string | undefined;
  /** What is wrong, e.g. "expected string, got number". */
  readonly reason: string;
  /** The Gatehouse-Revision of the error answer, when the server sent one. */
  readonly revision: string | undefined;
  /** X-Request-ID sent with the request, when any. */
  readonly requestId: string | undefined;
  /** Retry-After of the last answer, in milliseconds. */
  readonly retryAfterMs: number | undefined;
  /** Attempts made (1 + retries). */
  readonly attempts: number;

  constructor(init: GatehouseErrorInit) {
    const msg = (init.field ? `${init.field}: ${init.reason}` : init.reason);
    const prefix = init.kind === "http" ? `gatehouse: HTTP ${init.status}: ` : `gatehouse: ${init.kind}: `;
    super(prefix + msg, init.cause === undefined ? undefined : { cause: init.cause });
    this.name = "GatehouseError";
    this.kind = init.kind;
    this.status = init.status ?? 0;
    this.field = init.field || undefined;
    this.reason = init.reason;
    this.revision = init.revision || undefined;
    this.requestId = init.requestId;
    this.retryAfterMs = init.retryAfterMs;
    this.attempts = init.attempts ?? 0;
  }
}

/** A client-side refusal naming the field, as the server would. */
export function validationError(field: string, reason: string): GatehouseError {
  return new GatehouseError({ kind: "validation", field, reason });
}

/**
 * Splits a server error message "field: reason" (the decoder's format) into
 * its parts; messages without a field path ("request body larger than ...")
 * have no field.
 */
export function splitServerMessage(msg: string): { field: string | undefined; reason: string } {
  const i = msg.indexOf(": ");
  if (i > 0) {
    const head = msg.slice(0, i);
    // A field path: identifiers, dots, [index] and quoted keys, no spaces
    // outside quotes.
    if (/^(?:[A-Za-z0-9_-]+|\["(?:[^"\\]|\\.)*"…?\])(?:\.[A-Za-z0-9_-]+|\[\d+\]|\["(?:[^"\\]|\\.)*"…?\])*$/.test(head)) {
      return { field: head, reason: msg.slice(i + 2) };
    }
  }
  return { field: undefined, reason: msg };
}

/**
 * Quotes an untrusted string for a message: at most 32 UTF-16 code units
 * of it (not splitting a surrogate pair), then "…" when cut, as the server's
 * ShortValue does.
 */
export function shortQuote(s: string): string {
  const limit = 32;
  if (s.length <= limit) return JSON.stringify(s);
  let n = limit;
  const c = s.charCodeAt(n - 1);
  if (c >= 0xd800 && c <= 0xdbff) n--; // a high surrogate would be split
  return JSON.stringify(s.slice(0, n)) + "…";
}
