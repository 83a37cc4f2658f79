/**
 * Soak: a real `portcullis serve` process under a steady open-loop load (default 10 minutes at
 * 2,000 req/s) of mixed allows, denies and bad tokens, with a signed bundle swap every 10 s.
 * Reports RSS growth and p99 drift after warm-up (goals: ≤ 10 %, ≤ 20 %) as JSON and as a
 * markdown snippet for bench/results.md.
 *
 *   npx tsx bench/soak.ts [--minutes 10] [--seconds N] [--rps 2000] [--swap-seconds 10]
 *                         [--warmup-seconds 60] [--json FILE] [--md FILE]
 */
import { randomUUID } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { type CryptoKey, exportJWK, generateKeyPair, importJWK, SignJWT } from 'jose';
import {
  buildBundle,
  createBundleServer,
  generateBundleKeyPair,
  type PublishedBundle,
} from '../src/bundle/index.js';
import { H2CheckClient } from '../test/fuzz/h2-client.js';
import { checkRequest, encodeCheckRequest } from '../test/helpers/requests.js';
import { percentile } from './lib/h2load.js';
import { sumMetric, waitForHttp } from './lib/net.js';
import { readProcStats, startProcess } from './lib/proc.js';

const ROOT = join(import.meta.dirname, '..');
const FRONTEND = 'spiffe://cluster.local/ns/shop/sa/frontend';
const ISS = 'https://idp.soak.test';

/** What to run. */
export interface SoakOptions {
  readonly seconds: number;
  readonly rps: number;
  readonly swapSeconds: number;
  readonly warmupSeconds: number;
  /** Length of one measurement window. */
  readonly windowSeconds: number;
  /** The rate rises linearly from 0 to `rps` over this many seconds (part of the warm-up). */
  readonly rampSeconds?: number;
  readonly log?: (line: string) => void;
}

/** One measurement window. */
export interface SoakWindow {
  readonly startSec: number;
  readonly sent: number;
  readonly failed: number;
  readonly wrong: number;
  readonly p50Ms: number;
  readonly p99Ms: number;
  readonly rssMiB: number;
  /** V8 heap in use at the end of the window (nodejs_heap_size_used_bytes), MiB. */
  readonly heapMiB: number;
}

/** The soak's findings. */
export interface SoakResult {
  readonly date: string;
  readonly options: Omit<SoakOptions, 'log'>;
  readonly windows: readonly SoakWindow[];
  readonly sent: number;
  /** gRPC errors and timeouts. */
  readonly failed: number;
  /** Answers that differ from the expected decision. */
  readonly wrong: number;
  readonly byKind: Record<string, number>;
  readonly swaps: { readonly published: number; readonly revisionsSeen: number };
  readonly rss: {
    readonly afterWarmupMiB: number;
    readonly endMiB: number;
    readonly peakMiB: number;
    readonly growthPct: number;
  };
  readonly p99: { readonly earlyMs: number; readonly lateMs: number; readonly driftPct: number };
  readonly sidecarCpuSec: number;
  readonly internalFaults: number;
  readonly goals: { readonly rssGrowthOk: boolean; readonly p99DriftOk: boolean };
}

const POLICY = (revision: number) => `apiVersion: portcullis.dev/v1
kind: Policy
metadata: { name: soak, version: ${revision} }
selector: { hosts: ['orders*'] }
rules:
  - id: frontend-reads
    effect: ALLOW
    from: [{ principals: ['${FRONTEND}'] }]
    to: [{ methods: [GET], paths: ['/orders/*'] }]
    obligations:
      upstreamHeaders: [{ name: x-bundle-revision, value: "${revision}" }]
  - id: users
    effect: ALLOW
    when: principal.authenticated && principal.id.startsWith('user-')
    to: [{ methods: [GET], paths: ['/me/*'] }]
  - id: no-admin
    effect: DENY
    to: [{ paths: ['/orders/admin/*'] }]
`;

/** A request kind of the mix: weight, expected gRPC status, and a body generator. */
interface Kind {
  readonly name: string;
  readonly weight: number;
  readonly expect: number;
  next(i: number): Uint8Array;
}

