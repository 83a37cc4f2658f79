import { describe, expect, it } from 'vitest';
import { buildPolicyInput, type CheckInput } from '../../../src/policy/index.js';
import { compile, decide, NOW, policy, WHO } from './helpers.js';

const ROLES = {
  apiVersion: 'portcullis.dev/v1',
  kind: 'RoleBindings',
  metadata: { name: 'roles' },
  identityRoles: ['admin'],
  bindings: [
    { role: 'user', types: ['human'] },
    { role: 'staff', groups: ['staff'] },
  ],
};
const DERIVED = {
  apiVersion: 'portcullis.dev/v1',
  kind: 'DerivedRoles',
  metadata: { name: 'derived' },
  definitions: [
    { name: 'owner', parentRoles: ['user'], when: 'resource.attributes.ownerId == principal.id' },
  ],
};

const set = compile({
  'roles.yaml': ROLES,
  'derived.yaml': DERIVED,
  'orders.yaml': policy('orders', {
    metadata: { name: 'orders', version: 2 },
    selector: { hosts: ['orders'] },
    rules: [
      {
        id: 'read',
        effect: 'ALLOW',
        from: [{ principals: ['spiffe://cluster.local/ns/shop/sa/*'] }],
        to: [{ methods: ['GET'], paths: ['/orders/{id}'] }],
      },
      { id: 'no-secret', effect: 'DENY', to: [{ paths: ['/orders/secret'] }] },
      {
        id: 'strict-deny',
        effect: 'DENY',
        to: [{ paths: ['/orders/strict'] }],
        when: "request.headers['x-flag'] == 'on'",
      },
      {
        id: 'strict-allow',
        effect: 'ALLOW',
        to: [{ paths: ['/orders/lenient'] }],
        when: "request.headers['x-flag'] == 'on'",
      },
      {
        id: 'header',
        effect: 'ALLOW',
        to: [{ methods: ['POST'], paths: ['/orders/{id}'] }],
        roles: ['user'],
        obligations: {
          upstreamHeaders: [
            { name: 'x-order', expr: "'o-' + request.params.id" },
            { name: 'x-static', value: 'v' },
          ],
          removeHeaders: ['authorization'],
          responseHeaders: [{ name: 'x-seen', value: '1' }],
        },
      },
      {
        id: 'teapot',
        effect: 'DENY',
        to: [{ methods: ['BREW'] }],
        obligations: {
          denyStatus: 418,
          denyMessage: 'short and stout',
          denyReason: 'teapot',
          responseHeaders: [{ name: 'x-why', value: 'tea' }],
        },
      },
      { id: 'audit-delete', effect: 'AUDIT', to: [{ methods: ['DELETE'] }] },
      {
        id: 'window',
        effect: 'ALLOW',
        to: [{ methods: ['PATCH'] }],
        validFrom: '2026-05-01T00:00:00Z',
        validUntil: '2026-05-31T23:59:59Z',
      },
    ],
  }),
  'docs.yaml': policy('docs', {
    selector: { resources: ['doc'] },
    rules: [
      { id: 'owner', effect: 'ALLOW', roles: ['owner'], to: [{ actions: ['edit'] }] },
      { id: 'admin', effect: 'ALLOW', roles: ['admin'] },
      { id: 'delegate', effect: 'ALLOW', from: [{ actors: ['agent:*'] }], to: [{ actions: ['read'] }] },
    ],
  }),
  'shadow.yaml': policy('candidate', {
    mode: 'shadow',
    selector: { hosts: ['orders'] },
    rules: [{ id: 'deny-get', effect: 'DENY', to: [{ methods: ['GET'] }] }],
  }),
  'invalid.yaml': policy('bad-cel', {
    selector: { hosts: ['bad'] },
    rules: [{ id: 'div', effect: 'ALLOW', when: 'int(request.headers["x-n"]) / 0 == 1' }],
  }),
});

const req = (method: string, path: string, extra: Record<string, unknown> = {}) => ({
  method,
  host: 'orders',
  path,
  ...extra,
});

interface Row {
  name: string;
  input: CheckInput;
  expect: Record<string, unknown>;
}

