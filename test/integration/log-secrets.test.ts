import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { create } from '@bufbuild/protobuf';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MetadataSchema } from '../../src/gen/envoy/config/core/v3/base_pb.js';
import { CheckClient } from '../helpers/check-client.js';
import { checkRequest } from '../helpers/requests.js';
import { ROOT, type Sidecar, startSidecar } from '../helpers/sidecar.js';

// Secrets in every position Envoy can put them (contract facts 6, 10, 12, 13, 15, 16; HTTP mode
// fact 28) go through a real sidecar with debug logging; none may appear in any line it prints.

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const ISSUER = 'https://idp.portcullis.test';
const PEM_BODY = 'MIIBszCCAVmgAwIBAgIUSeCrEtCeRtBoDy0123456789abcdefAAAA';
const PEM = `-----BEGIN CERTIFICATE-----\n${PEM_BODY}\n-----END CERTIFICATE-----\n`;
const BASIC = Buffer.from('alice:hunter2-S3cret').toString('base64');
const COOKIE_SESSION = 'sess-9f8e7d6c5b4a39281706f5e4d3c2b1a0';
const API_KEY = 'AKIAIOSFODNN7EXAMPLE';
const CUSTOM_SECRET = 'custom-Secret-Value-42';
const QUERY_TOKEN = 'qtok-5f4e3d2c1b0a99887766554433221100';

