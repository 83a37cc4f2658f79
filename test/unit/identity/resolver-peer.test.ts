import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { IdentityResolver } from '../../../src/identity/index.js';
import type { Metrics } from '../../../src/telemetry/metrics.js';
import { createSigningKey, signToken, type TestSigningKey } from '../../fixtures/jwt.js';
import {
  createIntermediateCa,
  createRootCa,
  issueSvid,
  spiffeBundleJson,
  type TestCa,
} from '../../fixtures/pki.js';
import { authzInput, bearer, counterValue, identify, resolverFor } from './helpers.js';

const WEB = 'spiffe://example.org/ns/shop/sa/web';
const PROXY = 'spiffe://example.org/ns/istio-system/sa/ingress';
const CLIENT = 'spiffe://example.org/ns/shop/sa/client';
const API = 'spiffe://other.org/api';

let root: TestCa;
let inter: TestCa;
let otherRoot: TestCa;
let svidKey: TestSigningKey;
let dir: string;
const resolvers: IdentityResolver[] = [];

async function make(raw: unknown): Promise<{ resolver: IdentityResolver; metrics: Metrics }> {
  const r = await resolverFor(raw);
  resolvers.push(r.resolver);
  return r;
}

function write(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

let bundles: { trustDomain: string; file: string; intermediatesFile?: string }[];

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'portcullis-identity-peer-'));
  root = createRootCa({ name: 'example.org root' });
  inter = createIntermediateCa(root);
  otherRoot = createRootCa({ name: 'other.org root' });
  svidKey = await createSigningKey('ES256', 'svid-1');
  bundles = [
    {
      trustDomain: 'example.org',
      file: write('root.pem', root.pem),
      intermediatesFile: write('inter.pem', inter.pem),
    },
    {
      trustDomain: 'other.org',
      file: write('other.json', spiffeBundleJson([otherRoot], [svidKey.publicJwk])),
    },
  ];
});

afterAll(async () => {
  await Promise.all(resolvers.map((r) => r.close()));
  rmSync(dir, { recursive: true, force: true });
});

