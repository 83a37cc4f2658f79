/** Shared helpers of the bundle tests: keys generated at test time, policies, a tiny bundle server, deps. */
import { createHash } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { deflateRawSync, gzipSync, constants as zlibConstants } from 'node:zlib';
import { type CryptoKey, importJWK, type JWK } from 'jose';
import pino from 'pino';
import { type Header, pack as tarPack } from 'tar-stream';
import { packArchive, readArchive } from '../../../src/bundle/archive.js';
import {
  type ActivatedBundle,
  type BundleAlg,
  type BundleConfig,
  type BundleDeps,
  buildBundle,
  bundleConfigSchema,
  DEFAULT_LIMITS,
  generateBundleKeyPair,
  type SigningKey,
  type TrustedKeys,
} from '../../../src/bundle/index.js';
import { type BundleManifest, serializeManifest, sha256Hex } from '../../../src/bundle/manifest.js';
import { signManifest } from '../../../src/bundle/signature.js';
import { buildPolicyInput, type PolicySource } from '../../../src/policy/index.js';
import { createMetrics, type Metrics } from '../../../src/telemetry/metrics.js';
import type { Decision } from '../../../src/types.js';

/** A generated key pair as the bundle module uses it. */
export interface TestKey {
  readonly signing: SigningKey;
  readonly publicJwk: JWK;
  readonly trusted: TrustedKeys;
}

/** Generates a signing key and the trusted-key map holding its public half. */
export async function makeKey(kid = 'k1', alg: BundleAlg = 'EdDSA'): Promise<TestKey> {
  const { privateJwk, publicJwk } = await generateBundleKeyPair(alg, kid);
  const signing = { kid, alg, key: (await importJWK(privateJwk, alg)) as CryptoKey };
  const pub = (await importJWK(publicJwk, alg)) as CryptoKey;
  return { signing, publicJwk, trusted: new Map([[kid, { kid, alg, key: pub, jwk: publicJwk }]]) };
}

/** Trusted keys from several test keys. */
export function trust(...keys: TestKey[]): TrustedKeys {
  return new Map(keys.flatMap((k) => [...k.trusted]));
}

/**
 * A policy set whose allow rule stamps `tag` into an upstream header (so a decision names the set
 * that produced it); `/orders/*` is allowed unless `revoked`.
 */
export function policySources(
  tag: string | number,
  options: { revoked?: boolean; broken?: boolean } = {},
): PolicySource[] {
  const orders = options.revoked
    ? ''
    : `
  - id: allow-orders
    effect: ALLOW
    to: [{ methods: [GET], paths: ["/orders/*"] }]`;
  const broken = options.broken ? '\n    when: "request.method =="' : '';
  return [
    {
      path: 'probe.yaml',
      text: `apiVersion: portcullis.dev/v1
kind: Policy
metadata:
  name: probe
rules:
  - id: allow-probe
    effect: ALLOW
    to: [{ methods: [GET], paths: ["/probe"] }]${broken}
    obligations:
      upstreamHeaders: [{ name: x-bundle-tag, value: "${tag}" }]${orders}
`,
    },
    { path: 'data/plans.yaml', text: 'gold: { rps: 100 }\n' },
  ];
}

/** Evaluates GET `path` against a compiled set. */
export function decide(b: ActivatedBundle | undefined, path: string): Decision | undefined {
  return b?.set.evaluate(buildPolicyInput({ request: { method: 'GET', path } }, Date.now()));
}

/** The tag a decision carries (see policySources), '' when none. */
export function tagOf(d: Decision | undefined): string {
  return d?.obligations.upstreamHeaders.find((h) => h.name === 'x-bundle-tag')?.value ?? '';
}

