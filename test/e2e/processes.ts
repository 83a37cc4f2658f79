/** Helpers of the end-to-end tests: build, a control-plane process, sidecar state and metrics. */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { createInterface } from 'node:readline';
import { CLI, ROOT } from '../helpers/sidecar.js';

/** Builds dist/ with `npx tsc -p tsconfig.json` (type errors elsewhere still emit; dist must exist). */
export async function build(): Promise<void> {
  const proc = spawn('npx', ['tsc', '-p', 'tsconfig.json'], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  proc.stdout.on('data', (d: Buffer) => (out += d.toString()));
  const [code] = (await once(proc, 'exit')) as [number | null];
  if (code !== 0)
    process.stderr.write(
      `tsc exited with ${code} (type errors elsewhere are not this test's):\n${out.slice(0, 2000)}\n`,
    );
  if (!existsSync(CLI)) throw new Error(`${CLI} was not built`);
}

/** A running `portcullis control-plane` process. */
export interface ControlPlaneProcess {
  readonly port: number;
  readonly url: string;
  readonly lines: string[];
  stop(): Promise<void>;
}

/** Starts `node dist/cli/main.js control-plane …` and waits for its "control plane serving" line. */
export async function startControlPlane(args: string[]): Promise<ControlPlaneProcess> {
  const proc: ChildProcess = spawn(process.execPath, [CLI, 'control-plane', '--port', '0', ...args], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.once('exit', () => process.off('exit', reap));
  const lines: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (l) => lines.push(l));
  const port = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`control plane did not start:\n${lines.join('\n')}`)),
      15_000,
    );
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      lines.push(l);
      if (!l.includes('"control plane serving"')) return;
      clearTimeout(timer);
      resolve((JSON.parse(l) as { port: number }).port);
    });
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`control plane exited with ${code}:\n${lines.join('\n')}`));
    });
  });
  return {
    port,
    url: `http://127.0.0.1:${port}`,
    lines,
    async stop() {
      if (proc.exitCode !== null) return;
      const exited = once(proc, 'exit');
      proc.kill('SIGTERM');
      await exited;
    },
  };
}

/** `GET /readyz` of a sidecar: the active revision ('' while not ready). */
export async function revisionOf(adminPort: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
  const body = (await res.json()) as { revision?: string | null };
  return res.status === 200 ? (body.revision ?? '') : '';
}

/** Samples of one metric from a sidecar's /metrics, as label objects with their value. */
export async function metricSamples(
  adminPort: number,
  name: string,
): Promise<{ labels: Record<string, string>; value: number }[]> {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const out: { labels: Record<string, string>; value: number }[] = [];
  for (const line of text.split('\n')) {
    const m = new RegExp(`^${name}(?:\\{(.*)\\})? (\\S+)$`).exec(line);
    if (!m) continue;
    const labels: Record<string, string> = {};
    for (const l of (m[1] ?? '').matchAll(/(\w+)="((?:[^"\\]|\\.)*)"/g))
      labels[l[1] as string] = l[2] as string;
    out.push({ labels, value: Number(m[2]) });
  }
  return out;
}

/** Polls `cond` every 50 ms until it holds, or throws after `ms` (for hooks, where expect.poll is not allowed). */
export async function waitUntil(cond: () => Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await cond())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}
