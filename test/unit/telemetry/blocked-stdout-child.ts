// Run by decision-logger.test.ts with a stdout pipe that nobody reads: logs decisions as fast as it
// can (20,000 denies in bursts of 500) and reports on stderr how long log() took and how late the event loop ran.
import pino from 'pino';
import { createDecisionLogger, createMetrics } from '../../../src/telemetry/index.js';
import { decision, decisionLogConfig, dropsOf, record } from './fixtures.js';

const metrics = createMetrics({ defaultMetrics: false });
const logger = pino({ level: 'silent' });
const log = createDecisionLogger(
  decisionLogConfig({ sink: 'stdout', bufferBytes: 65_536, maxPending: 2000, flushTimeoutMs: 200 }),
  {
    metrics,
    logger,
  },
);
const deny = record({ decision: decision({ allowed: false }) });
let maxLogMicros = 0;
let totalLogMicros = 0;
let maxLagMs = 0;
let last = performance.now();
const ticker = setInterval(() => {
  const now = performance.now();
  maxLagMs = Math.max(maxLagMs, now - last - 5);
  last = now;
}, 5);
const TOTAL = 20_000;
let logged = 0;
function burst(): void {
  for (let i = 0; i < 500; i++) {
    const t = performance.now();
    log.log(deny);
    const micros = (performance.now() - t) * 1000;
    maxLogMicros = Math.max(maxLogMicros, micros);
    totalLogMicros += micros;
    logged++;
  }
  if (logged < TOTAL) {
    setTimeout(burst, 1);
    return;
  }
  clearInterval(ticker);
  void (async () => {
    const closeStart = performance.now();
    await log.close();
    const closeMs = performance.now() - closeStart;
    const dropped = await dropsOf(metrics, 'stdout');
    const queueDropped = await dropsOf(metrics, 'queue');
    const meanLogMicros = totalLogMicros / logged;
    const report = { logged, dropped, queueDropped, maxLogMicros, meanLogMicros, maxLagMs, closeMs };
    process.stderr.write(`${JSON.stringify(report)}\n`);
    process.exit(0);
  })();
}
burst();
