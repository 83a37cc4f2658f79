import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdentityResolver } from '../../../src/identity/index.js';
import type { Metrics } from '../../../src/telemetry/metrics.js';
import type { IdentityResult } from '../../../src/types.js';
import {
  createSigningKey,
  jwksOf,
  signHs256,
  signToken,
  type TestSigningKey,
  unsecuredToken,
} from '../../fixtures/jwt.js';
import { authzInput, bearer, counterValue, identify, resolverFor } from './helpers.js';

const ISS = 'https://issuer.test';
const AGED_ISS = 'https://aged.test';
const HMAC_ISS = 'https://hmac.test';
const SECRET = 'a-shared-secret-of-at-least-32-bytes!';

let es: TestSigningKey;
let rs: TestSigningKey;
let ed: TestSigningKey;
let stranger: TestSigningKey;
let resolver: IdentityResolver;
let metrics: Metrics;
let logs: string[];
const tokensSeen: string[] = [];

const good = (claims: Record<string, unknown> = {}) => ({ iss: ISS, sub: 'alice', aud: 'orders', ...claims });
async function token(t: Promise<string> | string): Promise<string> {
  const s = await t;
  tokensSeen.push(s);
  return s;
}

beforeAll(async () => {
  [es, rs, ed, stranger] = await Promise.all([
    createSigningKey('ES256', 'es-1'),
    createSigningKey('RS256', 'rs-1'),
    createSigningKey('EdDSA', 'ed-1'),
    createSigningKey('ES256', 'es-1'), // same kid as `es`, different key
  ]);
  process.env.PORTCULLIS_TEST_HMAC = SECRET;
  ({ resolver, metrics, logs } = await resolverFor({
    jwt: {
      providers: [
        { issuer: ISS, jwks: { inline: jwksOf(es, rs, ed) }, audiences: ['orders'], clockSkew: '0s' },
        { issuer: AGED_ISS, jwks: { inline: jwksOf(es) }, maxTokenAge: '60s' },
        { issuer: HMAC_ISS, secret: { env: 'PORTCULLIS_TEST_HMAC' }, algorithms: ['HS256'] },
      ],
    },
    principalTypes: { rules: [{ type: 'agent', claims: { client_type: ['ai-agent'] } }] },
  }));
});

afterAll(async () => {
  await resolver.close();
  // Tokens never reach logs or failure details.
  const joined = logs.join('\n');
  const secrets = tokensSeen.flatMap((t) => [t, ...t.split('.').slice(1)]).filter((s) => s.length >= 16);
  expect(secrets.length).toBeGreaterThan(20);
  for (const s of secrets) expect(joined).not.toContain(s);
});

function expectFailure(r: IdentityResult, reason: string) {
  expect(r).toMatchObject({ ok: false, reason, status: 401 });
  if (!r.ok) for (const t of tokensSeen) expect(r.detail).not.toContain(t);
}

describe('attacks and bad tokens: each denied 401 with its reason', () => {
  const cases: [string, string, () => Promise<string> | string][] = [
    ['alg none', 'token_algorithm_not_allowed', () => unsecuredToken(good())],
    ['alg "None" spelled differently', 'token_algorithm_not_allowed', () => unsecuredToken(good(), 'NoNe')],
    [
      'RS256 public key used as HS256 secret',
      'token_algorithm_not_allowed',
      () => signHs256(rs.publicKeyPem, good()),
    ],
    ['expired', 'token_expired', () => signToken(es, good(), { expiresIn: -10 })],
    ['nbf in the future', 'token_not_yet_valid', () => signToken(es, good(), { notBefore: 3600 })],
    ['wrong aud', 'token_audience_invalid', () => signToken(es, good({ aud: 'billing' }))],
    ['wrong iss', 'token_issuer_unknown', () => signToken(es, good({ iss: 'https://evil.test' }))],
    ['64 KiB token', 'token_too_large', () => signToken(es, good({ pad: 'x'.repeat(64 * 1024) }))],
    ['garbage', 'token_invalid', () => 'garbage'],
    ['garbage in three segments', 'token_invalid', () => '%%%.!!!.***'],
    ['JWE (five segments)', 'token_invalid', () => 'a.b.c.d.e'],
    [
      'truncated signature',
      'token_signature_invalid',
      async () => (await signToken(es, good())).slice(0, -4),
    ],
    [
      'payload swapped',
      'token_signature_invalid',
      async () => {
        const [h, , s] = (await signToken(es, good())).split('.');
        return `${h}.${Buffer.from(JSON.stringify(good({ sub: 'root', exp: 4e9 }))).toString('base64url')}.${s}`;
      },
    ],
    ['known kid, other key', 'token_signature_invalid', () => signToken(stranger, good())],
    ['unknown kid', 'token_key_unknown', () => signToken({ ...es, kid: 'nope' }, good())],
    ['no exp', 'token_claim_missing', () => signToken(es, good(), { expiresIn: null })],
    ['no sub', 'token_claim_missing', () => signToken(es, { iss: ISS, aud: 'orders' })],
    [
      'too old for maxTokenAge',
      'token_too_old',
      () => signToken(es, { iss: AGED_ISS, sub: 'a' }, { issuedAt: -120 }),
    ],
    ['malformed act claim', 'token_invalid', () => signToken(es, good({ act: 'agent-7' }))],
    [
      'HS256 with a wrong secret',
      'token_signature_invalid',
      () => signHs256('not-the-secret-but-long-enough-xxxxxx', { iss: HMAC_ISS, sub: 'svc' }),
    ],
  ];
  it.each(cases)('%s → %s', async (_name, reason, make) => {
    const before = await counterValue(metrics, 'identityFailures', { kind: 'jwt', reason });
    expectFailure(await identify(resolver, { headers: bearer(await token(make())) }), reason);
    expect(await counterValue(metrics, 'identityFailures', { kind: 'jwt', reason })).toBe(before + 1);
  });

  it.each([
    ['empty bearer', { authorization: 'Bearer ' }],
    ['two authorization headers', { authorization: 'Bearer a.b.c,Bearer d.e.f' }],
  ])('%s → token_invalid', async (_name, headers) => {
    expectFailure(await identify(resolver, { headers }), 'token_invalid');
  });
});