describe('no secret reaches a log line', () => {
  const dir = mkdtempSync(join(tmpdir(), 'portcullis-secrets-'));
  let sidecar: Sidecar;
  let client: CheckClient;
  let valid = '';
  let expired = '';
  let nested = '';
  let secrets: string[] = [];

  beforeAll(async () => {
    const { publicKey, privateKey } = await generateKeyPair('ES256');
    writeFileSync(
      join(dir, 'jwks.json'),
      JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' }] }),
    );
    const now = Math.floor(Date.now() / 1000);
    const sign = (claims: Record<string, unknown>, exp: number) =>
      new SignJWT(claims)
        .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
        .setIssuer(ISSUER)
        .setSubject('user-1')
        .setExpirationTime(exp)
        .sign(privateKey);
    nested = await sign({ purpose: 'refresh' }, now + 7200);
    // A verified token whose claims themselves carry secrets (they reach the replayable input).
    valid = await sign({ refresh_token: nested, aws: API_KEY, email: 'alice@example.com' }, now + 3600);
    expired = await sign({}, now - 3600);
    secrets = [
      valid,
      expired,
      nested,
      BASIC,
      'hunter2-S3cret',
      COOKIE_SESSION,
      API_KEY,
      CUSTOM_SECRET,
      QUERY_TOKEN,
      PEM_BODY,
    ];
    // Each JWT's signature part alone must not leak either.
    for (const t of [valid, expired, nested]) secrets.push(t.split('.')[2] ?? '');
    writeFileSync(
      join(dir, 'config.yaml'),
      [
        'identity:',
        '  jwt:',
        '    sources: { cookies: [id_token] }',
        '    providers:',
        `      - issuer: ${ISSUER}`,
        `        jwks: { file: ${join(dir, 'jwks.json')} }`,
        '        algorithms: [ES256]',
        'telemetry:',
        '  decisionLog:',
        '    includeQuery: true',
        '    redactHeaders: [x-custom-secret]',
        '    recordHeaders: [x-forwarded-client-cert, x-note, user-agent]',
        '    redactClaims: [email]',
        '',
      ].join('\n'),
    );
    sidecar = await startSidecar([
      '--policies',
      join(ROOT, 'policies'),
      '--http-port',
      '0',
      '--log-level',
      'debug',
      '--config',
      join(dir, 'config.yaml'),
    ]);
    client = new CheckClient(sidecar.grpcPort);
  }, 60_000);

  afterAll(async () => {
    client?.close();
    await sidecar?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  const base = { sourcePrincipal: FRONTEND };
  const cases: [string, () => Parameters<CheckClient['check']>[0]][] = [
    [
      'authorization: Bearer (valid token)',
      () => checkRequest({ ...base, headers: { authorization: `Bearer ${valid}` } }),
    ],
    [
      'authorization: Bearer (expired token)',
      () => checkRequest({ ...base, headers: { authorization: `Bearer ${expired}` } }),
    ],
    [
      'proxy-authorization: Basic',
      () => checkRequest({ ...base, headers: { 'proxy-authorization': `Basic ${BASIC}` } }),
    ],
    [
      'cookie carrying the token and a session',
      () => checkRequest({ ...base, headers: { cookie: `id_token=${valid}; session=${COOKIE_SESSION}` } }),
    ],
    [
      'set-cookie',
      () => checkRequest({ ...base, headers: { 'set-cookie': `session=${COOKIE_SESSION}; HttpOnly` } }),
    ],
    [
      'x-api-key and a configured secret header',
      () => checkRequest({ ...base, headers: { 'x-api-key': API_KEY, 'x-custom-secret': CUSTOM_SECRET } }),
    ],
    [
      'header_map (raw bytes, repeated keys)',
      () =>
        checkRequest({
          ...base,
          headerMap: [
            [':authority', 'orders.shop.svc.cluster.local'],
            [':method', 'GET'],
            [':path', '/orders/1'],
            ['authorization', `Bearer ${valid}`],
            ['authorization', `Basic ${BASIC}`],
            ['cookie', `session=${COOKIE_SESSION}`],
            ['cookie', `id_token=${expired}`],
            ['x-api-key', API_KEY],
          ],
        }),
    ],
    [
      'query string (:path with ?access_token=)',
      () =>
        checkRequest({
          ...base,
          path: `/orders/1?access_token=${QUERY_TOKEN}&api_key=${API_KEY}&id_token=${valid}`,
        }),
    ],
    ['a token as a path segment', () => checkRequest({ ...base, path: `/orders/${valid}` })],
    [
      'x-forwarded-client-cert with Cert and Chain (recorded header)',
      () =>
        checkRequest({
          ...base,
          headers: {
            'x-forwarded-client-cert': `By=spiffe://cluster.local/ns/shop/sa/orders;Hash=abc;Cert="${encodeURIComponent(PEM)}";Chain="${encodeURIComponent(PEM)}";URI=${FRONTEND}`,
          },
        }),
    ],
    [
      'a recorded header whose value holds a token',
      () => checkRequest({ ...base, headers: { 'x-note': `forwarded Bearer ${valid} key=${API_KEY}` } }),
    ],
    [
      'the peer certificate (source.certificate)',
      () => checkRequest({ ...base, sourceCertificate: encodeURIComponent(PEM) }),
    ],
    [
      'context extensions',
      () => checkRequest({ ...base, contextExtensions: { token: valid, note: `password=${CUSTOM_SECRET}` } }),
    ],
    [
      'metadata_context (jwt_authn namespace)',
      () => {
        const req = checkRequest(base);
        if (req.attributes) {
          req.attributes.metadataContext = create(MetadataSchema, {
            filterMetadata: {
              'envoy.filters.http.jwt_authn': { token: valid, payload: { raw: `Bearer ${valid}` } },
            },
          });
        }
        return req;
      },
    ],
    [
      'the request body',
      () =>
        checkRequest({ ...base, method: 'POST', body: `{"password":"${CUSTOM_SECRET}","token":"${valid}"}` }),
    ],
  ];

  it.each(cases)('%s', async (_name, build) => {
    const requestId = `rid-${Math.random().toString(36).slice(2)}`;
    const req = build();
    if (!(req instanceof Uint8Array)) {
      const http = req.attributes?.request?.http;
      if (http?.headerMap)
        http.headerMap.headers.push({
          $typeName: 'envoy.config.core.v3.HeaderValue',
          key: 'x-request-id',
          value: '',
          rawValue: new TextEncoder().encode(requestId),
        });
      else if (http) http.headers['x-request-id'] = requestId;
    }
    const r = await client.check(req);
    expect(r.ok).toBe(true);
    const line = await waitForLine(sidecar, requestId);
    expect(line.msg).toBe('decision');
    assertNoSecret(sidecar, secrets);
  });

  it('HTTP authorization mode: credential headers of the original request', async () => {
    const requestId = `rid-http-${Date.now()}`;
    const res = await fetch(`http://127.0.0.1:${sidecar.httpPort}/orders/1?access_token=${QUERY_TOKEN}`, {
      headers: {
        host: 'orders.shop.svc.cluster.local',
        authorization: `Bearer ${valid}`,
        cookie: `id_token=${expired}; session=${COOKIE_SESSION}`,
        'proxy-authorization': `Basic ${BASIC}`,
        'x-api-key': API_KEY,
        'x-request-id': requestId,
        'x-forwarded-client-cert': `Cert="${encodeURIComponent(PEM)}"`,
      },
    });
    await res.arrayBuffer();
    expect([200, 401, 403]).toContain(res.status);
    await waitForLine(sidecar, requestId);
    assertNoSecret(sidecar, secrets);
  });

  it('keeps the rest of the line useful: redaction is marked, not silent', async () => {
    const requestId = `rid-mark-${Date.now()}`;
    const req = checkRequest({
      ...base,
      path: `/orders/${valid}`,
      headers: { 'x-request-id': requestId, authorization: `Bearer ${valid}` },
    });
    await client.check(req);
    const line = await waitForLine(sidecar, requestId);
    expect(line).toMatchObject({ path: '/orders/[REDACTED]', principalId: 'user-1', redacted: true });
    const input = line.input as { principal: { claims: Record<string, unknown> } };
    expect(input.principal.claims).not.toHaveProperty('email');
    expect(input.principal.claims.refresh_token).toBe('[REDACTED]');
  });
});

async function waitForLine(sidecar: Sidecar, requestId: string): Promise<Record<string, unknown>> {
  const deadline = Date.now() + 5000;
  for (;;) {
    const raw = sidecar.lines.find((l) => l.includes(`"requestId":"${requestId}"`));
    if (raw !== undefined) return JSON.parse(raw) as Record<string, unknown>;
    if (Date.now() > deadline)
      throw new Error(`no decision line for ${requestId}:\n${sidecar.lines.slice(-5).join('\n')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

function assertNoSecret(sidecar: Sidecar, secrets: readonly string[]): void {
  const all = [...sidecar.lines, ...sidecar.errLines];
  for (const secret of secrets) {
    const leaked = all.find((l) => l.includes(secret));
    expect(leaked, `secret ${secret.slice(0, 12)}… leaked`).toBeUndefined();
  }
}
