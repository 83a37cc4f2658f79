import { generateKeyPairSync } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateBundleKeyPair, loadSigningKey, loadTrustedKeys } from '../../../src/bundle/keys.js';
import { signManifest, verifyManifestSignature } from '../../../src/bundle/signature.js';
import { makeKey } from './fixtures.js';

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-keys-'));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('loadTrustedKeys', () => {
  it('loads JWKS files, single JWK files and inline keys, by kid', async () => {
    const [a, b, c] = await Promise.all([makeKey('a'), makeKey('b', 'ES256'), makeKey('c')]);
    await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [a.publicJwk, b.publicJwk] }));
    await writeFile(join(dir, 'c.json'), JSON.stringify(c.publicJwk));
    const keys = await loadTrustedKeys({ files: [join(dir, 'jwks.json')], inline: [c.publicJwk as never] });
    expect([...keys.keys()]).toEqual(['a', 'b', 'c']);
    expect(keys.get('b')?.alg).toBe('ES256');
    expect(keys.get('a')?.jwk).not.toHaveProperty('d');
  });

  it('reports every problem at once as config_invalid', async () => {
    const a = await makeKey('a');
    const { privateJwk } = await generateBundleKeyPair('EdDSA', 'p');
    await writeFile(join(dir, 'bad.json'), '{"nope": 1}');
    await writeFile(
      join(dir, 'rsa.json'),
      JSON.stringify({ keys: [{ kty: 'RSA', kid: 'r', n: 'x', e: 'AQAB' }] }),
    );
    await writeFile(
      join(dir, 'dup.json'),
      JSON.stringify({ keys: [a.publicJwk, a.publicJwk, { ...privateJwk, kid: undefined }] }),
    );
    const err = await loadTrustedKeys({
      files: [join(dir, 'missing.json'), join(dir, 'bad.json'), join(dir, 'rsa.json'), join(dir, 'dup.json')],
      inline: [],
    }).catch((e: unknown) => e);
    expect(err).toMatchObject({ code: 'config_invalid' });
    const details = (err as { details: string[] }).details.join('\n');
    for (const m of [
      /missing\.json: ENOENT/,
      /bad\.json: neither a JWKS/,
      /rsa\.json key 0: key must be Ed25519/,
      /duplicate kid "a"/,
      /has no kid/,
    ])
      expect(details).toMatch(m);
  });
});

describe('loadSigningKey', () => {
  it.each(['ed25519', 'ec'] as const)(
    'reads a PKCS#8 PEM %s key, kid from the thumbprint or the flag',
    async (type) => {
      const { privateKey } =
        type === 'ec' ? generateKeyPairSync('ec', { namedCurve: 'P-256' }) : generateKeyPairSync('ed25519');
      const file = join(dir, `${type}.pem`);
      await writeFile(file, privateKey.export({ type: 'pkcs8', format: 'pem' }));
      const k = await loadSigningKey(file);
      expect(k.alg).toBe(type === 'ec' ? 'ES256' : 'EdDSA');
      expect(k.kid).toMatch(/^[A-Za-z0-9_-]{43}$/);
      expect((await loadSigningKey(file, 'mine')).kid).toBe('mine');
    },
  );

  it('reads a private JWK with its kid and signs what the public key verifies', async () => {
    const { privateJwk, publicJwk } = await generateBundleKeyPair('ES256', 'k-es');
    const file = join(dir, 'k-es.json');
    await writeFile(file, JSON.stringify(privateJwk));
    const signing = await loadSigningKey(file);
    const keys = await loadTrustedKeys({ files: [], inline: [publicJwk as never] });
    const jws = await signManifest(Buffer.from('{"m":1}'), signing);
    expect(jws).toMatch(/^[\w-]+\.\.[\w-]+$/);
    expect(await verifyManifestSignature(Buffer.from('{"m":1}'), jws, keys)).toEqual({
      ok: true,
      signer: { kid: 'k-es', alg: 'ES256' },
    });
    expect(await verifyManifestSignature(Buffer.from('{"m":2}'), jws, keys)).toMatchObject({
      ok: false,
      reason: 'bundle_signature_invalid',
    });
  });

  it.each([
    ['a public key', async () => JSON.stringify((await generateBundleKeyPair('EdDSA', 'x')).publicJwk)],
    ['garbage', async () => 'not a key'],
  ])('refuses %s', async (_what, text) => {
    const file = join(dir, 'refuse.json');
    await writeFile(file, await text());
    await expect(loadSigningKey(file)).rejects.toMatchObject({ code: 'config_invalid' });
  });
});

describe('verifyManifestSignature', () => {
  it.each([
    ['an attached (non-detached) JWS', 'a.b.c', 'bundle_signature_invalid'],
    ['two parts', 'a.b', 'bundle_signature_invalid'],
    ['a header that is not JSON', 'bm9wZQ..c2ln', 'bundle_signature_invalid'],
    ['no kid', `${Buffer.from('{"alg":"EdDSA"}').toString('base64url')}..c2ln`, 'bundle_key_unknown'],
  ])('rejects %s', async (_what, jws, reason) => {
    const k = await makeKey('k');
    expect(await verifyManifestSignature(Buffer.from('{}'), jws, k.trusted)).toMatchObject({
      ok: false,
      reason,
    });
  });
});
