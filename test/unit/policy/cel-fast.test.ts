// The fast paths must agree with CEL: whenever a fast path answers, CEL gives the same answer.

import type { CelMap } from '@bufbuild/cel';
import { isCelError } from '@bufbuild/cel';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { RequestVars, toCelDeep } from '../../../src/policy/bindings.js';
import { compileCel } from '../../../src/policy/cel-compile.js';
import { declaredVariables, T, typeOfJson } from '../../../src/policy/cel-types.js';
import { buildPolicyInput } from '../../../src/policy/index.js';
import type { JsonObject } from '../../../src/types.js';

const DATA: JsonObject = { plans: { free: ['a', 'b'], pro: ['a', 'b', 'c'], acme: 'x' } };
const VARS = declaredVariables('rule', T.obj('data', { plans: typeOfJson(DATA.plans, 'data.plans') }, true));
const DATA_CEL = toCelDeep(DATA) as CelMap;

const scalar = fc.oneof(
  fc.constantFrom('a', 'acme', 'GET', '', 'x-1'),
  fc.constantFrom(0, 1, 2.5, -3),
  fc.boolean(),
  fc.constant(null),
);
const json = fc.oneof(
  scalar,
  fc.array(scalar, { maxLength: 3 }),
  fc.dictionary(fc.constantFrom('k', 'tenant'), scalar, { maxKeys: 2 }),
);

const literal = fc.constantFrom("'a'", "'acme'", "'GET'", "''", '1', '2.5', '0', 'true', 'false', 'null');
const path = fc.constantFrom(
  'principal.id',
  'principal.type',
  'principal.authenticated',
  'principal.claims.tenant',
  'principal.claims.level',
  'principal.claims.list',
  'principal.claims.obj',
  'principal.claims.obj.k',
  'principal.groups',
  'request.method',
  "request.headers['x-a']",
  'request.headers.missing',
  'request.params.id',
  'resource.attributes.ownerId',
  'resource.attributes.n',
  'data.plans.free',
  'context.feature',
  'action',
  "lookup(request.headers, 'x-a', 'dflt')",
  "lookup(principal.claims, 'tenant', '')",
  "int(lookup(principal.claims, 'level', 0))",
  'int(principal.claims.tenant)',
  'size(principal.groups)',
  'principal.claims.list.size()',
  'size(principal.claims.tenant)',
  "now.getHours('Europe/Paris')",
  'now.getDayOfWeek()',
  "now.getMinutes('+05:30')",
  "now.getHours('Nowhere/Zone')",
  'data.plans[principal.claims.tenant]',
  'data.plans[lookup(principal.claims, "tenant", "free")]',
  "lookup(principal.claims, 'list', [])",
  "lookup(principal.claims, 'list', ['a', 1])",
  'lookup(data.plans, principal.claims.tenant, principal.groups)',
  "lookup(principal.claims, request.method, 'none')",
  "hasScope(principal, 'a')",
  "hasRole(principal, 'admin')",
  "hasGroup(principal, 'GET')",
  'principal.claims[request.method]',
);
const value = fc.oneof(literal, path);
const boolExpr: fc.Arbitrary<string> = fc.letrec<{ b: string }>((tie) => ({
  b: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc
      .tuple(value, fc.constantFrom('==', '!=', '<', '<=', '>', '>='), value)
      .map(([a, op, b]) => `${a} ${op} ${b}`),
    fc.tuple(value, fc.array(literal, { maxLength: 3 })).map(([a, l]) => `${a} in [${l.join(', ')}]`),
    fc.tuple(literal, path).map(([a, p]) => `${a} in ${p}`),
    path.filter((p) => !p.includes('(') && !p.includes('[')).map((p) => `has(${p})`),
    fc.tuple(path, fc.constantFrom('startsWith', 'endsWith', 'contains')).map(([p, m]) => `${p}.${m}('a')`),
    fc.constantFrom('principal.authenticated', 'true', 'false'),
    tie('b').map((b) => `!(${b})`),
    fc.tuple(tie('b'), fc.constantFrom('&&', '||'), tie('b')).map(([a, op, b]) => `(${a}) ${op} (${b})`),
  ),
})).b;

const input = fc.record({
  now: fc.integer({ min: 0, max: 4_000_000_000_000 }),
  claims: fc.dictionary(
    fc.constantFrom('tenant', 'level', 'list', 'obj', 'GET'),
    fc.oneof(json, fc.constantFrom('acme', 'free', 'pro')),
    { maxKeys: 5 },
  ),
  headers: fc.dictionary(fc.constantFrom('x-a', 'x-b'), fc.constantFrom('a', 'acme', ''), { maxKeys: 2 }),
  attributes: fc.dictionary(fc.constantFrom('ownerId', 'n'), json, { maxKeys: 2 }),
  feature: fc.option(fc.constantFrom('a', 'exports'), { nil: undefined }),
  action: fc.option(fc.constantFrom('a', 'view'), { nil: undefined }),
});

describe('fast paths agree with CEL', () => {
  it('on random conditions and random requests', () => {
    let answered = 0;
    fc.assert(
      fc.property(boolExpr, input, (src, i) => {
        const compiled = compileCel(src, VARS, 'bool');
        fc.pre(compiled.ok);
        if (!compiled.ok || compiled.expr.fast === undefined) return;
        const policyInput = buildPolicyInput(
          {
            principal: { id: 'acme', issuer: 'iss', claims: i.claims, groups: ['a', 'GET'], scopes: ['a'] },
            request: {
              method: 'GET',
              path: '/x',
              headers: i.headers,
              ...(i.feature ? { contextExtensions: { feature: i.feature } } : {}),
            },
            resource: { kind: 'doc', id: 'd', attributes: i.attributes },
            ...(i.action ? { action: i.action } : {}),
          },
          i.now,
        );
        const vars = new RequestVars(policyInput, DATA, DATA_CEL, { roleList: () => ['admin'] });
        vars.setParams({ id: 'a' });
        const fast = compiled.expr.fast(vars);
        if (fast === undefined) return;
        answered++;
        const cel = compiled.expr.run(vars);
        expect(isCelError(cel) ? `error: ${cel.message}` : cel, src).toBe(fast);
      }),
      { numRuns: 1000 },
    );
    expect(answered).toBeGreaterThan(150);
  });

  it('string values (header obligations) too', () => {
    fc.assert(
      fc.property(path, input, (src, i) => {
        const compiled = compileCel(src, VARS, 'string');
        fc.pre(compiled.ok);
        if (!compiled.ok || compiled.expr.fastString === undefined) return;
        const policyInput = buildPolicyInput(
          {
            principal: { id: 'acme', claims: i.claims },
            request: { headers: i.headers },
            resource: { kind: 'doc', id: 'd', attributes: i.attributes },
          },
          i.now,
        );
        const vars = new RequestVars(policyInput, DATA, DATA_CEL, { roleList: () => [] });
        const fast = compiled.expr.fastString(vars);
        if (fast === undefined) return;
        expect(compiled.expr.run(vars), src).toBe(fast);
      }),
      { numRuns: 300 },
    );
  });
});
