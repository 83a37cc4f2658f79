/**
 * Blocked decision-log sinks under a real sidecar process: a stdout nobody reads, an HTTP
 * collector that accepts and never answers, and a log file on a full disk. Checks keep being
 * answered (all of them, promptly); the dropped lines are counted and a log line says so.
 */
import { spawnSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckClient } from '../../helpers/check-client.js';
import { MESH_POLICY } from '../../helpers/in-process.js';
import { checkRequest } from '../../helpers/requests.js';
import { IN_CI } from '../../helpers/sidecar.js';
import { metric, metricsOf, type Serve, startServe, waitFor } from './process.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
let dir: string;

/** Sends `n` Checks, `concurrency` at a time; returns failures and the slowest answer (ms). */
async function burst(port: number, n: number, concurrency = 32): Promise<{ failed: number; maxMs: number }> {
  const client = new CheckClient(port);
  let next = 0;
  let failed = 0;
  let maxMs = 0;
  const worker = async () => {
    while (next < n) {
      next++;
      const t = performance.now();
      // A deny: always logged, whatever the allow sampling.
      const r = await client.check(
        checkRequest({ method: 'DELETE', path: '/orders/1', sourcePrincipal: FRONTEND }),
        10_000,
      );
      maxMs = Math.max(maxMs, performance.now() - t);
      if (!r.ok || r.response.status?.code !== 7) failed++;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  client.close();
  return { failed, maxMs };
}

async function serveWith(name: string, decisionLog: object, wrap?: string[]): Promise<Serve> {
  const file = join(dir, `${name}.json`);
  await writeFile(
    file,
    JSON.stringify({ policy: { dir: join(dir, 'policies') }, telemetry: { decisionLog } }),
  );
  return startServe(file, wrap ? { wrap } : {});
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-faults-sink-'));
  await mkdir(join(dir, 'policies'));
  await writeFile(join(dir, 'policies', 'orders.yaml'), MESH_POLICY);
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('blocked decision-log sinks (real sidecar process)', () => {
  it('stdout nobody reads: every Check answered, drops counted, and the warning arrives once it is read', async () => {
    const sidecar = await serveWith('stdout', { sink: 'stdout', bufferBytes: 65_536 });
    try {
      sidecar.proc.stdout!.pause();
      const from = sidecar.lines.length;
      const r = await burst(sidecar.grpcPort, 2500);
      expect(r.failed).toBe(0);
      expect(r.maxMs).toBeLessThan(5000);
      const text = await metricsOf(sidecar.adminPort);
      expect(metric(text, 'portcullis_decision_log_dropped_total', { sink: 'stdout' })).toBeGreaterThan(0);
      sidecar.proc.stdout!.resume();
      const line = await sidecar.waitForLine(/"decision log lines dropped"/, 10_000, from);
      expect(line).toMatchObject({ level: 'warn', sink: 'stdout' });
    } finally {
      await sidecar.stop('SIGKILL');
    }
  });

  it('an HTTP collector that never answers: every Check answered, drops counted and logged', async () => {
    const held: IncomingMessage[] = [];
    const collector: Server = createServer((req) => held.push(req));
    await new Promise<void>((r) => collector.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(collector.address() as AddressInfo).port}/ingest`;
    const sidecar = await serveWith('http', {
      sink: 'none',
      http: {
        enabled: true,
        url,
        batchSize: 100,
        flushIntervalMs: 50,
        maxQueue: 500,
        timeoutMs: 300,
        maxRetries: 0,
      },
    });
    try {
      const r = await burst(sidecar.grpcPort, 1500);
      expect(r.failed).toBe(0);
      await waitFor(
        async () =>
          metric(await metricsOf(sidecar.adminPort), 'portcullis_decision_log_dropped_total', {
            sink: 'http',
          }) > 0,
        10_000,
        'http drops',
      );
      const line = await sidecar.waitForLine(/"decision log lines dropped"/);
      expect(line).toMatchObject({ sink: 'http' });
      expect(held.length).toBeGreaterThan(0);
    } finally {
      await sidecar.stop('SIGKILL');
      collector.closeAllConnections();
      collector.close();
    }
  });

  const unshare = spawnSync('unshare', ['-m', 'true']).status === 0 ? ['unshare', '-m'] : undefined;
  if (!unshare)
    console.log(`decision log on a full disk ${IN_CI ? 'must run' : 'skipped'}: no private mount namespace`);

  it.skipIf(!unshare && !IN_CI)(
    'a log file on a full disk: every Check answered, the sink failure is logged',
    async () => {
      const logDir = join(dir, 'full-log');
      await mkdir(logDir);
      const script = 'mount -t tmpfs -o size=32k tmpfs "$0" && exec "$@"';
      const sidecar = await serveWith('file', { sink: 'file', file: join(logDir, 'decisions.log') }, [
        ...(unshare ?? []),
        'sh',
        '-c',
        script,
        logDir,
      ]);
      try {
        const r = await burst(sidecar.grpcPort, 1000);
        expect(r.failed).toBe(0);
        const line = await sidecar.waitForLine(/"decision log sink failed; its lines are dropped"/);
        expect(JSON.stringify(line)).toMatch(/ENOSPC/);
        expect(sidecar.proc.exitCode).toBeNull();
      } finally {
        await sidecar.stop('SIGKILL');
      }
    },
  );
});
