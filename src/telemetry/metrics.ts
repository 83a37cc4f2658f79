import { Counter, collectDefaultMetrics, Gauge, Histogram, type LabelValues, Registry } from 'prom-client';

/**
 * Every Prometheus metric Portcullis exports, defined in this one file.
 * Names follow Prometheus conventions (base units, `_total`, `_seconds`); labels are bounded —
 * never a path, a principal or a token.
 */

/** Check latency buckets in seconds: 50 µs … 250 ms. */
export const CHECK_LATENCY_BUCKETS = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25,
] as const;

/** Policy evaluation latency buckets in seconds: 1 µs … 10 ms. */
export const EVAL_LATENCY_BUCKETS = [
  0.000001, 0.0000025, 0.000005, 0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.01,
] as const;

/**
 * prom-client default metrics whose names break Prometheus conventions (gauges named `_total`,
 * flagged by `promtool check metrics`); the labelled `nodejs_active_*` gauges carry the same data.
 */
const NONCONFORMING_DEFAULT_METRICS = [
  'nodejs_active_handles_total',
  'nodejs_active_requests_total',
  'nodejs_active_resources_total',
] as const;

/**
 * The fault series (gRPC code name, reason code) created at zero, so `rate()`, alerts and the
 * dashboard see the first fault as an increase instead of a series appearing from nothing.
 */
export const KNOWN_FAULTS: readonly (readonly [code: string, reason: string])[] = [
  ['CANCELLED', 'request_cancelled'],
  ['DEADLINE_EXCEEDED', 'deadline_exceeded'],
  ['INTERNAL', 'internal_error'],
  ['INVALID_ARGUMENT', 'invalid_request'],
  ['RESOURCE_EXHAUSTED', 'resource_exhausted'],
  ['UNAVAILABLE', 'no_policy_loaded'],
];

/** The metric handles passed to components (telemetry is injected, never a global). */
export interface Metrics {
  readonly registry: Registry;
  /** Decisions by outcome (allow|deny), reason code, policy name and API (grpc|http|check). */
  readonly decisions: Counter<'outcome' | 'reason' | 'policy' | 'api'>;
  /**
   * `decisions.inc({outcome, reason, policy, api})` for the hot path: counted in a plain number per
   * label set and handed to prom-client when the counter is read (a scrape), which spares hashing and
   * validating a label object on every decision (~1 µs). Reads of `decisions` always include it.
   */
  readonly countDecision: (outcome: 'allow' | 'deny', reason: string, policy: string, api: string) => void;
  /** End-to-end Check latency by API and outcome (allow|deny|fault). */
  readonly checkDuration: Histogram<'api' | 'outcome'>;
  /** Policy evaluation latency. */
  readonly evalDuration: Histogram<never>;
  /** Identity failures by kind (jwt|x509|spiffe|xfcc) and reason code. */
  readonly identityFailures: Counter<'kind' | 'reason'>;
  /** Cache lookups by cache name (token|jwks|resource) and result (hit|miss|coalesced|negative). */
  readonly cacheRequests: Counter<'cache' | 'result'>;
  /** A hot-path child of `cacheRequests`: counted in a plain number, handed over at each read. */
  readonly cacheCounter: (cache: string, result: string) => { inc(): void };
  /** Shadow (AUDIT / shadow-mode / candidate) outcomes by policy, rule and agreement (agree|disagree). */
  readonly shadowOutcomes: Counter<'policy' | 'rule' | 'agreement'>;
  /** Faults ("cannot decide") by gRPC code name and reason code. */
  readonly faults: Counter<'code' | 'reason'>;
  /** Check calls currently being processed. */
  readonly inFlight: Gauge<'api'>;
  /**
   * Reports `inFlight{api}` from a counter the front door keeps anyway, read when the gauge is
   * (a scrape) instead of an inc() and a dec() per call.
   */
  readonly inFlightFrom: (api: string, current: () => number) => void;
  /** Active bundle / policy-set info: value 1, labels revision and source. */
  readonly bundleInfo: Gauge<'revision' | 'source'>;
  /**
   * Unix time (seconds) of the last successful bundle / policy load or up-to-date check (a `304 Not
   * Modified` poll counts): the bundle-stale alert fires when it stops advancing.
   */
  readonly bundleLastSuccess: Gauge<never>;
  /** Unix time (seconds) the active bundle was created. */
  readonly bundleCreated: Gauge<never>;
  /** Bundle / policy load failures by reason code. */
  readonly bundleLoadFailures: Counter<'reason'>;
  /** Decision-log records dropped (buffer full, sink failure) by sink (stdout|stderr|file|http|queue). */
  readonly decisionLogDrops: Counter<'sink'>;
  /** Policy evaluation errors recorded under strict evaluation, by policy. */
  readonly evalErrors: Counter<'policy'>;
  /** 1 when ready to decide, else 0. */
  readonly ready: Gauge<never>;
  /** Candidate (shadow) policy set answers that differ from the enforced one, by policy, rule and direction. */
  readonly candidateDisagreements: Counter<'policy' | 'rule' | 'direction'>;
  /** "Cannot decide" conditions by governing policy, applied failure mode (open|closed) and reason. */
  readonly failureModes: Counter<'policy' | 'mode' | 'reason'>;
  /** Decisions turned into an allow by a break-glass exception, by exception id. */
  readonly breakGlassDecisions: Counter<'exception'>;
  /** Rollout track of the active bundle (value 1; set by the bundle puller): track (stable|canary), candidate (true|false). */
  readonly rolloutInfo: Gauge<'track' | 'candidate'>;
}

