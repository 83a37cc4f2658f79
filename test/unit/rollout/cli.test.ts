import { mkdir, mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { buildBundle, createControlPlane, generateBundleKeyPair } from '../../../src/bundle/index.js';
import { main } from '../../../src/cli/cli.js';
import { runServiceTests } from '../../../src/cli/control-plane.js';
import { makeKey } from '../bundle/fixtures.js';
import { CANDIDATE, compile, ENFORCED, logLine, sources, TRAFFIC } from './helpers.js';

let dir: string;

async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await main(args, { stdout: (s) => out.push(s), stderr: (s) => err.push(s) });
  return { code, stdout: out.join(''), stderr: err.join('') };
}

async function writeDir(name: string, files: Record<string, string>) {
  await mkdir(join(dir, name), { recursive: true });
  for (const [f, text] of Object.entries(files)) await writeFile(join(dir, name, f), text);
  return join(dir, name);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'portcullis-rollout-cli-'));
  const set = compile(ENFORCED);
  await writeFile(join(dir, 'decisions.jsonl'), `${TRAFFIC.map((t, i) => logLine(set, t, i)).join('\n')}\n`);
  await writeDir('candidate', CANDIDATE);
  const { privateJwk, publicJwk } = await generateBundleKeyPair('EdDSA', 'cli-k');
  await writeFile(join(dir, 'key.jwk'), JSON.stringify(privateJwk));
  await writeFile(join(dir, 'jwks.json'), JSON.stringify({ keys: [publicJwk] }));
});
afterAll(() => rm(dir, { recursive: true, force: true }));

