/**
 * Hot swap under load: evaluations run continuously against whatever the puller activated last,
 * while 100 new revisions arrive by long poll. Every evaluation must come from exactly one
 * activated revision: the decision's stamp (an upstream header each revision's policy adds) must
 * equal the revision of the set it ran against, and that revision must have been activated.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBundleServer } from '../../src/bundle/bundle-server.js';
import {
  type BundleServer,
  buildBundle,
  createBundlePuller,
  type PublishedBundle,
} from '../../src/bundle/index.js';
import { buildPolicyInput } from '../../src/policy/index.js';
import {
  makeDeps,
  makeKey,
  policySources,
  pullerConfig,
  type TestKey,
  tagOf,
  waitFor,
} from '../unit/bundle/fixtures.js';

const SWAPS = 100;
const MIN_EVALUATIONS = 20_000;

let key: TestKey;
let server: BundleServer;
let base: string;
const bundles: PublishedBundle[] = [];

beforeAll(async () => {
  key = await makeKey('swap');
  for (let revision = 1; revision <= SWAPS + 1; revision++) {
    const r = await buildBundle(policySources(revision), { revision, service: 'orders', key: key.signing });
    if (!r.ok) throw new Error(r.detail);
    const { archive, manifest, manifestDigest } = r.bundle;
    bundles.push({
      service: 'orders',
      archive,
      manifest,
      manifestDigest,
      etag: `"${revision}"`,
      signer: 'swap',
      publishedAtMs: 0,
    });
  }
  server = createBundleServer({ maxWaitMs: 10_000 });
  base = `http://127.0.0.1:${await server.listen(0, '127.0.0.1')}`;
});
afterAll(() => server.close());

describe('hot swap under load', () => {
  it(`${MIN_EVALUATIONS}+ evaluations during ${SWAPS} swaps: each used one activated revision`, async () => {
    const deps = makeDeps();
    const puller = createBundlePuller(
      pullerConfig({
        url: `${base}/v1/bundles/orders`,
        service: 'orders',
        keys: { inline: [key.publicJwk] },
        pollInterval: '30s',
      }),
      deps,
    );
    server.publish(bundles[0]!);
    await puller.start();
    await waitFor(() => deps.current()?.revision === '1', 5000, 'revision 1');

    const input = buildPolicyInput({ request: { method: 'GET', path: '/probe' } }, Date.now());
    const stats = { evaluations: 0, failed: 0, mismatched: 0, backwards: 0 };
    const observed = new Set<string>();
    let last = 0;
    let swapping = true;
    const evaluate = async () => {
      while (swapping || stats.evaluations < MIN_EVALUATIONS) {
        for (let i = 0; i < 100; i++) {
          const active = deps.current()!; // one reference per request, as the server's store does
          const d = active.set.evaluate(input);
          stats.evaluations++;
          if (!d.allowed) stats.failed++;
          if (tagOf(d) !== active.revision) stats.mismatched++;
          if (Number(active.revision) < last) stats.backwards++;
          last = Number(active.revision);
          observed.add(active.revision);
        }
        await new Promise((r) => setTimeout(r, 1));
      }
    };
    const load = evaluate();
    for (const b of bundles.slice(1)) {
      server.publish(b);
      await waitFor(
        () => deps.current()?.revision === String(b.manifest.revision),
        5000,
        `revision ${b.manifest.revision}`,
      );
    }
    swapping = false;
    await load;
    await puller.stop();

    console.log(JSON.stringify({ ...stats, observed: observed.size }));
    const activated = new Set(deps.history.map((b) => b.revision));
    expect(deps.history).toHaveLength(SWAPS + 1);
    expect(stats.evaluations).toBeGreaterThanOrEqual(MIN_EVALUATIONS);
    expect(stats).toMatchObject({ failed: 0, mismatched: 0, backwards: 0 });
    expect([...observed].filter((r) => !activated.has(r))).toEqual([]);
    // Evaluations really ran while swaps happened, not only before or after them.
    expect(observed.size).toBeGreaterThan(SWAPS / 2);
    expect(puller.status()).toMatchObject({
      activations: SWAPS + 1,
      rejections: 0,
      revision: String(SWAPS + 1),
    });
  });
});
