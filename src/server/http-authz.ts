import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import type { DecisionConfig } from '../decision/index.js';
import { toHttpResponse } from '../decision/index.js';
import { isPortcullisError } from '../errors.js';
import type { CheckTracer } from '../telemetry/index.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { AuthzInput, PeerInput } from '../types.js';
import type { Authorized, Authorizer } from './authorizer.js';
import {
  checkHeaderLimits,
  denyOverLimit,
  InFlightLimit,
  type LimitsConfig,
  type LimitViolation,
} from './limits.js';
import { normalizeHost } from './normalize.js';
import { joinInto, normalizeTarget } from './path.js';

/** "Cannot decide" conditions answered 503 (the proxy fails closed or open as configured). */
const UNAVAILABLE_CODES: ReadonlySet<string> = new Set([
  'jwks_unavailable',
  'resolver_failed',
  'resolver_bad_response',
]);

/** Options of the HTTP authorization front door. */
export interface HttpAuthzOptions {
  readonly pathPrefix: string;
  readonly maxBodyBytes: number;
  readonly timeoutMs: number;
  /** Check spans (a no-op when tracing is off). */
  readonly tracer?: CheckTracer;
  /** Content limits: header count and bytes (the body is bounded by `maxBodyBytes`). */
  readonly limits?: LimitsConfig;
  /** Requests decided at once; more are answered 503 (fault RESOURCE_EXHAUSTED). */
  readonly maxInFlight?: number;
}

const NO_LABELS: Readonly<Record<string, string>> = Object.freeze({});
const EMPTY_BYTES = new Uint8Array(0);

function header(h: Record<string, string>, name: string): string {
  return h[name] ?? '';
}

/**
 * Where the original request is described. nginx auth_request: `X-Original-URI`/`-Method`;
 * Traefik forwardAuth and Caddy forward_auth: `X-Forwarded-Method/-Uri/-Host/-Proto`;
 * otherwise Envoy's HTTP ext_authz mode: this request *is* the original (minus `path_prefix`).
 */
export function originalRequest(
  method: string,
  url: string,
  headers: Record<string, string>,
  prefix: string,
): { method: string; target: string; host: string; scheme: string; mode: string } {
  const host = header(headers, 'host');
  if (headers['x-original-uri'] !== undefined) {
    return {
      method: header(headers, 'x-original-method') || method,
      target: header(headers, 'x-original-uri'),
      host: header(headers, 'x-original-host') || host,
      scheme: header(headers, 'x-original-proto') || header(headers, 'x-forwarded-proto') || 'http',
      mode: 'nginx',
    };
  }
  if (headers['x-forwarded-uri'] !== undefined) {
    return {
      method: header(headers, 'x-forwarded-method') || method,
      target: header(headers, 'x-forwarded-uri'),
      host: header(headers, 'x-forwarded-host') || host,
      scheme: header(headers, 'x-forwarded-proto') || 'http',
      mode: 'forward-auth',
    };
  }
  const target = prefix && url.startsWith(prefix) ? url.slice(prefix.length) || '/' : url;
  return { method, target, host, scheme: header(headers, 'x-forwarded-proto') || 'http', mode: 'envoy-http' };
}

/** Lower-case names, repeated headers joined with ',' like Envoy (contract fact 12). */
function joinHeaders(req: IncomingMessage): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [name, values] of Object.entries(req.headersDistinct)) {
    if (values) joinInto(out, name, values.join(','));
  }
  return out;
}

/** Builds the pipeline's AuthzInput from a proxy's authorization subrequest. */
export function httpAuthzInput(req: IncomingMessage, body: string, prefix: string): AuthzInput {
  const raw = joinHeaders(req);
  const o = originalRequest(req.method ?? 'GET', req.url ?? '/', raw, prefix);
  const scheme = o.scheme.toLowerCase();
  const host = normalizeHost(o.host, scheme);
  // Pseudo-headers as Envoy's gRPC mode would send them, so policies behave identically.
  const headers = {
    ...raw,
    ':authority': host,
    ':method': o.method.toUpperCase(),
    ':path': o.target,
    ':scheme': scheme,
  };
  const t = normalizeTarget(o.target);
  const source: PeerInput = {
    address: req.socket.remoteAddress ?? '',
    port: req.socket.remotePort ?? 0,
    principal: '',
    certificate: '',
    service: '',
    labels: NO_LABELS,
  };
  const destination: PeerInput = {
    ...source,
    address: req.socket.localAddress ?? '',
    port: req.socket.localPort ?? 0,
  };
  const tp = raw.traceparent ?? '';
  return {
    source,
    destination,
    request: {
      id: '',
      method: o.method.toUpperCase(),
      path: t.path,
      rawPath: o.target,
      query: t.query,
      host,
      scheme,
      protocol: `HTTP/${req.httpVersion}`,
      headers,
      body,
      rawBody: EMPTY_BYTES,
      size: Buffer.byteLength(body),
      timeMs: Date.now(),
      pathInvalid: t.invalid,
    },
    contextExtensions: NO_LABELS,
    metadata: {},
    routeMetadata: {},
    requestId: raw['x-request-id'] ?? '',
    traceparent: /^[0-9a-f]{2}-[0-9a-f]{32}-[0-9a-f]{16}-[0-9a-f]{2}$/.test(tp) ? tp : '',
    tlsSni: '',
  };
}

function readBody(req: IncomingMessage, max: number): Promise<string | undefined> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > max) {
        resolve(undefined);
        req.resume();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    req.on('error', reject);
  });
}