/** A host store for the puller: records every activation. */
export function makeDeps(): BundleDeps & { metrics: Metrics; history: ActivatedBundle[] } {
  const history: ActivatedBundle[] = [];
  let active: ActivatedBundle | undefined;
  return {
    logger: pino({ level: 'silent' }),
    metrics: createMetrics({ defaultMetrics: false }),
    history,
    activate(b) {
      active = b;
      history.push(b);
    },
    current: () => active,
  };
}

/** Current value of a metric with the given labels (0 when absent). */
export async function metricValue(
  metrics: Metrics,
  name: 'bundleLoadFailures' | 'bundleInfo' | 'bundleLastSuccess' | 'bundleCreated',
  labels: Record<string, string> = {},
): Promise<number> {
  const got = await metrics[name].get();
  const hit = got.values.find((v) => Object.entries(labels).every(([k, x]) => v.labels[k as never] === x));
  return hit?.value ?? 0;
}

/** Puller config with fast timings for tests. */
export function pullerConfig(over: Record<string, unknown>): BundleConfig {
  return bundleConfigSchema.parse({
    pollInterval: '50ms',
    longPollTimeout: '2s',
    timeout: '2s',
    backoff: { initial: '20ms', max: '100ms' },
    keys: { inline: [] },
    ...over,
  });
}

/** A static HTTP server for one bundle: strong ETag over the bytes, If-None-Match → 304. */
export interface StaticServer {
  readonly url: string;
  /** Replaces the served bytes (undefined = 404); `etag: false` serves them without an ETag. */
  set(bytes: Buffer | undefined, options?: { etag?: boolean }): void;
  readonly stats: { ok: number; notModified: number };
  close(): Promise<void>;
}

