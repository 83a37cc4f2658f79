/**
 * The decision record the server hands over, and the replayable `input` object built from it:
 * the policy-relevant request, principal and resource, with every secret removed.
 */

import type { AuthzInput, Decision, JsonObject, JsonValue, Principal } from '../types.js';
import type { TelemetryConfig } from './config.js';
import { NEVER_LOGGED_HEADERS } from './config.js';
import {
  isSecretHeaderName,
  REDACTED,
  type ScrubState,
  scrubJson,
  scrubText,
  stripXfccCertificates,
} from './redact.js';

/** One decision, as the server hands it to the decision logger. */
export interface DecisionRecord {
  /** Unique id of this decision (also returned to Envoy). */
  readonly decisionId: string;
  readonly api: 'grpc' | 'http' | 'check';
  readonly input: AuthzInput;
  /** The identified caller; undefined when identification failed. */
  readonly principal: Principal | undefined;
  readonly decision: Decision;
  readonly bundleRevision: string;
  /** End-to-end Check latency in microseconds. */
  readonly latencyMicros: number;
  /** When the decision was made (ms since epoch). */
  readonly timeMs: number;
  /** Resource of an imperative check (check API / resolvers). */
  readonly resource?: { kind: string; id: string; attributes: JsonObject };
  readonly action?: string;
  /** Trace id of the Check span when tracing started a new trace; else taken from `traceparent`. */
  readonly traceId?: string;
  /** The candidate (shadow) policy set's answer, when the active bundle carries one (never enforced). */
  readonly candidate?: Decision;
}

/** Version of the replayable `input` object's shape (docs/observability.md). */
export const DECISION_INPUT_VERSION = 1;

/** Redaction and shape options, derived once from the config. */
export interface LineOptions {
  readonly includeQuery: boolean;
  readonly recordHeaders: readonly string[];
  readonly redactHeaders: readonly string[];
  readonly redactClaims: readonly string[];
  readonly maxStringLength: number;
}

/** Derives line options from the decision-log config. */
export function lineOptions(config: TelemetryConfig['decisionLog']): LineOptions {
  const redactHeaders = [...NEVER_LOGGED_HEADERS, ...config.redactHeaders];
  return {
    includeQuery: config.includeQuery,
    redactHeaders,
    // Belt and braces: the schema refuses these, but a hand-built config must not leak either.
    recordHeaders: config.recordHeaders.filter((h) => !isSecretHeaderName(h, redactHeaders)),
    redactClaims: config.redactClaims,
    maxStringLength: config.maxStringLength,
  };
}

function selectHeaders(headers: Readonly<Record<string, string>>, o: LineOptions, s: ScrubState): JsonObject {
  const out: JsonObject = {};
  for (const name of o.recordHeaders) {
    const value = headers[name];
    if (value === undefined) continue;
    const kept = name === 'x-forwarded-client-cert' ? stripXfccCertificates(value) : value;
    if (kept !== value) s.redacted = true;
    out[name] = scrubText(kept, s, o.maxStringLength);
  }
  return out;
}

/** The parsed query with secret-looking parameters redacted (only with `includeQuery`). */
export function scrubQuery(
  query: Readonly<Record<string, string>>,
  o: LineOptions,
  s: ScrubState,
): JsonObject {
  const out: JsonObject = {};
  for (const [key, value] of Object.entries(query)) {
    const secret = isSecretHeaderName(key.toLowerCase(), []) || /sig|code|key|pass/i.test(key);
    if (secret) s.redacted = true;
    out[scrubText(key, s, o.maxStringLength)] = secret ? REDACTED : scrubText(value, s, o.maxStringLength);
  }
  return out;
}

function principalInput(p: Principal, o: LineOptions, s: ScrubState): JsonValue {
  const str = (v: string) => scrubText(v, s, o.maxStringLength);
  const claims = (c: Readonly<JsonObject>) =>
    scrubJson(c as JsonObject, s, o.maxStringLength, o.redactClaims);
  return {
    id: str(p.id),
    type: p.type,
    authenticated: p.authenticated,
    issuer: str(p.issuer),
    claims: claims(p.claims),
    scopes: p.scopes.map(str),
    groups: p.groups.map(str),
    roles: p.roles.map(str),
    act: p.act.map((a) => ({ sub: str(a.sub), claims: claims(a.claims) })),
  };
}

const SPIFFE = /^spiffe:\/\/([^/]+)(\/.*)?$/;

function sourceInput(r: DecisionRecord, s: ScrubState, max: number): JsonObject {
  const src = r.input.source;
  const id = r.principal?.source;
  const m = SPIFFE.exec(src.principal);
  const path = id?.path ?? m?.[2] ?? '';
  const ns = /^\/ns\/([^/]+)\/sa\/([^/]+)$/.exec(path);
  return {
    address: src.address,
    port: src.port,
    principal: scrubText(src.principal, s, max),
    spiffeId: id?.spiffeId ?? (m === null ? '' : src.principal),
    trustDomain: id?.trustDomain ?? m?.[1] ?? '',
    path,
    namespace: id?.namespace ?? ns?.[1] ?? '',
    serviceAccount: id?.serviceAccount ?? ns?.[2] ?? '',
    verified: id?.verified ?? false,
    service: scrubText(src.service, s, max),
  };
}

/** Builds the secret-free replayable `input` object (shape version DECISION_INPUT_VERSION). */
export function replayInput(
  r: DecisionRecord,
  o: LineOptions,
  s: ScrubState,
  query: JsonObject | undefined,
): JsonObject {
  const req = r.input.request;
  const max = o.maxStringLength;
  const request: JsonObject = {
    method: scrubText(req.method, s, max),
    host: scrubText(req.host, s, max),
    path: scrubText(req.path, s, max),
    scheme: req.scheme,
    protocol: req.protocol,
    pathInvalid: req.pathInvalid,
    headers: selectHeaders(req.headers, o, s),
  };
  if (query !== undefined) request.query = query;
  const dst = r.input.destination;
  const out: JsonObject = {
    v: DECISION_INPUT_VERSION,
    timeMs: r.timeMs,
    source: sourceInput(r, s, max),
    destination: {
      address: dst.address,
      port: dst.port,
      principal: scrubText(dst.principal, s, max),
      labels: scrubJson(dst.labels as JsonObject, s, max),
    },
    principal: r.principal === undefined ? null : principalInput(r.principal, o, s),
    request,
    contextExtensions: scrubJson(r.input.contextExtensions as JsonObject, s, max),
  };
  if (r.resource !== undefined) {
    out.resource = {
      kind: scrubText(r.resource.kind, s, max),
      id: scrubText(r.resource.id, s, max),
      attributes: scrubJson(r.resource.attributes, s, max),
    };
  }
  if (r.action !== undefined) out.action = scrubText(r.action, s, max);
  return out;
}
