import { fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  type CheckRequest,
  CheckRequestSchema,
  type CheckResponse,
  CheckResponseSchema,
} from '../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import { capture } from '../global/capture.js';

const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

/** The outcome of one Check RPC: a response, or the gRPC error. */
export type CheckResult =
  | { ok: true; response: CheckResponse }
  | { ok: false; code: grpc.status; details: string };

/** A real grpc-js client for envoy.service.auth.v3.Authorization (as Envoy would call it). */
export class CheckClient {
  readonly client: grpc.Client;

  constructor(port: number, host = '127.0.0.1', options: grpc.ChannelOptions = {}) {
    this.client = new grpc.Client(`${host}:${port}`, grpc.credentials.createInsecure(), options);
  }

  /** Sends a CheckRequest (or raw bytes, to test undecodable input) with an optional deadline (ms). */
  check(req: CheckRequest | Uint8Array, timeoutMs = 5000): Promise<CheckResult> {
    const bytes = req instanceof Uint8Array ? req : toBinary(CheckRequestSchema, req);
    return new Promise((resolve) => {
      this.client.makeUnaryRequest(
        CHECK_PATH,
        (b: Uint8Array) => Buffer.from(b),
        (b: Buffer) => fromBinary(CheckResponseSchema, b),
        bytes,
        new grpc.Metadata(),
        { deadline: Date.now() + timeoutMs },
        (err, res) => {
          if (err) {
            capture('check:error', err.details);
            resolve({ ok: false, code: err.code, details: err.details });
            return;
          }
          const response = res as CheckResponse;
          if (response.httpResponse.case === 'deniedResponse')
            capture('check:deny', response.httpResponse.value.body);
          resolve({ ok: true, response });
        },
      );
    });
  }

  close(): void {
    this.client.close();
  }
}

/** Header value of an ok/denied response by name ('' when absent). */
export function responseHeader(res: CheckResponse, name: string): string {
  const r = res.httpResponse;
  const list = r.case === 'okResponse' || r.case === 'deniedResponse' ? r.value.headers : [];
  return list.find((h) => h.header?.key === name)?.header?.value ?? '';
}
