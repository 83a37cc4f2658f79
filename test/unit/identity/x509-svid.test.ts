import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { KEY_USAGE, readCertExtensions } from '../../../src/identity/cert-extensions.js';

const hasCaFlag = (der: Uint8Array) => readCertExtensions(der).ca;
const readKeyUsage = (der: Uint8Array) => readCertExtensions(der).keyUsage;

import {
  loadTrustBundle,
  parseBundleDocument,
  type TrustBundle,
} from '../../../src/identity/trust-bundle.js';
import { parseSubjectAltNames, verifyX509Svid } from '../../../src/identity/x509-svid.js';
import {
  createIntermediateCa,
  createRootCa,
  issueSvid,
  spiffeBundleJson,
  type TestCa,
} from '../../fixtures/pki.js';

const DAY = 86_400_000;
const ago = (days: number) => new Date(Date.now() - days * DAY);

let root: TestCa;
let inter: TestCa;
let otherRoot: TestCa;
let bundles: Map<string, TrustBundle>;

beforeAll(() => {
  root = createRootCa({ name: 'example.org root' });
  inter = createIntermediateCa(root, { name: 'example.org intermediate' });
  otherRoot = createRootCa({ name: 'other.org root' });
  bundles = new Map([
    [
      'example.org',
      { trustDomain: 'example.org', authorities: [root.cert], intermediates: [inter.cert], jwtKeys: null },
    ],
    [
      'other.org',
      { trustDomain: 'other.org', authorities: [otherRoot.cert], intermediates: [], jwtKeys: null },
    ],
  ]);
});

function verify(pem: string, allowed: string[] = []) {
  return verifyX509Svid(pem, {
    bundleFor: (td) => bundles.get(td),
    allowedTrustDomains: new Set(allowed),
    nowMs: Date.now(),
  });
}

const WEB = 'spiffe://example.org/ns/shop/sa/web';

