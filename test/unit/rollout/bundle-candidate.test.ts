import { describe, expect, it } from 'vitest';
import {
  buildBundle,
  createBundlePuller,
  DEFAULT_LIMITS,
  readBundleSources,
  signBundle,
  verifyBundle,
} from '../../../src/bundle/index.js';
import { issueBreakGlass } from '../../../src/rollout/index.js';
import { makeDeps, makeKey, pullerConfig, repack, startStaticServer, waitFor } from '../bundle/fixtures.js';
import { CANDIDATE, ENFORCED, sources } from './helpers.js';

describe('bundles carrying a candidate set and break-glass exceptions', async () => {
  const key = await makeKey('cand');
  const stranger = await makeKey('cand');
  const token = async (k = key) =>
    (
      await issueBreakGlass(
        { who: 'u-1', what: { hosts: ['orders'] }, why: 'INC-9', untilMs: Date.now() + 60_000, id: 'inc-9' },
        k.signing,
      )
    ).token;
  const build = async (over: Record<string, unknown> = {}) => {
    const r = await buildBundle(sources(ENFORCED), {
      revision: 5,
      key: key.signing,
      candidate: sources(CANDIDATE),
      breakGlass: [{ name: 'inc-9.jws', token: await token() }],
      track: 'canary',
      ...over,
    });
    if (!r.ok) throw new Error(r.detail);
    return r.bundle;
  };
  const verify = (archive: Buffer) => verifyBundle(archive, { keys: key.trusted, limits: DEFAULT_LIMITS });

  it('lists candidate files and tokens in the signed manifest; verification compiles both sets and checks the tokens', async () => {
    const b = await build();
    expect(b.manifest).toMatchObject({
      track: 'canary',
      candidateFiles: [{ path: 'admin.yaml' }, { path: 'orders.yaml' }],
      breakGlass: [{ path: 'inc-9.jws' }],
    });
    const v = await verify(b.archive);
    expect(v.ok).toBe(true);
    if (!v.ok) return;
    expect(v.bundle.candidate?.set.policyCount).toBe(2);
    expect(v.bundle.candidate?.set.digest).not.toBe(v.bundle.set.digest);
    expect(v.bundle.breakGlass.map((g) => [g.id, g.who, g.whyText])).toEqual([['inc-9', 'u-1', 'INC-9']]);
    const unverified = await readBundleSources(b.archive, DEFAULT_LIMITS);
    expect(unverified.ok && unverified.candidate?.map((s) => s.path)).toEqual(['admin.yaml', 'orders.yaml']);
  });

  it('a bundle without them is unchanged (no manifest fields)', async () => {
    const r = await buildBundle(sources(ENFORCED), { revision: 1, key: key.signing });
    expect(r.ok && Object.keys(r.bundle.manifest)).toEqual([
      'format',
      'name',
      'revision',
      'createdAt',
      'files',
    ]);
  });

  it.each([
    [
      'a changed candidate file',
      (e: Map<string, Buffer>) => e.set('candidate/orders.yaml', Buffer.from('x: 1\n')),
      'bundle_file_hash_mismatch',
    ],
    [
      'an unlisted candidate file',
      (e: Map<string, Buffer>) => e.set('candidate/extra.yaml', Buffer.from('x: 1\n')),
      'bundle_files_mismatch',
    ],
    [
      'a missing token',
      (e: Map<string, Buffer>) => e.delete('break-glass/inc-9.jws'),
      'bundle_files_mismatch',
    ],
  ])('rejects %s', async (_, mutate, reason) => {
    const b = await build();
    const v = await verify(await repack(b.archive, mutate));
    expect(v).toMatchObject({ ok: false, reason });
  });

  it('refuses to build, and rejects, a candidate that does not compile', async () => {
    const broken = { ...CANDIDATE, 'orders.yaml': 'apiVersion: portcullis.dev/v1\nkind: Policy\n' };
    const r = await buildBundle(sources(ENFORCED), {
      revision: 2,
      key: key.signing,
      candidate: sources(broken),
    });
    expect(r).toMatchObject({
      ok: false,
      reason: 'bundle_compile_error',
      detail: 'candidate policies do not compile',
    });
    expect(!r.ok && r.details?.[0]).toMatch(/^candidate orders.yaml:/);
  });

  it('rejects a token signed by a key the sidecar does not trust', async () => {
    const b = await build({ breakGlass: [{ name: 'inc-9.jws', token: await token(stranger) }] });
    const v = await verify(b.archive);
    expect(v).toMatchObject({
      ok: false,
      reason: 'bundle_break_glass_invalid',
      detail: expect.stringMatching(/^break-glass\/inc-9.jws: signature/),
    });
  });

  it('re-signing keeps the candidate and the tokens', async () => {
    const b = await build();
    const other = await makeKey('cand-2');
    const s = await signBundle(b.archive, other.signing, DEFAULT_LIMITS);
    expect(s.ok).toBe(true);
    if (!s.ok) return;
    const keys = new Map([...other.trusted, ...key.trusted]);
    const v = await verifyBundle(s.archive, { keys, limits: DEFAULT_LIMITS });
    expect(v.ok && [v.bundle.candidate !== undefined, v.bundle.breakGlass.length]).toEqual([true, 1]);
  });

  it('the puller hands candidate, exceptions and track to the store and exports the rollout track', async () => {
    const server = await startStaticServer();
    const deps = makeDeps();
    const puller = createBundlePuller(
      pullerConfig({ url: server.url, keys: { inline: [key.publicJwk] } }),
      deps,
    );
    try {
      server.set((await build()).archive);
      await puller.start();
      await waitFor(() => deps.history.length > 0, 5000, 'activation');
      const active = deps.history[0];
      expect(active?.track).toBe('canary');
      expect(active?.candidate?.policyCount).toBe(2);
      expect(active?.breakGlass?.map((g) => g.id)).toEqual(['inc-9']);
      const info = (await deps.metrics.rolloutInfo.get()).values;
      expect(info).toEqual([{ labels: { track: 'canary', candidate: 'true' }, value: 1 }]);
    } finally {
      await puller.stop();
      await server.close();
    }
  });
});
