/**
 * Telemetry: Prometheus metrics, the process logger, the decision log and Check tracing.
 * Components receive these as dependencies; nothing here is a global.
 */

export { NEVER_LOGGED_HEADERS, type TelemetryConfig, telemetryConfigSchema } from './config.js';
export { DECISION_INPUT_VERSION, type DecisionRecord } from './decision-input.js';
export { createDecisionLogger, type DecisionLogger } from './decision-logger.js';
export { createLogger, serializeError } from './logger.js';
export {
  CHECK_LATENCY_BUCKETS,
  createMetrics,
  EVAL_LATENCY_BUCKETS,
  KNOWN_FAULTS,
  type Metrics,
} from './metrics.js';
export { scrubString } from './redact.js';
export { parseTraceparent, type TraceParent, traceIdFromTraceparent } from './trace-context.js';
export {
  CHECK_SPAN_NAME,
  type CheckOutcome,
  type CheckSpan,
  type CheckTracer,
  createTracer,
} from './tracer.js';