describe('verifyX509Svid', () => {
  type Case = [string, string, () => string, string[]];
  it.each<Case>([
    ['leaf via intermediate', 'ok', () => issueSvid(inter, { uris: [WEB] }).pem, []],
    ['leaf directly under the root', 'ok', () => issueSvid(root, { uris: [WEB] }).pem, []],
    ['second trust domain', 'ok', () => issueSvid(otherRoot, { uris: ['spiffe://other.org/api'] }).pem, []],
    [
      'expired leaf',
      'certificate_expired',
      () => issueSvid(inter, { uris: [WEB], notBefore: ago(10), notAfter: ago(1) }).pem,
      [],
    ],
    [
      'not yet valid',
      'certificate_invalid',
      () => issueSvid(inter, { uris: [WEB], notBefore: ago(-1), notAfter: ago(-2) }).pem,
      [],
    ],
    ['CA-flagged leaf', 'certificate_invalid', () => issueSvid(inter, { uris: [WEB], ca: true }).pem, []],
    [
      'two URI SANs',
      'certificate_invalid',
      () => issueSvid(inter, { uris: [WEB, 'spiffe://example.org/admin'] }).pem,
      [],
    ],
    ['no URI SAN', 'certificate_invalid', () => issueSvid(inter, { dnsNames: ['web.shop'] }).pem, []],
    [
      'URI SAN is not SPIFFE',
      'spiffe_id_invalid',
      () => issueSvid(inter, { uris: ['https://web.shop/'] }).pem,
      [],
    ],
    [
      'wrong key usage',
      'certificate_invalid',
      () => issueSvid(inter, { uris: [WEB], keyUsage: ['keyEncipherment'] }).pem,
      [],
    ],
    [
      'no key usage extension',
      'certificate_invalid',
      () => issueSvid(inter, { uris: [WEB], keyUsage: null }).pem,
      [],
    ],
    [
      'leaf may sign certificates',
      'certificate_invalid',
      () => issueSvid(inter, { uris: [WEB], keyUsage: ['digitalSignature', 'keyCertSign'] }).pem,
      [],
    ],
    [
      'wrong trust domain (example.org CA, other.org ID)',
      'certificate_untrusted',
      () => issueSvid(inter, { uris: ['spiffe://other.org/api'] }).pem,
      [],
    ],
    [
      'trust domain not allowed',
      'trust_domain_not_allowed',
      () => issueSvid(otherRoot, { uris: ['spiffe://other.org/api'] }).pem,
      ['example.org'],
    ],
    [
      'trust domain without bundle',
      'certificate_untrusted',
      () => issueSvid(inter, { uris: ['spiffe://unknown.org/x'] }).pem,
      [],
    ],
    [
      'forged root with the same name',
      'certificate_untrusted',
      () => issueSvid(createRootCa({ name: 'example.org root' }), { uris: [WEB] }).pem,
      [],
    ],
    [
      'intermediate not in the bundle',
      'certificate_untrusted',
      () => issueSvid(createIntermediateCa(root), { uris: [WEB] }).pem,
      [],
    ],
    [
      'garbage',
      'certificate_invalid',
      () => '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----',
      [],
    ],
    ['oversized', 'certificate_invalid', () => 'x'.repeat(20_000), []],
  ])('%s → %s', (_name, expected, pem, allowed) => {
    const r = verify(pem(), allowed);
    expect(r.ok ? 'ok' : r.reason).toBe(expected);
  });

  it('returns the SPIFFE parts and the leaf expiry', () => {
    const notAfter = new Date(Date.now() + 3_600_000);
    const r = verify(issueSvid(inter, { uris: [WEB], notAfter }).pem);
    expect(r).toMatchObject({
      ok: true,
      spiffeId: { trustDomain: 'example.org', namespace: 'shop', serviceAccount: 'web' },
    });
    if (r.ok) expect(Math.abs(r.notAfterMs - notAfter.getTime())).toBeLessThan(1000);
  });

  it('refuses a chain through an expired intermediate or a non-CA "intermediate"', () => {
    const oldInter = createIntermediateCa(root, { notBefore: ago(10), notAfter: ago(1) });
    const fakeInter = createIntermediateCa(root, { ca: false });
    const local = new Map(bundles);
    local.set('example.org', {
      ...bundles.get('example.org')!,
      intermediates: [oldInter.cert, fakeInter.cert],
    });
    for (const issuer of [oldInter, fakeInter]) {
      const r = verifyX509Svid(issueSvid(issuer, { uris: [WEB] }).pem, {
        bundleFor: (td) => local.get(td),
        allowedTrustDomains: new Set(),
        nowMs: Date.now(),
      });
      expect(r.ok ? 'ok' : r.reason).toBe('certificate_untrusted');
    }
  });
});

describe('parseSubjectAltNames (Node format)', () => {
  it.each([
    [undefined, []],
    ['URI:spiffe://a/b', [{ type: 'URI', value: 'spiffe://a/b' }]],
    [
      'URI:spiffe://a/b, DNS:x.test',
      [
        { type: 'URI', value: 'spiffe://a/b' },
        { type: 'DNS', value: 'x.test' },
      ],
    ],
    [
      'URI:"spiffe://a/b\\u002c c", URI:spiffe://a/d',
      [
        { type: 'URI', value: 'spiffe://a/b, c' },
        { type: 'URI', value: 'spiffe://a/d' },
      ],
    ],
  ])('%j', (san, expected) => {
    expect(parseSubjectAltNames(san)).toEqual(expected);
  });
});

