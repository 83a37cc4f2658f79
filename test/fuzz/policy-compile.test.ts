/**
 * Policy compile under grammar-generated CEL: random conditions over every declared variable,
 * operator, macro and helper function (plus literal edge cases) must compile to a set or to
 * positioned problems — never throw — and every set that compiles must decide random requests
 * without throwing, with a well-formed decision, in bounded time (no runaway regex or recursion).
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { compilePolicySet } from '../../src/policy/index.js';
import { normalizeCheckRequest } from '../../src/server/normalize.js';
import type { Principal } from '../../src/types.js';
import { checkRequest } from '../helpers/requests.js';
import { propertyRuns } from './budget.js';

const ATOMS = [
  'true',
  'false',
  '0',
  '-1',
  '9223372036854775807',
  '-9223372036854775808',
  '18446744073709551615u',
  '1.5e308',
  '"x"',
  '"\\u00e9\\U0001F600"',
  "'%2F..'",
  'b"\\xff"',
  'null',
  '[]',
  '{}',
  '[1, "a", null]',
  '{"k": 1}',
  'now',
  'action',
  'request.path',
  'request.method',
  'request.headers',
  'request.query',
  'request.params',
  'request.size',
  'request.body',
  'request.headers["x-a"]',
  'principal.id',
  'principal.claims',
  'principal.claims.tier',
  'principal.roles',
  'principal.act',
  'source.spiffeId',
  'source.port',
  'destination.labels',
  'context',
  'data',
  'resource.attributes',
  'resource.attributes.owner',
  'duration("1h")',
  'timestamp("2026-01-01T00:00:00Z")',
  'unknown_variable',
];
const BINARY = ['==', '!=', '<', '<=', '>', '>=', '&&', '||', '+', '-', '*', '/', '%', 'in'];
const CALLS = [
  (a: string, b: string) => `${a}.matches(${b})`,
  (a: string) => `${a}.matches("(a+)+$")`,
  (a: string, b: string) => `${a}.startsWith(${b})`,
  (a: string, b: string) => `${a}.contains(${b})`,
  (a: string) => `size(${a})`,
  (a: string) => `string(${a})`,
  (a: string) => `int(${a})`,
  (a: string) => `has(${a}.x)`,
  (a: string, b: string) => `${a}.exists(v, v == ${b})`,
  (a: string, b: string) => `${a}.all(v, ${b})`,
  (a: string) => `${a}.map(v, v)`,
  (a: string, b: string) => `${a}.filter(v, ${b})`,
  (a: string, b: string) => `lookup(${a}, ${b}, "fallback")`,
  (a: string, b: string) => `globMatch(${a}, ${b})`,
  (a: string, b: string) => `cidrMatch(${a}, ${b})`,
  (a: string, b: string) => `hasRole(${a}, ${b})`,
  (a: string, b: string) => `hasScope(${a}, ${b})`,
  (a: string) => `${a}.getHours()`,
  (a: string, b: string) => `${a}[${b}]`,
];

const expr = fc.letrec<{ e: string }>((tie) => ({
  e: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.constantFrom(...ATOMS),
    fc.tuple(tie('e'), fc.constantFrom(...BINARY), tie('e')).map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(fc.constantFrom('!', '-', '!!'), tie('e')).map(([op, a]) => `${op}(${a})`),
    fc.tuple(tie('e'), tie('e'), tie('e')).map(([a, b, c]) => `${a} ? ${b} : ${c}`),
    fc.tuple(fc.constantFrom(...CALLS), tie('e'), tie('e')).map(([f, a, b]) => f(a, b)),
    tie('e').map((a) => `(${a})`),
  ),
})).e;

/** Well-typed boolean conditions (most compile), so evaluation is exercised too. */
const BOOL_ATOMS = [
  'true',
  'request.method == "GET"',
  'request.path.startsWith("/a")',
  'principal.claims.tier == "gold"',
  '"admin" in principal.roles',
  'request.headers["x-a"].matches("^(a|aa)+$")',
  'size(request.headers) > 1',
  'has(principal.claims.tier)',
  'request.params.id == "1"',
  'principal.claims.nested.a.exists(x, x == 2)',
  'lookup(principal.claims, "tier", "") == "gold"',
  'globMatch(request.path, "/a/*")',
  'cidrMatch(source.address, "10.0.0.0/8")',
  'now.getHours() >= 0',
  'request.headers["x-b"].contains("z")',
  'int(lookup(principal.claims, "tier", 0)) > 0',
  'hasScope(principal, "read")',
  'request.query.exists(k, k.size() > 100)',
];
const typed = fc.letrec<{ b: string }>((tie) => ({
  b: fc.oneof(
    { depthSize: 'small' },
    fc.constantFrom(...BOOL_ATOMS),
    tie('b').map((a) => `!(${a})`),
    fc
      .tuple(tie('b'), fc.constantFrom('&&', '||', '==', '!='), tie('b'))
      .map(([a, op, b]) => `(${a}) ${op} (${b})`),
    fc.tuple(tie('b'), tie('b'), tie('b')).map(([a, b, c]) => `(${a}) ? (${b}) : (${c})`),
  ),
})).b;

