import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { backoffDelay, createHttpSink, isRetryableStatus } from '../../../src/telemetry/http-sink.js';
import { createDecisionLogger, createMetrics } from '../../../src/telemetry/index.js';
import { decision, decisionLogConfig, dropsOf, memoryLogger, record } from './fixtures.js';

/** A real collector on 127.0.0.1: `respond` decides each response (or never answers). */
async function collector(respond: (n: number, req: IncomingMessage, res: ServerResponse) => void) {
  const bodies: string[] = [];
  let n = 0;
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => {
      body += c.toString();
    });
    req.on('end', () => {
      bodies.push(body);
      respond(n++, req, res);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  servers.push(server);
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1/decisions`;
  return { url, bodies, lines: () => bodies.flatMap((b) => b.split('\n').filter((l) => l !== '')) };
}

const servers: Server[] = [];
afterEach(async () => {
  for (const s of servers.splice(0)) {
    s.closeAllConnections();
    await new Promise((r) => s.close(r));
  }
});

const http = (over: Record<string, unknown>) =>
  decisionLogConfig({ http: { enabled: true, url: 'http://x', ...over } }).http;

describe('HTTP batch sink', () => {
  it('POSTs NDJSON batches of at most batchSize lines', async () => {
    const c = await collector((_n, req, res) => {
      expect(req.headers['content-type']).toBe('application/x-ndjson');
      res.end();
    });
    const drops: number[] = [];
    const sink = createHttpSink(http({ url: c.url, batchSize: 3 }), { onDrop: (n) => drops.push(n) });
    for (let i = 0; i < 7; i++) sink.write(`{"i":${i}}\n`);
    await sink.close(2000);
    expect(c.lines()).toEqual([0, 1, 2, 3, 4, 5, 6].map((i) => `{"i":${i}}`));
    expect(c.bodies.length).toBe(3);
    expect(drops).toEqual([]);
  });

  it('sends a partial batch after flushIntervalMs', async () => {
    const c = await collector((_n, _req, res) => res.end());
    const sink = createHttpSink(http({ url: c.url, flushIntervalMs: 20 }), { onDrop: () => {} });
    sink.write('{"a":1}\n');
    // No flush() call: only the interval timer can send it (polled, so a loaded machine is fine).
    await expect.poll(() => c.lines(), { timeout: 3000 }).toEqual(['{"a":1}']);
    await sink.close(100);
  });

  it.each([
    ['503 then 200', [503, 200], 2, 0],
    ['429, 500, then 200', [429, 500, 200], 3, 0],
    ['408 then 200', [408, 200], 2, 0],
    ['400: not retried, dropped', [400], 1, 2],
    ['always 503: dropped after maxRetries', [503, 503, 503, 503], 3, 2],
  ])('%s', async (_name, statuses, requests, dropped) => {
    const c = await collector((n, _req, res) => {
      res.statusCode = statuses[Math.min(n, statuses.length - 1)] ?? 200;
      res.end();
    });
    let drops = 0;
    const sink = createHttpSink(http({ url: c.url, maxRetries: 2, backoffMs: 5, maxBackoffMs: 20 }), {
      onDrop: (n) => {
        drops += n;
      },
    });
    sink.write('{"a":1}\n');
    sink.write('{"a":2}\n');
    await sink.close(3000);
    expect(c.bodies.length).toBe(requests);
    expect(drops).toBe(dropped);
  });

  it('retries a network error (nothing listening)', async () => {
    const c = await collector((_n, _req, res) => res.end());
    const dead = (await collector(() => {})).url.replace(/:\d+\//, ':1/');
    let drops = 0;
    const sink = createHttpSink(http({ url: dead, maxRetries: 1, backoffMs: 1 }), {
      onDrop: (n) => {
        drops += n;
      },
    });
    sink.write('{"a":1}\n');
    await sink.close(2000);
    expect(drops).toBe(1);
    expect(c.bodies).toEqual([]);
  });

  it('bounds the queue and counts what did not fit', async () => {
    const c = await collector(() => {}); // never answers
    let drops = 0;
    const sink = createHttpSink(http({ url: c.url, maxQueue: 5, batchSize: 5, timeoutMs: 60_000 }), {
      onDrop: (n) => {
        drops += n;
      },
    });
    // The first 5 form a batch that hangs in flight; the next 5 fill the queue; the rest drop.
    for (let i = 0; i < 15; i++) sink.write('{}\n');
    expect(drops).toBe(5);
    await sink.close(100);
    expect(drops).toBe(15);
  });

  it('backs off exponentially with full jitter, capped', () => {
    expect([0, 1, 2, 3, 10].map((a) => backoffDelay(a, 100, 1000, () => 0.999))).toEqual([
      99, 199, 399, 799, 999,
    ]);
    expect(backoffDelay(5, 100, 1000, () => 0)).toBe(0);
    expect([200, 404, 408, 429, 500, 503].map(isRetryableStatus)).toEqual([
      false,
      false,
      true,
      true,
      true,
      true,
    ]);
  });

  it('a collector that never answers does not stall log(); drops are counted', async () => {
    const c = await collector(() => {}); // accepts, reads, never responds
    const metrics = createMetrics({ defaultMetrics: false });
    const { logger } = memoryLogger();
    const config = decisionLogConfig({
      sink: 'none',
      flushTimeoutMs: 200,
      http: {
        enabled: true,
        url: c.url,
        batchSize: 100,
        maxQueue: 1000,
        timeoutMs: 30_000,
        flushIntervalMs: 10,
      },
    });
    const log = createDecisionLogger(config, { metrics, logger });
    const deny = record({ decision: decision({ allowed: false }) });
    let maxMicros = 0;
    let totalMicros = 0;
    for (let round = 0; round < 20; round++) {
      for (let i = 0; i < 250; i++) {
        const t = performance.now();
        log.log(deny);
        const micros = (performance.now() - t) * 1000;
        maxMicros = Math.max(maxMicros, micros);
        totalMicros += micros;
      }
      await new Promise((r) => setTimeout(r, 2));
    }
    const closeStart = performance.now();
    await log.close();
    // flushTimeoutMs is 200 ms; the rest is serializing what was still queued (slow on a loaded machine).
    expect(performance.now() - closeStart).toBeLessThan(5000);
    // A stalled sink would block for ever; allow a GC pause on a busy 2-core machine.
    expect(maxMicros).toBeLessThan(50_000);
    expect(totalMicros / 5000).toBeLessThan(50);
    // Everything was dropped and counted: 5,000 lines, none acknowledged.
    expect(await dropsOf(metrics, 'http')).toBe(5000);
    expect(c.bodies.length).toBeGreaterThanOrEqual(1);
  });
});