describe('verified peers (bundles configured → verification required)', () => {
  let resolver: IdentityResolver;
  let metrics: Metrics;
  beforeAll(async () => {
    ({ resolver, metrics } = await make({ spiffe: { trustBundles: bundles } }));
  });

  it('a verified X.509-SVID whose principal agrees → workload, verified', async () => {
    const pem = issueSvid(inter, { uris: [WEB] }).pem;
    expect(await identify(resolver, { principal: WEB, certificate: pem })).toMatchObject({
      ok: true,
      principal: {
        id: WEB,
        type: 'workload',
        authenticated: true,
        source: {
          spiffeId: WEB,
          trustDomain: 'example.org',
          namespace: 'shop',
          serviceAccount: 'web',
          verified: true,
        },
      },
    });
  });

  it.each<[string, string, () => { principal?: string; certificate?: string }]>([
    [
      'principal vs certificate mismatch',
      'certificate_mismatch',
      () => ({
        principal: 'spiffe://example.org/ns/shop/sa/admin',
        certificate: issueSvid(inter, { uris: [WEB] }).pem,
      }),
    ],
    ['principal without certificate', 'certificate_missing', () => ({ principal: WEB })],
    [
      'expired certificate',
      'certificate_expired',
      () => ({
        principal: WEB,
        certificate: issueSvid(inter, { uris: [WEB], notAfter: new Date(Date.now() - 1000) }).pem,
      }),
    ],
    [
      'untrusted CA',
      'certificate_untrusted',
      () => ({
        principal: WEB,
        certificate: issueSvid(createRootCa({ name: 'example.org root' }), { uris: [WEB] }).pem,
      }),
    ],
    [
      'CA-flagged leaf',
      'certificate_invalid',
      () => ({ certificate: issueSvid(inter, { uris: [WEB], ca: true }).pem }),
    ],
    [
      'wrong trust domain',
      'certificate_untrusted',
      () => ({ certificate: issueSvid(inter, { uris: [API] }).pem }),
    ],
  ])('%s → 403 %s', async (_name, reason, input) => {
    const before = await counterValue(metrics, 'identityFailures', { kind: 'x509', reason });
    expect(await identify(resolver, input())).toMatchObject({ ok: false, status: 403, reason });
    expect(await counterValue(metrics, 'identityFailures', { kind: 'x509', reason })).toBe(before + 1);
  });

  it('the certificate as sent is the cache key: a cached peer is never URL-decoded again', async () => {
    const pem = issueSvid(inter, { uris: [WEB] }).pem;
    const sent = encodeURIComponent(pem);
    let decoded = 0;
    const input = () => {
      const base = authzInput({ principal: WEB });
      const source = {
        ...base.source,
        certificateAsSent: sent,
        get certificate() {
          decoded++;
          return decodeURIComponent(sent);
        },
      };
      return { ...base, source };
    };
    for (let i = 0; i < 5; i++) {
      expect(await resolver.identify(input())).toMatchObject({
        ok: true,
        principal: { id: WEB, source: { verified: true } },
      });
    }
    expect(decoded).toBe(1);
  });

  it('the as-sent and PEM key spaces never stand for each other', async () => {
    const pem = issueSvid(inter, { uris: [WEB] }).pem;
    const sent = encodeURIComponent(pem);
    expect(await identify(resolver, { certificate: pem, certificateAsSent: sent })).toMatchObject({
      ok: true,
    });
    // The same text handed over as a PEM is not a certificate: verified afresh, and refused.
    expect(await identify(resolver, { certificate: sent })).toMatchObject({
      ok: false,
      status: 403,
      reason: 'certificate_invalid',
    });
    // And a bad certificate as sent does not borrow the verdict of the PEM it equals as text.
    expect(await identify(resolver, { certificate: pem })).toMatchObject({ ok: true });
    expect(
      await identify(resolver, { certificate: 'not a certificate', certificateAsSent: pem }),
    ).toMatchObject({ ok: false, status: 403, reason: 'certificate_invalid' });
  });

  it('more peers than the recent memo holds are each verified and cached correctly', async () => {
    const ids = Array.from({ length: 7 }, (_, i) => `spiffe://example.org/ns/shop/sa/w${i}`);
    const pems = ids.map((id) => issueSvid(inter, { uris: [id] }).pem);
    for (let round = 0; round < 3; round++) {
      for (const [i, id] of ids.entries()) {
        const pem = pems[i]!;
        const r = await identify(resolver, {
          principal: id,
          certificate: pem,
          certificateAsSent: encodeURIComponent(pem),
        });
        expect(r).toMatchObject({ ok: true, principal: { id } });
      }
    }
    // A peer claiming another's identity with its own (cached) certificate is still refused.
    const r = await identify(resolver, {
      principal: ids[0]!,
      certificate: pems[1]!,
      certificateAsSent: encodeURIComponent(pems[1]!),
    });
    expect(r).toMatchObject({ ok: false, reason: 'certificate_mismatch' });
  });

  it('no TLS at all → anonymous', async () => {
    expect(await identify(resolver, {})).toMatchObject({
      ok: true,
      principal: { type: 'anonymous', id: '' },
    });
  });

  it('XFCC is ignored while xfcc is disabled', async () => {
    const pem = issueSvid(inter, { uris: [WEB] }).pem;
    const r = await identify(resolver, {
      principal: WEB,
      certificate: pem,
      headers: { 'x-forwarded-client-cert': `URI=${CLIENT}` },
    });
    expect(r).toMatchObject({ ok: true, principal: { id: WEB } });
  });
});

