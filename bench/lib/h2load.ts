import { execFile } from 'node:child_process';
import { readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** One h2load run: fixed connections and streams, saturated or at a fixed total rate. */
export interface LoadSpec {
  /** Full URL incl. the gRPC method path. */
  readonly url: string;
  /** Pre-framed gRPC body file. */
  readonly bodyFile: string;
  readonly durationSec: number;
  readonly warmupSec: number;
  readonly connections: number;
  readonly streams: number;
  /** Total requests per second over all connections; 0 = saturated. */
  readonly rps: number;
  /** Where h2load writes per-request latencies (only read for fixed-rate runs). */
  readonly logFile: string;
}

/** Latency percentiles in milliseconds. */
export interface Latency {
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
}

/** What h2load reported, plus percentiles from its per-request log. */
export interface LoadResult {
  readonly reqPerSec: number;
  readonly total: number;
  readonly succeeded: number;
  readonly failed: number;
  readonly errored: number;
  /** HTTP 2xx responses — gRPC answers 200 even for a non-OK grpc-status. */
  readonly status2xx: number;
  /** Per-request latencies in microseconds from `--log-file` (completed requests), null when saturated. */
  readonly latencyMicros: number[] | null;
}

/** Returns the `h2load --version` line, or null when h2load is not installed. */
export async function h2loadVersion(): Promise<string | null> {
  try {
    const { stdout } = await run('h2load', ['--version']);
    return stdout.trim().split('\n')[0] ?? null;
  } catch {
    return null;
  }
}

/** Builds the h2load argument list for `spec`. */
export function h2loadArgs(spec: LoadSpec): string[] {
  const args = ['-c', String(spec.connections), '-m', String(spec.streams), '-D', String(spec.durationSec)];
  if (spec.warmupSec > 0) args.push('--warm-up-time', String(spec.warmupSec));
  // --rps is per client (connection): spread the total rate over the connections.
  if (spec.rps > 0) args.push('--rps', String(spec.rps / spec.connections), '--log-file', spec.logFile);
  args.push('-d', spec.bodyFile, '-H', 'content-type: application/grpc', '-H', 'te: trailers', spec.url);
  return args;
}

function field(stdout: string, pattern: RegExp): number {
  const match = pattern.exec(stdout);
  if (match?.[1] === undefined) throw new Error(`h2load output did not match ${pattern}:\n${stdout}`);
  return Number(match[1]);
}

/** Parses h2load's summary output. */
export function parseH2loadOutput(stdout: string): Omit<LoadResult, 'latencyMicros'> {
  return {
    reqPerSec: field(stdout, /finished in [\d.]+\w+, ([\d.]+) req\/s/),
    total: field(stdout, /requests: (\d+) total/),
    succeeded: field(stdout, /(\d+) succeeded/),
    failed: field(stdout, /(\d+) failed/),
    errored: field(stdout, /(\d+) errored/),
    status2xx: field(stdout, /status codes: (\d+) 2xx/),
  };
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank]!;
}

/** Parses h2load's `--log-file` (start µs, status, duration µs): durations of completed requests. */
export function parseLatencyLog(text: string): number[] {
  const micros: number[] = [];
  for (const line of text.split('\n')) {
    const [, status, duration] = line.split('\t');
    if (duration !== undefined && status !== '-1') micros.push(Number(duration));
  }
  if (micros.length === 0) throw new Error('h2load log file holds no completed request');
  return micros;
}

/** Latency percentiles (ms) of request durations in microseconds (null when there are none). */
export function latencyOf(micros: readonly number[]): Latency | null {
  if (micros.length === 0) return null;
  const sorted = [...micros].sort((a, b) => a - b);
  const ms = (p: number): number => percentile(sorted, p) / 1000;
  return { p50: ms(50), p90: ms(90), p99: ms(99), max: sorted[sorted.length - 1]! / 1000 };
}

/** Runs h2load once and returns its figures. */
export async function runH2load(spec: LoadSpec): Promise<LoadResult> {
  await rm(spec.logFile, { force: true });
  const timeoutMs = (spec.durationSec + spec.warmupSec + 30) * 1000;
  const { stdout } = await run('h2load', h2loadArgs(spec), { timeout: timeoutMs, maxBuffer: 1 << 24 });
  const summary = parseH2loadOutput(stdout);
  const latencyMicros = spec.rps > 0 ? parseLatencyLog(await readFile(spec.logFile, 'utf8')) : null;
  return { ...summary, latencyMicros };
}
