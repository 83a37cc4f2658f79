import { describe, expect, it } from 'vitest';
import { policyInputOf } from '../../../src/rollout/index.js';
import { CHECKOUT, compile, ENFORCED, logLine, STAFF, TRAFFIC } from './helpers.js';

const set = compile(ENFORCED);
const inputOf = (text: string) => JSON.parse(text) as { input: unknown; requestId: string };

describe('policyInputOf', () => {
  it.each(TRAFFIC.map((t, i) => [i, t] as const))(
    'traffic %i: the rebuilt input decides as the sidecar did',
    (i, t) => {
      const line = logLine(set, t, i);
      const rec = JSON.parse(line) as {
        decision: string;
        reason: string;
        ruleIds: string[];
        input: unknown;
        requestId: string;
      };
      const built = policyInputOf(rec.input, rec.requestId);
      expect(built.ok).toBe(true);
      if (!built.ok) return;
      const d = set.evaluate(built.input);
      expect([d.allowed ? 'allow' : 'deny', d.reason, d.ruleIds]).toEqual([
        rec.decision,
        rec.reason,
        rec.ruleIds,
      ]);
    },
  );

  it('keeps principal, peer, request, resource, action and time', () => {
    const line = logLine(set, {
      request: {
        method: 'POST',
        host: 'orders',
        path: '/orders',
        headers: { 'content-type': 'application/json' },
        contextExtensions: { route: 'r1' },
      },
      principal: { ...STAFF, claims: { tenant: 'acme' }, scopes: ['a'], act: [{ sub: 'agent-1' }] },
      timeMs: 1_760_000_000_000,
    });
    const built = policyInputOf(inputOf(line).input, 'req-1');
    expect(built).toMatchObject({
      ok: true,
      input: {
        now: 1_760_000_000_000,
        principal: {
          id: 'u-staff',
          type: 'human',
          authenticated: true,
          issuer: 'https://id.example.com',
          claims: { tenant: 'acme' },
          scopes: ['a'],
          groups: ['staff'],
          act: [{ sub: 'agent-1', claims: {} }],
        },
        request: {
          requestId: 'req-1',
          contextExtensions: { route: 'r1' },
          request: {
            method: 'POST',
            host: 'orders',
            path: '/orders',
            headers: { 'content-type': 'application/json' },
            body: '',
            pathInvalid: false,
          },
        },
      },
    });
    const withResource = {
      ...(inputOf(line).input as object),
      resource: { kind: 'invoice', id: 'i-1', attributes: { owner: 'u' } },
      action: 'approve',
    };
    expect(policyInputOf(withResource)).toMatchObject({
      ok: true,
      input: { action: 'approve', resource: { kind: 'invoice', id: 'i-1', attributes: { owner: 'u' } } },
    });
  });

  it.each([
    ['no input', undefined, 'malformed'],
    ['an array', [], 'malformed'],
    ['another version', { v: 2 }, 'unsupported_version'],
    ['identification failed', { v: 1, principal: null, request: { path: '/' } }, 'identity_failed'],
    ['no request', { v: 1, principal: {} }, 'malformed'],
    ['a path that is not a string', { v: 1, principal: {}, request: { path: 7 } }, 'malformed'],
  ])('%s → %s', (_, input, reason) => {
    expect(policyInputOf(input)).toMatchObject({ ok: false, reason });
  });

  it('tolerates wrong types inside a well-formed input (they become empty, never a crash)', () => {
    const odd = {
      v: 1,
      timeMs: 'yesterday',
      source: 'x',
      principal: { id: 5, type: 'robot', scopes: [1, 'ok'], claims: [], act: [null, { sub: 'a' }] },
      request: { path: '/orders/1', method: null, headers: { a: 'b', c: 3 }, query: null },
      contextExtensions: 'nope',
    };
    const built = policyInputOf(odd);
    expect(built).toMatchObject({
      ok: true,
      input: {
        now: 0,
        principal: { id: '', type: 'anonymous', scopes: ['ok'], claims: {}, act: [{ sub: 'a' }] },
        request: { contextExtensions: {}, request: { method: '', headers: { a: 'b' }, query: {} } },
      },
    });
    if (built.ok) expect(() => set.evaluate(built.input)).not.toThrow();
  });

  it('a checkout delete replays as the recorded allow', () => {
    const line = logLine(set, {
      request: { method: 'DELETE', host: 'orders', path: '/orders/9' },
      principal: CHECKOUT,
    });
    const built = policyInputOf(inputOf(line).input);
    expect(built.ok && set.evaluate(built.input).allowed).toBe(true);
  });
});
