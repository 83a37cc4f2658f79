import { describe, expect, it } from 'vitest';
import {
  BREAK_GLASS_TYP,
  type BreakGlassRequest,
  decodeBreakGlass,
  issueBreakGlass,
  MAX_BREAK_GLASS_MS,
  matchBreakGlass,
  verifyBreakGlass,
} from '../../../src/rollout/index.js';
import { makeKey } from '../bundle/fixtures.js';

const NOW = Date.parse('2026-03-01T10:00:00Z');
const REQ: BreakGlassRequest = {
  who: 'u-oncall',
  what: { methods: ['GET', 'POST'], hosts: ['payments-admin.internal'], paths: ['/admin/*'] },
  why: 'INC-4711: reconcile stuck payouts',
  untilMs: NOW + 30 * 60_000,
  issuer: 'sre-lead',
  id: 'inc-4711',
};

describe('break-glass exceptions', async () => {
  const key = await makeKey('bg-1', 'ES256');
  const other = await makeKey('bg-1');

  it('issues a signed exception that verifies against the trusted key and names who, what, until, why', async () => {
    const { token, grant } = await issueBreakGlass(REQ, key.signing, NOW);
    expect(token.split('.')).toHaveLength(3);
    const v = await verifyBreakGlass(token, key.trusted);
    expect(v).toMatchObject({
      ok: true,
      grant: {
        id: 'inc-4711',
        who: 'u-oncall',
        whyText: REQ.why,
        issuer: 'sre-lead',
        untilMs: NOW + 30 * 60_000,
        kid: 'bg-1',
      },
    });
    expect(grant.what).toEqual(REQ.what);
    expect(decodeBreakGlass(token)).toMatchObject({ ok: true, grant: { id: 'inc-4711' } });
  });

  it.each([
    ['longer than 24 h', { untilMs: NOW + MAX_BREAK_GLASS_MS + 60_000 }, /24h/],
    ['already over', { untilMs: NOW - 1000 }, /exp must be after iat/],
    ['opens everything (no host, no path)', { what: { methods: ['GET'] } }, /at least one host or path/],
    ['no reason', { why: '' }, /why/],
    ['a bad id', { id: 'a/b' }, /jti/],
  ] as const)('refuses to issue one %s', async (_, change, message) => {
    await expect(issueBreakGlass({ ...REQ, ...change }, key.signing, NOW)).rejects.toThrow(message);
  });

  it.each([
    [
      'signed by an untrusted key with the same kid',
      async () => (await issueBreakGlass(REQ, other.signing, NOW)).token,
      /signature does not verify/,
    ],
    [
      'tampered payload',
      async () => {
        const [h, p, s] = (await issueBreakGlass(REQ, key.signing, NOW)).token.split('.');
        const claims = JSON.parse(Buffer.from(p as string, 'base64url').toString());
        claims.sub = 'u-attacker';
        return `${h}.${Buffer.from(JSON.stringify(claims)).toString('base64url')}.${s}`;
      },
      /signature does not verify/,
    ],
    [
      'an unknown kid',
      async () => (await issueBreakGlass(REQ, { ...key.signing, kid: 'nope' }, NOW)).token,
      /not trusted/,
    ],
    ['not a JWS', async () => 'garbage', /not a compact JWS/],
    [
      'a bundle signature instead of an exception',
      async () => {
        const [h] = (await issueBreakGlass(REQ, key.signing, NOW)).token.split('.');
        const header = {
          ...JSON.parse(Buffer.from(h as string, 'base64url').toString()),
          typ: 'portcullis-bundle+jws',
        };
        return `${Buffer.from(JSON.stringify(header)).toString('base64url')}.e30.x`;
      },
      new RegExp(`typ is not ${BREAK_GLASS_TYP.replace('+', '\\+')}`),
    ],
  ])('rejects %s', async (_, make, detail) => {
    const v = await verifyBreakGlass(await make(), key.trusted);
    expect(v.ok).toBe(false);
    if (!v.ok) expect(v.detail).toMatch(detail);
  });

  it.each([
    [
      'the principal, a covered request',
      'u-oncall',
      'GET',
      'payments-admin.internal',
      '/admin/payouts',
      NOW,
      true,
    ],
    ['host with a port', 'u-oncall', 'POST', 'payments-admin.internal:8443', '/admin/x', NOW, true],
    ['host in another case', 'u-oncall', 'GET', 'Payments-Admin.internal', '/admin/x', NOW, true],
    ['another principal', 'u-other', 'GET', 'payments-admin.internal', '/admin/x', NOW, false],
    ['anonymous', '', 'GET', 'payments-admin.internal', '/admin/x', NOW, false],
    ['a method not granted', 'u-oncall', 'DELETE', 'payments-admin.internal', '/admin/x', NOW, false],
    ['another host', 'u-oncall', 'GET', 'payments.internal', '/admin/x', NOW, false],
    ['a path outside', 'u-oncall', 'GET', 'payments-admin.internal', '/users', NOW, false],
    ['a regex-looking path is literal', 'u-oncall', 'GET', 'payments-admin.internal', '/adminX', NOW, false],
    [
      'one ms before expiry',
      'u-oncall',
      'GET',
      'payments-admin.internal',
      '/admin/x',
      NOW + 30 * 60_000 - 1,
      true,
    ],
    [
      'at expiry: it expired by itself',
      'u-oncall',
      'GET',
      'payments-admin.internal',
      '/admin/x',
      NOW + 30 * 60_000,
      false,
    ],
    [
      'long before it was issued',
      'u-oncall',
      'GET',
      'payments-admin.internal',
      '/admin/x',
      NOW - 3_600_000,
      false,
    ],
  ])('matches %s: %s', async (_, who, method, host, path, at, expected) => {
    const { grant } = await issueBreakGlass(REQ, key.signing, NOW);
    expect(matchBreakGlass([grant], who, { method, host, path }, at)?.id).toBe(
      expected ? 'inc-4711' : undefined,
    );
  });

  it('"*" as a method and a missing path mean any', async () => {
    const { grant } = await issueBreakGlass(
      { ...REQ, what: { methods: ['*'], hosts: ['*.internal'] } },
      key.signing,
      NOW,
    );
    expect(
      matchBreakGlass([grant], 'u-oncall', { method: 'PATCH', host: 'x.internal', path: '/a/b' }, NOW),
    ).toBeDefined();
    expect(
      matchBreakGlass([grant], 'u-oncall', { method: 'PATCH', host: 'x.external', path: '/a/b' }, NOW),
    ).toBeUndefined();
  });
});
