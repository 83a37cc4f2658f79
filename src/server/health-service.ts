/**
 * grpc.health.v1.Health (Check, Watch, List) on the protobuf-es generated messages. Same
 * behaviour as the grpc-health-check package, which loads health.proto at start-up with
 * protobufjs and @grpc/proto-loader (~1.7 MiB of heap for three small messages).
 * Spec: https://github.com/grpc/grpc/blob/master/doc/health-checking.md
 */
import { create, fromBinary, type Message, toBinary } from '@bufbuild/protobuf';
import type { GenMessage } from '@bufbuild/protobuf/codegenv2';
import * as grpc from '@grpc/grpc-js';
import {
  type HealthCheckRequest,
  HealthCheckRequestSchema,
  type HealthCheckResponse,
  HealthCheckResponse_ServingStatus,
  HealthCheckResponseSchema,
  type HealthListRequest,
  HealthListRequestSchema,
  type HealthListResponse,
  HealthListResponseSchema,
} from '../gen/health/v1/health_pb.js';

/** A service's status as set by the sidecar. */
export type HealthStatus = 'SERVING' | 'NOT_SERVING';

/** grpc-health-check's cap on List (more services is RESOURCE_EXHAUSTED). */
const LIST_LIMIT = 100;

function method<Req extends Message, Res extends Message>(
  name: 'Check' | 'Watch' | 'List',
  req: GenMessage<Req>,
  res: GenMessage<Res>,
) {
  return {
    path: `/grpc.health.v1.Health/${name}`,
    requestStream: false,
    responseStream: name === 'Watch',
    requestSerialize: (m: Req) => Buffer.from(toBinary(req, m)),
    requestDeserialize: (b: Buffer) => fromBinary(req, b),
    responseSerialize: (m: Res) => Buffer.from(toBinary(res, m)),
    responseDeserialize: (b: Buffer) => fromBinary(res, b),
  };
}

const healthService = {
  check: method('Check', HealthCheckRequestSchema, HealthCheckResponseSchema),
  watch: method('Watch', HealthCheckRequestSchema, HealthCheckResponseSchema),
  list: method('List', HealthListRequestSchema, HealthListResponseSchema),
} satisfies grpc.ServiceDefinition;

const response = (status: HealthCheckResponse_ServingStatus) => create(HealthCheckResponseSchema, { status });

/** The health service: statuses per service name ('' = the whole server), watched by Watch streams. */
export class HealthService {
  private readonly statuses = new Map<string, HealthStatus>();
  private readonly watchers = new Map<string, Set<(s: HealthStatus) => void>>();

  constructor(initial: Readonly<Record<string, HealthStatus>>) {
    for (const [service, status] of Object.entries(initial)) this.statuses.set(service, status);
  }

  /** Sets a service's status and streams it to its watchers. */
  setStatus(service: string, status: HealthStatus): void {
    this.statuses.set(service, status);
    for (const w of this.watchers.get(service) ?? []) w(status);
  }

  /** Registers Check, Watch and List on a gRPC server. */
  addToServer(server: grpc.Server): void {
    server.addService(healthService, {
      check: ((call, callback) => {
        const service = call.request.service;
        const status = this.statuses.get(service);
        if (status !== undefined) callback(null, response(HealthCheckResponse_ServingStatus[status]));
        else
          callback({ code: grpc.status.NOT_FOUND, details: `Health status unknown for service ${service}` });
      }) as grpc.handleUnaryCall<HealthCheckRequest, HealthCheckResponse>,
      watch: ((call) => {
        const service = call.request.service;
        const watcher = (s: HealthStatus) => call.write(response(HealthCheckResponse_ServingStatus[s]));
        let set = this.watchers.get(service);
        if (set === undefined) {
          set = new Set();
          this.watchers.set(service, set);
        }
        set.add(watcher);
        call.on('cancelled', () => set.delete(watcher));
        const status = this.statuses.get(service);
        call.write(
          response(
            status === undefined
              ? HealthCheckResponse_ServingStatus.SERVICE_UNKNOWN
              : HealthCheckResponse_ServingStatus[status],
          ),
        );
      }) as grpc.handleServerStreamingCall<HealthCheckRequest, HealthCheckResponse>,
      list: ((_call, callback) => {
        if (this.statuses.size > LIST_LIMIT) {
          callback({ code: grpc.status.RESOURCE_EXHAUSTED, details: 'Too many services to list.' });
          return;
        }
        const statuses: Record<string, HealthCheckResponse> = {};
        for (const [service, s] of this.statuses)
          statuses[service] = response(HealthCheckResponse_ServingStatus[s]);
        callback(null, create(HealthListResponseSchema, { statuses }));
      }) as grpc.handleUnaryCall<HealthListRequest, HealthListResponse>,
    });
  }
}
