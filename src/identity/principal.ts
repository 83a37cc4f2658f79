/**
 * The Principal policies see. Token-derived parts (claims, scopes, groups, roles, actor chain, type)
 * are built once per verified token and frozen, so a cached token costs no per-request work here.
 */
import type { JsonObject, JsonValue, Principal, PrincipalType, SourceIdentity } from '../types.js';
import { ANONYMOUS } from '../types.js';
import { type Classifier, claimAt } from './classify.js';
import { credentialFailure, type KindedFailure } from './failure.js';
import type { ClaimMapping } from './jwt-verifier.js';

/** An RFC 8693 actor: the party acting on behalf of the subject (or of the next actor). */
export interface Actor {
  readonly sub: string;
  readonly claims: Readonly<JsonObject>;
}

/** Everything about a principal that comes from its token (no per-request parts). */
export interface TokenIdentity {
  readonly id: string;
  readonly type: Exclude<PrincipalType, 'anonymous'>;
  readonly issuer: string;
  readonly claims: Readonly<JsonObject>;
  readonly scopes: readonly string[];
  readonly groups: readonly string[];
  readonly roles: readonly string[];
  readonly act: readonly Actor[];
}

/** Default types when no rule matches (`identity.principalTypes`). */
export interface TypeDefaults {
  readonly delegatedType: Exclude<PrincipalType, 'anonymous'>;
  readonly tokenDefault: Exclude<PrincipalType, 'anonymous'>;
}

/** Deepest `act` nesting accepted. */
export const MAX_ACTOR_DEPTH = 8;
const EMPTY_LIST: readonly string[] = Object.freeze([]);
const EMPTY_OBJECT: Readonly<JsonObject> = Object.freeze({});
const NO_ACTORS: readonly Actor[] = Object.freeze([]);

/** Freezes a JSON value in place, recursively (claims are shared by every request with that token). */
export function deepFreeze<T extends JsonValue>(v: T): T {
  if (v !== null && typeof v === 'object' && !Object.isFrozen(v)) {
    for (const child of Object.values(v)) deepFreeze(child);
    Object.freeze(v);
  }
  return v;
}

/** Collects string values of the listed claims; `split` breaks strings on spaces (OAuth `scope`). */
function collect(claims: Readonly<JsonObject>, paths: readonly string[], split: boolean): readonly string[] {
  const out = new Set<string>();
  for (const path of paths) {
    const v = claimAt(claims, path);
    if (typeof v === 'string') {
      for (const s of split ? v.split(/\s+/) : [v]) if (s !== '') out.add(s);
    } else if (Array.isArray(v)) {
      for (const s of v) if (typeof s === 'string' && s !== '') out.add(s);
    }
  }
  return out.size === 0 ? EMPTY_LIST : Object.freeze([...out]);
}

/** The RFC 8693 §4.1 actor chain, outermost (current actor) first. */
function actorChain(claims: Readonly<JsonObject>): readonly Actor[] | string {
  if (!Object.hasOwn(claims, 'act')) return NO_ACTORS;
  const chain: Actor[] = [];
  let cur: JsonValue | undefined = claims.act;
  while (cur !== undefined) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur)) return 'act claim is not an object';
    if (typeof cur.sub !== 'string' || cur.sub === '') return 'act claim has no sub';
    if (chain.length >= MAX_ACTOR_DEPTH) return `act chain deeper than ${MAX_ACTOR_DEPTH}`;
    const { act: next, ...rest } = cur;
    chain.push(Object.freeze({ sub: cur.sub, claims: Object.freeze(rest) }));
    cur = next;
  }
  return Object.freeze(chain);
}

/** Builds the token part of a principal from verified claims; a malformed claim is a failure. */
export function buildTokenIdentity(
  payload: JsonObject,
  mapping: ClaimMapping,
  classify: Classifier,
  defaults: TypeDefaults,
): TokenIdentity | KindedFailure {
  const claims = deepFreeze(payload);
  const id = claimAt(claims, mapping.subject);
  if (typeof id !== 'string' || id === '') {
    return credentialFailure(
      'token_claim_missing',
      `subject claim "${mapping.subject}" missing or not a string`,
    );
  }
  const act = actorChain(claims);
  if (typeof act === 'string') return credentialFailure('token_invalid', act);
  const issuer = typeof claims.iss === 'string' ? claims.iss : '';
  const spiffeId = id.startsWith('spiffe://') ? id : '';
  const delegated = act.length > 0;
  const type =
    classify({ claims, issuer, spiffeId, delegated }) ??
    (delegated ? defaults.delegatedType : spiffeId !== '' ? 'workload' : defaults.tokenDefault);
  return Object.freeze({
    id,
    type,
    issuer,
    claims,
    scopes: collect(claims, mapping.scopes, true),
    groups: collect(claims, mapping.groups, false),
    roles: collect(claims, mapping.roles, false),
    act,
  });
}

/** The principal of a request with a verified token. */
export function tokenPrincipal(t: TokenIdentity, source: SourceIdentity): Principal {
  return {
    id: t.id,
    type: t.type,
    authenticated: true,
    issuer: t.issuer,
    claims: t.claims,
    scopes: t.scopes,
    groups: t.groups,
    roles: t.roles,
    act: t.act,
    source,
  };
}

/**
 * The principal of a request without a token: the peer workload when it has a SPIFFE ID
 * (authenticated — verified by us, or vouched for by Envoy's mTLS), else anonymous.
 */
export function peerPrincipal(source: SourceIdentity, classify: Classifier): Principal {
  if (source.spiffeId === '') return { ...ANONYMOUS, source };
  const type =
    classify({ claims: null, issuer: '', spiffeId: source.spiffeId, delegated: false }) ?? 'workload';
  return {
    id: source.spiffeId,
    type,
    authenticated: true,
    issuer: '',
    claims: EMPTY_OBJECT,
    scopes: EMPTY_LIST,
    groups: EMPTY_LIST,
    roles: EMPTY_LIST,
    act: NO_ACTORS,
    source,
  };
}