/** prom-client's record of one histogram series (lib/histogram.js), as Histogram#observe updates it. */
interface SeriesRecord {
  readonly labels: object;
  readonly bucketValues: Record<string, number>;
  sum: number;
  count: number;
}

/** The prom-client Histogram fields a HistogramChild reads. */
interface HistogramInternals {
  readonly hashMap?: Record<string, SeriesRecord | undefined>;
  readonly upperBounds?: readonly number[];
}

/** A fixed-label series of a histogram for the hot path. */
export interface HistogramChild {
  observe(value: number): void;
}

/**
 * A fixed-label child of a prom-client Histogram for the hot path: observe() updates the series'
 * record in place — its bucket, sum and count, exactly as Histogram#observe does — without building,
 * validating and hashing a label object on every call (~1 µs → tens of ns). The series is created
 * at zero up front (Histogram#zero). Whenever the record is not the one it found (after a reset) or
 * the value is not finite, it goes through Histogram#observe itself; if prom-client's internals ever
 * differ from what it expects, it only ever does that. test/unit/telemetry/metrics.test.ts compares
 * the expositions of both paths.
 */
export function histogramChild<L extends string>(
  histogram: Histogram<L>,
  labels: LabelValues<L>,
): HistogramChild {
  const stock: HistogramChild = { observe: (value) => histogram.observe(labels, value) };
  const inner = histogram as unknown as HistogramInternals;
  const bounds = inner.upperBounds;
  if (inner.hashMap === undefined || !Array.isArray(bounds)) return stock;
  histogram.zero(labels);
  const map = inner.hashMap;
  const key = Object.keys(map).find((k) => map[k]?.labels === labels);
  const names = bounds.map(String);
  const found = key === undefined ? undefined : map[key];
  if (key === undefined || found === undefined || names.some((n) => !(n in found.bucketValues))) return stock;
  let record = found;
  return {
    observe(value: number): void {
      const current = (histogram as unknown as HistogramInternals).hashMap?.[key];
      if (current !== record || !Number.isFinite(value)) {
        histogram.observe(labels, value);
        const again = (histogram as unknown as HistogramInternals).hashMap?.[key];
        if (again !== undefined && names.every((n) => n in again.bucketValues)) record = again;
        return;
      }
      for (let i = 0; i < bounds.length; i++) {
        if (value <= bounds[i]!) {
          record.bucketValues[names[i]!]! += 1;
          break;
        }
      }
      record.sum += value;
      record.count += 1;
    },
  };
}

/** A counter child counted in a plain number. */
interface Counted {
  inc(): void;
}

