/**
 * Secret hygiene over everything a sidecar produces, not only its log lines (log-secrets.test.ts):
 * metric labels, deny bodies and headers, gRPC error details, HTTP-mode and check-API answers —
 * on the allow, deny, limit, malformed and fault paths — at debug log level. The same secrets are
 * registered for the suite-wide scan of test/global/secret-capture.ts.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportJWK, exportPKCS8, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { registerSecrets } from '../global/capture.js';
import { findLeaks } from '../global/secret-capture.js';
import { CheckClient, type CheckResult } from '../helpers/check-client.js';
import { checkRequest, encodeCheckRequest } from '../helpers/requests.js';
import { ROOT, type Sidecar, startSidecar } from '../helpers/sidecar.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const ISS = 'https://idp.hygiene.test';
const DOWN_ISS = 'https://down.hygiene.test';
const PASSWORD = 'pw-Zq8!hygiene-7f3a9c';
const COOKIE = 'sess-0c1d2e3f4a5b6c7d8e9f-hygiene';
const API_KEY = 'AKIAHYGIENE0EXAMPLE7';
const BASIC = Buffer.from(`bob:${PASSWORD}`).toString('base64');

describe('no secret in metrics, deny bodies, error messages or logs, on every path', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-hygiene-'));
  let sidecar: Sidecar;
  let client: CheckClient;
  let secrets: string[] = [];
  let valid = '';
  let expired = '';
  let downToken = '';
  let privatePem = '';
  /** Everything the sidecar answered: deny bodies, error details, HTTP bodies and headers. */
  const answers: string[] = [];

  const keep = (r: CheckResult) => {
    if (!r.ok) answers.push(`grpc error ${r.code}: ${r.details}`);
    else {
      answers.push(JSON.stringify(r.response.status ?? {}), JSON.stringify(r.response.dynamicMetadata ?? {}));
      const h = r.response.httpResponse;
      if (h.case === 'deniedResponse') answers.push(h.value.body, JSON.stringify(h.value.headers));
      if (h.case === 'okResponse') answers.push(JSON.stringify(h.value.headers));
    }
    return r;
  };
  const http = async (port: number, path: string, init: RequestInit = {}) => {
    const res = await fetch(`http://127.0.0.1:${port}${path}`, init);
    answers.push(`${res.status} ${JSON.stringify([...res.headers])} ${await res.text()}`);
    return res.status;
  };

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256', { extractable: true });
    privatePem = await exportPKCS8(privateKey);
    const jwk = { ...(await exportJWK(publicKey)), kid: 'h1', alg: 'ES256' };
    writeFileSync(join(dir, 'jwks.json'), JSON.stringify({ keys: [jwk] }));
    const now = Math.floor(Date.now() / 1000);
    const sign = (iss: string, exp: number) =>
      new SignJWT({ email: 'bob@example.com' })
        .setProtectedHeader({ alg: 'ES256', kid: 'h1' })
        .setIssuer(iss)
        .setSubject('bob')
        .setExpirationTime(exp)
        .sign(privateKey);
    [valid, expired, downToken] = await Promise.all([
      sign(ISS, now + 3600),
      sign(ISS, now - 3600),
      sign(DOWN_ISS, now + 3600),
    ]);
    // A JWKS endpoint that is down: its tokens take the fault path.
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const downUrl = `http://127.0.0.1:${(closed.address() as AddressInfo).port}/jwks.json`;
    await new Promise<void>((r) => closed.close(() => r()));
    const pemBody = privatePem.split('\n')[1] ?? '';
    secrets = [valid, expired, downToken, PASSWORD, COOKIE, API_KEY, BASIC, pemBody];
    for (const t of [valid, expired, downToken]) secrets.push(t.split('.')[2] ?? '');
    registerSecrets(...secrets);
    writeFileSync(
      join(dir, 'config.json'),
      JSON.stringify({
        identity: {
          jwt: {
            sources: { cookies: ['id_token'], headers: [{ name: 'x-token', prefix: '' }] },
            providers: [
              { issuer: ISS, jwks: { file: join(dir, 'jwks.json') }, algorithms: ['ES256'] },
              { issuer: DOWN_ISS, jwks: { url: downUrl, timeout: '300ms' }, algorithms: ['ES256'] },
            ],
          },
        },
        server: { limits: { maxHeaders: 30 } },
        telemetry: { decisionLog: { includeQuery: true, recordHeaders: ['x-note', 'x-token'] } },
      }),
    );
    sidecar = await startSidecar([
      '--policies',
      join(ROOT, 'policies'),
      '--config',
      join(dir, 'config.json'),
      '--log-level',
      'debug',
    ]);
    client = new CheckClient(sidecar.grpcPort);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await sidecar?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const withSecrets = {
    authorization: 'Bearer PLACEHOLDER',
    cookie: `id_token=PLACEHOLDER; session=${COOKIE}`,
    'proxy-authorization': `Basic ${BASIC}`,
    'x-api-key': API_KEY,
    'x-note': `password=${PASSWORD}`,
  };
  const headers = (token: string) =>
    Object.fromEntries(Object.entries(withSecrets).map(([k, v]) => [k, v.replaceAll('PLACEHOLDER', token)]));

  it('gRPC: allow, deny, bad credentials, limits, garbage and faults', async () => {
    const base = { sourcePrincipal: FRONTEND, host: 'orders' };
    for (const token of [valid, expired, `${valid.slice(0, -6)}AAAAAA`, downToken]) {
      keep(await client.check(checkRequest({ ...base, path: '/orders/1', headers: headers(token) })));
      keep(
        await client.check(
          checkRequest({ ...base, method: 'DELETE', path: `/orders/${token}?access_token=${token}` }),
        ),
      );
      keep(await client.check(checkRequest({ ...base, path: '/orders/1', headers: { 'x-token': token } })));
    }
    // Over the header limit (431), a body over the limit is not configured here: the header path.
    const many = Object.fromEntries(Array.from({ length: 40 }, (_, i) => [`x-h${i}`, `${PASSWORD}-${i}`]));
    keep(
      await client.check(
        checkRequest({ ...base, path: '/orders/1', headers: { ...many, authorization: `Bearer ${valid}` } }),
      ),
    );
    // Undecodable: a valid message with a secret, cut in the middle of it.
    const bytes = encodeCheckRequest(checkRequest({ ...base, path: '/orders/1', headers: headers(valid) }));
    keep(await client.check(bytes.subarray(0, bytes.length - 40)));
    keep(await client.check(new Uint8Array([...Buffer.from(valid), 0xff, 0xff])));
    // A token in a path refused as ambiguous, and raw header bytes around a token.
    keep(
      await client.check(checkRequest({ ...base, path: `/orders/${valid}%2F..;x`, headers: headers(valid) })),
    );
    keep(
      await client.check(
        checkRequest({
          ...base,
          headerMap: [
            [':path', '/orders/1'],
            ['authorization', `Bearer ${valid}\u0000\u00ff`],
          ],
        }),
      ),
    );
    expect(answers.some((a) => a.includes('request_too_large'))).toBe(true);
    expect(answers.some((a) => a.startsWith('grpc error 14'))).toBe(true);
  });

  it('HTTP mode and the check API: answers to good, bad and malformed requests', async () => {
    const port = sidecar.httpPort!;
    await http(port, `/orders/1?access_token=${valid}`, { headers: { host: 'orders', ...headers(valid) } });
    await http(port, '/orders/1', { headers: { host: 'orders', ...headers(expired) } });
    await http(port, '/orders/1', {
      method: 'POST',
      headers: { host: 'orders', ...headers(valid) },
      body: 'x'.repeat(70_000),
    });
    await http(port, '/orders/1', {
      headers: { host: 'orders', 'x-original-uri': `/orders/${valid}`, ...headers(downToken) },
    });
    const api = sidecar.apiPort!;
    const json = { 'content-type': 'application/json', authorization: `Bearer ${valid}` };
    await http(api, '/v1/check', {
      method: 'POST',
      headers: json,
      body: JSON.stringify({
        resources: [{ kind: 'doc', id: '1', attributes: { password: PASSWORD } }],
        actions: ['read'],
      }),
    });
    await http(api, '/v1/check', { method: 'POST', headers: json, body: `{"resources": ${valid}}` });
    // Unknown keys are named in the 400 (the caller's own field names), their values never.
    await http(api, '/v1/check', {
      method: 'POST',
      headers: json,
      body: `{"bogus": "${API_KEY}", "resources": "${PASSWORD}"}`,
    });
    await http(api, '/v1/check', {
      method: 'POST',
      headers: { ...json, authorization: `Bearer ${expired}` },
      body: '{}',
    });
    expect(answers.length).toBeGreaterThan(8);
  });

  it('nothing it printed, exposed or answered holds a secret', async () => {
    const metrics = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text();
    await new Promise((r) => setTimeout(r, 300)); // the last log lines
    const records = [
      ...sidecar.lines.map((l) => `log\t${l}`),
      ...sidecar.errLines.map((l) => `stderr\t${l}`),
      ...metrics.split('\n').map((l) => `metrics\t${l}`),
      ...answers.map((a) => `answer\t${a}`),
    ];
    expect(sidecar.lines.length).toBeGreaterThan(20);
    const leaks = findLeaks(records, secrets);
    if (leaks.length > 0)
      console.log(records.filter((r) => secrets.some((x) => r.includes(x))).map((r) => r.slice(0, 600)));
    expect(leaks).toEqual([]);
  });
});
