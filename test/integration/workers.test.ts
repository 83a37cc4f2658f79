/**
 * `server.workers: 2`: two worker processes on the same gRPC port (Node cluster), the primary on the
 * admin port — real processes, real connections, the primary's aggregated /metrics and /readyz.
 */
import { existsSync, readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CheckClient } from '../helpers/check-client.js';
import { policyDir } from '../helpers/in-process.js';
import { checkRequest } from '../helpers/requests.js';
import { BAD_POLICY, FREE_PORTS, runCli, type Sidecar, startSidecar } from '../helpers/sidecar.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';

interface LogLine {
  readonly msg?: string;
  readonly workerPid?: number;
}

const parsed = (s: Sidecar): LogLine[] =>
  s.lines.flatMap((l) => {
    try {
      return [JSON.parse(l) as LogLine];
    } catch {
      return [];
    }
  });

const workerPids = (s: Sidecar): number[] =>
  parsed(s)
    .filter((l) => l.msg === 'worker started' && l.workerPid !== undefined)
    .map((l) => l.workerPid!);

const alive = (pid: number): boolean => {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
};

async function admin(s: Sidecar, path: string): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${s.adminPort}${path}`);
  return { status: res.status, text: await res.text() };
}

/** Established TCP connections on local `port` held by process `pid` (Linux /proc). */
function connectionsHeld(pid: number, port: number): number {
  const hexPort = `:${port.toString(16).toUpperCase().padStart(4, '0')}`;
  const inodes = new Set<string>();
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    if (!existsSync(table)) continue;
    for (const line of readFileSync(table, 'utf8').split('\n').slice(1)) {
      const f = line.trim().split(/\s+/);
      if (f[1]?.endsWith(hexPort) && f[3] === '01' && f[9] !== undefined) inodes.add(f[9]);
    }
  }
  let held = 0;
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
      if (m && inodes.has(m[1]!)) held++;
    } catch {
      // The descriptor closed meanwhile.
    }
  }
  return held;
}

/**
 * Allowed Checks over `connections` separate HTTP/2 connections (the cluster deals them out), and
 * how many of those connections each live worker held while they were open.
 */
async function checks(
  s: Sidecar,
  connections: number,
  perConnection: number,
): Promise<{ allowed: number; held: number[] }> {
  let allowed = 0;
  // A local subchannel pool: a new TCP connection per client, not grpc-js's shared one.
  const clients = Array.from(
    { length: connections },
    () => new CheckClient(s.grpcPort, '127.0.0.1', { 'grpc.use_local_subchannel_pool': 1 }),
  );
  for (const client of clients) {
    for (let i = 0; i < perConnection; i++) {
      const r = await client.check(checkRequest({ path: '/orders/1', sourcePrincipal: FRONTEND }));
      if (r.ok && r.response.status?.code === 0) allowed++;
    }
  }
  const held = workerPids(s)
    .filter(alive)
    .map((pid) => connectionsHeld(pid, s.grpcPort));
  for (const client of clients) client.close();
  return { allowed, held };
}

const decisionsAllowed = (metrics: string): number =>
  [...metrics.matchAll(/^portcullis_decisions_total\{outcome="allow"[^}]*api="grpc"\} (\d+)/gm)].reduce(
    (n, m) => n + Number(m[1]),
    0,
  );

describe('server.workers: 2 — one port, two processes, one admin view', () => {
  let sidecar: Sidecar;
  beforeAll(async () => {
    sidecar = await startSidecar(['--policies', await policyDir(), '--set', 'server.workers=2']);
  });
  afterAll(async () => {
    if (sidecar.proc.exitCode === null) await sidecar.stop();
  });

  it('both workers answer on the shared port; /metrics sums them; /readyz counts them', async () => {
    expect(workerPids(sidecar)).toHaveLength(2);
    const { allowed, held } = await checks(sidecar, 6, 10);
    expect(allowed).toBe(60);
    // The cluster dealt the six connections out to both workers (round robin: three each).
    expect(held).toHaveLength(2);
    expect(held.every((n) => n > 0)).toBe(true);
    expect(held[0]! + held[1]!).toBe(6);
    const metrics = await admin(sidecar, '/metrics');
    expect(metrics.status).toBe(200);
    expect(decisionsAllowed(metrics.text)).toBe(60);
    expect(metrics.text).toMatch(/^portcullis_ready 1$/m);
    const ready = await admin(sidecar, '/readyz');
    expect(ready.status).toBe(200);
    expect(JSON.parse(ready.text)).toMatchObject({ ready: true, workers: 2, serving: 2 });
  });

  it('a worker that dies is replaced, and the port keeps answering meanwhile', async () => {
    const [victim] = workerPids(sidecar);
    process.kill(victim!, 'SIGKILL');
    await expect.poll(() => alive(victim!)).toBe(false);
    expect((await checks(sidecar, 2, 5)).allowed).toBe(10);
    await expect.poll(() => workerPids(sidecar).length, { timeout: 20_000 }).toBe(3);
    await expect.poll(async () => (await admin(sidecar, '/readyz')).status, { timeout: 20_000 }).toBe(200);
    expect(parsed(sidecar).some((l) => l.msg === 'worker exited; starting another')).toBe(true);
    const after = await checks(sidecar, 4, 5);
    expect(after.allowed).toBe(20);
    expect(after.held.every((n) => n > 0)).toBe(true);
  });

  it('SIGTERM drains every worker, then the primary exits 0', async () => {
    const pids = workerPids(sidecar).filter(alive);
    expect(pids).toHaveLength(2);
    expect(await sidecar.stop()).toBe(0);
    for (const pid of pids) expect(alive(pid)).toBe(false);
    expect(parsed(sidecar).filter((l) => l.msg === 'portcullis stopped').length).toBe(3);
  });
});

describe('server.workers: 2 — a start-up error', () => {
  it('policies that do not compile: the error once, exit non-zero, no restart loop', async () => {
    const dir = await policyDir({ 'bad.yaml': BAD_POLICY });
    const started = Date.now();
    const r = await runCli(['serve', '--policies', dir, ...FREE_PORTS, '--set', 'server.workers=2']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/bad\.yaml:\d+:\d+/);
    expect(r.stdout).toContain('a worker failed to start; stopping');
    expect(r.stdout).not.toContain('worker exited; starting another');
    expect(Date.now() - started).toBeLessThan(30_000);
  });
});
