import { describe, expect, it } from 'vitest';
import { decisionConfigSchema } from '../../../src/decision/config.js';
import { toHttpResponse } from '../../../src/decision/http-response.js';
import { createResponder } from '../../../src/decision/respond.js';
import type { Principal } from '../../../src/types.js';
import { ANONYMOUS } from '../../../src/types.js';
import { decision } from './fixtures.js';

const principal: Principal = { ...ANONYMOUS, id: 'alice', type: 'human', authenticated: true };
const ctx = { decisionId: 'd-1', revision: 'r7', principal };
const config = decisionConfigSchema.parse({ stripHeaders: ['authorization', 'host'] });

describe('toHttpResponse — contract fact 28', () => {
  it('allow: 200 with identity and obligation headers; removals named, deduplicated, never host', () => {
    const out = toHttpResponse(
      config,
      decision({
        obligations: {
          upstreamHeaders: [
            { name: 'x-tenant', value: 'acme' },
            { name: 'Bad Name', value: 'x' },
          ],
          responseHeaders: [{ name: 'x-tier', value: 'a\r\nb' }],
          removeHeaders: ['cookie', 'authorization', ':path'],
        },
      }),
      ctx,
    );
    expect(out).toEqual({
      status: 200,
      headers: [
        { name: 'x-portcullis-principal', value: 'alice' },
        { name: 'x-portcullis-principal-type', value: 'human' },
        { name: 'x-portcullis-decision-id', value: 'd-1' },
        { name: 'x-tenant', value: 'acme' },
        { name: 'x-portcullis-remove-headers', value: 'authorization,cookie' },
      ],
      body: '',
    });
  });

  it('allow: an anonymous caller gets no identity header with an empty value', () => {
    const out = toHttpResponse(decisionConfigSchema.parse({}), decision(), { ...ctx, principal: undefined });
    expect(out.headers).toEqual([{ name: 'x-portcullis-decision-id', value: 'd-1' }]);
  });

  it.each([
    ['401 without credential', { status: 401 as const, reason: 'credential_missing' }, 401],
    ['401 bad token', { status: 401 as const, reason: 'token_expired' }, 401],
    ['403', { status: 403 as const, reason: 'denied_by_rule' }, 403],
    [
      'custom status and message',
      {
        status: 403 as const,
        reason: 'denied_by_rule',
        obligations: {
          denyStatus: 423,
          denyMessage: 'locked',
          responseHeaders: [{ name: 'x-a', value: '1' }],
        },
      },
      423,
    ],
  ])('deny (%s): the status, headers and body of the gRPC deny', (_n, over, status) => {
    const d = decision({ allowed: false, ruleIds: [], policy: '', ...over });
    const out = toHttpResponse(config, d, ctx);
    const grpc = createResponder(config).toCheckResponse(d, ctx).httpResponse;
    if (grpc.case !== 'deniedResponse') throw new Error('not a denied response');
    expect(out.status).toBe(status);
    expect(grpc.value.status?.code).toBe(status);
    expect(out.headers).toEqual(
      grpc.value.headers.map((h) => ({ name: h.header?.key, value: h.header?.value })),
    );
    expect(out.headers[0]).toEqual({ name: 'content-type', value: 'application/json' });
    expect(out.body).toBe(grpc.value.body);
    expect(JSON.parse(out.body)).toMatchObject({ decision: 'deny', reason: d.reason, decisionId: 'd-1' });
  });
});
