import { mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createBundlePuller } from '../../../src/bundle/index.js';
import {
  decide,
  flipByte,
  forge,
  makeDeps,
  makeKey,
  metricValue,
  policySources,
  pullerConfig,
  repack,
  type StaticServer,
  signedBundle,
  startStaticServer,
  type TestKey,
  tagOf,
  tarHeader,
  waitFor,
  withEntry,
  zeroBomb,
} from './fixtures.js';

let k1: TestKey;
let k9: TestKey;
let server: StaticServer;
let good: Buffer;
const dirs: string[] = [];

beforeAll(async () => {
  [k1, k9] = await Promise.all([makeKey('k1'), makeKey('k9')]);
  good = await signedBundle(k1, 5, { service: 'orders' });
  server = await startStaticServer();
});
afterAll(() => server.close());
afterEach(async () => {
  for (const d of dirs.splice(0)) await rm(d, { recursive: true, force: true });
});

async function tempDir(): Promise<string> {
  const d = await mkdtemp(join(tmpdir(), 'portcullis-lkg-'));
  dirs.push(d);
  return d;
}

/** A puller that has activated revision 5 from the static server. */
async function activePuller(over: Record<string, unknown> = {}) {
  const deps = makeDeps();
  const config = pullerConfig({
    url: server.url,
    service: 'orders',
    keys: { inline: [k1.publicJwk] },
    ...over,
  });
  const puller = createBundlePuller(config, deps);
  server.set(good);
  expect(await puller.syncOnce()).toEqual({ kind: 'activated', revision: 5 });
  return { deps, puller };
}

const breakProbe = (f: Map<string, Buffer>, m: Parameters<Parameters<typeof forge>[2]>[1]) => {
  f.set('probe.yaml', Buffer.from(policySources(5, { broken: true })[0]!.text));
  return { ...m, revision: 6 };
};

describe('bundle puller: every rejection keeps the active bundle serving', () => {
  const cases: [string, () => Promise<Buffer>, string][] = [
    [
      'one flipped byte in a policy file',
      () => repack(good, (e) => e.set('files/probe.yaml', flipByte(e.get('files/probe.yaml')!, 40))),
      'bundle_file_hash_mismatch',
    ],
    [
      'one flipped byte in the manifest',
      () => repack(good, (e) => e.set('manifest.json', flipByte(e.get('manifest.json')!, 60))),
      'bundle_signature_invalid',
    ],
    [
      'one flipped byte in the signature',
      () => repack(good, (e) => e.set('manifest.jws', flipByte(e.get('manifest.jws')!, -5))),
      'bundle_signature_invalid',
    ],
    ['a wrong key (same kid)', async () => signedBundle(await makeKey('k1'), 6), 'bundle_signature_invalid'],
    ['an unknown kid', () => signedBundle(k9, 6), 'bundle_key_unknown'],
    ['a truncated archive', async () => good.subarray(0, good.length - 100), 'bundle_archive_invalid'],
    [
      'a ../ entry',
      () => repack(good, (e) => e.set('files/../escape.yaml', Buffer.from('x'))),
      'bundle_unsafe_path',
    ],
    [
      'a symlink entry',
      () => withEntry(good, { name: 'files/link.yaml', type: 'symlink', linkname: '/etc/shadow' }),
      'bundle_unsafe_path',
    ],
    [
      'a 1 GiB-expanding bomb',
      async () => zeroBomb(1 << 30, tarHeader('files/zeros.yaml', 1 << 30)),
      'bundle_too_large',
    ],
    ['an older revision', () => signedBundle(k1, 4, { service: 'orders' }), 'bundle_rollback_refused'],
    [
      'the same revision with other content',
      () => forge(good, k1, (_f, m) => ({ ...m, createdAt: new Date(1).toISOString() })),
      'bundle_rollback_refused',
    ],
    ['a policy that fails to compile', () => forge(good, k1, breakProbe), 'bundle_compile_error'],
    [
      'a bundle for another service',
      () => signedBundle(k1, 6, { service: 'billing' }),
      'bundle_service_mismatch',
    ],
  ];

  it.each(cases)('%s', async (_what, make, reason) => {
    const { deps, puller } = await activePuller();
    server.set(await make());
    expect(await puller.syncOnce()).toEqual({ kind: 'rejected', reason });
    expect(await metricValue(deps.metrics, 'bundleLoadFailures', { reason })).toBe(1);
    expect(deps.current()?.revision).toBe('5');
    expect(tagOf(decide(deps.current(), '/probe'))).toBe('5');
    expect(deps.history).toHaveLength(1);
    expect(await metricValue(deps.metrics, 'bundleInfo', { revision: '5' })).toBe(1);
    expect(puller.status()).toMatchObject({
      ready: true,
      revision: '5',
      lastFailureReason: reason,
      rejections: 1,
    });
    // The same bad bytes are not downloaded and re-verified again: the next poll is a 304.
    expect(await puller.syncOnce()).toEqual({ kind: 'unchanged' });
    expect(await metricValue(deps.metrics, 'bundleLoadFailures', { reason })).toBe(1);
  });

  it('an unreachable or failing server is a fetch failure, not a rejection', async () => {
    const { deps, puller } = await activePuller();
    server.set(undefined);
    expect(await puller.syncOnce()).toEqual({ kind: 'failed', reason: 'bundle_fetch_failed' });
    expect(await metricValue(deps.metrics, 'bundleLoadFailures', { reason: 'bundle_fetch_failed' })).toBe(1);
    expect(puller.status()).toMatchObject({
      ready: true,
      revision: '5',
      fetchFailures: 1,
      lastFailureDetail: expect.stringMatching(/HTTP 404/),
    });
  });

  it('a download over the compressed limit is cut off', async () => {
    const { puller } = await activePuller({ limits: { maxCompressedBytes: 2048 } });
    server.set(Buffer.alloc(4096, 1));
    expect(await puller.syncOnce()).toEqual({ kind: 'failed', reason: 'bundle_too_large' });
  });
});

