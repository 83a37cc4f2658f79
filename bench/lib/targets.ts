import { execFile } from 'node:child_process';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fromBinary } from '@bufbuild/protobuf';
import { CheckResourcesResponseSchema } from '@cerbos/api/cerbos/response/v1/response_pb';
import { CERBOS_CHECK_PATH, cerbosConfigYaml } from './cerbos.js';
import type { Target } from './measure.js';
import { freePort, grpcUnary, httpText, sumMetric, waitForHttp } from './net.js';
import { CHECK_PATH, checkOnce, readDecisionCounters, type Sidecar, startSidecar } from './portcullis.js';
import { parseJsonLine, type ServerProcess, startProcess, stopOnFailure } from './proc.js';
import { frameGrpcMessage } from './request.js';

const run = promisify(execFile);

/** A started target plus the process to stop afterwards. */
export interface Started {
  readonly target: Target;
  readonly process: ServerProcess;
}

/** Bundles bench/bare-server.ts to plain JS (no TypeScript loader in the measured process) and starts it. */
export async function startBare(root: string, work: string, body: Uint8Array): Promise<Started> {
  const bundle = join(work, 'bare-server.mjs');
  await run(
    join(root, 'node_modules/.bin/esbuild'),
    [
      'bench/bare-server.ts',
      '--bundle',
      '--platform=node',
      '--format=esm',
      '--packages=external',
      `--outfile=${bundle}`,
    ],
    { cwd: root },
  );
  const started = Date.now();
  const child = startProcess('bare', 'node', [bundle], { logFile: join(work, 'bare.log'), cwd: root });
  const grpcPort = await stopOnFailure(child, async () => {
    const line = await child.waitForLine((l) => l.includes('"bare serving"'), 10_000);
    const port = Number(parseJsonLine(line)?.grpcPort);
    const outcome = await checkOnce(port, body);
    if (outcome.code !== 0) throw new Error(`bare server answered code ${outcome.code}`);
    return port;
  });
  const bodyFile = join(work, 'check-request.bin');
  await writeFile(bodyFile, frameGrpcMessage(body));
  const isStats = (l: string): boolean => l.includes('"bare stats"');
  const counters = async () => {
    const seen = child.linesMatching(isStats).length;
    process.kill(child.pid, 'SIGUSR2');
    for (let i = 0; i < 100 && child.linesMatching(isStats).length === seen; i += 1) {
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
    const stats = parseJsonLine(child.linesMatching(isStats).at(-1) ?? '') ?? {};
    return { expected: Number(stats.checks ?? 0), other: Number(stats.decodeErrors ?? 0) };
  };
  const target: Target = {
    key: 'bare',
    label: 'bare grpc-js (decode + OK)',
    pid: child.pid,
    url: `http://127.0.0.1:${grpcPort}${CHECK_PATH}`,
    bodyFile,
    policies: 0,
    startupMs: Date.now() - started,
    counters,
  };
  return { target, process: child };
}

/** Options for a Portcullis target. */
export interface PortcullisTargetOptions {
  readonly key: string;
  readonly label: string;
  readonly root: string;
  readonly work: string;
  readonly policyDir: string;
  readonly policies: number;
  readonly configFile?: string;
  readonly profileDir?: string;
  /** More `serve` flags, e.g. `--set server.workers=2`. */
  readonly extraArgs?: readonly string[];
  readonly body: Uint8Array;
  /** Variants that must be denied with the given HTTP status (proof that identity is verified). */
  readonly probes: readonly DenyProbe[];
  readonly timeoutMs: number;
}

/** A request variant the sidecar must deny, e.g. without the peer certificate or with a forged token. */
export interface DenyProbe {
  readonly name: string;
  readonly body: Uint8Array;
  readonly status: number;
}

/** Checks every probe is denied with its status; returns the problems ('' when all hold). */
async function checkProbes(grpcPort: number, probes: readonly DenyProbe[]): Promise<string> {
  const problems: string[] = [];
  for (const probe of probes) {
    const outcome = await checkOnce(grpcPort, probe.body);
    if (outcome.code === 0 || outcome.deniedStatus !== probe.status) {
      problems.push(
        `${probe.name}: expected a ${probe.status} deny, got code ${outcome.code} HTTP ${outcome.deniedStatus}`,
      );
    }
  }
  return problems.join('; ');
}

/** Starts the real sidecar and checks that the benchmark request is allowed before any load. */
export async function startPortcullis(
  options: PortcullisTargetOptions,
): Promise<Started & { sidecar: Sidecar }> {
  const sidecar = await startSidecar({
    root: options.root,
    policyDir: options.policyDir,
    logFile: join(options.work, `${options.key}.log`),
    timeoutMs: options.timeoutMs,
    ...(options.configFile === undefined ? {} : { configFile: options.configFile }),
    ...(options.profileDir === undefined ? {} : { profileDir: options.profileDir }),
    ...(options.extraArgs === undefined ? {} : { extraArgs: options.extraArgs }),
  });
  await stopOnFailure(sidecar.process, async () => {
    const outcome = await checkOnce(sidecar.grpcPort, options.body);
    const probeProblems = await checkProbes(sidecar.grpcPort, options.probes);
    if (outcome.code !== 0 || probeProblems !== '') {
      throw new Error(
        `${options.label}: the benchmark request was not allowed (code ${outcome.code}, ` +
          `HTTP ${outcome.deniedStatus}): ${outcome.deniedBody} ${probeProblems}\n${sidecar.process.tail(10)}`,
      );
    }
  });
  const bodyFile = join(options.work, `${options.key}-request.bin`);
  await writeFile(bodyFile, frameGrpcMessage(options.body));
  const target: Target = {
    key: options.key,
    label: options.label,
    pid: sidecar.process.pid,
    url: `http://127.0.0.1:${sidecar.grpcPort}${CHECK_PATH}`,
    bodyFile,
    policies: options.policies,
    startupMs: sidecar.startupMs,
    counters: async () => {
      const c = await readDecisionCounters(sidecar.adminPort);
      return { expected: c.allowed, other: c.denied + c.faults };
    },
  };
  return { target, process: sidecar.process, sidecar };
}

/** Options for the Cerbos target. */
export interface CerbosTargetOptions {
  readonly binary: string;
  readonly work: string;
  readonly policyDir: string;
  readonly policies: number;
  readonly jwksFile: string;
  readonly body: Uint8Array;
  readonly timeoutMs: number;
}

/** Starts Cerbos (disk storage, audit off, telemetry off, log level warn) and checks the request is allowed. */
export async function startCerbos(options: CerbosTargetOptions): Promise<Started> {
  const grpcPort = await freePort();
  const httpPort = await freePort();
  const configFile = join(options.work, 'cerbos.yaml');
  await writeFile(configFile, cerbosConfigYaml({ ...options, grpcPort, httpPort }));
  const started = Date.now();
  const child = startProcess(
    'cerbos',
    options.binary,
    ['server', `--config=${configFile}`, '--log-level=warn'],
    {
      logFile: join(options.work, 'cerbos.log'),
      env: { ...process.env, CERBOS_NO_TELEMETRY: '1' },
    },
  );
  const startupMs = await stopOnFailure(child, async () => {
    await waitForHttp(
      `http://127.0.0.1:${httpPort}/_cerbos/health`,
      options.timeoutMs,
      () => !child.exited(),
    );
    const readyMs = Date.now() - started;
    const bytes = await grpcUnary(grpcPort, CERBOS_CHECK_PATH, options.body);
    const result = fromBinary(CheckResourcesResponseSchema, bytes).results[0];
    const effects = Object.values(result?.actions ?? {});
    // Effect 1 = EFFECT_ALLOW (cerbos.effect.v1.Effect).
    if (effects.length === 0 || effects.some((e) => e !== 1)) {
      throw new Error(`Cerbos did not allow the benchmark request: ${JSON.stringify(result ?? {})}`);
    }
    return readyMs;
  });
  const bodyFile = join(options.work, 'cerbos-request.bin');
  await writeFile(bodyFile, frameGrpcMessage(options.body));
  const counters = async () => {
    const text = await httpText(`http://127.0.0.1:${httpPort}/_cerbos/metrics`);
    const count = 'cerbos_dev_engine_check_latency_milliseconds_count';
    return {
      expected: sumMetric(text, count, { status: 'success' }),
      other: sumMetric(text, count, { status: 'failure' }),
    };
  };
  const target: Target = {
    key: 'cerbos',
    label: 'Cerbos 0.55 CheckResources',
    pid: child.pid,
    url: `http://127.0.0.1:${grpcPort}${CERBOS_CHECK_PATH}`,
    bodyFile,
    policies: options.policies,
    startupMs,
    counters,
  };
  return { target, process: child };
}
