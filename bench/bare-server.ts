/**
 * The ceiling: a bare grpc-js `envoy.service.auth.v3.Authorization/Check` server that decodes the
 * request with protobuf-es and answers OK. No policy, no identity, no telemetry.
 *
 * Prints `{"msg":"bare serving","grpcPort":N}` once listening; SIGUSR2 prints
 * `{"msg":"bare stats","checks":N,"decodeErrors":N}`; SIGTERM stops it.
 */
import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import {
  type CheckRequest,
  CheckRequestSchema,
  type CheckResponse,
  CheckResponseSchema,
} from '../src/gen/envoy/service/auth/v3/external_auth_pb.js';

const stats = { checks: 0, decodeErrors: 0 };
const okResponse = create(CheckResponseSchema, { status: { code: 0 } });

const service: grpc.ServiceDefinition = {
  Check: {
    path: '/envoy.service.auth.v3.Authorization/Check',
    requestStream: false,
    responseStream: false,
    requestDeserialize: (bytes: Buffer) => fromBinary(CheckRequestSchema, bytes),
    requestSerialize: (message: CheckRequest) => Buffer.from(toBinary(CheckRequestSchema, message)),
    responseDeserialize: (bytes: Buffer) => fromBinary(CheckResponseSchema, bytes),
    responseSerialize: (message: CheckResponse) => Buffer.from(toBinary(CheckResponseSchema, message)),
  },
};

function check(
  call: grpc.ServerUnaryCall<CheckRequest, CheckResponse>,
  callback: grpc.sendUnaryData<CheckResponse>,
): void {
  // Touch the decoded request like a real server would, so the decode cannot be optimized away.
  if (call.request.attributes?.request?.http === undefined) stats.decodeErrors += 1;
  stats.checks += 1;
  callback(null, okResponse);
}

const port = Number(process.argv[2] ?? '0');
const server = new grpc.Server();
server.addService(service, { Check: check });
server.bindAsync(`127.0.0.1:${port}`, grpc.ServerCredentials.createInsecure(), (error, boundPort) => {
  if (error !== null) {
    process.stderr.write(`bare server: cannot listen: ${error.message}\n`);
    process.exit(1);
  }
  process.stdout.write(`${JSON.stringify({ msg: 'bare serving', grpcPort: boundPort })}\n`);
});
process.on('SIGUSR2', () => process.stdout.write(`${JSON.stringify({ msg: 'bare stats', ...stats })}\n`));
process.on('SIGTERM', () => server.tryShutdown(() => process.exit(0)));
