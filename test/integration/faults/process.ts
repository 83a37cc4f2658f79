/**
 * Real processes for the fault-injection tests: `portcullis serve` (optionally wrapped, e.g. in a
 * private mount namespace), `portcullis control-plane`, their output, their metrics.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { generateBundleKeyPair } from '../../../src/bundle/index.js';
import { capture, captureMetrics } from '../../global/capture.js';
import { CLI, ROOT } from '../../helpers/sidecar.js';

/** A started process and everything it printed. */
export interface Proc {
  readonly proc: ChildProcess;
  /** stdout lines (JSON log lines). */
  readonly lines: string[];
  readonly errLines: string[];
  /** The JSON of the line that said it was ready. */
  readonly ready: Record<string, unknown>;
  /** Waits for a stdout line matching `re` printed after line index `from`; returns it parsed. */
  waitForLine(re: RegExp, ms?: number, from?: number): Promise<Record<string, unknown>>;
  /** Sends `signal` (SIGTERM by default) and waits for the exit code. */
  stop(signal?: NodeJS.Signals): Promise<number | null>;
}

/** Spawns `node dist/cli/main.js ...args` (behind `wrap`, a command prefix) and waits for `readyMsg`. */
export async function startCli(
  args: readonly string[],
  readyMsg: string,
  options: { wrap?: readonly string[]; pipeStdout?: boolean } = {},
): Promise<Proc> {
  const cmd = [...(options.wrap ?? []), process.execPath, CLI, ...args];
  const proc = spawn(cmd[0]!, cmd.slice(1), { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  const reap = () => proc.kill('SIGKILL');
  process.once('exit', reap);
  proc.once('exit', () => process.off('exit', reap));
  const lines: string[] = [];
  const errLines: string[] = [];
  const source = args[0] ?? 'cli';
  createInterface({ input: proc.stderr! }).on('line', (l) => {
    errLines.push(l);
    capture(`${source}:stderr`, l);
  });
  const out = createInterface({ input: proc.stdout! });
  out.on('line', (l) => {
    lines.push(l);
    capture(`${source}:stdout`, l);
  });
  const ready = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => {
      proc.kill('SIGKILL');
      reject(new Error(`${args[0]} did not start:\n${[...lines, ...errLines].join('\n')}`));
    }, 20_000);
    const onLine = (l: string) => {
      if (!l.includes(`"${readyMsg}"`)) return;
      clearTimeout(timer);
      out.off('line', onLine);
      resolve(JSON.parse(l) as Record<string, unknown>);
    };
    out.on('line', onLine);
    proc.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${args[0]} exited with ${code}:\n${[...lines, ...errLines].join('\n')}`));
    });
  });
  return {
    proc,
    lines,
    errLines,
    ready,
    async waitForLine(re, ms = 10_000, from = 0) {
      const end = Date.now() + ms;
      for (;;) {
        const hit = lines.slice(from).find((l) => re.test(l));
        if (hit !== undefined) return JSON.parse(hit) as Record<string, unknown>;
        if (Date.now() > end || proc.exitCode !== null)
          throw new Error(`no line matching ${re}:\n${lines.slice(-8).join('\n')}\n${errLines.join('\n')}`);
        await sleep(20);
      }
    },
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (proc.exitCode !== null || proc.signalCode !== null) return proc.exitCode;
      const exited = once(proc, 'exit');
      proc.kill(signal);
      const [code] = (await exited) as [number | null];
      return code;
    },
  };
}

/** A running `portcullis serve` with its ports. */
export interface Serve extends Proc {
  readonly grpcPort: number;
  readonly adminPort: number;
}

/** Starts `portcullis serve --config FILE` on free loopback ports. */
export async function startServe(
  configFile: string,
  options: { wrap?: readonly string[]; args?: readonly string[] } = {},
): Promise<Serve> {
  const args = ['serve', '--config', configFile, '--grpc-port', '0', '--admin-port', '0', '--http-port', '0'];
  args.push('--api-port', '0', ...(options.args ?? []));
  const p = await startCli(args, 'portcullis serving', options.wrap ? { wrap: options.wrap } : {});
  const adminPort = p.ready.adminPort as number;
  const stop = async (signal?: NodeJS.Signals) => {
    if (p.proc.exitCode === null && p.proc.signalCode === null) await captureMetrics('serve', adminPort);
    return p.stop(signal);
  };
  return { ...p, stop, grpcPort: p.ready.grpcPort as number, adminPort };
}

/** A running `portcullis control-plane`. */
export interface ControlPlane extends Proc {
  readonly port: number;
}

/** Starts `portcullis control-plane` over `policies` signed with `keyFile`, on `port` (0 = any). */
export async function startControlPlane(policies: string, keyFile: string, port = 0): Promise<ControlPlane> {
  const p = await startCli(
    [
      'control-plane',
      '--policies',
      policies,
      '--signing-key',
      keyFile,
      '--port',
      String(port),
      '--max-wait',
      '1s',
    ],
    'control plane serving',
  );
  return { ...p, port: p.ready.port as number };
}

/** Writes a bundle signing key pair into `dir`; returns the private key file and the public JWK. */
export async function bundleKeys(
  dir: string,
  kid = 'faults',
): Promise<{ privateFile: string; publicJwk: object }> {
  const { privateJwk, publicJwk } = await generateBundleKeyPair('EdDSA', kid);
  const privateFile = join(dir, `${kid}.private.jwk.json`);
  await writeFile(privateFile, JSON.stringify(privateJwk), { mode: 0o600 });
  return { privateFile, publicJwk };
}

/** A loopback port that was free a moment ago (nothing listens on it now). */
export async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** The admin server's /metrics text. */
export async function metricsOf(adminPort: number): Promise<string> {
  return (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
}

/** Sum of the series of `name` whose labels include `labels` (0 when none). */
export function metric(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (!Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) continue;
    sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

/** /readyz: status and body. */
export async function readyz(adminPort: number): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

/** Polls `fn` until it returns true. */
export async function waitFor(fn: () => boolean | Promise<boolean>, ms: number, what: string): Promise<void> {
  const end = Date.now() + ms;
  while (!(await fn())) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(25);
  }
}

/** Resolves after `ms`. */
export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));
