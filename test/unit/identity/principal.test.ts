import { describe, expect, it } from 'vitest';
import { claimAt, createClassifier, type PrincipalTypeRule } from '../../../src/identity/classify.js';
import { compileGlob } from '../../../src/identity/glob.js';
import { buildTokenIdentity, MAX_ACTOR_DEPTH } from '../../../src/identity/principal.js';
import type { JsonObject } from '../../../src/types.js';

const MAPPING = {
  subject: 'sub',
  scopes: ['scope', 'scp'],
  groups: ['groups'],
  roles: ['roles', 'realm_access.roles'],
};
const DEFAULTS = { delegatedType: 'agent', tokenDefault: 'human' } as const;
const none = createClassifier([]);

describe('buildTokenIdentity', () => {
  it('merges scope (space-separated) and scp (list), de-duplicated; roles from a dotted path', () => {
    const t = buildTokenIdentity(
      {
        iss: 'i',
        sub: 'alice',
        scope: 'a b  a',
        scp: ['b', 'c', 7],
        groups: 'admins',
        realm_access: { roles: ['r1'] },
      },
      MAPPING,
      none,
      DEFAULTS,
    );
    expect(t).toMatchObject({
      id: 'alice',
      type: 'human',
      issuer: 'i',
      scopes: ['a', 'b', 'c'],
      groups: ['admins'],
      roles: ['r1'],
    });
  });

  it.each<[string, JsonObject, string]>([
    ['no subject', { iss: 'i' }, 'token_claim_missing'],
    ['numeric subject', { sub: 42 }, 'token_claim_missing'],
    ['act is a string', { sub: 'a', act: 'x' }, 'token_invalid'],
    ['act without sub', { sub: 'a', act: { client_id: 'x' } }, 'token_invalid'],
    ['act list', { sub: 'a', act: [{ sub: 'x' }] }, 'token_invalid'],
  ])('%s → %s', (_name, claims, reason) => {
    expect(buildTokenIdentity(claims, MAPPING, none, DEFAULTS)).toMatchObject({
      ok: false,
      reason,
      status: 401,
    });
  });

  it(`bounds the act chain at ${MAX_ACTOR_DEPTH}`, () => {
    let act: JsonObject = { sub: 'deepest' };
    for (let i = 0; i < MAX_ACTOR_DEPTH; i++) act = { sub: `a${i}`, act };
    expect(buildTokenIdentity({ sub: 'u', act }, MAPPING, none, DEFAULTS)).toMatchObject({
      ok: false,
      reason: 'token_invalid',
    });
  });

  it('a SPIFFE subject defaults to workload, a delegated token to the delegated type', () => {
    expect(buildTokenIdentity({ sub: 'spiffe://example.org/x' }, MAPPING, none, DEFAULTS)).toMatchObject({
      type: 'workload',
    });
    expect(buildTokenIdentity({ sub: 'u', act: { sub: 'bot' } }, MAPPING, none, DEFAULTS)).toMatchObject({
      type: 'agent',
      act: [{ sub: 'bot' }],
    });
    expect(
      buildTokenIdentity({ sub: 'u', act: { sub: 'bot' } }, MAPPING, none, {
        ...DEFAULTS,
        delegatedType: 'human',
      }),
    ).toMatchObject({
      type: 'human',
    });
  });
});

describe('principal classification rules (first match wins)', () => {
  const rules: PrincipalTypeRule[] = [
    { type: 'human', issuers: [], spiffeIds: [], claims: { azp: ['web-app'] }, delegated: true },
    { type: 'agent', issuers: ['https://agents.*'], spiffeIds: [], claims: {} },
    { type: 'agent', issuers: [], spiffeIds: ['spiffe://example.org/ns/ai/**'], claims: {} },
    { type: 'workload', issuers: [], spiffeIds: [], claims: { 'ext.kind': ['service', 'batch-*'] } },
  ];
  const classify = createClassifier(rules);
  it.each<[string, Parameters<typeof classify>[0], string | null]>([
    [
      'delegated from the web app',
      { claims: { azp: 'web-app' }, issuer: 'i', spiffeId: '', delegated: true },
      'human',
    ],
    [
      'not delegated: first rule skipped',
      { claims: { azp: 'web-app' }, issuer: 'i', spiffeId: '', delegated: false },
      null,
    ],
    [
      'issuer glob',
      { claims: {}, issuer: 'https://agents.example', spiffeId: '', delegated: false },
      'agent',
    ],
    [
      'issuer glob does not cross "/"',
      { claims: {}, issuer: 'https://agents.example/x', spiffeId: '', delegated: false },
      null,
    ],
    [
      'SPIFFE ID glob with **',
      { claims: null, issuer: '', spiffeId: 'spiffe://example.org/ns/ai/sa/bot', delegated: false },
      'agent',
    ],
    [
      'nested claim, list value',
      { claims: { ext: { kind: ['x', 'batch-nightly'] } }, issuer: '', spiffeId: '', delegated: false },
      'workload',
    ],
    [
      'claim rules never match a peer without token',
      { claims: null, issuer: '', spiffeId: 'spiffe://example.org/x', delegated: false },
      null,
    ],
  ])('%s → %s', (_name, facts, expected) => {
    expect(classify(facts)).toBe(expected);
  });
});

describe('helpers', () => {
  it.each([
    ['spiffe://td/ns/*/sa/web', 'spiffe://td/ns/shop/sa/web', true],
    ['spiffe://td/ns/*/sa/web', 'spiffe://td/ns/a/b/sa/web', false],
    ['spiffe://td/**', 'spiffe://td/ns/a/b', true],
    ['a.b', 'axb', false],
    ['exact', 'exact', true],
    ['(x)+*', '(x)+y', true],
  ])('glob %s ~ %s = %s', (pattern, s, expected) => {
    expect(compileGlob(pattern)(s)).toBe(expected);
  });

  it('claimAt prefers an exact (URL-like) claim name over a dotted path', () => {
    const claims = { 'https://example.com/roles': ['r'], a: { b: 1 }, 'a.b': 2 };
    expect(claimAt(claims, 'https://example.com/roles')).toEqual(['r']);
    expect(claimAt(claims, 'a.b')).toBe(2);
    expect(claimAt({ a: { b: 1 } }, 'a.b')).toBe(1);
    expect(claimAt({ a: [1] }, 'a.0')).toBeUndefined();
  });
});
