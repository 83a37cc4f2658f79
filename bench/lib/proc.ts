import { type ChildProcess, spawn } from 'node:child_process';
import { closeSync, openSync, readdirSync, readFileSync } from 'node:fs';

/** CPU clock ticks per second for /proc/<pid>/stat (Linux x86-64 uses 100). */
const CLOCK_TICKS = 100;

/** CPU time and memory of one process, read from /proc. */
export interface ProcStats {
  /** User + system CPU time since the process started, in milliseconds. */
  readonly cpuMs: number;
  /** Peak resident set size (VmHWM), in MiB. */
  readonly peakRssMiB: number;
  /** Current resident set size (VmRSS), in MiB. */
  readonly rssMiB: number;
}

function oneProcess(pid: number): ProcStats {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  // Field 2 (comm) may contain spaces: split after its closing parenthesis. utime/stime are 14/15.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const ticks = Number(fields[11]) + Number(fields[12]);
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  const kib = (key: string): number =>
    Number(new RegExp(`^${key}:\\s+(\\d+) kB`, 'm').exec(status)?.[1] ?? 0);
  return {
    cpuMs: (ticks * 1000) / CLOCK_TICKS,
    peakRssMiB: kib('VmHWM') / 1024,
    rssMiB: kib('VmRSS') / 1024,
  };
}

/** Live child processes of `pid` (e.g. the workers of a sidecar with `server.workers` > 1). */
function childrenOf(pid: number): number[] {
  const children: number[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 is the parent pid.
      if (Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]) === pid) children.push(Number(entry));
    } catch {
      // The process ended meanwhile.
    }
  }
  return children;
}

/**
 * Reads CPU time (utime + stime) and RSS of `pid` and its live children from /proc: a cluster
 * primary and its workers count as one server (peak RSS: the sum of each process's peak).
 */
export function readProcStats(pid: number): ProcStats {
  const all = [oneProcess(pid)];
  for (const child of childrenOf(pid)) {
    try {
      all.push(oneProcess(child));
    } catch {
      // The child ended meanwhile.
    }
  }
  return {
    cpuMs: all.reduce((n, s) => n + s.cpuMs, 0),
    peakRssMiB: all.reduce((n, s) => n + s.peakRssMiB, 0),
    rssMiB: all.reduce((n, s) => n + s.rssMiB, 0),
  };
}

/** A server process started by the benchmark; its output goes to a log file, not through us. */
export interface ServerProcess {
  readonly name: string;
  readonly pid: number;
  readonly child: ChildProcess;
  /** File holding the process's stdout and stderr. */
  readonly logFile: string;
  /** True once the process has exited. */
  exited(): boolean;
  /** Resolves with the first log line `match` accepts (rejects when the process exits or after `timeoutMs`). */
  waitForLine(match: (line: string) => boolean, timeoutMs: number): Promise<string>;
  /** Every log line `match` accepts, oldest first. */
  linesMatching(match: (line: string) => boolean): string[];
  /** The last `count` lines of the log (for error reports). */
  tail(count: number): string;
  /** Sends SIGTERM and waits for exit (SIGKILL after `graceMs`). */
  stop(graceMs?: number): Promise<void>;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

/**
 * Spawns `command` with stdout and stderr appended to `logFile`. Writing to a file keeps the
 * benchmark driver off the CPU while a server logs under load (the machine has 2 cores).
 */
export function startProcess(
  name: string,
  command: string,
  args: readonly string[],
  options: { logFile: string; env?: NodeJS.ProcessEnv; cwd?: string },
): ServerProcess {
  const fd = openSync(options.logFile, 'w');
  const child = spawn(command, args, {
    stdio: ['ignore', fd, fd],
    env: options.env ?? process.env,
    cwd: options.cwd,
  });
  closeSync(fd);
  if (child.pid === undefined) throw new Error(`${name}: could not start ${command}`);
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  const lines = (): string[] => readFileSync(options.logFile, 'utf8').split('\n');
  const tail = (count: number): string =>
    lines()
      .slice(-count - 1)
      .join('\n');
  const waitForLine = async (match: (line: string) => boolean, timeoutMs: number): Promise<string> => {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const found = lines().find(match);
      if (found !== undefined) return found;
      if (exited) throw new Error(`${name} exited before it was ready:\n${tail(20)}`);
      if (Date.now() > deadline) throw new Error(`${name} not ready after ${timeoutMs} ms:\n${tail(20)}`);
      await sleep(50);
    }
  };
  const stop = (graceMs = 5000): Promise<void> =>
    new Promise((resolve) => {
      if (exited) return resolve();
      const killer = setTimeout(() => child.kill('SIGKILL'), graceMs);
      child.once('exit', () => {
        clearTimeout(killer);
        resolve();
      });
      child.kill('SIGTERM');
    });
  return {
    name,
    pid: child.pid,
    child,
    logFile: options.logFile,
    exited: () => exited,
    waitForLine,
    linesMatching: (match) => lines().filter(match),
    tail,
    stop,
  };
}

/** Runs `fn`; when it fails, stops `child` before rethrowing, so no server outlives a failed start. */
export async function stopOnFailure<T>(child: ServerProcess, fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (error) {
    await child.stop(2000);
    throw error;
  }
}

/** Parses a JSON log line, or returns undefined when the line is not a JSON object. */
export function parseJsonLine(line: string): Record<string, unknown> | undefined {
  if (!line.startsWith('{')) return undefined;
  try {
    const value: unknown = JSON.parse(line);
    return typeof value === 'object' && value !== null ? (value as Record<string, unknown>) : undefined;
  } catch {
    return undefined;
  }
}

/** Whole-machine CPU tick counters from /proc/stat (first line). */
export interface MachineTicks {
  readonly total: number;
  readonly idle: number;
  readonly steal: number;
}

/** Reads the aggregate CPU counters of /proc/stat. */
export function readMachineTicks(): MachineTicks {
  const fields = (readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '')
    .trim()
    .split(/\s+/)
    .slice(1)
    .map(Number);
  // user nice system idle iowait irq softirq steal guest guest_nice (guest time is inside user).
  const [user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0] = fields;
  return { total: user + nice + system + idle + iowait + irq + softirq + steal, idle: idle + iowait, steal };
}

/** Machine busy and steal shares (percent of all CPUs) between two readings. */
export function machineUsage(
  from: MachineTicks,
  to: MachineTicks,
): { busyPercent: number; stealPercent: number } {
  const total = Math.max(1, to.total - from.total);
  return {
    busyPercent: (100 * (total - (to.idle - from.idle))) / total,
    stealPercent: (100 * (to.steal - from.steal)) / total,
  };
}
