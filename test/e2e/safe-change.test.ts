/**
 * The safe-change scenario end to end (issue 11), with real processes: a `--staged` control plane
 * and three `portcullis serve` sidecars pulling from it.
 *
 * write a rule → `portcullis test` → ship it as shadow → generate traffic → replay the recorded log
 * against it → predicted changes = observed shadow disagreements → promote to a 10 % canary →
 * promote → revoke a grant: denies on every sidecar; a break-glass exception: allowed on every
 * sidecar, then revoked: denied on every sidecar.
 */
import { cp, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { canaryBucket, generateBundleKeyPair } from '../../src/bundle/index.js';
import { CheckClient } from '../helpers/check-client.js';
import { checkRequest } from '../helpers/requests.js';
import { runCli, type Sidecar, startSidecar } from '../helpers/sidecar.js';
import {
  build,
  type ControlPlaneProcess,
  metricSamples,
  revisionOf,
  startControlPlane,
  waitUntil,
} from './processes.js';

const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const CHECKOUT = 'spiffe://cluster.local/ns/shop/sa/checkout';
const REPORTING = 'spiffe://cluster.local/ns/shop/sa/reporting';
const ROUNDS = 12;

const policy = (rules: string) => `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: orders, owner: team-orders }
selector: { hosts: [orders] }
rules:${rules}`;
const FRONTEND_READ = `
  - id: frontend-read
    effect: ALLOW
    from: [{ principals: [${FRONTEND}] }]
    to: [{ methods: [GET], paths: [/orders, "/orders/{id}"] }]`;
const CHECKOUT_WRITE = `
  - id: checkout-write
    effect: ALLOW
    from: [{ serviceAccounts: [shop/checkout] }]
    to: [{ methods: [POST, PUT, DELETE], paths: [/orders, "/orders/{id}"] }]`;
/** The new rules under test: orders are never deleted; reporting may list them. */
const NEW_RULES = `
  - id: no-delete
    description: Orders are archived, never deleted.
    effect: DENY
    to: [{ methods: [DELETE] }]
  - id: reporting-read
    effect: ALLOW
    from: [{ principals: [${REPORTING}] }]
    to: [{ methods: [GET], paths: [/orders] }]`;

const suite = (
  cases: [name: string, peer: string, method: string, path: string, allowed: boolean][],
) => `apiVersion: portcullis.dev/v1
kind: TestSuite
metadata: { name: orders }
tests:
${cases
  .map(
    ([name, peer, method, path, allowed]) => `  - name: ${name}
    principal: { source: { principal: "${peer}" } }
    request: { method: ${method}, host: orders, path: ${path} }
    expect: { allowed: ${allowed} }`,
  )
  .join('\n')}
`;

/** The sidecar ids: exactly the first one falls in a 10 % canary (stable hash of the id). */
function sidecarIds(): string[] {
  const ids = Array.from({ length: 500 }, (_, i) => `orders-7f9c-${i}`);
  const inside = ids.find((id) => canaryBucket(id) < 10) as string;
  return [inside, ...ids.filter((id) => canaryBucket(id) >= 10).slice(0, 2)];
}

describe('safe policy change, end to end', () => {
  let work: string;
  let dir: string;
  let bgDir: string;
  let controlPlane: ControlPlaneProcess;
  const sidecars: Sidecar[] = [];
  const clients: CheckClient[] = [];
  const logs: string[] = [];
  const ids = sidecarIds();

  /** Checks a request on one sidecar: 'allow' | 'deny' (+ the break-glass header). */
  async function ask(i: number, peer: string, method: string, path: string) {
    const r = await (clients[i] as CheckClient).check(
      checkRequest({ method, host: 'orders', path, sourcePrincipal: peer }),
    );
    if (!r.ok) throw new Error(`check failed: ${r.details}`);
    return r.response.status?.code === 0 ? 'allow' : 'deny';
  }
  const onEvery = (peer: string, method: string, path: string) =>
    Promise.all(sidecars.map((_, i) => ask(i, peer, method, path)));
  const revisions = () => Promise.all(sidecars.map((s) => revisionOf(s.adminPort)));
  const rollout = async () =>
    (
      (await (await fetch(`${controlPlane.url}/v1/rollout`)).json()) as {
        rollout: {
          orders: { stableRevision: number; canary?: { revision: number }; pendingDigest?: string };
        };
      }
    ).rollout.orders;
  const cli = async (...args: string[]) => {
    const r = await runCli(args);
    if (r.code !== 0) throw new Error(`portcullis ${args.join(' ')} → ${r.code}\n${r.stdout}${r.stderr}`);
    return r.stdout;
  };

  beforeAll(async () => {
    await build();
    work = await mkdtemp(join(tmpdir(), 'portcullis-safe-change-'));
    dir = join(work, 'policies');
    bgDir = join(work, 'break-glass');
    await mkdir(join(dir, 'orders'), { recursive: true });
    await mkdir(bgDir);
    await writeFile(join(dir, 'orders', 'orders.yaml'), policy(FRONTEND_READ + CHECKOUT_WRITE));
    await writeFile(
      join(dir, 'orders', 'orders_test.yaml'),
      suite([
        ['frontend reads', FRONTEND, 'GET', '/orders/1', true],
        ['checkout deletes', CHECKOUT, 'DELETE', '/orders/1', true],
      ]),
    );
    const { privateJwk, publicJwk } = await generateBundleKeyPair('EdDSA', 'e2e-1');
    await writeFile(join(work, 'signing.jwk'), JSON.stringify(privateJwk));
    await writeFile(join(work, 'trusted.json'), JSON.stringify({ keys: [publicJwk] }));
    controlPlane = await startControlPlane([
      '--policies',
      dir,
      '--signing-key',
      join(work, 'signing.jwk'),
      '--staged',
      '--break-glass-dir',
      bgDir,
      '--debounce',
      '20ms',
      '--max-wait',
      '20s',
    ]);
    for (const [i, id] of ids.entries()) {
      logs.push(join(work, `decisions-${i}.jsonl`));
      const config = {
        bundle: {
          url: `${controlPlane.url}/v1/bundles/{service}`,
          service: 'orders',
          sidecarId: id,
          keys: { files: [join(work, 'trusted.json')] },
          longPollTimeout: '20s',
          backoff: { initial: '50ms', max: '200ms' },
        },
        telemetry: { decisionLog: { sink: 'file', file: logs[i] } },
      };
      await writeFile(join(work, `sidecar-${i}.json`), JSON.stringify(config));
    }
    sidecars.push(
      ...(await Promise.all(ids.map((_, i) => startSidecar(['--config', join(work, `sidecar-${i}.json`)])))),
    );
    clients.push(...sidecars.map((s) => new CheckClient(s.grpcPort)));
    await waitUntil(async () => (await revisions()).every((r) => r !== ''), 15_000, 'every sidecar ready');
  }, 45_000);

  afterAll(async () => {
    for (const c of clients) c.close();
    await Promise.all(sidecars.map((s) => s.stop()));
    await controlPlane?.stop();
    if (work) await rm(work, { recursive: true, force: true });
  });

  it('write a rule → test → shadow → traffic → replay = shadow → canary 10 % → promote → revoke → break-glass', async () => {
    // On a failure, the control plane's log says what it built, refused and published.
    onTestFailed(async () => {
      const revisions = await (await fetch(`${controlPlane.url}/v1/revisions`)).text();
      process.stderr.write(`control plane log:\n${controlPlane.lines.slice(-40).join('\n')}\n${revisions}\n`);
    });
    // 1. Write the rule in a working copy and run its suite with the real CLI.
    const draft = join(work, 'draft');
    await cp(join(dir, 'orders'), draft, { recursive: true });
    await writeFile(join(draft, 'orders.yaml'), policy(FRONTEND_READ + CHECKOUT_WRITE + NEW_RULES));
    await writeFile(
      join(draft, 'orders_test.yaml'),
      suite([
        ['frontend reads', FRONTEND, 'GET', '/orders/1', true],
        ['checkout cannot delete', CHECKOUT, 'DELETE', '/orders/1', false],
        ['checkout creates', CHECKOUT, 'POST', '/orders', true],
        ['reporting lists', REPORTING, 'GET', '/orders', true],
      ]),
    );
    expect(await cli('test', draft)).toMatch(/4 passed|passed/);

    // 2. Ship it as shadow: the staged control plane sends it to every sidecar as the candidate set.
    const before = await revisions();
    // Written in place (as an editor would), read back from the draft.
    for (const f of ['orders.yaml', 'orders_test.yaml'])
      await writeFile(join(dir, 'orders', f), await readFile(join(draft, f)));
    await expect.poll(async () => (await rollout()).pendingDigest, { timeout: 10_000 }).toBeDefined();
    await expect
      .poll(async () => (await revisions()).every((r, i) => r !== before[i]), { timeout: 10_000 })
      .toBe(true);
    for (const s of sidecars)
      expect(await metricSamples(s.adminPort, 'portcullis_rollout_info')).toEqual([
        { labels: { track: 'stable', candidate: 'true' }, value: 1 },
      ]);

    // 3. Traffic: the enforced answers do not change while the candidate is shadowed.
    const kinds: [string, string, (n: number) => string, string][] = [
      [FRONTEND, 'GET', (n) => `/orders/${n}`, 'allow'],
      [CHECKOUT, 'DELETE', (n) => `/orders/${n}`, 'allow'],
      [REPORTING, 'GET', () => '/orders', 'deny'],
      [CHECKOUT, 'POST', () => '/orders', 'allow'],
      ['', 'GET', (n) => `/orders/${n}`, 'deny'],
    ];
    for (let n = 0; n < ROUNDS; n++)
      for (const [peer, method, path, expected] of kinds)
        for (let i = 0; i < sidecars.length; i++) expect(await ask(i, peer, method, path(n))).toBe(expected);
    const requests = ROUNDS * kinds.length * sidecars.length;

    // 4. Observed: the sidecars' disagreement counters, summed.
    const observed = new Map<string, number>();
    for (const s of sidecars)
      for (const m of await metricSamples(s.adminPort, 'portcullis_candidate_disagreements_total')) {
        const key = `${m.labels.policy}#${m.labels.rule} ${m.labels.direction}`;
        observed.set(key, (observed.get(key) ?? 0) + m.value);
      }
    expect(Object.fromEntries(observed)).toEqual({
      'orders@1#no-delete allow_to_deny': ROUNDS * sidecars.length,
      'orders@1#reporting-read deny_to_allow': ROUNDS * sidecars.length,
    });

    // 5. Replay the recorded decision logs against the draft: the prediction equals the observation.
    const lineCount = async () =>
      (await Promise.all(logs.map((l) => readFile(l, 'utf8').catch(() => ''))))
        .join('')
        .split('\n')
        .filter(Boolean).length;
    await expect.poll(lineCount, { timeout: 10_000 }).toBe(requests);
    const combined = join(work, 'yesterday.jsonl');
    await writeFile(combined, (await Promise.all(logs.map((l) => readFile(l, 'utf8')))).join(''));
    const report = JSON.parse(
      await cli('replay', '--policies', draft, '--log', combined, '--since', '1h', '--json', '-'),
    ) as {
      replayed: number;
      changed: number;
      byRule: { policy: string; rule: string; allowToDeny: number; denyToAllow: number }[];
    };
    expect(report.replayed).toBe(requests);
    const predicted = new Map<string, number>();
    for (const r of report.byRule) {
      if (r.allowToDeny > 0) predicted.set(`${r.policy}#${r.rule} allow_to_deny`, r.allowToDeny);
      if (r.denyToAllow > 0) predicted.set(`${r.policy}#${r.rule} deny_to_allow`, r.denyToAllow);
    }
    expect(predicted).toEqual(observed);
    expect(report.changed).toBe([...observed.values()].reduce((a, b) => a + b, 0));
    const gate = await runCli(['replay', '--policies', draft, '--log', combined, '--max-changes', '10']);
    expect(gate.code).toBe(1);

    // 6. Promote to a 10 % canary: only the sidecar whose id hashes into the share enforces it.
    await cli('control-plane', 'promote', '--url', controlPlane.url, '--percent', '10');
    const canary = await rollout();
    expect(canary.canary?.revision).toBeGreaterThan(canary.stableRevision);
    await expect
      .poll(revisions, { timeout: 10_000 })
      .toEqual([
        String(canary.canary?.revision),
        String(canary.stableRevision),
        String(canary.stableRevision),
      ]);
    expect(await onEvery(CHECKOUT, 'DELETE', '/orders/1')).toEqual(['deny', 'allow', 'allow']);
    expect((await metricSamples(sidecars[0]?.adminPort ?? 0, 'portcullis_rollout_info'))[0]?.labels).toEqual({
      track: 'canary',
      candidate: 'false',
    });

    // 7. Promote: every sidecar enforces the new rules.
    await cli('control-plane', 'promote', '--url', controlPlane.url);
    const promoted = String((await rollout()).stableRevision);
    await expect.poll(revisions, { timeout: 10_000 }).toEqual([promoted, promoted, promoted]);
    expect(await onEvery(CHECKOUT, 'DELETE', '/orders/1')).toEqual(['deny', 'deny', 'deny']);
    expect(await onEvery(REPORTING, 'GET', '/orders')).toEqual(['allow', 'allow', 'allow']);

    // 8. Revoke a grant (the frontend's read): staged, then promoted — denied on every sidecar.
    await writeFile(join(dir, 'orders', 'orders.yaml'), policy(CHECKOUT_WRITE + NEW_RULES));
    await writeFile(
      join(dir, 'orders', 'orders_test.yaml'),
      suite([['frontend cannot read', FRONTEND, 'GET', '/orders/1', false]]),
    );
    await expect.poll(async () => (await rollout()).pendingDigest, { timeout: 10_000 }).toBeDefined();
    expect(await onEvery(FRONTEND, 'GET', '/orders/1')).toEqual(['allow', 'allow', 'allow']);
    const t0 = Date.now();
    await cli('control-plane', 'promote', '--url', controlPlane.url);
    await expect
      .poll(() => onEvery(FRONTEND, 'GET', '/orders/1'), { timeout: 10_000, interval: 20 })
      .toEqual(['deny', 'deny', 'deny']);
    const revokeMs = Date.now() - t0;

    // 9. Break-glass: one command grants the frontend an exception on every sidecar; revoking it denies again.
    await cli(
      'break-glass',
      'issue',
      '--key',
      join(work, 'signing.jwk'),
      '--who',
      FRONTEND,
      '--host',
      'orders',
      '--path',
      '/orders/*',
      '--method',
      'GET',
      '--for',
      '10m',
      '--why',
      'INC-4711 order lookup',
      '--id',
      'inc-4711',
      '--out',
      bgDir,
    );
    await expect
      .poll(() => onEvery(FRONTEND, 'GET', '/orders/1'), { timeout: 10_000, interval: 20 })
      .toEqual(['allow', 'allow', 'allow']);
    // Counted on every sidecar (at least once: the poll above may ask a sidecar more than once).
    for (const s of sidecars) {
      const counted = await metricSamples(s.adminPort, 'portcullis_break_glass_decisions_total');
      expect(counted.map((c) => c.labels)).toEqual([{ exception: 'inc-4711' }]);
      expect(counted[0]?.value).toBeGreaterThanOrEqual(1);
    }
    await cli('break-glass', 'revoke', bgDir, '--id', 'inc-4711');
    await expect
      .poll(() => onEvery(FRONTEND, 'GET', '/orders/1'), { timeout: 10_000, interval: 20 })
      .toEqual(['deny', 'deny', 'deny']);
    const logged = (await readFile(logs[0] as string, 'utf8'))
      .split('\n')
      .filter((l) => l.includes('"reason":"break_glass"'));
    expect(logged.length).toBeGreaterThanOrEqual(1);
    process.stdout.write(
      `safe-change e2e: ${requests} shadowed decisions, revoke via promote on 3 sidecars in ${revokeMs} ms\n`,
    );
  }, 60_000);
});