async function trafficMix(): Promise<{ kinds: Kind[]; jwks: string }> {
  const { publicKey, privateKey } = await generateKeyPair('ES256');
  const jwks = JSON.stringify({ keys: [{ ...(await exportJWK(publicKey)), kid: 'soak', alg: 'ES256' }] });
  const sign = (sub: string, exp: number) =>
    new SignJWT({})
      .setProtectedHeader({ alg: 'ES256', kid: 'soak' })
      .setIssuer(ISS)
      .setSubject(sub)
      .setExpirationTime(exp)
      .sign(privateKey);
  const now = Math.floor(Date.now() / 1000);
  const tokens = await Promise.all(Array.from({ length: 50 }, (_, i) => sign(`user-${i}`, now + 86_400)));
  const expired = await sign('user-x', now - 60);
  const enc = (spec: Parameters<typeof checkRequest>[0]) =>
    encodeCheckRequest(checkRequest({ host: 'orders.shop', ...spec }));
  const peer = Array.from({ length: 50 }, (_, i) => enc({ path: `/orders/${i}`, sourcePrincipal: FRONTEND }));
  const users = tokens.map((t, i) => enc({ path: `/me/${i}`, headers: { authorization: `Bearer ${t}` } }));
  const denies = [
    enc({ method: 'POST', path: '/orders/1', sourcePrincipal: FRONTEND }),
    enc({ path: '/orders/admin/x', sourcePrincipal: FRONTEND }),
    enc({ path: '/orders/1', sourcePrincipal: 'spiffe://cluster.local/ns/shop/sa/billing' }),
  ];
  const base = tokens[0] as string;
  // Four characters in the middle of the signature, replaced by a counter: a new forgery each time.
  const at = base.lastIndexOf('.') + 20;
  const forge = (i: number) => {
    const v = Buffer.from([(i >> 16) & 255, (i >> 8) & 255, i & 255]).toString('base64url');
    return base.slice(0, at) + (v === base.slice(at, at + 4) ? 'AAAA' : v) + base.slice(at + 4);
  };
  // Encoded once: the generator must stay cheap next to the sidecar on a 2-core machine.
  const forged = Array.from({ length: 20_000 }, (_, i) =>
    enc({ path: '/me/1', headers: { authorization: `Bearer ${forge(i)}` } }),
  );
  const expiredBody = enc({ path: '/me/1', headers: { authorization: `Bearer ${expired}` } });
  const malformed = Array.from({ length: 100 }, (_, i) =>
    enc({ path: '/me/1', headers: { authorization: `Bearer x.${i}.y` } }),
  );
  const kinds: Kind[] = [
    { name: 'allow-peer', weight: 30, expect: 0, next: (i) => peer[i % peer.length]! },
    { name: 'allow-token', weight: 20, expect: 0, next: (i) => users[i % users.length]! },
    { name: 'deny', weight: 25, expect: 7, next: (i) => denies[i % denies.length]! },
    {
      // A fresh forged signature each time: a real ES256 verification that fails.
      name: 'bad-signature',
      weight: 10,
      expect: 16,
      next: (i) => forged[i % forged.length]!,
    },
    {
      name: 'expired',
      weight: 10,
      expect: 16,
      next: () => expiredBody,
    },
    {
      name: 'malformed',
      weight: 5,
      expect: 16,
      next: (i) => malformed[i % malformed.length]!,
    },
  ];
  return { kinds, jwks };
}

/** Builds, signs and wraps revision `r` for the bundle server. */
async function bundleFor(
  r: number,
  key: { kid: string; alg: 'EdDSA'; key: CryptoKey },
): Promise<PublishedBundle> {
  const sources = [
    { path: 'soak.yaml', text: POLICY(r) },
    { path: 'data/rev.yaml', text: `revision: ${r}\nfiller: "${randomUUID()}"\n` },
  ];
  const built = await buildBundle(sources, { revision: r, service: 'orders', key });
  if (!built.ok) throw new Error(built.detail);
  const { archive, manifest, manifestDigest } = built.bundle;
  return {
    service: 'orders',
    archive,
    manifest,
    manifestDigest,
    etag: `"${r}"`,
    signer: key.kid,
    publishedAtMs: Date.now(),
  };
}

const median = (xs: readonly number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? 0 : (s[Math.floor((s.length - 1) / 2)] as number);
};