/** A condition that is sometimes broken syntax (truncated, unbalanced) on purpose. */
const condition = fc.oneof(
  { weight: 4, arbitrary: typed },
  { weight: 3, arbitrary: expr },
  { weight: 1, arbitrary: fc.tuple(expr, fc.nat()).map(([e, n]) => e.slice(0, n % (e.length + 1))) },
  { weight: 1, arbitrary: fc.string({ maxLength: 30 }) },
);

const policyYaml = (when: string, effect: string) => `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: fuzz }
rules:
  - id: r1
    effect: ${effect}
    when: ${JSON.stringify(when)}
    to: [{ paths: ['/a/{id}', '/b/*'] }]
  - id: r2
    effect: ALLOW
    to: [{ methods: [GET] }]
`;

const principal = (claims: Record<string, unknown>): Principal =>
  ({
    id: 'alice',
    type: 'human',
    authenticated: true,
    issuer: 'iss',
    claims,
    scopes: ['read'],
    groups: [],
    roles: ['admin'],
    act: [],
    source: {
      principal: '',
      spiffeId: '',
      trustDomain: '',
      path: '',
      namespace: '',
      serviceAccount: '',
      verified: false,
      address: '10.0.0.1',
    },
  }) as unknown as Principal;

const requestSpec = fc.record({
  method: fc.constantFrom('GET', 'POST'),
  path: fc.constantFrom('/a/1', '/b/x/y', '/c', '/a/%C3%A9'),
  headers: fc.dictionary(fc.constantFrom('x-a', 'x-b'), fc.string({ maxLength: 8 })),
  // A 20,000-character header (built in the property, so a counterexample stays readable).
  big: fc.boolean(),
  claims: fc.constantFrom({}, { tier: 'gold' }, { tier: 1, nested: { a: [1, 2] } }, { tier: null }),
});

describe('policy compile under generated CEL', () => {
  it('never throws; compiled sets decide random requests quickly and well-formed', () => {
    fc.assert(
      fc.property(
        condition,
        fc.constantFrom('ALLOW', 'DENY', 'AUDIT'),
        fc.array(requestSpec, { minLength: 1, maxLength: 3 }),
        (when, effect, reqs) => {
          const r = compilePolicySet([{ path: 'fuzz.yaml', text: policyYaml(when, effect) }]);
          if (!r.ok) {
            expect(r.problems.length).toBeGreaterThan(0);
            for (const p of r.problems) expect(p.line).toBeGreaterThanOrEqual(1);
            return;
          }
          for (const spec of reqs) {
            const headers = spec.big ? { ...spec.headers, 'x-a': 'a'.repeat(20_000) } : spec.headers;
            const input = normalizeCheckRequest(checkRequest({ ...spec, headers }));
            const t = performance.now();
            const d = r.set.evaluate({ request: input, principal: principal(spec.claims), now: Date.now() });
            // Generous for a loaded 2-core machine; catastrophic backtracking would take far longer.
            expect(performance.now() - t).toBeLessThan(1000);
            expect([200, 401, 403]).toContain(d.status);
            expect(d.allowed).toBe(d.status === 200);
            expect(typeof d.reason).toBe('string');
          }
        },
      ),
      { numRuns: propertyRuns(400) },
    );
  });

  it('generated conditions reach both outcomes (the generator is not degenerate)', () => {
    const seen = { compiled: 0, problems: 0 };
    fc.assert(
      fc.property(condition, (when) => {
        const r = compilePolicySet([{ path: 'fuzz.yaml', text: policyYaml(when, 'ALLOW') }]);
        seen[r.ok ? 'compiled' : 'problems']++;
      }),
      { numRuns: 200 },
    );
    expect(seen.compiled).toBeGreaterThan(50);
    expect(seen.problems).toBeGreaterThan(50);
  });
});