describe("Envoy's principal trusted (no bundle: Envoy terminated mTLS)", () => {
  let resolver: IdentityResolver;
  beforeAll(async () => {
    ({ resolver } = await make({}));
  });

  it('a SPIFFE principal → authenticated workload, not verified by us', async () => {
    expect(await identify(resolver, { principal: WEB })).toMatchObject({
      ok: true,
      principal: {
        id: WEB,
        type: 'workload',
        authenticated: true,
        source: { verified: false, namespace: 'shop' },
      },
    });
  });

  it('a certificate without any bundle is left to Envoy', async () => {
    const pem = issueSvid(createRootCa(), { uris: [WEB] }).pem;
    expect(await identify(resolver, { principal: WEB, certificate: pem })).toMatchObject({
      ok: true,
      principal: { source: { verified: false } },
    });
  });

  it('a DNS/subject principal is kept in source, the principal stays anonymous', async () => {
    expect(await identify(resolver, { principal: 'web.shop.svc' })).toMatchObject({
      ok: true,
      principal: { type: 'anonymous', source: { principal: 'web.shop.svc', spiffeId: '' } },
    });
  });

  it.each([
    ['spiffe://Example.org/x', 'spiffe_id_invalid'],
    ['spiffe://example.org/a/../b', 'spiffe_id_invalid'],
    ['SPIFFE://example.org/x', 'spiffe_id_invalid'],
  ])('malformed SPIFFE principal %s → 403 %s', async (principal, reason) => {
    expect(await identify(resolver, { principal })).toMatchObject({ ok: false, status: 403, reason });
  });

  it('allowedTrustDomains refuses others', async () => {
    const { resolver: r } = await make({ spiffe: { allowedTrustDomains: ['example.org'] } });
    expect(await identify(r, { principal: API })).toMatchObject({
      ok: false,
      status: 403,
      reason: 'trust_domain_not_allowed',
    });
    expect(await identify(r, { principal: WEB })).toMatchObject({ ok: true });
  });

  it('explicit envoy mode with bundles verifies what it can', async () => {
    const { resolver: r } = await make({ spiffe: { verification: 'envoy', trustBundles: bundles } });
    const good = issueSvid(inter, { uris: [WEB] }).pem;
    const foreign = issueSvid(createRootCa(), { uris: ['spiffe://third.org/x'] }).pem;
    const forged = issueSvid(createRootCa({ name: 'example.org root' }), { uris: [WEB] }).pem;
    expect(await identify(r, { principal: WEB, certificate: good })).toMatchObject({
      ok: true,
      principal: { source: { verified: true } },
    });
    expect(await identify(r, { principal: 'spiffe://third.org/x', certificate: foreign })).toMatchObject({
      ok: true,
      principal: { source: { verified: false } },
    });
    expect(await identify(r, { principal: WEB, certificate: forged })).toMatchObject({
      ok: false,
      reason: 'certificate_untrusted',
    });
    expect(await identify(r, { principal: WEB })).toMatchObject({
      ok: true,
      principal: { source: { verified: false } },
    });
  });
});

