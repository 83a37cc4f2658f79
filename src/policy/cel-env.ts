/**
 * The CEL environment: the standard library, the `strings` extension and Portcullis helpers.
 * One shared, stateless environment; expressions are planned once at compile time.
 */
import { type CelEnv, type CelFunc, CelScalar, celEnv, celFunc, isCelList, isCelMap } from '@bufbuild/cel';
import { strings } from '@bufbuild/cel/ext';
import { TIME_FUNCS } from './cel-time.js';
import { type Cidr, cidrContains, parseCidr } from './cidr.js';
import { globMatch } from './glob.js';

const { BOOL, STRING, DYN } = CelScalar;

const cidrCache = new Map<string, Cidr>();

function cachedCidr(text: string): Cidr {
  let c = cidrCache.get(text);
  if (c === undefined) {
    c = parseCidr(text);
    if (c === undefined) throw new Error(`invalid CIDR block '${text}'`);
    // Bounded: policies use a handful of literal blocks; a dynamic one must not grow memory.
    if (cidrCache.size >= 1024) cidrCache.clear();
    cidrCache.set(text, c);
  }
  return c;
}

function listField(principal: unknown, field: string): unknown[] {
  if (!isCelMap(principal)) throw new Error(`expected the principal map, got ${typeof principal}`);
  const list = principal.get(field);
  if (!isCelList(list)) throw new Error(`principal.${field} is not a list`);
  return [...list];
}

/** Portcullis helper functions (documented in docs/policy-language.md § CEL). */
export const HELPER_FUNCS: readonly CelFunc[] = [
  celFunc('globMatch', [STRING, STRING], BOOL, (value, pattern) => globMatch(pattern, value)),
  celFunc('cidrMatch', [STRING, STRING], BOOL, (ip, block) => cidrContains(cachedCidr(block), ip)),
  celFunc('hasScope', [DYN, STRING], BOOL, (principal, scope) =>
    listField(principal, 'scopes').includes(scope),
  ),
  celFunc('hasRole', [DYN, STRING], BOOL, (principal, role) => listField(principal, 'roles').includes(role)),
  celFunc('hasGroup', [DYN, STRING], BOOL, (principal, group) =>
    listField(principal, 'groups').includes(group),
  ),
  // Strict evaluation turns a missing map key into an error; lookup() reads optional keys safely
  // (the fallback is returned when the key is absent or its value is null).
  celFunc('lookup', [DYN, DYN, DYN], DYN, (map, key, fallback) => {
    if (!isCelMap(map)) throw new Error('lookup() needs a map as first argument');
    if (typeof key !== 'string' && typeof key !== 'bigint' && typeof key !== 'boolean') {
      throw new Error('lookup() key must be a string, int or bool');
    }
    return map.get(key) ?? fallback;
  }),
];

/** The shared CEL environment. */
export const CEL_ENV: CelEnv = celEnv({ funcs: [...strings, ...HELPER_FUNCS, ...TIME_FUNCS] });

/** Every function/method of the environment by name (for the compile-time check). */
export const CEL_FUNCS: ReadonlyMap<string, readonly CelFunc[]> = (() => {
  const m = new Map<string, CelFunc[]>();
  for (const f of CEL_ENV.funcs) {
    const list = m.get(f.name);
    if (list) list.push(f);
    else m.set(f.name, [f]);
  }
  return m;
})();
