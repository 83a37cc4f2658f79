import { mkdir, mkdtemp, rename, rm, unlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  type ControlPlane,
  canaryBucket,
  createControlPlane,
  DEFAULT_LIMITS,
  verifyBundle,
} from '../../../src/bundle/index.js';
import { runServiceTests } from '../../../src/cli/control-plane.js';
import { buildAuthzInput, buildPrincipal, type CompiledPolicySet } from '../../../src/policy/index.js';
import { issueBreakGlass } from '../../../src/rollout/index.js';
import { makeKey, type TestKey } from '../bundle/fixtures.js';
import { CANDIDATE, CHECKOUT, ENFORCED } from './helpers.js';

const logger = pino({ level: 'silent' });
const IDS = Array.from({ length: 400 }, (_, i) => `sidecar-${i}`);
/** Sidecars by canary bucket: always in a 30 % canary, in a 60 % but not a 30 % one, never in a 60 % one. */
const IN30 = IDS.find((id) => canaryBucket(id) < 25) as string;
const IN60 = IDS.find((id) => canaryBucket(id) > 35 && canaryBucket(id) < 55) as string;
const OUT = IDS.find((id) => canaryBucket(id) > 70) as string;

let key: TestKey;
let dir: string;
let bgDir: string;
let cp: ControlPlane | undefined;
let base: string;

beforeAll(async () => {
  key = await makeKey('staged');
});
afterEach(async () => {
  await cp?.stop();
  cp = undefined;
  await rm(dir, { recursive: true, force: true });
});

async function write(files: Record<string, string>) {
  for (const [name, text] of Object.entries(files)) {
    await mkdir(join(dir, 'orders'), { recursive: true });
    await writeFile(join(dir, 'orders', name), text);
  }
}

/** Starts a control plane; with `stateDir`, on the same policy directory as before (a restart). */
async function start(rollout: 'staged' | 'immediate' = 'staged', adminToken?: string, stateDir?: string) {
  if (stateDir === undefined) {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-staged-'));
    bgDir = join(dir, '.break-glass');
    await mkdir(bgDir);
    await write(ENFORCED);
  }
  cp = createControlPlane(
    {
      policiesDir: dir,
      signingKey: key.signing,
      port: 0,
      watch: false,
      rollout,
      breakGlassDir: bgDir,
      adminToken,
      stateDir,
    },
    { logger, runTests: runServiceTests },
  );
  base = `http://127.0.0.1:${await cp.start()}`;
}

/** What a sidecar with this id gets: verified, with both sets and the served track. */
async function pull(sidecarId: string) {
  const res = await fetch(`${base}/v1/bundles/orders`, { headers: { 'portcullis-sidecar-id': sidecarId } });
  const v = await verifyBundle(Buffer.from(await res.arrayBuffer()), {
    keys: key.trusted,
    limits: DEFAULT_LIMITS,
  });
  if (!v.ok) throw new Error(v.detail);
  return {
    revision: v.bundle.manifest.revision,
    track: v.bundle.manifest.track ?? 'stable',
    header: res.headers.get('portcullis-track'),
    checkoutDeletes: deletes(v.bundle.set),
    candidateDeletes: v.bundle.candidate ? deletes(v.bundle.candidate.set) : undefined,
    breakGlass: v.bundle.breakGlass.map((g) => g.id),
  };
}

function deletes(set: CompiledPolicySet): boolean {
  const request = buildAuthzInput({ method: 'DELETE', host: 'orders', path: '/orders/1' }, CHECKOUT);
  return set.evaluate({ request, principal: buildPrincipal(CHECKOUT), now: Date.now() }).allowed;
}

async function change() {
  await write(CANDIDATE);
  await cp?.rebuild();
}