describe('bundle puller: activation', () => {
  it('activates a newer revision, and a 304 costs no reload', async () => {
    const { deps, puller } = await activePuller();
    expect(await puller.syncOnce()).toEqual({ kind: 'unchanged' });
    expect(deps.history).toHaveLength(1);
    server.set(await signedBundle(k1, 9, { service: 'orders' }));
    expect(await puller.syncOnce()).toEqual({ kind: 'activated', revision: 9 });
    expect(tagOf(decide(deps.current(), '/probe'))).toBe('9');
    expect(deps.current()).toMatchObject({ revision: '9', source: server.url });
    expect(await metricValue(deps.metrics, 'bundleInfo', { revision: '9', source: 'remote' })).toBe(1);
    expect(await metricValue(deps.metrics, 'bundleInfo', { revision: '5' })).toBe(0);
    expect(puller.status()).toMatchObject({ activations: 2, notModified: 1, signer: 'k1', origin: 'remote' });
  });

  it('a server without ETags re-sends the same bytes: no reload', async () => {
    const { deps, puller } = await activePuller();
    server.set(good, { etag: false });
    expect(await puller.syncOnce()).toEqual({ kind: 'unchanged' });
    expect(await puller.syncOnce()).toEqual({ kind: 'unchanged' });
    expect(deps.history).toHaveLength(1);
    expect(puller.status()).toMatchObject({ activations: 1, rejections: 0 });
    expect(puller.status().etag).toBeUndefined();
  });

  it('allowRollback accepts an older revision', async () => {
    const { deps, puller } = await activePuller({ allowRollback: true });
    server.set(await signedBundle(k1, 2, { service: 'orders' }));
    expect(await puller.syncOnce()).toEqual({ kind: 'activated', revision: 2 });
    expect(deps.current()?.revision).toBe('2');
  });

  it('status is not ready before any bundle', () => {
    const p = createBundlePuller(
      pullerConfig({ url: server.url, keys: { inline: [k1.publicJwk] } }),
      makeDeps(),
    );
    expect(p.status()).toMatchObject({ enabled: true, ready: false, polls: 0 });
  });
});

describe('bundle puller: last known good', () => {
  it('persists each activated bundle atomically and restores it while the server is down', async () => {
    const lkgDir = await tempDir();
    const { deps } = await activePuller({ lkgDir });
    expect((await readdir(lkgDir)).sort()).toEqual(['bundle.json', 'bundle.tar.gz']);
    const restarted = makeDeps();
    const down = pullerConfig({ url: 'http://127.0.0.1:9/b', keys: { inline: [k1.publicJwk] }, lkgDir });
    const puller = createBundlePuller(down, restarted);
    await puller.start();
    expect(puller.status()).toMatchObject({ ready: true, revision: '5', origin: 'lkg' });
    expect(restarted.current()?.source).toBe(join(lkgDir, 'bundle.tar.gz'));
    for (const path of ['/probe', '/orders/1', '/nope'])
      expect(decide(restarted.current(), path)?.allowed).toBe(decide(deps.current(), path)?.allowed);
    await waitFor(() => puller.status().fetchFailures > 0, 5000, 'a failed poll');
    expect(puller.status()).toMatchObject({ ready: true, lastFailureReason: 'bundle_fetch_failed' });
    await puller.stop();
  });

  it.each([
    [
      'corrupted',
      async (dir: string) => writeFile(join(dir, 'bundle.tar.gz'), 'garbage'),
      'bundle_archive_invalid',
    ],
    [
      'signed by a key no longer trusted',
      async (dir: string) => writeFile(join(dir, 'bundle.tar.gz'), await signedBundle(k9, 8)),
      'bundle_key_unknown',
    ],
  ])('a %s last known good is re-verified and refused (not ready)', async (_what, spoil, reason) => {
    const lkgDir = await tempDir();
    await spoil(lkgDir);
    const deps = makeDeps();
    const puller = createBundlePuller(pullerConfig({ keys: { inline: [k1.publicJwk] }, lkgDir }), deps);
    await puller.start();
    expect(puller.status()).toMatchObject({ ready: false, lastFailureReason: reason });
    expect(deps.current()).toBeUndefined();
    await puller.stop();
  });
});
