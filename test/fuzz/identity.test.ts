/**
 * Mutated identities never gain access: SPIFFE principals, XFCC headers and JWTs are mutated at
 * random and pushed through the real normalize → identify → evaluate pipeline. An allow must be
 * explained by an identity the policy really names, checked with an oracle independent of the
 * parsers under test.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { normalizeCheckRequest } from '../../src/server/normalize.js';
import type { IdentityResult } from '../../src/types.js';
import { createSigningKey, jwksOf, signToken, type TestSigningKey } from '../fixtures/jwt.js';
import { checkRequest } from '../helpers/requests.js';
import { propertyRuns } from './budget.js';
import { compileOrThrow, createPipeline, type Pipeline } from './pipeline.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const INGRESS = 'spiffe://cluster.local/ns/istio-system/sa/ingress';
const BILLING = 'spiffe://cluster.local/ns/shop/sa/billing';
const ISS = 'https://idp.fuzz.test';

const POLICY = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: ident }
selector: { hosts: ['orders*'] }
rules:
  - id: frontend-exact
    effect: ALLOW
    from: [{ principals: ['${FRONTEND}'] }]
    to: [{ methods: [GET], paths: ['/orders/*'] }]
  - id: shop-namespace
    effect: ALLOW
    from: [{ namespaces: [shop], trustDomains: [cluster.local] }]
    to: [{ methods: [GET], paths: ['/catalog/*'] }]
  - id: alice
    effect: ALLOW
    when: principal.authenticated && principal.id == 'alice' && principal.claims.tier == 'gold'
    to: [{ methods: [GET], paths: ['/me/*'] }]
`;

/** Random edits of a string: insert, delete, replace, case flip, encodings, look-alikes. */
function mutated(base: string): fc.Arbitrary<string> {
  const edit = fc.oneof(
    fc.tuple(fc.nat(), fc.string({ minLength: 1, maxLength: 3 })).map(([i, s]) => (x: string) => {
      const at = i % (x.length + 1);
      return x.slice(0, at) + s + x.slice(at);
    }),
    fc.nat().map((i) => (x: string) => {
      const at = i % Math.max(1, x.length);
      return x.slice(0, at) + x.slice(at + 1);
    }),
    fc
      .tuple(
        fc.nat(),
        fc.constantFrom('A', 'S', '/', '.', '%2F', '\u0455', '\u00a0', '\u0000', ',', ';', '"', '='),
      )
      .map(([i, c]) => (x: string) => {
        const at = i % Math.max(1, x.length);
        return x.slice(0, at) + c + x.slice(at + 1);
      }),
    fc.nat().map((i) => (x: string) => {
      const at = i % Math.max(1, x.length);
      const c = x[at] ?? '';
      return x.slice(0, at) + (c === c.toUpperCase() ? c.toLowerCase() : c.toUpperCase()) + x.slice(at + 1);
    }),
    fc.constantFrom(
      (x: string) => `${x}/`,
      (x: string) => `${x} `,
      (x: string) => ` ${x}`,
      (x: string) => x.replace('cluster.local', 'cluster.local:443'),
      (x: string) => x.replace('spiffe://', 'spiffe://evil@'),
      (x: string) => x.replace('spiffe://', 'SPIFFE://'),
      (x: string) => x.replace('/sa/', '/sa/./'),
      (x: string) => x.replace('/ns/shop/', '/ns/shop/../shop/'),
      (x: string) => x.replace('frontend', 'frontend/x'),
      (x: string) => `${x},${x}`,
    ),
  );
  return fc.array(edit, { minLength: 1, maxLength: 3 }).map((edits) => edits.reduce((x, f) => f(x), base));
}

/** Independent oracle: an Istio-style SPIFFE ID in cluster.local's `shop` namespace. */
const SHOP_ID = /^spiffe:\/\/cluster\.local\/ns\/shop\/sa\/[A-Za-z0-9._-]+$/;

