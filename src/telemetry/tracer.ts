import { createRequire } from 'node:module';
import type * as OtelApi from '@opentelemetry/api';
import type * as OtlpHttp from '@opentelemetry/exporter-trace-otlp-http';
import type * as OtelResources from '@opentelemetry/resources';
import type * as OtelSdk from '@opentelemetry/sdk-trace-base';
import type { TelemetryConfig } from './config.js';
import { parseTraceparent } from './trace-context.js';

/**
 * Optional OTLP spans for Check. Disabled (the default), `startCheck` returns one shared no-op span
 * and the OpenTelemetry SDK is never loaded: no allocation, no import cost.
 */

/** How a Check ended, recorded on its span. */
export interface CheckOutcome {
  readonly outcome: 'allow' | 'deny' | 'fault';
  /** Reason code (ErrorCode / `allowed` / `default_deny` / `denied_by_rule`). */
  readonly reason: string;
  readonly decisionId?: string;
  readonly policy?: string;
  /** gRPC status code name for faults, e.g. `UNAVAILABLE`. */
  readonly grpcCode?: string;
}

/** A started Check span. */
export interface CheckSpan {
  /** Trace id of the span ('' when not recording). */
  readonly traceId: string;
  /** Ends the span with the Check's outcome (idempotent). */
  end(outcome: CheckOutcome): void;
}

/** Starts Check spans. */
export interface CheckTracer {
  readonly enabled: boolean;
  /** Starts a span as a child of the W3C `traceparent` ('' or malformed: a new trace). */
  startCheck(traceparent: string, api?: string): CheckSpan;
  /** Exports pending spans and stops the exporter. */
  shutdown(): Promise<void>;
}

const NOOP_SPAN: CheckSpan = Object.freeze({ traceId: '', end() {} });
const NOOP_TRACER: CheckTracer = Object.freeze({
  enabled: false,
  startCheck: () => NOOP_SPAN,
  shutdown: () => Promise.resolve(),
});

/** The span name of a Check call. */
export const CHECK_SPAN_NAME = 'portcullis.check';

/** Creates the Check tracer; loads the OpenTelemetry SDK only when tracing is enabled. */
export function createTracer(config: TelemetryConfig['tracing']): CheckTracer {
  if (!config.enabled) return NOOP_TRACER;
  // Synchronous, lazy load of the SDK's CommonJS build keeps the disabled path free of it.
  const require = createRequire(import.meta.url);
  const api = require('@opentelemetry/api') as typeof OtelApi;
  const sdk = require('@opentelemetry/sdk-trace-base') as typeof OtelSdk;
  const { OTLPTraceExporter } = require('@opentelemetry/exporter-trace-otlp-http') as typeof OtlpHttp;
  const { resourceFromAttributes } = require('@opentelemetry/resources') as typeof OtelResources;

  const provider = new sdk.BasicTracerProvider({
    resource: resourceFromAttributes({ 'service.name': config.serviceName }),
    sampler: new sdk.ParentBasedSampler({ root: new sdk.TraceIdRatioBasedSampler(config.sampleRatio) }),
    spanProcessors: [new sdk.BatchSpanProcessor(new OTLPTraceExporter({ url: config.otlpEndpoint }))],
  });
  // Not registered globally: telemetry is passed in, never a global.
  const tracer = provider.getTracer('portcullis');

  return {
    enabled: true,
    startCheck(traceparent, apiName = 'grpc') {
      const parent = parseTraceparent(traceparent);
      const ctx =
        parent === undefined
          ? api.ROOT_CONTEXT
          : api.trace.setSpanContext(api.ROOT_CONTEXT, {
              traceId: parent.traceId,
              spanId: parent.parentId,
              traceFlags: parent.flags & 1,
              isRemote: true,
            });
      const span = tracer.startSpan(
        CHECK_SPAN_NAME,
        { kind: api.SpanKind.SERVER, attributes: { 'portcullis.api': apiName } },
        ctx,
      );
      const recording = span.isRecording();
      let ended = false;
      return {
        traceId: span.spanContext().traceId,
        end(o) {
          if (ended) return;
          ended = true;
          if (recording) {
            span.setAttribute('portcullis.outcome', o.outcome);
            span.setAttribute('portcullis.reason', o.reason);
            if (o.decisionId !== undefined) span.setAttribute('portcullis.decision_id', o.decisionId);
            if (o.policy !== undefined) span.setAttribute('portcullis.policy', o.policy);
            if (o.grpcCode !== undefined) span.setAttribute('rpc.grpc.status_code', o.grpcCode);
            if (o.outcome === 'fault') span.setStatus({ code: api.SpanStatusCode.ERROR, message: o.reason });
          }
          span.end();
        },
      };
    },
    shutdown: () => provider.shutdown(),
  };
}
