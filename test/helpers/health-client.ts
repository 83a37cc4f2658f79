import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import type * as grpc from '@grpc/grpc-js';
import {
  HealthCheckRequestSchema,
  type HealthCheckResponse,
  HealthCheckResponseSchema,
  HealthCheckResponse_ServingStatus as ServingStatus,
} from '../../src/gen/health/v1/health_pb.js';

export { ServingStatus };

const serialize = (service: string) =>
  Buffer.from(toBinary(HealthCheckRequestSchema, create(HealthCheckRequestSchema, { service })));
const deserialize = (b: Buffer): HealthCheckResponse => fromBinary(HealthCheckResponseSchema, b);

/** grpc.health.v1.Health/Check → the status, or the gRPC error code. */
export function healthCheck(client: grpc.Client, service: string): Promise<ServingStatus | grpc.status> {
  return new Promise((resolve) => {
    client.makeUnaryRequest('/grpc.health.v1.Health/Check', serialize, deserialize, service, (err, res) => {
      resolve(err ? err.code : (res as HealthCheckResponse).status);
    });
  });
}

/** grpc.health.v1.Health/Watch: collects every status streamed until the stream ends or `stop()`. */
export function healthWatch(
  client: grpc.Client,
  service: string,
): { statuses: ServingStatus[]; ended: Promise<void>; stop(): void } {
  const statuses: ServingStatus[] = [];
  const call = client.makeServerStreamRequest(
    '/grpc.health.v1.Health/Watch',
    serialize,
    deserialize,
    service,
  );
  call.on('data', (m: HealthCheckResponse) => statuses.push(m.status));
  const ended = new Promise<void>((resolve) => {
    call.on('error', () => resolve());
    call.on('end', () => resolve());
  });
  return { statuses, ended, stop: () => call.cancel() };
}