const rows: Row[] = [
  {
    name: 'allow by from/to with a path template',
    input: { principal: WHO.frontend, request: req('GET', '/orders/7') },
    expect: { allowed: true, status: 200, reason: 'allowed', ruleIds: ['orders@2#read'], policy: 'orders' },
  },
  {
    name: 'default deny of a workload is 403',
    input: { principal: WHO.frontend, request: req('PUT', '/orders/7') },
    expect: { allowed: false, status: 403, reason: 'default_deny', ruleIds: [], policy: '' },
  },
  {
    name: 'default deny of an anonymous caller is 401',
    input: { principal: WHO.anonymous, request: req('GET', '/orders/7') },
    expect: { allowed: false, status: 401, reason: 'credential_missing' },
  },
  {
    name: 'DENY overrides ALLOW',
    input: { principal: WHO.frontend, request: req('GET', '/orders/secret') },
    expect: {
      allowed: false,
      status: 403,
      reason: 'denied_by_rule',
      ruleIds: ['orders@2#no-secret'],
      policy: 'orders',
    },
  },
  {
    name: 'a DENY of an anonymous caller stays 403',
    input: { principal: WHO.anonymous, request: req('GET', '/orders/secret') },
    expect: { status: 403, reason: 'denied_by_rule' },
  },
  {
    name: 'CEL error in DENY fails closed',
    input: { principal: WHO.frontend, request: req('GET', '/orders/strict') },
    expect: { allowed: false, reason: 'evaluation_error', ruleIds: ['orders@2#strict-deny'] },
  },
  {
    name: 'DENY condition false lets ALLOW through',
    input: {
      principal: WHO.frontend,
      request: req('GET', '/orders/strict', { headers: { 'x-flag': 'off' } }),
    },
    expect: { allowed: true, ruleIds: ['orders@2#read'], errors: [] },
  },
  {
    name: 'CEL error in ALLOW is not a match',
    input: { principal: WHO.alice, request: req('GET', '/orders/lenient') },
    expect: { allowed: false, reason: 'default_deny' },
  },
  {
    name: 'obligations: upstream (CEL + literal), removal, response',
    input: { principal: WHO.alice, request: req('POST', '/orders/9') },
    expect: {
      allowed: true,
      ruleIds: ['orders@2#header'],
      obligations: {
        upstreamHeaders: [
          { name: 'x-order', value: 'o-9' },
          { name: 'x-static', value: 'v' },
        ],
        removeHeaders: ['authorization'],
        responseHeaders: [{ name: 'x-seen', value: '1' }],
        denyStatus: 0,
        denyMessage: '',
      },
    },
  },
  {
    name: 'custom deny status, message, reason',
    input: { principal: WHO.alice, request: req('BREW', '/pot') },
    expect: {
      allowed: false,
      status: 403,
      reason: 'teapot',
      obligations: {
        upstreamHeaders: [],
        removeHeaders: [],
        responseHeaders: [{ name: 'x-why', value: 'tea' }],
        denyStatus: 418,
        denyMessage: 'short and stout',
      },
    },
  },
  {
    name: 'AUDIT rule is recorded, not enforced',
    input: { principal: WHO.alice, request: req('DELETE', '/orders/1') },
    expect: {
      allowed: false,
      reason: 'default_deny',
      shadow: [{ ruleId: 'orders@2#audit-delete', effect: 'deny', agrees: true }],
    },
  },
  {
    name: 'shadow policy DENY recorded, decision unchanged',
    input: { principal: WHO.frontend, request: req('GET', '/orders/7') },
    expect: { allowed: true, shadow: [{ ruleId: 'candidate@1#deny-get', effect: 'deny', agrees: false }] },
  },
  {
    name: 'an expired exception never matches',
    input: { principal: WHO.alice, request: req('PATCH', '/orders/1') },
    expect: { allowed: false, reason: 'default_deny' },
  },
  {
    name: 'an exception inside its window matches',
    input: { principal: WHO.alice, request: req('PATCH', '/orders/1'), now: '2026-05-15T00:00:00Z' },
    expect: { allowed: true, ruleIds: ['orders@2#window'] },
  },
  {
    name: 'invalid path is denied before rules',
    input: { principal: WHO.frontend, request: req('GET', '/orders/7', { pathInvalid: true }) },
    expect: { allowed: false, status: 403, reason: 'invalid_path', ruleIds: [] },
  },
  {
    name: 'derived role owner',
    input: {
      principal: WHO.alice,
      resource: { kind: 'doc', id: 'd1', attributes: { ownerId: 'alice' } },
      action: 'edit',
    },
    expect: { allowed: true, ruleIds: ['docs@1#owner'] },
  },
  {
    name: 'derived role needs the condition',
    input: {
      principal: WHO.alice,
      resource: { kind: 'doc', id: 'd1', attributes: { ownerId: 'bob' } },
      action: 'edit',
    },
    expect: { allowed: false },
  },
  {
    name: 'derived role condition error is recorded, role not held',
    input: { principal: WHO.alice, resource: { kind: 'doc', id: 'd1', attributes: {} }, action: 'edit' },
    expect: {
      allowed: false,
      reason: 'default_deny',
      errors: [expect.stringMatching(/^derived role owner: /)],
    },
  },
  {
    name: 'identity role from the token',
    input: {
      principal: { ...WHO.alice, roles: ['admin'] },
      resource: { kind: 'doc', id: 'd1', attributes: {} },
      action: 'delete',
    },
    expect: { allowed: true, ruleIds: ['docs@1#admin'] },
  },
  {
    name: 'a delegated request skips rules without actors',
    input: {
      principal: { ...WHO.alice, roles: ['admin'], act: [{ sub: 'agent:x' }] },
      resource: { kind: 'doc', id: 'd1', attributes: {} },
      action: 'delete',
    },
    expect: { allowed: false },
  },
  {
    name: 'a delegated request matches rules naming its actor',
    input: {
      principal: { ...WHO.alice, act: [{ sub: 'agent:x' }] },
      resource: { kind: 'doc', id: 'd1', attributes: {} },
      action: 'read',
    },
    expect: { allowed: true, ruleIds: ['docs@1#delegate'] },
  },
  {
    name: 'a resource kind nobody governs is default deny',
    input: { principal: WHO.alice, resource: { kind: 'car', id: 'c', attributes: {} }, action: 'read' },
    expect: { allowed: false, reason: 'default_deny', policy: '' },
  },
  {
    name: 'runtime CEL error recorded with the rule id',
    input: {
      principal: WHO.alice,
      request: { method: 'GET', host: 'bad', path: '/', headers: { 'x-n': '1' } },
    },
    expect: { allowed: false, errors: ['bad-cel@1#div: int divide by zero'] },
  },
];

