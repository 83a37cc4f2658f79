/** Principal classification: human, workload or agent, by configured rules over claims and SPIFFE IDs. */
import type { JsonObject, JsonValue, PrincipalType } from '../types.js';
import { compileGlobs, type GlobMatcher } from './glob.js';

/** One classification rule as configured (`identity.principalTypes.rules[]`). */
export interface PrincipalTypeRule {
  readonly type: Exclude<PrincipalType, 'anonymous'>;
  readonly issuers: readonly string[];
  readonly spiffeIds: readonly string[];
  readonly claims: Readonly<Record<string, readonly string[]>>;
  readonly delegated?: boolean | undefined;
}

/** What a rule can look at. */
export interface ClassifyFacts {
  /** Verified token claims; null for a peer without a token. */
  readonly claims: Readonly<JsonObject> | null;
  readonly issuer: string;
  /** The principal's SPIFFE ID (JWT-SVID `sub`, or the peer's), '' otherwise. */
  readonly spiffeId: string;
  /** True when the token has an RFC 8693 `act` claim. */
  readonly delegated: boolean;
}

/** Returns the type of the first matching rule, or null when none matches. */
export type Classifier = (facts: ClassifyFacts) => Exclude<PrincipalType, 'anonymous'> | null;

/** Reads a claim by exact name first, then as a dotted path (`realm_access.roles`). */
export function claimAt(claims: Readonly<JsonObject>, path: string): JsonValue | undefined {
  if (Object.hasOwn(claims, path)) return claims[path];
  if (!path.includes('.')) return undefined;
  let cur: JsonValue | undefined = claims as JsonObject;
  for (const part of path.split('.')) {
    if (cur === null || typeof cur !== 'object' || Array.isArray(cur) || !Object.hasOwn(cur, part))
      return undefined;
    cur = cur[part];
  }
  return cur;
}

function valueMatches(value: JsonValue | undefined, match: GlobMatcher): boolean {
  if (value === undefined || value === null) return false;
  if (Array.isArray(value)) return value.some((v) => typeof v !== 'object' && match(String(v)));
  return typeof value !== 'object' && match(String(value));
}

/** Compiles the rules into a classifier (globs compiled once). */
export function createClassifier(rules: readonly PrincipalTypeRule[]): Classifier {
  const compiled = rules.map((r) => ({
    type: r.type,
    issuers: r.issuers.length > 0 ? compileGlobs(r.issuers) : null,
    spiffeIds: r.spiffeIds.length > 0 ? compileGlobs(r.spiffeIds) : null,
    claims: Object.entries(r.claims).map(([path, globs]) => ({ path, match: compileGlobs(globs) })),
    delegated: r.delegated,
  }));
  return (facts) => {
    for (const r of compiled) {
      if (r.delegated !== undefined && r.delegated !== facts.delegated) continue;
      if (r.issuers && !(facts.issuer !== '' && r.issuers(facts.issuer))) continue;
      if (r.spiffeIds && !(facts.spiffeId !== '' && r.spiffeIds(facts.spiffeId))) continue;
      if (r.claims.length > 0) {
        const claims = facts.claims;
        if (claims === null || !r.claims.every((c) => valueMatches(claimAt(claims, c.path), c.match)))
          continue;
      }
      return r.type;
    }
    return null;
  };
}
