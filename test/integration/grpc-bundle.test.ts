/**
 * The sidecar fed by signed bundles, seen through gRPC: not ready (UNAVAILABLE) until a verified
 * bundle arrives, and hot swaps under load with no failed call, each answer from one revision.
 */
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  type BundleServer,
  buildBundle,
  createBundleServer,
  type PublishedBundle,
} from '../../src/bundle/index.js';
import type { Running } from '../../src/main.js';
import { CheckClient, responseHeader } from '../helpers/check-client.js';
import { healthCheck, ServingStatus } from '../helpers/health-client.js';
import { startInProcess } from '../helpers/in-process.js';
import { checkRequest } from '../helpers/requests.js';
import { makeKey, policySources, type TestKey } from '../unit/bundle/fixtures.js';

const SWAPS = 100;
const MIN_CALLS = 20_000;

async function publishable(key: TestKey, revision: number): Promise<PublishedBundle> {
  const r = await buildBundle(policySources(revision), { revision, service: 'orders', key: key.signing });
  if (!r.ok) throw new Error(r.detail);
  const { archive, manifest, manifestDigest } = r.bundle;
  return {
    service: 'orders',
    archive,
    manifest,
    manifestDigest,
    etag: `"${revision}"`,
    signer: key.signing.kid,
    publishedAtMs: Date.now(),
  };
}

describe('bundle-fed sidecar over gRPC', () => {
  let key: TestKey;
  let bundles: PublishedBundle[];
  let cp: BundleServer;
  let sidecar: Running;
  let client: CheckClient;

  beforeAll(async () => {
    key = await makeKey('grpc-swap');
    bundles = await Promise.all(Array.from({ length: SWAPS + 1 }, (_, i) => publishable(key, i + 1)));
    cp = createBundleServer({ maxWaitMs: 10_000 });
    const port = await cp.listen(0, '127.0.0.1');
    sidecar = await startInProcess({
      bundle: {
        url: `http://127.0.0.1:${port}/v1/bundles/orders`,
        service: 'orders',
        keys: { inline: [key.publicJwk] },
        lkgDir: await mkdtemp(join(tmpdir(), 'portcullis-lkg-')),
        pollInterval: '200ms',
        backoff: { initial: '50ms', max: '200ms' },
      },
    });
    client = new CheckClient(sidecar.grpcPort);
  });
  afterAll(async () => {
    client?.close();
    await sidecar?.stop(1000);
    await cp?.close();
  });

  it('with no verified bundle: not ready, health NOT_SERVING, Check answers UNAVAILABLE', async () => {
    const r = await client.check(checkRequest({ path: '/probe' }));
    expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    expect((await fetch(`http://127.0.0.1:${sidecar.adminPort}/readyz`)).status).toBe(503);
    const hc = new grpc.Client(`127.0.0.1:${sidecar.grpcPort}`, grpc.credentials.createInsecure());
    expect(await healthCheck(hc, 'envoy.service.auth.v3.Authorization')).toBe(ServingStatus.NOT_SERVING);
    cp.publish(bundles[0]!);
    await expect
      .poll(() => healthCheck(hc, 'envoy.service.auth.v3.Authorization'), { timeout: 10_000 })
      .toBe(ServingStatus.SERVING);
    hc.close();
    const ready = await fetch(`http://127.0.0.1:${sidecar.adminPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, revision: '1' });
  });

  it(`${MIN_CALLS}+ Checks during ${SWAPS} swaps: none fails, each answered by one active revision`, async () => {
    const published = new Set<string>(['1']);
    let swapping = true;
    let activated = 0;
    const swaps = (async () => {
      for (const b of bundles.slice(1)) {
        const revision = String(b.manifest.revision);
        published.add(revision);
        cp.publish(b);
        // Each revision is activated before the next is published: 100 real swaps under load.
        await expect
          .poll(
            async () =>
              (
                (await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/readyz`)).json()) as {
                  revision: string;
                }
              ).revision,
            {
              timeout: 10_000,
              interval: 5,
            },
          )
          .toBe(revision);
        activated++;
      }
      swapping = false;
    })();
    const stats = { calls: 0, failed: 0, mismatched: 0, unknown: 0 };
    const seen = new Set<string>();
    const worker = async () => {
      while (swapping || stats.calls < MIN_CALLS) {
        const r = await client.check(checkRequest({ path: '/probe' }), 10_000);
        stats.calls++;
        if (!r.ok || r.response.status?.code !== 0) {
          stats.failed++;
          continue;
        }
        const revision = String((r.response.dynamicMetadata as { bundle_revision?: string }).bundle_revision);
        seen.add(revision);
        if (responseHeader(r.response, 'x-bundle-tag') !== revision) stats.mismatched++;
        if (!published.has(revision)) stats.unknown++;
      }
    };
    await Promise.all([swaps, ...Array.from({ length: 8 }, worker)]);
    expect(stats).toMatchObject({ failed: 0, mismatched: 0, unknown: 0 });
    expect(stats.calls).toBeGreaterThanOrEqual(MIN_CALLS);
    expect(activated).toBe(SWAPS);
    expect(seen.size).toBeGreaterThan(SWAPS / 2);
    expect(seen.has(String(SWAPS + 1))).toBe(true);
  }, 120_000);
});
