/**
 * The control plane fails around a real sidecar process: down at start (not ready, "cannot decide",
 * until it appears), killed mid-run (the active bundle keeps deciding, no failed call) and
 * flapping under load (every answer from a verified revision, none failed). Each fault is counted
 * and logged.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckClient, responseHeader } from '../../helpers/check-client.js';
import { checkRequest } from '../../helpers/requests.js';
import { policySources } from '../../unit/bundle/fixtures.js';
import {
  bundleKeys,
  type ControlPlane,
  freePort,
  metric,
  metricsOf,
  readyz,
  type Serve,
  sleep,
  startControlPlane,
  startServe,
  waitFor,
} from './process.js';

let dir: string;
let keyFile: string;
let publicJwk: object;
const running = new Set<{ stop(s?: NodeJS.Signals): Promise<unknown> }>();

async function writePolicies(tag: string): Promise<void> {
  for (const s of policySources(tag)) {
    await mkdir(join(dir, 'policies', 'orders', s.path, '..'), { recursive: true });
    await writeFile(join(dir, 'policies', 'orders', s.path), s.text);
  }
}

async function sidecarConfig(name: string, cpPort: number): Promise<string> {
  const file = join(dir, `${name}.yaml`);
  const bundle = {
    url: `http://127.0.0.1:${cpPort}/v1/bundles/{service}`,
    service: 'orders',
    sidecarId: name,
    keys: { inline: [publicJwk] },
    lkgDir: join(dir, `lkg-${name}`),
    pollInterval: '200ms',
    longPollTimeout: '1s',
    timeout: '1s',
    backoff: { initial: '50ms', max: '250ms' },
  };
  await writeFile(file, JSON.stringify({ bundle, telemetry: { decisionLog: { enabled: false } } }));
  return file;
}

async function cp(port = 0): Promise<ControlPlane> {
  const c = await startControlPlane(join(dir, 'policies'), keyFile, port);
  running.add(c);
  return c;
}

async function serve(config: string): Promise<Serve> {
  const s = await startServe(config);
  running.add(s);
  return s;
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-faults-cp-'));
  ({ privateFile: keyFile, publicJwk } = await bundleKeys(dir));
  await writePolicies('one');
});
afterAll(async () => {
  for (const p of running) await p.stop('SIGKILL');
  await rm(dir, { recursive: true, force: true });
});

/** Runs Checks of GET /probe on `workers` loops until `stop()`; counts answers and tags. */
function load(port: number, workers = 6) {
  const client = new CheckClient(port);
  const stats = { calls: 0, failed: 0, tags: new Set<string>(), failures: [] as string[] };
  let running = true;
  const loop = async () => {
    while (running) {
      const r = await client.check(checkRequest({ path: '/probe', host: 'orders' }), 5000);
      stats.calls++;
      if (r.ok && r.response.status?.code === 0) stats.tags.add(responseHeader(r.response, 'x-bundle-tag'));
      else {
        stats.failed++;
        if (stats.failures.length < 5) stats.failures.push(JSON.stringify(r).slice(0, 300));
      }
    }
  };
  const loops = Array.from({ length: workers }, loop);
  return {
    stats,
    async stop() {
      running = false;
      await Promise.all(loops);
      client.close();
      return stats;
    },
  };
}

describe('control plane faults (real processes on loopback)', () => {
  it('down at start: not ready and UNAVAILABLE (counted, logged) until it appears, then deciding', async () => {
    const port = await freePort();
    const sidecar = await serve(await sidecarConfig('at-start', port));
    const client = new CheckClient(sidecar.grpcPort);
    try {
      expect((await readyz(sidecar.adminPort)).status).toBe(503);
      const r = await client.check(checkRequest({ path: '/probe', host: 'orders' }));
      expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
      await sidecar.waitForLine(/"bundle_fetch_failed".*policy bundle rejected or unavailable/);
      const before = await metricsOf(sidecar.adminPort);
      expect(
        metric(before, 'portcullis_bundle_load_failures_total', { reason: 'bundle_fetch_failed' }),
      ).toBeGreaterThan(0);
      expect(
        metric(before, 'portcullis_faults_total', { code: 'UNAVAILABLE', reason: 'no_policy_loaded' }),
      ).toBe(1);
      expect(metric(before, 'portcullis_ready')).toBe(0);

      const plane = await cp(port);
      await waitFor(async () => (await readyz(sidecar.adminPort)).status === 200, 10_000, 'ready');
      const after = await client.check(checkRequest({ path: '/probe', host: 'orders' }));
      expect(after.ok && responseHeader(after.response, 'x-bundle-tag')).toBe('one');
      expect(metric(await metricsOf(sidecar.adminPort), 'portcullis_ready')).toBe(1);
      await plane.stop('SIGKILL');
    } finally {
      client.close();
    }
  });

  it('killed mid-run: the active bundle keeps deciding every Check; the outage is counted and logged', async () => {
    const plane = await cp();
    const sidecar = await serve(await sidecarConfig('mid-run', plane.port));
    await waitFor(async () => (await readyz(sidecar.adminPort)).status === 200, 10_000, 'ready');
    const traffic = load(sidecar.grpcPort);
    await sleep(300);
    const failuresBefore = metric(
      await metricsOf(sidecar.adminPort),
      'portcullis_bundle_load_failures_total',
    );
    const from = sidecar.lines.length;
    await plane.stop('SIGKILL');
    await sidecar.waitForLine(/"bundle_fetch_failed"/, 10_000, from);
    await sleep(700);
    const stats = await traffic.stop();
    expect(stats.failed, stats.failures.join('\n')).toBe(0);
    expect(stats.calls).toBeGreaterThan(50);
    expect([...stats.tags]).toEqual(['one']);
    const text = await metricsOf(sidecar.adminPort);
    expect(
      metric(text, 'portcullis_bundle_load_failures_total', { reason: 'bundle_fetch_failed' }),
    ).toBeGreaterThan(failuresBefore);
    expect(metric(text, 'portcullis_ready')).toBe(1);
    expect((await readyz(sidecar.adminPort)).body).toMatchObject({ ready: true });
    expect(sidecar.proc.exitCode).toBeNull();
  });

  it('flapping under load: no failed Check, every answer from a published revision, the last one wins', async () => {
    const port = await freePort();
    let plane = await cp(port);
    const sidecar = await serve(await sidecarConfig('flapping', port));
    await waitFor(async () => (await readyz(sidecar.adminPort)).status === 200, 10_000, 'ready');
    const traffic = load(sidecar.grpcPort);
    const published = ['one'];
    for (const tag of ['two', 'three', 'four']) {
      await plane.stop('SIGKILL');
      await sleep(150);
      await writePolicies(tag);
      published.push(tag);
      plane = await cp(port);
      await sleep(150 + Math.floor(Math.random() * 400));
    }
    await waitFor(async () => traffic.stats.tags.has('four'), 10_000, 'the last revision');
    await plane.stop('SIGKILL');
    await sleep(300);
    const stats = await traffic.stop();
    expect(stats.failed, stats.failures.join('\n')).toBe(0);
    for (const t of stats.tags) expect(published).toContain(t);
    const text = await metricsOf(sidecar.adminPort);
    expect(
      metric(text, 'portcullis_bundle_load_failures_total', { reason: 'bundle_fetch_failed' }),
    ).toBeGreaterThan(0);
    expect(
      sidecar.lines.filter((l) => l.includes('"policy bundle activated"')).length,
    ).toBeGreaterThanOrEqual(2);
    expect(sidecar.proc.exitCode).toBeNull();
    expect(sidecar.errLines).toEqual([]);
  });
});
