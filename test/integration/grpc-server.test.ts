import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/main.js';
import { CheckClient, type CheckResult, responseHeader } from '../helpers/check-client.js';
import { startInProcess } from '../helpers/in-process.js';
import { checkRequest } from '../helpers/requests.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const BILLING = 'spiffe://cluster.local/ns/shop/sa/billing';

function denied(r: CheckResult) {
  if (!r.ok || r.response.httpResponse.case !== 'deniedResponse')
    throw new Error(`expected a deny, got ${JSON.stringify(r)}`);
  return { status: r.response.status?.code, http: r.response.httpResponse.value };
}

describe('gRPC Check server (real server, real grpc-js client)', () => {
  let server: Running;
  let client: CheckClient;

  beforeAll(async () => {
    server = await startInProcess();
    client = new CheckClient(server.grpcPort);
  });
  afterAll(async () => {
    client.close();
    await server.stop(1000);
  });

  it('allows frontend GET /orders/42 with the principal upstream and explicit append', async () => {
    const r = await client.check(
      checkRequest({ path: '/orders/42?expand=items', sourcePrincipal: FRONTEND }),
    );
    expect(r.ok && r.response.status?.code).toBe(0);
    if (!r.ok || r.response.httpResponse.case !== 'okResponse') throw new Error('not allowed');
    const headers = r.response.httpResponse.value.headers;
    expect(headers.find((h) => h.header?.key === 'x-portcullis-principal')?.header?.value).toBe(FRONTEND);
    for (const h of headers) expect(h.append).toBe(false);
    expect(r.response.dynamicMetadata).toMatchObject({
      decision: 'allow',
      rule_ids: ['orders@3#frontend-reads'],
    });
  });

  it('denies POST from frontend with 403, a JSON body naming the reason and the decision id', async () => {
    const r = await client.check(
      checkRequest({ method: 'POST', path: '/orders/42', sourcePrincipal: FRONTEND }),
    );
    const d = denied(r);
    expect(d.status).toBe(7);
    expect(d.http.status?.code).toBe(403);
    const body = JSON.parse(d.http.body);
    expect(body).toMatchObject({ decision: 'deny', reason: 'default_deny' });
    expect(body.decisionId).toBe(
      responseHeader((r as Extract<CheckResult, { ok: true }>).response, 'x-portcullis-decision-id'),
    );
  });

  it('a DENY rule overrides an ALLOW and is named in the dynamic metadata', async () => {
    const r = await client.check(checkRequest({ path: '/orders/admin/x', sourcePrincipal: FRONTEND }));
    expect(denied(r).http.status?.code).toBe(403);
    expect((r as { response: { dynamicMetadata: unknown } }).response.dynamicMetadata).toMatchObject({
      reason: 'denied_by_rule',
      rule_ids: ['orders@3#no-admin'],
    });
  });

  it('denies an anonymous caller with 401 and WWW-Authenticate', async () => {
    const r = await client.check(checkRequest({ path: '/orders/42' }));
    const d = denied(r);
    expect(d.status).toBe(16);
    expect(d.http.status?.code).toBe(401);
    expect(JSON.parse(d.http.body).reason).toBe('credential_missing');
    expect(d.http.headers.find((h) => h.header?.key === 'www-authenticate')?.header?.value).toMatch(
      /^Bearer realm=/,
    );
  });

  it.each([
    ['GET', '/orders/7', FRONTEND, 0],
    ['DELETE', '/orders/7', FRONTEND, 7],
    ['GET', '/orders/7', BILLING, 7],
  ])('header_map-only request %s %s from %s → status %d', async (method, path, principal, code) => {
    const r = await client.check(
      checkRequest({
        method: '',
        path: '',
        host: '',
        sourcePrincipal: principal,
        headerMap: [
          [':method', method],
          [':path', path],
          [':authority', 'orders.shop'],
          ['x-repeated', 'a'],
          ['x-repeated', 'b'],
        ],
      }),
    );
    expect(r.ok && r.response.status?.code).toBe(code);
  });

  it('answers a request with a 1 MiB header', async () => {
    const r = await client.check(
      checkRequest({
        path: '/orders/1',
        sourcePrincipal: FRONTEND,
        headers: { 'x-big': 'a'.repeat(1024 * 1024) },
      }),
    );
    expect(r.ok && r.response.status?.code).toBe(0);
  });

  it('garbage bytes → INVALID_ARGUMENT, and the server keeps serving', async () => {
    const garbage = new Uint8Array([0xff, 0xff, 0xff, 0xff, 0x0f, 0x12, 0x34]);
    const r = await client.check(garbage);
    expect(r).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
    const after = await client.check(checkRequest({ path: '/healthz' }));
    expect(after.ok && after.response.status?.code).toBe(0);
  });

  it('1,000 concurrent calls all get the right answer', async () => {
    const calls = Array.from({ length: 1000 }, (_, i) =>
      client.check(
        checkRequest({ method: i % 2 ? 'GET' : 'PUT', path: `/orders/${i}`, sourcePrincipal: FRONTEND }),
        // Generous: a loaded 2-core CI machine must not turn this into a timing test.
        30_000,
      ),
    );
    const results = await Promise.all(calls);
    for (const [i, r] of results.entries()) expect(r.ok && r.response.status?.code).toBe(i % 2 ? 0 : 7);
  });

  it('counts decisions in /metrics by outcome and reason', async () => {
    const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    expect(text).toMatch(
      /portcullis_decisions_total\{outcome="allow",reason="allowed",policy="orders",api="grpc"\} \d+/,
    );
    expect(text).toMatch(/portcullis_faults_total\{code="INVALID_ARGUMENT",reason="invalid_request"\} 1/);
  });

  it('/healthz and /readyz report live and ready with the revision', async () => {
    expect((await fetch(`http://127.0.0.1:${server.adminPort}/healthz`)).status).toBe(200);
    const ready = await fetch(`http://127.0.0.1:${server.adminPort}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toMatchObject({ ready: true, policies: 1 });
  });
});

describe('deadlines (a token whose keys are slow to fetch)', () => {
  let jwks: Server;
  let server: Running;
  let client: CheckClient;
  let token: string;
  const held: import('node:http').ServerResponse[] = [];

  beforeAll(async () => {
    const { privateKey } = await generateKeyPair('ES256');
    token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://idp.test')
      .setExpirationTime('5m')
      .sign(privateKey);
    // A JWKS endpoint that never answers: verification cannot finish before the deadline.
    jwks = createServer((_req, res) => held.push(res));
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks.json`;
    server = await startInProcess({
      identity: { jwt: { providers: [{ issuer: 'https://idp.test', jwks: { url, timeout: '10s' } }] } },
    });
    client = new CheckClient(server.grpcPort);
    void exportJWK;
  });
  afterAll(async () => {
    client.close();
    await server.stop(500);
    for (const r of held) r.destroy();
    jwks.close();
  });

  it('returns DEADLINE_EXCEEDED before the caller gives up, and counts it', async () => {
    const start = Date.now();
    const r = await client.check(
      checkRequest({ path: '/orders/1', headers: { authorization: `Bearer ${token}` } }),
      150,
    );
    expect(r).toMatchObject({ ok: false, code: grpc.status.DEADLINE_EXCEEDED });
    expect(Date.now() - start).toBeLessThan(1000);
    const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    expect(text).toMatch(
      /portcullis_faults_total\{code="(DEADLINE_EXCEEDED|CANCELLED)",reason="(deadline_exceeded|request_cancelled)"\} 1/,
    );
  });
});

describe('an issuer whose keys cannot be fetched → cannot decide', () => {
  it('answers UNAVAILABLE (a fault, so failure_mode_allow decides), not a 401 deny', async () => {
    const { privateKey } = await generateKeyPair('ES256');
    const token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://idp.test')
      .setExpirationTime('5m')
      .sign(privateKey);
    // Nothing listens on this port: every JWKS fetch fails at once.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks.json`;
    await new Promise<void>((r) => closed.close(() => r()));
    const server = await startInProcess({
      identity: { jwt: { providers: [{ issuer: 'https://idp.test', jwks: { url, timeout: '500ms' } }] } },
    });
    const client = new CheckClient(server.grpcPort);
    try {
      const r = await client.check(
        checkRequest({ path: '/orders/1', headers: { authorization: `Bearer ${token}` } }),
        5000,
      );
      expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
      const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
      expect(text).toMatch(/portcullis_faults_total\{code="UNAVAILABLE",reason="jwks_unavailable"\} 1/);
    } finally {
      client.close();
      await server.stop(500);
    }
  });
});
