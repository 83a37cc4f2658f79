import { describe, expect, it } from 'vitest';
import { compileCel } from '../../../src/policy/cel-compile.js';
import { declaredVariables, T, typeOfJson } from '../../../src/policy/cel-types.js';

const data = T.obj('data', { plans: typeOfJson({ free: { features: ['a'] } }, 'data.plans') }, true);
const rule = declaredVariables('rule', data);
const binding = declaredVariables('binding', data);

function issues(src: string, vars = rule, expect: 'bool' | 'string' = 'bool'): string[] {
  const r = compileCel(src, vars, expect);
  return r.ok ? [] : r.issues.map((i) => `${i.offset}: ${i.message}`);
}

describe('compile-time CEL check', () => {
  it.each([
    "principal.id == 'alice'",
    'request.params.tenant == principal.claims.tenant',
    "'x' in principal.groups && size(principal.scopes) > 0",
    'resource.attributes.amount <= 1000.5',
    "now.getHours('Europe/Paris') >= 8",
    "request.headers.exists(k, k.startsWith('x-'))",
    "data.plans.free.features.exists(f, f == 'a')",
    'has(data.plans.enterprise) || has(principal.claims.tenant)',
    "globMatch(request.host, '*.example.com') && cidrMatch(source.address, '10.0.0.0/8')",
    "hasScope(principal, 'read') && hasRole(principal, 'admin') && hasGroup(principal, 'g')",
    "lookup(request.headers, 'x-a', '') == ''",
    "request.path.matches('^/api/v[0-9]+/')",
    'type(resource.attributes.n) == int ? true : false',
    "timestamp('2026-01-01T00:00:00Z') < now && duration('1h') > duration('1m')",
    "request.method.lowerAscii() == 'get'",
    "principal.act.size() > 0 && principal.act[0].sub == 'agent'",
    "{'a': 1}.a == 1 && [1, 2][0] == 1",
  ])('accepts %s', (src) => {
    expect(issues(src)).toEqual([]);
  });

  it.each([
    [
      'principal.tenant == "acme"',
      "9: no field 'tenant' on principal (fields: id, type, authenticated, issuer, claims, scopes, groups, roles, act; token claims are in principal.claims)",
    ],
    [
      'user.id == "x"',
      "0: undeclared reference to 'user' (variables: principal, source, data, now, request, resource, destination, context, action)",
    ],
    ["principal.id == 1 + 'x'", "17: no matching overload for '_+_' applied to (int, string)"],
    ['request.method == 1', '15: comparing string with int is always false'],
    ['size(1) > 0', "0: no matching overload for 'size' applied to (int)"],
    ['foo(principal.id)', "0: unknown function 'foo'"],
    ["matches(request.path, '^/a')", "0: 'matches' is a method: call it as value.matches(…)"],
    ["request.path.globMatch('*')", "12: 'globMatch' is a function, not a method: call it as globMatch(…)"],
    ['request.path.startsWith()', "12: 'startsWith' takes 1 argument(s), got 0"],
    [
      "request.path.matches('(')",
      '12: invalid literal for matches: error parsing regexp: missing closing ): `(`',
    ],
    [
      "now.getHours('Mars/Olympus') > 1",
      '3: invalid literal for getHours: Invalid time zone specified: Mars/Olympus',
    ],
    [
      "timestamp('yesterday') < now",
      '0: invalid literal for timestamp: Failed to parse timestamp: Error: cannot decode message google.protobuf.Timestamp from JSON: invalid RFC 3339 string',
    ],
    ['request.path', '0: expression must produce a bool, got string'],
    ['principal.id && true', '9: operator && needs bool operands, got string'],
    ['principal.id.size.x', "12: cannot select field 'size' on a value of type string"],
    ["'a' in principal.id", "3: 'in' needs a list or map on the right, got string"],
    ['1 in principal.groups', "1: int 'in' list(string) is always false"],
    ["request.path[0] == 'a'", '12: cannot index a value of type string'],
    ["principal.groups['a'] == 'b'", '16: list index must be a number, got string'],
    ['data.plans.gold.features == []', "10: no field 'gold' on data.plans (fields: free)"],
    [
      'has(principal.tenant)',
      "0: no field 'tenant' on principal (fields: id, type, authenticated, issuer, claims, scopes, groups, roles, act; token claims are in principal.claims)",
    ],
    [
      'google.protobuf.Timestamp{} == now',
      "0: message construction 'google.protobuf.Timestamp{…}' is not supported",
    ],
    ['request.path ==', '13: syntax error: found = but expecting end of input'],
  ])('rejects %s', (src, message) => {
    expect(issues(src)).toEqual([message]);
  });

  it('reports every problem of an expression at once', () => {
    expect(issues("principal.tenant == 'a' && foo() && request.method == 1")).toHaveLength(3);
  });

  it('role bindings may not read request variables', () => {
    expect(issues("request.method == 'GET'", binding)).toEqual([
      "0: variable 'request' is not available here (available: principal, source, data, now)",
    ]);
  });

  it.each([
    ["'u-' + principal.id", []],
    ['size(principal.groups)', []],
    ['principal.groups', ['0: expression must produce a string, got list(string)']],
  ] as const)('header value expression %s', (src, want) => {
    expect(issues(src, rule, 'string')).toEqual(want);
  });

  it.each([
    ["principal.id == 'a'", true],
    ["request.method in ['GET', 'HEAD'] && !has(request.headers.x)", true],
    ["request.headers['x-a'] != 'b' || principal.authenticated", true],
    ["'admin' in principal.roles", true],
    ["request.path.startsWith('/api')", true],
    ['now.getHours() > 3', true],
    ['size(principal.groups) > 0', true],
    ["request.body.matches('x')", false],
    ["principal.groups.exists(g, g == 'x')", false],
  ])('fast path for %s: %s', (src, fast) => {
    const r = compileCel(src, rule, 'bool');
    expect(r.ok && r.expr.fast !== undefined).toBe(fast);
  });
});
