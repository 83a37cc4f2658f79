/**
 * `from` / `to` / selector conditions compiled to closures. Semantics (docs/policy-language.md):
 * inside one entry every listed field must match; `notX` fields must not match; an empty request
 * attribute (no peer, no token, no action) never matches a positive list — not even `*`.
 */

import type { z } from 'zod';
import { cidrContains, parseCidr } from './cidr.js';
import type { EvalCtx } from './eval-ctx.js';
import { compileGlobSet, compileListMatcher, type GlobMatcher, isLiteralGlob } from './glob.js';
import type { Cond, CondValue, FromEntry, OpEntry } from './model.js';
import {
  compilePathPattern,
  matchPathPattern,
  NO_PARAMS,
  type PathParams,
  type PathPattern,
} from './path-pattern.js';
import type { fromSchema, selectorSchema, toSchema } from './schema.js';

type FromSpec = z.output<typeof fromSchema>;
type ToSpec = z.output<typeof toSchema>;
type SelectorSpec = z.output<typeof selectorSchema>;

/** Reports a problem found while compiling a field (path inside the entry, message). */
export type FieldProblem = (at: readonly (string | number)[], message: string) => void;

/**
 * Conditions and path lists already built within one compile, by field and values: thousands of
 * policies repeat the same methods, callers and paths, and each repeat then costs nothing.
 */
export interface MatcherCache {
  readonly conds: Map<string, Cond>;
  readonly paths: Map<string, readonly PathPattern[]>;
}

/** An empty cache for one compile. */
export function createMatcherCache(): MatcherCache {
  return { conds: new Map(), paths: new Map() };
}

function cached(
  cache: MatcherCache | undefined,
  field: string,
  values: readonly CondValue[],
  build: () => Cond,
): Cond {
  if (cache === undefined) return build();
  const key = `${field}\0${JSON.stringify(values)}`;
  let cond = cache.conds.get(key);
  if (cond === undefined) {
    cond = build();
    cache.conds.set(key, cond);
  }
  return cond;
}

/** An array built with push, at its exact size (V8 gives a pushed-to array 17 slots). */
function exactSize<T>(a: T[]): readonly T[] {
  return a.length === 0 ? NONE : a.slice();
}

const NONE: readonly never[] = [];

function list(values: readonly CondValue[]): string {
  return `[${values.join(', ')}]`;
}

/** What `explain` prints for a condition, e.g. `methods [GET, HEAD]`. */
export function condLabel(cond: Cond): string {
  return cond.field === 'authenticated'
    ? `authenticated ${cond.values[0]}`
    : `${cond.field} ${list(cond.values)}`;
}

// Request attributes the conditions read: module-level, so conditions share them.
const peer = (c: EvalCtx) => c.input.principal.source.principal;
const trustDomain = (c: EvalCtx) => c.input.principal.source.trustDomain;
const namespace = (c: EvalCtx) => c.input.principal.source.namespace;
const serviceAccount = (c: EvalCtx) => {
  const s = c.input.principal.source;
  return s.serviceAccount === '' ? '' : `${s.namespace}/${s.serviceAccount}`;
};
const requestPrincipal = (c: EvalCtx) => {
  const p = c.input.principal;
  return p.issuer === '' ? '' : `${p.issuer}/${p.id}`;
};
const issuer = (c: EvalCtx) => c.input.principal.issuer;
const subject = (c: EvalCtx) => c.input.principal.id;
const principalType = (c: EvalCtx) => c.input.principal.type;
const actor = (c: EvalCtx) => c.input.principal.act[0]?.sub ?? '';
const action = (c: EvalCtx) => c.input.action ?? '';
const resourceKind = (c: EvalCtx) => c.input.resource?.kind ?? '';
const address = (c: EvalCtx) => c.input.principal.source.address || c.input.request.source.address;
const method = (c: EvalCtx) => c.method;
const port = (c: EvalCtx) => String(c.port);
const host = (c: EvalCtx) => c.host;
const authenticated = (c: EvalCtx) => String(c.input.principal.authenticated);

/**
 * A condition on one string of the request: an empty value never matches (and always matches the
 * negated form). Two closures rather than one with a `negate` branch: this runs per request.
 */
function stringCond(
  field: string,
  values: readonly CondValue[],
  get: (c: EvalCtx) => string,
  m: GlobMatcher,
  negate: boolean,
): Cond {
  return negate
    ? {
        field,
        values,
        test: (c) => {
          const v = get(c);
          return v === '' || !m(v);
        },
        actual: get,
      }
    : {
        field,
        values,
        test: (c) => {
          const v = get(c);
          return v !== '' && m(v);
        },
        actual: get,
      };
}

/** A glob condition on one string attribute; `negate` for `notX` fields. */
function globCond(
  cache: MatcherCache | undefined,
  field: string,
  patterns: readonly string[],
  get: (c: EvalCtx) => string,
  negate: boolean,
): Cond {
  return cached(cache, field, patterns, () =>
    stringCond(field, patterns, get, compileGlobSet(patterns), negate),
  );
}

