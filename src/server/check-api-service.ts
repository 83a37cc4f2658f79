import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { fromBinary, toBinary, toJson } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { type ErrorCode, isPortcullisError } from '../errors.js';
import {
  type CheckRequest as ApiCheckRequest,
  CheckRequestSchema as ApiCheckRequestSchema,
  type CheckResponse as ApiCheckResponse,
  CheckResponseSchema as ApiCheckResponseSchema,
} from '../gen/portcullis/v1/check_pb.js';
import type { Metrics } from '../telemetry/metrics.js';
import type { Authorizer } from './authorizer.js';
import {
  type ApiCaller,
  type ApiCheck,
  type ApiRequirement,
  apiAuthzInput,
  apiResponse,
  apiTargets,
  fromApiMessage,
  meetsRequirement,
  parseApiCheckJson,
} from './check-api.js';

/** What both transports of the check API share. */
export interface CheckApiDeps {
  readonly authorizer: Authorizer;
  readonly metrics: Metrics;
  readonly require: ApiRequirement;
  readonly maxTargets: number;
}

/** The outcome of one API call before it is put on the wire. */
type ApiOutcome =
  | { readonly kind: 'ok'; readonly response: ApiCheckResponse }
  | { readonly kind: 'unauthenticated'; readonly reason: string };

/** Identifies the caller once, decides every (resource, action), enforces `require`. */
export async function decideApiCheck(
  check: ApiCheck,
  caller: ApiCaller,
  deps: CheckApiDeps,
  abandoned: () => boolean,
): Promise<ApiOutcome> {
  const batch = await deps.authorizer.authorizeAll(
    apiAuthzInput(check, caller),
    'check',
    apiTargets(check),
    abandoned,
  );
  if (!batch.identity.ok) return { kind: 'unauthenticated', reason: batch.identity.reason };
  if (!meetsRequirement(batch.identity.principal, deps.require))
    return { kind: 'unauthenticated', reason: 'credential_missing' };
  return { kind: 'ok', response: apiResponse(check, batch) };
}

/** gRPC service definition of portcullis.v1.CheckService with protobuf-es (de)serializers. */
export const checkApiService = {
  check: {
    path: '/portcullis.v1.CheckService/Check',
    requestStream: false,
    responseStream: false,
    requestSerialize: (m: ApiCheckRequest) => Buffer.from(toBinary(ApiCheckRequestSchema, m)),
    requestDeserialize: (b: Buffer): ApiCheckRequest | { undecodable: string } => {
      try {
        return fromBinary(ApiCheckRequestSchema, b);
      } catch (e) {
        return { undecodable: (e as Error).message };
      }
    },
    responseSerialize: (m: ApiCheckResponse) => Buffer.from(toBinary(ApiCheckResponseSchema, m)),
    responseDeserialize: (b: Buffer) => fromBinary(ApiCheckResponseSchema, b),
  },
} satisfies grpc.ServiceDefinition;

function faultOf(e: unknown): { code: grpc.status; reason: ErrorCode; http: number } {
  if (isPortcullisError(e) && e.code === 'no_policy_loaded')
    return { code: grpc.status.UNAVAILABLE, reason: e.code, http: 503 };
  if (isPortcullisError(e) && e.code === 'request_cancelled')
    return { code: grpc.status.CANCELLED, reason: e.code, http: 499 };
  return { code: grpc.status.INTERNAL, reason: 'internal_error', http: 500 };
}

function metadataHeaders(md: grpc.Metadata): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(md.getMap())) if (typeof v === 'string') out[k] = v;
  return out;
}

function peerOf(peer: string): { address: string; port: number } {
  const m = /^(?:ipv4:|ipv6:)?\[?([^\]]*?)\]?:(\d+)$/.exec(peer);
  return m ? { address: m[1] ?? '', port: Number(m[2]) } : { address: '', port: 0 };
}

