// Property tests of the engine over random policy sets and random requests.
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { EvalCtx } from '../../../src/policy/eval-ctx.js';
import { buildPolicyInput, type CheckInput, compilePolicySet } from '../../../src/policy/index.js';
import { matchOp } from '../../../src/policy/matchers.js';
import { internals } from '../../../src/policy/plan.js';
import type { CompiledPolicySet } from '../../../src/policy/types.js';
import type { Decision } from '../../../src/types.js';
import { decide, sources } from './helpers.js';

const SHARED = {
  'roles.yaml': {
    apiVersion: 'portcullis.dev/v1',
    kind: 'RoleBindings',
    metadata: { name: 'roles' },
    identityRoles: ['admin'],
    bindings: [{ role: 'user', types: ['human'] }],
  },
  'derived.yaml': {
    apiVersion: 'portcullis.dev/v1',
    kind: 'DerivedRoles',
    metadata: { name: 'derived' },
    definitions: [
      { name: 'owner', parentRoles: ['user'], when: 'resource.attributes.ownerId == principal.id' },
    ],
  },
};

const some = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });
const sub = <T>(values: T[]) => fc.subarray(values, { minLength: 1 });
const PATHS = ['/a', '/a/*', '/b/{id}', '/b/{id}/c', '*', '*.json'];
const WHEN = [
  "request.method == 'GET'",
  "lookup(request.headers, 'x-a', '') == 'on'",
  "request.headers['x-a'] == 'on'",
  'resource.attributes.n > 3',
  "principal.claims.tenant == 'acme'",
  "'admin' in principal.roles",
  'int(lookup(request.headers, "x-n", "0")) / int(lookup(request.headers, "x-d", "0")) > 1',
  'now.getHours() >= 12',
];

const from = fc.record(
  {
    principals: some(sub(['spiffe://td/ns/a/sa/x', 'spiffe://td/ns/*/sa/y'])),
    namespaces: some(sub(['a', 'b'])),
    notNamespaces: some(sub(['b'])),
    types: some(sub(['human', 'workload', 'anonymous'])),
    actors: some(sub(['agent:*'])),
    authenticated: some(fc.boolean()),
  },
  { requiredKeys: [] },
);
const to = fc.record(
  {
    methods: some(sub(['GET', 'POST'])),
    notMethods: some(sub(['DELETE'])),
    paths: some(sub(PATHS)),
    actions: some(sub(['read', 'write'])),
  },
  { requiredKeys: [] },
);
const obligations = fc.record(
  {
    upstreamHeaders: some(fc.constant([{ name: 'x-u', expr: "'u-' + principal.id" }])),
    removeHeaders: some(fc.constant(['authorization'])),
    denyStatus: some(fc.constantFrom(404, 418)),
  },
  { requiredKeys: [] },
);
const ruleBody = (effects: string[]) =>
  fc.record(
    {
      effect: fc.constantFrom(...effects),
      from: some(fc.array(from, { minLength: 1, maxLength: 2 })),
      to: some(fc.array(to, { minLength: 1, maxLength: 2 })),
      roles: some(sub(['user', 'admin', 'owner'])),
      when: some(fc.constantFrom(...WHEN)),
      validUntil: some(fc.constantFrom('2026-01-01T00:00:00Z', '2030-01-01T00:00:00Z')),
      obligations: some(obligations),
    },
    { requiredKeys: ['effect'] },
  );
const selector = fc.record(
  {
    hosts: some(sub(['a.example', '*.example'])),
    methods: some(sub(['GET', 'POST', 'DELETE'])),
    paths: some(sub(PATHS)),
    resources: some(sub(['doc'])),
  },
  { requiredKeys: [] },
);
const policyDoc = (effects: string[], mode: fc.Arbitrary<string>) =>
  fc.record({ selector: some(selector), mode, rules: fc.array(ruleBody(effects), { maxLength: 4 }) });
const policySet = fc.array(policyDoc(['ALLOW', 'DENY'], fc.constant('enforce')), {
  minLength: 1,
  maxLength: 4,
});

type PolicyDoc = { selector?: unknown; mode: string; rules: Record<string, unknown>[] };