function addGlob(
  cache: MatcherCache | undefined,
  conds: Cond[],
  field: string,
  pos: readonly string[] | undefined,
  neg: readonly string[] | undefined,
  get: (c: EvalCtx) => string,
): void {
  if (pos) conds.push(globCond(cache, field, pos, get, false));
  if (neg) conds.push(globCond(cache, `not${field[0]?.toUpperCase()}${field.slice(1)}`, neg, get, true));
}

const stripScheme = (s: string) => (s.startsWith('spiffe://') ? s.slice(9) : s);

/** `principals`: full `spiffe://…` patterns, or Istio's scheme-less `td/ns/x/sa/y`. */
function principalCond(
  cache: MatcherCache | undefined,
  field: string,
  patterns: readonly string[],
  negate: boolean,
): Cond {
  return cached(cache, field, patterns, () => {
    const istioPatterns = patterns.filter((p) => !p.includes('://'));
    // The list itself when every pattern is a full SPIFFE ID (the usual case): filter's result
    // has room to grow, and the matcher keeps what it is given.
    const fullPatterns =
      istioPatterns.length === 0 ? patterns : patterns.filter((p) => p.includes('://')).slice();
    const full = compileGlobSet(fullPatterns);
    const istio = compileGlobSet(istioPatterns.slice());
    const m =
      istioPatterns.length === 0
        ? full
        : fullPatterns.length === 0
          ? (v: string) => istio(stripScheme(v))
          : (v: string) => full(v) || istio(stripScheme(v));
    return stringCond(field, patterns, peer, m, negate);
  });
}

/** Parses CIDR blocks, reporting invalid ones (kept apart so the condition's closures never hold `problem`). */
function parseBlocks(field: string, blocks: readonly string[], problem: FieldProblem) {
  return blocks.map((b, i) => {
    const c = parseCidr(b);
    if (c === undefined) problem([field, i], `invalid IP address or CIDR block '${b}'`);
    return c;
  });
}

function cidrCond(field: string, blocks: readonly string[], negate: boolean, problem: FieldProblem): Cond {
  const parsed = parseBlocks(field, blocks, problem);
  const m = (v: string) => parsed.some((b) => b !== undefined && cidrContains(b, v));
  return {
    field,
    values: blocks,
    test: (c) => (negate ? !m(address(c)) : m(address(c))),
    actual: address,
  };
}

/** Compiles one `from` entry; `cache` shares identical conditions across the set. */
export function compileFrom(spec: FromSpec, problem: FieldProblem, cache?: MatcherCache): FromEntry {
  const conds: Cond[] = [];
  if (spec.principals) conds.push(principalCond(cache, 'principals', spec.principals, false));
  if (spec.notPrincipals) conds.push(principalCond(cache, 'notPrincipals', spec.notPrincipals, true));
  addGlob(cache, conds, 'trustDomains', spec.trustDomains, spec.notTrustDomains, trustDomain);
  addGlob(cache, conds, 'namespaces', spec.namespaces, spec.notNamespaces, namespace);
  const qualify = (xs: readonly string[] | undefined) => xs?.map((x) => (x.includes('/') ? x : `*/${x}`));
  addGlob(
    cache,
    conds,
    'serviceAccounts',
    qualify(spec.serviceAccounts),
    qualify(spec.notServiceAccounts),
    serviceAccount,
  );
  addGlob(
    cache,
    conds,
    'requestPrincipals',
    spec.requestPrincipals,
    spec.notRequestPrincipals,
    requestPrincipal,
  );
  addGlob(cache, conds, 'issuers', spec.issuers, spec.notIssuers, issuer);
  addGlob(cache, conds, 'ids', spec.ids, spec.notIds, subject);
  if (spec.ipBlocks) conds.push(cidrCond('ipBlocks', spec.ipBlocks, false, problem));
  if (spec.notIpBlocks) conds.push(cidrCond('notIpBlocks', spec.notIpBlocks, true, problem));
  addGlob(cache, conds, 'types', spec.types, spec.notTypes, principalType);
  addGlob(cache, conds, 'actors', spec.actors, spec.notActors, actor);
  if (spec.authenticated !== undefined) {
    const want = spec.authenticated;
    conds.push(
      cached(cache, 'authenticated', [want], () => ({
        field: 'authenticated',
        values: [want],
        test: (c) => c.input.principal.authenticated === want,
        actual: authenticated,
      })),
    );
  }
  return { conds: exactSize(conds), delegation: spec.actors !== undefined };
}

function compilePaths(
  field: string,
  patterns: readonly string[] | undefined,
  problem: FieldProblem,
  cache: MatcherCache | undefined,
): readonly PathPattern[] | undefined {
  if (patterns === undefined) return undefined;
  const key = JSON.stringify(patterns);
  const known = cache?.paths.get(key);
  if (known !== undefined) return known;
  const out: PathPattern[] = [];
  patterns.forEach((src, i) => {
    const r = compilePathPattern(src);
    if (r.ok) out.push(r.pattern);
    else problem([field, i], r.message);
  });
  const list = exactSize(out);
  // Lists with an invalid pattern are not shared: each place reports its problem.
  if (out.length === patterns.length) cache?.paths.set(key, list);
  return list;
}