describe('staged control plane', () => {
  it('ships a change as the candidate set (shadow): enforced only after promote', async () => {
    await start();
    const before = await pull(OUT);
    expect(before).toMatchObject({ track: 'stable', checkoutDeletes: true, candidateDeletes: undefined });
    await change();
    const shadow = await pull(OUT);
    expect(shadow).toMatchObject({ track: 'stable', checkoutDeletes: true, candidateDeletes: false });
    expect(shadow.revision).toBeGreaterThan(before.revision);
    expect(cp?.revisions().rollout.orders).toMatchObject({
      mode: 'staged',
      canRollback: false,
      pendingDigest: expect.any(String),
    });
  });

  it('canary: the sidecars in the share enforce the change, the others keep shadowing it; rollback is instant and newer', async () => {
    await start();
    await change();
    const r = await cp?.promote('orders', 30);
    expect(r?.ok).toBe(true);
    const [inside, outside] = [await pull(IN30), await pull(OUT)];
    expect(inside).toMatchObject({
      track: 'canary',
      header: 'canary',
      checkoutDeletes: false,
      candidateDeletes: undefined,
    });
    expect(outside).toMatchObject({
      track: 'stable',
      header: 'stable',
      checkoutDeletes: true,
      candidateDeletes: false,
    });
    expect(inside.revision).toBeGreaterThan(outside.revision);
    expect(cp?.revisions().rollout.orders?.canary).toEqual({ percent: 30, revision: inside.revision });
    expect(cp?.revisions().sidecars[IN30]).toMatchObject({ track: 'canary', revision: inside.revision });

    expect((await cp?.rollback('orders'))?.ok).toBe(true);
    const back = await pull(IN30);
    expect(back).toMatchObject({ track: 'stable', checkoutDeletes: true, candidateDeletes: false });
    expect(back.revision).toBeGreaterThan(inside.revision);
    expect(cp?.revisions().rollout.orders?.canary).toBeUndefined();
  });

  it('canary share going down and up again: each sidecar that changes track gets a newer revision', async () => {
    await start();
    await change();
    await cp?.promote('orders', 60);
    const c60 = await pull(IN60);
    expect(c60.track).toBe('canary');
    await cp?.promote('orders', 30);
    const left = await pull(IN60);
    expect(left).toMatchObject({ track: 'stable', checkoutDeletes: true });
    expect(left.revision).toBeGreaterThan(c60.revision);
    expect((await pull(IN30)).track).toBe('canary');
    await cp?.promote('orders', 60);
    const rejoined = await pull(IN60);
    expect(rejoined.track).toBe('canary');
    expect(rejoined.revision).toBeGreaterThan(left.revision);
  });

  it('promote to 100 % enforces the change everywhere; rollback restores the previous stable and shadows the change again', async () => {
    await start();
    await change();
    await cp?.promote('orders', 10);
    const canary = await pull(IN30);
    expect((await cp?.promote(undefined, 100))?.ok).toBe(true);
    const promoted = [await pull(IN30), await pull(OUT)];
    for (const p of promoted) {
      expect(p).toMatchObject({ track: 'stable', checkoutDeletes: false, candidateDeletes: undefined });
      expect(p.revision).toBeGreaterThan(canary.revision);
    }
    expect(cp?.revisions().rollout.orders).toMatchObject({ canRollback: true });
    expect((await cp?.rollback(undefined))?.ok).toBe(true);
    const restored = await pull(OUT);
    expect(restored).toMatchObject({ checkoutDeletes: true, candidateDeletes: false });
    expect(restored.revision).toBeGreaterThan(promoted[0]?.revision ?? 0);
  });

  it('a new change during a canary ends it: every sidecar is back on stable, shadowing the newer change', async () => {
    await start();
    await change();
    await cp?.promote('orders', 30);
    const canary = await pull(IN30);
    await write({ 'extra.yaml': (ENFORCED['admin.yaml'] as string).replace('name: admin', 'name: admin-2') });
    await cp?.rebuild();
    const after = await pull(IN30);
    expect(after).toMatchObject({ track: 'stable', checkoutDeletes: true, candidateDeletes: false });
    expect(after.revision).toBeGreaterThan(canary.revision);
  });

  it('with a state directory, a restart keeps enforcing the stable sources: the change stays in shadow', async () => {
    await start();
    const state = join(dir, '.state');
    await cp?.stop();
    await start('staged', undefined, state);
    await change();
    await cp?.promote('orders', 30);
    await cp?.stop();
    await start('staged', undefined, state);
    expect(await pull(IN30)).toMatchObject({
      track: 'stable',
      checkoutDeletes: true,
      candidateDeletes: false,
    });
    expect((await cp?.promote('orders', 100))?.ok).toBe(true);
    await cp?.stop();
    await start('staged', undefined, state);
    expect(await pull(OUT)).toMatchObject({ checkoutDeletes: false, candidateDeletes: undefined });
    expect(cp?.revisions().rollout.orders?.canRollback).toBe(true);
  });

  it('picks up files replaced through a rename (new inode), which fs.watch can stop reporting: the rescan', async () => {
    dir = await mkdtemp(join(tmpdir(), 'portcullis-rescan-'));
    await write(ENFORCED);
    cp = createControlPlane(
      { policiesDir: dir, signingKey: key.signing, port: 0, debounceMs: 10, rescanMs: 100 },
      { logger, runTests: runServiceTests },
    );
    await cp.start();
    for (let i = 0; i < 6; i++) {
      const before = cp.revisions().services.orders?.digest;
      const file = join(dir, 'orders', 'orders.yaml');
      await writeFile(`${file}.new`, `${ENFORCED['orders.yaml']}# edit ${i}\n`);
      await rename(`${file}.new`, file);
      const end = Date.now() + 3000;
      while (cp.revisions().services.orders?.digest === before && Date.now() < end)
        await new Promise((r) => setTimeout(r, 20));
      expect(cp.revisions().services.orders?.digest).not.toBe(before);
    }
  });

  it.each([
    ['promote with nothing pending', (c: ControlPlane) => c.promote('orders', 10), /nothing to promote/],
    ['rollback with nothing to undo', (c: ControlPlane) => c.rollback(undefined), /nothing to roll back/],
    ['an unknown service', (c: ControlPlane) => c.promote('billing', 10), /unknown service "billing"/],
    [
      'a percentage out of range',
      async (c: ControlPlane) => {
        await change();
        return c.promote('orders', 0);
      },
      /percent/,
    ],
  ])('refuses %s', async (_, op, detail) => {
    await start();
    const r = await op(cp as ControlPlane);
    expect(r.ok).toBe(false);
    if (!r.ok) expect(r.detail).toMatch(detail);
  });

  it('refuses promote and rollback when it publishes immediately', async () => {
    await start('immediate');
    await change();
    expect(await pull(OUT)).toMatchObject({ checkoutDeletes: false, candidateDeletes: undefined });
    expect(await cp?.promote('orders', 10)).toEqual({ ok: false, detail: expect.stringMatching(/--staged/) });
  });

  it('admin endpoints: bearer token, JSON body, 409 with rollout_refused, GET /v1/rollout', async () => {
    await start('staged', 's3cret');
    await change();
    const post = (path: string, body: unknown, token?: string) =>
      fetch(`${base}${path}`, {
        method: 'POST',
        headers: token ? { authorization: `Bearer ${token}` } : {},
        body: typeof body === 'string' ? body : JSON.stringify(body),
      });
    expect((await post('/v1/rollout/promote', { percent: 30 })).status).toBe(401);
    expect((await post('/v1/rollout/promote', { percent: 30 }, 'wrong')).status).toBe(401);
    expect((await post('/v1/rollout/promote', '{"percent":', 's3cret')).status).toBe(400);
    expect((await post('/v1/rollout/promote', { percent: '30' }, 's3cret')).status).toBe(400);
    const ok = await post('/v1/rollout/promote', { service: 'orders', percent: 30 }, 's3cret');
    expect(ok.status).toBe(200);
    expect(
      ((await ok.json()) as { rollout: Record<string, { canary: unknown }> }).rollout.orders?.canary,
    ).toMatchObject({ percent: 30 });
    const status = (await (await fetch(`${base}/v1/rollout`)).json()) as { rollout: object };
    expect(status.rollout).toHaveProperty('orders');
    expect((await post('/v1/rollout/rollback', {}, 's3cret')).status).toBe(200);
    const refused = await post('/v1/rollout/rollback', {}, 's3cret');
    expect(refused.status).toBe(409);
    expect(await refused.json()).toMatchObject({ code: 'rollout_refused' });
    expect((await fetch(`${base}/v1/rollout/promote`)).status).toBe(405);
  });

  it('break-glass exceptions reach stable and canary bundles at once (never staged) and leave with their file', async () => {
    await start();
    await change();
    await cp?.promote('orders', 30);
    const now = Date.now();
    const issue = async (id: string, untilMs: number) =>
      (
        await issueBreakGlass(
          { who: 'u-1', what: { hosts: ['orders'] }, why: 'INC', untilMs, id },
          key.signing,
          now - 1000,
        )
      ).token;
    await writeFile(join(bgDir, 'inc-1.jws'), await issue('inc-1', now + 600_000));
    await writeFile(join(bgDir, 'not-a-token.jws'), 'garbage');
    await cp?.rebuild();
    expect((await pull(IN30)).breakGlass).toEqual(['inc-1']);
    expect((await pull(OUT)).breakGlass).toEqual(['inc-1']);
    expect(cp?.revisions().rejected['break-glass']).toMatchObject({ reason: 'bundle_break_glass_invalid' });
    await unlink(join(bgDir, 'not-a-token.jws'));
    await unlink(join(bgDir, 'inc-1.jws'));
    await cp?.rebuild();
    expect((await pull(IN30)).breakGlass).toEqual([]);
    expect((await pull(OUT)).breakGlass).toEqual([]);
    expect(cp?.revisions().rejected['break-glass']).toBeUndefined();
  });
});
