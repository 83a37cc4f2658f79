/** Trust bundle and JWKS files are reloaded when they change; a bad new file keeps the old keys. */
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import type { IdentityResolver } from '../../../src/identity/index.js';
import { createSigningKey, jwksOf, signToken } from '../../fixtures/jwt.js';
import { createRootCa, issueSvid } from '../../fixtures/pki.js';
import { authzInput, bearer, identify, resolverFor } from '../../unit/identity/helpers.js';

const WEB = 'spiffe://example.org/ns/shop/sa/web';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function eventually(fn: () => Promise<boolean>, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (Date.now() < end) {
    if (await fn()) return;
    await sleep(25);
  }
  throw new Error('condition not reached in time');
}

/** Replaces a file atomically, as Kubernetes does for mounted Secrets. */
function replace(path: string, text: string): void {
  writeFileSync(`${path}.tmp`, text);
  renameSync(`${path}.tmp`, path);
}

async function reasonOf(resolver: IdentityResolver, o: Parameters<typeof identify>[1]): Promise<string> {
  const r = await identify(resolver, o);
  return r.ok ? 'ok' : r.reason;
}

describe('file reload', () => {
  it('reloads a trust bundle: new CA trusted, old one (and its cached verifications) dropped', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-identity-reload-'));
    const file = join(dir, 'bundle.pem');
    const oldRoot = createRootCa();
    const newRoot = createRootCa();
    writeFileSync(file, oldRoot.pem);
    const { resolver, logs } = await resolverFor({
      spiffe: { trustBundles: [{ trustDomain: 'example.org', file }], reloadInterval: '50ms' },
    });
    try {
      const oldCert = issueSvid(oldRoot, { uris: [WEB] }).pem;
      const newCert = issueSvid(newRoot, { uris: [WEB] }).pem;
      expect(await reasonOf(resolver, { principal: WEB, certificate: oldCert })).toBe('ok');
      expect(await reasonOf(resolver, { principal: WEB, certificate: newCert })).toBe(
        'certificate_untrusted',
      );
      replace(file, newRoot.pem);
      await eventually(
        async () => (await reasonOf(resolver, { principal: WEB, certificate: newCert })) === 'ok',
      );
      expect(await reasonOf(resolver, { principal: WEB, certificate: oldCert })).toBe(
        'certificate_untrusted',
      );
      replace(file, 'not a bundle');
      await eventually(async () => logs.some((l) => l.includes('no PEM certificate found')));
      expect(await reasonOf(resolver, { principal: WEB, certificate: newCert })).toBe('ok');
    } finally {
      await resolver.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('reloads a JWKS file: a rotated-in key verifies, the rotated-out key no longer does', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'portcullis-identity-jwks-'));
    const file = join(dir, 'jwks.json');
    const [a, b] = await Promise.all([createSigningKey('ES256', 'a'), createSigningKey('ES256', 'b')]);
    writeFileSync(file, JSON.stringify(jwksOf(a)));
    const { resolver } = await resolverFor({
      spiffe: { reloadInterval: '50ms' },
      jwt: { providers: [{ issuer: 'https://i', jwks: { file } }] },
    });
    try {
      const tokenA = await signToken(a, { iss: 'https://i', sub: 'alice' });
      const tokenB = await signToken(b, { iss: 'https://i', sub: 'bob' });
      expect(await reasonOf(resolver, { headers: bearer(tokenA) })).toBe('ok');
      replace(file, JSON.stringify(jwksOf(b)));
      await eventually(async () => (await reasonOf(resolver, { headers: bearer(tokenB) })) === 'ok');
      const again = resolver.identify(authzInput({ headers: bearer(tokenA) }));
      expect(again).toBeInstanceOf(Promise);
      expect(await reasonOf(resolver, { headers: bearer(tokenA) })).toBe('token_key_unknown');
    } finally {
      await resolver.close();
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
