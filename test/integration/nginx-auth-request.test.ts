import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/main.js';
import { policyDir, startInProcess } from '../helpers/in-process.js';
import { type Nginx, nginxBinary, startNginx } from '../helpers/nginx.js';
import { IN_CI } from '../helpers/sidecar.js';

const POLICY = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: orders-api }
rules:
  - id: users-read-orders
    effect: ALLOW
    from: [{ issuers: ['https://idp.test'] }]
    to: [{ methods: [GET], paths: ['/orders/*'] }]
  - id: health
    effect: ALLOW
    to: [{ paths: ['/healthz'] }]
`;

const haveNginx = nginxBinary() !== undefined;
if (!haveNginx && !IN_CI)
  console.warn('skipping nginx auth_request tests: nginx is not installed (apt-get install nginx-light)');

describe.skipIf(!haveNginx && !IN_CI)('nginx auth_request in front of an upstream (real nginx)', () => {
  let upstream: Server;
  let sidecar: Running;
  let nginx: Nginx;
  let token: string;
  let upstreamPort: number;
  const seen: Record<string, string | string[] | undefined>[] = [];

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    token = await new SignJWT({ sub: 'alice' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://idp.test')
      .setExpirationTime('5m')
      .sign(privateKey);
    upstream = createServer((req, res) => {
      seen.push(req.headers);
      res.writeHead(200, { 'content-type': 'text/plain' });
      res.end('upstream ok');
    });
    await new Promise<void>((r) => upstream.listen(0, '127.0.0.1', r));
    upstreamPort = (upstream.address() as AddressInfo).port;
    sidecar = await startInProcess(
      {
        identity: { jwt: { providers: [{ issuer: 'https://idp.test', jwks: { inline: { keys: [jwk] } } }] } },
      },
      await policyDir({ 'orders.yaml': POLICY }),
    );
    nginx = await startNginx(`server {
    listen 127.0.0.1:{{PORT}};
    location / {
      auth_request /_authz;
      auth_request_set $principal $upstream_http_x_portcullis_principal;
      auth_request_set $decision $upstream_http_x_portcullis_decision_id;
      proxy_set_header X-Portcullis-Principal $principal;
      proxy_set_header X-Portcullis-Decision-Id $decision;
      proxy_pass http://127.0.0.1:${upstreamPort};
    }
    location = /_authz {
      internal;
      proxy_pass http://127.0.0.1:${sidecar.httpPort};
      proxy_pass_request_body off;
      proxy_set_header Content-Length "";
      proxy_set_header X-Original-URI $request_uri;
      proxy_set_header X-Original-Method $request_method;
      proxy_set_header Host $host;
    }
  }`);
  });
  afterAll(async () => {
    await nginx?.stop();
    await sidecar?.stop(500);
    upstream?.close();
  });

  it('an allowed request reaches the upstream carrying the verified identity', async () => {
    const res = await fetch(`http://127.0.0.1:${nginx.port}/orders/42?x=1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(200);
    expect(await res.text()).toBe('upstream ok');
    const h = seen.at(-1)!;
    expect(h['x-portcullis-principal']).toBe('alice');
    expect(h['x-portcullis-decision-id']).toMatch(/^[0-9a-f-]{36}$/);
  });

  it('a forged identity header from the client is overwritten', async () => {
    const res = await fetch(`http://127.0.0.1:${nginx.port}/orders/1`, {
      headers: { authorization: `Bearer ${token}`, 'x-portcullis-principal': 'root' },
    });
    expect(res.status).toBe(200);
    expect(seen.at(-1)!['x-portcullis-principal']).toBe('alice');
  });

  it.each([
    ['no credential', {}, 'GET', 401],
    ['a wrong method', { authorization: 'BEARER' }, 'DELETE', 403],
    ['a bad token', { authorization: 'Bearer not.a.token' }, 'GET', 401],
  ])('%s → nginx answers %d and the upstream is not called', async (_n, headers, method, status) => {
    const before = seen.length;
    const h =
      (headers as Record<string, string>).authorization === 'BEARER'
        ? { authorization: `Bearer ${token}` }
        : (headers as Record<string, string>);
    const res = await fetch(`http://127.0.0.1:${nginx.port}/orders/1`, { method, headers: h });
    expect(res.status).toBe(status);
    expect(seen.length).toBe(before);
  });

  it('path tricks do not dodge the path rule: /orders/../admin is denied', async () => {
    const res = await fetch(`http://127.0.0.1:${nginx.port}/orders/%2e%2e/admin`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(403);
  });

  it('the sidecar down → nginx fails closed with 500', async () => {
    await sidecar.stop(500);
    const res = await fetch(`http://127.0.0.1:${nginx.port}/orders/1`, {
      headers: { authorization: `Bearer ${token}` },
    });
    expect(res.status).toBe(500);
  });
});