describe('x-forwarded-client-cert from trusted proxies only', () => {
  let resolver: IdentityResolver;
  let metrics: Metrics;
  beforeAll(async () => {
    ({ resolver, metrics } = await make({
      xfcc: {
        enabled: true,
        trustedProxies: {
          spiffeIds: ['spiffe://example.org/ns/istio-system/sa/*'],
          addresses: ['192.168.1.0/24'],
        },
      },
    }));
  });
  const xfcc = (v: string) => ({ 'x-forwarded-client-cert': v });

  it('forged XFCC from an untrusted peer → 403 xfcc_untrusted', async () => {
    const before = await counterValue(metrics, 'identityFailures', {
      kind: 'xfcc',
      reason: 'xfcc_untrusted',
    });
    const r = await identify(resolver, {
      principal: WEB,
      headers: xfcc(`By=${WEB};URI=spiffe://example.org/ns/kube-system/sa/admin`),
    });
    expect(r).toMatchObject({ ok: false, status: 403, reason: 'xfcc_untrusted' });
    expect(await counterValue(metrics, 'identityFailures', { kind: 'xfcc', reason: 'xfcc_untrusted' })).toBe(
      before + 1,
    );
  });

  it.each<[string, { principal?: string; address?: string; header: string }, Record<string, unknown>]>([
    [
      'proxy by SPIFFE ID',
      { principal: PROXY, header: `By=${PROXY};Hash=ab;Subject="";URI=${CLIENT}` },
      { ok: true, principal: { id: CLIENT, source: { principal: CLIENT } } },
    ],
    [
      'proxy by address',
      { address: '192.168.1.7', header: `URI=${CLIENT}` },
      { ok: true, principal: { id: CLIENT } },
    ],
    [
      'last element wins (nearest proxy)',
      { principal: PROXY, header: `URI=spiffe://x.org/far,By=${PROXY};URI=${CLIENT}` },
      { ok: true, principal: { id: CLIENT } },
    ],
    [
      'By names another proxy',
      { principal: PROXY, header: `By=spiffe://example.org/ns/istio-system/sa/other;URI=${CLIENT}` },
      { ok: false, reason: 'xfcc_untrusted' },
    ],
    [
      'malformed header',
      { principal: PROXY, header: 'URI="unterminated' },
      { ok: false, reason: 'xfcc_invalid' },
    ],
    [
      'two URIs',
      { principal: PROXY, header: `URI=${CLIENT};URI=${WEB}` },
      { ok: false, reason: 'xfcc_invalid' },
    ],
    [
      'untrusted address',
      { address: '192.168.2.7', header: `URI=${CLIENT}` },
      { ok: false, reason: 'xfcc_untrusted' },
    ],
  ])('%s', async (_name, o, expected) => {
    const r = await identify(resolver, {
      headers: xfcc(o.header),
      ...(o.principal ? { principal: o.principal } : {}),
      ...(o.address ? { address: o.address } : {}),
    });
    expect(r).toMatchObject(expected);
  });

  it('with rejectUntrusted: false an untrusted XFCC is ignored', async () => {
    const { resolver: r } = await make({ xfcc: { enabled: true, rejectUntrusted: false } });
    expect(await identify(r, { principal: WEB, headers: xfcc(`URI=${CLIENT}`) })).toMatchObject({
      ok: true,
      principal: { id: WEB },
    });
  });

  it("verifies the forwarded client's Cert when bundles are configured", async () => {
    const { resolver: r } = await make({
      spiffe: { trustBundles: bundles },
      xfcc: { enabled: true, trustedProxies: { spiffeIds: [PROXY] } },
    });
    const proxyPem = issueSvid(inter, { uris: [PROXY] }).pem;
    const clientPem = issueSvid(inter, { uris: [CLIENT] }).pem;
    const header = `By=${PROXY};Cert="${encodeURIComponent(clientPem)}";URI=${CLIENT}`;
    expect(
      await identify(r, { principal: PROXY, certificate: proxyPem, headers: xfcc(header) }),
    ).toMatchObject({
      ok: true,
      principal: { id: CLIENT, source: { verified: true } },
    });
    const noCert = await identify(r, {
      principal: PROXY,
      certificate: proxyPem,
      headers: xfcc(`By=${PROXY};URI=${CLIENT}`),
    });
    expect(noCert).toMatchObject({ ok: false, reason: 'certificate_missing' });
  });
});

describe('JWT-SVIDs (keys from the SPIFFE bundle)', () => {
  let resolver: IdentityResolver;
  beforeAll(async () => {
    ({ resolver } = await make({
      spiffe: { trustBundles: bundles },
      jwt: { svid: { enabled: true, audiences: ['orders'] } },
    }));
  });

  it.each<[string, () => Promise<string>, Record<string, unknown>]>([
    [
      'valid',
      () => signToken(svidKey, { sub: API, aud: 'orders' }),
      { ok: true, principal: { id: API, type: 'workload', issuer: '' } },
    ],
    [
      'wrong audience',
      () => signToken(svidKey, { sub: API, aud: 'billing' }),
      { ok: false, reason: 'token_audience_invalid' },
    ],
    ['no audience', () => signToken(svidKey, { sub: API }), { ok: false, reason: 'token_claim_missing' }],
    [
      'trust domain without JWT keys',
      () => signToken(svidKey, { sub: WEB, aud: 'orders' }),
      { ok: false, reason: 'token_key_unknown' },
    ],
    [
      'malformed SPIFFE sub',
      () => signToken(svidKey, { sub: 'spiffe://Other.org/api', aud: 'orders' }),
      { ok: false, reason: 'spiffe_id_invalid' },
    ],
    [
      'not a SPIFFE sub and no issuer',
      () => signToken(svidKey, { sub: 'alice', aud: 'orders' }),
      { ok: false, reason: 'token_issuer_unknown' },
    ],
  ])('%s', async (_name, make, expected) => {
    expect(await identify(resolver, { headers: bearer(await make()) })).toMatchObject(expected);
  });

  it('a JWT-SVID with an unknown signing key is refused', async () => {
    const other = await createSigningKey('ES256', 'svid-1');
    expect(
      await identify(resolver, { headers: bearer(await signToken(other, { sub: API, aud: 'orders' })) }),
    ).toMatchObject({
      ok: false,
      reason: 'token_signature_invalid',
    });
  });
});
