import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { capture, captureMetrics } from '../global/capture.js';

/** Repo root (tests run from it). */
export const ROOT = join(import.meta.dirname, '..', '..');
/** The built CLI; integration tests need `make build` (make test does it). */
export const CLI = join(ROOT, 'dist', 'cli', 'main.js');

/** A sidecar process started by a test. */
export interface Sidecar {
  readonly proc: ChildProcess;
  readonly grpcPort: number;
  readonly adminPort: number;
  readonly httpPort: number | undefined;
  readonly apiPort: number | undefined;
  /** Every stdout line so far (JSON log lines). */
  readonly lines: string[];
  /** Every stderr line so far. */
  readonly errLines: string[];
  /** Sends SIGTERM and waits for exit; returns the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** `serve` flags putting every listener on a free port. */
export const FREE_PORTS: readonly string[] = [
  '--grpc-port',
  '0',
  '--admin-port',
  '0',
  '--http-port',
  '0',
  '--api-port',
  '0',
];

/** A policy file that does not compile (an unknown effect), for start-up error tests. */
export const BAD_POLICY =
  'apiVersion: portcullis.dev/v1\nkind: Policy\nmetadata: { name: bad }\nrules:\n  - id: r1\n    effect: MAYBE\n';

/** Starts `portcullis serve` on free ports and waits for its "portcullis serving" line. */
export async function startSidecar(args: string[] = [], env: Record<string, string> = {}): Promise<Sidecar> {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run \`make build\` first`);
  const proc = spawn(process.execPath, [CLI, 'serve', ...FREE_PORTS, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  // Never leave a sidecar behind when the test worker exits, whatever happened in the test.
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.once('exit', () => process.off('exit', reap));
  const lines: string[] = [];
  const errLines: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (l) => {
    errLines.push(l);
    capture('sidecar:stderr', l);
  });
  const ready = new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`sidecar did not start:\n${[...lines, ...errLines].join('\n')}`));
    }, 15_000);
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      lines.push(l);
      capture('sidecar:stdout', l);
      if (l.includes('"portcullis serving"')) {
        clearTimeout(timer);
        resolve(JSON.parse(l) as Record<string, unknown>);
      }
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`sidecar exited with ${code}:\n${[...lines, ...errLines].join('\n')}`));
    });
  });
  const info = await ready;
  return {
    proc,
    grpcPort: info.grpcPort as number,
    adminPort: info.adminPort as number,
    httpPort: info.httpPort as number | undefined,
    apiPort: info.apiPort as number | undefined,
    lines,
    errLines,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null) return proc.exitCode;
      await captureMetrics('sidecar', info.adminPort as number);
      const exited = once(proc, 'exit');
      proc.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** Runs the CLI to completion, capturing its output. */
export async function runCli(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ code: number | null; stdout: string; stderr: string }> {
  const proc = spawn(process.execPath, [CLI, ...args], {
    cwd: ROOT,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  proc.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
  proc.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  return { code, stdout, stderr };
}

/** True when tests that need external programs must run (CI) rather than skip. */
export const IN_CI = process.env.CI === 'true';
