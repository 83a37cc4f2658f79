import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { pino } from 'pino';
import { validateConfig } from '../../src/config/load.js';
import { configSchema } from '../../src/config/schema.js';
import { type Running, startPortcullis } from '../../src/main.js';
import { captureMetrics } from '../global/capture.js';

/** A small mesh policy used by server tests (independent of the examples in policies/). */
export const MESH_POLICY = `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: orders, version: 3 }
selector:
  hosts: ['orders*']
rules:
  - id: frontend-reads
    effect: ALLOW
    from: [{ principals: ['spiffe://cluster.local/ns/shop/sa/frontend'] }]
    to: [{ methods: [GET], paths: ['/orders/*', '/orders'] }]
  - id: no-admin
    effect: DENY
    to: [{ paths: ['/orders/admin/*'] }]
  - id: health
    effect: ALLOW
    to: [{ methods: [GET], paths: ['/healthz'] }]
`;

/** Writes policy files into a fresh temp dir and returns it. */
export async function policyDir(
  files: Record<string, string> = { 'orders.yaml': MESH_POLICY },
): Promise<string> {
  const dir = await mkdtemp(join(tmpdir(), 'portcullis-policies-'));
  for (const [name, text] of Object.entries(files)) {
    await mkdir(dirname(join(dir, name)), { recursive: true });
    await writeFile(join(dir, name), text);
  }
  return dir;
}

/** Starts the sidecar in this process on free loopback ports with `overrides` on top of defaults. */
export async function startInProcess(
  overrides: Record<string, unknown> = {},
  dir?: string,
): Promise<Running> {
  const policies = dir ?? (await policyDir());
  const raw = {
    ...overrides,
    server: {
      grpc: { host: '127.0.0.1', port: 0 },
      admin: { host: '127.0.0.1', port: 0 },
      http: { host: '127.0.0.1', port: 0 },
      api: { host: '127.0.0.1', port: 0 },
      shutdownGrace: '5s',
      ...(overrides.server as object | undefined),
    },
    policy: { dir: policies, ...(overrides.policy as object | undefined) },
    telemetry: {
      log: { level: 'silent' },
      decisionLog: { sink: 'none' },
      ...(overrides.telemetry as object | undefined),
    },
  };
  const config = validateConfig(configSchema, raw);
  const running = await startPortcullis(config, pino({ level: 'silent' }));
  // Its metric labels go to the suite-wide secret scan before it stops.
  return {
    ...running,
    stop: async (graceMs?: number) => {
      await captureMetrics('in-process', running.adminPort);
      return running.stop(graceMs);
    },
  };
}
