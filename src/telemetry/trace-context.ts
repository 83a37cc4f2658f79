/**
 * W3C Trace Context `traceparent` parsing (https://www.w3.org/TR/trace-context/#traceparent-header).
 */

/** The parts of a valid `traceparent` header. */
export interface TraceParent {
  /** 32 lower-case hex digits, not all zero. */
  readonly traceId: string;
  /** 16 lower-case hex digits (the caller's span), not all zero. */
  readonly parentId: string;
  /** Trace flags byte (bit 0 = sampled). */
  readonly flags: number;
}

const TRACEPARENT = /^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$/;

/** Parses a `traceparent` header value; undefined when malformed. */
export function parseTraceparent(tp: string): TraceParent | undefined {
  // §3.2.2: a receiver may trim surrounding whitespace (header values are OWS-trimmed anyway).
  const m = TRACEPARENT.exec(tp.trim());
  if (m === null) return undefined;
  const [, version, traceId, parentId, flags, rest] = m;
  if (version === undefined || traceId === undefined || parentId === undefined || flags === undefined) {
    return undefined;
  }
  // Version ff is forbidden; version 00 has exactly four fields; future versions may add more.
  if (version === 'ff' || (version === '00' && rest !== undefined)) return undefined;
  if (/^0+$/.test(traceId) || /^0+$/.test(parentId)) return undefined;
  return { traceId, parentId, flags: Number.parseInt(flags, 16) };
}

/** The trace id (32 hex digits) of a W3C `traceparent` header, '' if it is absent or malformed. */
export function traceIdFromTraceparent(tp: string): string {
  return parseTraceparent(tp)?.traceId ?? '';
}
