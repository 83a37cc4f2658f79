import { z } from 'zod';

/**
 * Telemetry configuration: process log, decision log (sinks, sampling, redaction) and tracing.
 * Defaults live in the schema; unknown keys are errors.
 */

/** Header names that never reach a decision log line, whatever the configuration says. */
export const NEVER_LOGGED_HEADERS: readonly string[] = Object.freeze([
  'authorization',
  'proxy-authorization',
  'cookie',
  'set-cookie',
]);

const headerName = z
  .string()
  .regex(/^:?[a-z0-9!#$%&'*+.^_`|~-]+$/, 'must be a lower-case HTTP header name')
  .describe('A lower-case HTTP header name.');

const httpSinkSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Also send decision lines to an HTTP collector.'),
    url: z
      .string()
      .default('')
      .describe('Collector URL (http or https); batches are POSTed as NDJSON (application/x-ndjson).'),
    batchSize: z.number().int().min(1).max(10_000).default(500).describe('Lines per POST at most.'),
    flushIntervalMs: z
      .number()
      .int()
      .min(10)
      .max(600_000)
      .default(1000)
      .describe('Send a partial batch after this many milliseconds.'),
    maxQueue: z
      .number()
      .int()
      .min(1)
      .max(10_000_000)
      .default(20_000)
      .describe('Lines held while the collector is slow or down; newer lines are dropped (and counted).'),
    maxRetries: z
      .number()
      .int()
      .min(0)
      .max(100)
      .default(5)
      .describe('Retries of a failed batch (5xx, 408, 429, timeout, network) before it is dropped.'),
    timeoutMs: z.number().int().min(1).max(600_000).default(5000).describe('Timeout of one POST (ms).'),
    backoffMs: z
      .number()
      .int()
      .min(1)
      .max(600_000)
      .default(200)
      .describe('First retry delay (ms); doubles per attempt, with full jitter.'),
    maxBackoffMs: z
      .number()
      .int()
      .min(1)
      .max(3_600_000)
      .default(10_000)
      .describe('Longest retry delay (ms).'),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.enabled && !/^https?:\/\/[^\s/]+/.test(v.url)) {
      ctx.addIssue({ code: 'custom', path: ['url'], message: 'an http(s) URL is required when enabled' });
    }
  })
  .describe('Optional HTTP batch sink to a decision-log collector.');

const decisionLogSchema = z
  .object({
    enabled: z.boolean().default(true).describe('Write one JSON line per logged decision.'),
    sampleAllows: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe(
        'Fraction of allows logged (0..1). Denies, and allows with a shadow disagreement or an evaluation error, are always logged.',
      ),
    includeQuery: z
      .boolean()
      .default(false)
      .describe('Log the parsed query string (secret-looking parameters are still redacted).'),
    redactHeaders: z
      .array(headerName)
      .default(['x-api-key', 'x-auth-token', 'x-csrf-token', 'x-amz-security-token'])
      .describe('Extra header names that are never logged (authorization, cookies are always excluded).'),
    recordHeaders: z
      .array(headerName)
      .default(['content-type', 'user-agent'])
      .describe(
        'Request headers kept in the replayable `input` (never authorization, cookies or redacted ones).',
      ),
    redactClaims: z
      .array(z.string().min(1))
      .default([])
      .describe('Principal claim names removed from the replayable `input` (e.g. email).'),
    maxStringLength: z
      .number()
      .int()
      .min(64)
      .max(1_048_576)
      .default(4096)
      .describe('Longer strings are cut (the line then carries `"truncated": true`).'),
    maxPending: z
      .number()
      .int()
      .min(1)
      .max(1_000_000)
      .default(10_000)
      .describe('Records accepted by log() and not yet serialized; more are dropped (sink "queue").'),
    bufferBytes: z
      .number()
      .int()
      .min(4096)
      .max(1_073_741_824)
      .default(8_388_608)
      .describe('Bytes buffered for a slow stream sink before lines are dropped (and counted).'),
    sink: z.enum(['stdout', 'stderr', 'file', 'none']).default('stdout').describe('Where decision lines go.'),
    file: z.string().default('').describe('Path of the decision log when sink is "file" (appended).'),
    flushTimeoutMs: z
      .number()
      .int()
      .min(0)
      .max(600_000)
      .default(2000)
      .describe('How long flush()/close() wait for a slow sink before giving up (ms).'),
    http: httpSinkSchema.default(httpSinkSchema.parse({})),
  })
  .strict()
  .superRefine((v, ctx) => {
    if (v.sink === 'file' && v.file === '') {
      ctx.addIssue({ code: 'custom', path: ['file'], message: 'a path is required when sink is "file"' });
    }
    v.recordHeaders.forEach((h, i) => {
      if (NEVER_LOGGED_HEADERS.includes(h) || v.redactHeaders.includes(h)) {
        ctx.addIssue({
          code: 'custom',
          path: ['recordHeaders', i],
          message: `header "${h}" is never logged`,
        });
      }
    });
  })
  .describe('The decision log: one JSON line per decision, asynchronous and bounded.');

const logSchema = z
  .object({
    level: z
      .enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
      .default('info')
      .describe('Minimum level of the process log (JSON lines on stdout).'),
  })
  .strict()
  .describe('The process log.');

const tracingSchema = z
  .object({
    enabled: z.boolean().default(false).describe('Export an OTLP span per Check (off: zero cost).'),
    otlpEndpoint: z
      .string()
      .regex(/^https?:\/\/[^\s/]+/, 'must be an http(s) URL')
      .default('http://127.0.0.1:4318/v1/traces')
      .describe('OTLP/HTTP traces endpoint (JSON encoding).'),
    serviceName: z.string().min(1).default('portcullis').describe('The `service.name` resource attribute.'),
    sampleRatio: z
      .number()
      .min(0)
      .max(1)
      .default(1)
      .describe('Ratio of new traces sampled; an incoming `traceparent` sampled flag is honoured.'),
  })
  .strict()
  .describe('OpenTelemetry tracing of Check calls.');

/** Zod schema of the `telemetry` config section (strict, with defaults). */
export const telemetryConfigSchema = z
  .object({
    log: logSchema.default(logSchema.parse({})),
    decisionLog: decisionLogSchema.default(decisionLogSchema.parse({})),
    tracing: tracingSchema.default(tracingSchema.parse({})),
  })
  .strict()
  .describe('Logs, decision logs and traces.');

/** The validated `telemetry` config section. */
export type TelemetryConfig = z.infer<typeof telemetryConfigSchema>;
