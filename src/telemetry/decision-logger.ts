import pino from 'pino';
import type { Decision } from '../types.js';
import type { TelemetryConfig } from './config.js';
import { type DecisionRecord, type LineOptions, lineOptions } from './decision-input.js';
import { buildDecisionLine } from './decision-line.js';
import { createHttpSink } from './http-sink.js';
import type { Metrics } from './metrics.js';
import { createStreamSink, type LineSink } from './stream-sink.js';

/**
 * The decision log: one JSON line per decision (denies always, allows sampled), written through
 * pino to bounded sinks. `log()` only samples and enqueues; lines are built and written on a later
 * turn of the event loop, so neither serialization nor a slow sink ever delays a Check.
 */

/** Writes decision records; safe to call on the hot path. */
export interface DecisionLogger {
  /** Records one decision: synchronous, O(1), never blocks or throws (overflow is counted). */
  log(record: DecisionRecord): void;
  /** Writes everything accepted so far (waits at most `flushTimeoutMs` for slow sinks). */
  flush(): Promise<void>;
  /** Flushes, then releases the sinks; later records are dropped. */
  close(): Promise<void>;
}

/** Records serialized per event-loop turn, so a burst never holds the loop for long. */
const DRAIN_CHUNK = 64;
/** Minimum interval between two "lines dropped" warnings in the process log (ms). */
const WARN_INTERVAL_MS = 10_000;

/** Counts (and, rate-limited, reports) dropped lines. */
type Dropped = (sink: string, count: number, why: string, detail: string) => void;

interface NamedSink {
  readonly name: string;
  readonly sink: Pick<LineSink, 'write' | 'flush' | 'close'>;
}

const NOOP_LOGGER: DecisionLogger = Object.freeze({
  log() {},
  flush: () => Promise.resolve(),
  close: () => Promise.resolve(),
});

/** Must this decision be logged whatever the allow sampling says? */
function alwaysLogged(d: Decision, candidate?: Decision): boolean {
  if (!d.allowed || d.errors.length > 0) return true;
  // Exceptions to the policy, and answers the candidate set would change, are always on record.
  if (d.reason === 'break_glass' || d.reason === 'failure_mode_open') return true;
  if (candidate !== undefined && !candidate.allowed) return true;
  for (const s of d.shadow) if (!s.agrees) return true;
  return false;
}

function createSinks(
  config: TelemetryConfig['decisionLog'],
  deps: { metrics: Metrics; logger: pino.Logger },
) {
  const sinks: NamedSink[] = [];
  let lastWarn = 0;
  const dropped: Dropped = (sink, count, why, detail) => {
    deps.metrics.decisionLogDrops.inc({ sink }, count);
    const now = Date.now();
    if (now - lastWarn < WARN_INTERVAL_MS) return;
    lastWarn = now;
    deps.logger.warn({ sink, count, why, detail }, 'decision log lines dropped');
  };
  if (config.sink !== 'none') {
    const target =
      config.sink === 'file' ? { kind: 'file' as const, path: config.file } : { kind: config.sink };
    const sink = createStreamSink(target, config.bufferBytes, (err) =>
      deps.logger.error({ err, sink: config.sink }, 'decision log sink failed; its lines are dropped'),
    );
    sinks.push({ name: config.sink, sink });
  }
  if (config.http.enabled) {
    const sink = createHttpSink(config.http, { onDrop: (n, why, detail) => dropped('http', n, why, detail) });
    sinks.push({ name: 'http', sink });
  }
  // Zero-initialise the drop series so dashboards and alerts see them before the first drop.
  for (const s of ['queue', ...sinks.map((x) => x.name)]) deps.metrics.decisionLogDrops.inc({ sink: s }, 0);
  const destination = {
    write(line: string) {
      for (const s of sinks) {
        // The HTTP sink reports its own drops (queue full, retries exhausted) through onDrop.
        if (!s.sink.write(line) && s.name !== 'http') dropped(s.name, 1, 'buffer_full', '');
      }
    },
  };
  return { sinks, destination, dropped };
}

/** Creates the decision logger for a validated `decisionLog` config. */
export function createDecisionLogger(
  config: TelemetryConfig['decisionLog'],
  deps: { metrics: Metrics; logger: pino.Logger },
): DecisionLogger {
  if (!config.enabled || (config.sink === 'none' && !config.http.enabled)) return NOOP_LOGGER;
  return new AsyncDecisionLogger(config, deps);
}

/** Samples on log(), queues records, and serializes them a chunk per event-loop turn. */
class AsyncDecisionLogger implements DecisionLogger {
  private readonly options: LineOptions;
  private readonly sinks: readonly NamedSink[];
  private readonly dropped: Dropped;
  private readonly out: pino.Logger;
  private readonly rate: number;
  private pending: DecisionRecord[] = [];
  private head = 0;
  private scheduled = false;
  private closed = false;
  private readonly onImmediate = () => {
    this.scheduled = false;
    this.drain(DRAIN_CHUNK);
    if (this.head < this.pending.length) this.schedule();
  };

  constructor(
    private readonly config: TelemetryConfig['decisionLog'],
    deps: { metrics: Metrics; logger: pino.Logger },
  ) {
    this.options = lineOptions(config);
    this.rate = config.sampleAllows;
    const { sinks, destination, dropped } = createSinks(config, deps);
    this.sinks = sinks;
    this.dropped = dropped;
    this.out = pino(
      { base: null, timestamp: false, level: 'info', formatters: { level: (label) => ({ level: label }) } },
      destination,
    );
  }

  log(record: DecisionRecord): void {
    try {
      if (this.closed) {
        this.dropped('queue', 1, 'closed', '');
        return;
      }
      const rate = this.rate;
      if (
        rate < 1 &&
        !alwaysLogged(record.decision, record.candidate) &&
        (rate <= 0 || Math.random() >= rate)
      )
        return;
      if (this.pending.length - this.head >= this.config.maxPending) {
        this.dropped('queue', 1, 'queue_full', '');
        return;
      }
      this.pending.push(record);
      this.schedule();
    } catch {
      // log() must never throw into the Check path; a broken metric is not worth a failed request.
    }
  }

  async flush(): Promise<void> {
    this.drain(Number.POSITIVE_INFINITY);
    await Promise.all(this.sinks.map((s) => s.sink.flush(this.config.flushTimeoutMs)));
  }

  async close(): Promise<void> {
    if (this.closed) return;
    await this.flush();
    this.closed = true;
    await Promise.all(this.sinks.map((s) => s.sink.close(this.config.flushTimeoutMs)));
  }

  private schedule(): void {
    if (this.scheduled) return;
    this.scheduled = true;
    setImmediate(this.onImmediate);
  }

  /** Serializes and writes up to `limit` queued records. */
  private drain(limit: number): void {
    const end = Math.min(this.pending.length, this.head + limit);
    while (this.head < end) this.writeOne(this.pending[this.head++] as DecisionRecord);
    if (this.head >= this.pending.length) {
      this.pending = [];
      this.head = 0;
    } else if (this.head >= 4096 && this.head * 2 >= this.pending.length) {
      // Keep the backing array bounded when the drain runs behind for a long time.
      this.pending = this.pending.slice(this.head);
      this.head = 0;
    }
  }

  private writeOne(r: DecisionRecord): void {
    try {
      this.out.info(
        buildDecisionLine(r, this.options, alwaysLogged(r.decision, r.candidate) ? 1 : this.rate),
        'decision',
      );
    } catch (err) {
      this.dropped('queue', 1, 'serialize_failed', (err as Error).message);
    }
  }
}