describe('verified tokens become principals', () => {
  it.each([['ES256'], ['RS256'], ['EdDSA']])('%s token', async (alg) => {
    const key = { ES256: es, RS256: rs, EdDSA: ed }[alg]!;
    const t = await token(
      signToken(key, good({ scope: 'orders:read orders:write', groups: ['staff'], roles: 'clerk' })),
    );
    const r = await identify(resolver, {
      headers: bearer(t),
      principal: 'spiffe://example.org/ns/shop/sa/web',
    });
    expect(r).toMatchObject({
      ok: true,
      principal: {
        id: 'alice',
        type: 'human',
        authenticated: true,
        issuer: ISS,
        scopes: ['orders:read', 'orders:write'],
        groups: ['staff'],
        roles: ['clerk'],
        act: [],
        source: { spiffeId: 'spiffe://example.org/ns/shop/sa/web', verified: false },
      },
    });
  });

  it('HS256 with the configured secret', async () => {
    const r = await identify(resolver, {
      headers: bearer(await token(signHs256(SECRET, { iss: HMAC_ISS, sub: 'svc' }))),
    });
    expect(r).toMatchObject({ ok: true, principal: { id: 'svc', issuer: HMAC_ISS } });
  });

  it('an agent acting for a user: id is the user, type agent, act holds the chain', async () => {
    const t = await token(
      signToken(
        es,
        good({
          scp: ['orders:read'],
          act: { sub: 'agent-7', client_id: 'copilot', act: { sub: 'orchestrator' } },
        }),
      ),
    );
    const r = await identify(resolver, { headers: bearer(t) });
    expect(r).toMatchObject({
      ok: true,
      principal: {
        id: 'alice',
        type: 'agent',
        scopes: ['orders:read'],
        act: [
          { sub: 'agent-7', claims: { sub: 'agent-7', client_id: 'copilot' } },
          { sub: 'orchestrator', claims: { sub: 'orchestrator' } },
        ],
      },
    });
  });

  it('an agent with its own token is classified by rule', async () => {
    const t = await token(signToken(es, good({ sub: 'agent-9', client_type: 'ai-agent' })));
    expect(await identify(resolver, { headers: bearer(t) })).toMatchObject({
      ok: true,
      principal: { id: 'agent-9', type: 'agent', act: [] },
    });
  });

  it('claims are frozen (shared by every request with the token)', async () => {
    const r = await identify(resolver, {
      headers: bearer(await token(signToken(es, good({ nested: { a: [1] } })))),
    });
    expect(r.ok && Object.isFrozen(r.principal.claims) && Object.isFrozen(r.principal.claims.nested)).toBe(
      true,
    );
  });
});

