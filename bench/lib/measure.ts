import { type Latency, type LoadResult, runH2load } from './h2load.js';
import { readProcStats } from './proc.js';

/** The server's own view of how many requests it answered, used to check h2load's 2xx count. */
export interface ServerCounters {
  /** Requests the server answered with the expected outcome (allow / OK). */
  readonly expected: number;
  /** Anything else: denies, faults, cancelled or undecodable calls. */
  readonly other: number;
}

/** A server under test, already started and verified with one real client call. */
export interface Target {
  /** Short key, e.g. `bare`, `portcullis-examples`, `cerbos`. */
  readonly key: string;
  /** Human-readable label for the results table. */
  readonly label: string;
  readonly pid: number;
  /** h2load URL: `http://127.0.0.1:PORT/<grpc method path>`. */
  readonly url: string;
  /** Pre-framed gRPC request body for h2load. */
  readonly bodyFile: string;
  /** Number of policies loaded (0 for the bare server). */
  readonly policies: number;
  readonly startupMs: number;
  counters(): Promise<ServerCounters>;
}

/** How each target is loaded. */
export interface LoadPlan {
  readonly connections: number;
  readonly streams: number;
  readonly saturatedSec: number;
  readonly warmupSec: number;
  /** Fixed total rates, e.g. [1000, 2000]. */
  readonly rates: readonly number[];
  readonly rateSec: number;
  /** Scratch file for h2load's per-request log. */
  readonly logFile: string;
}

/** One h2load run against one target, with the server's CPU time and counters over the run. */
export interface RunResult {
  /** Requested total rate, 0 for saturated. */
  readonly rps: number;
  readonly reqPerSec: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly latency: Latency | null;
  /** Server CPU time (user + system) per answered request, in microseconds. */
  readonly cpuMicrosPerRequest: number;
  /** Server CPU use over the run, in cores (1.0 = one core busy). */
  readonly cpuCores: number;
  /** Server-counted answers with the expected outcome / anything else, during the run. */
  readonly serverExpected: number;
  readonly serverOther: number;
  /** True when the server's own counters account for every h2load success. */
  readonly verified: boolean;
}

/** All runs of one target. */
export interface TargetResult {
  readonly key: string;
  readonly label: string;
  readonly policies: number;
  readonly startupMs: number;
  readonly saturated: RunResult;
  readonly rates: readonly RunResult[];
  /** VmHWM of the server process at the end of its runs, in MiB. */
  readonly peakRssMiB: number;
  readonly rssMiB: number;
}

async function measureRun(target: Target, plan: LoadPlan, rps: number): Promise<RunResult> {
  const durationSec = rps === 0 ? plan.saturatedSec : plan.rateSec;
  const counters0 = await target.counters();
  const stats0 = readProcStats(target.pid);
  const started = process.hrtime.bigint();
  const load: LoadResult = await runH2load({
    url: target.url,
    bodyFile: target.bodyFile,
    durationSec,
    warmupSec: plan.warmupSec,
    connections: plan.connections,
    streams: plan.streams,
    rps,
    logFile: plan.logFile,
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const stats1 = readProcStats(target.pid);
  const counters1 = await target.counters();
  const expected = counters1.expected - counters0.expected;
  const other = counters1.other - counters0.other;
  const cpuMs = stats1.cpuMs - stats0.cpuMs;
  return {
    rps,
    reqPerSec: load.reqPerSec,
    succeeded: load.succeeded,
    failed: load.failed + load.errored,
    latency: load.latency,
    cpuMicrosPerRequest: expected + other === 0 ? 0 : (cpuMs * 1000) / (expected + other),
    cpuCores: cpuMs / wallMs,
    serverExpected: expected,
    serverOther: other,
    // Warm-up requests are counted by the server but not by h2load; streams cut at the end of the
    // run may be counted as cancelled, at most one per open stream.
    verified: expected >= load.status2xx && other <= plan.connections * plan.streams,
  };
}

/** Runs the saturated and fixed-rate loads against `target`, in that order. */
export async function measureTarget(target: Target, plan: LoadPlan): Promise<TargetResult> {
  const saturated = await measureRun(target, plan, 0);
  const rates: RunResult[] = [];
  for (const rps of plan.rates) rates.push(await measureRun(target, plan, rps));
  const stats = readProcStats(target.pid);
  return {
    key: target.key,
    label: target.label,
    policies: target.policies,
    startupMs: target.startupMs,
    saturated,
    rates,
    peakRssMiB: stats.peakRssMiB,
    rssMiB: stats.rssMiB,
  };
}
