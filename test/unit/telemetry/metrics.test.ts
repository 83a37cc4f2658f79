import { describe, expect, it } from 'vitest';
import { CHECK_LATENCY_BUCKETS, createMetrics, type Metrics } from '../../../src/telemetry/index.js';
import { histogramChild } from '../../../src/telemetry/metrics.js';
import { havePromtool, promtool } from './promtool.js';

/** One sample for every Portcullis metric, so the exposition holds each name. */
function observeAll(m: Metrics): void {
  m.decisions.inc({ outcome: 'deny', reason: 'denied_by_rule', policy: 'orders', api: 'grpc' });
  m.checkDuration.observe({ api: 'grpc', outcome: 'deny' }, 0.00012);
  m.evalDuration.observe(0.000004);
  m.identityFailures.inc({ kind: 'jwt', reason: 'token_expired' });
  m.cacheRequests.inc({ cache: 'token', result: 'hit' });
  m.shadowOutcomes.inc({ policy: 'orders@2', rule: 'strict', agreement: 'disagree' });
  m.faults.inc({ code: 'UNAVAILABLE', reason: 'no_policy_loaded' });
  m.inFlight.inc({ api: 'grpc' });
  m.bundleInfo.set({ revision: 'rev-7', source: 'local' }, 1);
  m.bundleLastSuccess.set(1_750_000_000);
  m.bundleCreated.set(1_750_000_000);
  m.bundleLoadFailures.inc({ reason: 'bundle_signature_invalid' });
  m.decisionLogDrops.inc({ sink: 'stdout' });
  m.evalErrors.inc({ policy: 'orders' });
  m.ready.set(1);
}

const FORBIDDEN_LABELS =
  /^(path|url|uri|principal|user|sub|subject|token|id|decision_?id|request_?id|ip|address|host)$/;

