/**
 * `from` / `to` / selector conditions compiled to closures. Semantics (docs/policy-language.md):
 * inside one entry every listed field must match; `notX` fields must not match; an empty request
 * attribute (no peer, no token, no action) never matches a positive list — not even `*`.
 */

import type { z } from 'zod';
import { cidrContains, parseCidr } from './cidr.js';
import type { EvalCtx } from './eval-ctx.js';
import { compileGlobSet, type GlobMatcher } from './glob.js';
import type { Cond, FromEntry, OpEntry } from './model.js';
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

function list(values: readonly (string | number)[]): string {
  return `[${values.join(', ')}]`;
}

/** A glob condition on one string attribute; `negate` for `notX` fields. */
function globCond(
  field: string,
  patterns: readonly string[],
  get: (c: EvalCtx) => string,
  negate: boolean,
): Cond {
  return stringCond(field, `${field} ${list(patterns)}`, get, compileGlobSet(patterns), negate);
}

/**
 * A condition on one string of the request: an empty value never matches (and always matches the
 * negated form). Two closures rather than one with a `negate` branch: this runs per request.
 */
function stringCond(
  field: string,
  label: string,
  get: (c: EvalCtx) => string,
  m: GlobMatcher,
  negate: boolean,
): Cond {
  return negate
    ? {
        field,
        label,
        test: (c) => {
          const v = get(c);
          return v === '' || !m(v);
        },
        actual: get,
      }
    : {
        field,
        label,
        test: (c) => {
          const v = get(c);
          return v !== '' && m(v);
        },
        actual: get,
      };
}

function addGlob(
  conds: Cond[],
  field: string,
  pos: readonly string[] | undefined,
  neg: readonly string[] | undefined,
  get: (c: EvalCtx) => string,
): void {
  if (pos) conds.push(globCond(field, pos, get, false));
  if (neg) conds.push(globCond(`not${field[0]?.toUpperCase()}${field.slice(1)}`, neg, get, true));
}

const peer = (c: EvalCtx) => c.input.principal.source.principal;
const stripScheme = (s: string) => (s.startsWith('spiffe://') ? s.slice(9) : s);

/** `principals`: full `spiffe://…` patterns, or Istio's scheme-less `td/ns/x/sa/y`. */
function principalCond(field: string, patterns: readonly string[], negate: boolean): Cond {
  const fullPatterns = patterns.filter((p) => p.includes('://'));
  const istioPatterns = patterns.filter((p) => !p.includes('://'));
  const full = compileGlobSet(fullPatterns);
  const istio = compileGlobSet(istioPatterns);
  const m =
    istioPatterns.length === 0
      ? full
      : fullPatterns.length === 0
        ? (v: string) => istio(stripScheme(v))
        : (v: string) => full(v) || istio(stripScheme(v));
  return stringCond(field, `${field} ${list(patterns)}`, peer, m, negate);
}

function cidrCond(field: string, blocks: readonly string[], negate: boolean, problem: FieldProblem): Cond {
  const parsed = blocks.map((b, i) => {
    const c = parseCidr(b);
    if (c === undefined) problem([field, i], `invalid IP address or CIDR block '${b}'`);
    return c;
  });
  const addr = (c: EvalCtx) => c.input.principal.source.address || c.input.request.source.address;
  const m = (v: string) => parsed.some((b) => b !== undefined && cidrContains(b, v));
  return {
    field,
    label: `${field} ${list(blocks)}`,
    test: (c) => (negate ? !m(addr(c)) : m(addr(c))),
    actual: addr,
  };
}