describe('mutated identities never gain access', () => {
  let key: TestSigningKey;
  let pipeline: Pipeline;
  let token: string;

  beforeAll(async () => {
    key = await createSigningKey('ES256', 'fuzz');
    token = await signToken(key, { iss: ISS, sub: 'alice', tier: 'gold' }, { expiresIn: 3600 });
    pipeline = await createPipeline(compileOrThrow({ 'ident.yaml': POLICY }), {
      xfcc: { enabled: true, trustedProxies: { spiffeIds: [INGRESS] } },
      jwt: { providers: [{ issuer: ISS, jwks: { inline: jwksOf(key) }, algorithms: ['ES256'] }] },
    });
  });
  afterAll(() => pipeline.identity.close());

  const get = (path: string, spec: Parameters<typeof checkRequest>[0]) =>
    pipeline.decide(checkRequest({ method: 'GET', path, host: 'orders.shop', ...spec }));

  it('a mutated SPIFFE principal is allowed only if it is exactly the named one (or in the named namespace)', async () => {
    await fc.assert(
      fc.asyncProperty(mutated(FRONTEND), async (p) => {
        if ((await get('/orders/1', { sourcePrincipal: p })).allowed) expect(p).toBe(FRONTEND);
        if ((await get('/catalog/1', { sourcePrincipal: p })).allowed) expect(p).toMatch(SHOP_ID);
      }),
      { numRuns: propertyRuns(2000) },
    );
    // The unmutated identity is allowed (the property above is not vacuous).
    expect((await get('/orders/1', { sourcePrincipal: FRONTEND })).allowed).toBe(true);
  });

  it('a mutated XFCC header from the trusted proxy only yields the identity it literally names', async () => {
    const header = `By=${INGRESS};Hash=0a1b;Subject="";URI=${FRONTEND}`;
    await fc.assert(
      fc.asyncProperty(mutated(header), async (h) => {
        const viaProxy = await get('/orders/1', {
          sourcePrincipal: INGRESS,
          headers: { 'x-forwarded-client-cert': h },
        });
        if (viaProxy.allowed) {
          // Keys are case-insensitive; the value may be quoted. The last element is the proxy's.
          const last = h.split(',').at(-1) ?? '';
          const uris = last
            .split(';')
            .map((kv) => kv.split('='))
            .filter(([k]) => k?.trim().toLowerCase() === 'uri')
            .map(([, v]) => v?.replace(/^"(.*)"$/, '$1'));
          expect(uris).toEqual([FRONTEND]);
        }
        // From a peer that is not a trusted proxy the header never counts.
        const direct = await get('/orders/1', {
          sourcePrincipal: BILLING,
          headers: { 'x-forwarded-client-cert': h },
        });
        expect(direct.allowed).toBe(false);
      }),
      { numRuns: propertyRuns(2000) },
    );
    expect(
      (await get('/orders/1', { sourcePrincipal: INGRESS, headers: { 'x-forwarded-client-cert': header } }))
        .allowed,
    ).toBe(true);
  });

  it('a mutated JWT is refused with a 401 reason, or verifies to exactly the same subject and claims', async () => {
    const original = (await identifyBearer(token)) as Extract<IdentityResult, { ok: true }>;
    expect(original.ok).toBe(true);
    const [h, p, s] = token.split('.') as [string, string, string];
    const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');
    const forged = fc.oneof(
      mutated(token),
      fc.constantFrom(
        `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`,
        `${b64({ alg: 'HS256', kid: 'fuzz' })}.${p}.${s}`,
        `${b64({ alg: 'ES256', kid: 'other' })}.${p}.${s}`,
        `${h}.${b64({ iss: ISS, sub: 'alice', tier: 'gold', exp: 4102444800 })}.${s}`,
        `${h}.${p}`,
        `${h}.${p}.${s}.${s}`,
        `${h}..${s}`,
        `${token},${token}`,
      ),
    );
    await fc.assert(
      fc.asyncProperty(forged, async (t) => {
        const r = await identifyBearer(t);
        if (r.ok) {
          expect(r.principal.id).toBe('alice');
          expect(r.principal.claims).toEqual(original.principal.claims);
        } else {
          expect(r.status).toBe(401);
          expect(r.reason).toMatch(/^(token_|credential_missing)/);
          expect(r.detail).not.toContain(t.split('.')[2] || '\u0000');
        }
        const d = await get('/me/x', { headers: { authorization: `Bearer ${t}` } });
        if (d.allowed) expect(r.ok).toBe(true);
      }),
      { numRuns: propertyRuns(1500) },
    );
  });

  async function identifyBearer(t: string): Promise<IdentityResult> {
    return pipeline.identity.identify(
      normalizeCheckRequest(checkRequest({ path: '/me/x', headers: { authorization: `Bearer ${t}` } })),
    );
  }
});
