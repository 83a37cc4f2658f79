/**
 * JWKS endpoints failing under a real sidecar process, one issuer per fault so they run side by
 * side: down (then back), slow (past the Check deadline and past the fetch timeout) and answering
 * garbage (HTML, a private key, an endless body). Tokens of a failing issuer are "cannot decide"
 * (UNAVAILABLE / DEADLINE_EXCEEDED, counted, logged); other issuers and token-less requests keep
 * being decided; the process never buffers an endless answer.
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  createSigningKey,
  type JwksServer,
  jwksOf,
  signToken,
  startJwksServer,
  type TestSigningKey,
} from '../../fixtures/jwt.js';
import { CheckClient, type CheckResult } from '../../helpers/check-client.js';
import { checkRequest } from '../../helpers/requests.js';
import { metric, metricsOf, type Serve, sleep, startServe, waitFor } from './process.js';

const POLICY = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: me }
rules:
  - id: signed-in
    effect: ALLOW
    when: principal.authenticated
    to: [{ methods: [GET], paths: ['/me/*'] }]
  - id: health
    effect: ALLOW
    to: [{ methods: [GET], paths: ['/healthz'] }]
`;
const iss = (name: string) => `https://${name}.idp.test`;

/** A JWKS endpoint answering `mode`: HTML, a JWKS holding a private key, or an endless body. */
async function garbageServer(): Promise<{
  url: string;
  mode: string;
  served: number;
  close(): Promise<void>;
}> {
  const state = { mode: 'html', served: 0 };
  const open = new Set<ServerResponse>();
  const server: Server = createServer((_req, res) => {
    state.served++;
    if (state.mode === 'html') res.writeHead(200, { 'content-type': 'text/html' }).end('<html>oops</html>');
    else if (state.mode === 'private')
      res.end(JSON.stringify({ keys: [{ kty: 'EC', crv: 'P-256', x: 'a', y: 'b', d: 'secret' }] }));
    else {
      // Chunked, no content-length, never ends: 64 KiB at a time for as long as the client reads.
      open.add(res);
      res.writeHead(200, { 'content-type': 'application/json' });
      res.write('{"keys":[');
      const chunk = Buffer.alloc(64 * 1024, 0x20);
      const pump = () => {
        while (!res.destroyed && res.write(chunk));
        if (!res.destroyed) res.once('drain', pump);
      };
      res.on('close', () => open.delete(res));
      pump();
    }
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/jwks.json`,
    get mode() {
      return state.mode;
    },
    set mode(m: string) {
      state.mode = m;
    },
    get served() {
      return state.served;
    },
    async close() {
      for (const r of open) r.destroy();
      server.closeAllConnections();
      await new Promise<void>((r) => server.close(() => r()));
    },
  } as never;
}

describe('JWKS endpoint faults (real sidecar process)', () => {
  let dir: string;
  let keys: Record<'down' | 'slow' | 'garbage' | 'good', TestSigningKey>;
  let down: JwksServer;
  let slow: JwksServer;
  let garbage: Awaited<ReturnType<typeof garbageServer>>;
  let sidecar: Serve;
  let client: CheckClient;

  const me = async (who: keyof typeof keys, deadlineMs = 5000): Promise<CheckResult> =>
    client.check(
      checkRequest({
        path: '/me/1',
        headers: {
          authorization: `Bearer ${await signToken(keys[who], { iss: iss(who), sub: `user-${who}` })}`,
        },
      }),
      deadlineMs,
    );

  beforeAll(async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-faults-jwks-'));
    const [k1, k2, k3, k4] = await Promise.all(
      ['down', 'slow', 'garbage', 'good'].map((k) => createSigningKey('ES256', k)),
    );
    keys = { down: k1!, slow: k2!, garbage: k3!, good: k4! };
    down = await startJwksServer(jwksOf(keys.down));
    await down.stop();
    slow = await startJwksServer(jwksOf(keys.slow));
    slow.setDelay(20_000);
    garbage = await garbageServer();
    await mkdir(join(dir, 'policies'));
    await writeFile(join(dir, 'policies', 'me.yaml'), POLICY);
    const remote = (url: string, extra: object) => ({
      url,
      kidMissMinInterval: '100ms',
      refreshInterval: '1h',
      ...extra,
    });
    const providers = [
      { issuer: iss('down'), jwks: remote(down.url, { timeout: '500ms' }), algorithms: ['ES256'] },
      { issuer: iss('slow'), jwks: remote(slow.url, { timeout: '1s' }), algorithms: ['ES256'] },
      {
        issuer: iss('garbage'),
        jwks: remote(garbage.url, { timeout: '3s', maxBytes: 65_536 }),
        algorithms: ['ES256'],
      },
      { issuer: iss('good'), jwks: { inline: jwksOf(keys.good) }, algorithms: ['ES256'] },
    ];
    const config = { policy: { dir: join(dir, 'policies') }, identity: { jwt: { providers } } };
    await writeFile(join(dir, 'config.json'), JSON.stringify(config));
    sidecar = await startServe(join(dir, 'config.json'));
    client = new CheckClient(sidecar.grpcPort);
  });
  afterAll(async () => {
    client?.close();
    await sidecar?.stop('SIGKILL');
    await Promise.all([down?.close(), slow?.close(), garbage?.close()]);
    await rm(dir, { recursive: true, force: true });
  });

  it('down: its tokens are UNAVAILABLE (counted, logged); others decide; it recovers when the endpoint is back', async () => {
    expect(await me('down')).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    const good = await me('good');
    expect(good.ok && good.response.status?.code).toBe(0);
    const health = await client.check(checkRequest({ path: '/healthz' }));
    expect(health.ok && health.response.status?.code).toBe(0);
    const line = await sidecar.waitForLine(/"provider":"[^"]*down[^"]*".*JWKS fetch failed/);
    expect(line).toMatchObject({ level: 'warn', err: { code: 'jwks_unavailable' } });
    const text = await metricsOf(sidecar.adminPort);
    expect(
      metric(text, 'portcullis_faults_total', { code: 'UNAVAILABLE', reason: 'jwks_unavailable' }),
    ).toBeGreaterThanOrEqual(1);
    await down.start();
    await waitFor(
      async () => {
        const r = await me('down');
        return r.ok && r.response.status?.code === 0;
      },
      5000,
      'recovery',
    );
  });

  it('slow: a short deadline is DEADLINE_EXCEEDED in time; a long one gets UNAVAILABLE at the fetch timeout', async () => {
    const t0 = Date.now();
    expect(await me('slow', 300)).toMatchObject({ ok: false, code: grpc.status.DEADLINE_EXCEEDED });
    expect(Date.now() - t0).toBeLessThan(1500);
    await sleep(150);
    const t1 = Date.now();
    expect(await me('slow', 5000)).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    expect(Date.now() - t1).toBeLessThan(3000);
    await sidecar.waitForLine(/"provider":"[^"]*slow[^"]*".*JWKS fetch failed/);
    const text = await metricsOf(sidecar.adminPort);
    expect(
      metric(text, 'portcullis_faults_total', { code: 'DEADLINE_EXCEEDED' }) +
        metric(text, 'portcullis_faults_total', { code: 'CANCELLED' }),
    ).toBeGreaterThanOrEqual(1);
  });

  it.each([
    ['HTML', 'html', /JWKS rejected: JWKS is not JSON/],
    ['a private key', 'private', /JWKS rejected: JWKS must hold public keys only/],
    ['an endless body', 'endless', /JWKS fetch failed: .*larger than 65536 bytes/],
  ])('garbage (%s): its tokens are UNAVAILABLE and the reason is logged', async (_name, mode, logged) => {
    garbage.mode = mode;
    await sleep(150); // past kidMissMinInterval: the next token refetches
    const rssBefore = metric(await metricsOf(sidecar.adminPort), 'process_resident_memory_bytes');
    expect(await me('garbage', 8000)).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    await sidecar.waitForLine(logged);
    // Never buffered whole: the process grew by far less than what was streamed at it.
    const rssAfter = metric(await metricsOf(sidecar.adminPort), 'process_resident_memory_bytes');
    expect(rssAfter - rssBefore).toBeLessThan(64 * 1024 * 1024);
    expect(sidecar.proc.exitCode).toBeNull();
  });
});
