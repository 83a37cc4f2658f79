import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { exportJWK, generateKeyPair, SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  CheckRequestSchema as ApiCheckRequestSchema,
  type CheckResponse as ApiCheckResponse,
  CheckResponseSchema as ApiCheckResponseSchema,
} from '../../src/gen/portcullis/v1/check_pb.js';
import type { Running } from '../../src/main.js';
import { MESH_POLICY, policyDir, startInProcess } from '../helpers/in-process.js';

const INVOICES = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: invoices, version: 2 }
selector:
  resources: [invoice]
rules:
  - id: same-tenant-read
    effect: ALLOW
    to: [{ actions: [read] }]
    when: resource.attributes.tenant == principal.claims.tenant
  - id: edit-draft
    effect: ALLOW
    to: [{ actions: [update] }]
    when: resource.attributes.tenant == principal.claims.tenant && resource.attributes.status == 'draft'
  - id: locked
    effect: DENY
    to: [{ actions: [update, delete] }]
    when: has(resource.attributes.locked) && resource.attributes.locked == true
`;

interface Case {
  name: string;
  attributes: Record<string, unknown>;
  action: string;
  allowed: boolean;
  reason: string;
}

const CASES: Case[] = [
  {
    name: 'read own tenant',
    attributes: { tenant: 'acme', status: 'sent' },
    action: 'read',
    allowed: true,
    reason: 'allowed',
  },
  {
    name: 'read other tenant',
    attributes: { tenant: 'globex', status: 'sent' },
    action: 'read',
    allowed: false,
    reason: 'default_deny',
  },
  {
    name: 'edit draft',
    attributes: { tenant: 'acme', status: 'draft' },
    action: 'update',
    allowed: true,
    reason: 'allowed',
  },
  {
    name: 'edit sent',
    attributes: { tenant: 'acme', status: 'sent' },
    action: 'update',
    allowed: false,
    reason: 'default_deny',
  },
  {
    name: 'edit locked draft',
    attributes: { tenant: 'acme', status: 'draft', locked: true },
    action: 'update',
    allowed: false,
    reason: 'denied_by_rule',
  },
  {
    name: 'unknown action',
    attributes: { tenant: 'acme' },
    action: 'approve',
    allowed: false,
    reason: 'default_deny',
  },
];

describe('application check API (HTTP JSON and gRPC, same decisions)', () => {
  let server: Running;
  let token: string;
  let otherIssuerToken: string;
  let grpcClient: grpc.Client;

  beforeAll(async () => {
    const { privateKey, publicKey } = await generateKeyPair('ES256');
    const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'ES256' };
    token = await new SignJWT({ sub: 'alice', tenant: 'acme' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://idp.test')
      .setExpirationTime('5m')
      .sign(privateKey);
    otherIssuerToken = await new SignJWT({ sub: 'mallory', tenant: 'acme' })
      .setProtectedHeader({ alg: 'ES256', kid: 'k1' })
      .setIssuer('https://evil.test')
      .setExpirationTime('5m')
      .sign(privateKey);
    const dir = await policyDir({ 'orders.yaml': MESH_POLICY, 'invoices.yaml': INVOICES });
    server = await startInProcess(
      {
        identity: { jwt: { providers: [{ issuer: 'https://idp.test', jwks: { inline: { keys: [jwk] } } }] } },
      },
      dir,
    );
    grpcClient = new grpc.Client(`127.0.0.1:${server.grpcPort}`, grpc.credentials.createInsecure());
  });
  afterAll(async () => {
    grpcClient.close();
    await server.stop(1000);
  });

  function body(c: Case, tok = token) {
    return {
      requestId: `r-${c.name}`,
      principal: { token: tok },
      resources: [{ resource: { kind: 'invoice', id: '42', attributes: c.attributes }, actions: [c.action] }],
    };
  }
  function postJson(json: unknown, headers: Record<string, string> = {}) {
    return fetch(`http://127.0.0.1:${server.apiPort}/v1/check`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...headers },
      body: JSON.stringify(json),
    });
  }
  function grpcCheck(
    json: unknown,
  ): Promise<{ ok: true; res: ApiCheckResponse } | { ok: false; code: number; details: string }> {
    const msg = create(ApiCheckRequestSchema, json as never);
    return new Promise((resolve) => {
      grpcClient.makeUnaryRequest(
        '/portcullis.v1.CheckService/Check',
        (m: typeof msg) => Buffer.from(toBinary(ApiCheckRequestSchema, m)),
        (b: Buffer) => fromBinary(ApiCheckResponseSchema, b),
        msg,
        (err, res) =>
          resolve(
            err
              ? { ok: false, code: err.code, details: err.details }
              : { ok: true, res: res as ApiCheckResponse },
          ),
      );
    });
  }

  it.each(CASES)('$name → allowed=$allowed ($reason), over HTTP and gRPC', async (c) => {
    const http = await postJson(body(c));
    expect(http.status).toBe(200);
    const json = (await http.json()) as {
      requestId: string;
      results: {
        kind: string;
        id: string;
        actions: Record<string, { allowed: boolean; reason: string; ruleIds: string[] }>;
      }[];
    };
    expect(json.requestId).toBe(`r-${c.name}`);
    const viaHttp = json.results[0]!.actions[c.action]!;
    expect({ allowed: viaHttp.allowed, reason: viaHttp.reason }).toEqual({
      allowed: c.allowed,
      reason: c.reason,
    });

    const g = await grpcCheck({
      ...body(c),
      resources: [{ resource: { kind: 'invoice', id: '42', attributes: c.attributes }, actions: [c.action] }],
    });
    if (!g.ok) throw new Error(g.details);
    const viaGrpc = g.res.results[0]!.actions[c.action]!;
    expect({ allowed: viaGrpc.allowed, reason: viaGrpc.reason, ruleIds: viaGrpc.ruleIds }).toEqual({
      allowed: viaHttp.allowed,
      reason: viaHttp.reason,
      ruleIds: viaHttp.ruleIds,
    });
  });

  it('decides many resources × actions in one call, in order', async () => {
    const res = await postJson({
      principal: { token },
      resources: [
        {
          resource: { kind: 'invoice', id: '1', attributes: { tenant: 'acme', status: 'draft' } },
          actions: ['read', 'update', 'delete'],
        },
        { resource: { kind: 'invoice', id: '2', attributes: { tenant: 'globex' } }, actions: ['read'] },
      ],
    });
    const json = (await res.json()) as {
      results: { id: string; actions: Record<string, { allowed: boolean; decisionId: string }> }[];
    };
    expect(json.results.map((r) => r.id)).toEqual(['1', '2']);
    expect(
      Object.fromEntries(Object.entries(json.results[0]!.actions).map(([a, d]) => [a, d.allowed])),
    ).toEqual({ read: true, update: true, delete: false });
    expect(json.results[1]!.actions.read!.allowed).toBe(false);
    const ids = [...Object.values(json.results[0]!.actions), json.results[1]!.actions.read!].map(
      (d) => d.decisionId,
    );
    expect(new Set(ids).size).toBe(4);
  });

  it('takes the token from the authorization header when the body names no principal', async () => {
    const res = await postJson(
      {
        resources: [
          { resource: { kind: 'invoice', id: '1', attributes: { tenant: 'acme' } }, actions: ['read'] },
        ],
      },
      { authorization: `Bearer ${token}` },
    );
    expect(res.status).toBe(200);
  });

  it.each([
    ['no credential at all', undefined, 'credential_missing'],
    ['a token from an unknown issuer', 'other', 'token_issuer_unknown'],
    ['a garbage token', 'garbage', 'token_invalid'],
  ])('%s → 401 with the reason (HTTP) and UNAUTHENTICATED (gRPC)', async (_n, which, reason) => {
    const tok = which === 'other' ? otherIssuerToken : which === 'garbage' ? 'not.a.jwt' : undefined;
    const req = {
      resources: [
        { resource: { kind: 'invoice', id: '1', attributes: { tenant: 'acme' } }, actions: ['read'] },
      ],
      ...(tok ? { principal: { token: tok } } : {}),
    };
    const res = await postJson(req);
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ error: 'unauthenticated', reason });
    const g = await grpcCheck(req);
    expect(g).toMatchObject({ ok: false, code: grpc.status.UNAUTHENTICATED, details: reason });
  });

  it('a bad request gets 400 listing every problem', async () => {
    const res = await postJson({
      resources: [
        { resource: { kind: '', id: 7 }, actions: [] },
        { resource: { kind: 'invoice', id: '1' }, actions: ['read', 'read'] },
      ],
      bogus: 1,
    });
    expect(res.status).toBe(400);
    const json = (await res.json()) as { error: string; problems: string[] };
    expect(json.error).toBe('invalid_request');
    expect(json.problems.join('\n')).toMatch(/Unrecognized key.*bogus/);
    expect(json.problems.join('\n')).toMatch(/resources\.0\.resource\.kind/);
    expect(json.problems.join('\n')).toMatch(/resources\.0\.resource\.id/);
    expect(json.problems.join('\n')).toMatch(/resources\.0\.actions/);
  });

  it.each([
    ['not JSON', '{nope', 400],
    ['wrong method', null, 405],
  ])('%s → %d', async (_n, raw, status) => {
    const res =
      raw === null
        ? await fetch(`http://127.0.0.1:${server.apiPort}/v1/check`)
        : await fetch(`http://127.0.0.1:${server.apiPort}/v1/check`, { method: 'POST', body: raw });
    expect(res.status).toBe(status);
  });

  it('gRPC: duplicate actions are INVALID_ARGUMENT listing the problem', async () => {
    const g = await grpcCheck({
      principal: { token },
      resources: [{ resource: { kind: 'invoice', id: '1' }, actions: ['read', 'read'] }],
    });
    expect(g).toMatchObject({ ok: false, code: grpc.status.INVALID_ARGUMENT });
    expect((g as { details: string }).details).toMatch(/duplicate action "read"/);
  });

  it('check API decisions are counted with api="check"', async () => {
    const text = await (await fetch(`http://127.0.0.1:${server.adminPort}/metrics`)).text();
    expect(text).toMatch(
      /portcullis_decisions_total\{outcome="allow",reason="allowed",policy="invoices",api="check"\} \d+/,
    );
  });
});
