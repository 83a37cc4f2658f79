import { describe, expect, it } from 'vitest';
import { lintPolicySources } from '../../../src/policy/lint.js';
import { NOW, policy, sources } from './helpers.js';

const FILES = {
  'roles.yaml': {
    apiVersion: 'portcullis.dev/v1',
    kind: 'RoleBindings',
    metadata: { name: 'roles' },
    bindings: [
      { role: 'used', groups: ['a'] },
      { role: 'idle', groups: ['b'] },
      { role: 'via-cel', groups: ['c'] },
    ],
  },
  'derived.yaml': {
    apiVersion: 'portcullis.dev/v1',
    kind: 'DerivedRoles',
    metadata: { name: 'derived' },
    definitions: [{ name: 'orphan', parentRoles: ['used'], when: 'true' }],
  },
  'open.yaml': policy('open', { selector: { hosts: ['open'] }, rules: [{ id: 'open', effect: 'ALLOW' }] }),
  'p.yaml': policy('p', {
    selector: { methods: ['GET'] },
    rules: [
      { id: 'open-ok', effect: 'ALLOW', to: [{ paths: ['/health'] }], lintIgnore: ['allow-all'] },
      { id: 'ns', effect: 'ALLOW', from: [{ namespaces: ['x'] }] },
      { id: 'ns-again', effect: 'ALLOW', from: [{ namespaces: ['x'] }] },
      { id: 'posts', effect: 'ALLOW', roles: ['used'], to: [{ methods: ['POST'] }] },
      { id: 'old', effect: 'ALLOW', roles: ['used'], validUntil: '2026-01-01T00:00:00Z' },
      {
        id: 'old-but-kept',
        effect: 'ALLOW',
        roles: ['used'],
        validUntil: '2026-01-01T00:00:00Z',
        lintIgnore: ['expired-exception'],
      },
      { id: 'cel', effect: 'ALLOW', when: "'via-cel' in principal.roles" },
      { id: 'empty-from', effect: 'ALLOW', from: [{}], roles: ['used'] },
    ],
  }),
  'walled.yaml': policy('walled', {
    selector: { hosts: ['walled'] },
    rules: [
      { id: 'everything', effect: 'DENY' },
      { id: 'never', effect: 'ALLOW', roles: ['used'] },
    ],
  }),
  'p_test.yaml': {
    apiVersion: 'portcullis.dev/v1',
    kind: 'TestSuite',
    metadata: { name: 't' },
    tests: [{ name: 'get', request: { method: 'GET', path: '/health' }, expect: { allowed: true } }],
  },
};

describe('lint', () => {
  const r = lintPolicySources(sources(FILES), NOW);
  const found = r.findings.map((f) => `${f.file} ${f.code}${f.ruleId ? ` ${f.ruleId}` : ''}`);

  it.each([
    ['open.yaml allow-all open', 'an ALLOW without from, roles or when'],
    ['p.yaml shadowed-rule ns-again', 'a rule fully covered by an earlier one'],
    ['p.yaml unreachable-rule posts', 'to.methods outside the selector methods'],
    ['p.yaml expired-exception old', 'an expired exception'],
    ['walled.yaml unreachable-rule never', 'an ALLOW after an unconditional DENY'],
    ['roles.yaml unused-role', 'a bound role nobody uses'],
    ['derived.yaml unused-derived-role', 'a derived role nobody uses'],
    ['open.yaml untested-policy', 'a policy no test selects'],
    ['walled.yaml untested-policy', 'another policy no test selects'],
    ['p.yaml compile-warning empty-from', 'compile warnings'],
  ])('finds %s (%s)', (line) => {
    expect(found).toContain(line);
  });

  it('points at the rule, with a message', () => {
    expect(r.findings.find((f) => f.code === 'expired-exception')).toMatchObject({
      file: 'p.yaml',
      line: 33,
      column: 5,
      path: 'rules[4]',
      ruleId: 'old',
      message: 'expired on 2026-01-01T00:00:00.000Z: it never matches again; remove it',
    });
    expect(r.findings.find((f) => f.code === 'unused-role')?.message).toBe(
      "role 'idle' is bound but no rule or derived role uses it",
    );
  });

  it('respects lintIgnore and role use from CEL', () => {
    expect(
      found.filter((f) => f.includes('open-ok') || f.includes('old-but-kept') || f.includes('via-cel')),
    ).toEqual([]);
    expect(found).toHaveLength(10);
  });

  it('reports compile errors instead of findings', () => {
    const bad = lintPolicySources(
      sources({ 'x.yaml': policy('x', { rules: [{ id: 'a', effect: 'ALLOW', roles: ['nope'] }] }) }),
      NOW,
    );
    expect(bad.findings).toEqual([]);
    expect(bad.errors.map((e) => e.message)).toEqual(["unknown role 'nope' (known roles: none)"]);
  });
});
