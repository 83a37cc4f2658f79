import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createServer as createTcpServer, type Server as TcpServer } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, describe, expect, it } from 'vitest';
import { CheckClient } from '../helpers/check-client.js';
import { healthCheck, healthWatch, ServingStatus } from '../helpers/health-client.js';
import { policyDir, startInProcess } from '../helpers/in-process.js';
import { checkRequest } from '../helpers/requests.js';
import { BAD_POLICY, FREE_PORTS, runCli, startSidecar } from '../helpers/sidecar.js';

const HEALTH_SERVICES = ['', 'envoy.service.auth.v3.Authorization'];

describe('grpc.health.v1', () => {
  it('Check and Watch go SERVING → NOT_SERVING when the server drains', async () => {
    const server = await startInProcess();
    const client = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
    for (const s of HEALTH_SERVICES) expect(await healthCheck(client, s)).toBe(ServingStatus.SERVING);
    expect(await healthCheck(client, 'no.such.Service')).toBe(grpc.status.NOT_FOUND);
    const watch = healthWatch(client, 'envoy.service.auth.v3.Authorization');
    await expect.poll(() => watch.statuses).toEqual([ServingStatus.SERVING]);
    const stopping = server.stop(2000);
    await expect.poll(() => watch.statuses.at(-1)).toBe(ServingStatus.NOT_SERVING);
    watch.stop();
    client.close();
    await stopping;
  });
});

describe('start-up errors: one clear message, non-zero exit, no stack', () => {
  let blocker: TcpServer | undefined;
  afterAll(() => blocker?.close());

  it.each([
    ['a missing policy directory', ['--policies', '/nonexistent/policies'], /policy|nonexistent/i],
    ['an invalid config value', ['--set', 'server.maxInFlight=-3'], /server\.maxInFlight/],
    ['an unknown config key', ['--set', 'server.bogus=1'], /Unrecognized key.*bogus/],
    ['a bad flag', ['--grpc-port', 'abc'], /--grpc-port must be a port/],
    ['an unknown flag', ['--frobnicate'], /frobnicate/],
  ])('%s', async (_name, args, message) => {
    const r = await runCli(['serve', ...args]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(message);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('policies that do not compile: every problem with file:line:column', async () => {
    const dir = await policyDir({ 'bad.yaml': BAD_POLICY });
    const r = await runCli(['serve', '--policies', dir, ...FREE_PORTS]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+/);
    expect(r.stderr).not.toMatch(/^\s+at /m);
  });

  it('a port in use', async () => {
    blocker = createTcpServer();
    await new Promise<void>((r) => blocker!.listen(0, '127.0.0.1', r));
    const port = (blocker.address() as AddressInfo).port;
    const r = await runCli([
      'serve',
      '--set',
      'server.grpc.host=127.0.0.1',
      '--grpc-port',
      String(port),
      '--admin-port',
      '0',
      '--http-port',
      '0',
    ]);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/cannot listen.*listen_failed/);
  });
});

describe('SIGTERM drains in-flight calls (real process)', () => {
  let jwks: Server;
  afterAll(() => jwks?.close());

  it('every call in flight at SIGTERM is answered, then the process exits 0', async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256', use: 'sig' };
    // The JWKS answers after 600 ms, so calls are in flight when SIGTERM arrives.
    jwks = createServer((_req, res) => {
      setTimeout(() => {
        res.writeHead(200, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ keys: [jwk] }));
      }, 600);
    });
    await new Promise<void>((r) => jwks.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(jwks.address() as AddressInfo).port}/jwks`;
    const dir = await policyDir();
    const sidecar = await startSidecar([
      '--policies',
      dir,
      '--http-port',
      '0',
      '--set',
      `identity.jwt.providers=[{issuer: "https://idp.test", jwks: {url: "${url}"}}]`,
      '--set',
      'telemetry.decisionLog.sink=none',
    ]);
    const client = new CheckClient(sidecar.grpcPort);
    const tokens = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        new SignJWT({ sub: `user-${i}` })
          .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
          .setIssuer('https://idp.test')
          .setExpirationTime('5m')
          .sign(privateKey),
      ),
    );
    const calls = tokens.map((t) =>
      client.check(checkRequest({ path: '/orders/1', headers: { authorization: `Bearer ${t}` } }), 5000),
    );
    await new Promise((r) => setTimeout(r, 150));
    const exit = sidecar.stop('SIGTERM');
    const results = await Promise.all(calls);
    for (const r of results) expect(r.ok && r.response.status?.code).toBe(7);
    expect(await exit).toBe(0);
    client.close();
  });
});
