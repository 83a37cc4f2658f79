/**
 * A lean gRPC client on node:http2 for load (fuzzing, soak): frames the request bytes itself
 * (1 byte flag, 4-byte length, message) and reads `grpc-status` from trailers, or from the
 * headers of a trailers-only answer — the way Envoy's own gRPC client speaks to the sidecar.
 */
import { type ClientHttp2Session, type ClientHttp2Stream, connect, constants } from 'node:http2';
import { fromBinary } from '@bufbuild/protobuf';
import { CheckResponseSchema } from '../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import type { CheckResult } from '../helpers/check-client.js';

const PATH = '/envoy.service.auth.v3.Authorization/Check';
/** grpc-status 4, as a client that gave up reports it. */
const DEADLINE_EXCEEDED = 4;

/** One HTTP/2 connection to the gRPC port. */
export class H2CheckClient {
  private session: ClientHttp2Session;
  private closed = false;

  constructor(private readonly port: number) {
    this.session = this.connect();
  }

  private connect(): ClientHttp2Session {
    const session = connect(`http://127.0.0.1:${this.port}`);
    session.on('error', () => {});
    return session;
  }

  /** Sends encoded CheckRequest bytes with a deadline (ms); resolves with the response or gRPC error. */
  check(bytes: Uint8Array, timeoutMs: number): Promise<CheckResult> {
    return new Promise((resolve) => {
      const frame = Buffer.allocUnsafe(5 + bytes.length);
      frame[0] = 0;
      frame.writeUInt32BE(bytes.length, 1);
      frame.set(bytes, 5);
      // A connection the server closed (GOAWAY, reset) is replaced, as Envoy would.
      if (!this.closed && (this.session.destroyed || this.session.closed)) this.session = this.connect();
      let stream: ClientHttp2Stream;
      try {
        stream = this.session.request({
          ':method': 'POST',
          ':path': PATH,
          'content-type': 'application/grpc',
          te: 'trailers',
          'grpc-timeout': `${timeoutMs}m`,
        });
      } catch (e) {
        resolve({ ok: false, code: 14, details: `cannot open a stream: ${(e as Error).message}` });
        return;
      }
      const chunks: Buffer[] = [];
      let status: string | undefined;
      let message = '';
      let settled = false;
      const done = (r: CheckResult) => {
        if (settled) return;
        settled = true;
        clearTimeout(timer);
        resolve(r);
      };
      const timer = setTimeout(() => {
        stream.close(constants.NGHTTP2_CANCEL);
        done({ ok: false, code: DEADLINE_EXCEEDED, details: 'client deadline' });
      }, timeoutMs + 50);
      const read = (h: Record<string, unknown>) => {
        if (h['grpc-status'] !== undefined) status = String(h['grpc-status']);
        if (h['grpc-message'] !== undefined) message = decodeURIComponent(String(h['grpc-message']));
      };
      stream.on('response', read);
      stream.on('trailers', read);
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('error', () => {});
      stream.on('close', () => {
        if (status === undefined) {
          done({ ok: false, code: 14, details: `stream closed without grpc-status (rst ${stream.rstCode})` });
          return;
        }
        if (status !== '0') {
          done({ ok: false, code: Number(status), details: message });
          return;
        }
        const body = Buffer.concat(chunks);
        try {
          done({
            ok: true,
            response: fromBinary(CheckResponseSchema, body.subarray(5, 5 + body.readUInt32BE(1))),
          });
        } catch (e) {
          done({ ok: false, code: 13, details: `undecodable response: ${(e as Error).message}` });
        }
      });
      stream.end(frame);
    });
  }

  close(): void {
    this.closed = true;
    this.session.close();
  }
}