/** The gRPC handler of portcullis.v1.CheckService/Check. */
export function createCheckApiGrpcHandler(
  deps: CheckApiDeps,
): grpc.handleUnaryCall<ApiCheckRequest | { undecodable: string }, ApiCheckResponse> {
  return (call, callback) => {
    const fail = (code: grpc.status, reason: string, details: string) => {
      deps.metrics.faults.inc({ code: grpc.status[code] ?? String(code), reason });
      callback({ name: 'PortcullisFault', message: details, code, details, metadata: new grpc.Metadata() });
    };
    const req = call.request;
    if ('undecodable' in req) {
      fail(grpc.status.INVALID_ARGUMENT, 'invalid_request', `undecodable request: ${req.undecodable}`);
      return;
    }
    const parsed = fromApiMessage(req, deps.maxTargets);
    if (!parsed.ok) {
      fail(grpc.status.INVALID_ARGUMENT, 'invalid_request', parsed.problems.join('; '));
      return;
    }
    const caller: ApiCaller = { ...peerOf(call.getPeer()), headers: metadataHeaders(call.metadata) };
    decideApiCheck(parsed.check, caller, deps, () => call.cancelled).then(
      (out) => {
        if (out.kind === 'ok') callback(null, out.response);
        else
          callback({
            name: 'Unauthenticated',
            message: out.reason,
            code: grpc.status.UNAUTHENTICATED,
            details: out.reason,
            metadata: new grpc.Metadata(),
          });
      },
      (e: unknown) => {
        const f = faultOf(e);
        fail(f.code, f.reason, f.reason);
      },
    );
  };
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return;
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store' });
  res.end(`${JSON.stringify(body)}\n`);
}

function readJson(
  req: IncomingMessage,
  max: number,
): Promise<{ ok: true; value: unknown } | { ok: false; status: number; problem: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= max) chunks.push(c);
    });
    req.on('error', () => resolve({ ok: false, status: 400, problem: 'request body could not be read' }));
    req.on('end', () => {
      if (size > max) return resolve({ ok: false, status: 413, problem: `body larger than ${max} bytes` });
      try {
        resolve({ ok: true, value: JSON.parse(Buffer.concat(chunks).toString('utf8')) });
      } catch (e) {
        resolve({ ok: false, status: 400, problem: `body is not JSON: ${(e as Error).message}` });
      }
    });
  });
}

/** The HTTP JSON check API: `POST /v1/check` (proto3 JSON mapping of portcullis.v1). */
export function createCheckApiHttpServer(deps: CheckApiDeps, maxBodyBytes: number): Server {
  return createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path !== '/v1/check')
      return sendJson(res, 404, { error: 'not_found', problems: [`no such endpoint ${path}`] });
    if (req.method !== 'POST')
      return sendJson(res, 405, { error: 'method_not_allowed', problems: ['use POST'] });
    readJson(req, maxBodyBytes).then(async (body) => {
      if (!body.ok) return sendJson(res, body.status, { error: 'invalid_request', problems: [body.problem] });
      const parsed = parseApiCheckJson(body.value, deps.maxTargets);
      if (!parsed.ok) return sendJson(res, 400, { error: 'invalid_request', problems: parsed.problems });
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(req.headersDistinct)) if (v) headers[k] = v.join(',');
      const caller: ApiCaller = {
        address: req.socket.remoteAddress ?? '',
        port: req.socket.remotePort ?? 0,
        headers,
      };
      try {
        const out = await decideApiCheck(parsed.check, caller, deps, () => res.destroyed);
        if (out.kind === 'ok')
          sendJson(res, 200, toJson(ApiCheckResponseSchema, out.response, { alwaysEmitImplicit: true }));
        else sendJson(res, 401, { error: 'unauthenticated', reason: out.reason });
      } catch (e) {
        const f = faultOf(e);
        deps.metrics.faults.inc({ code: grpc.status[f.code] ?? String(f.code), reason: f.reason });
        sendJson(res, f.http, { error: f.reason });
      }
    });
  });
}
