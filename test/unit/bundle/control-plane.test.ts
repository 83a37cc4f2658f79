import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlane,
  createBundlePuller,
  createControlPlane,
  DEFAULT_LIMITS,
  verifyBundle,
} from '../../../src/bundle/index.js';
import { runServiceTests } from '../../../src/cli/control-plane.js';
import {
  decide,
  makeDeps,
  makeKey,
  policySources,
  pullerConfig,
  type TestKey,
  tagOf,
  waitFor,
} from './fixtures.js';

let key: TestKey;
let dir: string;
let cp: ControlPlane | undefined;
const logger = pino({ level: 'silent' });

beforeAll(async () => {
  key = await makeKey('cp1');
});
afterEach(async () => {
  await cp?.stop();
  cp = undefined;
  if (dir) await rm(dir, { recursive: true, force: true });
});

async function write(rel: string, text: string) {
  await mkdir(join(dir, rel, '..'), { recursive: true });
  await writeFile(join(dir, rel), text);
}

/** A suite for probe.yaml: /probe is allowed; /orders/1 as `orders` says (allow | deny). */
function suite(orders: 'allow' | 'deny') {
  return `apiVersion: portcullis.dev/v1
kind: TestSuite
metadata: { name: probe }
tests:
  - name: probe allowed
    request: { method: GET, path: /probe }
    expect: { allowed: true }
  - name: orders ${orders}
    request: { method: GET, path: /orders/1 }
    expect: { allowed: ${orders === 'allow'} }
`;
}

async function start(
  layout: 'services' | 'single' = 'services',
  watch = false,
): Promise<{ port: number; base: string }> {
  cp = createControlPlane(
    { policiesDir: dir, signingKey: key.signing, port: 0, layout, watch, debounceMs: 20 },
    { logger, runTests: runServiceTests },
  );
  const port = await cp.start();
  return { port, base: `http://127.0.0.1:${port}` };
}

async function get(url: string, headers: Record<string, string> = {}) {
  const res = await fetch(url, { headers });
  return { status: res.status, headers: res.headers, body: Buffer.from(await res.arrayBuffer()) };
}

describe('control plane', () => {
  it('builds one signed bundle per service with the shared files, and reports revisions', async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-cp-'));
    const [probe, plans] = policySources('orders');
    await write('orders/probe.yaml', probe!.text);
    await write('orders/probe_test.yaml', suite('allow'));
    await write('billing/probe.yaml', policySources('billing')[0]!.text);
    await write('data/plans.yaml', plans!.text);
    const { base } = await start();
    const revs = (await (await fetch(`${base}/v1/revisions`)).json()) as {
      services: Record<string, { revision: number; etag: string }>;
    };
    expect(Object.keys(revs.services).sort()).toEqual(['billing', 'orders']);
    const res = await get(`${base}/v1/bundles/orders`);
    expect(res.status).toBe(200);
    expect(res.headers.get('etag')).toBe(revs.services.orders!.etag);
    const v = await verifyBundle(res.body, { keys: key.trusted, limits: DEFAULT_LIMITS, service: 'orders' });
    if (!v.ok) throw new Error(v.detail);
    expect(v.bundle.manifest.files.map((f) => f.path)).toEqual([
      'data/plans.yaml',
      'orders/probe.yaml',
      'orders/probe_test.yaml',
    ]);
    expect(v.bundle.manifest.revision).toBe(revs.services.orders!.revision);
    expect(
      (await get(`${base}/v1/bundles/orders`, { 'if-none-match': res.headers.get('etag')! })).status,
    ).toBe(304);
    expect((await get(`${base}/v1/bundles/nobody`)).status).toBe(404);
  });

  it.each([
    ['fails to compile', () => policySources('v2', { broken: true })[0]!.text, 'bundle_compile_error'],
    ['fails its tests', () => policySources('v2', { revoked: true })[0]!.text, 'bundle_tests_failed'],
  ])('a change that %s keeps the previous bundle published', async (_what, text, reason) => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-cp-'));
    await write('probe.yaml', policySources('v1')[0]!.text);
    await write('probe_test.yaml', suite('allow'));
    const { base } = await start();
    const before = await get(`${base}/v1/bundles/default`);
    await write('probe.yaml', text());
    const report = await cp!.rebuild();
    expect(report.rejected.default).toMatchObject({ reason });
    expect(report.rejected.default?.details.length).toBeGreaterThan(0);
    const after = await get(`${base}/v1/bundles/default`);
    expect(after.body.equals(before.body)).toBe(true);
    // Fixing the change publishes a new revision and clears the rejection.
    await write('probe.yaml', policySources('v3', { revoked: true })[0]!.text);
    await write('probe_test.yaml', suite('deny'));
    const fixed = await cp!.rebuild();
    expect(fixed.rejected).toEqual({});
    expect(fixed.services.default!.revision).toBeGreaterThan(report.services.default!.revision);
  });

  it('an unchanged directory does not produce a new revision', async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-cp-'));
    await write('probe.yaml', policySources('v1')[0]!.text);
    await start();
    const a = cp!.revisions().services.default!.revision;
    const b = (await cp!.rebuild()).services.default!.revision;
    expect(b).toBe(a);
  });

  it('the single layout serves one service-agnostic bundle for every service name', async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-cp-'));
    await write('a/probe.yaml', policySources('all')[0]!.text);
    const { base } = await start('single');
    const x = await get(`${base}/v1/bundles/x`);
    const y = await get(`${base}/v1/bundles/y`);
    expect(x.body.equals(y.body)).toBe(true);
    const v = await verifyBundle(x.body, { keys: key.trusted, limits: DEFAULT_LIMITS, service: 'x' });
    if (!v.ok) throw new Error(v.detail);
    expect(v.bundle.manifest.service).toBeUndefined();
  });

  it('rebuilds on a file change and wakes long polls: a puller sees the revocation at once', async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-cp-'));
    await write('orders/probe.yaml', policySources('v1')[0]!.text);
    const { base } = await start('services', true);
    const deps = makeDeps();
    const puller = createBundlePuller(
      pullerConfig({
        url: `${base}/v1/bundles/{service}`,
        service: 'orders',
        keys: { inline: [key.publicJwk] },
        pollInterval: '30s',
        longPollTimeout: '20s',
      }),
      deps,
    );
    await puller.start();
    try {
      await waitFor(() => deps.current() !== undefined, 5000, 'first activation');
      expect(decide(deps.current(), '/orders/1')?.allowed).toBe(true);
      const t0 = Date.now();
      await write('orders/probe.yaml', policySources('v2', { revoked: true })[0]!.text);
      await waitFor(() => decide(deps.current(), '/orders/1')?.allowed === false, 5000, 'the revocation');
      // Far below the 30 s poll interval: only a held long poll can deliver it this fast.
      expect(Date.now() - t0).toBeLessThan(3000);
      expect(tagOf(decide(deps.current(), '/probe'))).toBe('v2');
    } finally {
      const t = Date.now();
      await puller.stop();
      expect(Date.now() - t).toBeLessThan(1000);
    }
  });
});
