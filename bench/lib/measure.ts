import { type Latency, latencyOf, runH2load } from './h2load.js';
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

/** How the targets are loaded. */
export interface LoadPlan {
  readonly connections: number;
  readonly streams: number;
  /** Interleaved rounds: each round loads every target once, so background noise hits all alike. */
  readonly rounds: number;
  /** Length of one saturated run (per round), in seconds. */
  readonly saturatedSec: number;
  readonly warmupSec: number;
  /** Fixed total rates, e.g. [1000, 2000]. */
  readonly rates: readonly number[];
  /** Length of one fixed-rate run (per round), in seconds. */
  readonly rateSec: number;
  /** Scratch file for h2load's per-request log. */
  readonly logFile: string;
}

/** The runs of one target at one rate (0 = saturated), combined over the rounds. */
export interface RunResult {
  /** Requested total rate, 0 for saturated. */
  readonly rps: number;
  /** Median over the rounds of h2load's req/s. */
  readonly reqPerSec: number;
  /** h2load's req/s of each round, in order. */
  readonly roundsReqPerSec: readonly number[];
  readonly succeeded: number;
  readonly failed: number;
  /** Percentiles over every request of every round (fixed-rate runs only). */
  readonly latency: Latency | null;
  /** Server CPU time (user + system) per answered request, in microseconds. */
  readonly cpuMicrosPerRequest: number;
  /** Server CPU use while loaded, in cores (1.0 = one core busy). */
  readonly cpuCores: number;
  /** Server-counted answers with the expected outcome / anything else. */
  readonly serverExpected: number;
  readonly serverOther: number;
  /** True when, in every round, the server's own counters account for every h2load 2xx. */
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
  /** VmHWM / VmRSS of the server process at the end of its runs, in MiB. */
  readonly peakRssMiB: number;
  readonly rssMiB: number;
}

/** One h2load run against one target, with the server's CPU time and counters over it. */
interface RawRun {
  readonly reqPerSec: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly latencyMicros: number[];
  readonly cpuMs: number;
  readonly wallMs: number;
  readonly expected: number;
  readonly other: number;
  readonly verified: boolean;
}

async function measureRun(target: Target, plan: LoadPlan, rps: number): Promise<RawRun> {
  const counters0 = await target.counters();
  const stats0 = readProcStats(target.pid);
  const started = process.hrtime.bigint();
  const load = await runH2load({
    url: target.url,
    bodyFile: target.bodyFile,
    durationSec: rps === 0 ? plan.saturatedSec : plan.rateSec,
    warmupSec: plan.warmupSec,
    connections: plan.connections,
    streams: plan.streams,
    rps,
    logFile: plan.logFile,
  });
  const wallMs = Number(process.hrtime.bigint() - started) / 1e6;
  const cpuMs = readProcStats(target.pid).cpuMs - stats0.cpuMs;
  const counters1 = await target.counters();
  const expected = counters1.expected - counters0.expected;
  const other = counters1.other - counters0.other;
  return {
    reqPerSec: load.reqPerSec,
    succeeded: load.succeeded,
    failed: load.failed + load.errored,
    latencyMicros: load.latencyMicros ?? [],
    cpuMs,
    wallMs,
    expected,
    other,
    // Warm-up requests are counted by the server but not by h2load; streams cut at the end of the
    // run may be counted as cancelled, at most one per open stream.
    verified: expected >= load.status2xx && other <= plan.connections * plan.streams,
  };
}

function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  const mid = Math.floor(sorted.length / 2);
  return sorted.length % 2 === 1 ? sorted[mid]! : (sorted[mid - 1]! + sorted[mid]!) / 2;
}

/** Combines the rounds of one target at one rate. */
export function combineRuns(rps: number, runs: readonly RawRun[]): RunResult {
  const sum = (f: (r: RawRun) => number): number => runs.reduce((acc, r) => acc + f(r), 0);
  const answered = sum((r) => r.expected + r.other);
  return {
    rps,
    reqPerSec: median(runs.map((r) => r.reqPerSec)),
    roundsReqPerSec: runs.map((r) => r.reqPerSec),
    succeeded: sum((r) => r.succeeded),
    failed: sum((r) => r.failed),
    latency: rps === 0 ? null : latencyOf(runs.flatMap((r) => r.latencyMicros)),
    cpuMicrosPerRequest: answered === 0 ? 0 : (sum((r) => r.cpuMs) * 1000) / answered,
    cpuCores:
      sum((r) => r.cpuMs) /
      Math.max(
        1,
        sum((r) => r.wallMs),
      ),
    serverExpected: sum((r) => r.expected),
    serverOther: sum((r) => r.other),
    verified: runs.every((r) => r.verified),
  };
}

/**
 * Loads every target saturated, then at each fixed rate, in `plan.rounds` interleaved rounds
 * (round 1: A B C, round 2: A B C, …), and combines the rounds per target.
 */
export async function measureTargets(targets: readonly Target[], plan: LoadPlan): Promise<TargetResult[]> {
  const rates = [0, ...plan.rates];
  const raw = new Map(targets.map((t) => [t.key, rates.map(() => [] as RawRun[])]));
  for (const [index, rps] of rates.entries()) {
    for (let round = 0; round < plan.rounds; round += 1) {
      for (const target of targets) raw.get(target.key)![index]!.push(await measureRun(target, plan, rps));
    }
  }
  return targets.map((target) => {
    const [saturated, ...fixed] = rates.map((rps, index) => combineRuns(rps, raw.get(target.key)![index]!));
    const stats = readProcStats(target.pid);
    return {
      key: target.key,
      label: target.label,
      policies: target.policies,
      startupMs: target.startupMs,
      saturated: saturated!,
      rates: fixed,
      peakRssMiB: stats.peakRssMiB,
      rssMiB: stats.rssMiB,
    };
  });
}