describe('the verified-token cache', () => {
  it('a repeated token is answered synchronously from the cache', async () => {
    const t = await token(signToken(es, good({ sub: 'bob' })));
    const hits = await counterValue(metrics, 'cacheRequests', { cache: 'token', result: 'hit' });
    const first = resolver.identify(authzInput({ headers: bearer(t) }));
    expect(first).toBeInstanceOf(Promise);
    await first;
    const second = resolver.identify(authzInput({ headers: bearer(t), principal: 'spiffe://example.org/a' }));
    expect(second).not.toBeInstanceOf(Promise);
    expect(second).toMatchObject({
      ok: true,
      principal: { id: 'bob', source: { spiffeId: 'spiffe://example.org/a' } },
    });
    expect(await counterValue(metrics, 'cacheRequests', { cache: 'token', result: 'hit' })).toBe(hits + 1);
  });

  it('a burst of the same new token verifies once (in-flight promise shared)', async () => {
    const t = await token(signToken(es, good({ sub: 'carol' })));
    const miss = await counterValue(metrics, 'cacheRequests', { cache: 'token', result: 'miss' });
    const coalesced = await counterValue(metrics, 'cacheRequests', { cache: 'token', result: 'coalesced' });
    const results = await Promise.all(
      Array.from({ length: 20 }, () => resolver.identify(authzInput({ headers: bearer(t) }))),
    );
    expect(results.every((r) => r.ok && r.principal.id === 'carol')).toBe(true);
    expect(await counterValue(metrics, 'cacheRequests', { cache: 'token', result: 'miss' })).toBe(miss + 1);
    expect(await counterValue(metrics, 'cacheRequests', { cache: 'token', result: 'coalesced' })).toBe(
      coalesced + 19,
    );
  });

  it('a failed token is remembered briefly (negative entry, still a 401)', async () => {
    const t = await token(signToken(es, good({ aud: 'elsewhere' })));
    await identify(resolver, { headers: bearer(t) });
    const again = resolver.identify(authzInput({ headers: bearer(t) }));
    expect(again).not.toBeInstanceOf(Promise);
    expectFailure(again as IdentityResult, 'token_audience_invalid');
  });

  it('an entry never outlives the token exp', async () => {
    const t = await token(signToken(es, good({ sub: 'dave' }), { expiresIn: 3 }));
    expect(await identify(resolver, { headers: bearer(t) })).toMatchObject({ ok: true });
    // Wait until just past `exp` (whole seconds), however slow the machine was so far.
    const exp = (JSON.parse(Buffer.from(t.split('.')[1]!, 'base64url').toString()) as { exp: number }).exp;
    await new Promise((r) => setTimeout(r, Math.max(0, exp * 1000 - Date.now()) + 150));
    const after = resolver.identify(authzInput({ headers: bearer(t) }));
    expect(after).toBeInstanceOf(Promise);
    expectFailure(await after, 'token_expired');
  });

  it('recent tokens are recognised by content: a one-character forgery of one is verified and refused', async () => {
    const ts = await Promise.all(
      ['r1', 'r2', 'r3', 'r4', 'r5', 'r6'].map((sub) => token(signToken(es, good({ sub })))),
    );
    // More tokens than the recent memo holds, round robin: each stays its own principal.
    for (let round = 0; round < 3; round++) {
      for (const [i, t] of ts.entries()) {
        expect(await identify(resolver, { headers: bearer(t) })).toMatchObject({
          ok: true,
          principal: { id: `r${i + 1}` },
        });
      }
    }
    const last = ts[5]!;
    const dot = last.lastIndexOf('.');
    const forged = `${last.slice(0, dot + 1)}${last[dot + 1] === 'A' ? 'B' : 'A'}${last.slice(dot + 2)}`;
    expectFailure(await identify(resolver, { headers: bearer(forged) }), 'token_signature_invalid');
    expect(await identify(resolver, { headers: bearer(last) })).toMatchObject({ ok: true });
  });

  it('is bounded (LRU eviction)', async () => {
    const small = await resolverFor({
      jwt: { providers: [{ issuer: ISS, jwks: { inline: jwksOf(es) } }] },
      tokenCache: { maxEntries: 2 },
    });
    const ts = await Promise.all(['u1', 'u2', 'u3'].map((sub) => token(signToken(es, { iss: ISS, sub }))));
    for (const t of ts) await identify(small.resolver, { headers: bearer(t) });
    expect(small.resolver.identify(authzInput({ headers: bearer(ts[2]!) }))).not.toBeInstanceOf(Promise);
    expect(small.resolver.identify(authzInput({ headers: bearer(ts[0]!) }))).toBeInstanceOf(Promise);
    await small.resolver.close();
  });
});

describe('token requirements and sources', () => {
  it('no token and none required → anonymous; required → credential_missing', async () => {
    expect(await identify(resolver, {})).toMatchObject({
      ok: true,
      principal: { type: 'anonymous', id: '', authenticated: false },
    });
    const strict = await resolverFor({
      jwt: { required: true, providers: [{ issuer: ISS, jwks: { inline: jwksOf(es) } }] },
    });
    expectFailure(await identify(strict.resolver, {}), 'credential_missing');
    expectFailure(
      await identify(strict.resolver, { headers: { authorization: 'Basic dXNlcjpwdw==' } }),
      'credential_missing',
    );
    await strict.resolver.close();
  });

  it('with no provider configured, JWT handling is off and a token is ignored', async () => {
    const off = await resolverFor({});
    const t = await token(signToken(es, good()));
    expect(await identify(off.resolver, { headers: bearer(t) })).toMatchObject({
      ok: true,
      principal: { type: 'anonymous' },
    });
    await off.resolver.close();
  });

  it("trusts Envoy jwt_authn's verified payload only when enabled", async () => {
    const metadata = {
      'envoy.filters.http.jwt_authn': { jwt_payload: { iss: ISS, sub: 'erin', scope: 'a b' } },
    };
    const on = await resolverFor({ jwt: { trustEnvoyJwtAuthn: { enabled: true } } });
    expect(await identify(on.resolver, { metadata })).toMatchObject({
      ok: true,
      principal: { id: 'erin', scopes: ['a', 'b'], authenticated: true },
    });
    expect(await identify(resolver, { metadata })).toMatchObject({
      ok: true,
      principal: { type: 'anonymous' },
    });
    await on.resolver.close();
  });
});
