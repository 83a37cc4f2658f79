import { describe, expect, it } from 'vitest';
import { parseLogLine } from '../../../src/rollout/log-line.js';
import { CHECKOUT, compile, ENFORCED, FRONTEND, logLine, STAFF } from './helpers.js';

const set = compile(ENFORCED);

/** What the full JSON parse says about a line (the reference for the fast path). */
function reference(text: string) {
  const rec = JSON.parse(text) as Record<string, unknown>;
  return {
    allowed: rec.decision === 'allow',
    status: rec.status,
    reason: rec.reason,
    policy: rec.policy,
    ruleIds: rec.ruleIds,
    requestId: rec.requestId,
    input: rec.input,
    redactedOrTruncated: rec.redacted === true || rec.truncated === true,
  };
}

describe('parseLogLine', () => {
  it.each([
    [
      'an allow',
      logLine(set, { request: { method: 'GET', host: 'orders', path: '/orders/1' }, principal: FRONTEND }),
    ],
    [
      'a deny',
      logLine(set, { request: { method: 'PATCH', host: 'orders', path: '/orders/1' }, principal: CHECKOUT }),
    ],
    ['an identity failure', logLine(set, { request: { host: 'orders', path: '/x' }, principal: null })],
    [
      'a claim named "redacted" (fast path boundary is wrong: falls back)',
      logLine(set, {
        request: { host: 'admin', path: '/' },
        principal: { ...STAFF, claims: { redacted: { x: 1 }, z: 2 } },
      }),
    ],
    [
      'a claim that looks like the outcome',
      logLine(set, {
        request: { host: 'admin', path: '/' },
        principal: { ...STAFF, claims: { decision: 'allow', status: 200 } },
      }),
    ],
    [
      'escaped characters in the request id',
      logLine(set, {
        request: { host: 'admin', path: '/', headers: { 'x-request-id': 'a"b\\c\u00e9' } },
        principal: STAFF,
      }),
    ],
  ])('%s: same fields as a full parse', (_, text) => {
    const parsed = parseLogLine(text);
    expect(parsed.kind).toBe('decision');
    if (parsed.kind === 'decision') expect(parsed.d).toEqual(reference(text));
  });

  it.each([
    [
      'keys in another order (a log shipper rewrote the line)',
      false,
      () => {
        const rec = JSON.parse(
          logLine(set, { request: { host: 'orders', path: '/orders/1' }, principal: FRONTEND }),
        );
        return JSON.stringify(Object.fromEntries(Object.entries(rec).reverse()));
      },
    ],
    [
      'a redacted line',
      true,
      () =>
        logLine(set, {
          request: {
            host: 'orders',
            path: '/orders/1',
            headers: { 'user-agent': 'Bearer abcdefghijklmnop' },
          },
          principal: FRONTEND,
        }),
    ],
  ])('%s', (_, redacted, make) => {
    const text = make();
    const parsed = parseLogLine(text);
    expect(parsed).toEqual({ kind: 'decision', d: reference(text) });
    expect(parsed.kind === 'decision' && parsed.d.redactedOrTruncated).toBe(redacted);
  });

  it.each([
    ['not JSON', '{"level":"info",', 'invalid'],
    ['a process log line', '{"level":"info","msg":"portcullis serving","grpcPort":1}', 'other'],
    ['a decision without input', '{"msg":"decision","decision":"allow"}', 'other'],
    ['JSON but not an object', '42', 'other'],
  ])('%s → %s', (_, text, kind) => {
    expect(parseLogLine(text).kind).toBe(kind);
  });
});