/** Runs the soak against a fresh sidecar process built in `dist/` (`make build`). */
export async function runSoak(options: SoakOptions): Promise<SoakResult> {
  const log = options.log ?? (() => {});
  const work = await mkdtemp(join(tmpdir(), 'portcullis-soak-'));
  const { privateJwk, publicJwk } = await generateBundleKeyPair('EdDSA', 'soak');
  const key = {
    kid: 'soak',
    alg: 'EdDSA' as const,
    key: (await importJWK(privateJwk, 'EdDSA')) as CryptoKey,
  };
  const { kinds, jwks } = await trafficMix();
  await writeFile(join(work, 'jwks.json'), jwks);
  const cp = createBundleServer({ maxWaitMs: 5000 });
  const cpPort = await cp.listen(0, '127.0.0.1');
  let revision = 1;
  cp.publish(await bundleFor(revision, key));
  const config = {
    bundle: {
      url: `http://127.0.0.1:${cpPort}/v1/bundles/{service}`,
      service: 'orders',
      keys: { inline: [publicJwk] },
      lkgDir: join(work, 'lkg'),
      pollInterval: '1s',
      longPollTimeout: '5s',
    },
    identity: {
      jwt: { providers: [{ issuer: ISS, jwks: { file: join(work, 'jwks.json') }, algorithms: ['ES256'] }] },
    },
    // Every decision is serialized and written, to a sink that never fills a disk.
    telemetry: { decisionLog: { sink: 'file', file: '/dev/null' } },
  };
  await writeFile(join(work, 'config.json'), JSON.stringify(config));
  const args = [join(ROOT, 'dist/cli/main.js'), 'serve', '--config', join(work, 'config.json')];
  args.push('--grpc-port', '0', '--admin-port', '0', '--http-port', '0', '--api-port', '0');
  const proc = startProcess('portcullis', process.execPath, args, {
    logFile: join(work, 'sidecar.log'),
    cwd: ROOT,
  });
  const clients: H2CheckClient[] = [];
  let swapTimer: NodeJS.Timeout | undefined;
  try {
    const serving = JSON.parse(await proc.waitForLine((l) => l.includes('"portcullis serving"'), 20_000)) as {
      grpcPort: number;
      adminPort: number;
    };
    await waitForHttp(`http://127.0.0.1:${serving.adminPort}/readyz`, 20_000, () => !proc.exited());
    for (let i = 0; i < 4; i++) clients.push(new H2CheckClient(serving.grpcPort));
    swapTimer = setInterval(() => {
      revision++;
      void bundleFor(revision, key).then((b) => cp.publish(b));
    }, options.swapSeconds * 1000);
    const heap = async () =>
      sumMetric(
        await (await fetch(`http://127.0.0.1:${serving.adminPort}/metrics`)).text(),
        'nodejs_heap_size_used_bytes',
      ) /
      2 ** 20;
    const result = await drive(options, kinds, clients, proc.pid, heap, log);
    if (proc.exited()) throw new Error(`the sidecar exited during the soak:\n${proc.tail(30)}`);
    const metrics = await (await fetch(`http://127.0.0.1:${serving.adminPort}/metrics`)).text();
    return summarize(
      options,
      result,
      revision,
      readProcStats(proc.pid).cpuMs / 1000,
      sumMetric(metrics, 'portcullis_faults_total', { code: 'INTERNAL' }),
    );
  } finally {
    if (swapTimer) clearInterval(swapTimer);
    for (const c of clients) c.close();
    await proc.stop();
    await cp.close();
    await rm(work, { recursive: true, force: true });
  }
}

interface Driven {
  windows: SoakWindow[];
  byKind: Record<string, number>;
  revisions: Set<string>;
  peakMiB: number;
}

