import { afterEach, describe, expect, it } from 'vitest';
import {
  type BundleServer,
  createBundleServer,
  etagMatches,
  type PublishedBundle,
  preferWaitMs,
} from '../../../src/bundle/bundle-server.js';
import { BUNDLE_FORMAT } from '../../../src/bundle/manifest.js';

let server: BundleServer | undefined;
afterEach(async () => {
  await server?.close();
  server = undefined;
});

function bundle(service: string, revision: number): PublishedBundle {
  return {
    service,
    archive: Buffer.from(`bundle ${service} ${revision}`),
    manifest: {
      format: BUNDLE_FORMAT,
      name: service,
      revision,
      createdAt: new Date().toISOString(),
      files: [],
    },
    manifestDigest: 'd'.repeat(64),
    etag: `"${revision}"`,
    signer: 'k',
    publishedAtMs: Date.now(),
  };
}

async function start(maxWaitMs = 5000): Promise<string> {
  server = createBundleServer({ maxWaitMs });
  const port = await server.listen(0, '127.0.0.1');
  return `http://127.0.0.1:${port}/v1/bundles`;
}

describe('preferWaitMs / etagMatches', () => {
  it.each([
    [undefined, 0],
    ['wait=30', 30_000],
    ['respond-async, wait=5', 5000],
    ['Wait = 2', 2000],
    ['wait="7"', 7000],
    ['waiting=3', 0],
    ['wait=-1', 0],
  ])('Prefer %j → %i ms', (h, ms) => {
    expect(preferWaitMs(h)).toBe(ms);
  });

  it.each([
    [undefined, '"a"', false],
    ['"a"', '"a"', true],
    ['W/"a"', '"a"', true],
    ['"b", "a"', '"a"', true],
    ['*', '"a"', true],
    ['"b"', '"a"', false],
  ])('If-None-Match %j vs %s → %s', (inm, etag, match) => {
    expect(etagMatches(inm, etag)).toBe(match);
  });
});

describe('bundle server', () => {
  it('serves 200 with ETag, 304 when unchanged, 404 for unknown services, HEAD without a body', async () => {
    const base = await start();
    server!.publish(bundle('orders', 1));
    const ok = await fetch(`${base}/orders`);
    expect([ok.status, ok.headers.get('etag'), await ok.text()]).toEqual([200, '"1"', 'bundle orders 1']);
    expect((await fetch(`${base}/orders`, { headers: { 'if-none-match': '"1"' } })).status).toBe(304);
    expect((await fetch(`${base}/billing`)).status).toBe(404);
    expect((await fetch(`${base}/../x`)).status).toBe(404);
    const head = await fetch(`${base}/orders`, { method: 'HEAD' });
    expect([head.status, head.headers.get('content-length'), await head.text()]).toEqual([200, '15', '']);
  });

  it('holds a long poll until a new revision is published', async () => {
    const base = await start();
    server!.publish(bundle('orders', 1));
    const t0 = Date.now();
    const held = fetch(`${base}/orders`, { headers: { 'if-none-match': '"1"', prefer: 'wait=10' } });
    setTimeout(() => server!.publish(bundle('orders', 2)), 150);
    const res = await held;
    expect(res.status).toBe(200);
    expect(res.headers.get('preference-applied')).toBe('wait=5'); // capped by maxWaitMs
    expect(await res.text()).toBe('bundle orders 2');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(Date.now() - t0).toBeLessThan(5000);
  });

  it('answers 304 with Preference-Applied when the wait (capped by maxWait) elapses', async () => {
    const base = await start(300);
    server!.publish(bundle('orders', 1));
    const t0 = Date.now();
    const res = await fetch(`${base}/orders`, { headers: { 'if-none-match': '"1"', prefer: 'wait=60' } });
    expect(res.status).toBe(304);
    expect(res.headers.get('preference-applied')).toBe('wait=1');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(250);
    expect(Date.now() - t0).toBeLessThan(3000);
  });

  it('a publish for another service does not wake the poll; close() ends held polls', async () => {
    const base = await start();
    server!.publish(bundle('orders', 1));
    let settled = false;
    const held = fetch(`${base}/orders`, { headers: { 'if-none-match': '"1"', prefer: 'wait=10' } }).then(
      (r) => r.status,
      () => 'closed',
    );
    void held.then(() => {
      settled = true;
    });
    server!.publish(bundle('billing', 5));
    await new Promise((r) => setTimeout(r, 150));
    expect(settled).toBe(false);
    const t0 = Date.now();
    await server!.close();
    server = undefined;
    expect([304, 'closed']).toContain(await held);
    expect(Date.now() - t0).toBeLessThan(2000);
  });

  it('serves a service-agnostic (*) bundle for every service name', async () => {
    const base = await start();
    server!.publish(bundle('*', 3));
    expect(await (await fetch(`${base}/anything`)).text()).toBe('bundle * 3');
  });
});
