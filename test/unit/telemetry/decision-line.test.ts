import { describe, expect, it } from 'vitest';
import { lineOptions } from '../../../src/telemetry/decision-input.js';
import { buildDecisionLine } from '../../../src/telemetry/decision-line.js';
import { decision, decisionLogConfig, input, principal, record } from './fixtures.js';

const JWT =
  'eyJhbGciOiJSUzI1NiIsImtpZCI6InNlY3JldC1raWQifQ.eyJzdWIiOiJ1c2VyLTEyMyJ9.c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ';
const PEM = '-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUSECRETCERT\n-----END CERTIFICATE-----';
const options = (over: Record<string, unknown> = {}) => lineOptions(decisionLogConfig(over));

describe('buildDecisionLine', () => {
  it('carries every field SREs and replay need', () => {
    const line = buildDecisionLine(
      record({
        decision: decision({ shadow: [{ ruleId: 'orders@2#strict', effect: 'deny', agrees: false }] }),
      }),
      options(),
      1,
    );
    expect(line).toMatchObject({
      time: '2025-06-15T15:06:40.123Z',
      decisionId: 'd-1',
      requestId: 'b6f3c1de-1111-4222-8333-944455556666',
      traceId: '4bf92f3577b34da6a3ce929d0e0e4736',
      api: 'grpc',
      principalId: 'user-123',
      principalType: 'human',
      sourceSpiffeId: 'spiffe://cluster.local/ns/shop/sa/frontend',
      method: 'GET',
      host: 'orders.shop.svc.cluster.local',
      path: '/orders/42',
      decision: 'allow',
      status: 200,
      reason: 'allowed',
      policy: 'orders',
      ruleIds: ['orders@1#read'],
      shadow: [{ ruleId: 'orders@2#strict', effect: 'deny', agrees: false }],
      errors: [],
      bundleRevision: 'rev-7',
      latencyMicros: 82,
      sampleRate: 1,
      redacted: false,
      truncated: false,
    });
    expect(line).not.toHaveProperty('query');
    expect(line.input).toEqual({
      v: 1,
      timeMs: 1_750_000_000_123,
      source: {
        address: '10.0.0.7',
        port: 41234,
        principal: 'spiffe://cluster.local/ns/shop/sa/frontend',
        spiffeId: 'spiffe://cluster.local/ns/shop/sa/frontend',
        trustDomain: 'cluster.local',
        path: '/ns/shop/sa/frontend',
        namespace: 'shop',
        serviceAccount: 'frontend',
        verified: true,
        service: 'frontend',
      },
      destination: { address: '10.0.0.9', port: 8080, principal: '', labels: {} },
      principal: {
        id: 'user-123',
        type: 'human',
        authenticated: true,
        issuer: 'https://idp.example.com',
        claims: { sub: 'user-123', tenant: 'acme', email: 'alice@example.com' },
        scopes: ['orders:read'],
        groups: ['staff'],
        roles: ['viewer'],
        act: [],
      },
      request: {
        method: 'GET',
        host: 'orders.shop.svc.cluster.local',
        path: '/orders/42',
        scheme: 'https',
        protocol: 'HTTP/2',
        pathInvalid: false,
        headers: { 'content-type': 'application/json', 'user-agent': 'curl/8.5.0' },
      },
      contextExtensions: { policy: 'orders' },
    });
  });

  it.each([
    [
      'an identity failure (no principal)',
      record({ principal: undefined }),
      { principalId: '', principalType: 'anonymous' },
    ],
    [
      'an unverified SPIFFE peer (SPIFFE parts from the peer principal)',
      record({ principal: undefined }),
      { sourceSpiffeId: 'spiffe://cluster.local/ns/shop/sa/frontend' },
    ],
    ['a deny', record({ decision: decision({ allowed: false }) }), { decision: 'deny', status: 403 }],
    ['an explicit trace id', record({ traceId: 'abc' }), { traceId: 'abc' }],
    ['no traceparent', record({ input: input({}, { traceparent: '' }) }), { traceId: '' }],
    [
      'an imperative check',
      record({
        api: 'check',
        action: 'delete',
        resource: { kind: 'order', id: '42', attributes: { owner: 'u1' } },
      }),
      { api: 'check', action: 'delete', resource: { kind: 'order', id: '42' } },
    ],
  ])('handles %s', (_name, rec, expected) => {
    expect(buildDecisionLine(rec, options(), 1)).toMatchObject(expected);
  });

  it('keeps resource attributes and action in the replayable input', () => {
    const line = buildDecisionLine(
      record({ action: 'delete', resource: { kind: 'order', id: '42', attributes: { owner: 'u1', n: 3 } } }),
      options(),
      1,
    );
    expect(line.input).toMatchObject({
      action: 'delete',
      resource: { kind: 'order', id: '42', attributes: { owner: 'u1', n: 3 } },
    });
  });

  it('includes the query only when configured, with secret parameters redacted', () => {
    const rec = record({ input: input({ query: { expand: 'items', access_token: 'abc123', sig: 'zzz' } }) });
    const line = buildDecisionLine(rec, options({ includeQuery: true }), 1);
    expect(line.query).toEqual({ expand: 'items', access_token: '[REDACTED]', sig: '[REDACTED]' });
    expect((line.input as { request: { query: unknown } }).request.query).toEqual(line.query);
    expect(line.redacted).toBe(true);
  });

  it('drops configured claims and cuts long strings, and says so', () => {
    const line = buildDecisionLine(
      record({ input: input({ path: `/${'a'.repeat(300)}` }) }),
      options({ redactClaims: ['email'], maxStringLength: 100 }),
      0.25,
    );
    const input0 = line.input as { principal: { claims: object }; request: { path: string } };
    expect(input0.principal.claims).toEqual({ sub: 'user-123', tenant: 'acme' });
    expect(input0.request.path).toHaveLength(100);
    expect(line).toMatchObject({ redacted: true, truncated: true, sampleRate: 0.25 });
  });

  it('records only the selected headers, XFCC without certificates', () => {
    const line = buildDecisionLine(
      record({
        input: input({
          headers: {
            'x-tenant': 'acme',
            'x-forwarded-client-cert': `By=spiffe://a;Cert="${encodeURIComponent(PEM)}";URI=spiffe://b`,
            'user-agent': 'curl',
          },
        }),
      }),
      options({ recordHeaders: ['x-tenant', 'x-forwarded-client-cert'] }),
      1,
    );
    expect((line.input as { request: { headers: object } }).request.headers).toEqual({
      'x-tenant': 'acme',
      'x-forwarded-client-cert': 'By=spiffe://a;URI=spiffe://b',
    });
  });

  // Every place a secret can sit in an AuthzInput that Envoy produced (headers, header_map → headers,
  // path, query, context extensions, peer certificate, XFCC) or that identity derived (claims, act).
  it('never lets a secret through, wherever Envoy or identity put it', () => {
    const secrets = [
      JWT,
      'c2VjcmV0LXNpZ25hdHVyZS12YWx1ZQ',
      'MIIBszCCAVmgAwIBAgIUSECRETCERT',
      'hunter2-session',
      'AKIAIOSFODNN7EXAMPLE',
    ];
    const rec = record({
      input: input(
        {
          path: `/reset/${JWT}`,
          rawPath: `/reset/${JWT}?access_token=${JWT}`,
          query: { access_token: JWT, session: 'hunter2-session' },
          headers: {
            authorization: `Bearer ${JWT}`,
            'proxy-authorization': 'Basic aHVudGVyMi1zZXNzaW9u',
            cookie: `sid=hunter2-session; jwt=${JWT}`,
            'set-cookie': 'sid=hunter2-session',
            'x-api-key': 'AKIAIOSFODNN7EXAMPLE',
            'x-forwarded-client-cert': `Hash=1;Cert="${encodeURIComponent(PEM)}"`,
            'x-custom-auth': `Bearer ${JWT}`,
            'user-agent': `agent ${JWT}`,
          },
          body: `{"password":"hunter2-session","token":"${JWT}"}`,
        },
        {
          source: { ...input().source, certificate: encodeURIComponent(PEM) },
          contextExtensions: { note: `token=${JWT}` },
          metadata: { 'envoy.filters.http.jwt_authn': { token: JWT } },
        },
      ),
      principal: principal({
        claims: { sub: 'u', nested: { idToken: JWT }, list: [`Bearer ${JWT}`], key: 'AKIAIOSFODNN7EXAMPLE' },
        act: [{ sub: 'agent', claims: { delegation: JWT } }],
      }),
      decision: decision({ allowed: false, errors: [`cel: no such key 'x' in {"auth":"Bearer ${JWT}"}`] }),
      resource: { kind: 'doc', id: JWT, attributes: { share: `https://x/?sig=${JWT}` } },
    });
    const text = JSON.stringify(
      buildDecisionLine(
        rec,
        options({
          includeQuery: true,
          recordHeaders: ['x-forwarded-client-cert', 'x-custom-auth', 'user-agent'],
        }),
        1,
      ),
    );
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/authorization|cookie|x-api-key/i);
  });
});