/** Fixed-label children of a counter counted in plain numbers, handed to prom-client at each read. */
class BufferedChildren<L extends string> {
  private readonly children: { readonly labels: Record<L, string>; n: number }[] = [];

  child(labels: Record<L, string>): Counted {
    const c = { labels, n: 0 };
    this.children.push(c);
    return {
      inc: () => {
        c.n++;
      },
    };
  }

  /** Moves what was counted into `counter` (prom-client calls this before the counter is read). */
  flushInto(counter: Counter<L>): void {
    for (const c of this.children) {
      if (c.n > 0) {
        counter.inc(c.labels, c.n);
        c.n = 0;
      }
    }
  }
}

/** The labels of portcullis_decisions_total. */
type DecisionLabel = 'outcome' | 'reason' | 'policy' | 'api';

/**
 * Buffered children of the decisions counter, found through nested maps (api → policy → reason →
 * [allow, deny]): label values are the same few strings every time, whose hashes V8 keeps, so a
 * lookup costs a few map probes instead of building and hashing a label key.
 */
class PendingDecisions {
  private readonly byApi = new Map<string, Map<string, Map<string, Counted[]>>>();

  constructor(private readonly children: BufferedChildren<DecisionLabel>) {}

  add(outcome: 'allow' | 'deny', reason: string, policy: string, api: string): void {
    let byPolicy = this.byApi.get(api);
    if (byPolicy === undefined) {
      byPolicy = new Map();
      this.byApi.set(api, byPolicy);
    }
    let byReason = byPolicy.get(policy);
    if (byReason === undefined) {
      byReason = new Map();
      byPolicy.set(policy, byReason);
    }
    let pair = byReason.get(reason);
    if (pair === undefined) {
      pair = [];
      byReason.set(reason, pair);
    }
    const i = outcome === 'allow' ? 0 : 1;
    let child = pair[i];
    if (child === undefined) {
      child = this.children.child({ outcome, reason, policy, api });
      pair[i] = child;
    }
    child.inc();
  }
}

