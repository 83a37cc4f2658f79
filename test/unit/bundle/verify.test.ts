import { beforeAll, describe, expect, it } from 'vitest';
import { DEFAULT_LIMITS, verifyBundle } from '../../../src/bundle/index.js';
import type { BundleManifest } from '../../../src/bundle/manifest.js';
import {
  decide,
  flipByte,
  forge,
  makeKey,
  policySources,
  repack,
  signedBundle,
  type TestKey,
  tagOf,
  tarHeader,
  trust,
  withEntry,
  zeroBomb,
} from './fixtures.js';

/** Replaces probe.yaml with a policy whose CEL does not parse. */
function breakProbe(files: Map<string, Buffer>, m: BundleManifest): BundleManifest {
  files.set('probe.yaml', Buffer.from(policySources(7, { broken: true })[0]!.text));
  return m;
}

let k1: TestKey;
let other: TestKey;
let k9: TestKey;
let es: TestKey;
let good: Buffer;

beforeAll(async () => {
  [k1, other, k9, es] = await Promise.all([
    makeKey('k1'),
    makeKey('k1'),
    makeKey('k9'),
    makeKey('k1', 'ES256'),
  ]);
  good = await signedBundle(k1, 7, { service: 'orders' });
});

describe('verifyBundle', () => {
  it('accepts a well-formed signed bundle and compiles it', async () => {
    const r = await verifyBundle(good, { keys: k1.trusted, limits: DEFAULT_LIMITS, service: 'orders' });
    if (!r.ok) throw new Error(r.detail);
    expect(r.bundle.manifest).toMatchObject({
      revision: 7,
      service: 'orders',
      format: 'portcullis.bundle/v1',
    });
    expect(r.bundle.signer).toEqual({ kid: 'k1', alg: 'EdDSA' });
    expect(r.bundle.sources.map((s) => s.path)).toEqual(['data/plans.yaml', 'probe.yaml']);
    const set = { set: r.bundle.set, revision: '7', source: '', createdAtMs: 0, activatedAtMs: 0 };
    expect(tagOf(decide(set, '/probe'))).toBe('7');
  });

  it('accepts ES256 bundles and any of several trusted keys', async () => {
    const a = await signedBundle(es, 3);
    const b = await signedBundle(k9, 4);
    const keys = trust(es, k9);
    expect((await verifyBundle(a, { keys, limits: DEFAULT_LIMITS })).ok).toBe(true);
    expect((await verifyBundle(b, { keys, limits: DEFAULT_LIMITS })).ok).toBe(true);
  });

  const cases: [string, () => Promise<Buffer>, string][] = [
    [
      'one flipped byte in a policy file',
      () => repack(good, (e) => e.set('files/probe.yaml', flipByte(e.get('files/probe.yaml')!, 40))),
      'bundle_file_hash_mismatch',
    ],
    [
      'one flipped byte in a data file',
      () => repack(good, (e) => e.set('files/data/plans.yaml', flipByte(e.get('files/data/plans.yaml')!, 0))),
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
    ['a signature by the wrong key (same kid)', () => signedBundle(other, 7), 'bundle_signature_invalid'],
    ['a signature whose alg is not the key\u2019s', () => signedBundle(es, 7), 'bundle_signature_invalid'],
    ['an unknown kid', () => signedBundle(k9, 7), 'bundle_key_unknown'],
    ['no signature at all', () => repack(good, (e) => e.delete('manifest.jws')), 'bundle_signature_invalid'],
    ['no manifest', () => repack(good, (e) => e.delete('manifest.json')), 'bundle_manifest_invalid'],
    [
      'a truncated archive',
      async () => good.subarray(0, Math.floor(good.length / 2)),
      'bundle_archive_invalid',
    ],
    ['a ../ entry', () => withEntry(good, { name: 'files/../../../etc/cron.d/x' }), 'bundle_unsafe_path'],
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
    [
      'an extra file',
      () => repack(good, (e) => e.set('files/extra.yaml', Buffer.from('x: 1'))),
      'bundle_files_mismatch',
    ],
    ['a missing file', () => repack(good, (e) => e.delete('files/data/plans.yaml')), 'bundle_files_mismatch'],
    ['a signed policy that fails to compile', () => forge(good, k1, breakProbe), 'bundle_compile_error'],
    [
      'a signed but invalid manifest',
      () => forge(good, k1, (_f, m) => ({ ...m, revision: 0 })),
      'bundle_manifest_invalid',
    ],
    [
      'a signed bundle for another service',
      () => forge(good, k1, (_f, m) => ({ ...m, service: 'billing' })),
      'bundle_service_mismatch',
    ],
  ];

  it.each(cases)('rejects %s', async (_what, make, reason) => {
    const r = await verifyBundle(await make(), {
      keys: k1.trusted,
      limits: DEFAULT_LIMITS,
      service: 'orders',
    });
    expect(r).toMatchObject({ ok: false, reason });
  });

  it('lists every compile problem of a rejected bundle', async () => {
    const bad = await forge(good, k1, breakProbe);
    const r = await verifyBundle(bad, { keys: k1.trusted, limits: DEFAULT_LIMITS });
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.details?.[0]).toMatch(/^probe\.yaml:\d+:\d+/);
  });
});