function files(policies: PolicyDoc[]): Record<string, unknown> {
  const out: Record<string, unknown> = { ...SHARED };
  policies.forEach((p, i) => {
    out[`p${i}.yaml`] = {
      apiVersion: 'portcullis.dev/v1',
      kind: 'Policy',
      metadata: { name: `p${i}` },
      mode: p.mode,
      ...(p.selector ? { selector: p.selector } : {}),
      rules: p.rules.map((r, j) => ({ id: `r${j}`, ...r })), // an explicit id (inserted rules) wins
    };
  });
  return out;
}

function compileOk(policies: PolicyDoc[]): CompiledPolicySet {
  const r = compilePolicySet(sources(files(policies)));
  if (!r.ok) throw new Error(`generated set does not compile: ${JSON.stringify(r.problems)}`);
  return r.set;
}

const request: fc.Arbitrary<CheckInput> = fc
  .record({
    principal: fc.oneof(
      fc.constant({}),
      fc.record({
        source: fc.record({ principal: fc.constantFrom('spiffe://td/ns/a/sa/x', 'spiffe://td/ns/b/sa/y') }),
      }),
      fc.record({
        id: fc.constantFrom('alice', 'bob'),
        issuer: fc.constant('iss'),
        roles: fc.subarray(['admin']),
        claims: fc.constantFrom({}, { tenant: 'acme' }),
        act: fc.constantFrom([], [{ sub: 'agent:z' }]),
      }),
    ),
    request: fc.record({
      method: fc.constantFrom('GET', 'POST', 'DELETE'),
      host: fc.constantFrom('a.example', 'b.example', 'c.other'),
      path: fc.constantFrom('/a', '/a/x', '/b/1', '/b/1/c', '/x.json', '/'),
      headers: fc.dictionary(fc.constantFrom('x-a', 'x-n', 'x-d'), fc.constantFrom('on', '0', '2', 'x'), {
        maxKeys: 3,
      }),
    }),
    resource: fc.option(
      fc.record({
        kind: fc.constant('doc'),
        id: fc.constant('d'),
        attributes: fc.constantFrom({}, { ownerId: 'alice', n: 5 }, { n: 'x' }),
      }),
      { nil: undefined },
    ),
    action: fc.option(fc.constantFrom('read', 'write'), { nil: undefined }),
    now: fc.constantFrom('2025-06-01T08:00:00Z', '2026-06-01T13:00:00Z', '2031-01-01T00:00:00Z'),
  })
  .map((r) => Object.fromEntries(Object.entries(r).filter(([, v]) => v !== undefined)) as CheckInput);

const enforced = (d: Decision) => ({
  allowed: d.allowed,
  status: d.status,
  reason: d.reason,
  ruleIds: d.ruleIds,
  policy: d.policy,
  obligations: d.obligations,
});

