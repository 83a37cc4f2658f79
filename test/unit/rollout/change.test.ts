import { describe, expect, it } from 'vitest';
import { changeOf, type Outcome, routeOf } from '../../../src/rollout/index.js';

const allow = (...ruleIds: string[]): Outcome => ({ allowed: true, reason: 'allowed', ruleIds });
const deny = (reason: string, ...ruleIds: string[]): Outcome => ({ allowed: false, reason, ruleIds });

describe('changeOf', () => {
  it.each([
    ['same answer, other rule', allow('a@1#x'), allow('a@1#y'), undefined],
    ['401 → 403 is no change', deny('credential_missing'), deny('default_deny'), undefined],
    [
      'removed allow rule',
      allow('orders@1#read'),
      deny('default_deny'),
      { direction: 'allow_to_deny', policy: 'orders@1', rule: 'read' },
    ],
    [
      'new deny rule',
      allow('orders@1#read'),
      deny('denied_by_rule', 'orders@2#block'),
      { direction: 'allow_to_deny', policy: 'orders@2', rule: 'block' },
    ],
    [
      'new allow rule',
      deny('default_deny'),
      allow('admin@1#support'),
      { direction: 'deny_to_allow', policy: 'admin@1', rule: 'support' },
    ],
    [
      'nothing to name',
      deny('default_deny'),
      { allowed: true, reason: 'allowed', ruleIds: [] },
      { direction: 'deny_to_allow', policy: 'none', rule: 'allowed' },
    ],
    [
      'rule id with # in the policy version',
      allow('p@v#1#r'),
      deny('default_deny'),
      { direction: 'allow_to_deny', policy: 'p@v#1', rule: 'r' },
    ],
  ] as const)('%s', (_, before, after, expected) => {
    expect(changeOf(before, after)).toEqual(expected);
  });
});

describe('routeOf', () => {
  it.each([
    ['GET', 'orders', '/orders/42', 'GET orders/orders/{id}'],
    ['GET', 'orders', '/orders/42/items/7', 'GET orders/orders/{id}/items/{id}'],
    ['PUT', 'docs', '/docs/0f8fad5b-d9cb-469f-a165-70867728950e', 'PUT docs/docs/{id}'],
    ['GET', 'docs', '/blobs/deadbeefcafe1234', 'GET docs/blobs/{id}'],
    ['GET', 'api', '/keys/AbCdEf0123456789XyZ', 'GET api/keys/{id}'],
    ['GET', 'api', '/healthz', 'GET api/healthz'],
    ['GET', 'api', '/', 'GET api/'],
    ['GET', 'api', '/orders/', 'GET api/orders/'],
    ['GET', 'api', '/v2/reports', 'GET api/v2/reports'],
  ])('%s %s%s → %s', (method, host, path, route) => {
    expect(routeOf(method, host, path)).toBe(route);
  });
});
