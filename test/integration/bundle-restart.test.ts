/**
 * Last known good across a restart: a real `portcullis control-plane` process serves a bundle, a
 * sidecar's puller activates and persists it; then the control plane goes down and the sidecar
 * restarts — it must be ready at once from the persisted bundle, with the same decisions, and
 * catch up when the control plane returns.
 */
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBundlePuller, generateBundleKeyPair } from '../../src/bundle/index.js';
import { decide, makeDeps, policySources, pullerConfig, waitFor } from '../unit/bundle/fixtures.js';

const ROOT = join(import.meta.dirname, '..', '..');
let dir: string;
let publicJwk: Record<string, unknown>;
const procs = new Set<ChildProcess>();

/** Starts `portcullis control-plane` (from source, via tsx) and resolves with its port. */
async function startControlPlane(port = 0): Promise<{ proc: ChildProcess; port: number }> {
  const args = ['--import', 'tsx', 'src/cli/main.ts', 'control-plane', '--policies', join(dir, 'policies')];
  args.push('--signing-key', join(dir, 'cp.private.jwk.json'), '--port', String(port), '--log-level', 'info');
  const proc = spawn(process.execPath, args, { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
  procs.add(proc);
  const output: string[] = [];
  createInterface({ input: proc.stderr! }).on('line', (l) => output.push(l));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => reject(new Error(`control plane did not start:\n${output.join('\n')}`)),
      20_000,
    );
    createInterface({ input: proc.stdout! }).on('line', (l) => {
      output.push(l);
      if (!l.includes('"control plane serving"')) return;
      clearTimeout(timer);
      resolve({ proc, port: (JSON.parse(l) as { port: number }).port });
    });
    proc.once('exit', (code) => reject(new Error(`control plane exited ${code}:\n${output.join('\n')}`)));
  });
}

async function stop(proc: ChildProcess): Promise<void> {
  if (proc.exitCode !== null) return;
  const exited = new Promise((r) => proc.once('exit', r));
  proc.kill('SIGTERM');
  await exited;
  procs.delete(proc);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-restart-'));
  const keys = await generateBundleKeyPair('EdDSA', 'cp');
  publicJwk = keys.publicJwk as Record<string, unknown>;
  await writeFile(join(dir, 'cp.private.jwk.json'), JSON.stringify(keys.privateJwk), { mode: 0o600 });
  for (const s of policySources('persisted')) {
    await mkdir(join(dir, 'policies', 'orders', s.path, '..'), { recursive: true });
    await writeFile(join(dir, 'policies', 'orders', s.path), s.text);
  }
});
afterAll(async () => {
  for (const p of procs) await stop(p);
  await rm(dir, { recursive: true, force: true });
});

const PATHS = ['/probe', '/orders/7', '/admin', '/orders'];

describe('restart with the control plane down', () => {
  it('is ready from the last known good, decides the same, and catches up later', async () => {
    const lkgDir = join(dir, 'lkg');
    const cp = await startControlPlane();
    const config = pullerConfig({
      url: `http://127.0.0.1:${cp.port}/v1/bundles/{service}`,
      service: 'orders',
      keys: { inline: [publicJwk] },
      lkgDir,
      backoff: { initial: '50ms', max: '200ms' },
    });
    const first = makeDeps();
    const a = createBundlePuller(config, first);
    await a.start();
    await waitFor(() => first.current() !== undefined, 10_000, 'the first bundle');
    const revision = first.current()!.revision;
    const before = PATHS.map((p) => decide(first.current(), p)?.allowed);
    expect(before).toEqual([true, true, false, false]);
    await a.stop();
    await stop(cp.proc);

    const second = makeDeps();
    const b = createBundlePuller(config, second);
    await b.start();
    // Ready as soon as start() resolves: no network needed.
    expect(b.status()).toMatchObject({ ready: true, revision, origin: 'lkg' });
    expect(PATHS.map((p) => decide(second.current(), p)?.allowed)).toEqual(before);
    await waitFor(() => b.status().fetchFailures > 0, 5000, 'a failed poll');
    expect(b.status()).toMatchObject({ ready: true, revision, lastFailureReason: 'bundle_fetch_failed' });

    // The control plane comes back on the same port: the puller recovers by itself.
    const again = await startControlPlane(cp.port);
    try {
      await waitFor(() => b.status().origin === 'remote', 15_000, 'the control plane again');
      expect(Number(b.status().revision)).toBeGreaterThanOrEqual(Number(revision));
      expect(PATHS.map((p) => decide(second.current(), p)?.allowed)).toEqual(before);
    } finally {
      await b.stop();
      await stop(again.proc);
    }
  });
});
