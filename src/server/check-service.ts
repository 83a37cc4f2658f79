import { randomUUID } from 'node:crypto';
import { toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import type { Responder } from '../decision/index.js';
import { type ErrorCode, isPortcullisError } from '../errors.js';
import { type CheckRequest, CheckRequestSchema } from '../gen/envoy/service/auth/v3/external_auth_pb.js';
import type { CheckSpan, CheckTracer } from '../telemetry/index.js';
import { type HistogramChild, histogramChild, type Metrics } from '../telemetry/metrics.js';
import type { Authorized, Authorizer } from './authorizer.js';
import { decodeCheckRequest, type Undecodable } from './check-request-decoder.js';
import type { CheckRequestView } from './check-request-view.js';
import { checkRequestLimits, denyOverLimit, type LimitsConfig } from './limits.js';
import { normalizeCheckRequest } from './normalize.js';

/** The Authorization service with protobuf-es (de)serializers — no dynamic proto loading. */
export const authorizationService = {
  check: {
    path: '/envoy.service.auth.v3.Authorization/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: CheckRequest) => Buffer.from(toBinary(CheckRequestSchema, m)),
    // Only the fields normalize and the limits read, straight from the wire (check-request-decoder.ts).
    requestDeserialize: decodeCheckRequest,
    // The handler answers with CheckResponse wire bytes (decision/encode.ts), not a message.
    responseSerialize: (bytes: Uint8Array) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    responseDeserialize: (b: Buffer): Uint8Array => b,
  },
} satisfies grpc.ServiceDefinition;

/** The gRPC service name, for health checks. */
export const AUTHORIZATION_SERVICE_NAME = 'envoy.service.auth.v3.Authorization';

const FAULT_STATUS: Partial<Record<ErrorCode, grpc.status>> = {
  no_policy_loaded: grpc.status.UNAVAILABLE,
  invalid_request: grpc.status.INVALID_ARGUMENT,
  deadline_exceeded: grpc.status.DEADLINE_EXCEEDED,
  request_cancelled: grpc.status.CANCELLED,
  resource_exhausted: grpc.status.RESOURCE_EXHAUSTED,
  jwks_unavailable: grpc.status.UNAVAILABLE,
  resolver_failed: grpc.status.UNAVAILABLE,
  resolver_bad_response: grpc.status.UNAVAILABLE,
};

/** What the Check handler is built from. */
export interface CheckHandlerDeps {
  readonly authorizer: Authorizer;
  readonly responder: Responder;
  readonly metrics: Metrics;
  readonly tracer: CheckTracer;
}

/** Limits the handler enforces. */
export interface CheckHandlerOptions {
  readonly maxInFlight: number;
  /** Budget (ms) when the caller sent no grpc-timeout. */
  readonly defaultTimeoutMs: number;
  /** Content limits (header count/bytes, embedded body); over one is a `request_too_large` deny. */
  readonly limits?: LimitsConfig;
}

type Outcome = 'allow' | 'deny' | 'fault';

/** Creates the Check handler: normalize → identify/evaluate → respond, faults as gRPC errors. */
export function createCheckHandler(
  deps: CheckHandlerDeps,
  options: CheckHandlerOptions,
): grpc.handleUnaryCall<CheckRequestView | Undecodable, Uint8Array> {
  const { authorizer, responder, metrics, tracer } = deps;
  let inFlight = 0;
  metrics.inFlightFrom('grpc', () => inFlight);
  // One hot-path child per outcome instead of a label object per call (each series starts at zero).
  const durations: Record<Outcome, HistogramChild> = {
    allow: histogramChild(metrics.checkDuration, { api: 'grpc', outcome: 'allow' }),
    deny: histogramChild(metrics.checkDuration, { api: 'grpc', outcome: 'deny' }),
    fault: histogramChild(metrics.checkDuration, { api: 'grpc', outcome: 'fault' }),
  };

  /** One Check in progress: answered once, whichever of decision, fault, deadline or cancel comes first. */
  class CheckCall {
    finished = false;
    timer: NodeJS.Timeout | undefined = undefined;
    span: CheckSpan | undefined = undefined;
    readonly startNs = process.hrtime.bigint();
    /** For the authorizer: stop working for a caller that is gone. */
    readonly abandoned = (): boolean => this.finished || this.call.cancelled;

    constructor(
      readonly call: grpc.ServerUnaryCall<CheckRequestView | Undecodable, Uint8Array>,
      readonly callback: grpc.sendUnaryData<Uint8Array>,
    ) {}

    finish(err: grpc.ServiceError | null, res: Uint8Array | undefined, outcome: Outcome, reason: string) {
      if (this.finished) return;
      this.finished = true;
      if (this.timer) clearTimeout(this.timer);
      inFlight--;
      durations[outcome].observe(Number(process.hrtime.bigint() - this.startNs) / 1e9);
      this.span?.end({
        outcome,
        reason,
        ...(err ? { grpcCode: grpc.status[err.code ?? 2] ?? 'UNKNOWN' } : {}),
      });
      if (err) this.callback(err);
      else this.callback(null, res);
    }

    fault(code: grpc.status, reason: ErrorCode, details: string) {
      if (this.finished) return;
      metrics.faults.inc({ code: grpc.status[code] ?? String(code), reason });
      this.finish(
        { name: 'PortcullisFault', message: details, code, details, metadata: new grpc.Metadata() },
        undefined,
        'fault',
        reason,
      );
    }

    onError(e: unknown) {
      if (isPortcullisError(e)) this.fault(FAULT_STATUS[e.code] ?? grpc.status.INTERNAL, e.code, e.message);
      else this.fault(grpc.status.INTERNAL, 'internal_error', 'internal error');
    }

    respond(r: Authorized) {
      if (this.finished) return;
      try {
        const outcome = r.decision.allowed ? 'allow' : 'deny';
        this.finish(null, responder.toCheckResponseBytes(r.decision, r), outcome, r.decision.reason);
      } catch (e) {
        this.onError(e);
      }
    }

    /** Async work (a token to verify, a resource to fetch): honour the deadline and cancellation. */
    awaitDecision(result: Promise<Authorized>, deadlineMs: number) {
      this.timer = setTimeout(
        () =>
          this.fault(
            grpc.status.DEADLINE_EXCEEDED,
            'deadline_exceeded',
            'deadline exceeded before a decision',
          ),
        Math.max(0, deadlineMs - Date.now()),
      );
      this.call.once('cancelled', () =>
        this.fault(grpc.status.CANCELLED, 'request_cancelled', 'cancelled by the caller'),
      );
      result.then(
        (r) => this.respond(r),
        (e: unknown) => this.onError(e),
      );
    }
  }

  return function check(call, callback) {
    const c = new CheckCall(call, callback);
    inFlight++;
    if (inFlight > options.maxInFlight) {
      c.fault(grpc.status.RESOURCE_EXHAUSTED, 'resource_exhausted', 'too many Checks in flight');
      return;
    }
    const req = call.request;
    if ('undecodable' in req) {
      c.fault(
        grpc.status.INVALID_ARGUMENT,
        'invalid_request',
        `undecodable CheckRequest: ${req.undecodable}`,
      );
      return;
    }
    const over = options.limits === undefined ? undefined : checkRequestLimits(req, options.limits);
    if (over !== undefined) {
      const decision = denyOverLimit(over, metrics, 'grpc');
      c.respond({ decision, decisionId: randomUUID(), principal: undefined, revision: '' });
      return;
    }
    try {
      const input = normalizeCheckRequest(req);
      if (tracer.enabled) c.span = tracer.startCheck(input.traceparent, 'grpc');
      const deadline = call.getDeadline();
      const callerDeadlineMs = deadline instanceof Date ? deadline.getTime() : Number(deadline);
      const deadlineMs = Number.isFinite(callerDeadlineMs)
        ? callerDeadlineMs - 1
        : Date.now() + options.defaultTimeoutMs;
      const result = authorizer.authorize(input, 'grpc', undefined, c.abandoned, deadlineMs);
      if (result instanceof Promise) c.awaitDecision(result, deadlineMs);
      else c.respond(result);
    } catch (e) {
      c.onError(e);
    }
  };
}