/** The open-loop load: sends on a fixed schedule (never waits for answers), measures per window. */
async function drive(
  options: SoakOptions,
  kinds: readonly Kind[],
  clients: readonly H2CheckClient[],
  pid: number,
  heap: () => Promise<number>,
  log: (line: string) => void,
): Promise<Driven> {
  const total = kinds.reduce((n, k) => n + k.weight, 0);
  const pick = (i: number): Kind => {
    let x = (i * 7919) % total;
    for (const k of kinds) {
      x -= k.weight;
      if (x < 0) return k;
    }
    return kinds[0]!;
  };
  const out: Driven = { windows: [], byKind: {}, revisions: new Set(), peakMiB: 0 };
  let w = { sent: 0, failed: 0, wrong: 0, lat: [] as number[], rss: [] as number[] };
  const start = performance.now();
  let sent = 0;
  let inFlight = 0;
  const pending = new Set<Promise<void>>();
  const send = (i: number) => {
    const kind = pick(i);
    const t0 = performance.now();
    const window = w;
    window.sent++;
    out.byKind[kind.name] = (out.byKind[kind.name] ?? 0) + 1;
    inFlight++;
    const p = clients[i % clients.length]!.check(kind.next(i), 5000).then((r) => {
      inFlight--;
      window.lat.push(performance.now() - t0);
      if (!r.ok) window.failed++;
      else if (r.response.status?.code !== kind.expect) window.wrong++;
      else if (kind.expect === 0) {
        const h = r.response.httpResponse.case === 'okResponse' ? r.response.httpResponse.value.headers : [];
        const rev = h.find((x) => x.header?.key === 'x-bundle-revision')?.header?.value;
        if (rev) out.revisions.add(rev);
      }
    });
    pending.add(p);
    void p.finally(() => pending.delete(p));
  };
  const endAt = start + options.seconds * 1000;
  let nextWindow = start + options.windowSeconds * 1000;
  let nextSample = start;
  while (performance.now() < endAt) {
    const now = performance.now();
    // The rate ramps up over the first `rampSeconds` (a cold process is not hit at full rate at once).
    const t = (now - start) / 1000;
    const ramp = options.rampSeconds ?? 0;
    const due = Math.floor(t < ramp ? (options.rps * t * t) / (2 * ramp) : options.rps * (t - ramp / 2));
    // Never more than 5,000 outstanding: an overloaded server shows as failures, not as a runaway.
    while (sent < due && inFlight < 5000) send(sent++);
    if (now >= nextSample) {
      const rss = readProcStats(pid).rssMiB;
      w.rss.push(rss);
      out.peakMiB = Math.max(out.peakMiB, rss);
      nextSample += 1000;
    }
    if (now >= nextWindow) {
      out.windows.push(closeWindow(w, (nextWindow - start) / 1000 - options.windowSeconds, await heap()));
      const last = out.windows.at(-1)!;
      log(
        `soak ${last.startSec}s: ${last.sent} sent, ${last.failed} failed, ${last.wrong} wrong, p99 ${last.p99Ms.toFixed(2)} ms, RSS ${last.rssMiB.toFixed(1)} MiB, heap ${last.heapMiB.toFixed(1)} MiB`,
      );
      w = { sent: 0, failed: 0, wrong: 0, lat: [], rss: [] };
      nextWindow += options.windowSeconds * 1000;
    }
    await new Promise((r) => setTimeout(r, 5));
  }
  await Promise.all(pending);
  if (w.sent > 0 && w.rss.length > 0)
    out.windows.push(closeWindow(w, (nextWindow - start) / 1000 - options.windowSeconds, await heap()));
  return out;
}

function closeWindow(
  w: { sent: number; failed: number; wrong: number; lat: number[]; rss: number[] },
  startSec: number,
  heapMiB: number,
): SoakWindow {
  const lat = w.lat.sort((a, b) => a - b);
  return {
    startSec: Math.round(startSec),
    sent: w.sent,
    failed: w.failed,
    wrong: w.wrong,
    p50Ms: percentile(lat, 50),
    p99Ms: percentile(lat, 99),
    rssMiB: median(w.rss),
    heapMiB,
  };
}

function summarize(
  options: SoakOptions,
  d: Driven,
  published: number,
  cpuSec: number,
  internalFaults: number,
): SoakResult {
  const steady = d.windows.filter((w) => w.startSec >= options.warmupSeconds && w.rssMiB > 0);
  const third = Math.max(1, Math.ceil(steady.length / 3));
  const early = steady.slice(0, third);
  const late = steady.slice(-third);
  // Medians over the first and last third of the steady windows: one GC-timed sample is noise.
  const afterWarmupMiB = median(early.map((w) => w.rssMiB));
  const endMiB = median(late.map((w) => w.rssMiB));
  const earlyMs = median(early.map((w) => w.p99Ms));
  const lateMs = median(late.map((w) => w.p99Ms));
  const growthPct = afterWarmupMiB > 0 ? ((endMiB - afterWarmupMiB) / afterWarmupMiB) * 100 : 0;
  const driftPct = earlyMs > 0 ? ((lateMs - earlyMs) / earlyMs) * 100 : 0;
  const { log: _, ...rest } = options;
  return {
    date: new Date().toISOString(),
    options: rest,
    windows: d.windows,
    sent: d.windows.reduce((n, w) => n + w.sent, 0),
    failed: d.windows.reduce((n, w) => n + w.failed, 0),
    wrong: d.windows.reduce((n, w) => n + w.wrong, 0),
    byKind: d.byKind,
    swaps: { published, revisionsSeen: d.revisions.size },
    rss: { afterWarmupMiB, endMiB, peakMiB: d.peakMiB, growthPct },
    p99: { earlyMs, lateMs, driftPct },
    sidecarCpuSec: cpuSec,
    internalFaults,
    goals: { rssGrowthOk: growthPct <= 10, p99DriftOk: driftPct <= 20 },
  };
}

