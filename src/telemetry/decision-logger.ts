import pino from 'pino';
import type { Decision } from '../types.js';
import type { TelemetryConfig } from './config.js';
import { buildDecisionLine, type DecisionRecord, lineOptions } from './decision-line.js';
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
function alwaysLogged(d: Decision): boolean {
  if (!d.allowed || d.errors.length > 0) return true;
  for (const s of d.shadow) if (!s.agrees) return true;
  return false;
}

function createSinks(
  config: TelemetryConfig['decisionLog'],
  deps: { metrics: Metrics; logger: pino.Logger },
) {
  const sinks: NamedSink[] = [];
  let lastWarn = 0;
  const dropped = (sink: string, count: number, why: string, detail: string) => {
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
  const options = lineOptions(config);
  const { sinks, destination, dropped } = createSinks(config, deps);
  const out = pino(
    { base: null, timestamp: false, level: 'info', formatters: { level: (label) => ({ level: label }) } },
    destination,
  );
  const rate = config.sampleAllows;
  let pending: DecisionRecord[] = [];
  let head = 0;
  let scheduled = false;
  let closed = false;

  const writeOne = (r: DecisionRecord) => {
    try {
      out.info(buildDecisionLine(r, options, alwaysLogged(r.decision) ? 1 : rate), 'decision');
    } catch (err) {
      dropped('queue', 1, 'serialize_failed', (err as Error).message);
    }
  };
  const drain = (limit: number) => {
    const end = Math.min(pending.length, head + limit);
    while (head < end) writeOne(pending[head++] as DecisionRecord);
    if (head >= pending.length) {
      pending = [];
      head = 0;
    } else if (head >= 4096 && head * 2 >= pending.length) {
      // Keep the backing array bounded when the drain runs behind for a long time.
      pending = pending.slice(head);
      head = 0;
    }
  };
  const onImmediate = () => {
    scheduled = false;
    drain(DRAIN_CHUNK);
    if (head < pending.length) schedule();
  };
  const schedule = () => {
    if (scheduled) return;
    scheduled = true;
    setImmediate(onImmediate);
  };
  const flush = async () => {
    drain(Number.POSITIVE_INFINITY);
    await Promise.all(sinks.map((s) => s.sink.flush(config.flushTimeoutMs)));
  };

  return {
    log(record) {
      try {
        if (closed) {
          dropped('queue', 1, 'closed', '');
          return;
        }
        if (rate < 1 && !alwaysLogged(record.decision) && (rate <= 0 || Math.random() >= rate)) return;
        if (pending.length - head >= config.maxPending) {
          dropped('queue', 1, 'queue_full', '');
          return;
        }
        pending.push(record);
        schedule();
      } catch {
        // log() must never throw into the Check path; a broken metric is not worth a failed request.
      }
    },
    flush,
    async close() {
      if (closed) return;
      await flush();
      closed = true;
      await Promise.all(sinks.map((s) => s.sink.close(config.flushTimeoutMs)));
    },
  };
}
