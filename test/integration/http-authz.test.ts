import { request } from 'node:http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Running } from '../../src/main.js';
import { MESH_POLICY, policyDir, startInProcess } from '../helpers/in-process.js';

const OPEN = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: public }
selector: { hosts: ['shop.example'] }
rules:
  - id: read-catalog
    effect: ALLOW
    to: [{ methods: [GET], paths: ['/catalog/*'] }]
    obligations:
      upstreamHeaders: [{ name: x-catalog, value: public }]
`;

/** fetch() may not set `host`; proxies do, so use node:http. */
function send(port: number, method: string, path: string, headers: Record<string, string>, body = '') {
  return new Promise<{
    status: number;
    headers: Record<string, string | string[] | undefined>;
    body: string;
  }>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, method, path, headers }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => (text += d.toString()));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body: text }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

describe('HTTP authorization mode: Envoy HTTP ext_authz, nginx, Traefik and Caddy request shapes', () => {
  let server: Running;

  beforeAll(async () => {
    server = await startInProcess(
      { server: { http: { pathPrefix: '/authz' } } },
      await policyDir({ 'orders.yaml': MESH_POLICY, 'public.yaml': OPEN }),
    );
  });
  afterAll(() => server.stop(500));

  it.each([
    [
      'Envoy HTTP mode (path_prefix stripped)',
      'GET',
      '/authz/catalog/shoes?size=42',
      { host: 'shop.example' },
      200,
    ],
    ['Envoy HTTP mode, method not allowed', 'POST', '/authz/catalog/shoes', { host: 'shop.example' }, 401],
    [
      'nginx auth_request',
      'GET',
      '/auth',
      { host: 'shop.example', 'x-original-uri': '/catalog/hats', 'x-original-method': 'GET' },
      200,
    ],
    [
      'nginx, other path',
      'GET',
      '/auth',
      { host: 'shop.example', 'x-original-uri': '/admin', 'x-original-method': 'GET' },
      401,
    ],
    [
      'Traefik forwardAuth',
      'GET',
      '/',
      {
        'x-forwarded-method': 'GET',
        'x-forwarded-uri': '/catalog/a',
        'x-forwarded-host': 'shop.example',
        'x-forwarded-proto': 'https',
      },
      200,
    ],
    [
      'Caddy forward_auth, dot-segments',
      'GET',
      '/',
      {
        'x-forwarded-method': 'GET',
        'x-forwarded-uri': '/catalog/../admin',
        'x-forwarded-host': 'shop.example',
      },
      401,
    ],
    [
      'Caddy forward_auth, other host',
      'GET',
      '/',
      { 'x-forwarded-method': 'GET', 'x-forwarded-uri': '/catalog/a', 'x-forwarded-host': 'evil.example' },
      401,
    ],
  ])('%s → %s', async (_name, method, path, headers, status) => {
    const res = await send(server.httpPort!, method, path, headers);
    expect(res.status).toBe(status);
    if (status === 200) {
      expect(res.headers['x-catalog']).toBe('public');
      expect(res.headers['x-portcullis-decision-id']).toMatch(/^[0-9a-f-]{36}$/);
    } else {
      expect(res.headers['content-type']).toBe('application/json');
      const body = JSON.parse(res.body) as { decision: string; reason: string; decisionId: string };
      expect(body.decision).toBe('deny');
      expect(res.headers['www-authenticate']).toMatch(/^Bearer realm="portcullis"/);
    }
  });

  it('decisions through HTTP mode are counted with api="http"', async () => {
    const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    expect(text).toMatch(
      /portcullis_decisions_total\{outcome="allow",reason="allowed",policy="public",api="http"\} \d+/,
    );
  });

  it('a body over the limit is refused with 413', async () => {
    const res = await send(
      server.httpPort!,
      'POST',
      '/authz/catalog/x',
      { host: 'shop.example' },
      'x'.repeat(70_000),
    );
    expect(res.status).toBe(413);
  });
});
