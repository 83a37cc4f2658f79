/**
 * Turns the replayable `input` of a decision-log line (docs/observability.md, version 1) back into
 * the PolicyInput the sidecar evaluated — minus what the log never keeps (body, unrecorded headers,
 * certificate, metadata). Hand-written checks instead of a schema: this runs a million times.
 */
import type { PolicyInput } from '../policy/index.js';
import type { JsonObject, PeerInput, Principal, PrincipalType } from '../types.js';

/** The replayable input versions this code reads. */
export const SUPPORTED_INPUT_VERSIONS: readonly number[] = [1];

/** Why a recorded input cannot be evaluated again. */
export type UnreplayableReason = 'unsupported_version' | 'identity_failed' | 'malformed';

/** A rebuilt PolicyInput, or why there is none. */
export type ReplayInputResult =
  | { readonly ok: true; readonly input: PolicyInput }
  | { readonly ok: false; readonly reason: UnreplayableReason; readonly detail: string };

type Obj = Record<string, unknown>;
const EMPTY: Readonly<Record<string, string>> = Object.freeze({});
const NO_BYTES = new Uint8Array(0);
const TYPES: ReadonlySet<string> = new Set(['human', 'workload', 'agent', 'anonymous']);

const isObj = (v: unknown): v is Obj => typeof v === 'object' && v !== null && !Array.isArray(v);
const str = (v: unknown): string => (typeof v === 'string' ? v : '');
const num = (v: unknown): number => (typeof v === 'number' && Number.isFinite(v) ? v : 0);
const NONE: readonly string[] = Object.freeze([]);
/** A string array as logged (reused when it is one, which it always is from the sidecar). */
function strs(v: unknown): readonly string[] {
  if (!Array.isArray(v)) return NONE;
  for (const x of v) if (typeof x !== 'string') return v.filter((y) => typeof y === 'string');
  return v as string[];
}

/** A string map as logged; non-string values are dropped (they cannot come from the sidecar). */
function strMap(v: unknown): Readonly<Record<string, string>> {
  if (!isObj(v)) return EMPTY;
  for (const k in v) {
    if (typeof v[k] !== 'string') {
      const out: Record<string, string> = {};
      for (const [key, x] of Object.entries(v)) if (typeof x === 'string') out[key] = x;
      return out;
    }
  }
  return v as Record<string, string>;
}

function peer(v: unknown): PeerInput {
  const o = isObj(v) ? v : {};
  return {
    address: str(o.address),
    port: num(o.port),
    principal: str(o.principal),
    certificate: '',
    service: str(o.service),
    labels: strMap(o.labels),
  };
}

function principalOf(p: Obj, source: Obj): Principal {
  const type = TYPES.has(str(p.type)) ? (p.type as PrincipalType) : 'anonymous';
  const act =
    Array.isArray(p.act) && p.act.length > 0
      ? p.act
          .filter(isObj)
          .map((a) => ({ sub: str(a.sub), claims: (isObj(a.claims) ? a.claims : {}) as JsonObject }))
      : [];
  return {
    id: str(p.id),
    type,
    authenticated: p.authenticated === true,
    issuer: str(p.issuer),
    claims: (isObj(p.claims) ? p.claims : {}) as JsonObject,
    scopes: strs(p.scopes),
    groups: strs(p.groups),
    roles: strs(p.roles),
    act,
    source: {
      principal: str(source.principal),
      spiffeId: str(source.spiffeId),
      trustDomain: str(source.trustDomain),
      path: str(source.path),
      namespace: str(source.namespace),
      serviceAccount: str(source.serviceAccount),
      verified: source.verified === true,
      address: str(source.address),
    },
  };
}

/** Rebuilds the PolicyInput of one logged decision; `requestId` comes from the line itself. */
export function policyInputOf(input: unknown, requestId = ''): ReplayInputResult {
  if (!isObj(input)) return { ok: false, reason: 'malformed', detail: 'no input object' };
  if (!SUPPORTED_INPUT_VERSIONS.includes(input.v as number))
    return { ok: false, reason: 'unsupported_version', detail: `input version ${String(input.v)}` };
  if (input.principal === null)
    return { ok: false, reason: 'identity_failed', detail: 'identification failed: nothing to evaluate' };
  const req = input.request;
  if (!isObj(req) || !isObj(input.principal) || typeof req.path !== 'string')
    return { ok: false, reason: 'malformed', detail: 'input.request or input.principal is missing' };
  const source = isObj(input.source) ? input.source : {};
  const path = req.path;
  const timeMs = num(input.timeMs);
  const policyInput: { -readonly [K in keyof PolicyInput]: PolicyInput[K] } = {
    request: {
      source: peer(source),
      destination: peer(input.destination),
      request: {
        id: '',
        method: str(req.method),
        path,
        rawPath: path,
        query: strMap(req.query),
        host: str(req.host),
        scheme: str(req.scheme),
        protocol: str(req.protocol),
        headers: strMap(req.headers),
        body: '',
        rawBody: NO_BYTES,
        size: -1,
        timeMs,
        pathInvalid: req.pathInvalid === true,
      },
      contextExtensions: strMap(input.contextExtensions),
      metadata: {},
      routeMetadata: {},
      requestId,
      traceparent: '',
      tlsSni: '',
    },
    principal: principalOf(input.principal, source),
    now: timeMs,
  };
  if (typeof input.action === 'string') policyInput.action = input.action;
  const r = input.resource;
  if (isObj(r))
    policyInput.resource = {
      kind: str(r.kind),
      id: str(r.id),
      attributes: (isObj(r.attributes) ? r.attributes : {}) as JsonObject,
    };
  return { ok: true, input: policyInput };
}