/** The markdown snippet for bench/results.md. */
export function soakMarkdown(r: SoakResult): string {
  const per = Math.max(1, Math.round(60 / r.options.windowSeconds));
  const rows: string[] = [];
  for (let i = 0; i < r.windows.length; i += per) {
    const g = r.windows.slice(i, i + per);
    const sent = g.reduce((n, w) => n + w.sent, 0);
    const bad = g.reduce((n, w) => n + w.failed + w.wrong, 0);
    rows.push(
      `| ${g[0]!.startSec}–${g.at(-1)!.startSec + r.options.windowSeconds} s | ${sent} | ${bad} | ${Math.max(...g.map((w) => w.p50Ms)).toFixed(2)} | ${Math.max(...g.map((w) => w.p99Ms)).toFixed(2)} | ${median(g.map((w) => w.rssMiB)).toFixed(1)} |`,
    );
  }
  const ok = (b: boolean) => (b ? 'met' : '**missed**');
  return [
    `### Soak — ${r.date.slice(0, 10)}: ${r.options.seconds} s at ${r.options.rps} req/s, bundle swap every ${r.options.swapSeconds} s`,
    '',
    `Mix: ${Object.entries(r.byKind)
      .map(([k, n]) => `${k} ${n}`)
      .join(', ')}. Warm-up ${r.options.warmupSeconds} s excluded.`,
    '',
    '| time | sent | failed or wrong | p50 ms (max of windows) | p99 ms (max of windows) | RSS MiB |',
    '| ---- | ---: | ---: | ---: | ---: | ---: |',
    ...rows,
    '',
    `- RSS (median) first third after warm-up ${r.rss.afterWarmupMiB.toFixed(1)} MiB → last third ${r.rss.endMiB.toFixed(1)} MiB: **${r.rss.growthPct.toFixed(1)} %** (goal ≤ 10 %: ${ok(r.goals.rssGrowthOk)}); peak ${r.rss.peakMiB.toFixed(1)} MiB`,
    `- p99 early ${r.p99.earlyMs.toFixed(2)} ms → late ${r.p99.lateMs.toFixed(2)} ms: **${r.p99.driftPct.toFixed(1)} %** drift (goal ≤ 20 %: ${ok(r.goals.p99DriftOk)})`,
    `- ${r.sent} calls, ${r.failed} failed, ${r.wrong} wrong answers, ${r.internalFaults} INTERNAL faults; ${r.swaps.published} revisions published, ${r.swaps.revisionsSeen} seen in answers; sidecar CPU ${r.sidecarCpuSec.toFixed(0)} s`,
    '',
  ].join('\n');
}

function flag(argv: readonly string[], name: string): string | undefined {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : undefined;
}

async function main(argv: readonly string[]): Promise<number> {
  const minutes = Number(flag(argv, 'minutes') ?? 10);
  const seconds = Number(flag(argv, 'seconds') ?? minutes * 60);
  const options: SoakOptions = {
    seconds,
    rps: Number(flag(argv, 'rps') ?? 2000),
    swapSeconds: Number(flag(argv, 'swap-seconds') ?? 10),
    warmupSeconds: Number(flag(argv, 'warmup-seconds') ?? Math.min(60, Math.round(seconds / 4))),
    windowSeconds: Number(flag(argv, 'window-seconds') ?? 10),
    rampSeconds: Number(flag(argv, 'ramp-seconds') ?? 10),
    log: (l) => console.error(l),
  };
  if (![options.seconds, options.rps, options.swapSeconds].every((n) => Number.isFinite(n) && n > 0)) {
    console.error(
      'usage: npx tsx bench/soak.ts [--minutes N | --seconds N] [--rps N] [--swap-seconds N] [--warmup-seconds N] [--json FILE] [--md FILE]',
    );
    return 2;
  }
  const result = await runSoak(options);
  const json = `${JSON.stringify(result, null, 2)}\n`;
  const md = soakMarkdown(result);
  const jsonFile = flag(argv, 'json');
  const mdFile = flag(argv, 'md');
  if (jsonFile) await writeFile(jsonFile, json);
  if (mdFile) await writeFile(mdFile, md);
  process.stdout.write(`${json}\n${md}`);
  return result.failed === 0 && result.wrong === 0 && result.internalFaults === 0 ? 0 : 1;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e: unknown) => {
      console.error(e);
      process.exit(1);
    },
  );
}