describe('evaluation semantics', () => {
  it.each(rows)('$name', ({ input, expect: want }) => {
    const d = decide(set, input);
    expect(d).toMatchObject(want);
    expect(d.evalMicros).toBeGreaterThanOrEqual(0);
  });

  it('explain names selected and skipped policies, each rule result and the decision', () => {
    const { decision, trace } = set.explain(
      buildPolicyInput({ principal: WHO.frontend, request: req('GET', '/orders/secret') }, NOW),
    );
    expect(decision.ruleIds).toEqual(['orders@2#no-secret']);
    expect(trace).toContainEqual(
      expect.objectContaining({ step: 'selector', policy: 'orders@2', result: 'selected' }),
    );
    expect(trace).toContainEqual(
      expect.objectContaining({
        step: 'selector',
        policy: 'docs@1',
        result: 'not_selected',
        detail: "resources [doc] does not match ''",
      }),
    );
    expect(trace).toContainEqual(
      expect.objectContaining({ step: 'rule', rule: 'no-secret', result: 'matched' }),
    );
    expect(trace.at(-1)).toMatchObject({
      step: 'decision',
      result: 'deny',
      detail: '403 denied_by_rule by orders@2#no-secret',
    });
  });

  it('evaluate never throws, even on inputs that break the pipeline types', () => {
    const broken = { request: null, principal: null, now: Number.NaN } as unknown as Parameters<
      typeof set.evaluate
    >[0];
    const d = set.evaluate(broken);
    expect(d).toMatchObject({ allowed: false, status: 403, reason: 'evaluation_error' });
    expect(d.errors[0]).toMatch(/^internal evaluation fault/);
  });
});
