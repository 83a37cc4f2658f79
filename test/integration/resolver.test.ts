import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { pino } from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createResolvers,
  fillTemplate,
  type Resolvers,
  resolversConfigSchema,
} from '../../src/resolver/index.js';
import { createMetrics, type Metrics } from '../../src/telemetry/metrics.js';

/** The owning service: invoices by tenant/id, with misbehaving ids. */
function invoiceService(calls: { url: string; headers: IncomingMessage['headers'] }[]) {
  return (req: IncomingMessage, res: ServerResponse) => {
    calls.push({ url: req.url ?? '', headers: req.headers });
    const m = /^\/tenants\/([^/]+)\/invoices\/([^/]+)$/.exec(req.url ?? '');
    const id = m?.[2] ?? '';
    const reply = (status: number, body: string) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(body);
    };
    if (!m || id === 'missing') return reply(404, '{"error":"not found"}');
    if (id === 'slow') return void setTimeout(() => reply(200, '{"status":"draft"}'), 3000);
    if (id === 'broken') return reply(503, '{"error":"down"}');
    if (id === 'garbage') return reply(200, '{"status": dra');
    if (id === 'list') return reply(200, '[1,2,3]');
    if (id === 'huge') return reply(200, JSON.stringify({ blob: 'x'.repeat(400_000) }));
    if (id === 'coalesce') return void setTimeout(() => reply(200, '{"data":{"status":"sent"}}'), 100);
    return reply(
      200,
      JSON.stringify({ data: { tenant: decodeURIComponent(m[1]!), id, status: 'draft', version: 3 } }),
    );
  };
}

async function metric(metrics: Metrics, result: string): Promise<number> {
  const m = await metrics.cacheRequests.get();
  return m.values.find((v) => v.labels.cache === 'resource' && v.labels.result === result)?.value ?? 0;
}

describe('resource resolvers against a real loopback service', () => {
  let server: Server;
  let resolvers: Resolvers;
  let metrics: Metrics;
  const calls: { url: string; headers: IncomingMessage['headers'] }[] = [];
  const req = (
    id: string,
    extra: Partial<{ revision: string; deadlineMs: number; tenant: string }> = {},
  ) => ({
    resolver: 'invoices',
    params: { tenant: extra.tenant ?? 'acme', id },
    headers: { authorization: 'Bearer t0ken', 'x-request-id': 'r1', cookie: 'secret=1' },
    revision: extra.revision ?? 'r1',
    deadlineMs: extra.deadlineMs ?? Date.now() + 5000,
  });

  beforeAll(async () => {
    server = createServer(invoiceService(calls));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    metrics = createMetrics({ defaultMetrics: false });
    const config = resolversConfigSchema.parse({
      invoices: { url: `${base}/tenants/{tenant}/invoices/{id}`, timeout: '1s', attributesField: 'data' },
      strict: { url: `${base}/tenants/{tenant}/invoices/{id}`, timeout: '1s', failureMode: 'deny' },
    });
    resolvers = createResolvers(config, { metrics, logger: pino({ level: 'silent' }) });
  });
  afterAll(() => {
    resolvers.close();
    server.close();
  });

  it('fetches attributes, forwards identity headers only, then serves hits from the cache synchronously', async () => {
    const first = await resolvers.resolve(req('42'));
    expect(first).toEqual({
      ok: true,
      attributes: { tenant: 'acme', id: '42', status: 'draft', version: 3 },
    });
    const sent = calls.at(-1)!;
    expect(sent.url).toBe('/tenants/acme/invoices/42');
    expect(sent.headers.authorization).toBe('Bearer t0ken');
    expect(sent.headers['x-request-id']).toBe('r1');
    expect(sent.headers.cookie).toBeUndefined();
    const before = calls.length;
    const hit = resolvers.resolve(req('42'));
    expect(hit).not.toBeInstanceOf(Promise);
    expect(hit).toEqual(first);
    expect(calls.length).toBe(before);
    expect(await metric(metrics, 'hit')).toBeGreaterThanOrEqual(1);
  });

  it('a new policy revision does not reuse the previous revision’s cache entry', async () => {
    const before = calls.length;
    await resolvers.resolve(req('42', { revision: 'r2' }));
    expect(calls.length).toBe(before + 1);
  });

  it('path parameters are URL-encoded into the template (no path injection)', async () => {
    await resolvers.resolve(req('7', { tenant: '../admin' }));
    expect(calls.at(-1)!.url).toBe('/tenants/..%2Fadmin/invoices/7');
    expect(fillTemplate('/a/{x}/{y}', { x: '1' })).toBeUndefined();
  });

  it('coalesces concurrent identical lookups into one fetch', async () => {
    const before = calls.length;
    const results = await Promise.all(Array.from({ length: 25 }, () => resolvers.resolve(req('coalesce'))));
    expect(calls.length).toBe(before + 1);
    for (const r of results) expect(r).toEqual({ ok: true, attributes: { status: 'sent' } } as never);
    expect(await metric(metrics, 'coalesced')).toBeGreaterThanOrEqual(24);
  });

  it('a 404 is a deny with resource_not_found, remembered (negative cache)', async () => {
    const r = await resolvers.resolve(req('missing'));
    expect(r).toMatchObject({ ok: false, reason: 'resource_not_found', mode: 'deny' });
    const before = calls.length;
    expect(resolvers.resolve(req('missing'))).toMatchObject({ ok: false, reason: 'resource_not_found' });
    expect(calls.length).toBe(before);
    expect(await metric(metrics, 'negative')).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['slow (timeout)', 'slow', 'resolver_failed', /timed out/],
    ['5xx', 'broken', 'resolver_failed', /503/],
    ['malformed JSON', 'garbage', 'resolver_bad_response', /not JSON/],
    ['not an object', 'list', 'resolver_bad_response', /no JSON object/],
    ['too large', 'huge', 'resolver_bad_response', /larger than/],
  ])(
    '%s (id %s) → reason %s in the configured failure mode, never a crash',
    async (_n, id, reason, detail) => {
      const r = await resolvers.resolve(req(id));
      expect(r).toMatchObject({ ok: false, reason, mode: 'unavailable' });
      expect((r as { detail: string }).detail).toMatch(detail);
      const strict = await resolvers.resolve({ ...req(id), resolver: 'strict' });
      expect(strict).toMatchObject({ ok: false, reason, mode: 'deny' });
    },
  );

  it('never outlives the caller’s deadline', async () => {
    const start = Date.now();
    const r = await resolvers.resolve(req('slow', { deadlineMs: Date.now() + 40, revision: 'deadline' }));
    expect(r).toMatchObject({ ok: false, reason: 'resolver_failed' });
    expect(Date.now() - start).toBeLessThan(900);
  });

  it('an unknown resolver name is a failure value, not a throw', () => {
    expect(resolvers.resolve({ ...req('1'), resolver: 'nope' })).toMatchObject({
      ok: false,
      mode: 'unavailable',
    });
  });
});
