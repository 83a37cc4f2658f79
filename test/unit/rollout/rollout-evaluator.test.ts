import { describe, expect, it } from 'vitest';
import {
  buildAuthzInput,
  buildPrincipal,
  type PolicyInput,
  type PrincipalFixture,
  type RequestFixture,
} from '../../../src/policy/index.js';
import { createRolloutEvaluator, issueBreakGlass } from '../../../src/rollout/index.js';
import { createMetrics, type Metrics } from '../../../src/telemetry/metrics.js';
import { makeKey } from '../bundle/fixtures.js';
import { CANDIDATE, CHECKOUT, compile, ENFORCED, FRONTEND, STAFF, SUPPORT } from './helpers.js';

const NOW = Date.parse('2026-03-01T10:00:00Z');
const input = (request: RequestFixture, principal: PrincipalFixture): PolicyInput => ({
  request: buildAuthzInput(request, principal),
  principal: buildPrincipal(principal),
  now: NOW,
});

async function counter(m: Metrics, name: 'candidateDisagreements' | 'failureModes' | 'breakGlassDecisions') {
  return (await m[name].get()).values.map((v) => ({ ...v.labels, value: v.value }));
}

const FAILING: Record<string, string> = {
  'payments.yaml': `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: payments }
failureMode: open
selector: { hosts: [payments] }
rules:
  - { id: read, effect: ALLOW, to: [{ methods: [GET] }] }
  - id: risky
    effect: DENY
    when: principal.claims.limit > 10
`,
  'ledger.yaml': `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: ledger }
selector: { hosts: [ledger] }
rules:
  - { id: read, effect: ALLOW, to: [{ methods: [GET] }] }
  - id: risky
    effect: DENY
    when: principal.claims.limit > 10
`,
  'shared.yaml': `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: shared-open }
failureMode: open
selector: { hosts: [ledger] }
rules: [{ id: any, effect: ALLOW, to: [{ methods: [HEAD] }] }]
`,
};

describe('rollout evaluator', () => {
  const enforced = compile(ENFORCED);
  const candidate = compile(CANDIDATE);

  it('evaluates the candidate in shadow: only the enforced answer counts; disagreements are counted by policy, rule, direction', async () => {
    const metrics = createMetrics({ defaultMetrics: false });
    const r = createRolloutEvaluator(metrics);
    const state = { set: enforced, candidate };
    const del = r.evaluate(state, input({ method: 'DELETE', host: 'orders', path: '/orders/1' }, CHECKOUT));
    expect([del.decision.allowed, del.candidate?.allowed]).toEqual([true, false]);
    const support = r.evaluate(state, input({ method: 'GET', host: 'admin', path: '/' }, SUPPORT));
    expect([support.decision.allowed, support.candidate?.allowed]).toEqual([false, true]);
    const same = r.evaluate(state, input({ method: 'GET', host: 'orders', path: '/orders/1' }, FRONTEND));
    expect([same.decision.allowed, same.candidate?.allowed]).toEqual([true, true]);
    expect(await counter(metrics, 'candidateDisagreements')).toEqual([
      { policy: 'orders@1', rule: 'checkout-write', direction: 'allow_to_deny', value: 1 },
      { policy: 'admin@1', rule: 'support-read', direction: 'deny_to_allow', value: 1 },
    ]);
    expect(
      r.evaluate({ set: enforced }, input({ method: 'GET', host: 'admin', path: '/' }, STAFF)),
    ).not.toHaveProperty('candidate');
  });

  it.each([
    [
      'failureMode: open',
      'payments',
      'GET',
      true,
      'failure_mode_open',
      { policy: 'payments', mode: 'open', reason: 'evaluation_error' },
    ],
    [
      'default closed',
      'ledger',
      'GET',
      false,
      'evaluation_error',
      { policy: 'ledger', mode: 'closed', reason: 'evaluation_error' },
    ],
  ])('an evaluation error under %s', async (_, host, method, allowed, reason, labels) => {
    const metrics = createMetrics({ defaultMetrics: false });
    const r = createRolloutEvaluator(metrics);
    // `limit` is a string: `>` has no overload at run time, so the DENY rule faults (strict evaluation).
    const d = r.evaluate(
      { set: compile(FAILING) },
      input({ method, host, path: '/x' }, { ...STAFF, claims: { limit: 'lots' } }),
    ).decision;
    expect([d.allowed, d.reason]).toEqual([allowed, reason]);
    expect(await counter(metrics, 'failureModes')).toEqual([{ ...labels, value: 1 }]);
  });

  it.each([
    ['a route whose only policy says open', 'payments', { mode: 'open', policy: 'payments' }],
    ['closed wins when several policies select the route', 'ledger', { mode: 'closed', policy: 'ledger' }],
    ['a route no policy selects', 'nowhere', { mode: 'closed', policy: 'none' }],
  ])('cannot decide (jwks_unavailable) on %s', async (_, host, expected) => {
    const metrics = createMetrics({ defaultMetrics: false });
    const r = createRolloutEvaluator(metrics);
    const d = r.cannotDecide(
      { set: compile(FAILING) },
      buildAuthzInput({ host, path: '/x' }),
      'jwks_unavailable',
      NOW,
    );
    expect(d?.reason).toBe(expected.mode === 'open' ? 'failure_mode_open' : undefined);
    expect(d?.allowed ?? false).toBe(expected.mode === 'open');
    expect(await counter(metrics, 'failureModes')).toEqual([
      { policy: expected.policy, mode: expected.mode, reason: 'jwks_unavailable', value: 1 },
    ]);
  });

  it('a break-glass exception turns a policy 403 into an allow (reason break_glass, counted); never a 401', async () => {
    const key = await makeKey('bg');
    const { grant } = await issueBreakGlass(
      {
        who: 'u-oncall',
        what: { hosts: ['orders'], paths: ['/orders/*'] },
        why: 'INC-1',
        untilMs: NOW + 60_000,
        id: 'inc-1',
      },
      key.signing,
      NOW - 1000,
    );
    const metrics = createMetrics({ defaultMetrics: false });
    const r = createRolloutEvaluator(metrics);
    const state = { set: enforced, candidate, breakGlass: [grant] };
    const oncall = { id: 'u-oncall', issuer: 'https://id.example.com' };
    const d = r.evaluate(state, input({ method: 'DELETE', host: 'orders', path: '/orders/1' }, oncall));
    expect(d.decision).toMatchObject({
      allowed: true,
      status: 200,
      reason: 'break_glass',
      policy: 'break-glass',
      ruleIds: ['break-glass#inc-1'],
    });
    expect(d.decision.obligations.upstreamHeaders).toEqual([
      { name: 'x-portcullis-break-glass', value: 'inc-1' },
    ]);
    expect(await counter(metrics, 'breakGlassDecisions')).toEqual([{ exception: 'inc-1', value: 1 }]);
    // Overridden decisions are not compared with the candidate (replay skips them too).
    expect(await counter(metrics, 'candidateDisagreements')).toEqual([]);
    const anonymous = r.evaluate(state, input({ method: 'DELETE', host: 'orders', path: '/orders/1' }, {}));
    expect([anonymous.decision.allowed, anonymous.decision.status]).toEqual([false, 401]);
    const later = r.evaluate(state, {
      ...input({ method: 'DELETE', host: 'orders', path: '/orders/1' }, oncall),
      now: NOW + 60_000,
    });
    expect(later.decision.reason).toBe('default_deny');
  });
});
