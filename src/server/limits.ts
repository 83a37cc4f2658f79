/**
 * Content limits of the Check front doors (header count and size, embedded body) and the bound on
 * concurrent Checks. Content over a limit is a *deny* (431/413, reason `request_too_large`), never
 * a fault: a fault would let Envoy's `failure_mode_allow` turn an oversized request into an allow.
 * Defaults and their reasons: docs/limits.md.
 */
import { z } from 'zod';
import type { Metrics } from '../telemetry/metrics.js';
import { type Decision, NO_OBLIGATIONS } from '../types.js';
import type { CheckRequestView, HttpRequestView } from './check-request-view.js';

/** Config of the content limits (`server.limits`). */
export const limitsConfigSchema = z
  .object({
    maxHeaders: z
      .number()
      .int()
      .min(8)
      .default(1000)
      .describe(
        'Most request headers in one Check (`headers` plus `header_map` entries, pseudo-headers included; HTTP mode: request headers); more is a 431 deny.',
      ),
    maxHeaderBytes: z
      .number()
      .int()
      .min(16 * 1024)
      .default(2 * 1024 * 1024)
      .describe(
        'Largest total size of header names and values in one Check, in bytes (a 1 MiB header passes by default); more is a 431 deny.',
      ),
    maxBodyBytes: z
      .number()
      .int()
      .min(0)
      .default(1024 * 1024)
      .describe(
        'Largest request body Envoy may embed in a CheckRequest (`body` / `raw_body`, `with_request_body`), in bytes; more is a 413 deny.',
      ),
  })
  .strict()
  .describe('Content limits of a Check; over a limit is a deny (not a fault). See docs/limits.md.');

/** Content limits after parsing. */
export type LimitsConfig = z.output<typeof limitsConfigSchema>;

/** Which limit a request broke, by how much, and the HTTP status of the deny. */
export interface LimitViolation {
  readonly limit: 'maxHeaders' | 'maxHeaderBytes' | 'maxBodyBytes';
  readonly actual: number;
  readonly max: number;
  readonly httpStatus: 413 | 431;
}

function violation(limit: LimitViolation['limit'], actual: number, max: number): LimitViolation {
  return { limit, actual, max, httpStatus: limit === 'maxBodyBytes' ? 413 : 431 };
}

/** Checks header count and bytes (names + values) against the limits. */
export function checkHeaderLimits(
  count: number,
  bytes: number,
  limits: LimitsConfig,
): LimitViolation | undefined {
  if (count > limits.maxHeaders) return violation('maxHeaders', count, limits.maxHeaders);
  if (bytes > limits.maxHeaderBytes) return violation('maxHeaderBytes', bytes, limits.maxHeaderBytes);
  return undefined;
}

/** The first limit a decoded CheckRequest breaks, undefined when within all (hot path: no allocation). */
export function checkRequestLimits(req: CheckRequestView, limits: LimitsConfig): LimitViolation | undefined {
  const http = req.attributes?.request?.http;
  if (http === undefined) return undefined;
  // The decoder counted the entries as it read them, an upper bound of the totals (a repeated
  // `headers` key overwrites): within the limits, so are the exact totals.
  const entries = http.headerEntries;
  const entryBytes = http.headerEntryBytes;
  if (
    entries === undefined ||
    entryBytes === undefined ||
    entries > limits.maxHeaders ||
    entryBytes > limits.maxHeaderBytes
  ) {
    const v = exactHeaderLimits(http, limits);
    if (v !== undefined) return v;
  }
  // `body` is a string: its length in UTF-16 units is ≤ its UTF-8 size, a cheap lower bound.
  const body = Math.max(http.body.length, http.rawBody.length);
  return body > limits.maxBodyBytes ? violation('maxBodyBytes', body, limits.maxBodyBytes) : undefined;
}

/** Counts the headers (`headers` keys and `header_map` values) and their names + values. */
function exactHeaderLimits(http: HttpRequestView, limits: LimitsConfig): LimitViolation | undefined {
  let count = 0;
  let bytes = 0;
  const headers = http.headers;
  for (const name in headers) {
    count++;
    bytes += name.length + (headers[name]?.length ?? 0);
  }
  const map = http.headerMap?.headers;
  if (map !== undefined) {
    for (const h of map) {
      count++;
      bytes += h.key.length + Math.max(h.rawValue.length, h.value.length);
    }
  }
  return checkHeaderLimits(count, bytes, limits);
}

const DECISIONS: Record<413 | 431, Decision> = {
  413: limitDecision(413),
  431: limitDecision(431),
};

function limitDecision(httpStatus: 413 | 431): Decision {
  return Object.freeze({
    allowed: false,
    status: 403,
    reason: 'request_too_large',
    ruleIds: [],
    policy: '',
    shadow: [],
    obligations: Object.freeze({ ...NO_OBLIGATIONS, denyStatus: httpStatus }),
    errors: [],
    evalMicros: 0,
  });
}

/** The deny for a request over a limit (counted as a `request_too_large` deny of `api`). */
export function denyOverLimit(v: LimitViolation, metrics: Metrics, api: 'grpc' | 'http'): Decision {
  metrics.decisions.inc({ outcome: 'deny', reason: 'request_too_large', policy: 'none', api });
  return DECISIONS[v.httpStatus];
}

/** A counter of concurrent calls with a fixed bound (one per front door). */
export class InFlightLimit {
  private n = 0;

  constructor(readonly max: number) {}

  /** Takes a slot; false (nothing taken) when `max` calls are already in flight. */
  tryAcquire(): boolean {
    if (this.n >= this.max) return false;
    this.n++;
    return true;
  }

  /** Gives a slot back. */
  release(): void {
    if (this.n > 0) this.n--;
  }

  /** Calls in flight now. */
  get current(): number {
    return this.n;
  }
}