function send(
  res: ServerResponse,
  status: number,
  headers: readonly { name: string; value: string }[],
  body: string,
): void {
  if (res.headersSent) return;
  const h: Record<string, string> = { 'cache-control': 'no-store' };
  for (const x of headers) h[x.name] = x.value;
  res.writeHead(status, h);
  res.end(body);
}

const HEADER_OVERFLOW_REPLY =
  'HTTP/1.1 431 Request Header Fields Too Large\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';
const BAD_REQUEST_REPLY = 'HTTP/1.1 400 Bad Request\r\nconnection: close\r\ncontent-length: 0\r\n\r\n';

/** Header count and bytes (names + values) of a request as received. */
function headerSize(req: IncomingMessage): { count: number; bytes: number } {
  let bytes = 0;
  for (const s of req.rawHeaders) bytes += s.length;
  return { count: req.rawHeaders.length / 2, bytes };
}

/** Unparsable requests (400) and header sections over `maxHeaderSize` (431, counted as a deny). */
function onClientError(metrics: Metrics) {
  return (err: NodeJS.ErrnoException, socket: Duplex) => {
    const tooLarge = err.code === 'HPE_HEADER_OVERFLOW';
    if (tooLarge)
      metrics.decisions.inc({ outcome: 'deny', reason: 'request_too_large', policy: 'none', api: 'http' });
    if (!socket.writable || err.code === 'ECONNRESET') socket.destroy();
    else socket.end(tooLarge ? HEADER_OVERFLOW_REPLY : BAD_REQUEST_REPLY);
  };
}

/** Creates the HTTP authorization server: same pipeline, same decisions and logs as gRPC. */
export function createHttpAuthzServer(
  authorizer: Authorizer,
  decision: DecisionConfig,
  metrics: Metrics,
  options: HttpAuthzOptions,
): Server {
  const inFlight = metrics.inFlight.labels({ api: 'http' });
  const slots = new InFlightLimit(options.maxInFlight ?? Number.MAX_SAFE_INTEGER);
  const limits = options.limits;
  const server = createServer(limits ? { maxHeaderSize: limits.maxHeaderBytes } : {}, (req, res) => {
    const start = process.hrtime.bigint();
    inFlight.inc();
    const acquired = slots.tryAcquire();
    let outcome: 'allow' | 'deny' | 'fault' = 'fault';
    let reason = 'internal_error';
    const span = options.tracer?.enabled
      ? options.tracer.startCheck(req.headers.traceparent?.toString() ?? '', 'http')
      : undefined;
    res.once('close', () => {
      inFlight.dec();
      if (acquired) slots.release();
      metrics.checkDuration.observe({ api: 'http', outcome }, Number(process.hrtime.bigint() - start) / 1e9);
      span?.end({ outcome, reason });
    });
    const fault = (status: number, code: string, why: string) => {
      reason = why;
      metrics.faults.inc({ code, reason: why });
      send(
        res,
        status,
        [{ name: 'content-type', value: 'application/json' }],
        JSON.stringify({ decision: 'error', reason: why }),
      );
    };
    const answer = (r: Authorized) => {
      outcome = r.decision.allowed ? 'allow' : 'deny';
      reason = r.decision.reason;
      const out = toHttpResponse(decision, r.decision, r);
      send(res, out.status, out.headers, out.body);
    };
    const overLimit = (v: LimitViolation) => {
      answer({
        decision: denyOverLimit(v, metrics, 'http'),
        decisionId: randomUUID(),
        principal: undefined,
        revision: '',
      });
      req.resume();
    };
    const onError = (e: unknown) => {
      if (isPortcullisError(e) && e.code === 'no_policy_loaded') fault(503, 'UNAVAILABLE', e.code);
      else if (isPortcullisError(e) && e.code === 'request_cancelled') fault(499, 'CANCELLED', e.code);
      else if (isPortcullisError(e) && UNAVAILABLE_CODES.has(e.code)) fault(503, 'UNAVAILABLE', e.code);
      else fault(500, 'INTERNAL', 'internal_error');
    };
    if (!acquired) {
      fault(503, 'RESOURCE_EXHAUSTED', 'resource_exhausted');
      req.resume();
      return;
    }
    const size = limits ? headerSize(req) : undefined;
    const tooMany = limits && size ? checkHeaderLimits(size.count, size.bytes, limits) : undefined;
    if (tooMany) {
      overLimit(tooMany);
      return;
    }
    res.setTimeout(options.timeoutMs, () => fault(504, 'DEADLINE_EXCEEDED', 'deadline_exceeded'));
    readBody(req, options.maxBodyBytes).then((body) => {
      if (body === undefined) {
        const max = options.maxBodyBytes;
        overLimit({ limit: 'maxBodyBytes', actual: max + 1, max, httpStatus: 413 });
        return;
      }
      try {
        const result = authorizer.authorize(
          httpAuthzInput(req, body, options.pathPrefix),
          'http',
          undefined,
          () => res.writableEnded || res.destroyed,
          Date.now() + options.timeoutMs,
        );
        if (result instanceof Promise) result.then(answer, onError);
        else answer(result);
      } catch (e) {
        onError(e);
      }
    }, onError);
  });
  // Our own count check replaces Node's silent truncation of headers past 2,000.
  if (limits) server.maxHeadersCount = 0;
  server.on('clientError', onClientError(metrics));
  return server;
}
