import { describe, expect, it } from 'vitest';
import { decisionConfigSchema } from '../../../src/decision/config.js';
import { createResponder } from '../../../src/decision/respond.js';
import type { CheckResponse } from '../../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import type { Principal } from '../../../src/types.js';
import { ANONYMOUS } from '../../../src/types.js';
import { decision } from './fixtures.js';

const principal: Principal = {
  ...ANONYMOUS,
  id: 'alice',
  type: 'human',
  authenticated: true,
  issuer: 'https://idp',
};

const ctx = { decisionId: 'd-1', revision: 'r7', principal };
const responder = createResponder(decisionConfigSchema.parse({ stripHeaders: ['authorization'] }));

function ok(res: CheckResponse) {
  if (res.httpResponse.case !== 'okResponse') throw new Error('not an ok response');
  return res.httpResponse.value;
}
function denied(res: CheckResponse) {
  if (res.httpResponse.case !== 'deniedResponse') throw new Error('not a denied response');
  return res.httpResponse.value;
}

describe('createResponder — contract facts 18–27', () => {
  it('fact 18: allow is status code 0, never an empty response', () => {
    const res = responder.toCheckResponse(decision(), ctx);
    expect(res.status?.code).toBe(0);
    expect(res.httpResponse.case).toBe('okResponse');
  });

  it('fact 19: a deny is PERMISSION_DENIED with 403, JSON body and content-type', () => {
    const res = responder.toCheckResponse(
      decision({ allowed: false, status: 403, reason: 'default_deny', ruleIds: [], policy: '' }),
      ctx,
    );
    expect(res.status?.code).toBe(7);
    const d = denied(res);
    expect(d.status?.code).toBe(403);
    expect(JSON.parse(d.body)).toEqual({ decision: 'deny', reason: 'default_deny', decisionId: 'd-1' });
    expect(d.headers.map((h) => [h.header?.key, h.header?.value])).toContainEqual([
      'content-type',
      'application/json',
    ]);
  });

  it.each([
    ['credential_missing', 'Bearer realm="portcullis"'],
    ['token_expired', 'Bearer realm="portcullis", error="invalid_token", error_description="token_expired"'],
  ])('fact 19 + RFC 6750: a 401 deny (%s) is UNAUTHENTICATED with WWW-Authenticate', (reason, www) => {
    const res = responder.toCheckResponse(decision({ allowed: false, status: 401, reason }), ctx);
    expect(res.status?.code).toBe(16);
    const d = denied(res);
    expect(d.status?.code).toBe(401);
    expect(d.headers.find((h) => h.header?.key === 'www-authenticate')?.header?.value).toBe(www);
  });

  it('fact 19: a custom deny status and message from obligations', () => {
    const res = responder.toCheckResponse(
      decision({
        allowed: false,
        status: 403,
        reason: 'denied_by_rule',
        obligations: { denyStatus: 423, denyMessage: 'invoice locked' },
      }),
      ctx,
    );
    expect(denied(res).status?.code).toBe(423);
    expect(JSON.parse(denied(res).body).message).toBe('invoice locked');
  });

  it('fact 22: every upstream header sets append explicitly to false', () => {
    const res = responder.toCheckResponse(
      decision({ obligations: { upstreamHeaders: [{ name: 'x-tenant', value: 'acme' }] } }),
      ctx,
    );
    const headers = ok(res).headers;
    expect(headers.map((h) => h.header?.key)).toEqual([
      'x-portcullis-principal',
      'x-portcullis-principal-type',
      'x-portcullis-decision-id',
      'x-tenant',
    ]);
    for (const h of headers) expect(h.append).toBe(false);
    expect(headers[0]?.header?.value).toBe('alice');
  });

  it('fact 22: an anonymous caller gets the identity header removed, so it cannot be forged', () => {
    const res = responder.toCheckResponse(decision(), {
      ...ctx,
      principal: { ...principal, id: '', type: 'anonymous' },
    });
    expect(ok(res).headersToRemove).toContain('x-portcullis-principal');
  });

  it('fact 23: headers_to_remove never names pseudo-headers or host', () => {
    const res = responder.toCheckResponse(
      decision({ obligations: { removeHeaders: [':path', 'host', 'cookie'] } }),
      ctx,
    );
    expect(ok(res).headersToRemove).toEqual(['authorization', 'cookie']);
  });

  it('fact 24: response headers to add on allow', () => {
    const res = responder.toCheckResponse(
      decision({ obligations: { responseHeaders: [{ name: 'x-ratelimit-tier', value: 'pro' }] } }),
      ctx,
    );
    expect(ok(res).responseHeadersToAdd.map((h) => [h.header?.key, h.header?.value, h.append])).toEqual([
      ['x-ratelimit-tier', 'pro', false],
    ]);
  });

  it.each([true, false])('fact 26: dynamic metadata on allow and deny (allowed=%s)', (allowed) => {
    const res = responder.toCheckResponse(
      decision({ allowed, status: allowed ? 200 : 403, reason: allowed ? 'allowed' : 'denied_by_rule' }),
      ctx,
    );
    expect(res.dynamicMetadata).toEqual({
      decision_id: 'd-1',
      decision: allowed ? 'allow' : 'deny',
      reason: allowed ? 'allowed' : 'denied_by_rule',
      policy: 'orders',
      rule_ids: ['orders@1#read'],
      bundle_revision: 'r7',
      principal_type: 'human',
    });
  });

  it.each([
    ['X-Upper', 'v'],
    ['bad name', 'v'],
    ['x-crlf', 'a\r\nb'],
    ['x-nul', 'a\u0000b'],
    ['x-lf', 'a\nb'],
    [':path', '/x'],
  ])('fact 27: invalid header %j is never sent', (name, value) => {
    const res = responder.toCheckResponse(
      decision({ obligations: { upstreamHeaders: [{ name, value }], responseHeaders: [{ name, value }] } }),
      ctx,
    );
    expect(ok(res).headers.map((h) => h.header?.key)).not.toContain(name);
    expect(ok(res).responseHeadersToAdd).toHaveLength(0);
  });

  it('fact 27: a principal id with CR/LF is removed rather than sent', () => {
    const res = responder.toCheckResponse(decision(), {
      ...ctx,
      principal: { ...principal, id: 'evil\r\nx-admin: 1' },
    });
    expect(ok(res).headers.map((h) => h.header?.key)).not.toContain('x-portcullis-principal');
    expect(ok(res).headersToRemove).toContain('x-portcullis-principal');
  });
});
