import { create, fromBinary, toBinary } from '@bufbuild/protobuf';
import * as grpc from '@grpc/grpc-js';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  HealthListRequestSchema,
  type HealthListResponse,
  HealthListResponseSchema,
} from '../../../src/gen/health/v1/health_pb.js';
import { HealthService } from '../../../src/server/health-service.js';
import { healthCheck, healthWatch, ServingStatus } from '../../helpers/health-client.js';

const health = new HealthService({ '': 'NOT_SERVING', 'a.Service': 'SERVING' });
const server = new grpc.Server();
let client: grpc.Client;

beforeAll(async () => {
  health.addToServer(server);
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync('127.0.0.1:0', grpc.ServerCredentials.createInsecure(), (e, p) =>
      e ? reject(e) : resolve(p),
    ),
  );
  client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
});

afterAll(() => {
  client.close();
  server.forceShutdown();
});

function list(): Promise<HealthListResponse | grpc.status> {
  return new Promise((resolve) =>
    client.makeUnaryRequest(
      '/grpc.health.v1.Health/List',
      () => Buffer.from(toBinary(HealthListRequestSchema, create(HealthListRequestSchema))),
      (b: Buffer) => fromBinary(HealthListResponseSchema, b),
      {},
      (err, res) => resolve(err ? err.code : (res as HealthListResponse)),
    ),
  );
}

describe('HealthService (grpc.health.v1)', () => {
  it.each([
    ['', ServingStatus.NOT_SERVING],
    ['a.Service', ServingStatus.SERVING],
    ['no.such.Service', grpc.status.NOT_FOUND],
  ])('Check %j → %s', async (service, want) => {
    expect(await healthCheck(client, service)).toBe(want);
  });

  it('Watch streams the current status, then every change; unknown services are SERVICE_UNKNOWN', async () => {
    const w = healthWatch(client, 'b.Service');
    await new Promise((r) => setTimeout(r, 100));
    health.setStatus('b.Service', 'SERVING');
    health.setStatus('b.Service', 'NOT_SERVING');
    await new Promise((r) => setTimeout(r, 100));
    w.stop();
    await w.ended;
    expect(w.statuses).toEqual([
      ServingStatus.SERVICE_UNKNOWN,
      ServingStatus.SERVING,
      ServingStatus.NOT_SERVING,
    ]);
  });

  it('List gives every service with its status', async () => {
    const r = await list();
    expect(typeof r).toBe('object');
    const statuses = Object.fromEntries(
      Object.entries((r as HealthListResponse).statuses).map(([k, v]) => [k, v.status]),
    );
    expect(statuses).toEqual({
      '': ServingStatus.NOT_SERVING,
      'a.Service': ServingStatus.SERVING,
      'b.Service': ServingStatus.NOT_SERVING,
    });
  });
});