/** Creates the metric set on a fresh registry (or the given one), with default Node process metrics. */
export function createMetrics(options: { registry?: Registry; defaultMetrics?: boolean } = {}): Metrics {
  const registry = options.registry ?? new Registry();
  if (options.defaultMetrics !== false) {
    collectDefaultMetrics({ register: registry });
    for (const name of NONCONFORMING_DEFAULT_METRICS) registry.removeSingleMetric(name);
  }
  const registers = [registry];
  const decisionChildren = new BufferedChildren<DecisionLabel>();
  const pendingDecisions = new PendingDecisions(decisionChildren);
  const cacheChildren = new BufferedChildren<'cache' | 'result'>();
  const inFlightSources = new Map<string, () => number>();
  const metrics: Metrics = {
    registry,
    decisions: new Counter({
      name: 'portcullis_decisions_total',
      help: 'Authorization decisions by outcome, reason code, policy and API.',
      labelNames: ['outcome', 'reason', 'policy', 'api'],
      registers,
      collect() {
        decisionChildren.flushInto(this);
      },
    }),
    countDecision: (outcome, reason, policy, api) => pendingDecisions.add(outcome, reason, policy, api),
    checkDuration: new Histogram({
      name: 'portcullis_check_duration_seconds',
      help: 'End-to-end latency of a Check call inside the sidecar.',
      labelNames: ['api', 'outcome'],
      buckets: [...CHECK_LATENCY_BUCKETS],
      registers,
    }),
    evalDuration: new Histogram({
      name: 'portcullis_policy_evaluation_duration_seconds',
      help: 'Latency of policy evaluation for one decision.',
      buckets: [...EVAL_LATENCY_BUCKETS],
      registers,
    }),
    identityFailures: new Counter({
      name: 'portcullis_identity_failures_total',
      help: 'Credentials or peer certificates that could not be verified, by kind and reason.',
      labelNames: ['kind', 'reason'],
      registers,
    }),
    cacheRequests: new Counter({
      name: 'portcullis_cache_requests_total',
      help: 'Cache lookups by cache and result.',
      labelNames: ['cache', 'result'],
      registers,
      collect() {
        cacheChildren.flushInto(this);
      },
    }),
    cacheCounter: (cache, result) => cacheChildren.child({ cache, result }),
    shadowOutcomes: new Counter({
      name: 'portcullis_shadow_outcomes_total',
      help: 'Shadow rule outcomes by policy, rule and agreement with the enforced decision.',
      labelNames: ['policy', 'rule', 'agreement'],
      registers,
    }),
    faults: new Counter({
      name: 'portcullis_faults_total',
      help: 'Requests that could not be decided, by gRPC status code and reason.',
      labelNames: ['code', 'reason'],
      registers,
    }),
    inFlight: new Gauge({
      name: 'portcullis_checks_in_flight',
      help: 'Check calls currently being processed.',
      labelNames: ['api'],
      registers,
      collect() {
        for (const [api, current] of inFlightSources) this.set({ api }, current());
      },
    }),
    inFlightFrom: (api, current) => {
      inFlightSources.set(api, current);
    },
    bundleInfo: new Gauge({
      name: 'portcullis_bundle_info',
      help: 'The active policy bundle (value 1), by revision and source.',
      labelNames: ['revision', 'source'],
      // Across cluster workers (server.workers) the primary reports: one series (they hold the same bundle).
      aggregator: 'max',
      registers,
    }),
    bundleLastSuccess: new Gauge({
      name: 'portcullis_bundle_last_success_timestamp_seconds',
      help: 'Unix time of the last successful policy bundle load.',
      // Across cluster workers (server.workers) the primary reports: the stalest worker.
      aggregator: 'min',
      registers,
    }),
    bundleCreated: new Gauge({
      name: 'portcullis_bundle_created_timestamp_seconds',
      help: 'Unix time at which the active bundle was built.',
      // Across cluster workers (server.workers) the primary reports: the oldest bundle any worker serves.
      aggregator: 'min',
      registers,
    }),
    bundleLoadFailures: new Counter({
      name: 'portcullis_bundle_load_failures_total',
      help: 'Policy bundle loads that were rejected or failed, by reason.',
      labelNames: ['reason'],
      registers,
    }),
    decisionLogDrops: new Counter({
      name: 'portcullis_decision_log_dropped_total',
      help: 'Decision log records dropped because a sink was full or failing.',
      labelNames: ['sink'],
      registers,
    }),
    evalErrors: new Counter({
      name: 'portcullis_policy_evaluation_errors_total',
      help: 'Policy condition errors recorded under strict evaluation, by policy.',
      labelNames: ['policy'],
      registers,
    }),
    ready: new Gauge({
      name: 'portcullis_ready',
      help: '1 when the sidecar has a verified policy set and is ready to decide.',
      // Across cluster workers (server.workers) the primary reports: ready only when every worker is.
      aggregator: 'min',
      registers,
    }),
    candidateDisagreements: new Counter({
      name: 'portcullis_candidate_disagreements_total',
      help: 'Requests the candidate policy set would answer differently, by policy, rule and direction.',
      labelNames: ['policy', 'rule', 'direction'],
      registers,
    }),
    failureModes: new Counter({
      name: 'portcullis_failure_mode_decisions_total',
      help: 'Requests the sidecar could not decide, by governing policy, applied failure mode and reason.',
      labelNames: ['policy', 'mode', 'reason'],
      registers,
    }),
    breakGlassDecisions: new Counter({
      name: 'portcullis_break_glass_decisions_total',
      help: 'Denies turned into allows by a break-glass exception, by exception id.',
      labelNames: ['exception'],
      registers,
    }),
    rolloutInfo: new Gauge({
      name: 'portcullis_rollout_info',
      help: 'Rollout track of the active policy bundle (value 1) and whether a candidate set is shadowed.',
      labelNames: ['track', 'candidate'],
      // Across cluster workers (server.workers) the primary reports: the same in every worker.
      aggregator: 'max',
      registers,
    }),
  };
  for (const [code, reason] of KNOWN_FAULTS) metrics.faults.inc({ code, reason }, 0);
  return metrics;
}