/** Starts a StaticServer on 127.0.0.1:0. */
export async function startStaticServer(): Promise<StaticServer> {
  let body: Buffer | undefined;
  let withEtag = true;
  const stats = { ok: 0, notModified: 0 };
  const server: Server = createServer((req, res) => {
    if (!body) {
      res.writeHead(404).end();
      return;
    }
    const etag = `"${createHash('sha256').update(body).digest('hex').slice(0, 16)}"`;
    if (!withEtag) {
      stats.ok++;
      res.writeHead(200, { 'content-type': 'application/gzip' }).end(body);
      return;
    }
    if (req.headers['if-none-match'] === etag) {
      stats.notModified++;
      res.writeHead(304, { etag }).end();
      return;
    }
    stats.ok++;
    res.writeHead(200, { etag, 'content-type': 'application/gzip' }).end(body);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}/bundle.tar.gz`,
    set: (b, options) => {
      body = b;
      withEtag = options?.etag ?? true;
    },
    stats,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

/** Polls `cond` every 10 ms until true or `ms` elapse. */
export async function waitFor(cond: () => boolean, ms = 5000, what = 'condition'): Promise<void> {
  const end = Date.now() + ms;
  while (!cond()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** A ustar header for a regular file of `size` bytes (for hand-made archives). */
export function tarHeader(name: string, size: number): Buffer {
  const h = Buffer.alloc(512);
  h.write(name, 0);
  h.write('0000644\0', 100);
  h.write('0000000\0', 108);
  h.write('0000000\0', 116);
  h.write(`${size.toString(8).padStart(11, '0')}\0`, 124);
  h.write('00000000000\0', 136);
  h.write('        ', 148);
  h.write('0', 156);
  h.write('ustar\u000000', 257);
  let sum = 0;
  for (const b of h) sum += b;
  h.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148);
  return h;
}

/**
 * A gzip stream that expands to `prefix` followed by `expandedBytes` of zeros, generated in
 * milliseconds without ever materializing the expansion: one 1 MiB block of zeros is deflated once
 * (with a full flush, so blocks are byte-aligned and independent) and repeated. The gzip trailer's
 * CRC is not computed — a reader that enforces its limit stops long before it reaches it.
 */
export function zeroBomb(expandedBytes: number, prefix: Buffer = Buffer.alloc(0)): Buffer {
  const MiB = 1 << 20;
  const opts = { level: 9, finishFlush: zlibConstants.Z_FULL_FLUSH };
  const head = deflateRawSync(prefix, opts);
  const block = deflateRawSync(Buffer.alloc(MiB), opts);
  const tail = deflateRawSync(Buffer.alloc(0));
  const n = Math.ceil(expandedBytes / MiB);
  const gzHeader = Buffer.from([0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 0, 3]);
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE((prefix.length + n * MiB) >>> 0, 4);
  return Buffer.concat([gzHeader, head, ...new Array<Buffer>(n).fill(block), tail, trailer]);
}

/** Unpacks a bundle, lets `mutate` change its entries (name → bytes), and packs it again. */
export async function repack(
  archive: Buffer,
  mutate: (entries: Map<string, Buffer>) => void,
): Promise<Buffer> {
  const r = await readArchive(archive, DEFAULT_LIMITS);
  if (!r.ok) throw new Error(`cannot repack: ${r.detail}`);
  const entries = new Map(r.entries);
  mutate(entries);
  return packArchive(
    [...entries].map(([name, data]) => ({ name, data })),
    new Date(0),
  );
}

/** Flips one bit of byte `i` (negative = from the end). */
export function flipByte(b: Buffer, i: number): Buffer {
  const out = Buffer.from(b);
  const at = i < 0 ? out.length + i : i;
  out[at] = (out[at] as number) ^ 0x01;
  return out;
}

/** Builds a signed bundle of `policySources(revision)` (or the given sources). */
export async function signedBundle(
  key: TestKey,
  revision: number,
  options: { sources?: PolicySource[]; service?: string } = {},
): Promise<Buffer> {
  const r = await buildBundle(options.sources ?? policySources(revision), {
    revision,
    key: key.signing,
    service: options.service,
  });
  if (!r.ok) throw new Error(`build failed: ${r.detail} ${r.details?.join('\n') ?? ''}`);
  return r.bundle.archive;
}

/**
 * Re-signs a bundle after `mutate` changed its files (`files/…` entries) and manifest fields: the
 * manifest hashes are recomputed, so only later checks (compile, revision, service) can refuse it.
 */
export async function forge(
  archive: Buffer,
  key: TestKey,
  mutate: (files: Map<string, Buffer>, manifest: BundleManifest) => BundleManifest,
): Promise<Buffer> {
  const r = await readArchive(archive, DEFAULT_LIMITS);
  if (!r.ok) throw new Error(r.detail);
  const old = JSON.parse((r.entries.get('manifest.json') as Buffer).toString()) as BundleManifest;
  const files = new Map<string, Buffer>();
  for (const [name, data] of r.entries) if (name.startsWith('files/')) files.set(name.slice(6), data);
  const base = mutate(files, old);
  const manifest: BundleManifest = {
    ...base,
    files: [...files].map(([path, data]) => ({ path, sha256: sha256Hex(data), size: data.length })),
  };
  const bytes = serializeManifest(manifest);
  const jws = await signManifest(bytes, key.signing);
  return packArchive(
    [
      { name: 'manifest.json', data: bytes },
      { name: 'manifest.jws', data: Buffer.from(jws) },
      ...[...files].map(([p, data]) => ({ name: `files/${p}`, data })),
    ],
    new Date(0),
  );
}

/** The bundle's entries plus one hostile header (symlink, `..`, …). */
export async function withEntry(
  archive: Buffer,
  header: Partial<Header> & { name: string },
): Promise<Buffer> {
  const r = await readArchive(archive, DEFAULT_LIMITS);
  if (!r.ok) throw new Error(r.detail);
  const p = tarPack();
  for (const [name, data] of r.entries) p.entry({ name, size: data.length }, data);
  p.entry(header, '');
  p.finalize();
  const chunks: Buffer[] = [];
  for await (const c of p) chunks.push(c as Buffer);
  return gzipSync(Buffer.concat(chunks));
}
