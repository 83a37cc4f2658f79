import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { type ReplayOptions, replayDecisionLog, replayOptionsSchema } from '../../../src/rollout/index.js';
import { CANDIDATE, CHECKOUT, chunked, compile, ENFORCED, logLine, STAFF, TRAFFIC } from './helpers.js';

const enforced = compile(ENFORCED);
const candidate = compile(CANDIDATE);
const opts = (o: Partial<ReplayOptions> = {}) => replayOptionsSchema.parse(o);
const LOG = `${TRAFFIC.map((t, i) => logLine(enforced, t, i)).join('\n')}\n`;

describe('replayDecisionLog', () => {
  it('counts what the candidate changes, by rule, policy and route, with explained examples', async () => {
    const r = await replayDecisionLog(candidate, Readable.from([LOG]), opts());
    expect(r).toMatchObject({
      lines: 7,
      replayed: 7,
      changed: 3,
      allowToDeny: 2,
      denyToAllow: 1,
      overThreshold: false,
    });
    expect(r.byRule).toEqual([
      { policy: 'orders@1', rule: 'checkout-write', allowToDeny: 2, denyToAllow: 0 },
      { policy: 'admin@1', rule: 'support-read', allowToDeny: 0, denyToAllow: 1 },
    ]);
    expect(r.byPolicy.map((p) => p.policy)).toEqual(['orders@1', 'admin@1']);
    expect(r.byRoute).toEqual([
      { route: 'DELETE orders/orders/{id}', allowToDeny: 2, denyToAllow: 0 },
      { route: 'GET admin/panel', allowToDeny: 0, denyToAllow: 1 },
    ]);
    expect(r.examples).toHaveLength(2);
    const [first, second] = r.examples;
    expect(first).toMatchObject({
      line: 3,
      decisionId: 'd-2',
      request: 'DELETE orders/orders/3',
      direction: 'allow_to_deny',
      groupCount: 2,
      recorded: { decision: 'allow', status: 200, reason: 'allowed', ruleIds: ['orders@1#checkout-write'] },
      candidate: { decision: 'deny', status: 403, reason: 'default_deny', ruleIds: [] },
    });
    expect(first?.candidate.explanation?.at(-1)).toMatch(/^decision .*deny — 403 default_deny/);
    expect(second).toMatchObject({
      principal: 'u-support',
      candidate: { decision: 'allow', ruleIds: ['admin@1#support-read'] },
    });
    expect(second?.candidate.explanation).toContain(
      "rule admin@1#support-read: matched — ALLOW when 'support' in principal.groups",
    );
  });

  it('replaying against the enforced set itself changes nothing', async () => {
    const r = await replayDecisionLog(enforced, Readable.from([LOG]), opts());
    expect(r).toMatchObject({ replayed: 7, changed: 0, examples: [] });
  });

  it.each([
    [0, true],
    [2, true],
    [3, false],
    [undefined, false],
  ])('--max-changes %s → over threshold: %s', async (maxChanges, over) => {
    const r = await replayDecisionLog(
      candidate,
      Readable.from([LOG]),
      opts(maxChanges === undefined ? {} : { maxChanges }),
    );
    expect([r.maxChanges, r.overThreshold]).toEqual([maxChanges, over]);
  });

  it('skips (and counts) what it cannot or must not replay', async () => {
    const lines = [
      '{"level":"info","msg":"portcullis serving","grpcPort":9191}',
      'not json at all',
      '',
      logLine(enforced, { request: { host: 'orders', path: '/orders/1' }, principal: null }, 1),
      logLine(
        enforced,
        {
          request: { method: 'DELETE', host: 'orders', path: '/orders/1' },
          principal: CHECKOUT,
          timeMs: 1000,
        },
        2,
      ),
      logLine(
        enforced,
        {
          request: { method: 'DELETE', host: 'orders', path: '/orders/2' },
          principal: STAFF,
          decision: { allowed: true, status: 200, reason: 'break_glass', ruleIds: ['break-glass#x'] },
        },
        3,
      ),
      '{"msg":"decision","input":{"v":9,"timeMs":9999}}',
      logLine(
        enforced,
        {
          request: { method: 'DELETE', host: 'orders', path: '/orders/3' },
          principal: CHECKOUT,
          timeMs: 5000,
        },
        4,
      ),
    ];
    const r = await replayDecisionLog(candidate, Readable.from([lines.join('\n')]), opts({ sinceMs: 2000 }));
    expect(r).toMatchObject({
      lines: 8,
      replayed: 1,
      changed: 1,
      skipped: {
        invalid: 1,
        notDecision: 1,
        outsideWindow: 1,
        identityFailed: 1,
        overridden: 1,
        unsupported: 1,
      },
    });
    expect(r.problems).toEqual(['line 2: not JSON', 'line 7: input version 9']);
  });

  it.each([1, 7, 64, 4096])(
    'gives the same report whatever the chunking (%i-byte chunks, multi-byte characters)',
    async (size) => {
      const withUnicode = `${LOG}${logLine(enforced, { request: { host: 'admin', path: '/ünïcödé/€' }, principal: { ...STAFF, id: 'ü-😀' } }, 9)}`;
      const whole = await replayDecisionLog(candidate, Readable.from([withUnicode]), opts());
      const cut = await replayDecisionLog(candidate, chunked(withUnicode, size), opts());
      expect({ ...cut, durationMs: 0, decisionsPerSecond: 0 }).toEqual({
        ...whole,
        durationMs: 0,
        decisionsPerSecond: 0,
      });
      expect(whole.replayed).toBe(8);
    },
  );

  it('skips a line longer than maxLineBytes without buffering it, and reads the next one', async () => {
    const huge = `{"msg":"decision","input":"${'x'.repeat(5000)}"}`;
    const line = logLine(enforced, {
      request: { method: 'DELETE', host: 'orders', path: '/orders/1' },
      principal: CHECKOUT,
    });
    const r = await replayDecisionLog(
      candidate,
      chunked(`${huge}\n${line}\n${huge}`, 100),
      opts({ maxLineBytes: 2048 }),
    );
    expect(r).toMatchObject({ lines: 3, replayed: 1, changed: 1, skipped: { invalid: 2 } });
  });

  it('bounds its counters: keys past maxKeys are folded into (other)', async () => {
    const lines = Array.from({ length: 6 }, (_, i) =>
      logLine(
        enforced,
        { request: { method: 'DELETE', host: 'orders', path: `/orders/k${i}` }, principal: CHECKOUT },
        i,
      ),
    );
    const r = await replayDecisionLog(candidate, Readable.from([lines.join('\n')]), opts({ maxKeys: 2 }));
    expect(r.changed).toBe(6);
    expect(r.byRoute).toEqual([
      { route: '(other)', allowToDeny: 4, denyToAllow: 0 },
      { route: 'DELETE orders/orders/k0', allowToDeny: 1, denyToAllow: 0 },
      { route: 'DELETE orders/orders/k1', allowToDeny: 1, denyToAllow: 0 },
    ]);
  });
});
