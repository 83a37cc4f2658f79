import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromBinary } from '@bufbuild/protobuf';
import { CheckResponseSchema } from '../../src/gen/envoy/service/auth/v3/external_auth_pb.js';
import { grpcUnary, httpText, sumMetric } from './net.js';
import { parseJsonLine, type ServerProcess, startProcess } from './proc.js';

const run = promisify(execFile);

/** gRPC method path of Envoy's ext_authz Check. */
export const CHECK_PATH = '/envoy.service.auth.v3.Authorization/Check';

/** The built sidecar entry point, relative to the repository root. */
export const SIDECAR_MAIN = 'dist/cli/main.js';

/** A running sidecar process and its ports. */
export interface Sidecar {
  readonly process: ServerProcess;
  readonly grpcPort: number;
  readonly adminPort: number;
  /** Milliseconds from spawn to the "portcullis serving" log line (includes policy compilation). */
  readonly startupMs: number;
  /** Wall-clock time of the spawn (ms since epoch). */
  readonly spawnedAt: number;
}

/** Options for one sidecar run. */
export interface SidecarOptions {
  readonly root: string;
  readonly policyDir: string;
  readonly configFile?: string;
  readonly logFile: string;
  /** Directory for `node --cpu-prof` output; profiling is off when absent. */
  readonly profileDir?: string;
  /** More `serve` flags, e.g. `--set server.workers=2`. */
  readonly extraArgs?: readonly string[];
  readonly timeoutMs: number;
}

/** True when the sidecar has been built (`make build`). */
export function sidecarBuilt(root: string): boolean {
  return existsSync(join(root, SIDECAR_MAIN));
}

/** Port flags `portcullis serve` accepts beyond gRPC/admin (HTTP authz and check API): all set to 0. */
async function extraPortFlags(root: string): Promise<string[]> {
  const { stdout } = await run('node', [SIDECAR_MAIN, 'serve', '--help'], { cwd: root });
  return ['--http-port', '--api-port'].filter((flag) => stdout.includes(flag)).flatMap((flag) => [flag, '0']);
}

/**
 * Node flags for the sidecar only, from PORTCULLIS_NODE_FLAGS (e.g. `--max-semi-space-size=4`,
 * docs/memory.md): NODE_OPTIONS would change the bare server and the sidecar alike.
 */
function sidecarNodeFlags(): string[] {
  return (process.env.PORTCULLIS_NODE_FLAGS ?? '').split(/\s+/).filter((f) => f !== '');
}

/** Starts `node dist/cli/main.js serve` on free ports and waits for its "portcullis serving" line. */
export async function startSidecar(options: SidecarOptions): Promise<Sidecar> {
  const nodeArgs = [
    ...sidecarNodeFlags(),
    ...(options.profileDir === undefined ? [] : ['--cpu-prof', `--cpu-prof-dir=${options.profileDir}`]),
  ];
  const args = [
    ...nodeArgs,
    SIDECAR_MAIN,
    'serve',
    '--policies',
    options.policyDir,
    '--grpc-port',
    '0',
    '--admin-port',
    '0',
    ...(await extraPortFlags(options.root)),
    ...(options.configFile === undefined ? [] : ['--config', options.configFile]),
    ...(options.extraArgs ?? []),
  ];
  const started = Date.now();
  const child = startProcess('portcullis', 'node', args, { logFile: options.logFile, cwd: options.root });
  const line = await child
    .waitForLine((l) => l.includes('"portcullis serving"'), options.timeoutMs)
    .catch(async (error: unknown) => {
      await child.stop(1000);
      throw error;
    });
  const fields = parseJsonLine(line) ?? {};
  const grpcPort = Number(fields.grpcPort);
  const adminPort = Number(fields.adminPort);
  if (!(grpcPort > 0 && adminPort > 0)) throw new Error(`portcullis serving line without ports: ${line}`);
  return { process: child, grpcPort, adminPort, startupMs: Date.now() - started, spawnedAt: started };
}

/** The sidecar's own decision counters, from `/metrics` on the admin port. */
export interface DecisionCounters {
  readonly allowed: number;
  readonly denied: number;
  readonly faults: number;
  /** Sum and count of the policy evaluation histogram (seconds). */
  readonly evalSeconds: number;
  readonly evalCount: number;
}

/** Reads the decision counters from the sidecar's Prometheus endpoint. */
export async function readDecisionCounters(adminPort: number): Promise<DecisionCounters> {
  const text = await httpText(`http://127.0.0.1:${adminPort}/metrics`);
  return {
    allowed: sumMetric(text, 'portcullis_decisions_total', { outcome: 'allow' }),
    denied: sumMetric(text, 'portcullis_decisions_total', { outcome: 'deny' }),
    faults: sumMetric(text, 'portcullis_faults_total'),
    evalSeconds: sumMetric(text, 'portcullis_policy_evaluation_duration_seconds_sum'),
    evalCount: sumMetric(text, 'portcullis_policy_evaluation_duration_seconds_count'),
  };
}

/** What one Check returned, reduced to what the benchmark checks. */
export interface CheckOutcome {
  /** `status.code` of the CheckResponse: 0 allows. */
  readonly code: number;
  /** Denied HTTP status, 0 on allow. */
  readonly deniedStatus: number;
  /** Deny body (JSON text), '' on allow. */
  readonly deniedBody: string;
}

/** Sends one Check through grpc-js (a real client, not h2load) and decodes the answer. */
export async function checkOnce(grpcPort: number, body: Uint8Array): Promise<CheckOutcome> {
  const response = fromBinary(CheckResponseSchema, await grpcUnary(grpcPort, CHECK_PATH, body));
  const denied = response.httpResponse.case === 'deniedResponse' ? response.httpResponse.value : undefined;
  return {
    code: response.status?.code ?? 0,
    deniedStatus: denied?.status?.code ?? 0,
    deniedBody: denied?.body ?? '',
  };
}
