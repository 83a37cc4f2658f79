/**
 * Imperative authorization end to end: Envoy's Check on `/tenants/{tenant}/invoices/{id}` fetches
 * the invoice from its owning service (a real loopback HTTP server) through a resolver, and the
 * application check API, given the same attributes, answers exactly the same.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/main.js';
import { CheckClient, type CheckResult } from '../helpers/check-client.js';
import { policyDir, startInProcess } from '../helpers/in-process.js';
import { checkRequest } from '../helpers/requests.js';

const INVOICES = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: invoices, version: 1 }
selector: { resources: [invoice] }
rules:
  - id: same-tenant-read
    effect: ALLOW
    to: [{ actions: [read] }]
    when: resource.attributes.tenant == principal.claims.tenant
  - id: edit-draft
    effect: ALLOW
    to: [{ actions: [update] }]
    when: resource.attributes.tenant == principal.claims.tenant && resource.attributes.status == 'draft'
  - id: stale-version
    effect: DENY
    to: [{ actions: [update] }]
    when: "'if-match' in request.headers && request.headers['if-match'] != string(resource.attributes.version)"
    obligations: { denyStatus: 412, denyReason: version_mismatch }
  - id: locked
    effect: DENY
    to: [{ actions: [update, delete] }]
    when: has(resource.attributes.locked) && resource.attributes.locked == true
`;

const ROUTES = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: invoice-routes }
selector:
  paths: ['/tenants/{tenant}/invoices/{id}']
  resource: { kind: invoice, id: '{id}', resolver: invoices }
rules: []
---
apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: invoice-routes-strict }
selector:
  paths: ['/strict/tenants/{tenant}/invoices/{id}']
  resource: { kind: invoice, resolver: strict }
rules: []
`;

const DB: Record<string, Record<string, unknown>> = {
  '1': { tenant: 'acme', status: 'sent', version: 1 },
  '2': { tenant: 'globex', status: 'draft', version: 1 },
  '3': { tenant: 'acme', status: 'draft', version: 7 },
  '4': { tenant: 'acme', status: 'draft', locked: true, version: 2 },
};

describe('imperative authorization: resolvers on Check, parity with the check API', () => {
  let billing: Server;
  let sidecar: Running;
  let client: CheckClient;
  let token: string;
  const fetched: string[] = [];

  beforeAll(async () => {
    billing = createServer((req, res) => {
      fetched.push(req.url ?? '');
      const id = /\/invoices\/([^/]+)$/.exec(req.url ?? '')?.[1] ?? '';
      const send = () => {
        const inv = DB[id];
        res.writeHead(inv ? 200 : 404, { 'content-type': 'application/json' });
        res.end(JSON.stringify(inv ?? { error: 'no such invoice' }));
      };
      if (id === 'slow') setTimeout(send, 1500);
      else if (id === 'coalesce')
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' });
          res.end(JSON.stringify({ tenant: 'acme', status: 'sent' }));
        }, 40);
      else send();
    });
    await new Promise<void>((r) => billing.listen(0, '127.0.0.1', r));
    const base = `http://127.0.0.1:${(billing.address() as AddressInfo).port}`;
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    token = await new SignJWT({ sub: 'alice', tenant: 'acme' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://idp.test')
      .setExpirationTime('5m')
      .sign(privateKey);
    sidecar = await startInProcess(
      {
        identity: { jwt: { providers: [{ issuer: 'https://idp.test', jwks: { inline: { keys: [jwk] } } }] } },
        resolvers: {
          invoices: { url: `${base}/tenants/{tenant}/invoices/{id}`, timeout: '600ms' },
          strict: { url: `${base}/tenants/{tenant}/invoices/{id}`, timeout: '600ms', failureMode: 'deny' },
        },
      },
      await policyDir({ 'invoices.yaml': INVOICES, 'routes.yaml': ROUTES }),
    );
    client = new CheckClient(sidecar.grpcPort);
  });
  afterAll(async () => {
    client?.close();
    await sidecar?.stop(500);
    billing?.close();
  });

  const envoy = (method: string, path: string, headers: Record<string, string> = {}) =>
    client.check(
      checkRequest({
        method,
        path,
        host: 'billing',
        headers: { authorization: `Bearer ${token}`, ...headers },
      }),
    );
  const code = (r: CheckResult) => (r.ok ? r.response.status?.code : `error ${r.code}`);
  const meta = (r: CheckResult) =>
    r.ok ? (r.response.dynamicMetadata as { reason: string; rule_ids: string[] }) : undefined;
  async function api(id: string, action: string) {
    const res = await fetch(`http://127.0.0.1:${sidecar.apiPort}/v1/check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        principal: { token },
        resources: [{ resource: { kind: 'invoice', id, attributes: DB[id] }, actions: [action] }],
      }),
    });
    const json = (await res.json()) as {
      results: { actions: Record<string, { allowed: boolean; reason: string; ruleIds: string[] }> }[];
    };
    return json.results[0]!.actions[action]!;
  }

  it.each([
    ['GET', '1', 'read', true],
    ['GET', '2', 'read', false],
    ['PUT', '3', 'update', true],
    ['PATCH', '1', 'update', false],
    ['PUT', '2', 'update', false],
    ['DELETE', '4', 'delete', false],
    ['PUT', '4', 'update', false],
  ])(
    '%s invoice %s (action %s): Check and the check API agree (allowed=%s)',
    async (method, id, action, allowed) => {
      const viaEnvoy = await envoy(method, `/tenants/acme/invoices/${id}`);
      const viaApi = await api(id, action);
      expect(code(viaEnvoy)).toBe(allowed ? 0 : 7);
      expect(viaApi.allowed).toBe(allowed);
      expect(meta(viaEnvoy)?.reason).toBe(viaApi.reason);
      expect(meta(viaEnvoy)?.rule_ids).toEqual(viaApi.ruleIds);
    },
  );

  it('optimistic concurrency: an If-Match that is not the live version is a 412 deny', async () => {
    const stale = await envoy('PUT', '/tenants/acme/invoices/3', { 'if-match': '6' });
    expect(
      stale.ok &&
        stale.response.httpResponse.case === 'deniedResponse' &&
        stale.response.httpResponse.value.status?.code,
    ).toBe(412);
    expect(meta(stale)?.reason).toBe('version_mismatch');
    expect(code(await envoy('PUT', '/tenants/acme/invoices/3', { 'if-match': '7' }))).toBe(0);
  });

  it('a cached lookup is served without a second fetch and counted as a hit', async () => {
    const before = fetched.length;
    await envoy('GET', '/tenants/acme/invoices/1');
    await envoy('GET', '/tenants/acme/invoices/1');
    expect(fetched.length).toBe(before);
    const text = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text();
    expect(text).toMatch(/portcullis_cache_requests_total\{cache="resource",result="hit"\} [1-9]/);
  });

  it('N concurrent Checks for one resource → one fetch', async () => {
    const before = fetched.length;
    const results = await Promise.all(
      Array.from({ length: 20 }, () => envoy('GET', '/tenants/acme/invoices/coalesce')),
    );
    for (const r of results) expect(code(r)).toBe(0);
    expect(fetched.length - before).toBe(1);
  });

  it('404 from the owning service → deny with reason resource_not_found', async () => {
    const r = await envoy('GET', '/tenants/acme/invoices/999');
    expect(code(r)).toBe(7);
    expect(meta(r)?.reason).toBe('resource_not_found');
  });

  it('slow service, failureMode unavailable → UNAVAILABLE (cannot decide), counted', async () => {
    const r = await envoy('GET', '/tenants/acme/invoices/slow');
    expect(r).toMatchObject({ ok: false, code: grpc.status.UNAVAILABLE });
    const text = await (await fetch(`http://127.0.0.1:${sidecar.adminPort}/metrics`)).text();
    expect(text).toMatch(/portcullis_faults_total\{code="UNAVAILABLE",reason="resolver_failed"\} [1-9]/);
  });

  it('slow service, failureMode deny → 403 with reason resolver_failed', async () => {
    const r = await envoy('GET', '/strict/tenants/acme/invoices/slow');
    expect(code(r)).toBe(7);
    expect(meta(r)?.reason).toBe('resolver_failed');
  });
});