describe('portcullis replay', () => {
  it('prints the changes and writes the JSON report; exit 1 over --max-changes', async () => {
    const json = join(dir, 'report.json');
    const r = await cli(
      'replay',
      '--policies',
      join(dir, 'candidate'),
      '--log',
      join(dir, 'decisions.jsonl'),
      '--max-changes',
      '2',
      '--json',
      json,
    );
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('changed: 3 (allow→deny 2, deny→allow 1)');
    expect(r.stdout).toMatch(/orders@1\s+checkout-write\s+2\s+0/);
    expect(r.stdout).toContain('FAIL: 3 changed decisions exceed --max-changes 2');
    // The example explains the change: the rule that allowed it no longer matches.
    expect(r.stdout).toContain('rule orders@1#checkout-write: not_matched — to: ');
    const report = JSON.parse(await readFile(json, 'utf8'));
    expect(report).toMatchObject({ changed: 3, overThreshold: true, policies: join(dir, 'candidate') });
    expect(report.examples[0].candidate.explanation.length).toBeGreaterThan(0);
  });

  it.each([
    [['--max-changes', '3'], 0, 'OK: 3 changed decisions'],
    [['--since', '1h'], 0, 'replayed 0 decisions'],
    [['--since', '2025-06-16T00:00:00Z'], 0, 'replayed 0 decisions'],
    [['--since', '2020-01-01T00:00:00Z'], 0, 'replayed 7 decisions'],
  ])('%j → exit %i', async (extra, code, text) => {
    const r = await cli(
      'replay',
      '--policies',
      join(dir, 'candidate'),
      '--log',
      join(dir, 'decisions.jsonl'),
      ...extra,
    );
    expect([r.code, r.stdout]).toEqual([code, expect.stringContaining(text)]);
  });

  it('replays against a bundle: its candidate set, verified with --keys', async () => {
    const key = await makeKey('cli-k');
    const b = await buildBundle(sources(ENFORCED), {
      revision: 3,
      key: key.signing,
      candidate: sources(CANDIDATE),
    });
    if (!b.ok) throw new Error(b.detail);
    await writeFile(join(dir, 'b.tar.gz'), b.bundle.archive);
    await writeFile(join(dir, 'trusted.json'), JSON.stringify({ keys: [key.publicJwk] }));
    const verified = await cli(
      'replay',
      '--policies',
      join(dir, 'b.tar.gz'),
      '--log',
      join(dir, 'decisions.jsonl'),
      '--keys',
      join(dir, 'trusted.json'),
      '--json',
      '-',
    );
    expect([verified.code, JSON.parse(verified.stdout).changed]).toEqual([0, 3]);
    const unverified = await cli(
      'replay',
      '--policies',
      join(dir, 'b.tar.gz'),
      '--log',
      join(dir, 'decisions.jsonl'),
    );
    expect(unverified.stderr).toContain('is not verified');
    const wrongKey = await cli(
      'replay',
      '--policies',
      join(dir, 'b.tar.gz'),
      '--log',
      join(dir, 'decisions.jsonl'),
      '--keys',
      join(dir, 'jwks.json'),
    );
    expect([wrongKey.code, wrongKey.stderr]).toEqual([
      2,
      expect.stringContaining('bundle_signature_invalid'),
    ]);
  });

  it('bundle build --candidate ships a candidate set that replay then uses', async () => {
    const enforced = await writeDir('enforced', ENFORCED);
    const out = join(dir, 'built.tar.gz');
    const b = await cli(
      'bundle',
      'build',
      enforced,
      '--revision',
      '9',
      '--out',
      out,
      '--key',
      join(dir, 'key.jwk'),
      '--candidate',
      join(dir, 'candidate'),
    );
    expect(b.code).toBe(0);
    const r = await cli(
      'replay',
      '--policies',
      out,
      '--log',
      join(dir, 'decisions.jsonl'),
      '--keys',
      join(dir, 'jwks.json'),
      '--json',
      '-',
    );
    expect([r.code, JSON.parse(r.stdout).changed]).toEqual([0, 3]);
  });

  it.each([
    [[], 'required'],
    [['--policies', 'x', '--log', 'y', '--since', 'yesterday'], '--since'],
    [['--policies', 'x', '--log', 'y', '--max-changes', '-1'], '--max-changes'],
  ])('usage errors exit 2: %j', async (args, text) => {
    const r = await cli('replay', ...args);
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining(text)]);
  });

  it('a missing log or policy directory exits 2 with the reason', async () => {
    const r = await cli('replay', '--policies', join(dir, 'candidate'), '--log', join(dir, 'nope.jsonl'));
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining('ENOENT')]);
    const p = await cli('replay', '--policies', join(dir, 'nope'), '--log', join(dir, 'decisions.jsonl'));
    expect(p.code).toBe(2);
  });
});

