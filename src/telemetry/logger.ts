import pino from 'pino';
import { isPortcullisError } from '../errors.js';
import type { TelemetryConfig } from './config.js';
import { REDACTED } from './redact.js';
import { createStreamSink } from './stream-sink.js';

/** Bytes of process log buffered on a stdout nobody reads before lines are dropped. */
const PROCESS_LOG_BUFFER_BYTES = 1_048_576;

// Defence in depth: credential-bearing fields are censored even if code logs a headers object.
const REDACT_PATHS = [
  'authorization',
  'cookie',
  'headers.authorization',
  'headers["proxy-authorization"]',
  'headers.cookie',
  'headers["set-cookie"]',
  'headers["x-forwarded-client-cert"]',
  '*.authorization',
  '*.cookie',
  '*.headers.authorization',
  '*.headers["proxy-authorization"]',
  '*.headers.cookie',
  '*.headers["set-cookie"]',
  '*.headers["x-forwarded-client-cert"]',
  'token',
  '*.token',
];

/** Serializes an error with its registered `code` (PortcullisError) and details. */
export function serializeError(err: unknown): Record<string, unknown> {
  // Components log `err: { code, message }` objects (the registered code is the point): keep them.
  if (typeof err === 'object' && err !== null && !(err instanceof Error)) return { ...err };
  if (!(err instanceof Error)) return { type: typeof err, message: String(err) };
  const out: Record<string, unknown> = { type: err.name, message: err.message };
  if (isPortcullisError(err)) {
    out.code = err.code;
    if (err.details.length > 0) out.details = err.details;
  } else {
    const code: unknown = (err as Error & { code?: unknown }).code;
    if (typeof code === 'string') out.code = code;
  }
  if (err.stack !== undefined) out.stack = err.stack;
  if (err.cause !== undefined) out.cause = serializeError(err.cause);
  return out;
}

/** Creates the process logger: JSON lines (ISO `time`, string `level`) to stdout or `destination`. */
export function createLogger(
  config: TelemetryConfig['log'],
  destination?: pino.DestinationStream,
): pino.Logger {
  const dest = destination ?? createStreamSink({ kind: 'stdout' }, PROCESS_LOG_BUFFER_BYTES, () => {});
  return pino(
    {
      level: config.level,
      base: { pid: process.pid },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      serializers: { err: serializeError, error: serializeError },
      redact: { paths: REDACT_PATHS, censor: REDACTED },
    },
    dest,
  );
}