function methodCond(field: string, methods: readonly string[], negate: boolean): Cond {
  const any = methods.includes('*');
  const m = any ? undefined : compileListMatcher(methods.map((x) => x.toUpperCase()));
  const test: (c: EvalCtx) => boolean =
    m === undefined ? () => !negate : negate ? (c) => !m(c.method) : (c) => m(c.method);
  return { field, values: methods, test, actual: method };
}

function portCond(field: string, ports: readonly number[], negate: boolean): Cond {
  const m = compileListMatcher(ports);
  return { field, values: ports, test: (c) => m(c.port) !== negate, actual: port };
}

function hostCond(field: string, hosts: readonly string[], negate: boolean): Cond {
  const only = hosts.length === 1 && isLiteralGlob(hosts[0] ?? '*') ? hosts[0] : undefined;
  // One exact host (a selector's usual form): one closure instead of a matcher and its list.
  const m = only === undefined ? compileGlobSet(hosts) : undefined;
  const hit =
    m === undefined
      ? (c: EvalCtx) => c.host !== '' && (c.host === only || (c.hostName !== c.host && c.hostName === only))
      : (c: EvalCtx) => c.host !== '' && (m(c.host) || (c.hostName !== c.host && m(c.hostName)));
  return { field, values: hosts, test: negate ? (c) => !hit(c) : hit, actual: host };
}

/** Compiles a `to` entry or a selector (which adds contextExtensions and resources). */
export function compileOp(spec: ToSpec & SelectorSpec, problem: FieldProblem, cache?: MatcherCache): OpEntry {
  const conds: Cond[] = [];
  const add = (field: string, values: readonly CondValue[] | undefined, build: () => Cond) => {
    if (values !== undefined) conds.push(cached(cache, field, values, build));
  };
  const { methods, notMethods, hosts, notHosts, ports, notPorts } = spec;
  add('methods', methods, () => methodCond('methods', methods ?? NONE, false));
  add('notMethods', notMethods, () => methodCond('notMethods', notMethods ?? NONE, true));
  add('hosts', hosts, () => hostCond('hosts', hosts ?? NONE, false));
  add('notHosts', notHosts, () => hostCond('notHosts', notHosts ?? NONE, true));
  add('ports', ports, () => portCond('ports', ports ?? NONE, false));
  add('notPorts', notPorts, () => portCond('notPorts', notPorts ?? NONE, true));
  addGlob(cache, conds, 'actions', spec.actions, spec.notActions, action);
  for (const [key, pattern] of Object.entries(spec.contextExtensions ?? {}).sort(([a], [b]) =>
    a < b ? -1 : 1,
  )) {
    const get = (c: EvalCtx) => c.input.request.contextExtensions[key] ?? '';
    conds.push(globCond(cache, `contextExtensions.${key}`, [pattern], get, false));
  }
  if (spec.resources) conds.push(globCond(cache, 'resources', spec.resources, resourceKind, false));
  return {
    conds: exactSize(conds),
    paths: compilePaths('paths', spec.paths, problem, cache),
    notPaths: compilePaths('notPaths', spec.notPaths, problem, cache),
  };
}

/** Matches an op entry; returns the captured path params, or undefined when it does not match. */
export function matchOp(e: OpEntry, c: EvalCtx): PathParams | undefined {
  for (const cond of e.conds) if (!cond.test(c)) return undefined;
  if (e.notPaths) for (const p of e.notPaths) if (matchPathPattern(p, c.path) !== undefined) return undefined;
  if (e.paths === undefined) return NO_PARAMS;
  for (const p of e.paths) {
    const params = matchPathPattern(p, c.path);
    if (params !== undefined) return params;
  }
  return undefined;
}

/** Why an op entry does not match (undefined when it does). */
export function whyOp(e: OpEntry, c: EvalCtx): string | undefined {
  for (const cond of e.conds)
    if (!cond.test(c)) return `${condLabel(cond)} does not match '${cond.actual(c)}'`;
  if (e.notPaths?.some((p) => matchPathPattern(p, c.path) !== undefined)) return `notPaths match '${c.path}'`;
  if (e.paths && !e.paths.some((p) => matchPathPattern(p, c.path) !== undefined)) {
    return `paths ${list(e.paths.map((p) => p.source))} do not match '${c.path}'`;
  }
  return undefined;
}

/** Does a `from` entry match? Delegated requests (an `act` chain) need an entry naming `actors`. */
export function matchFrom(e: FromEntry, c: EvalCtx): boolean {
  if (!e.delegation && c.input.principal.act.length > 0) return false;
  for (const cond of e.conds) if (!cond.test(c)) return false;
  return true;
}

/** Why a `from` entry does not match (undefined when it does). */
export function whyFrom(e: FromEntry, c: EvalCtx): string | undefined {
  if (!e.delegation && c.input.principal.act.length > 0)
    return `delegated request (act: ${c.input.principal.act[0]?.sub}) needs from.actors`;
  for (const cond of e.conds)
    if (!cond.test(c)) return `${condLabel(cond)} does not match '${cond.actual(c)}'`;
  return undefined;
}
