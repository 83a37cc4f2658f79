/**
 * Time to revoke: from writing a revoking policy change into the control plane's directory to the
 * first deny observed through `CompiledPolicySet.evaluate` of the puller's active set.
 *
 * The control plane is a real `portcullis control-plane` process (watch → debounce → compile →
 * suites → sign → publish); the sidecar side is the bundle puller in this process (fetch → verify →
 * compile → activate). Each activation immediately evaluates `GET /orders/1`, as the next Check
 * would. Two modes in the same run: long polling (our control plane) and plain polling every
 * second (what a static server such as nginx allows), for the ratio.
 *
 *   npx tsx bench/time-to-revoke.ts [--rounds N]      prints one JSON object; goal: long-poll p50 ≤ 1 s
 */
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import pino from 'pino';
import {
  type ActivatedBundle,
  bundleConfigSchema,
  createBundlePuller,
  generateBundleKeyPair,
} from '../src/bundle/index.js';
import { buildPolicyInput } from '../src/policy/index.js';
import { createMetrics } from '../src/telemetry/metrics.js';
import { parseJsonLine, startProcess } from './lib/proc.js';

const ROOT = join(import.meta.dirname, '..');
const GOAL_MS = 1000;

/** The orders service policy; `revoked` drops the grant on /orders/*. */
function policy(revoked: boolean, round: number): string {
  const grant = revoked
    ? ''
    : '\n  - id: allow-orders\n    effect: ALLOW\n    to: [{ methods: [GET], paths: ["/orders/*"] }]';
  return `apiVersion: portcullis.dev/v1
kind: Policy
metadata:
  name: orders
  description: round ${round}
rules:
  - id: allow-health
    effect: ALLOW
    to: [{ methods: [GET], paths: ["/healthz"] }]${grant}
`;
}

const SUITE = `apiVersion: portcullis.dev/v1
kind: TestSuite
metadata: { name: orders }
tests:
  - name: health stays open
    request: { method: GET, path: /healthz }
    expect: { allowed: true }
`;

const percentile = (xs: number[], p: number) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
};
const round1 = (x: number) => Math.round(x * 10) / 10;

/** Runs `rounds` revoke/restore cycles against the control plane with one puller mode. */
async function measure(
  dir: string,
  url: string,
  jwk: object,
  longPoll: boolean,
  rounds: number,
): Promise<number[]> {
  let watcher: ((b: ActivatedBundle) => void) | undefined;
  let active: ActivatedBundle | undefined;
  const config = bundleConfigSchema.parse({
    url,
    service: 'orders',
    keys: { inline: [jwk] },
    pollInterval: '1s',
    longPollTimeout: longPoll ? '30s' : 0,
    backoff: { initial: '50ms', max: '500ms' },
  });
  const puller = createBundlePuller(config, {
    logger: pino({ level: 'warn' }),
    metrics: createMetrics({ defaultMetrics: false }),
    activate: (b) => {
      active = b;
      watcher?.(b);
    },
    current: () => active,
  });
  await puller.start();
  const input = buildPolicyInput({ request: { method: 'GET', path: '/orders/1' } }, Date.now());
  const until = (allowed: boolean) =>
    new Promise<number>((resolve) => {
      const check = (b: ActivatedBundle | undefined) => {
        if (b === undefined || b.set.evaluate(input).allowed !== allowed) return;
        watcher = undefined;
        resolve(performance.now());
      };
      watcher = check;
      check(active);
    });
  const samples: number[] = [];
  try {
    await until(true);
    for (let i = 0; i < rounds; i++) {
      await new Promise((r) => setTimeout(r, 150 + Math.random() * 350));
      const denied = until(false);
      const t0 = performance.now();
      await writeFile(join(dir, 'orders', 'orders.yaml'), policy(true, i));
      samples.push((await denied) - t0);
      const allowed = until(true);
      await writeFile(join(dir, 'orders', 'orders.yaml'), policy(false, i));
      await allowed;
    }
  } finally {
    await puller.stop();
  }
  return samples;
}

const summary = (xs: number[]) => ({
  rounds: xs.length,
  p50Ms: round1(percentile(xs, 50)),
  p90Ms: round1(percentile(xs, 90)),
  maxMs: round1(Math.max(...xs)),
  meanMs: round1(xs.reduce((a, b) => a + b, 0) / xs.length),
});

async function main(): Promise<void> {
  const { values } = parseArgs({ options: { rounds: { type: 'string', default: '10' } } });
  const rounds = Number(values.rounds);
  const work = await mkdtemp(join(tmpdir(), 'portcullis-revoke-'));
  const policies = join(work, 'policies');
  await mkdir(join(policies, 'orders'), { recursive: true });
  await writeFile(join(policies, 'orders', 'orders.yaml'), policy(false, -1));
  await writeFile(join(policies, 'orders', 'orders_test.yaml'), SUITE);
  const { privateJwk, publicJwk } = await generateBundleKeyPair('EdDSA', 'bench');
  await writeFile(join(work, 'key.json'), JSON.stringify(privateJwk), { mode: 0o600 });
  const cp = startProcess(
    'control-plane',
    process.execPath,
    [
      '--import',
      'tsx',
      'src/cli/main.ts',
      'control-plane',
      '--policies',
      policies,
      '--signing-key',
      join(work, 'key.json'),
      '--port',
      '0',
    ],
    { logFile: join(work, 'control-plane.log'), cwd: ROOT },
  );
  try {
    const line = await cp.waitForLine((l) => l.includes('"control plane serving"'), 60_000);
    const port = parseJsonLine(line)?.port as number;
    const url = `http://127.0.0.1:${port}/v1/bundles/{service}`;
    const longPoll = await measure(policies, url, publicJwk, true, rounds);
    const polling = await measure(policies, url, publicJwk, false, rounds);
    const result = {
      bench: 'time-to-revoke',
      goalMs: GOAL_MS,
      longPoll: summary(longPoll),
      polling1s: summary(polling),
      goalMet: percentile(longPoll, 50) <= GOAL_MS && Math.max(...longPoll) <= GOAL_MS,
      speedupP50: round1(percentile(polling, 50) / percentile(longPoll, 50)),
      path: 'file write → fs.watch → 50 ms debounce → compile + suites → sign → publish → long poll wakes → fetch → verify + compile → activate → evaluate',
    };
    console.log(JSON.stringify(result, null, 2));
  } finally {
    await cp.stop();
    await rm(work, { recursive: true, force: true });
  }
}

await main();