describe('metrics', () => {
  it("inFlightFrom reports a front door's own in-flight count whenever the gauge is read", async () => {
    const m = createMetrics({ defaultMetrics: false });
    let n = 3;
    m.inFlightFrom('grpc', () => n);
    const read = async () => m.registry.getSingleMetricAsString('portcullis_checks_in_flight');
    expect(await read()).toContain('portcullis_checks_in_flight{api="grpc"} 3');
    n = 0;
    expect(await read()).toContain('portcullis_checks_in_flight{api="grpc"} 0');
  });

  it('a histogramChild records exactly what Histogram#observe does, also across a reset', async () => {
    const fast = createMetrics({ defaultMetrics: false });
    const stock = createMetrics({ defaultMetrics: false });
    const labels = { api: 'grpc', outcome: 'allow' } as const;
    const child = histogramChild(fast.checkDuration, labels);
    const evalChild = histogramChild(fast.evalDuration, {});
    // Bounds exactly, between them, below the first, above the last, zero and random values.
    const values = [
      ...CHECK_LATENCY_BUCKETS,
      ...CHECK_LATENCY_BUCKETS.map((b) => b * 1.5),
      0,
      1e-9,
      3,
      ...Array.from({ length: 500 }, (_, i) => ((i * 7919) % 1000) / 3000),
    ];
    const both = (v: number) => {
      child.observe(v);
      evalChild.observe(v / 100);
      stock.checkDuration.observe(labels, v);
      stock.evalDuration.observe(v / 100);
    };
    // The fast side created its series at zero up front; do the same on the stock side.
    stock.checkDuration.zero(labels);
    stock.evalDuration.zero({});
    for (const v of values) both(v);
    const text = async (m: Metrics) =>
      (await m.registry.getSingleMetricAsString('portcullis_check_duration_seconds')) +
      (await m.registry.getSingleMetricAsString('portcullis_policy_evaluation_duration_seconds'));
    expect(await text(fast)).toBe(await text(stock));
    expect(await text(fast)).toContain(
      `portcullis_check_duration_seconds_count{api="grpc",outcome="allow"} ${values.length}`,
    );
    // After a reset the child goes on recording into the new series.
    fast.checkDuration.reset();
    stock.checkDuration.reset();
    for (const v of values.slice(0, 50)) both(v);
    expect(await text(fast)).toBe(await text(stock));
    // Not a number is refused as Histogram#observe refuses it.
    expect(() => child.observe(Number.NaN)).toThrow(TypeError);
  });

  it('countDecision adds to portcullis_decisions_total as inc() does, by label set, at every read', async () => {
    const m = createMetrics({ defaultMetrics: false });
    const read = async () =>
      (await m.decisions.get()).values
        .map((v) => [v.labels, v.value])
        .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
    for (let i = 0; i < 5; i++) m.countDecision('allow', 'allowed', 'orders', 'grpc');
    m.countDecision('deny', 'denied_by_rule', 'orders', 'grpc');
    m.countDecision('deny', 'denied_by_rule', 'orders', 'http');
    m.decisions.inc({ outcome: 'allow', reason: 'allowed', policy: 'orders', api: 'grpc' });
    const first = [
      [{ api: 'grpc', outcome: 'allow', policy: 'orders', reason: 'allowed' }, 6],
      [{ api: 'grpc', outcome: 'deny', policy: 'orders', reason: 'denied_by_rule' }, 1],
      [{ api: 'http', outcome: 'deny', policy: 'orders', reason: 'denied_by_rule' }, 1],
    ];
    const norm = (rows: unknown[][]) =>
      rows.map(([labels, v]) => [Object.fromEntries(Object.entries(labels as object).sort()), v]);
    expect(norm(await read())).toEqual(first);
    // Counted once: a second read adds nothing; later counts add up.
    expect(norm(await read())).toEqual(first);
    m.countDecision('deny', 'denied_by_rule', 'orders', 'grpc');
    const text = await m.registry.metrics();
    expect(text).toContain(
      'portcullis_decisions_total{outcome="deny",reason="denied_by_rule",policy="orders",api="grpc"} 2',
    );
  });

  it('every metric on a real /metrics exposition passes `promtool check metrics`', async (ctx) => {
    if (!havePromtool()) return ctx.skip();
    const m = createMetrics();
    observeAll(m);
    const text = await m.registry.metrics();
    for (const name of [
      'portcullis_decisions_total',
      'portcullis_check_duration_seconds_bucket',
      'portcullis_decision_log_dropped_total',
      'process_cpu_seconds_total',
      'nodejs_heap_size_used_bytes',
    ]) {
      expect(text).toContain(name);
    }
    const r = promtool(['check', 'metrics'], text);
    expect(r.output).toBe('');
    expect(r.code).toBe(0);
  });

  it('promtool does flag a badly named metric (the check can fail)', (ctx) => {
    if (!havePromtool()) return ctx.skip();
    const bad =
      '# HELP portcullis_latency_ms Latency.\n# TYPE portcullis_latency_ms counter\nportcullis_latency_ms 1\n';
    expect(promtool(['check', 'metrics'], bad).code).not.toBe(0);
  });

  it('uses bounded labels only: never a path, principal, token or id', async () => {
    const m = createMetrics({ defaultMetrics: false });
    observeAll(m);
    const all = await m.registry.getMetricsAsJSON();
    const labels = all.flatMap((metric) => metric.values.flatMap((v) => Object.keys(v.labels)));
    expect(labels.filter((l) => l !== 'le' && FORBIDDEN_LABELS.test(l))).toEqual([]);
    expect(all.every((metric) => metric.name.startsWith('portcullis_'))).toBe(true);
    // every handle but `registry` and the hot-path helpers `countDecision`, `cacheCounter`, `inFlightFrom`
    expect(all).toHaveLength(Object.keys(m).length - 4);
  });

  it('Check latency buckets span 50 µs … 250 ms', () => {
    expect(CHECK_LATENCY_BUCKETS[0]).toBe(0.00005);
    expect(CHECK_LATENCY_BUCKETS.at(-1)).toBe(0.25);
  });
});