describe('certificate extensions (KeyUsage, basicConstraints)', () => {
  it('reads the raw cA flag, which Node reports as false when KeyUsage lacks keyCertSign', () => {
    const caLeaf = issueSvid(inter, { uris: [WEB], ca: true });
    expect([caLeaf.cert.ca, hasCaFlag(caLeaf.cert.raw)]).toEqual([false, true]);
    expect(hasCaFlag(issueSvid(inter, { uris: [WEB] }).cert.raw)).toBe(false);
    expect(hasCaFlag(inter.cert.raw)).toBe(true);
  });

  it('reads the bits the fixture wrote', () => {
    const leaf = issueSvid(inter, { uris: [WEB], keyUsage: ['digitalSignature', 'keyAgreement'] });
    expect(readKeyUsage(leaf.cert.raw)).toBe(KEY_USAGE.digitalSignature | (1 << 4));
    expect(readKeyUsage(root.cert.raw)).toBe(KEY_USAGE.keyCertSign | KEY_USAGE.cRLSign);
    expect(readKeyUsage(issueSvid(inter, { uris: [WEB], keyUsage: null }).cert.raw)).toBeNull();
    expect(readKeyUsage(issueSvid(inter, { uris: [WEB], keyUsage: ['decipherOnly'] }).cert.raw)).toBe(1 << 8);
  });

  it('never throws on truncated or random DER', () => {
    const der = issueSvid(inter, { uris: [WEB] }).cert.raw;
    fc.assert(
      fc.property(fc.nat({ max: der.length }), fc.uint8Array({ maxLength: 64 }), (cut, noise) => {
        const bytes = Buffer.concat([der.subarray(0, cut), noise]);
        const r = readKeyUsage(bytes);
        expect(r === null || Number.isInteger(r)).toBe(true);
        expect(typeof hasCaFlag(bytes)).toBe('boolean');
      }),
    );
  });
});

describe('trust bundle files', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-identity-bundle-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const file = (name: string, text: string) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    return p;
  };

  it('loads a PEM bundle with intermediates', async () => {
    const b = await loadTrustBundle({
      trustDomain: 'example.org',
      file: file('root.pem', root.pem),
      intermediatesFile: file('inter.pem', inter.pem),
    });
    expect(typeof b === 'string' ? b : [b.authorities.length, b.intermediates.length, b.jwtKeys]).toEqual([
      1,
      1,
      null,
    ]);
  });

  it('loads a SPIFFE bundle JSON with X.509 and JWT authorities', async () => {
    const jwk = {
      kty: 'EC',
      crv: 'P-256',
      kid: 'k1',
      x: 'f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU',
      y: 'x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0',
    };
    const b = await loadTrustBundle({
      trustDomain: 'example.org',
      file: file('b.json', spiffeBundleJson([root], [jwk])),
    });
    expect(typeof b === 'string' ? b : [b.authorities.length, b.jwtKeys !== null]).toEqual([1, true]);
  });

  it.each([
    ['empty', '', 'no PEM certificate'],
    ['not JSON', '{ nope', 'invalid JSON'],
    ['no keys', '{"spiffe_sequence": 1}', 'no "keys"'],
    ['x509 key without x5c', '{"keys":[{"use":"x509-svid","kty":"EC"}]}', 'exactly one x5c'],
    ['bad x5c', '{"keys":[{"use":"x509-svid","x5c":["AAAA"]}]}', 'cannot be parsed'],
    ['jwt key without kid', '{"keys":[{"use":"jwt-svid","kty":"EC"}]}', 'needs a kid'],
    ['only unknown uses', '{"keys":[{"use":"other"}]}', 'no x509-svid or jwt-svid'],
  ])('rejects %s', (_name, text, error) => {
    const r = parseBundleDocument(text);
    expect(typeof r === 'string' ? r : 'parsed').toContain(error);
  });

  it('rejects a bundle holding a non-CA certificate, and a missing file', async () => {
    const leaf = issueSvid(inter, { uris: [WEB] });
    expect(await loadTrustBundle({ trustDomain: 'example.org', file: file('leaf.pem', leaf.pem) })).toContain(
      'not a CA',
    );
    expect(await loadTrustBundle({ trustDomain: 'example.org', file: join(dir, 'missing.pem') })).toContain(
      'ENOENT',
    );
  });
});