describe('engine properties', () => {
  it('random policy sets and requests never throw, and decisions are well-formed', () => {
    fc.assert(
      fc.property(
        fc.array(policyDoc(['ALLOW', 'DENY', 'AUDIT'], fc.constantFrom('enforce', 'shadow')), {
          maxLength: 4,
        }),
        fc.array(request, { minLength: 1, maxLength: 5 }),
        (policies, requests) => {
          const set = compileOk(policies);
          for (const r of requests) {
            const d = decide(set, r);
            expect(d.allowed).toBe(d.status === 200);
            expect([200, 401, 403]).toContain(d.status);
            expect(d.allowed ? d.ruleIds.length > 0 : true).toBe(true);
          }
        },
      ),
      { numRuns: 50 },
    );
  });

  it('the index selects exactly the policies whose full selector matches (brute force)', () => {
    const sel = fc.record(
      {
        hosts: some(sub(['a.example', '*.example', 'b.example:8080', 'c.*'])),
        paths: some(sub(PATHS)),
        contextExtensions: some(fc.constantFrom({ route: 'r1' }, { route: 'r*' }, { route: 'r1', svc: 'x' })),
        resources: some(sub(['doc', 'd*'])),
        methods: some(sub(['GET', 'POST'])),
      },
      { requiredKeys: [] },
    );
    const req = fc.record({
      host: fc.constantFrom('a.example', 'x.a.example', 'b.example:8080', 'b.example', 'c.other', ''),
      path: fc.constantFrom('/a', '/a/x', '/b/1', '/b//c', '/x.json', '/', ''),
      method: fc.constantFrom('GET', 'POST'),
      ctx: fc.constantFrom({}, { route: 'r1' }, { route: 'r2', svc: 'x' }, { route: 'r1', svc: 'x' }),
      kind: fc.option(fc.constantFrom('doc', 'dx', 'car'), { nil: undefined }),
    });
    fc.assert(
      fc.property(
        fc.array(fc.option(sel, { nil: undefined }), { minLength: 1, maxLength: 8 }),
        fc.array(req, { minLength: 1, maxLength: 8 }),
        (selectors, reqs) => {
          const set = internals(
            compileOk(
              selectors.map((selector) => ({ selector, mode: 'enforce', rules: [{ effect: 'ALLOW' }] })),
            ),
          );
          for (const r of reqs) {
            const input = buildPolicyInput(
              {
                request: { method: r.method, host: r.host, path: r.path, contextExtensions: r.ctx },
                ...(r.kind ? { resource: { kind: r.kind, id: 'i' } } : {}),
              },
              Date.parse('2026-01-01T00:00:00Z'),
            );
            const c = new EvalCtx(input, set.context, undefined);
            const viaIndex = set.index.select(c).map((x) => x.policy.key);
            const brute = set.policies
              .filter((p) => matchOp(p.selector.op, c) !== undefined)
              .map((p) => p.key);
            expect(viaIndex).toEqual(brute);
          }
        },
      ),
      { numRuns: 200 },
    );
  });

  it('arbitrary documents and bytes never make the compiler throw', () => {
    const doc = fc.oneof(
      fc.string(),
      fc.jsonValue().map((v) => JSON.stringify(v)),
      fc.anything().map(
        (v) =>
          JSON.stringify({
            apiVersion: 'portcullis.dev/v1',
            kind: 'Policy',
            metadata: { name: 'x' },
            rules: [v],
          }) ?? '',
      ),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.constantFrom('a.yaml', 'b.json', 'data/d.yaml', 'c_test.yaml'), doc), {
          maxLength: 3,
        }),
        (list) => {
          const r = compilePolicySet(list.map(([path, text]) => ({ path, text })));
          if (!r.ok) for (const p of r.problems) expect(p.line).toBeGreaterThanOrEqual(1);
        },
      ),
      { numRuns: 300 },
    );
  });

  it('AUDIT rules and shadow policies never change the enforced answer', () => {
    const extraRules = fc.array(fc.tuple(fc.nat(), ruleBody(['AUDIT'])), { minLength: 1, maxLength: 3 });
    const shadowPolicies = fc.array(policyDoc(['ALLOW', 'DENY', 'AUDIT'], fc.constant('shadow')), {
      maxLength: 2,
    });
    fc.assert(
      fc.property(
        policySet,
        extraRules,
        shadowPolicies,
        fc.array(request, { minLength: 1, maxLength: 6 }),
        (base, audits, shadows, requests) => {
          const withShadow = base.map((p) => ({
            ...p,
            rules: p.rules.map((r, j) => ({ id: `r${j}`, ...r })),
          }));
          audits.forEach(([i, r], k) => {
            withShadow[i % withShadow.length]?.rules.splice(i % 3, 0, { ...r, id: `audit${k}` });
          });
          const a = compileOk(base);
          const b = compileOk([...withShadow, ...shadows]);
          for (const r of requests) expect(enforced(decide(b, r))).toEqual(enforced(decide(a, r)));
        },
      ),
      { numRuns: 80 },
    );
  });

  it('adding a DENY rule never turns a deny into an allow', () => {
    fc.assert(
      fc.property(
        policySet,
        fc.nat(),
        ruleBody(['DENY']),
        fc.boolean(),
        fc.array(request, { minLength: 1, maxLength: 6 }),
        (base, at, deny, ownPolicy, requests) => {
          const more = base.map((p) => ({ ...p, rules: p.rules.map((r, j) => ({ id: `r${j}`, ...r })) }));
          if (ownPolicy)
            more.push({ selector: undefined, mode: 'enforce', rules: [{ ...deny, id: 'added-deny' }] });
          else more[at % more.length]?.rules.splice(at % 3, 0, { ...deny, id: 'added-deny' });
          const a = compileOk(base);
          const b = compileOk(more);
          for (const r of requests) {
            if (!decide(a, r).allowed) expect(decide(b, r).allowed).toBe(false);
          }
        },
      ),
      { numRuns: 80 },
    );
  });
});