describe('portcullis break-glass', () => {
  it('issue → list → verify → revoke', async () => {
    const bg = join(dir, 'bg');
    await mkdir(bg, { recursive: true });
    const key = join(dir, 'key.jwk');
    const issued = await cli(
      'break-glass',
      'issue',
      '--key',
      key,
      '--who',
      'u-oncall',
      '--why',
      'INC-1 payouts',
      '--for',
      '30m',
      '--host',
      'payments-admin.internal',
      '--path',
      '/admin/*',
      '--method',
      'get',
      '--id',
      'inc-1',
      '--out',
      bg,
    );
    expect(issued.code).toBe(0);
    expect(issued.stdout).toMatch(
      /issued inc-1 {2}active until .* who=u-oncall {2}what=GET payments-admin.internal\/admin\/\*/,
    );
    expect(await readdir(bg)).toEqual(['inc-1.jws']);
    const listed = await cli('break-glass', 'list', bg);
    expect(listed.stdout).toContain('why="INC-1 payouts"');
    expect(
      (await cli('break-glass', 'verify', join(bg, 'inc-1.jws'), '--keys', join(dir, 'jwks.json'))).code,
    ).toBe(0);
    const otherKey = await makeKey('other');
    await writeFile(
      join(dir, 'other.json'),
      JSON.stringify({ keys: [{ ...otherKey.publicJwk, kid: 'cli-k' }] }),
    );
    expect(
      (await cli('break-glass', 'verify', join(bg, 'inc-1.jws'), '--keys', join(dir, 'other.json'))).code,
    ).toBe(1);
    expect((await cli('break-glass', 'revoke', bg, '--id', 'inc-1')).stdout).toContain('revoked inc-1');
    expect(await readdir(bg)).toEqual([]);
  });

  it('prints the token without --out', async () => {
    const r = await cli(
      'break-glass',
      'issue',
      '--key',
      join(dir, 'key.jwk'),
      '--who',
      'u',
      '--why',
      'w',
      '--until',
      new Date(Date.now() + 60_000).toISOString(),
      '--path',
      '/x',
    );
    expect(r.stdout.trim().split('.')).toHaveLength(3);
  });

  it.each([
    [['issue', '--key', 'k', '--who', 'u'], 'issue needs'],
    [['issue', '--key', 'KEY', '--who', 'u', '--why', 'w', '--for', '48h', '--path', '/x'], '24h'],
    [['issue', '--key', 'KEY', '--who', 'u', '--why', 'w', '--for', '1h'], 'at least one host or path'],
    [
      [
        'issue',
        '--key',
        'KEY',
        '--who',
        'u',
        '--why',
        'w',
        '--for',
        '1h',
        '--until',
        '2030-01-01T00:00:00Z',
        '--path',
        '/',
      ],
      'exactly one of --for or --until',
    ],
    [['frobnicate', 'x'], 'unknown subcommand'],
  ])('usage error: %j', async (args, text) => {
    const r = await cli('break-glass', ...args.map((a) => (a === 'KEY' ? join(dir, 'key.jwk') : a)));
    expect([r.code, r.stderr]).toEqual([2, expect.stringContaining(text)]);
  });
});

describe('portcullis control-plane promote|rollback', () => {
  it('talks to a running staged control plane', async () => {
    const policies = await writeDir('cp', {});
    await mkdir(join(policies, 'orders'));
    for (const [f, t] of Object.entries(ENFORCED)) await writeFile(join(policies, 'orders', f), t);
    const key = await makeKey('cp');
    const cp = createControlPlane(
      {
        policiesDir: policies,
        signingKey: key.signing,
        port: 0,
        watch: false,
        rollout: 'staged',
        adminToken: 'tok',
      },
      { logger: pino({ level: 'silent' }), runTests: runServiceTests },
    );
    const url = `http://127.0.0.1:${await cp.start()}`;
    try {
      const nothing = await cli('control-plane', 'promote', '--url', url, '--token', 'tok');
      expect([nothing.code, nothing.stderr]).toEqual([
        1,
        expect.stringContaining('orders: nothing to promote: no pending change [rollout_refused]'),
      ]);
      for (const [f, t] of Object.entries(CANDIDATE)) await writeFile(join(policies, 'orders', f), t);
      await cp.rebuild();
      const canary = await cli(
        'control-plane',
        'promote',
        '--url',
        url,
        '--service',
        'orders',
        '--percent',
        '10',
        '--token',
        'tok',
      );
      expect([canary.code, canary.stdout]).toEqual([
        0,
        expect.stringMatching(/^orders: stable revision \d+, canary 10% on revision \d+, pending change/),
      ]);
      const noToken = await cli('control-plane', 'rollback', '--url', url);
      expect(noToken.code).toBe(1);
      const back = await cli('control-plane', 'rollback', '--url', url, '--token', 'tok', '--json');
      expect(JSON.parse(back.stdout).rollout.orders.canary).toBeUndefined();
      expect((await cli('control-plane', 'promote', '--url', url, '--percent', '101')).code).toBe(2);
      expect((await cli('control-plane', 'promote', '--url', 'http://127.0.0.1:1')).stderr).toContain(
        'cannot reach',
      );
    } finally {
      await cp.stop();
    }
  });
});