/** Compiles one `from` entry. */
export function compileFrom(spec: FromSpec, problem: FieldProblem): FromEntry {
  const conds: Cond[] = [];
  const p = (c: EvalCtx) => c.input.principal;
  if (spec.principals) conds.push(principalCond('principals', spec.principals, false));
  if (spec.notPrincipals) conds.push(principalCond('notPrincipals', spec.notPrincipals, true));
  addGlob(conds, 'trustDomains', spec.trustDomains, spec.notTrustDomains, (c) => p(c).source.trustDomain);
  addGlob(conds, 'namespaces', spec.namespaces, spec.notNamespaces, (c) => p(c).source.namespace);
  const sa = (c: EvalCtx) =>
    p(c).source.serviceAccount === '' ? '' : `${p(c).source.namespace}/${p(c).source.serviceAccount}`;
  const qualify = (xs: readonly string[] | undefined) => xs?.map((x) => (x.includes('/') ? x : `*/${x}`));
  addGlob(conds, 'serviceAccounts', qualify(spec.serviceAccounts), qualify(spec.notServiceAccounts), sa);
  const rp = (c: EvalCtx) => (p(c).issuer === '' ? '' : `${p(c).issuer}/${p(c).id}`);
  addGlob(conds, 'requestPrincipals', spec.requestPrincipals, spec.notRequestPrincipals, rp);
  addGlob(conds, 'issuers', spec.issuers, spec.notIssuers, (c) => p(c).issuer);
  addGlob(conds, 'ids', spec.ids, spec.notIds, (c) => p(c).id);
  if (spec.ipBlocks) conds.push(cidrCond('ipBlocks', spec.ipBlocks, false, problem));
  if (spec.notIpBlocks) conds.push(cidrCond('notIpBlocks', spec.notIpBlocks, true, problem));
  addGlob(conds, 'types', spec.types, spec.notTypes, (c) => p(c).type);
  addGlob(conds, 'actors', spec.actors, spec.notActors, (c) => p(c).act[0]?.sub ?? '');
  if (spec.authenticated !== undefined) {
    const want = spec.authenticated;
    conds.push({
      field: 'authenticated',
      label: `authenticated ${want}`,
      test: (c) => p(c).authenticated === want,
      actual: (c) => String(p(c).authenticated),
    });
  }
  return { conds, delegation: spec.actors !== undefined };
}

function compilePaths(
  field: string,
  patterns: readonly string[] | undefined,
  problem: FieldProblem,
): PathPattern[] | undefined {
  if (patterns === undefined) return undefined;
  const out: PathPattern[] = [];
  patterns.forEach((src, i) => {
    const r = compilePathPattern(src);
    if (r.ok) out.push(r.pattern);
    else problem([field, i], r.message);
  });
  return out;
}

function methodCond(field: string, methods: readonly string[], negate: boolean): Cond {
  const any = methods.includes('*');
  const set = new Set(methods.map((m) => m.toUpperCase()));
  const m = (c: EvalCtx) => any || set.has(c.method);
  return {
    field,
    label: `${field} ${list(methods)}`,
    test: negate ? (c) => !m(c) : m,
    actual: (c) => c.method,
  };
}

function portCond(field: string, ports: readonly number[], negate: boolean): Cond {
  const set = new Set(ports);
  return {
    field,
    label: `${field} ${list(ports)}`,
    test: (c) => set.has(c.port) !== negate,
    actual: (c) => String(c.port),
  };
}

function hostCond(field: string, hosts: readonly string[], negate: boolean): Cond {
  const m = compileGlobSet(hosts);
  const hit = (c: EvalCtx) => c.host !== '' && (m(c.host) || (c.hostName !== c.host && m(c.hostName)));
  return {
    field,
    label: `${field} ${list(hosts)}`,
    test: negate ? (c) => !hit(c) : hit,
    actual: (c) => c.host,
  };
}

/** Compiles a `to` entry or a selector (which adds contextExtensions and resources). */
export function compileOp(spec: ToSpec & SelectorSpec, problem: FieldProblem): OpEntry {
  const conds: Cond[] = [];
  if (spec.methods) conds.push(methodCond('methods', spec.methods, false));
  if (spec.notMethods) conds.push(methodCond('notMethods', spec.notMethods, true));
  if (spec.hosts) conds.push(hostCond('hosts', spec.hosts, false));
  if (spec.notHosts) conds.push(hostCond('notHosts', spec.notHosts, true));
  if (spec.ports) conds.push(portCond('ports', spec.ports, false));
  if (spec.notPorts) conds.push(portCond('notPorts', spec.notPorts, true));
  addGlob(conds, 'actions', spec.actions, spec.notActions, (c) => c.input.action ?? '');
  for (const [key, pattern] of Object.entries(spec.contextExtensions ?? {}).sort(([a], [b]) =>
    a < b ? -1 : 1,
  )) {
    conds.push(
      globCond(
        `contextExtensions.${key}`,
        [pattern],
        (c) => c.input.request.contextExtensions[key] ?? '',
        false,
      ),
    );
  }
  if (spec.resources)
    conds.push(globCond('resources', spec.resources, (c) => c.input.resource?.kind ?? '', false));
  return {
    conds,
    paths: compilePaths('paths', spec.paths, problem),
    notPaths: compilePaths('notPaths', spec.notPaths, problem),
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
  for (const cond of e.conds) if (!cond.test(c)) return `${cond.label} does not match '${cond.actual(c)}'`;
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
  for (const cond of e.conds) if (!cond.test(c)) return `${cond.label} does not match '${cond.actual(c)}'`;
  return undefined;
}
