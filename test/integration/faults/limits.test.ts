/**
 * Limits at the edge (docs/limits.md), through the real gRPC and HTTP servers: content over a
 * limit is a counted `request_too_large` deny (never a fault that failure_mode_allow could turn
 * into an allow); more concurrent Checks than `maxInFlight` fail fast with RESOURCE_EXHAUSTED.
 */
import { request } from 'node:http';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../../src/main.js';
import { createSigningKey, type JwksServer, jwksOf, signToken, startJwksServer } from '../../fixtures/jwt.js';
import { CheckClient, type CheckResult } from '../../helpers/check-client.js';
import { startInProcess } from '../../helpers/in-process.js';
import { checkRequest } from '../../helpers/requests.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const LIMITS = { maxHeaders: 40, maxHeaderBytes: 64 * 1024, maxBodyBytes: 4096 };
const ISS = 'https://idp.limits.test';

function httpSend(port: number, path: string, headers: Record<string, string>, body = '') {
  return new Promise<{ status: number; body: string }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method: 'POST', path, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

function denyOf(r: CheckResult): { grpc: number | undefined; http: number | undefined; reason: string } {
  if (!r.ok || r.response.httpResponse.case !== 'deniedResponse')
    throw new Error(`not a deny: ${JSON.stringify(r)}`);
  const d = r.response.httpResponse.value;
  return { grpc: r.response.status?.code, http: d.status?.code, reason: JSON.parse(d.body).reason };
}

const many = (n: number) => Object.fromEntries(Array.from({ length: n }, (_, i) => [`x-h${i}`, 'v']));

describe('content limits', () => {
  let server: Running;
  let client: CheckClient;

  beforeAll(async () => {
    server = await startInProcess({
      server: {
        grpc: { host: '127.0.0.1', port: 0, maxReceiveMessageBytes: 256 * 1024 },
        admin: { host: '127.0.0.1', port: 0 },
        http: { host: '127.0.0.1', port: 0, maxBodyBytes: 4096 },
        api: { host: '127.0.0.1', port: 0 },
        limits: LIMITS,
      },
    });
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client.close();
    await server.stop(500);
  });

  it.each<[string, Parameters<typeof checkRequest>[0], number]>([
    ['too many headers', { headers: many(40) }, 431],
    [
      'too many header_map entries',
      { headerMap: Array.from({ length: 41 }, (_, i) => [`x-r${i % 3}`, 'v']) },
      431,
    ],
    ['header bytes over the limit', { headers: { 'x-big': 'a'.repeat(64 * 1024) } }, 431],
    ['an embedded body over the limit', { method: 'POST', body: 'b'.repeat(4097) }, 413],
  ])('gRPC: %s → PERMISSION_DENIED %d request_too_large', async (_name, spec, status) => {
    const r = await client.check(checkRequest({ path: '/orders/1', sourcePrincipal: FRONTEND, ...spec }));
    expect(denyOf(r)).toEqual({ grpc: 7, http: status, reason: 'request_too_large' });
  });

  it('gRPC: just under every limit is decided normally', async () => {
    const r = await client.check(
      checkRequest({
        path: '/orders/1',
        sourcePrincipal: FRONTEND,
        headers: { ...many(20), 'x-big': 'a'.repeat(60 * 1024) },
        body: 'b'.repeat(4096),
      }),
    );
    expect(r.ok && r.response.status?.code).toBe(0);
  });

  it('gRPC: a message over grpc.maxReceiveMessageBytes is RESOURCE_EXHAUSTED and the server keeps serving', async () => {
    const r = await client.check(checkRequest({ path: '/orders/1', body: 'b'.repeat(300 * 1024) }));
    expect(r).toMatchObject({ ok: false, code: grpc.status.RESOURCE_EXHAUSTED });
    const after = await client.check(checkRequest({ path: '/orders/1', sourcePrincipal: FRONTEND }));
    expect(after.ok && after.response.status?.code).toBe(0);
  });

  it.each<[string, Record<string, string>, string, number]>([
    ['too many headers', { host: 'orders.shop', ...many(45) }, '', 431],
    ['a body over http.maxBodyBytes', { host: 'orders.shop' }, 'x'.repeat(5000), 413],
  ])('HTTP mode: %s → %d request_too_large', async (_name, headers, body, status) => {
    const r = await httpSend(server.httpPort!, '/orders/1', headers, body);
    expect(r.status).toBe(status);
    expect(JSON.parse(r.body)).toMatchObject({ decision: 'deny', reason: 'request_too_large' });
  });

  it('HTTP mode: a header section over maxHeaderBytes is refused by the parser with 431, counted', async () => {
    const r = await httpSend(server.httpPort!, '/orders/1', {
      host: 'orders.shop',
      'x-big': 'a'.repeat(70_000),
    });
    expect(r.status).toBe(431);
    const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    expect(text).toMatch(
      /portcullis_decisions_total\{outcome="deny",reason="request_too_large",policy="none",api="http"\} 3/,
    );
    expect(text).toMatch(
      /portcullis_decisions_total\{outcome="deny",reason="request_too_large",policy="none",api="grpc"\} 4/,
    );
  });
});

describe('concurrent Checks beyond maxInFlight', () => {
  let jwks: JwksServer;
  let server: Running;
  let client: CheckClient;
  let token: string;

  beforeAll(async () => {
    const key = await createSigningKey('ES256', 'k1');
    token = await signToken(key, { iss: ISS, sub: 'alice' });
    // Keys that take longer than the test: every Check with a token stays in flight.
    jwks = await startJwksServer(jwksOf(key));
    jwks.setDelay(20_000);
    server = await startInProcess({
      server: {
        grpc: { host: '127.0.0.1', port: 0 },
        admin: { host: '127.0.0.1', port: 0 },
        http: { host: '127.0.0.1', port: 0 },
        api: { host: '127.0.0.1', port: 0 },
        maxInFlight: 2,
        defaultTimeout: '1500ms',
      },
      identity: { jwt: { providers: [{ issuer: ISS, jwks: { url: jwks.url, timeout: '30s' } }] } },
    });
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client.close();
    await server.stop(500);
    await jwks.close();
  });

  it('gRPC: the third concurrent Check is RESOURCE_EXHAUSTED at once, counted; the two others finish', async () => {
    const slow = checkRequest({ path: '/orders/1', headers: { authorization: `Bearer ${token}` } });
    const held = [client.check(slow, 1500), client.check(slow, 1500)];
    await new Promise((r) => setTimeout(r, 100));
    const t0 = Date.now();
    const third = await client.check(checkRequest({ path: '/healthz' }), 1500);
    expect(third).toMatchObject({ ok: false, code: grpc.status.RESOURCE_EXHAUSTED });
    expect(Date.now() - t0).toBeLessThan(500);
    for (const r of await Promise.all(held))
      expect(r).toMatchObject({ ok: false, code: grpc.status.DEADLINE_EXCEEDED });
    // Slots are given back: the server decides again.
    const after = await client.check(checkRequest({ path: '/healthz' }));
    expect(after.ok && after.response.status?.code).toBe(0);
    const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    expect(text).toMatch(
      /portcullis_faults_total\{code="RESOURCE_EXHAUSTED",reason="resource_exhausted"\} 1/,
    );
  });

  it('HTTP mode: the third concurrent request is 503, counted', async () => {
    const slow = () =>
      httpSend(server.httpPort!, '/orders/1', { host: 'orders.shop', authorization: `Bearer ${token}` });
    const held = [slow(), slow()];
    await new Promise((r) => setTimeout(r, 100));
    const third = await httpSend(server.httpPort!, '/healthz', { host: 'orders.shop' });
    expect(third.status).toBe(503);
    expect(JSON.parse(third.body)).toEqual({ decision: 'error', reason: 'resource_exhausted' });
    for (const r of await Promise.all(held)) expect(r.status).toBe(504);
    const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    expect(text).toMatch(
      /portcullis_faults_total\{code="RESOURCE_EXHAUSTED",reason="resource_exhausted"\} 2/,
    );
  });
});
